// #/fleet: every edge's record in system/edges (docs/operations.md, fleet
// health): state, versions, last seen, buffer, slaves. Refreshed every 5 s.
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

/** #/fleet/<edge>: one edge's record and its latest heartbeat: slaves, buffer, forwarder. Refreshed every 5 s. */
export async function edgePage(ctx, view, edge) {
  async function load() {
    const { data: e } = await ctx.api(`/system/edges/${encodeURIComponent(edge)}`);
    const hb = e.heartbeat && typeof e.heartbeat === 'object' ? e.heartbeat : {};
    replace(view,
      h('div', { class: 'crumbs' }, h('a', { href: '#/fleet' }, 'Fleet'), ' /'),
      h('h1', {}, `Edge ${edge} `, h('span', { class: `state ${e.state}`, id: 'edge-state' }, e.state || 'unknown')),
      h('p', { class: 'muted' }, `last heartbeat ${fmtTime(e.lastSeen)} (${fmtAge(e.lastSeen)} ago); version ${e.version || '—'}; ` +
        `up ${fmtDuration(e.uptime)}; map ${e.mapVersion || '—'}${e.mapPusher ? ` pushed by ${e.mapPusher}` : ''}`),
      Array.isArray(hb.slaves) && hb.slaves.length ? objectTable('slaves', `Slaves: ${e.slavesUp ?? '?'} of ${e.slavesTotal ?? '?'} up`, hb.slaves)
        : h('p', { class: 'empty' }, 'The heartbeat lists no slave.'),
      h('div', { class: 'row' }, keyValues('buffer', 'Buffer', hb.buffer), keyValues('forwarder', 'Forwarder', hb.forwarder),
        keyValues('ingest', 'Hub ingest counters', e.hub)),
      h('h2', {}, 'Latest heartbeat'), h('pre', { class: 'wrap' }, JSON.stringify(hb, null, 2)),
      h('p', { class: 'muted' }, 'The hub keeps the latest heartbeat of each edge, not their history.'));
  }
  await load();
  const timer = setInterval(() => load().catch((err) => ctx.error(err.message)), 5000);
  ctx.onLeave(() => clearInterval(timer));
}
