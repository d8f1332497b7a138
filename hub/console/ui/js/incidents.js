// #/i?status=…&type=…&skip=… and #/i/<id>: the incidents of the
// incidents layer (services.incidents.layer, default "incidents"; the
// `layer` parameter names another), filtered by status and type; one
// incident with its notification attempts, acknowledged or resolved by the
// operator: a PATCH of the document with the status and the fields of
// hub/incidents' state machine (open → acknowledged → resolved, open →
// resolved; acknowledgedAt/By, resolvedAt/By; docs/console.md).
import { fmtTime, fmtValue, h, link, replace } from './dom.js';

const pageSize = 50;

function where(params) {
  const layer = params.get('layer') || 'incidents';
  return { layer, base: `/${encodeURIComponent(layer)}/items` };
}

function statusBadge(d) {
  const s = d.status || 'open';
  const cls = s === 'resolved' ? 'good' : s === 'acknowledged' ? 'uncertain' : 'bad';
  return h('span', { class: `q ${cls}`, 'data-status': s }, s);
}

/** #/i: the list with filters. */
export async function incidentsPage(ctx, view, params) {
  const { layer, base } = where(params);
  const status = params.get('status') || '';
  const type = params.get('type') || '';
  const skip = Math.max(0, parseInt(params.get('skip') || '0', 10) || 0);
  const statusSel = h('select', { id: 'status' }, [['', 'any'], ['open', 'not resolved'], ['acknowledged', 'acknowledged'], ['resolved', 'resolved']]
    .map(([v, t]) => h('option', { value: v, selected: v === status }, t)));
  const typeIn = h('input', { id: 'type', value: type, placeholder: 'e.g. OVERVOLTAGE' });
  const form = h('form', { class: 'row', role: 'search' },
    h('div', {}, h('label', { for: 'status' }, 'Status'), statusSel),
    h('div', {}, h('label', { for: 'type' }, 'Type'), typeIn),
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Filter')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    location.hash = link(['i'], { layer: params.get('layer') || '', status: statusSel.value, type: typeIn.value.trim() });
  });
  const results = h('div', { class: 'wrap' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(view, h('h1', {}, 'Incidents'), form, results);
  const sel = {};
  if (status === 'open') sel.status = { $ne: 'resolved' };
  else if (status) sel.status = status;
  if (type) sel.type = type;
  const { data, next } = await ctx.api(base, { params: { query: JSON.stringify(sel), sort: '-timestamp', limit: pageSize, skip } });
  const docs = data || [];
  if (!docs.length) {
    replace(results, h('p', { class: 'empty' }, status || type ? 'No incident matches these filters.' : `No incident in ${layer}/items.`));
    return;
  }
  const go = (s) => link(['i'], { layer: params.get('layer') || '', status, type, skip: s });
  replace(results, h('table', { id: 'incidents' },
    h('caption', {}, `${docs.length} incident(s), newest first`),
    h('thead', {}, h('tr', {}, ['incident', 'type', 'status', 'time', 'description', 'notification'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, docs.map((d) => h('tr', { 'data-incident': String(d._id) },
      h('th', { scope: 'row' }, h('a', { href: link(['i', String(d._id)], params.get('layer') ? { layer } : undefined) }, String(d._id))),
      h('td', {}, d.type || '—'),
      h('td', {}, statusBadge(d)),
      h('td', {}, fmtTime(d.timestamp || d._updated)),
      h('td', {}, d.description || ''),
      h('td', {}, d.notificationState || '—'))))),
  h('nav', { class: 'row', 'aria-label': 'Pages' },
    skip ? h('a', { href: go(Math.max(0, skip - pageSize)) }, '← Previous') : null,
    next ? h('a', { href: go(skip + pageSize) }, 'Next →') : null));
}

/** #/i/<id>: one incident, its notification attempts, acknowledge and resolve. */
export async function incidentPage(ctx, view, id, params) {
  const { base } = where(params);
  const path = `${base}/${encodeURIComponent(id)}`;
  const { data: d } = await ctx.api(path);
  const who = () => ctx.user();
  const act = async (what, fields) => {
    try {
      await ctx.api(path, { method: 'PATCH', body: fields });
      await incidentPage(ctx, view, id, params);
    } catch (e) {
      ctx.error(`Could not ${what} the incident: ${e.message}`);
    }
  };
  const resolved = d.status === 'resolved';
  const acked = d.status === 'acknowledged' || !!d.acknowledgedAt;
  const ack = h('button', { type: 'button', id: 'acknowledge', disabled: resolved || acked },
    acked ? `Acknowledged by ${d.acknowledgedBy || '?'}` : 'Acknowledge');
  ack.addEventListener('click', () => act('acknowledge',
    { status: 'acknowledged', acknowledgedAt: new Date().toISOString(), acknowledgedBy: who() }));
  const res = h('button', { type: 'button', id: 'resolve', disabled: resolved }, resolved ? 'Resolved' : 'Resolve…');
  res.addEventListener('click', () => {
    if (!window.confirm(`Resolve incident ${id}? It leaves the list of open incidents.`)) return;
    act('resolve', { status: 'resolved', resolvedAt: new Date().toISOString(), resolvedBy: who() });
  });
  const attempts = Array.isArray(d.notifications) ? d.notifications : [];
  const rest = { ...d };
  delete rest.notifications;
  replace(view,
    h('div', { class: 'crumbs' }, h('a', { href: link(['i'], params.get('layer') ? { layer: params.get('layer') } : undefined) }, 'Incidents'), ' /'),
    h('h1', {}, `Incident ${id}`),
    h('p', {}, statusBadge(d), ' ', d.type || '', ' — ', d.description || '', ' ', h('span', { class: 'muted' }, fmtTime(d.timestamp))),
    h('div', { class: 'row' }, ack, res),
    h('h2', {}, 'Notification attempts'),
    attempts.length ? h('div', { class: 'wrap' }, h('table', { id: 'attempts' },
      h('thead', {}, h('tr', {}, ['at', 'target', 'attempt', 'status', 'error'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, attempts.map((a) => h('tr', {},
        h('td', {}, fmtTime(a.at)), h('td', {}, a.target || ''), h('td', { class: 'num' }, fmtValue(a.attempt)),
        h('td', { class: 'num' }, fmtValue(a.status)), h('td', {}, a.error || '')))))) :
      h('p', { class: 'empty' }, 'No notification was attempted for this incident.'),
    h('h2', {}, 'Document'), h('pre', { class: 'wrap', id: 'incident-doc' }, JSON.stringify(rest, null, 2)));
}
