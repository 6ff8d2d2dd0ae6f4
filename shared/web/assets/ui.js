// Small shared pieces: loading and error states, money and times, meters, badges, links.

import { html, useEffect, useRef, useState } from "./vendor/preact-htm.mjs";

export { html };

// Runs an async loader, re-running when `deps` change; gives { data, error, loading, reload }.
export function useLoad(loader, deps = []) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    loader().then(
      (data) => live && setState({ data, error: null, loading: false }),
      (error) => live && setState({ data: null, error, loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}

export function useInterval(f, ms, active) {
  const saved = useRef(f);
  saved.current = f;
  useEffect(() => {
    if (!active) return undefined;
    const id = setInterval(() => saved.current(), ms);
    return () => clearInterval(id);
  }, [ms, active]);
}

export const dollars = (cents) => "$" + (Number(cents || 0) / 100).toFixed(2);

export function when(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function day(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleDateString(undefined, { dateStyle: "medium" });
}

export const plural = (n, one, many) => `${n} ${n === 1 ? one : many || one + "s"}`;

export function Page({ title, actions, children }) {
  return html`<section class="page" aria-labelledby="page-title">
    <header class="page-head">
      <h1 id="page-title" tabindex="-1">${title}</h1>
      ${actions ? html`<div class="actions">${actions}</div>` : null}
    </header>
    ${children}
  </section>`;
}

// Placeholder of the size of what is loading, so nothing jumps when the data arrives.
export function Loading({ label = "Loading", lines = 3 }) {
  return html`<div class="skeleton" role="status" aria-live="polite">
    <span class="sr-only">${label}…</span>
    ${Array.from({ length: lines }, (_, i) => html`<div class="bar" key=${i} aria-hidden="true"></div>`)}
  </div>`;
}

// The headline says what kind of problem it is; the API's own message says the rest.
const HEADLINES = { 0: "The server cannot be reached.", 401: "Not signed in.", 402: "Over the plan.", 403: "Not allowed.", 409: "Not now.", 429: "Too many requests." };
const sentence = (m) => (m ? m.charAt(0).toUpperCase() + m.slice(1) : "");

export function ErrorBox({ error, retry }) {
  if (!error) return null;
  const notFound = error.status === 404;
  // A 404's message ("video job not found") says it all.
  const headline = notFound ? null : HEADLINES[error.status] || (error.status >= 400 && error.status < 500 ? "That was refused." : "Something went wrong.");
  return html`<div class=${"notice " + (notFound ? "info" : "error")} role="alert">
    <p>${headline ? html`<strong>${headline}</strong> ` : null}${sentence(error.message)}</p>
    ${error.code ? html`<p class="muted small">Code: <code>${error.code}</code></p>` : null}
    ${retry && !notFound ? html`<button type="button" onClick=${retry}>Try again</button>` : null}
  </div>`;
}

export function Empty({ title, children }) {
  return html`<div class="empty"><p><strong>${title}</strong></p>${children}</div>`;
}

export function Meter({ label, used, limit, unit }) {
  const pct = limit > 0 ? Math.min(100, Math.round((100 * used) / limit)) : 0;
  const id = "m-" + label.replace(/\W+/g, "-").toLowerCase();
  return html`<div class="meter">
    <div class="meter-label"><span id=${id}>${label}</span><span>${used} of ${limit}${unit ? " " + unit : ""}</span></div>
    <div class="meter-track" role="meter" aria-labelledby=${id} aria-valuemin="0" aria-valuemax=${limit} aria-valuenow=${used}
      aria-valuetext=${`${used} of ${limit} used`}>
      <div class=${"meter-fill" + (pct >= 90 ? " high" : "")} style=${{ width: pct + "%" }}></div>
    </div>
  </div>`;
}

const STATUS_TONE = {
  succeeded: "ok", active: "ok", enabled: "ok", trialing: "ok",
  failed: "bad", canceled: "bad", past_due: "warn", unpaid: "bad", revoked: "bad", expired: "muted",
  queued: "run", planning: "run", rendering: "run", validating: "run", storing: "run",
  published: "ok", scheduled: "muted", uploading: "run", processing: "run", cancelled: "muted", needs_reconnect: "warn",
  delivered: "ok", pending: "run", dead: "bad",
};

export function Badge({ status, children }) {
  return html`<span class=${"badge " + (STATUS_TONE[status] || "muted")}>${children || status}</span>`;
}

export function Field({ label, hint, id, children }) {
  return html`<div class="field">
    <label for=${id}>${label}</label>
    ${children}
    ${hint ? html`<p class="hint" id=${id + "-hint"}>${hint}</p>` : null}
  </div>`;
}

export function CopyButton({ text, label = "Copy" }) {
  const [done, setDone] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setDone(true);
      setTimeout(() => setDone(false), 2000);
    } catch {
      setDone(false);
    }
  };
  return html`<button type="button" onClick=${copy}>${done ? "Copied" : label}</button>
    <span class="sr-only" aria-live="polite">${done ? "Copied to the clipboard" : ""}</span>`;
}

export const terminal = (status) => status === "succeeded" || status === "failed";

// Links from outside (trend URLs) only when they are web addresses: never `javascript:`.
export const webUrl = (url) => (typeof url === "string" && /^https?:\/\//i.test(url) ? url : null);

// An idempotency key. crypto.randomUUID exists only on https or loopback; this works anywhere.
export function uuid() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}
