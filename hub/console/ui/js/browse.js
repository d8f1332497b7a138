// Pages to browse the store: the layers, one collection (selector search
// and pagination) and one document with its measurements, live over DDP.
import { fmtAge, fmtTime, fmtValue, h, link, qualityBadge, replace, toDate } from './dom.js';

/** #/layers: every layer the user may read, with its collections. */
export async function layersPage(ctx, view) {
  replace(view, h('h1', {}, 'Layers'), h('p', { class: 'muted' }, 'Loading…'));
  const { data } = await ctx.api('/layers');
  const layers = (data || []).slice().sort((a, b) => String(a._id).localeCompare(String(b._id)));
  if (!layers.length) {
    replace(view, h('h1', {}, 'Layers'), h('p', { class: 'empty' }, 'You have no grant on any layer yet. An admin can give you one.'));
    return;
  }
  const rows = layers.map((l) => h('tr', {},
    h('th', { scope: 'row' }, l._id),
    h('td', {}, l.label || ''),
    h('td', {}, l.description || ''),
    h('td', {}, ...(l.collections || []).flatMap((c, i) => [i ? ', ' : '',
      h('a', { href: link(['c', l._id, c.name]), 'data-collection': `${l._id}/${c.name}` }, c.label || c.name)]))));
  replace(view, h('h1', {}, 'Layers'),
    h('div', { class: 'wrap' }, h('table', {},
      h('caption', {}, `${layers.length} layer(s) you may read`),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'Layer'), h('th', { scope: 'col' }, 'Label'),
        h('th', { scope: 'col' }, 'Description'), h('th', { scope: 'col' }, 'Collections'))),
      h('tbody', {}, rows))));
}

const pageSizes = [25, 50, 100, 500];

/** #/c/layer/col?query=…&skip=…&limit=…: documents matching a selector, a page at a time. */
export async function collectionPage(ctx, view, layer, col, params) {
  const query = params.get('query') || '';
  const skip = Math.max(0, parseInt(params.get('skip') || '0', 10) || 0);
  const limit = pageSizes.includes(+params.get('limit')) ? +params.get('limit') : 50;
  const sel = h('textarea', { id: 'selector', name: 'query', rows: 2, spellcheck: 'false',
    placeholder: '{"measurements.activePower.value": {"$gt": 100}}' }, query);
  const size = h('select', { id: 'limit', name: 'limit' },
    pageSizes.map((n) => h('option', { value: n, selected: n === limit }, String(n))));
  const form = h('form', { class: 'row', role: 'search' },
    h('div', { class: 'grow' }, h('label', { for: 'selector' }, 'Selector (MongoDB JSON; empty: all documents)'), sel),
    h('div', {}, h('label', { for: 'limit' }, 'Per page'), size),
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Search')));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const q = sel.value.trim();
    if (q) {
      try { JSON.parse(q); } catch (e) { ctx.error(`The selector is not valid JSON: ${e.message}`); sel.focus(); return; }
    }
    location.hash = link(['c', layer, col], { query: q, limit: size.value, skip: 0 });
  });
  sel.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) form.requestSubmit();
  });
  const results = h('div', { class: 'wrap' }, h('p', { class: 'muted' }, 'Loading…'));
  replace(view,
    h('div', { class: 'crumbs' }, h('a', { href: '#/layers' }, 'Layers'), ` / ${layer} / `),
    h('h1', {}, `${layer} / ${col}`),
    h('p', {}, h('a', { href: link(['m', layer, col]), id: 'map-link' }, 'Map of the documents with a geometry')),
    form, results);
  let data;
  let next;
  try {
    ({ data, next } = await ctx.api(`/${encodeURIComponent(layer)}/${encodeURIComponent(col)}`,
      { params: { query, skip, limit } }));
  } catch (e) {
    replace(results, h('p', { class: 'empty' }, `No documents: ${e.message}`));
    throw e;
  }
  const docs = data || [];
  const pager = h('nav', { class: 'row', 'aria-label': 'Pages' },
    h('button', { type: 'button', disabled: skip === 0, onclick: () => {
      location.hash = link(['c', layer, col], { query, limit, skip: Math.max(0, skip - limit) });
    } }, '← Previous'),
    h('span', { class: 'muted' }, docs.length ? `documents ${skip + 1}–${skip + docs.length}` : ''),
    h('button', { type: 'button', disabled: !next && docs.length < limit ? true : !next, onclick: () => {
      location.hash = link(['c', layer, col], { query, limit, skip: skip + limit });
    } }, 'Next →'));
  if (!docs.length) {
    replace(results, h('p', { class: 'empty' }, query ? 'No document matches this selector.' : 'This collection is empty.'), skip ? pager : null);
    return;
  }
  const rows = docs.map((d) => {
    const ms = d.measurements && typeof d.measurements === 'object' ? Object.keys(d.measurements) : [];
    const when = d.measurementsTimestamp || d.timestamp || d._updated;
    return h('tr', {},
      h('th', { scope: 'row' }, h('a', { href: link(['d', layer, col, String(d._id)]), 'data-doc': String(d._id) }, String(d._id))),
      h('td', {}, d.name === undefined ? '' : fmtValue(d.name)),
      h('td', {}, ms.length ? `${ms.length}: ${ms.slice(0, 6).join(', ')}${ms.length > 6 ? '…' : ''}` : '—'),
      h('td', {}, fmtTime(when)),
      h('td', {}, d.geometry ? d.geometry.type || 'yes' : ''));
  });
  replace(results, h('table', {},
    h('caption', {}, `${docs.length} document(s) on this page`),
    h('thead', {}, h('tr', {}, ['_id', 'name', 'measurements', 'updated', 'geometry'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, rows)), pager);
}

/** #/d/layer/col/id: one document; its measurements change live over DDP. */
export async function documentPage(ctx, view, layer, col, id) {
  const path = `/${encodeURIComponent(layer)}/${encodeURIComponent(col)}/${encodeURIComponent(id)}`;
  const { data } = await ctx.api(path);
  let doc = data;
  const selected = new Set();
  const tbody = h('tbody');
  const other = h('pre', { class: 'wrap', 'aria-label': 'Other fields' });
  const historyLink = h('a', { href: '#', id: 'history-link', 'aria-disabled': 'true' }, 'History of the selected measurements');
  const status = h('p', { class: 'muted', id: 'doc-status', 'aria-live': 'polite' });
  const prev = new Map();

  function updateLink() {
    const fields = [...selected];
    historyLink.href = link(['h', layer, col, id], fields.length ? { f: fields.join(',') } : undefined);
    historyLink.setAttribute('aria-disabled', fields.length ? 'false' : 'true');
  }

  function draw() {
    const ms = doc.measurements && typeof doc.measurements === 'object' ? doc.measurements : {};
    const names = Object.keys(ms).sort();
    if (!selected.size && names.length) selected.add(`measurements.${names[0]}`);
    const rows = names.map((n) => {
      const m = ms[n] && typeof ms[n] === 'object' ? ms[n] : { value: ms[n] };
      const field = `measurements.${n}`;
      const box = h('input', { type: 'checkbox', id: `sel-${n}`, checked: selected.has(field),
        'aria-label': `chart ${n}` });
      box.addEventListener('change', () => {
        if (box.checked) selected.add(field); else selected.delete(field);
        updateLink();
      });
      const text = fmtValue(m.value);
      const valueCell = h('td', { class: 'num value', 'data-value': text }, text);
      if (prev.has(n) && prev.get(n) !== text) valueCell.classList.add('flash');
      prev.set(n, text);
      return h('tr', { 'data-measurement': n },
        h('td', {}, box),
        h('th', { scope: 'row' }, h('label', { for: `sel-${n}` }, n)),
        valueCell,
        h('td', {}, qualityBadge(m.quality)),
        h('td', { 'data-time': toDate(m.timestamp)?.toISOString() || '' }, fmtTime(m.timestamp)),
        h('td', { class: 'num age', 'data-ts': toDate(m.timestamp)?.getTime() || '' }, fmtAge(m.timestamp)),
        h('td', {}, h('a', { href: link(['h', layer, col, id], { f: field }) }, 'chart')));
    });
    replace(tbody, rows.length ? rows : h('tr', {}, h('td', { colspan: 7, class: 'empty' }, 'This document has no measurements.')));
    const rest = { ...doc };
    delete rest.measurements;
    other.textContent = JSON.stringify(rest, null, 2);
    status.textContent = `measurements at ${fmtTime(doc.measurementsTimestamp || doc._updated)}`;
    updateLink();
  }

  replace(view,
    h('div', { class: 'crumbs' }, h('a', { href: '#/layers' }, 'Layers'), ' / ',
      h('a', { href: link(['c', layer, col]) }, `${layer} / ${col}`), ' /'),
    h('h1', {}, `${id}${doc.name ? ` — ${doc.name}` : ''}`), status,
    h('div', { class: 'wrap' }, h('table', { id: 'measurements' },
      h('caption', {}, 'Measurements (updating live)'),
      h('thead', {}, h('tr', {}, ['chart', 'measurement', 'value', 'quality', 'timestamp', 'age', ''].map((c) => h('th', { scope: 'col' }, c)))),
      tbody)),
    h('p', {}, historyLink),
    h('h2', {}, 'Other fields'), other);
  draw();

  // ages tick every second without a round trip
  const tick = setInterval(() => {
    for (const td of tbody.querySelectorAll('td.age')) {
      if (td.dataset.ts) td.textContent = fmtAge(+td.dataset.ts);
    }
  }, 1000);
  ctx.onLeave(() => clearInterval(tick));

  const ddpCol = `${layer}_${col}`;
  const stop = ctx.ddp.subscribe(`${ddpCol}.find`, [{ _id: id }], ddpCol, {
    onChange: (docId, d) => {
      if (docId !== id) return;
      if (!d) { status.textContent = 'This document was deleted.'; return; }
      doc = d;
      draw();
    },
    onError: (msg) => ctx.error(`Live updates refused: ${msg}`),
  });
  ctx.onLeave(stop);
}
