// DDP interop check run by hub/daemon TestDDPInteropNode against a started
// hub, with the real npm clients (scripts/install-ddp-node.sh):
// simpleddp + simpleddp-plugin-login + ws, then ddp.js.
// Env: HUB (http://host:port), ADMIN_PASSWORD. Exits non-zero on failure.
'use strict';
const crypto = require('crypto');
const WebSocket = require('ws');
const simpleDDP = require('simpleddp').default || require('simpleddp');
const { simpleDDPLogin } = require('simpleddp-plugin-login');
const DDP = require('ddp.js').default || require('ddp.js');

const hub = process.env.HUB;
const endpoint = hub.replace(/^http/, 'ws') + '/websocket';
const api = hub + '/api/v2';
const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  console.log('ok: ' + what);
}

async function until(cond, what, ms = 5000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return console.log('ok: ' + what);
    await sleep(20);
  }
  throw new Error('timed out: ' + what);
}

async function rest(method, path, token, body) {
  const res = await fetch(api + path, {
    method,
    headers: { 'Content-Type': 'application/json', 'X-User-ID': 'admin', 'X-Auth-Token': token },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const j = await res.json();
  if (j.status !== 'success') throw new Error(method + ' ' + path + ': ' + JSON.stringify(j));
  return j.data;
}

async function withSimpleDDP() {
  const server = new simpleDDP({ endpoint, SocketConstructor: WebSocket, reconnectInterval: 200 }, [simpleDDPLogin]);
  await server.connect();
  check(server.connected, 'simpleddp connects');

  let failed = false;
  try {
    await server.login({ user: { username: 'admin' }, password: { digest: sha256('wrong'), algorithm: 'sha-256' } });
  } catch (e) {
    failed = e.error === 403 && e.errorType === 'Meteor.Error';
  }
  check(failed, 'a wrong password is a 403 Meteor.Error');

  const login = await server.login({ user: { username: 'admin' }, password: { digest: sha256(process.env.ADMIN_PASSWORD), algorithm: 'sha-256' } });
  check(login.id === 'admin' && login.token && login.tokenExpires instanceof Date, 'login with a sha-256 digest (tokenExpires is an EJSON date)');
  const token = login.token;

  const sub = server.subscribe('demo_meters.all');
  await sub.ready();
  const meters = server.collection('demo_meters');
  const get = (id) => meters.fetch().find((d) => d.id === id); // simpleddp keeps the DDP id as id

  await rest('POST', '/demo/meters', token, { _id: 'R1', name: 'rest', power: 1 });
  await until(() => get('R1') && get('R1').name === 'rest', 'added after a REST insert');
  await rest('PATCH', '/demo/meters/R1', token, { power: 2 });
  await until(() => get('R1') && get('R1').power === 2, 'changed after a REST update');
  await rest('DELETE', '/demo/meters/R1', token);
  await until(() => !get('R1'), 'removed after a REST delete');

  const when = new Date('2024-05-01T10:00:00Z');
  const ins = await server.call('insert', 'demo_meters', [{ _id: 'D1', name: 'ddp', at: when }, { _id: 'D2', name: 'two' }]);
  check(ins.ok === 2 && ins.insertedIds.join() === 'D1,D2', 'insert (array)');
  check(get('D1') && get('D1').at instanceof Date && get('D1').at.getTime() === when.getTime(), 'the inserted documents are there when insert returns, dates as Date');
  const upd = await server.call('update', 'demo_meters', { _id: 'D1', name: 'changed' });
  check(upd.ok === 1 && get('D1').name === 'changed', 'update');
  const all = await server.call('findAll', 'demo_meters', { name: 'changed' });
  check(Array.isArray(all) && all.length === 1 && all[0]._id === 'D1', 'findAll with a selector');
  const one = await server.call('findOne', 'demo_meters', 'D2');
  check(one && one.name === 'two', 'findOne');
  const rem = await server.call('remove', 'demo_meters', { _id: 'D2' });
  check(rem.ok === 1 && !get('D2'), 'remove');
  check((await server.call('isLogged')) === true, 'isLogged');

  const renewed = await server.call('renewToken');
  check(renewed.token && renewed.token !== token, 'renewToken');
  server.token = renewed.token;

  // Resume after a reconnect: the plugin logs in again with {resume}.
  const resumed = new Promise((resolve) => server.on('loginResume', resolve));
  server.disconnect();
  await server.connect();
  await Promise.race([resumed, sleep(5000).then(() => { throw new Error('no loginResume'); })]);
  check((await server.call('isLogged')) === true, 'resume after reconnect');
  await sub.ready();
  await until(() => get('D1'), 'subscription data back after reconnect');

  const app = await rest('POST', '/apps', renewed.token, { name: 'interop', grants: { demo: 'read' } });
  await server.logout();
  check((await server.call('isLogged')) === false, 'logout');
  await until(() => !get('D1'), 'logout removes the documents an anonymous client may not see');

  const appLogin = await server.call('loginApp', app.appId, app.keyId);
  check(appLogin.id === app.appId, 'loginApp');
  const seen = await server.call('findOne', 'demo_meters', 'D1');
  check(seen && seen.name === 'changed', 'an app reads with its grant');
  let denied = false;
  try {
    await server.call('insert', 'demo_meters', { _id: 'X' });
  } catch (e) {
    denied = e.error === 403;
  }
  check(denied, 'a read-only app cannot insert (403)');
  server.disconnect();
  return renewed.token;
}

function withDDPJS() {
  return new Promise((resolve, reject) => {
    const ddp = new DDP({ endpoint, SocketConstructor: WebSocket, autoReconnect: false });
    const timer = setTimeout(() => reject(new Error('ddp.js timed out')), 10000);
    let subID;
    const added = [];
    ddp.on('connected', () => {
      console.log('ok: ddp.js connects');
      ddp.method('login', [{ user: { username: 'admin' }, password: process.env.ADMIN_PASSWORD }]);
    });
    ddp.on('result', (m) => {
      if (m.error) return reject(new Error('ddp.js method: ' + JSON.stringify(m.error)));
      if (m.result && m.result.token) {
        console.log('ok: ddp.js login with a plain password');
        subID = ddp.sub('demo_meters.find', [{ name: 'changed' }, { fields: { name: 1 } }]);
      }
    });
    ddp.on('added', (m) => added.push(m));
    ddp.on('ready', (m) => {
      if (!m.subs.includes(subID)) return;
      if (added.length !== 1 || added[0].id !== 'D1' || Object.keys(added[0].fields).join() !== 'name') {
        return reject(new Error('ddp.js added: ' + JSON.stringify(added)));
      }
      console.log('ok: ddp.js subscribes to a selector publication with fields');
      clearTimeout(timer);
      ddp.disconnect();
      resolve();
    });
  });
}

(async () => {
  await withSimpleDDP();
  await withDDPJS();
  console.log('PASS');
  process.exit(0);
})().catch((e) => {
  console.error('FAIL: ' + (e && e.stack ? e.stack : JSON.stringify(e)));
  process.exit(1);
});
