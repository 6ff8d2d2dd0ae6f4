// Posts: every post with its status, where it went and when, the platform's link once it is
// public, why it failed; scheduled ones can be cancelled. Follows moving posts by itself.

import { html, useState } from "./vendor/preact-htm.mjs";
import { del, get } from "./api.js";
import { PLATFORM_NAMES } from "./page-accounts.js";
import { Badge, Empty, ErrorBox, Field, Loading, Page, useInterval, useLoad, webUrl, when } from "./ui.js";

const STATUSES = ["scheduled", "queued", "uploading", "processing", "published", "failed", "cancelled"];
const moving = (p) => ["queued", "uploading", "processing"].includes(p.status);

export function Posts() {
  const [status, setStatus] = useState("");
  const [error, setError] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const data = useLoad(async () => {
    const q = "/v1/posts?limit=100" + (status ? "&status=" + status : "");
    const [posts, accounts] = await Promise.all([get(q), get("/v1/accounts")]);
    return { posts: posts.items, accounts: accounts.items };
  }, [status]);
  const posts = data.data ? data.data.posts : null;
  useInterval(data.reload, 3000, !!posts && posts.some(moving));
  const name = (id) => {
    const a = data.data && data.data.accounts.find((x) => x.id === id);
    return a ? a.display_name : "a removed account";
  };
  const cancel = async (p) => {
    setError(null);
    try {
      await del("/v1/posts/" + encodeURIComponent(p.id));
      setConfirming(null);
      data.reload();
    } catch (e) {
      setError(e);
    }
  };
  return html`<${Page} title="Posts">
    <div class="card">
      <${Field} id="post-status" label="Show">
        <select id="post-status" value=${status} onChange=${(e) => setStatus(e.target.value)}>
          <option value="">All posts</option>
          ${STATUSES.map((s) => html`<option key=${s} value=${s}>${s[0].toUpperCase() + s.slice(1)}</option>`)}
        </select>
      <//>
    </div>
    <${ErrorBox} error=${data.error || error} retry=${data.reload} />
    <div class="card">
      ${posts === null ? (data.error ? null : html`<${Loading} />`) : posts.length === 0
        ? html`<${Empty} title=${status ? "No " + status + " posts." : "No posts yet."}><p>Publish a finished video from its page on <a href="/videos">Videos</a>.</p><//>`
        : html`<ul class="rows">${posts.map((p) => html`<li key=${p.id}>
            <p><${Badge} status=${p.status} /> <strong>${PLATFORM_NAMES[p.platform] || p.platform}</strong> · ${name(p.account_id)}
              ${p.sandbox ? html` <${Badge} status="muted">sandbox<//>` : null}</p>
            <p class="caption">${p.title ? html`<strong>${p.title}</strong> ` : null}${p.caption.slice(0, 160)}${p.caption.length > 160 ? "…" : ""}</p>
            <p class="row-meta small">
              ${p.status === "scheduled" ? "Goes out " + when(p.not_before) : p.published_at ? "Published " + when(p.published_at) : "Created " + when(p.created_at)}
              · privacy ${p.privacy_applied || p.privacy} · AI-generated label ${p.ai_generated ? "on" : "off"}
              · <a href=${"/videos/" + p.video_id}>the video</a>
              ${webUrl(p.url) ? html` · <a href=${p.url} target="_blank" rel="noopener noreferrer">View on ${PLATFORM_NAMES[p.platform]}</a>` : null}
              ${p.status === "published" && !p.url ? html` · ${p.sandbox ? "sandbox posts have no public link" : "the platform has not made it public (yet)"}` : null}
            </p>
            ${p.error ? html`<p class="notice error small"><strong>${p.error.message}</strong> <code>${p.error.code}</code></p>` : null}
            ${p.warnings.length ? html`<ul class="small muted">${p.warnings.map((w, i) => html`<li key=${i}>${w}</li>`)}</ul>` : null}
            ${p.cancellable
              ? confirming === p.id
                ? html`<span class="confirm">Cancel this post?
                    <button type="button" class="danger" onClick=${() => cancel(p)}>Cancel post</button>
                    <button type="button" onClick=${() => setConfirming(null)}>Keep</button></span>`
                : html`<button type="button" onClick=${() => setConfirming(p.id)}>Cancel…</button>`
              : null}
          </li>`)}</ul>`}
    </div>
  <//>`;
}
