// API keys: create one (its secret shown once, with a copy button), list them with scopes,
// revoke with a confirmation.

import { html, useState } from "./vendor/preact-htm.mjs";
import { del, get, getSession, post } from "./api.js";
import { Badge, CopyButton, Empty, ErrorBox, Field, Loading, Page, useLoad, when } from "./ui.js";

const SCOPES = [
  ["concepts:write", "Write concepts and feedback"],
  ["videos:write", "Make videos"],
  ["publish:write", "Connect accounts and publish"],
  ["usage:read", "Read usage"],
  ["keys:manage", "Manage keys"],
  ["billing:manage", "Manage billing"],
];

export function Keys() {
  const [more, setMore] = useState([]);
  const [cursor, setCursor] = useState(null);
  const list = useLoad(async () => {
    const page = await get("/v1/api-keys?limit=100");
    setMore([]);
    setCursor(page.next_cursor);
    return page;
  });
  const loadMore = async () => {
    const page = await get("/v1/api-keys?limit=100&cursor=" + encodeURIComponent(cursor));
    setMore([...more, ...page.items]);
    setCursor(page.next_cursor);
  };
  const [created, setCreated] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const [error, setError] = useState(null);
  const revoke = async (k) => {
    setError(null);
    try {
      await del("/v1/api-keys/" + encodeURIComponent(k.id));
      setConfirming(null);
      list.reload();
    } catch (e) {
      setError(e);
    }
  };
  const mine = getSession() && getSession().key_id;
  // Sessions that ended are clutter: they are removed from the store a week later anyway.
  const ended = (k) => k.expires_at && (k.revoked_at || Date.parse(k.expires_at) < Date.now());
  const keys = list.data ? [...list.data.items, ...more].filter((k) => !ended(k)) : null;
  return html`<${Page} title="API keys">
    <${Create} onCreated=${(k) => (setCreated(k), list.reload())} />
    ${created ? html`<div class="card notice ok" role="status">
        <p><strong>Key “${created.name}” created.</strong> Copy it now: it is shown this once.</p>
        <p class="secret"><code id="new-key">${created.key}</code> <${CopyButton} text=${created.key} label="Copy key" /></p>
        <button type="button" class="link" onClick=${() => setCreated(null)}>I have stored it</button>
      </div>` : null}
    <div class="card">
      <h2>Keys</h2>
      <${ErrorBox} error=${list.error || error} retry=${list.reload} />
      ${list.loading && !list.data ? html`<${Loading} />` : keys ? keys.length === 0
        ? html`<${Empty} title="No keys." />`
        : html`<div class="table-wrap"><table>
          <caption class="sr-only">API keys</caption>
          <thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col">State</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${keys.map((k) => html`<tr key=${k.id}>
            <th scope="row">${k.name}${k.id === mine ? html` <span class="muted small">(this session)</span>` : null}</th>
            <td><code>vk_live_${k.prefix}_…</code></td>
            <td>${k.scopes ? k.scopes.join(", ") : "all"}</td>
            <td>${when(k.created_at)}</td>
            <td>${k.last_used_at ? when(k.last_used_at) : html`<span class="muted">never</span>`}</td>
            <td>${k.revoked_at ? html`<${Badge} status="revoked">revoked<//>` : k.expires_at && Date.parse(k.expires_at) < Date.now() ? html`<${Badge} status="expired">expired<//>` : k.expires_at ? html`<span class="small">until ${when(k.expires_at)}</span>` : html`<${Badge} status="active">active<//>`}</td>
            <td>${k.revoked_at ? null : confirming === k.id
              ? html`<span class="confirm">Revoke “${k.name}”? Calls with it will fail.
                  <button type="button" class="danger" onClick=${() => revoke(k)}>Revoke</button>
                  <button type="button" onClick=${() => setConfirming(null)}>Keep</button></span>`
              : html`<button type="button" onClick=${() => setConfirming(k.id)} aria-label=${"Revoke " + k.name}>Revoke</button>`}</td>
          </tr>`)}</tbody></table></div>
          ${cursor ? html`<button type="button" onClick=${loadMore}>Load more</button>` : null}` : null}
    </div>
  <//>`;
}

function Create({ onCreated }) {
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = { name };
      if (scopes.length) body.scopes = scopes;
      onCreated(await post("/v1/api-keys", body));
      setName("");
      setScopes([]);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const toggle = (s) => (e) => setScopes(e.target.checked ? [...scopes, s] : scopes.filter((x) => x !== s));
  return html`<form class="card" onSubmit=${submit}>
    <h2>Create a key</h2>
    <${Field} id="key-name" label="Name" hint="What uses it, e.g. “CI” or “Zapier”.">
      <input id="key-name" maxlength="100" required value=${name} aria-describedby="key-name-hint" onInput=${(e) => setName(e.target.value)} />
    <//>
    <fieldset>
      <legend>Scopes (none ticked: everything you may do)</legend>
      ${SCOPES.map(([s, label]) => html`<label class="choice" key=${s}><input type="checkbox" checked=${scopes.includes(s)} onChange=${toggle(s)} /> ${label} <code class="small">${s}</code></label>`)}
    </fieldset>
    <button type="submit" class="primary" disabled=${busy || !name.trim()}>${busy ? "Creating…" : "Create key"}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}
