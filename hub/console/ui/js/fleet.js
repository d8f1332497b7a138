// #/fleet: every edge's record in system/edges (docs/operations.md, fleet
// health): state, versions, last seen, buffer, slaves. Refreshed every 5 s.
import { fmtAge, fmtDuration, fmtTime, h, replace } from './dom.js';

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
        h('th', { scope: 'row' }, e._id),
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
