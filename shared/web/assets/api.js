// The API client: one place that sends the credential, reads the error envelope and turns a
// network failure or a 401 into something a person can act on.

let config = { api_base: "", sign_in_links: false, oidc: null };
let current = null; // { token, key_id, expires_at, kind }
const listeners = new Set();
const STORED = "viral.session";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function loadConfig() {
  const r = await fetch("/config.json", { cache: "no-cache" });
  if (!r.ok) throw new ApiError(r.status, "no_config", "The dashboard's config.json is missing.");
  config = await r.json();
  return config;
}

export const getConfig = () => config;

// Sessions from a sign-in link or a pasted key are short-lived keys: they may stay in this
// tab's sessionStorage (gone when the tab closes). OIDC tokens stay in memory only.
export function restoreSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(STORED) || "null");
    if (s && s.token && Date.parse(s.expires_at) > Date.now()) current = s;
    else sessionStorage.removeItem(STORED);
  } catch {
    sessionStorage.removeItem(STORED);
  }
  return current;
}

export function setSession(s, persist) {
  current = s;
  if (s && persist) sessionStorage.setItem(STORED, JSON.stringify(s));
  else sessionStorage.removeItem(STORED);
  listeners.forEach((f) => f(current));
}

export const getSession = () => current;
export function onSession(f) {
  listeners.add(f);
  return () => listeners.delete(f);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A 429 is waited out (its Retry-After, at most twice) rather than shown: the per-key limit
// is small and a page that polls can reach it.
export async function api(method, path, body, opts = {}) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await once(method, path, body, opts);
    } catch (e) {
      if (e.status !== 429 || attempt >= 2 || !(e.retryAfter <= 10)) throw e;
      await sleep(1000 * Math.max(1, e.retryAfter));
    }
  }
}

async function once(method, path, body, opts) {
  const headers = { accept: "application/json" };
  const token = opts.token !== undefined ? opts.token : current && current.token;
  if (token) headers.authorization = "Bearer " + token;
  if (body !== undefined) headers["content-type"] = "application/json";
  if (opts.idempotencyKey) headers["idempotency-key"] = opts.idempotencyKey;
  let r;
  try {
    r = await fetch(config.api_base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, "unreachable", "The API could not be reached. Check that the server is running, then try again.");
  }
  if (r.status === 204) return null;
  let data = null;
  try {
    data = await r.json();
  } catch {
    data = null;
  }
  if (!r.ok) {
    const e = data && data.error;
    const err = new ApiError(
      r.status,
      (e && e.code) || "http_" + r.status,
      (e && e.message) || `The server answered ${r.status} without an explanation.`,
    );
    err.retryAfter = Number(r.headers.get("retry-after"));
    // A session that ran out or was revoked: back to the sign-in page, saying why.
    if (r.status === 401 && opts.token === undefined && current) {
      setSession(null, false);
      signedOutBecause = err.message;
    }
    throw err;
  }
  return data;
}

let signedOutBecause = null;
export function takeSignOutReason() {
  const r = signedOutBecause;
  signedOutBecause = null;
  return r;
}

export const get = (path) => api("GET", path);
export const post = (path, body, opts) => api("POST", path, body === undefined ? {} : body, opts);
export const put = (path, body) => api("PUT", path, body);
export const del = (path) => api("DELETE", path);
