// Videos: the list, a new job with its estimate before it is submitted, and one job's live
// status, workflow steps, player, validation report, cost and routing.

import { html, useEffect, useRef, useState } from "./vendor/preact-htm.mjs";
import { get, post } from "./api.js";
import { navigate } from "./nav.js";
import { Badge, Empty, ErrorBox, Field, Loading, Page, dollars, terminal, useInterval, useLoad, uuid, when } from "./ui.js";
import { Publish } from "./page-publish.js";
import { NarrationFields, narrationOf } from "./page-settings.js";

const PLATFORMS = [
  ["tiktok", "TikTok"],
  ["youtube_shorts", "YouTube Shorts"],
  ["instagram_reels", "Instagram Reels"],
];
const platformName = (p) => (PLATFORMS.find(([k]) => k === p) || [p, p])[1];

export function Videos() {
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const first = useLoad(async () => {
    const page = await get("/v1/videos?limit=20");
    setItems(page.items);
    setCursor(page.next_cursor);
  });
  const more = async () => {
    const page = await get("/v1/videos?limit=20&cursor=" + encodeURIComponent(cursor));
    setItems([...items, ...page.items]);
    setCursor(page.next_cursor);
  };
  return html`<${Page} title="Videos" actions=${html`<a class="button primary" href="/videos/new">New video</a>`}>
    <${ErrorBox} error=${first.error} retry=${first.reload} />
    <div class="card">
      ${items === null
        ? first.error ? null : html`<${Loading} />`
        : items.length === 0
          ? html`<${Empty} title="No videos yet."><p><a href="/videos/new">Make one</a> from a prompt, or from a concept on the <a href="/concepts">Concepts</a> page.</p><//>`
          : html`<ul class="rows">${items.map((v) => html`<li key=${v.id}>
                <a href=${"/videos/" + v.id}>${v.prompt.slice(0, 100)}${v.prompt.length > 100 ? "…" : ""}</a>
                <span class="row-meta"><${Badge} status=${v.status} /> ${v.progress}% · ${v.provider || "—"} · ${dollars(v.cost_cents)} · ${when(v.created_at)}</span>
              </li>`)}</ul>
              ${cursor ? html`<button type="button" onClick=${more}>Load more</button>` : null}`}
    </div>
  <//>`;
}

async function loadChoices() {
  const [providers, concepts] = await Promise.all([get("/v1/providers"), get("/v1/concepts?limit=50")]);
  return { providers: providers.providers, concepts: concepts.items };
}

export function NewVideo({ query }) {
  const choices = useLoad(loadChoices);
  const fromConcept = query.get("concept");
  const [form, setForm] = useState({
    source: fromConcept ? "concept" : "prompt",
    concept_id: fromConcept || "",
    prompt: "",
    provider: "auto",
    duration_s: 15,
    platforms: PLATFORMS.map(([k]) => k),
    narration: { language: "", voice: "", speed: "" },
  });
  const [estimate, setEstimate] = useState(null);
  const [estimateError, setEstimateError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const idempotency = useRef(uuid());

  const body = () => {
    const b = { provider: form.provider, duration_s: Number(form.duration_s), platforms: form.platforms };
    if (form.source === "concept") b.concept_id = form.concept_id;
    else b.prompt = form.prompt;
    const narration = narrationOf(form.narration);
    if (narration) b.narration = narration;
    return b;
  };
  const ready = form.platforms.length > 0 && (form.source === "concept" ? !!form.concept_id : form.prompt.trim().length > 0);

  // The estimate follows the form (debounced): cost, budget and whether the plan allows it.
  useEffect(() => {
    idempotency.current = uuid();
    // What is shown must be for this form: an older answer never enables the button.
    setEstimate(null);
    setEstimateError(null);
    if (!ready) {
      setEstimate(null);
      return undefined;
    }
    let live = true;
    const t = setTimeout(() => {
      post("/v1/videos/estimate", body()).then(
        (e) => live && (setEstimate(e), setEstimateError(null)),
        (e) => live && (setEstimate(null), setEstimateError(e)),
      );
    }, 300);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [JSON.stringify(form)]);

  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  // A concept is written for a length and platforms: choosing one fills them in.
  const concepts = choices.data ? choices.data.concepts : [];
  useEffect(() => {
    const c = concepts.find((x) => x.id === form.concept_id);
    if (c && form.source === "concept") setForm((f) => ({ ...f, duration_s: c.duration_s, platforms: c.platforms }));
  }, [form.concept_id, form.source, concepts.length]);
  const toggle = (p) => (e) =>
    setForm({ ...form, platforms: e.target.checked ? [...form.platforms, p] : form.platforms.filter((x) => x !== p) });
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const job = await post("/v1/videos", body(), { idempotencyKey: idempotency.current });
      navigate("/videos/" + job.job_id);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  if (choices.error) return html`<${Page} title="New video"><${ErrorBox} error=${choices.error} retry=${choices.reload} /><//>`;
  if (!choices.data) return html`<${Page} title="New video"><${Loading} lines=${6} /><//>`;
  const { providers } = choices.data;
  const allowed = estimate && estimate.allowed;
  return html`<${Page} title="New video">
    <form class="card" onSubmit=${submit}>
      <fieldset>
        <legend>What the video is about</legend>
        <label class="choice"><input type="radio" name="source" value="concept" checked=${form.source === "concept"} onChange=${set("source")} /> A concept</label>
        <label class="choice"><input type="radio" name="source" value="prompt" checked=${form.source === "prompt"} onChange=${set("source")} /> A prompt</label>
      </fieldset>
      ${form.source === "concept"
        ? concepts.length === 0
          ? html`<p class="notice info">No concepts yet: <a href="/concepts">write some</a>, or use a prompt.</p>`
          : html`<${Field} id="concept" label="Concept">
              <select id="concept" value=${form.concept_id} onChange=${set("concept_id")}>
                <option value="">Choose a concept</option>
                ${concepts.map((c) => html`<option key=${c.id} value=${c.id}>${c.title} (score ${c.predicted_score})</option>`)}
              </select><//>`
        : html`<${Field} id="prompt" label="Prompt" hint="Up to 2000 characters. Each sentence becomes a scene.">
            <textarea id="prompt" rows="4" maxlength="2000" aria-describedby="prompt-hint" value=${form.prompt} onInput=${set("prompt")}></textarea><//>`}
      <div class="form-grid">
        <${Field} id="provider" label="Provider">
          <select id="provider" value=${form.provider} onChange=${set("provider")}>
            <option value="auto">Automatic (cheapest that meets the plan's quality)</option>
            ${providers.map((p) => html`<option key=${p.name} value=${p.name} disabled=${!p.enabled}>
              ${p.name} · ${p.model} · ${p.cents_per_second ? "$" + (p.cents_per_second / 100).toFixed(2) + "/s" : "free"}${p.enabled ? "" : " (off)"}</option>`)}
          </select>
        <//>
        <${Field} id="duration" label="Length (seconds)" hint="5 to 60.">
          <input id="duration" type="number" min="5" max="60" step="1" aria-describedby="duration-hint" value=${form.duration_s} onInput=${set("duration_s")} />
        <//>
      </div>
      <fieldset>
        <legend>Platforms</legend>
        ${PLATFORMS.map(([k, label]) => html`<label class="choice" key=${k}><input type="checkbox" checked=${form.platforms.includes(k)} onChange=${toggle(k)} /> ${label}</label>`)}
      </fieldset>
      <details class="narration">
        <summary>Narration</summary>
        <${NarrationFields} form=${form.narration} setForm=${(n) => setForm({ ...form, narration: n })} prefix="video-narration"
          blank="Blank: the workspace's default (Settings)." />
      </details>
      <div class="estimate" role="status" aria-live="polite">
        ${!ready
          ? html`<p class="muted">Choose what the video is about to see its cost.</p>`
          : estimateError
            ? html`<${ErrorBox} error=${estimateError} />`
            : !estimate
              ? html`<p class="muted">Estimating…</p>`
              : estimate.allowed
                ? html`<p><strong>Estimated ${dollars(estimate.estimated_cost_cents)}</strong> with ${estimate.routing.provider} (${estimate.routing.model}),
                    ${estimate.routing.clips.length} clip${estimate.routing.clips.length === 1 ? "" : "s"} (${estimate.routing.clips.map((c) => c + " s").join(" + ")}).
                    Budget ${dollars(estimate.budget_cents)}; ${estimate.videos_remaining} video${estimate.videos_remaining === 1 ? "" : "s"} left this period.</p>
                    <p class="muted small">${estimate.routing.reason}</p>`
                : html`<p class="notice error"><strong>Your plan does not allow this.</strong> ${estimate.refusal.message}</p>`}
      </div>
      <button type="submit" class="primary" disabled=${busy || !ready || !allowed}>${busy ? "Starting…" : "Make the video"}</button>
      <${ErrorBox} error=${error} />
    </form>
  <//>`;
}

const STEP_NAMES = {
  PlanJob: "Plan", RenderClips: "Render", RenderClip: "Render a clip", JoinVideo: "Join, validate and store",
  Refund: "Refund the quota",
};

export function VideoDetail({ id }) {
  const [job, setJob] = useState(null);
  const [steps, setSteps] = useState([]);
  const [error, setError] = useState(null);
  const path = "/v1/videos/" + encodeURIComponent(id);
  const seen = useRef("");
  const inFlight = useRef(false);
  const refresh = async () => {
    if (inFlight.current) return;
    inFlight.current = true;
    try {
      const j = await get(path);
      setJob(j);
      setError(null);
      // The workflow's steps are read again only when the job has moved.
      const mark = j.status + j.progress + j.attempts;
      if (mark !== seen.current) {
        seen.current = mark;
        const ev = await get(path + "/events").catch(() => null);
        if (ev && ev.history) setSteps(stepsOf(ev.history));
      }
    } catch (e) {
      setError(e);
    } finally {
      inFlight.current = false;
    }
  };
  useEffect(() => {
    refresh();
  }, [id]);
  useInterval(refresh, 1500, !!job && !terminal(job.status) && !error);
  const title = job ? "Video" : error && error.status === 404 ? "Video not found" : "Video";
  return html`<${Page} title=${title}>
    <${ErrorBox} error=${error} retry=${refresh} />
    ${!job && !error ? html`<${Loading} lines=${8} />` : null}
    ${job ? html`<${JobView} job=${job} steps=${steps} />` : null}
    ${job && job.status === "succeeded" ? html`<div class="card"><${Publish} job=${job} /></div>` : null}
    <p><a href="/videos">All videos</a></p>
  <//>`;
}

function stepsOf(history) {
  const out = [];
  for (const e of history) {
    if (!e.state || !e.type.endsWith("StateEntered") || !STEP_NAMES[e.state]) continue;
    const last = out[out.length - 1];
    if (last && last.state === e.state) continue;
    out.push({ state: e.state, at: e.timestamp });
  }
  return out;
}

function JobView({ job, steps }) {
  const r = job.routing || {};
  return html`<div class="grid two">
      <div class="card">
        <p><${Badge} status=${job.status} /> <span class="muted id">${job.id}</span></p>
        <div class="progress" role="progressbar" aria-label="Progress" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${job.progress}>
          <div class="progress-fill" style=${{ width: job.progress + "%" }}></div>
        </div>
        <p class="prompt">${job.prompt}</p>
        ${job.failure ? html`<p class="notice error" role="alert"><strong>Failed.</strong> ${job.failure}</p>` : null}
        <${Player} job=${job} />
        <h2>Workflow</h2>
        ${steps.length === 0
          ? html`<p class="muted">Waiting for the workflow to start…</p>`
          : html`<ol class="steps">${steps.map((s, i) => html`<li key=${i} class=${i === steps.length - 1 && !terminal(job.status) ? "current" : "done"}>
              ${STEP_NAMES[s.state]} <span class="muted small">${new Date(s.at).toLocaleTimeString()}</span></li>`)}</ol>`}
      </div>
      <div class="card">
        <h2>Cost and routing</h2>
        <dl class="facts">
          <dt>Provider</dt><dd>${job.provider || "—"} ${job.model ? html`<span class="muted">(${job.model})</span>` : null}</dd>
          <dt>Cost</dt><dd>${dollars(job.cost_cents)} of a ${dollars(job.budget_cents)} budget</dd>
          <dt>Attempts</dt><dd>${job.attempts}</dd>
          <dt>Length</dt><dd>${job.duration_s} s${r.clips ? ` in ${r.clips.length} clip${r.clips.length === 1 ? "" : "s"}` : ""}</dd>
          <dt>Narration</dt><dd>${narrationText(job.narration)}</dd>
          <dt>Why this provider</dt><dd>${r.reason || "—"}</dd>
          <dt>Created</dt><dd>${when(job.created_at)}</dd>
        </dl>
        ${job.degraded ? html`<p class="notice info">This is a storyboard preview: no provider of your plan's quality is set up here.</p>` : null}
        <h2>Platform checks</h2>
        <${Validation} v=${job.validation} />
      </div>
    </div>`;
}

function Player({ job }) {
  if (job.status !== "succeeded") return null;
  if (!job.video_url) {
    return html`<p class="notice error">The video is stored but cannot be played from here (${job.video_url_error || "no URL"}).</p>`;
  }
  return html`<figure class="player">
    <video controls playsinline preload="metadata" src=${job.video_url} aria-label="The finished video"></video>
    <figcaption><a class="button" href=${job.video_url} download=${job.id + ".mp4"}>Download MP4</a>
      ${job.captions ? html` Captions, for upload:
        <a href=${job.captions.vtt_url} download=${job.id + ".vtt"}>WebVTT</a> ·
        <a href=${job.captions.srt_url} download=${job.id + ".srt"}>SRT</a>` : null}</figcaption>
  </figure>`;
}

// `es, voice Lucia, 1.1×`, or what applies when the job named nothing.
function narrationText(n) {
  if (!n) return "the voice's defaults";
  const parts = [n.language, n.voice && "voice " + n.voice, n.speed && n.speed + "×"].filter(Boolean);
  return parts.length ? parts.join(", ") : "the voice's defaults";
}

// The audio track as the validator measured it.
function soundText(p) {
  if (!p.has_audio) return ", no audio";
  const a = p.audio;
  if (!a) return " with audio";
  const codec = a.codec === "aac_lc" ? "AAC" : a.codec;
  const loud = typeof a.lufs === "number" ? `, ${a.lufs.toFixed(1)} LUFS` : "";
  return ` with ${codec} sound (${a.sample_rate / 1000} kHz, ${a.channels === 2 ? "stereo" : a.channels + " channel"}${loud})`;
}

function Validation({ v }) {
  if (!v) return html`<p class="muted">Checked once the video is rendered.</p>`;
  const p = v.probe || {};
  return html`<table class="checks">
      <caption class="sr-only">Platform rules</caption>
      <thead><tr><th scope="col">Platform</th><th scope="col">Result</th></tr></thead>
      <tbody>${(v.platforms || []).map((x) => html`<tr key=${x.platform}><th scope="row">${platformName(x.platform)}</th>
        <td>${x.pass ? html`<${Badge} status="succeeded">passes<//>` : html`<${Badge} status="failed">fails<//> ${x.reasons.join("; ")}`}</td></tr>`)}</tbody>
    </table>
    <p class="muted small">${p.width}×${p.height}, ${p.fps} fps, ${Number(p.duration_s).toFixed(1)} s, ${p.video_codec}${soundText(p)}, ${(p.size_bytes / 1e6).toFixed(1)} MB</p>`;
}
