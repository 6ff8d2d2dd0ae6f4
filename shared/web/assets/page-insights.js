// Insights: what the learner believes works (effect ± one standard deviation per category,
// format and hook), drawn as an SVG chart, and how far off its predictions were by month.

import { html } from "./vendor/preact-htm.mjs";
import { get } from "./api.js";
import { Empty, ErrorBox, Loading, Page, useLoad } from "./ui.js";

export function Insights() {
  const { data, error, loading, reload } = useLoad(() => get("/v1/insights"));
  return html`<${Page} title="Insights">
    <${ErrorBox} error=${error} retry=${reload} />
    ${loading && !data ? html`<${Loading} lines=${6} />` : data ? html`<${Body} d=${data} />` : null}
  <//>`;
}

function Body({ d }) {
  if (d.effects.length === 0) {
    return html`<div class="card"><${Empty} title="Nothing learned yet.">
      <p>Send feedback on a published concept (open it on the <a href="/concepts">Concepts</a> page) and the learner's beliefs appear here.</p><//></div>`;
  }
  return html`<div class="card">
      <h2>What works for you</h2>
      <p class="muted">Effect on engagement against your baseline, with one standard deviation either side, from ${Math.round(d.observations)} observation${Math.round(d.observations) === 1 ? "" : "s"}.</p>
      <${EffectChart} effects=${d.effects} />
    </div>
    <div class="card">
      <h2>Prediction error by month</h2>
      ${d.calibration.length === 0
        ? html`<p class="muted">No predictions have met an outcome yet.</p>`
        : html`<table><caption class="sr-only">Mean absolute error by month</caption>
            <thead><tr><th scope="col">Month</th><th scope="col">Mean absolute error</th><th scope="col">Outcomes</th></tr></thead>
            <tbody>${d.calibration.map(([m, mae, n]) => html`<tr key=${m}><th scope="row">${m}</th><td>${mae.toFixed(3)}</td><td>${n}</td></tr>`)}</tbody></table>`}
    </div>`;
}

export function EffectChart({ effects }) {
  const rows = effects.slice(0, 15);
  const span = Math.max(0.01, ...rows.map((e) => Math.abs(e.effect) + e.sd));
  const W = 600, label = 200, row = 28, H = rows.length * row + 24;
  const x = (v) => label + ((v + span) / (2 * span)) * (W - label - 10);
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-labelledby="effects-title effects-desc">
      <title id="effects-title">Effects on engagement</title>
      <desc id="effects-desc">${rows.map((e) => `${e.feature}: ${e.effect.toFixed(3)} ± ${e.sd.toFixed(3)}`).join("; ")}</desc>
      <line x1=${x(0)} x2=${x(0)} y1="0" y2=${H - 20} class="axis" />
      ${rows.map((e, i) => {
        const y = i * row + 14;
        return html`<g key=${e.feature}>
          <text x=${label - 8} y=${y + 4} text-anchor="end" class="label">${e.feature.replace(":", ": ").replace(/_/g, " ")}</text>
          <line x1=${x(e.effect - e.sd)} x2=${x(e.effect + e.sd)} y1=${y} y2=${y} class="whisker" />
          <circle cx=${x(e.effect)} cy=${y} r="5" class=${e.effect >= 0 ? "up" : "down"} />
        </g>`;
      })}
      <text x=${x(-span)} y=${H - 4} class="label">${(-span).toFixed(2)}</text>
      <text x=${x(0)} y=${H - 4} text-anchor="middle" class="label">0</text>
      <text x=${x(span)} y=${H - 4} text-anchor="end" class="label">+${span.toFixed(2)}</text>
    </svg>
  </figure>`;
}
