// #/admin: users, their grants, application keys, and the layers with
// their configuration (admins; GET /users answers 403 to others). Every
// change is one REST call; a generated password or app key is shown once.
import { h, replace } from './dom.js';

const perms = ['none', 'public', 'read', 'write'];

function grantsText(g) {
  const e = Object.entries(g || {});
  return e.length ? e.map(([k, v]) => `${k}=${v}`).join(', ') : '—';
}

/** A form to give a grant: layer (or fs:bucket, forecast, notify) and permission. */
function grantForm(idPrefix, onGrant) {
  const layer = h('input', { id: `${idPrefix}-layer`, placeholder: 'layer', required: true, size: 12 });
  const perm = h('select', { id: `${idPrefix}-perm` }, perms.map((p) => h('option', { value: p, selected: p === 'read' }, p)));
  const f = h('form', { class: 'row' },
    h('div', {}, h('label', { for: `${idPrefix}-layer` }, 'Grant on'), layer),
    h('div', {}, h('label', { for: `${idPrefix}-perm` }, 'Permission'), perm),
    h('div', {}, h('button', { type: 'submit' }, 'Set grant')));
  f.addEventListener('submit', (ev) => { ev.preventDefault(); onGrant(layer.value.trim(), perm.value); });
  return f;
}

export async function adminPage(ctx, view, notice = null) {
  const [{ data: users }, { data: apps }, { data: layers }] = await Promise.all([
    ctx.api('/users'), ctx.api('/apps'), ctx.api('/layers')]);
  const secret = h('div', { id: 'secret', role: 'status', 'aria-live': 'polite' });
  const reload = () => adminPage(ctx, view).catch((e) => ctx.error(e.message));
  const call = async (what, path, opts, after) => {
    try {
      const r = await ctx.api(path, opts);
      if (after) await after(r.data);
      else await reload();
    } catch (e) { ctx.error(`Could not ${what}: ${e.message}`); }
  };
  const showSecret = (title, lines) => adminPage(ctx, view, { title, lines });
  if (notice) {
    replace(secret, h('div', { class: 'banner info' }, h('strong', {}, notice.title), ...notice.lines.map((l) => [h('br'), h('code', {}, l)]),
      h('br'), 'Shown once: the hub keeps only a hash.'));
  }

  // users
  const userRows = (users || []).map((u) => {
    const del = h('button', { type: 'button', 'data-delete-user': u._id }, 'Delete…');
    del.addEventListener('click', () => {
      if (window.confirm(`Delete user ${u._id}? Its tokens stop working.`)) call('delete the user', `/users/${encodeURIComponent(u._id)}`, { method: 'DELETE' });
    });
    const admin = h('input', { type: 'checkbox', id: `admin-${u._id}`, checked: !!u.admin, 'aria-label': `${u._id} is an admin` });
    admin.addEventListener('change', () => call('change the role', `/users/${encodeURIComponent(u._id)}`, { method: 'PATCH', body: { admin: admin.checked } }));
    return h('tr', { 'data-user': u._id },
      h('th', { scope: 'row' }, u._id), h('td', {}, u.email || ''), h('td', {}, admin),
      h('td', { class: 'grants' }, grantsText(u.grants)),
      h('td', {}, grantForm(`g-${u._id}`, (layer, perm) => call('set the grant', `/users/${encodeURIComponent(u._id)}`,
        { method: 'PATCH', body: { grants: { [layer]: perm } } }))),
      h('td', {}, del));
  });
  const nu = { name: h('input', { id: 'nu-name', required: true, autocomplete: 'off' }), email: h('input', { id: 'nu-email', type: 'email' }),
    admin: h('input', { id: 'nu-admin', type: 'checkbox' }), grant: h('input', { id: 'nu-grant', placeholder: 'demo=read' }) };
  const addUser = h('form', { class: 'row', id: 'add-user' },
    h('div', {}, h('label', { for: 'nu-name' }, 'User name'), nu.name),
    h('div', {}, h('label', { for: 'nu-email' }, 'E-mail (optional)'), nu.email),
    h('div', {}, h('label', { for: 'nu-grant' }, 'Grants (layer=perm, …)'), nu.grant),
    h('div', {}, h('label', { for: 'nu-admin' }, 'Admin'), nu.admin),
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Add user (password generated)')));
  const parseGrants = (text) => {
    const g = {};
    for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
      const [k, v] = part.split('=');
      if (!k || !perms.includes(v)) throw new Error(`"${part}" is not layer=none|public|read|write`);
      g[k.trim()] = v;
    }
    return g;
  };
  addUser.addEventListener('submit', (ev) => {
    ev.preventDefault();
    let grants;
    try { grants = parseGrants(nu.grant.value); } catch (e) { ctx.error(e.message); return; }
    const body = { username: nu.name.value.trim(), admin: nu.admin.checked, grants };
    if (nu.email.value.trim()) body.email = nu.email.value.trim();
    call('add the user', '/users', { method: 'POST', body }, (d) => showSecret(`User ${d._id} added. Password:`, [d.password]));
  });

  // apps
  const appRows = (apps || []).map((a) => {
    const del = h('button', { type: 'button', 'data-revoke-app': a._id }, 'Revoke…');
    del.addEventListener('click', () => {
      if (window.confirm(`Revoke app ${a.name} (${a._id})? Its key stops working.`)) call('revoke the app', `/apps/${encodeURIComponent(a._id)}`, { method: 'DELETE' });
    });
    return h('tr', { 'data-app': a._id }, h('th', { scope: 'row' }, a.name || ''), h('td', {}, h('code', {}, a._id)),
      h('td', {}, grantsText(a.grants)), h('td', {}, del));
  });
  const na = { name: h('input', { id: 'na-name', required: true }), grant: h('input', { id: 'na-grant', placeholder: 'demo=read' }) };
  const addApp = h('form', { class: 'row', id: 'add-app' },
    h('div', {}, h('label', { for: 'na-name' }, 'App name'), na.name),
    h('div', {}, h('label', { for: 'na-grant' }, 'Grants (layer=perm, …)'), na.grant),
    h('div', {}, h('button', { type: 'submit', class: 'primary' }, 'Add app key')));
  addApp.addEventListener('submit', (ev) => {
    ev.preventDefault();
    let grants;
    try { grants = parseGrants(na.grant.value); } catch (e) { ctx.error(e.message); return; }
    const name = na.name.value.trim();
    call('add the app', '/apps', { method: 'POST', body: { name, grants } },
      (d) => showSecret(`App ${name} added (for programs, not for this console):`, [`appId ${d.appId}`, `keyId ${d.keyId}`]));
  });

  // layers
  const layerRows = (layers || []).map((l) => {
    const ta = h('textarea', { id: `cfg-${l._id}`, rows: 3, spellcheck: 'false' }, JSON.stringify(l.config || {}, null, 1));
    const save = h('button', { type: 'button' }, 'Save config');
    save.addEventListener('click', () => {
      let cfg;
      try { cfg = JSON.parse(ta.value); } catch (e) { ctx.error(`The config of ${l._id} is not valid JSON: ${e.message}`); return; }
      call('save the layer config', `/layers/${encodeURIComponent(l._id)}`, { method: 'PATCH', body: { config: cfg } });
    });
    return h('tr', { 'data-layer': l._id }, h('th', { scope: 'row' }, l._id), h('td', {}, l.label || ''),
      h('td', {}, (l.collections || []).map((c) => c.name).join(', ')),
      h('td', {}, h('label', { for: `cfg-${l._id}` }, `config of ${l._id}`), ta, save));
  });
  const table = (id, caption, cols, rows) => h('div', { class: 'wrap' }, h('table', { id },
    h('caption', {}, caption), h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {}, rows)));
  replace(view, h('h1', {}, 'Administration'), secret,
    h('h2', {}, 'Users'), table('users', `${userRows.length} user(s)`, ['user', 'e-mail', 'admin', 'grants', 'change a grant', ''], userRows), addUser,
    h('h2', {}, 'Application keys'), appRows.length ? table('apps', `${appRows.length} app(s)`, ['name', 'appId', 'grants', ''], appRows) : h('p', { class: 'empty' }, 'No application key.'), addApp,
    h('h2', {}, 'Layers'), table('layers-admin', 'Layers and their configuration (publicFields, notify, …)', ['layer', 'label', 'collections', 'config'], layerRows));
}
