// The console's shell: login, navigation, the DDP connection, the error
// banner, and the router that shows one page per #/… location.
import { api, currentSession, dropSession, login, logout, onExpired } from './api.js';
import { DDP } from './ddp.js';
import { h, replace, route } from './dom.js';
import { layersPage, collectionPage, documentPage } from './browse.js';
import { historyPage } from './history.js';
import { edgePage, fleetPage } from './fleet.js';
import { mapPage } from './map.js';
import { forecastPage } from './forecast.js';
import { adminPage } from './admin.js';
import { incidentsPage, incidentPage } from './incidents.js';

const main = document.getElementById('main');
const top = document.getElementById('top');
const banner = document.getElementById('banner');
const live = document.getElementById('live');

/** What every page gets: the API, the DDP connection and the banner. */
const ctx = {
  api,
  ddp: null,
  /** Shows an error message (or clears it with null). */
  error(msg) {
    if (!msg) { banner.hidden = true; banner.replaceChildren(); return; }
    banner.className = 'banner';
    replace(banner, h('span', {}, msg),
      h('button', { type: 'button', onclick: () => ctx.error(null) }, 'Dismiss'));
    banner.hidden = false;
  },
  /** The signed-in user's id. */
  user: () => currentSession()?.user,
  /** Registers a function run when the page is left (timers, subscriptions). */
  onLeave(fn) { leave.push(fn); },
};
let leave = [];
let expiryTimer = null;
let loginNote = '';

function cleanup() {
  for (const fn of leave) { try { fn(); } catch { /* page already gone */ } }
  leave = [];
}

function setLive(status) {
  const on = status === 'live';
  live.className = 'live ' + (on ? 'on' : 'off');
  live.textContent = on ? 'live' : status === 'closed' ? '' : `${status}…`;
  live.dataset.status = status;
}

function startDDP() {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  ctx.ddp = new DDP(`${proto}//${location.host}/websocket`, {
    token: () => currentSession()?.token,
    onStatus: setLive,
    onLoginRefused: () => expire('the hub no longer accepts your session'),
  });
}

function stopSession() {
  cleanup();
  clearTimeout(expiryTimer);
  if (ctx.ddp) { ctx.ddp.close(); ctx.ddp = null; }
  top.hidden = true;
}

function expire(msg) {
  dropSession();
  stopSession();
  loginNote = `Signed out: ${msg}. Please sign in again.`;
  render();
}

onExpired((msg) => expire(msg));

function loginPage() {
  const note = loginNote;
  loginNote = '';
  const err = h('p', { role: 'alert', class: 'muted', id: 'login-error' }, note);
  const user = h('input', { id: 'user', name: 'user', autocomplete: 'username', required: true, autofocus: true });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = h('form', { class: 'login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'GridEdge console'),
    h('div', {}, h('label', { for: 'user' }, 'User name or e-mail'), user),
    h('div', {}, h('label', { for: 'password' }, 'Password'), pass),
    submit, err,
    h('p', { class: 'muted' }, 'Sign in with a user account of this hub. Your session stays in this tab only.'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    err.textContent = '';
    try {
      const s = await login(user.value.trim(), pass.value);
      pass.value = '';
      startSession(s);
    } catch (e) {
      err.textContent = e.status === 401 ? 'Wrong user name or password.' : e.message;
      submit.disabled = false;
      pass.focus();
    }
  });
  replace(main, form);
  user.focus();
}

function startSession(s) {
  top.hidden = false;
  document.getElementById('who').textContent = s.user;
  document.querySelector('[data-nav=admin]').hidden = !(s.me && s.me.admin);
  startDDP();
  clearTimeout(expiryTimer);
  const ms = s.expires.getTime() - Date.now();
  if (ms > 0 && ms < 2 ** 31) expiryTimer = setTimeout(() => expire('your session has expired'), ms);
  if (!location.hash || location.hash === '#/' || location.hash === '#/login') location.hash = '#/layers';
  else render();
}

document.getElementById('logout').addEventListener('click', async () => {
  await logout();
  stopSession();
  loginNote = 'You have signed out.';
  render();
});

async function render() {
  cleanup();
  ctx.error(null);
  if (!currentSession()) { top.hidden = true; loginPage(); return; }
  const { parts, params } = route();
  const page = parts[0] || 'layers';
  for (const a of document.querySelectorAll('[data-nav]')) {
    if (a.dataset.nav === ({ fleet: 'fleet', i: 'incidents', f: 'forecasts', admin: 'admin' }[page] || 'layers')) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  const view = h('div', { 'data-page': page, 'data-route': location.hash });
  replace(main, view);
  main.focus({ preventScroll: true });
  try {
    switch (page) {
      case 'layers': await layersPage(ctx, view); break;
      case 'c': await collectionPage(ctx, view, parts[1], parts[2], params); break;
      case 'd': await documentPage(ctx, view, parts[1], parts[2], parts.slice(3).join('/')); break;
      case 'h': await historyPage(ctx, view, parts[1], parts[2], parts.slice(3).join('/'), params); break;
      case 'fleet': await (parts[1] ? edgePage(ctx, view, parts.slice(1).join('/'), params) : fleetPage(ctx, view)); break;
      case 'admin': await adminPage(ctx, view); break;
      case 'f': await forecastPage(ctx, view, params); break;
      case 'm': await mapPage(ctx, view, parts[1], parts[2], params); break;
      case 'i': await (parts[1] ? incidentPage(ctx, view, parts.slice(1).join('/'), params) : incidentsPage(ctx, view, params)); break;
      default: replace(view, h('h1', {}, 'Not found'), h('p', {}, 'No such page. '), h('a', { href: '#/layers' }, 'Layers'));
    }
  } catch (e) {
    if (e.status === 401) return; // back at the login form already
    ctx.error(e.message);
    if (!view.childElementCount) replace(view, h('p', { class: 'empty' }, `This page could not be shown: ${e.message}`));
  }
}

window.addEventListener('hashchange', render);
render();
