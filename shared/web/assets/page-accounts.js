// Connected accounts: connect TikTok, YouTube or Instagram (the platform's consent page, then
// back here), add a sandbox channel, see each account's state and today's posting allowance,
// reconnect one that needs it, remove one.

import { html, useState } from "./vendor/preact-htm.mjs";
import { del, get, post } from "./api.js";
import { navigate } from "./nav.js";
import { Badge, Empty, ErrorBox, Field, Loading, Meter, Page, useLoad, webUrl, when } from "./ui.js";

export const PLATFORM_NAMES = { tiktok: "TikTok", youtube: "YouTube", instagram: "Instagram", sandbox: "Sandbox" };
const CONNECTABLE = ["tiktok", "youtube", "instagram"];

export function Accounts({ query }) {
  const list = useLoad(() => get("/v1/accounts"));
  const [error, setError] = useState(null);
  const [info, setInfo] = useState(null);
  const [busy, setBusy] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const connected = query.get("connected");
  const connect = async (platform) => {
    setError(null);
    setBusy(platform);
    try {
      // The platform sends the browser back to its callback, which returns here.
      const r = await post("/v1/accounts/connect", { platform, redirect_uri: location.origin + "/accounts" });
      location.assign(r.authorize_url);
    } catch (e) {
      setError(e);
      setBusy(null);
    }
  };
  const remove = async (a) => {
    setError(null);
    try {
      const r = await del("/v1/accounts/" + encodeURIComponent(a.id));
      setConfirming(null);
      list.reload();
      if (!r.revoked_at_platform && a.platform !== "sandbox") {
        setInfo(`${a.display_name} is removed here. ${PLATFORM_NAMES[a.platform]} has no way for us to end its access: remove viral in your ${PLATFORM_NAMES[a.platform]} settings too.`);
      }
    } catch (e) {
      setError(e);
    }
  };
  const items = list.data ? list.data.items : null;
  return html`<${Page} title="Accounts">
    ${connected ? html`<div class="notice ok" role="status"><p><strong>Connected.</strong> The account is ready to post to.
      <button type="button" class="link" onClick=${() => navigate("/accounts", true)}>Dismiss</button></p></div>` : null}
    <div class="card">
      <h2>Connect an account</h2>
      <p class="muted">You grant viral the right to post for you; you can remove it here or at the platform at any time.</p>
      <div class="actions wrap">
        ${CONNECTABLE.map((p) => html`<button type="button" key=${p} onClick=${() => connect(p)} disabled=${!!busy}>
          ${busy === p ? "Opening " + PLATFORM_NAMES[p] + "…" : "Connect " + PLATFORM_NAMES[p]}</button>`)}
      </div>
      <${Sandbox} onAdded=${list.reload} />
    </div>
    <${ErrorBox} error=${list.error || error} retry=${list.reload} />
    ${info ? html`<p class="notice info" role="status">${info}</p>` : null}
    <div class="card">
      <h2>Connected</h2>
      ${list.loading && !items ? html`<${Loading} />` : items && items.length === 0
        ? html`<${Empty} title="No accounts yet."><p>Connect one above. A sandbox channel needs nothing and never posts in public: good for trying the whole loop.</p><//>`
        : items ? html`<ul class="rows accounts">${items.map((a) => html`<li key=${a.id}>
            <div class="account">
              ${webUrl(a.avatar_url) ? html`<img class="avatar" src=${a.avatar_url} alt="" width="40" height="40" />` : html`<span class="avatar" aria-hidden="true">${(a.display_name || "?").slice(0, 1)}</span>`}
              <div>
                <p><strong>${a.display_name}</strong> <span class="muted">on ${PLATFORM_NAMES[a.platform] || a.platform}</span>
                  ${a.sandbox ? html` <${Badge} status="muted">sandbox<//>` : null}
                  ${" "}<${Badge} status=${a.status}>${a.status === "needs_reconnect" ? "needs reconnecting" : a.status}<//></p>
                ${a.status_reason ? html`<p class="small">${a.status_reason}</p>` : null}
                <p class="muted small">Connected ${when(a.created_at)}${a.token_expires_at ? " · access renews before " + when(a.token_expires_at) : ""}</p>
              </div>
            </div>
            ${a.today ? html`<div class="allowance">
              <${Meter} label=${"Posts today · " + a.display_name} used=${a.today.posts} limit=${a.today.limit} />
              ${a.today.workspace_limit != null ? html`<p class="muted small">Your workspace: ${a.today.workspace_posts} of ${a.today.workspace_limit} ${PLATFORM_NAMES[a.platform]} posts today (shared app quota; resets ${when(a.today.resets_at)}).</p>` : null}
            </div>` : null}
            <div class="actions">
              ${a.status === "needs_reconnect" && !a.sandbox ? html`<button type="button" class="primary" onClick=${() => connect(a.platform)}>Reconnect</button>` : null}
              ${confirming === a.id
                ? html`<span class="confirm">Remove ${a.display_name}? Its scheduled posts will fail.
                    <button type="button" class="danger" onClick=${() => remove(a)}>Remove</button>
                    <button type="button" onClick=${() => setConfirming(null)}>Keep</button></span>`
                : html`<button type="button" onClick=${() => setConfirming(a.id)} aria-label=${"Remove " + a.display_name}>Remove</button>`}
            </div>
          </li>`)}</ul>` : null}
    </div>
  <//>`;
}

function Sandbox({ onAdded }) {
  const [name, setName] = useState("Sandbox channel");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await post("/v1/accounts/connect", { platform: "sandbox", name });
      onAdded();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="inline-form" onSubmit=${submit}>
    <${Field} id="sandbox-name" label="Sandbox channel" hint="Posts stay on this deployment; nothing is public.">
      <input id="sandbox-name" maxlength="100" required value=${name} aria-describedby="sandbox-name-hint" onInput=${(e) => setName(e.target.value)} />
    <//>
    <button type="submit" disabled=${busy || !name.trim()}>${busy ? "Adding…" : "Add sandbox channel"}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}
