// A small DDP client (Meteor's Distributed Data Protocol, docs/ddp.md) over
// the hub's /websocket: connect, log in with the REST token ({resume}),
// subscriptions with a local copy of the published documents, method calls,
// and reconnection with back-off (re-login and re-subscribe) when the
// connection drops, e.g. because the hub restarted.

let counter = 0;
const nextId = () => `c${++counter}`;

/** Turns EJSON dates ({$date: ms}) into Date objects, recursively. */
export function fromEJSON(v) {
  if (Array.isArray(v)) return v.map(fromEJSON);
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '$date') return new Date(v.$date);
    const o = {};
    for (const k of keys) o[k] = fromEJSON(v[k]);
    return o;
  }
  return v;
}

/** DDP connection that stays up until close(). */
export class DDP {
  /**
   * @param {string} url ws:// or wss:// URL of /websocket
   * @param {{token: () => ?string, onStatus: (s: string) => void, onLoginRefused: () => void}} opts
   */
  constructor(url, opts) {
    this.url = url;
    this.opts = opts;
    this.subs = new Map();      // id → {name, params, onReady, onError}
    this.calls = new Map();     // id → {resolve, reject}
    this.docs = new Map();      // collection → Map(id → doc)
    this.watchers = new Map();  // collection → Set(fn(id, doc|null))
    this.closed = false;
    this.backoff = 500;
    this.status = 'connecting';
    this.open();
  }

  setStatus(s) {
    this.status = s;
    if (this.opts.onStatus) this.opts.onStatus(s);
  }

  open() {
    if (this.closed) return;
    this.setStatus(this.status === 'live' ? 'reconnecting' : this.status);
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ msg: 'connect', version: '1', support: ['1', 'pre2'] }));
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      this.handle(m);
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      for (const c of this.calls.values()) c.reject(new Error('the connection to the hub was lost'));
      this.calls.clear();
      if (this.closed) return;
      this.setStatus('reconnecting');
      const wait = this.backoff;
      this.backoff = Math.min(this.backoff * 2, 5000);
      this.timer = setTimeout(() => this.open(), wait);
    };
  }

  async handle(m) {
    switch (m.msg) {
      case 'connected':
        this.backoff = 500;
        await this.resume();
        return;
      case 'ping':
        this.send({ msg: 'pong', id: m.id });
        return;
      case 'added':
      case 'changed': {
        const col = this.collection(m.collection);
        const doc = m.msg === 'added' ? { _id: m.id } : { ...(col.get(m.id) || { _id: m.id }) };
        for (const [k, v] of Object.entries(fromEJSON(m.fields || {}))) doc[k] = v;
        for (const k of m.cleared || []) delete doc[k];
        col.set(m.id, doc);
        this.notify(m.collection, m.id, doc);
        return;
      }
      case 'removed':
        this.collection(m.collection).delete(m.id);
        this.notify(m.collection, m.id, null);
        return;
      case 'ready':
        for (const id of m.subs || []) {
          const s = this.subs.get(id);
          if (s && s.onReady) s.onReady();
        }
        return;
      case 'nosub': {
        const s = this.subs.get(m.id);
        if (s && m.error) {
          this.subs.delete(m.id);
          if (s.onError) s.onError(m.error.reason || m.error.message || 'subscription refused');
        }
        return;
      }
      case 'result': {
        const c = this.calls.get(m.id);
        if (!c) return;
        this.calls.delete(m.id);
        if (m.error) c.reject(new Error(m.error.reason || m.error.message || 'method failed'));
        else c.resolve(fromEJSON(m.result));
        return;
      }
      default:
    }
  }

  /** Logs in with the session token, then (re)subscribes everything. */
  async resume() {
    const token = this.opts.token();
    if (token) {
      try {
        await this.call('login', { resume: token });
      } catch {
        if (this.opts.onLoginRefused) this.opts.onLoginRefused();
        return;
      }
    }
    // the server sends every document again for each subscription
    this.docs.clear();
    for (const [id, s] of this.subs) this.send({ msg: 'sub', id, name: s.name, params: s.params });
    this.setStatus('live');
  }

  send(m) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(m));
  }

  /** Calls a method; resolves with its result. */
  call(method, ...params) {
    return new Promise((resolve, reject) => {
      const id = nextId();
      this.calls.set(id, { resolve, reject });
      if (!this.ws || this.ws.readyState !== WebSocket.OPEN) {
        this.calls.delete(id);
        reject(new Error('not connected to the hub'));
        return;
      }
      this.send({ msg: 'method', id, method, params });
    });
  }

  collection(name) {
    let c = this.docs.get(name);
    if (!c) { c = new Map(); this.docs.set(name, c); }
    return c;
  }

  notify(collection, id, doc) {
    for (const fn of this.watchers.get(collection) || []) fn(id, doc);
  }

  /**
   * Subscribes to a publication and calls onChange(id, doc|null) for each
   * document of collection it adds, changes or removes. Returns stop().
   */
  subscribe(name, params, collection, { onChange, onReady, onError } = {}) {
    const id = nextId();
    this.subs.set(id, { name, params, onReady, onError });
    let set = this.watchers.get(collection);
    if (!set) { set = new Set(); this.watchers.set(collection, set); }
    if (onChange) set.add(onChange);
    if (this.status === 'live') this.send({ msg: 'sub', id, name, params });
    return () => {
      this.subs.delete(id);
      if (onChange) set.delete(onChange);
      this.send({ msg: 'unsub', id });
    };
  }

  /** Closes the connection for good. */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.ws) this.ws.close();
    this.subs.clear();
    this.watchers.clear();
    this.setStatus('closed');
  }
}
