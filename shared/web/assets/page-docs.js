// API docs: every operation of /openapi.json with its summary, grouped by tag. Public.

import { html } from "./vendor/preact-htm.mjs";
import { api } from "./api.js";
import { ErrorBox, Loading, Page, useLoad } from "./ui.js";

export function Docs() {
  const { data, error, loading, reload } = useLoad(() => api("GET", "/openapi.json", undefined, { token: null }));
  return html`<${Page} title="API docs">
    <p>Every route of the API, from <a href="/openapi.json" target="_blank" rel="noopener">/openapi.json</a> (OpenAPI 3.1; feed it to a client generator).
      Send <code>Authorization: Bearer &lt;API key&gt;</code>.</p>
    <${ErrorBox} error=${error} retry=${reload} />
    ${loading && !data ? html`<${Loading} lines=${8} />` : data ? html`<${Operations} doc=${data} />` : null}
  <//>`;
}

function Operations({ doc }) {
  const byTag = new Map();
  for (const [path, item] of Object.entries(doc.paths || {})) {
    for (const [method, op] of Object.entries(item)) {
      if (!op || typeof op !== "object" || !op.responses) continue;
      const tag = (op.tags && op.tags[0]) || "other";
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push({ path, method: method.toUpperCase(), op });
    }
  }
  const tags = new Map((doc.tags || []).map((t) => [t.name, t.description]));
  return [...byTag.entries()].map(([tag, ops]) => html`<div class="card" key=${tag}>
    <h2>${tag}</h2>
    ${tags.get(tag) ? html`<p class="muted">${tags.get(tag)}</p>` : null}
    <dl class="ops">${ops.map((o) => html`<div key=${o.method + o.path}>
      <dt><span class=${"method " + o.method.toLowerCase()}>${o.method}</span> <code>${o.path}</code></dt>
      <dd>${o.op.summary || ""}${o.op.description && o.op.description !== o.op.summary ? html`<br /><span class="muted small">${o.op.description}</span>` : null}</dd>
    </div>`)}</dl>
  </div>`);
}
