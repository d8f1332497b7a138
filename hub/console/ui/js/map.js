// #/m/layer/col?m=measurement: the collection's documents that have a
// GeoJSON `geometry`, drawn with Leaflet (loaded on this page only),
// coloured by a chosen measurement. The base layer is the hub's
// console.map.tiles (config.json); without it, the map shows the
// documents' outlines and points on a plain background, fetching nothing.
import { fmtValue, h, link, replace } from './dom.js';

let leaflet = null;

/** The console's config (console.map of the hub config). */
async function mapConfig() {
  try {
    const r = await fetch('config.json', { cache: 'no-store', credentials: 'omit' });
    return (await r.json()).map || {};
  } catch {
    return {};
  }
}

/** Loads Leaflet and its stylesheet once. */
async function loadLeaflet() {
  if (leaflet) return leaflet;
  if (!document.querySelector('link[data-leaflet]')) {
    document.head.append(h('link', { rel: 'stylesheet', href: 'vendor/leaflet.css', 'data-leaflet': '' }));
  }
  leaflet = await import('../vendor/leaflet-src.esm.js');
  return leaflet;
}

/** Colour of v within [min, max]: blue (low) to red (high); grey without a number. */
export function colour(v, min, max) {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '#8d96a0';
  const f = max > min ? (v - min) / (max - min) : 0.5;
  return `hsl(${Math.round(220 - 220 * Math.min(1, Math.max(0, f)))}, 75%, 45%)`;
}

export async function mapPage(ctx, view, layer, col, params) {
  const { data } = await ctx.api(`/${encodeURIComponent(layer)}/${encodeURIComponent(col)}`,
    { params: { query: JSON.stringify({ geometry: { $exists: true } }), limit: 5000 } });
  const docs = (data || []).filter((d) => d.geometry && typeof d.geometry === 'object' && d.geometry.type);
  const names = [...new Set(docs.flatMap((d) => Object.keys(d.measurements || {})))].sort();
  const chosen = names.includes(params.get('m')) ? params.get('m') : names[0] || '';
  const sel = h('select', { id: 'colour-by' }, names.map((n) => h('option', { value: n, selected: n === chosen }, n)));
  sel.addEventListener('change', () => { location.hash = link(['m', layer, col], { m: sel.value }); });
  const box = h('div', { id: 'map', class: 'map', role: 'region', 'aria-label': `map of ${layer} / ${col}` });
  const legend = h('p', { class: 'muted', id: 'map-legend', 'aria-live': 'polite' });
  const list = h('ul', { id: 'map-docs' });
  replace(view,
    h('div', { class: 'crumbs' }, h('a', { href: '#/layers' }, 'Layers'), ' / ',
      h('a', { href: link(['c', layer, col]) }, `${layer} / ${col}`)),
    h('h1', {}, `Map of ${layer} / ${col}`),
    names.length ? h('div', { class: 'row' }, h('div', {}, h('label', { for: 'colour-by' }, 'Colour by'), sel)) : null,
    legend, box, h('h2', {}, 'Documents on the map'), list);
  if (!docs.length) {
    replace(box, h('p', { class: 'empty' }, 'No document of this collection has a geometry.'));
    return;
  }
  const [L, conf] = await Promise.all([loadLeaflet(), mapConfig()]);
  const value = (d) => {
    const m = (d.measurements || {})[chosen];
    return m && typeof m === 'object' ? m.value : m;
  };
  const nums = docs.map(value).filter((v) => typeof v === 'number' && Number.isFinite(v));
  const min = Math.min(...nums);
  const max = Math.max(...nums);
  const map = L.map(box, { attributionControl: !!conf.tiles, preferCanvas: false });
  ctx.onLeave(() => map.remove());
  if (conf.tiles) {
    L.tileLayer(conf.tiles, { attribution: conf.attribution || '', maxZoom: conf.maxZoom || 19 }).addTo(map);
    if (map.attributionControl) map.attributionControl.setPrefix(false);
  }
  const group = L.featureGroup().addTo(map);
  const layers = new Map(); // _id → its GeoJSON layer, recoloured live
  const values = new Map(docs.map((d) => [String(d._id), value(d)]));
  for (const d of docs) {
    const c = colour(value(d), min, max);
    const id = String(d._id);
    const popup = h('div', {}, h('strong', {}, id), d.name ? ` — ${d.name}` : '', h('br'),
      chosen ? `${chosen}: ${fmtValue(value(d))}` : '', h('br'),
      h('a', { href: link(['d', layer, col, id]) }, 'open the document'));
    const gj = L.geoJSON(d.geometry, {
      style: () => ({ color: c, weight: 2, fillOpacity: 0.35, className: `doc-${id}` }),
      pointToLayer: (_f, latlng) => L.circleMarker(latlng, { radius: 8, color: c, fillColor: c, fillOpacity: 0.8, className: `doc-${id}` }),
    }).bindPopup(popup).addTo(group);
    layers.set(id, gj);
    list.append(h('li', {}, h('a', { href: link(['d', layer, col, id]), 'data-doc': id }, id),
      d.name ? ` — ${d.name}` : '', chosen ? `: ${fmtValue(value(d))}` : ''));
  }
  // live colours: the documents' measurements change over DDP
  const ddpCol = `${layer}_${col}`;
  const stop = ctx.ddp.subscribe(`${ddpCol}.find`, [{ _id: { $in: [...layers.keys()] } }, { fields: { measurements: 1 } }], ddpCol, {
    onChange: (id, d) => {
      const gj = layers.get(String(id));
      if (!gj || !d) return;
      values.set(String(id), value(d));
      const nums2 = [...values.values()].filter((v) => typeof v === 'number' && Number.isFinite(v));
      const lo = Math.min(...nums2);
      const hi = Math.max(...nums2);
      for (const [k, l] of layers) {
        const c = colour(values.get(k), lo, hi);
        l.setStyle({ color: c, fillColor: c });
      }
    },
  });
  ctx.onLeave(stop);
  map.fitBounds(group.getBounds(), { padding: [30, 30], maxZoom: Math.min(16, conf.maxZoom || 19) });
  box.dataset.features = String(docs.length);
  legend.textContent = `${docs.length} document(s) with a geometry` +
    (nums.length ? `; ${chosen} from ${fmtValue(min)} (blue) to ${fmtValue(max)} (red), grey without a value` : '') +
    (conf.tiles ? '.' : '. No base map (console.map.tiles is not set): outlines and points only.');
}
