// REST API v2 client of the console. The session (user and token) lives in
// this module's memory only: never in web storage or a
// cookie, so closing or reloading the tab logs out.

/** An answer of the API that is not a success: status, the hub's message and the answer's data (if any). */
export class APIError extends Error {
  constructor(status, message, data) {
    super(message);
    this.status = status;
    this.data = data;
  }
}

let session = null;
let expired = () => {};

/** The current session {user, token, expires} or null. */
export const currentSession = () => session;

/** Calls fn(message) when the hub refuses the session's token (401). */
export function onExpired(fn) { expired = fn; }

/** Forgets the session without telling the hub. */
export function dropSession() { session = null; }

/**
 * Calls the API at /api/v2 + path. Returns {data, next} (next: the
 * rel="next" link of a full page, or null); with bare, data is the whole
 * answer (the forecast paths answer the seed's objects without envelope). Throws APIError with the hub's
 * message; a 401 with a session also ends the session.
 */
export async function api(path, { method = 'GET', params, body, bare = false } = {}) {
  let url = '/api/v2' + path;
  if (params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    const s = q.toString();
    if (s) url += '?' + s;
  }
  const headers = { Accept: 'application/json' };
  if (session) {
    headers['X-User-ID'] = session.user;
    headers['X-Auth-Token'] = session.token;
  }
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(url, { method, headers, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new APIError(0, `the hub did not answer (${e.message}); is it running?`);
  }
  const text = await resp.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON: reported below */ }
  if (resp.status === 401 && session) {
    session = null;
    const msg = (json && json.message) || 'your session has expired';
    expired(msg);
    throw new APIError(401, msg);
  }
  // a bare answer (a forecast model) may have a status of its own, "error" included
  if (!resp.ok || !json || (!bare && json.status === 'error')) {
    const msg = (json && json.message) || `${resp.status} ${resp.statusText}`.trim() || 'unreadable answer';
    throw new APIError(resp.status, msg, json && !bare ? json.data : undefined);
  }
  const link = resp.headers.get('Link') || '';
  const m = /<([^>]+)>;\s*rel="next"/.exec(link);
  return { data: bare ? json : json.data, next: m ? m[1] : null };
}

/**
 * Logs in with a user name (or e-mail) and password. Application keys are
 * not accepted here: the console is for people, and an app's key must not
 * sit in a browser. Returns the session.
 */
export async function login(user, password) {
  session = null;
  const { data } = await api('/login', { method: 'POST', body: { user, password } });
  session = { user: data.userId, token: data.authToken, expires: new Date(data.tokenExpires) };
  try {
    const { data: me } = await api('/me');
    if (me && me.kind === 'app') {
      session = null;
      throw new APIError(403, 'application keys cannot sign in to the console; use a user account');
    }
    session.me = me;
  } catch (e) {
    session = null;
    throw e;
  }
  return session;
}

/** Revokes the token on the hub (best effort) and forgets it. */
export async function logout() {
  if (!session) return;
  try { await api('/logout', { method: 'POST' }); } catch { /* the token is dropped anyway */ }
  session = null;
}
