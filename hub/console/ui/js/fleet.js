// #/fleet: every edge's record in system/edges (docs/operations.md, fleet
// health): state, versions, last seen, buffer, slaves. Refreshed every 5 s.
import { currentSession } from './api.js';
import { autoStep, drawSeries } from './history.js';
import { fmtAge, fmtDuration, fmtTime, fmtValue, h, link, replace } from './dom.js';

export async function fleetPage(ctx, view) {
  const body = h('div', { class: 'wrap' }, h('p', { class: 'muted' }, 'Loading…'));
  const stamp = h('p', { class: 'muted', 'aria-live': 'polite' });
  replace(view, h('h1', {}, 'Fleet'), stamp, body);
  async function load() {
    const { data } = await ctx.api('/system/edges', { params: { limit: 1000 } });
    const edges = (data || []).slice().sort((a, b) => String(a._id).localeCompare(String(b._id)));
    stamp.textContent = `${edges.length} edge(s); refreshed ${fmtTime(new Date())}`;
    if (!edges.length) {
      replace(body, h('p', { class: 'empty' }, 'No edge has sent a heartbeat to this hub yet.'));
      return;
    }
    const cols = ['edge', 'state', 'version', 'map version', 'last seen', 'buffer depth', 'oldest unsent', 'slaves up / total', 'last error'];
    replace(body, h('table', { id: 'fleet' },
      h('caption', {}, 'Edges (system/edges)'),
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, edges.map((e) => h('tr', { 'data-edge': e._id },
        h('th', { scope: 'row' }, h('a', { href: link(['fleet', e._id]), 'data-edge-link': e._id }, e._id)),
        h('td', {}, h('span', { class: `state ${e.state}` }, e.state || 'unknown')),
        h('td', {}, e.version || '—'),
        h('td', { title: e.mapPusher ? `pushed by ${e.mapPusher}` : '' }, e.mapVersion || '—', e.mapPusher ? h('span', { class: 'muted' }, ` (${e.mapPusher})`) : ''),
        h('td', {}, fmtTime(e.lastSeen), h('span', { class: 'muted' }, ` (${fmtAge(e.lastSeen)} ago)`)),
        h('td', { class: 'num' }, e.bufferDepth ?? '—'),
        h('td', { class: 'num' }, e.oldestUnsentAge ? fmtDuration(e.oldestUnsentAge) : '—'),
        h('td', { class: 'num' }, `${e.slavesUp ?? '—'} / ${e.slavesTotal ?? '—'}`),
        h('td', {}, e.lastError || ''))))));
  }
  await load();
  const timer = setInterval(() => load().catch((e) => ctx.error(e.message)), 5000);
  ctx.onLeave(() => clearInterval(timer));
}

/** A table of objects: one row each, a column per scalar key they have. */
function objectTable(id, caption, rows) {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r).filter((k) => r[k] === null || typeof r[k] !== 'object')))]
    .sort((a, b) => (b === 'name') - (a === 'name'));
  return h('div', { class: 'wrap' }, h('table', { id },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, keys.map((k) => h('th', { scope: 'col' }, k)))),
    h('tbody', {}, rows.map((r) => h('tr', {}, keys.map((k) => h('td', {}, fmtValue(r[k]))))))));
}

/** Key/value rows of an object's scalar fields. */
function keyValues(id, caption, o) {
  const entries = Object.entries(o || {}).filter(([, v]) => v === null || typeof v !== 'object');
  return h('table', { id }, h('caption', {}, caption),
    h('tbody', {}, entries.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, fmtValue(v))))));
}

/** The heartbeat figures the hub records per edge (hub/fleet HistoryFields), in two charts. */
const historyCharts = [
  { id: 'hb-buffer', title: 'Buffer', fields: ['measurements.bufferDepth', 'measurements.oldestUnsentAge'],
    label: { 'measurements.bufferDepth': 'buffer depth', 'measurements.oldestUnsentAge': 'oldest unsent (s)' } },
  { id: 'hb-slaves', title: 'Slaves and link', fields: ['measurements.slavesUp', 'measurements.slavesTotal', 'measurements.online'],
    label: { 'measurements.slavesUp': 'slaves up', 'measurements.slavesTotal': 'slaves', 'measurements.online': 'online (1/0)' } },
];
const historyRanges = { '15m': 900, '1h': 3600, '24h': 86400, '7d': 7 * 86400 };

/** May the signed-in user push maps (admin, or the fleet write grant)? */
function canPush() {
  const me = currentSession()?.me;
  return !!me && (me.admin || (me.grants && me.grants.fleet === 'write'));
}

/**
 * #/fleet/<edge>?range=1h: one edge's record and latest heartbeat (slaves,
 * buffer, forwarder), refreshed every 5 s, and its heartbeat history
 * charted, redrawn every 30 s;
 * for admins (or the fleet write grant) the map editor: the running map
 * loaded, validated by a dry run on the edge, pushed and rolled back after
 * a confirmation.
 */
export async function edgePage(ctx, view, edge, params) {
  const range = historyRanges[params.get('range')] ? params.get('range') : '1h';
  const e0 = encodeURIComponent(edge);
  const state = h('span', { class: 'state', id: 'edge-state' }, '…');
  const summary = h('p', { class: 'muted', id: 'edge-summary' });
  const details = h('div', {});
  const charts = historyCharts.map((c) => ({ ...c, box: h('div', { class: 'chart small', id: c.id, role: 'img', 'aria-label': `${c.title} history of edge ${edge}` }), plot: null }));
  const chartNote = h('p', { class: 'muted', id: 'hb-note', 'aria-live': 'polite' }, 'Loading…');
  const rangeButtons = Object.keys(historyRanges).map((r) => h('button', { type: 'button', 'aria-pressed': String(r === range),
    'data-range': r, onclick: () => { location.hash = link(['fleet', edge], { range: r }); } }, r));
  const editor = canPush() ? mapEditor(ctx, edge) : h('p', { class: 'muted' }, 'Map push and rollback need the admin role or the grant {"fleet": "write"}.');
  replace(view,
    h('div', { class: 'crumbs' }, h('a', { href: '#/fleet' }, 'Fleet'), ' /'),
    h('h1', {}, `Edge ${edge} `, state), summary,
    h('h2', {}, 'Heartbeat history'),
    h('div', { role: 'group', 'aria-label': 'History range', class: 'row' }, h('span', { class: 'muted' }, 'Range '), ...rangeButtons),
    chartNote, ...charts.flatMap((c) => [h('h3', {}, c.title), c.box]),
    h('h2', {}, 'Map'), editor,
    details);

  async function loadHistory() {
    const to = new Date();
    const from = new Date(to.getTime() - historyRanges[range] * 1000);
    const step = autoStep(historyRanges[range]);
    const q = { fields: historyCharts.flatMap((c) => c.fields).join(','), from: from.toISOString(), to: to.toISOString() };
    if (step) { q.step = step; q.agg = 'max'; }
    const { data } = await ctx.api(`/history/system/edges/${e0}`, { params: q });
    let points = 0;
    for (const c of charts) {
      if (c.plot) c.plot.destroy();
      const series = c.fields.map((f) => (data || []).find((s) => s.field === f) || { field: f, points: [] });
      c.plot = drawSeries(c.box, series, { height: 200, label: (f) => c.label[f] || f }).plot;
      points += series.reduce((a, s) => a + s.points.length, 0);
    }
    chartNote.textContent = points ? `${points} points from ${fmtTime(from)} to ${fmtTime(to)}${step ? ` (max per ${step})` : ' (one per heartbeat)'}; online is 0 once the edge went offline.`
      : `No heartbeat recorded from ${fmtTime(from)} to ${fmtTime(to)}.`;
  }

  async function load() {
    const { data: e } = await ctx.api(`/system/edges/${e0}`);
    const hb = e.heartbeat && typeof e.heartbeat === 'object' ? e.heartbeat : {};
    state.className = `state ${e.state}`;
    state.textContent = e.state || 'unknown';
    replace(summary, `last heartbeat ${fmtTime(e.lastSeen)} (${fmtAge(e.lastSeen)} ago); version ${e.version || '—'}; up ${fmtDuration(e.uptime)}; map `,
      h('code', { id: 'edge-map-version' }, e.mapVersion || '—'), e.mapPusher ? ` pushed by ${e.mapPusher}` : '',
      e.rolledBack ? h('span', { class: 'muted' }, ` (last rollback ${fmtTime(e.rolledBack.at)}: ${e.rolledBack.reason || ''})`) : '');
    replace(details,
      Array.isArray(hb.slaves) && hb.slaves.length ? objectTable('slaves', `Slaves: ${e.slavesUp ?? '?'} of ${e.slavesTotal ?? '?'} up`, hb.slaves)
        : h('p', { class: 'empty' }, 'The heartbeat lists no slave.'),
      h('div', { class: 'row' }, keyValues('buffer', 'Buffer', hb.buffer), keyValues('forwarder', 'Forwarder', hb.forwarder),
        keyValues('ingest', 'Hub ingest counters', e.hub)),
      h('h2', {}, 'Latest heartbeat'), h('pre', { class: 'wrap' }, JSON.stringify(hb, null, 2)));
  }
  await Promise.all([load(), loadHistory()]);
  // the record every 5 s; the charts every 30 s (a redraw resets a zoom)
  const timer = setInterval(() => load().catch((err) => ctx.error(err.message)), 5000);
  const chartTimer = setInterval(() => loadHistory().catch((err) => ctx.error(err.message)), 30000);
  ctx.onLeave(() => { clearInterval(timer); clearInterval(chartTimer); for (const c of charts) if (c.plot) c.plot.destroy(); });
}

/** The edge's reply to a push, dry run or rollback, or its refusal, as elements. */
function pushOutcome(what, reply, err) {
  const out = [];
  if (err) {
    out.push(h('p', { class: 'q bad', id: 'map-error', 'data-code': reply?.error?.code || '' }, `${what} refused: ${reply?.error?.message || err.message}`));
    const details = reply?.error?.details || [];
    if (details.length) out.push(h('ul', { id: 'map-error-details' }, details.map((d) => h('li', {}, d))));
    else if (reply?.error) out.push(h('p', { class: 'muted' }, err.message));
    return out;
  }
  const rows = [['result', reply.result || 'rolled back'], ['version', reply.version], ['previous', reply.previous], ['pushed', reply.pushed]]
    .filter(([, v]) => v);
  if (reply.changes) {
    const c = reply.changes;
    rows.push(['changes', `${(c.added || []).length} slave(s) added, ${(c.removed || []).length} removed, ${(c.changed || []).length} changed, ${c.kept} kept`]);
  }
  if (reply.rolledBack) rows.push(['rolled back', reply.rolledBack.reason]);
  out.push(h('table', { id: 'map-reply', 'data-result': reply.result || 'rolled_back', 'data-version': reply.version || '' },
    h('caption', {}, `${what}: the edge's answer`),
    h('tbody', {}, rows.map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, String(v)))))));
  if (Array.isArray(reply.dryRun) && reply.dryRun.length) out.push(objectTable('dry-run', 'Dry run: each new or changed variable read once', reply.dryRun));
  return out;
}

/** The map editor of an edge: its running map in a text area, dry run, push and rollback (with confirmations). */
function mapEditor(ctx, edge) {
  const path = `/fleet/edges/${encodeURIComponent(edge)}/map`;
  const text = h('textarea', { id: 'map-editor', rows: 18, spellcheck: 'false', class: 'code', 'aria-describedby': 'map-help' });
  const info = h('p', { class: 'muted', id: 'map-info', 'aria-live': 'polite' }, 'Loading the map the edge runs…');
  const result = h('div', { id: 'map-result', 'aria-live': 'polite' });
  const confirmBox = h('input', { type: 'checkbox', id: 'map-confirm' });
  const buttons = [];
  const button = (label, attrs, fn) => {
    const b = h('button', { type: 'button', ...attrs }, label);
    b.addEventListener('click', async () => {
      for (const x of buttons) x.disabled = true;
      try { await fn(); } finally { for (const x of buttons) x.disabled = false; }
    });
    buttons.push(b);
    return b;
  };
  const parse = () => {
    try { return JSON.parse(text.value); } catch (e) {
      replace(result, h('p', { class: 'q bad', id: 'map-error' }, `The map is not valid JSON: ${e.message}`));
      return null;
    }
  };
  const send = async (what, p, body) => {
    replace(result, h('p', { class: 'muted', id: 'map-progress' }, `${what}: waiting for ${edge}'s answer…`));
    try {
      const { data } = await ctx.api(p, { method: 'POST', body });
      replace(result, pushOutcome(what, data, null));
      return data;
    } catch (e) {
      replace(result, pushOutcome(what, e.data, e));
      return null;
    }
  };
  async function loadMap() {
    try {
      const { data } = await ctx.api(path);
      text.value = JSON.stringify(data.settings, null, 2);
      const m = data.map || {};
      info.dataset.version = m.version || '';
      replace(info, 'Running map ', h('code', {}, m.version || '—'), m.pusher ? ` pushed by ${m.pusher}` : ` (${m.source || 'config'})`,
        m.appliedAt ? ` at ${fmtTime(m.appliedAt)}` : '', m.previous ? `; rollback restores ${m.previous}` : '; no previous map kept');
    } catch (e) {
      replace(info, `The edge's map could not be read: ${e.message}`);
    }
  }
  loadMap();
  return h('div', { id: 'map-section' }, info,
    h('label', { for: 'map-editor' }, 'SETTINGS document (JSON)'), text,
    h('p', { class: 'muted', id: 'map-help' }, 'Validate asks the edge to check the map and read each new or changed variable once, applying nothing. ' +
      'Push signs the map with the hub\'s key for you; the edge must trust that key (control.trustedKeys).'),
    h('div', { class: 'row' },
      button('Reload the running map', { id: 'map-reload' }, loadMap),
      button('Validate (dry run)', { id: 'map-dry-run' }, async () => {
        const settings = parse();
        if (settings) await send('Dry run', path, { settings, dryRun: true });
      }),
      button('Push…', { id: 'map-push', class: 'primary' }, async () => {
        const settings = parse();
        if (!settings || !window.confirm(`Push this map to edge ${edge}? It replaces the map the edge polls with.`)) return;
        if (await send('Push', path, { settings, confirm: confirmBox.checked })) await loadMap();
      }),
      button('Roll back…', { id: 'map-rollback' }, async () => {
        if (!window.confirm(`Roll edge ${edge} back to the map it ran before its last push?`)) return;
        if (await send('Rollback', `${path}/rollback`, undefined)) await loadMap();
      }),
      h('div', { class: 'check' }, confirmBox, h('label', { for: 'map-confirm' }, 'wait until the first poll cycles pass (up to 45 s)'))),
    result);
}
