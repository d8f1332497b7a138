// SockJS interop check run by hub/ddp TestSockJSInteropNode against a DDP
// server, with the real npm sockjs-client (scripts/install-ddp-node.sh),
// once per transport: xhr-streaming, xhr-polling, websocket. Each session
// connects, logs in, subscribes, inserts through a method and sees its own
// document arrive. Env: HUB (http://host:port). Exits non-zero on failure.
'use strict';
const SockJS = require('sockjs-client');

const hub = process.env.HUB;

function session(transport) {
  return new Promise((resolve, reject) => {
    const sock = new SockJS(hub + '/sockjs', null, { transports: [transport] });
    const id = 'N-' + transport;
    const timer = setTimeout(() => reject(new Error(transport + ': timed out')), 20000);
    const send = (m) => sock.send(JSON.stringify(m));
    let result = false;
    let added = false;
    let done = false;
    sock.onopen = () => send({ msg: 'connect', version: '1', support: ['1', 'pre2'] });
    sock.onclose = (e) => {
      clearTimeout(timer);
      if (result && added) resolve();
      else reject(new Error(transport + ': closed early ' + e.code + ' ' + e.reason));
    };
    sock.onmessage = (e) => {
      if (done) return;
      const m = JSON.parse(e.data);
      switch (m.msg) {
        case 'connected':
          send({ msg: 'method', id: 'login', method: 'login',
            params: [{ user: { username: 'alice' }, password: 'alice-password' }] });
          send({ msg: 'sub', id: 's', name: 'demo_meters.all', params: [] });
          break;
        case 'ready':
          send({ msg: 'method', id: 'ins', method: 'insert', params: ['demo_meters', { _id: id, name: transport }] });
          break;
        case 'result':
          if (m.error) return reject(new Error(transport + ': ' + m.id + ': ' + JSON.stringify(m.error)));
          if (m.id === 'ins') result = true;
          break;
        case 'added':
          if (m.id === id && m.collection === 'demo_meters' && m.fields.name === transport) added = true;
          break;
        case 'ping':
          send({ msg: 'pong', id: m.id });
          break;
      }
      if (result && added) {
        done = true;
        if (sock.transport !== transport) return reject(new Error('used ' + sock.transport + ', want ' + transport));
        console.log('ok: ' + transport + ': connect, login, sub, insert, added');
        sock.close();
      }
    };
  });
}

(async () => {
  for (const t of ['xhr-streaming', 'xhr-polling', 'websocket']) await session(t);
  console.log('PASS');
})().catch((e) => {
  console.error('FAIL: ' + (e && e.stack || e));
  process.exit(1);
});
