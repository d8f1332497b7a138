// #/f?model=<id>: the forecasting service (docs/forecast.md). Create a
// model from a measurement's history, see its status, train it, and plot a
// forecast with its 80% band against the actual values.
import uPlot from '../vendor/uPlot.esm.js';
import { fmtTime, h, link, replace } from './dom.js';

const field = (id, label, attrs = {}) => h('div', {}, h('label', { for: id }, label), h('input', { id, ...attrs }));

/** The history stage of a model's config, if it has one. */
function historyStage(desc) {
  const input = desc && desc.config && Array.isArray(desc.config.input) ? desc.config.input : [];
  const st = input.find((s) => s && s.history);
  return st ? st.history : null;
}

const pageSize = 25;

/** The list of models (GET /forecast/model), a page at a time, each linking to its detail. */
async function modelList(ctx, params) {
  const skip = Math.max(0, parseInt(params.get('skip') || '0', 10) || 0);
  const status = params.get('status') || '';
  const { data } = await ctx.api('/forecast/model', { bare: true, params: { skip, limit: pageSize, status } });
  const models = data.models || [];
  const go = (p) => link(['f'], { status, ...p });
  const statusSel = h('select', { id: 'model-filter' }, ['', 'untrained', 'training', 'trained', 'error']
    .map((s) => h('option', { value: s, selected: s === status }, s || 'any')));
  statusSel.addEventListener('change', () => { location.hash = go({ status: statusSel.value }); });
  const cls = (s) => (s === 'trained' ? 'good' : s === 'error' ? 'bad' : 'uncertain');
  return h('div', { id: 'model-list' },
    h('div', { class: 'row' }, h('div', {}, h('label', { for: 'model-filter' }, 'Status'), statusSel)),
    models.length ? h('div', { class: 'wrap' }, h('table', { id: 'models' },
      h('caption', {}, `Models ${skip + 1}–${skip + models.length} of ${data.total}`),
      h('thead', {}, h('tr', {}, ['name', 'status', 'last data', 'regressors', 'rows', 'trained at', 'id'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, models.map((m) => h('tr', { 'data-model': m.id },
        h('th', { scope: 'row' }, h('a', { href: link(['f'], { model: m.id }) }, m.config?.name || m.id)),
        h('td', {}, h('span', { class: `q ${cls(m.status)}`, 'data-status': m.status }, m.status)),
        h('td', {}, fmtTime(m.lastDataTimestamp)),
        h('td', {}, (m.regressors || []).join(', ') || '—'),
        h('td', { class: 'num' }, m.rows ?? '—'),
        h('td', {}, fmtTime(m.trainedAt)),
        h('td', {}, h('code', {}, m.id)))))))
      : h('p', { class: 'empty' }, status ? `No model is ${status}.` : 'No model yet: create one below (from a history page: "Forecast this measurement").'),
    h('p', {},
      skip > 0 ? h('a', { href: go({ skip: Math.max(0, skip - pageSize) }), id: 'models-prev' }, '← previous') : null, ' ',
      skip + models.length < data.total ? h('a', { href: go({ skip: skip + pageSize }), id: 'models-next' }, 'next →') : null));
}

export async function forecastPage(ctx, view, params) {
  const modelId = params.get('model') || '';
  const open = await modelList(ctx, params);
  const create = h('form', { class: 'row', id: 'new-model' },
    field('m-name', 'Name', { value: params.get('name') || '', required: true }),
    field('m-layer', 'Layer', { value: params.get('layer') || '', required: true }),
    field('m-col', 'Collection', { value: params.get('col') || '', required: true }),
    field('m-doc', 'Document', { value: params.get('id') || '', required: true }),
    field('m-field', 'Measurement field', { value: params.get('field') || '', required: true, placeholder: 'measurements.activePower' }),
    field('m-step', 'Step', { value: params.get('step') || '1h', required: true }),
    field('m-days', 'Days of history', { value: '30', type: 'number', min: '0.001', step: 'any', required: true }),
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Create model')));
  create.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = (id) => create.querySelector(`#${id}`).value.trim();
    const from = new Date(Date.now() - parseFloat(v('m-days')) * 86400000).toISOString();
    const f = v('m-field').replace(/\.value$/, '');
    try {
      const { data } = await ctx.api('/forecast/model', { method: 'POST', bare: true, body: { name: v('m-name'), input: [{ history: {
        layer: v('m-layer'), collection: v('m-col'), id: v('m-doc'), columns: { y: f }, from, step: v('m-step'), agg: 'avg' } }] } });
      location.hash = link(['f'], { model: data.id });
    } catch (e) { ctx.error(`Could not create the model: ${e.message}`); }
  });
  const detail = h('div', { id: 'model' });
  replace(view, h('h1', {}, 'Forecasts'), open, detail,
    h('h2', {}, 'New model from a measurement\'s history'), create);
  if (!modelId) return;
  await showModel(ctx, detail, modelId);
}

async function showModel(ctx, box, id) {
  const path = `/forecast/model/${encodeURIComponent(id)}`;
  const { data: d } = await (async () => {
    try { return await ctx.api(path, { bare: true }); } catch (e) {
      replace(box, h('p', { class: 'empty' }, `Model ${id}: ${e.message}`));
      throw e;
    }
  })();
  const status = h('span', { id: 'model-status', 'data-status': d.status, class: `q ${d.status === 'trained' ? 'good' : d.status === 'error' ? 'bad' : 'uncertain'}` }, d.status);
  const train = h('button', { type: 'button', id: 'train', disabled: d.status === 'training' }, d.status === 'trained' ? 'Train again' : 'Train');
  train.addEventListener('click', async () => {
    try { await ctx.api(`${path}/train`, { method: 'POST', bare: true, body: {} }); await showModel(ctx, box, id); } catch (e) { ctx.error(`Training refused: ${e.message}`); }
  });
  const periods = h('input', { id: 'periods', type: 'number', min: 1, value: 48 });
  const freq = h('input', { id: 'freq', value: 'H' });
  const run = h('button', { type: 'button', id: 'run-forecast', class: 'primary', disabled: d.status !== 'trained' }, 'Forecast');
  const chart = h('div', { class: 'chart', id: 'forecast-chart', role: 'img', 'aria-label': `forecast of model ${id}` });
  const note = h('p', { class: 'muted', id: 'forecast-note', 'aria-live': 'polite' });
  replace(box,
    h('h2', {}, `Model ${d.config?.name || id}`),
    h('table', {}, h('tbody', {},
      [['id', d.id], ['status', status], ['progress', d.progress || '—'], ['rows', d.rows ?? '—'],
        ['trained at', fmtTime(d.trainedAt)], ['last data', fmtTime(d.lastDataTimestamp)], ['error', d.error || '']]
        .map(([k, v]) => h('tr', {}, h('th', { scope: 'row' }, k), h('td', {}, v))))),
    h('div', { class: 'row' }, train,
      h('div', {}, h('label', { for: 'periods' }, 'Periods'), periods),
      h('div', {}, h('label', { for: 'freq' }, 'Frequency (pandas alias: S, 15min, H, D…)'), freq), run),
    note, chart);
  if (d.status === 'training') {
    const t = setTimeout(() => showModel(ctx, box, id).catch((e) => ctx.error(e.message)), 1000);
    ctx.onLeave(() => clearTimeout(t));
  }
  run.addEventListener('click', async () => {
    run.disabled = true;
    try {
      const { data: rows } = await ctx.api(`${path}/forecast`, { method: 'POST', bare: true,
        body: { periods: +periods.value, freq: freq.value.trim() } });
      await plot(ctx, chart, note, d, rows || []);
    } catch (e) { ctx.error(`Forecast failed: ${e.message}`); }
    run.disabled = false;
  });
}

/** Draws the forecast's yhat and 80% band, with the model's actual values when its input is a history stage. */
async function plot(ctx, chart, note, desc, rows) {
  const fx = rows.map((r) => new Date(r.ds).getTime() / 1000);
  const tables = [[fx, rows.map((r) => r.yhat), rows.map((r) => r.yhat_lower), rows.map((r) => r.yhat_upper)]];
  const st = historyStage(desc);
  let actual = 0;
  if (st && st.columns && st.columns.y) {
    const f = st.columns.y.replace(/\.value$/, '');
    const q = { fields: f, from: st.from || new Date(Date.now() - 30 * 86400000).toISOString() };
    if (st.step) { q.step = st.step; q.agg = st.agg || 'avg'; }
    const { data } = await ctx.api(`/history/${encodeURIComponent(st.layer)}/${encodeURIComponent(st.collection)}/${encodeURIComponent(st.id)}`, { params: q });
    const pts = (data && data[0] && data[0].points) || [];
    const ax = [];
    const ay = [];
    for (const [t, v] of pts) {
      if (typeof v !== 'number') continue;
      ax.push((typeof t === 'number' ? t : new Date(t).getTime()) / 1000);
      ay.push(v);
    }
    actual = ax.length;
    tables.push([ax, ay]);
  }
  const data = tables.length > 1 ? uPlot.join(tables) : tables[0];
  const css = getComputedStyle(document.documentElement);
  const c = (n) => css.getPropertyValue(n).trim();
  const axis = { stroke: c('--fg'), grid: { stroke: c('--line'), width: 1 }, ticks: { stroke: c('--line'), width: 1 } };
  chart.replaceChildren();
  const u = new uPlot({
    width: Math.max(300, chart.clientWidth - 10), height: 320, scales: { x: { time: true } },
    axes: [axis, { ...axis, size: 60 }],
    series: [{ label: 'time', value: (_u, v) => (v == null ? '—' : fmtTime(v * 1000)) },
      { label: 'forecast', stroke: c('--s1'), width: 2 },
      { label: '80% low', stroke: c('--s1'), width: 0.5, dash: [4, 4] },
      { label: '80% high', stroke: c('--s1'), width: 0.5, dash: [4, 4] },
      ...(tables.length > 1 ? [{ label: 'actual', stroke: c('--s2'), width: 1.5, spanGaps: true }] : [])],
    bands: [{ series: [3, 2], fill: `color-mix(in srgb, ${c('--s1')} 20%, transparent)` }],
  }, data, chart);
  ctx.onLeave(() => u.destroy());
  chart.dataset.forecast = String(rows.length);
  chart.dataset.actual = String(actual);
  chart.dataset.band = String(rows.filter((r) => r.yhat_lower <= r.yhat && r.yhat <= r.yhat_upper && r.yhat_lower < r.yhat_upper).length);
  note.textContent = `${rows.length} forecast steps with the 80% band${actual ? ` against ${actual} actual values` : ''}.`;
}
