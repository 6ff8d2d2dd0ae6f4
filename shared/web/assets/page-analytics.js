// Analytics: how published posts did, from the numbers the collector fetches by itself —
// views over time per post, engagement per group with the learner's uncertainty, and what the
// learner predicted against what happened. Sandbox numbers are labelled simulated.

import { html, useState } from "./vendor/preact-htm.mjs";
import { get } from "./api.js";
import { EffectChart } from "./page-insights.js";
import { Badge, Empty, ErrorBox, Field, Loading, Page, useLoad } from "./ui.js";

const GROUPS = [
  ["category", "Category"],
  ["format", "Format"],
  ["hook", "Hook style"],
  ["platform", "Platform"],
  ["account", "Account"],
  ["provider", "Provider"],
  ["hour", "Posting hour (autopilot's zone, else UTC)"],
  ["length", "Video length"],
  ["voice", "Voice"],
];
const PERIODS = [
  [7, "Last 7 days"],
  [28, "Last 28 days"],
  [90, "Last 90 days"],
  [366, "Last year"],
];
const COLOURS = ["#2563eb", "#db2777", "#059669", "#d97706", "#7c3aed", "#0891b2", "#dc2626", "#4b5563"];
const num = (n) => (n === null || n === undefined ? "—" : n.toLocaleString("en-US"));
const pct = (x) => (x === null || x === undefined ? "—" : (x * 100).toFixed(1) + " %");

export function Analytics() {
  const [groupBy, setGroupBy] = useState("category");
  const [days, setDays] = useState(28);
  const data = useLoad(async () => {
    const now = Date.now();
    const from = new Date(now - days * 86400000).toISOString();
    const to = new Date(now).toISOString();
    const q = "/v1/analytics?group_by=" + groupBy + "&metric=engagement&from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to);
    // Few posts' series at once: the API's rate limit is per key.
    const [groups, posts] = await Promise.all([get(q), get("/v1/posts?status=published&limit=5")]);
    const series = await Promise.all(
      posts.items.map((p) => get("/v1/posts/" + encodeURIComponent(p.id) + "/metrics").then((m) => ({ post: p, m }))),
    );
    return { groups, series: series.filter((s) => s.m.observations.length > 0) };
  }, [groupBy, days]);
  const d = data.data;
  return html`<${Page} title="Analytics">
    <div class="card filters">
      <${Field} id="analytics-group" label="Group by">
        <select id="analytics-group" value=${groupBy} onChange=${(e) => setGroupBy(e.target.value)}>
          ${GROUPS.map(([v, l]) => html`<option key=${v} value=${v}>${l}</option>`)}
        </select>
      <//>
      <${Field} id="analytics-period" label="Published">
        <select id="analytics-period" value=${days} onChange=${(e) => setDays(Number(e.target.value))}>
          ${PERIODS.map(([v, l]) => html`<option key=${v} value=${v}>${l}</option>`)}
        </select>
      <//>
    </div>
    <${ErrorBox} error=${data.error} retry=${data.reload} />
    ${!d ? (data.error ? null : html`<${Loading} lines=${6} />`) : html`<${Body} d=${d} groupBy=${groupBy} />`}
  <//>`;
}

function Body({ d, groupBy }) {
  const g = d.groups;
  if (g.posts === 0 && d.series.length === 0) {
    return html`<div class="card"><${Empty} title="No numbers yet.">
      <p>Once a post is published (see <a href="/posts">Posts</a>), its numbers are fetched an hour later and then on a slowing schedule (3 h, 6 h, a day, 2 days, a week, 4 weeks), and appear here.</p><//></div>`;
  }
  const label = (GROUPS.find(([v]) => v === groupBy) || [groupBy, groupBy])[1];
  const withEffect = g.groups.filter((x) => x.effect !== null);
  return html`
    <div class="card">
      <h2>Views over time</h2>
      ${d.series.length === 0
        ? html`<p class="muted">No published post has numbers yet.</p>`
        : html`<${ViewsChart} series=${d.series} />`}
    </div>
    <div class="card">
      <h2>By ${label.toLowerCase()}</h2>
      <p class="muted">${g.posts} post${g.posts === 1 ? "" : "s"} published in the period, each counted with its newest numbers.
        ${g.calibration_error !== null ? html` The learner's predictions were off by ${g.calibration_error.toFixed(3)} on average.` : null}</p>
      <div class="table-scroll"><table>
        <caption class="sr-only">Posts grouped by ${label.toLowerCase()}</caption>
        <thead><tr><th scope="col">${label}</th><th scope="col">Posts</th><th scope="col">Views</th><th scope="col">Likes</th>
          <th scope="col">Like rate</th><th scope="col">Engagement</th><th scope="col">Predicted</th></tr></thead>
        <tbody>${g.groups.map((x) => html`<tr key=${x.key}>
          <th scope="row">${x.key} ${x.simulated ? html`<${Badge} status="muted">simulated<//>` : null}</th>
          <td>${x.posts}</td><td>${num(x.views)}</td><td>${num(x.likes)}</td><td>${pct(x.like_rate)}</td>
          <td>${x.engagement.toFixed(3)}</td><td>${x.predicted.toFixed(3)}</td></tr>`)}</tbody>
      </table></div>
    </div>
    ${withEffect.length > 0
      ? html`<div class="card">
          <h2>What the learner believes</h2>
          <p class="muted">Effect of each ${label.toLowerCase()} on engagement, with one standard deviation either side: a wide bar is a guess still being tested.</p>
          <${EffectChart} effects=${withEffect.map((x) => ({ feature: groupBy + ":" + x.key, effect: x.effect, sd: x.effect_sd }))} />
        </div>`
      : null}
    ${g.groups.length > 0 ? html`<div class="card"><h2>Predicted against actual</h2><${Calibration} groups=${g.groups} /></div>` : null}`;
}

// One line per post: views (y) against hours since publishing (x, on a square-root scale so
// the first hours and the fourth week both show).
function ViewsChart({ series }) {
  const W = 600, H = 240, L = 56, B = 28, T = 10, R = 10;
  const pts = series.map((s) => s.m.observations.map((o) => [o.age_hours, o.views || 0]));
  const maxH = Math.max(1, ...pts.flat().map((p) => p[0]));
  const maxV = Math.max(1, ...pts.flat().map((p) => p[1]));
  const x = (h) => L + (Math.sqrt(h) / Math.sqrt(maxH)) * (W - L - R);
  const y = (v) => T + (1 - v / maxV) * (H - T - B);
  const ticks = [1, 6, 24, 48, 168, 672].filter((h) => h <= maxH);
  const desc = series
    .map((s) => `${s.post.title || s.post.caption.slice(0, 40)}: ${s.m.observations.map((o) => `${num(o.views)} views at ${o.age_hours.toFixed(0)} h`).join(", ")}`)
    .join("; ");
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-labelledby="views-title views-desc">
      <title id="views-title">Views over time, per post</title>
      <desc id="views-desc">${desc}</desc>
      <line x1=${L} x2=${W - R} y1=${H - B} y2=${H - B} class="axis" />
      <line x1=${L} x2=${L} y1=${T} y2=${H - B} class="axis" />
      <text x=${L - 6} y=${T + 8} text-anchor="end" class="label">${num(maxV)}</text>
      <text x=${L - 6} y=${H - B} text-anchor="end" class="label">0</text>
      ${ticks.map((h) => html`<text key=${h} x=${x(h)} y=${H - 8} text-anchor=${x(h) > W - R - 30 ? "end" : "middle"} class="label">${h < 48 ? h + " h" : h / 24 + " d"}</text>`)}
      ${pts.map((p, i) => html`<g key=${series[i].post.id}>
        <polyline fill="none" stroke=${COLOURS[i % COLOURS.length]} stroke-width="2"
          points=${[[0, 0], ...p].map(([h, v]) => `${x(h).toFixed(1)},${y(v).toFixed(1)}`).join(" ")} />
        ${p.map(([h, v]) => html`<circle key=${h} cx=${x(h)} cy=${y(v)} r="3" fill=${COLOURS[i % COLOURS.length]} />`)}
      </g>`)}
    </svg>
    <figcaption><ul class="legend">${series.map((s, i) => html`<li key=${s.post.id}>
      <span class="swatch" style=${"background:" + COLOURS[i % COLOURS.length]}></span>
      ${s.post.title || s.post.caption.slice(0, 60)} ${s.post.sandbox ? html`<${Badge} status="muted">simulated<//>` : null}</li>`)}</ul></figcaption>
  </figure>`;
}

// Predicted (x) against actual (y) mean engagement per group: on the diagonal is a learner that
// predicted right.
function Calibration({ groups }) {
  const W = 320, H = 320, P = 40;
  const top = Math.max(0.05, ...groups.flatMap((g) => [g.engagement, g.predicted])) * 1.1;
  const s = (v) => (v / top) * (W - 2 * P);
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${W} ${H}`} role="img" aria-labelledby="cal-title cal-desc" style="max-width:320px">
      <title id="cal-title">Predicted against actual engagement</title>
      <desc id="cal-desc">${groups.map((g) => `${g.key}: predicted ${g.predicted.toFixed(3)}, actual ${g.engagement.toFixed(3)}`).join("; ")}</desc>
      <line x1=${P} y1=${H - P} x2=${W - P} y2=${P} class="axis" stroke-dasharray="4 4" />
      <line x1=${P} x2=${W - P} y1=${H - P} y2=${H - P} class="axis" />
      <line x1=${P} x2=${P} y1=${P} y2=${H - P} class="axis" />
      <text x=${W / 2} y=${H - 8} text-anchor="middle" class="label">predicted</text>
      <text x="12" y=${H / 2} text-anchor="middle" class="label" transform=${`rotate(-90 12 ${H / 2})`}>actual</text>
      ${groups.map((g, i) => html`<circle key=${g.key} cx=${P + s(g.predicted)} cy=${H - P - s(g.engagement)} r="5" fill=${COLOURS[i % COLOURS.length]}><title>${g.key}</title></circle>`)}
    </svg>
  </figure>`;
}
