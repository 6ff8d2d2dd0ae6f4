// Providers: price, clip lengths, health, and whether each is on (and what it needs if not);
// where concepts come from.

import { html } from "./vendor/preact-htm.mjs";
import { get } from "./api.js";
import { ErrorBox, Loading, Page, useLoad } from "./ui.js";
import { health, healthText } from "./page-overview.js";

export function Providers() {
  const { data, error, loading, reload } = useLoad(() => get("/v1/providers"));
  return html`<${Page} title="Providers">
    <${ErrorBox} error=${error} retry=${reload} />
    ${loading && !data ? html`<${Loading} lines=${6} />` : data ? html`
      <div class="card table-wrap">
        <table>
          <caption>Video providers</caption>
          <thead><tr><th scope="col">Provider</th><th scope="col">Price</th><th scope="col">Clip lengths</th><th scope="col">Quality</th><th scope="col">Health</th><th scope="col">Status</th></tr></thead>
          <tbody>${data.providers.map((p) => html`<tr key=${p.name}>
            <th scope="row">${p.name}<br /><span class="muted small">${p.model}</span></th>
            <td>${p.cents_per_second ? "$" + (p.cents_per_second / 100).toFixed(2) + " / s" : "free"}</td>
            <td>${p.clip_durations.length ? p.clip_durations.join(", ") + " s" : "any, up to " + p.max_clip_s + " s"}</td>
            <td>${p.quality} of 5</td>
            <td><span class=${"dot " + health(p)} aria-hidden="true"></span> ${healthText(p)}</td>
            <td>${p.enabled ? "on" : p.status}</td>
          </tr>`)}</tbody>
        </table>
      </div>
      <div class="card">
        <h2>Concept sources</h2>
        <dl class="facts">
          <dt>Trends</dt><dd>${data.concepts.trend_source}</dd>
          <dt>Writer</dt><dd>${data.concepts.concept_writer}</dd>
          <dt>Live</dt><dd>${data.concepts.live ? "yes: today's trends" : "no: a dated sample set (set YOUTUBE_API_KEY or GNEWS_API_KEY for live trends)"}</dd>
        </dl>
      </div>` : null}
  <//>`;
}
