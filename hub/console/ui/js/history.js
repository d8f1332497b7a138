// #/h/layer/col/id?f=fields&range=…: the history of measurements drawn
// with uPlot (built for long time series: 86,400 points stay smooth),
// presets and a custom range, an aggregation step chosen from the range,
// drag to zoom, quality gaps, several series, CSV of what is shown.
import uPlot from '../vendor/uPlot.esm.js';
import { fmtTime, h, link, replace } from './dom.js';

/** The presets: name → seconds. */
export const presets = { '1h': 3600, '24h': 86400, '7d': 7 * 86400 };

// Aggregation steps, shortest first; a range is drawn with the first one
// that keeps it to maxPoints per series. Ranges up to rawUpTo are raw.
const steps = [['10s', 10], ['30s', 30], ['1m', 60], ['5m', 300], ['15m', 900], ['30m', 1800],
  ['1h', 3600], ['3h', 10800], ['6h', 21600], ['12h', 43200], ['1d', 86400]];
const maxPoints = 1500;
const rawUpTo = 2 * 3600;

/** The step for a range of seconds: "" (raw) or the first of steps that fits. */
export function autoStep(seconds) {
  if (seconds <= rawUpTo) return '';
  for (const [name, s] of steps) if (seconds / s <= maxPoints) return name;
  return steps[steps.length - 1][0];
}

function localInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

function pointTime(t) {
  return typeof t === 'number' ? t : new Date(t).getTime();
}

export async function historyPage(ctx, view, layer, col, id, params) {
  const fields = (params.get('f') || '').split(',').map((s) => s.trim()).filter(Boolean);
  const range = params.get('range') || '1h';
  const agg = params.get('agg') || 'avg';
  const stepParam = params.get('step') || 'auto';
  let to = new Date();
  let from = new Date(to.getTime() - (presets[range] || 3600) * 1000);
  if (range === 'custom' && params.get('from') && params.get('to')) {
    from = new Date(params.get('from'));
    to = new Date(params.get('to'));
    if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from >= to) {
      throw new Error('the custom range needs a start before its end');
    }
  }
  const seconds = (to - from) / 1000;
  const step = stepParam === 'auto' ? autoStep(seconds) : stepParam === 'raw' ? '' : stepParam;
  const go = (p) => {
    location.hash = link(['h', layer, col, id], { f: fields.join(','), range, agg, step: stepParam, ...p });
  };

  const presetButtons = Object.keys(presets).map((p) => h('button', { type: 'button', 'aria-pressed': String(range === p),
    'data-range': p, onclick: () => go({ range: p, from: '', to: '' }) }, p));
  const fromIn = h('input', { type: 'datetime-local', id: 'from', value: localInput(from) });
  const toIn = h('input', { type: 'datetime-local', id: 'to', value: localInput(to) });
  const stepSel = h('select', { id: 'step' }, ['auto', 'raw', ...steps.map((s) => s[0])]
    .map((s) => h('option', { value: s, selected: s === stepParam }, s === 'auto' ? `auto (${step || 'raw'})` : s)));
  const aggSel = h('select', { id: 'agg' }, ['avg', 'min', 'max', 'first', 'last', 'sum', 'count']
    .map((a) => h('option', { value: a, selected: a === agg }, a)));
  stepSel.addEventListener('change', () => go({ step: stepSel.value, from: params.get('from'), to: params.get('to') }));
  aggSel.addEventListener('change', () => go({ agg: aggSel.value, from: params.get('from'), to: params.get('to') }));
  const controls = h('div', { class: 'row' },
    h('div', { role: 'group', 'aria-label': 'Time range' }, h('span', { class: 'muted' }, 'Range '), ...presetButtons),
    h('div', {}, h('label', { for: 'from' }, 'From'), fromIn),
    h('div', {}, h('label', { for: 'to' }, 'To'), toIn),
    h('div', {}, h('button', { type: 'button', onclick: () => {
      const f = new Date(fromIn.value), t = new Date(toIn.value);
      if (Number.isNaN(f.getTime()) || Number.isNaN(t.getTime()) || f >= t) { ctx.error('Choose a start before the end.'); return; }
      go({ range: 'custom', from: f.toISOString(), to: t.toISOString() });
    } }, 'Apply range')),
    h('div', {}, h('label', { for: 'step' }, 'Step'), stepSel),
    h('div', {}, h('label', { for: 'agg' }, 'Aggregation'), aggSel));
  const chartBox = h('div', { class: 'chart', id: 'chart', role: 'img', 'aria-label': `history chart of ${fields.join(', ')}` });
  const note = h('p', { class: 'muted', id: 'chart-note', 'aria-live': 'polite' }, 'Loading…');
  const csv = h('button', { type: 'button', id: 'csv', disabled: true }, 'Download CSV of what is shown');
  replace(view,
    h('div', { class: 'crumbs' }, h('a', { href: '#/layers' }, 'Layers'), ' / ',
      h('a', { href: link(['c', layer, col]) }, `${layer} / ${col}`), ' / ',
      h('a', { href: link(['d', layer, col, id]) }, id)),
    h('h1', {}, `History of ${id}`), controls, note, chartBox, h('p', {}, csv,
      fields.length === 1 ? [' ', h('a', { id: 'forecast-link', href: link(['f'], { name: `${id} ${fields[0]}`, layer, col, id, field: fields[0] }) },
        'Forecast this measurement')] : null),
    h('p', { class: 'muted' }, 'Drag across the chart to zoom, double-click to zoom out. Points of bad quality are gaps.'));
  if (!fields.length) {
    replace(note, 'Choose measurements on the document page to chart them.');
    return;
  }

  const q = { fields: fields.join(','), from: from.toISOString(), to: to.toISOString() };
  if (step) { q.step = step; q.agg = agg; }
  const path = `/history/${encodeURIComponent(layer)}/${encodeURIComponent(col)}/${encodeURIComponent(id)}`;
  chartBox.dataset.query = new URLSearchParams(q).toString();
  const { data } = await ctx.api(path, { params: q });
  const series = (data || []).filter((s) => s._id === id || s._id === undefined);
  const { plot, stats } = drawSeries(chartBox, series);
  if (!plot) {
    replace(note, `No history in this range (${fmtTime(from)} – ${fmtTime(to)}).`);
    return;
  }
  const gaps = Object.values(stats).reduce((a, s) => a + s.gaps, 0);
  replace(note, `${Object.values(stats).reduce((a, s) => a + s.points, 0)} points ${step ? `(${agg} per ${step})` : '(raw)'}`
    + ` from ${fmtTime(from)} to ${fmtTime(to)}${gaps ? `; ${gaps} of bad quality or not numeric, shown as gaps` : ''}.`);
  ctx.onLeave(() => plot.destroy());

  csv.disabled = false;
  csv.addEventListener('click', () => {
    const min = plot.scales.x.min;
    const max = plot.scales.x.max;
    const rows = ['timestamp,_id,field,value,quality'];
    for (const s of series) {
      for (const [t, v, qual] of s.points || []) {
        const sec = pointTime(t) / 1000;
        if (sec < min || sec > max) continue;
        const val = typeof v === 'string' ? `"${v.replaceAll('"', '""')}"` : v ?? '';
        rows.push(`${new Date(sec * 1000).toISOString()},${csvCell(id)},${csvCell(s.field)},${val},${qual ?? ''}`);
      }
    }
    const a = h('a', { href: URL.createObjectURL(new Blob([rows.join('\n') + '\n'], { type: 'text/csv' })),
      download: `${layer}_${col}_${id}_history.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  });
}

/**
 * Draws history series ([{field, points: [[t, v, q], …]}], the history
 * API's data) into box with uPlot, one line per series aligned on time;
 * points of bad quality and non-numbers are gaps. Sets box.dataset.series
 * ({field: {points, drawn, gaps}}) and box.dataset.drawn. Returns {plot,
 * stats}; plot is null (and box emptied) when no series has a point. The
 * plot follows the window's width until destroyed. label names a series
 * (default: the field without "measurements.").
 */
export function drawSeries(box, series, { height = 320, label = (f) => f.replace(/^measurements\./, '') } = {}) {
  const stats = {};
  const tables = [];
  for (const s of series) {
    const xs = [];
    const ys = [];
    let gaps = 0;
    let drawn = 0;
    for (const [t, v, qual] of s.points || []) {
      xs.push(pointTime(t) / 1000);
      if (typeof v === 'number' && (qual === undefined || qual === 1)) { ys.push(v); drawn++; }
      else { ys.push(null); gaps++; }
    }
    stats[s.field] = { points: (s.points || []).length, drawn, gaps };
    tables.push([xs, ys]);
  }
  box.dataset.series = JSON.stringify(stats);
  box.replaceChildren();
  if (!series.length || series.every((s) => !(s.points || []).length)) {
    box.dataset.drawn = '0';
    return { plot: null, stats };
  }
  const aligned = tables.length === 1 ? tables[0] : uPlot.join(tables);
  const css = getComputedStyle(document.documentElement);
  const color = (i) => css.getPropertyValue(`--s${(i % 6) + 1}`).trim() || '#0969da';
  const fg = css.getPropertyValue('--fg').trim();
  const line = css.getPropertyValue('--line').trim();
  const axis = { stroke: fg, grid: { stroke: line, width: 1 }, ticks: { stroke: line, width: 1 } };
  const opts = {
    width: Math.max(300, box.clientWidth - 10),
    height,
    scales: { x: { time: true } },
    axes: [axis, { ...axis, size: 60 }],
    cursor: { drag: { x: true, y: false } },
    series: [{ label: 'time', value: (u, v) => (v == null ? '—' : fmtTime(v * 1000)) },
      ...series.map((s, i) => ({ label: label(s.field), stroke: color(i), width: 1.5,
        points: { show: false }, spanGaps: false }))],
  };
  const plot = new uPlot(opts, aligned, box);
  box.dataset.drawn = String(Object.values(stats).reduce((a, s) => a + s.drawn, 0));
  const resize = () => plot.setSize({ width: Math.max(300, box.clientWidth - 10), height });
  window.addEventListener('resize', resize);
  const destroy = plot.destroy.bind(plot);
  plot.destroy = () => { window.removeEventListener('resize', resize); destroy(); };
  return { plot, stats };
}

function csvCell(s) {
  return /[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}
