// DOM building and formatting helpers shared by the console's pages. Text
// always goes in as text nodes (never innerHTML), so document contents
// cannot inject markup.

/** Creates an element: h('a', {href: '#/x', class: 'c'}, 'text', child…). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** A date from a Date, an RFC 3339 string, milliseconds or {$date}. */
export function toDate(v) {
  if (v instanceof Date) return v;
  if (v && typeof v === 'object' && '$date' in v) return new Date(v.$date);
  if (typeof v === 'number') return new Date(v);
  if (typeof v === 'string') {
    const d = new Date(v);
    return Number.isNaN(d.getTime()) ? null : d;
  }
  return null;
}

/** Local date and time with seconds, or "—". */
export function fmtTime(v) {
  const d = toDate(v);
  if (!d) return '—';
  return d.toLocaleString(undefined, { year: 'numeric', month: '2-digit', day: '2-digit',
    hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** A duration in seconds as "4 s", "3 min 5 s", "2 h 10 min", "3 d 4 h". */
export function fmtDuration(sec) {
  if (sec === null || sec === undefined || Number.isNaN(sec)) return '—';
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/** Age of a date until now, e.g. "4 s". */
export function fmtAge(v) {
  const d = toDate(v);
  if (!d) return '—';
  return fmtDuration((Date.now() - d.getTime()) / 1000);
}

/** A measurement value as text: numbers with up to 6 significant digits. */
export function fmtValue(v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(6)));
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/**
 * The quality badge: 1 is good (the X-FLEX convention), 0 bad, anything
 * else uncertain; shown as a word, not only as a colour.
 */
export function qualityBadge(q) {
  if (q === undefined || q === null) return h('span', { class: 'q uncertain', title: 'no quality given' }, 'no quality');
  if (q === 1) return h('span', { class: 'q good', title: 'quality 1' }, 'good');
  if (q === 0) return h('span', { class: 'q bad', title: 'quality 0' }, 'bad (0)');
  return h('span', { class: 'q uncertain', title: `quality ${q}` }, `uncertain (${q})`);
}

/** Replaces the children of el. */
export function replace(el, ...children) {
  el.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
}

/** The #/a/b?x=1 part of the location: path segments and parameters. */
export function route() {
  const raw = location.hash.replace(/^#\/?/, '');
  const [path, query = ''] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(query) };
}

/** Builds a #/… location from segments and parameters. */
export function link(parts, params) {
  const p = '#/' + parts.map(encodeURIComponent).join('/');
  const q = params ? new URLSearchParams(params).toString() : '';
  return q ? `${p}?${q}` : p;
}
