// Overview: plan and period, quota meters, provider spend, recent jobs, provider health.

import { html } from "./vendor/preact-htm.mjs";
import { get } from "./api.js";
import { Badge, Empty, ErrorBox, Loading, Meter, Page, day, dollars, useLoad, when } from "./ui.js";

async function load() {
  const [me, usage, videos, providers] = await Promise.all([
    get("/v1/me"),
    get("/v1/usage"),
    get("/v1/videos?limit=100"),
    get("/v1/providers"),
  ]);
  return { me, usage, videos: videos.items, more: !!videos.next_cursor, providers: providers.providers };
}

export function Overview() {
  const { data, error, loading, reload } = useLoad(load);
  return html`<${Page} title="Overview">
    <${ErrorBox} error=${error} retry=${reload} />
    ${loading && !data ? html`<${Loading} lines=${6} />` : data ? html`<${Body} ...${data} />` : null}
  <//>`;
}

function Body({ me, usage, videos, more, providers }) {
  const since = Date.parse(usage.period_start);
  const inPeriod = videos.filter((v) => Date.parse(v.created_at) >= since);
  const spent = inPeriod.reduce((sum, v) => sum + (v.cost_cents || 0), 0);
  return html`
    <div class="grid">
      <div class="card">
        <h2>${me.tenant.name}</h2>
        <p><span class="big">${usage.plan}</span> plan <${Badge} status=${me.tenant.status} /></p>
        <p class="muted">Period ${usage.period}: ${day(usage.period_start)} – ${day(usage.resets_at)}</p>
        <p><a href="/billing">Plan and billing</a></p>
      </div>
      <div class="card">
        <h2>Usage this period</h2>
        <${Meter} label="Concepts" used=${usage.concepts.used} limit=${usage.concepts.limit} />
        <${Meter} label="Videos" used=${usage.videos.used} limit=${usage.videos.limit} />
        <p class="muted small">Resets ${when(usage.resets_at)}.</p>
      </div>
      <div class="card">
        <h2>Provider spend</h2>
        <p class="big">${dollars(spent)}</p>
        <p class="muted small">Committed to video providers by ${inPeriod.length} job${inPeriod.length === 1 ? "" : "s"} this period${more ? " (the latest 100 jobs)" : ""}.</p>
      </div>
    </div>
    <div class="card">
      <div class="card-head"><h2>Recent videos</h2><a href="/videos/new" class="button primary">New video</a></div>
      ${videos.length === 0
        ? html`<${Empty} title="No videos yet."><p>Write concepts from today's trends on the <a href="/concepts">Concepts</a> page, then make a video from the best one.</p><//>`
        : html`<ul class="rows">
            ${videos.slice(0, 5).map((v) => html`<li key=${v.id}>
              <a href=${"/videos/" + v.id}>${v.prompt.slice(0, 90)}${v.prompt.length > 90 ? "…" : ""}</a>
              <span class="row-meta"><${Badge} status=${v.status} /> ${v.provider || ""} · ${dollars(v.cost_cents)} · ${when(v.created_at)}</span>
            </li>`)}
          </ul>`}
    </div>
    <div class="card">
      <div class="card-head"><h2>Providers</h2><a href="/providers">Details</a></div>
      <ul class="health">
        ${providers.map((p) => html`<li key=${p.name}>
          <span class=${"dot " + health(p)} aria-hidden="true"></span>
          <span>${p.name}</span><span class="muted small">${healthText(p)}</span></li>`)}
      </ul>
    </div>`;
}

export function health(p) {
  if (!p.enabled) return "off";
  if (p.health.circuit_open) return "bad";
  return p.health.success_rate < 0.8 ? "warn" : "ok";
}

export function healthText(p) {
  if (!p.enabled) return "off";
  if (p.health.circuit_open) return "paused after failures";
  return p.health.success_rate < 0.8 ? `${Math.round(p.health.success_rate * 100)}% recent success` : "healthy";
}
