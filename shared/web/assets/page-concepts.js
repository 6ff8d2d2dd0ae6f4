// Concepts: write a batch from trends (or topics), list them, read one, make a video, and
// report how a published one did.

import { html, useState } from "./vendor/preact-htm.mjs";
import { get, post } from "./api.js";
import { navigate } from "./nav.js";
import { Empty, ErrorBox, Field, Loading, Page, useInterval, useLoad, uuid, webUrl } from "./ui.js";

export function Concepts() {
  const [items, setItems] = useState(null);
  const [cursor, setCursor] = useState(null);
  const first = useLoad(async () => {
    const page = await get("/v1/concepts?limit=20");
    setItems(page.items);
    setCursor(page.next_cursor);
    return page;
  });
  const more = async () => {
    const page = await get("/v1/concepts?limit=20&cursor=" + encodeURIComponent(cursor));
    setItems([...items, ...page.items]);
    setCursor(page.next_cursor);
  };
  const written = (batch) => {
    setItems([...batch.concepts, ...(items || [])]);
  };
  return html`<${Page} title="Concepts">
    <${Generate} onWritten=${written} />
    <div class="card">
      <h2>Your concepts</h2>
      <${ErrorBox} error=${first.error} retry=${first.reload} />
      ${items === null
        ? first.error ? null : html`<${Loading} />`
        : items.length === 0
          ? html`<${Empty} title="No concepts yet."><p>Write a batch above: five ideas from today's trends, each with a hook, timed beats and a predicted score.</p><//>`
          : html`<ul class="rows">${items.map((c) => html`<${ConceptRow} key=${c.id} c=${c} />`)}</ul>
              ${cursor ? html`<button type="button" onClick=${more}>Load more</button>` : null}`}
    </div>
  <//>`;
}

function ConceptRow({ c }) {
  const trend = c.trends && c.trends[0];
  return html`<li>
    <a href=${"/concepts/" + c.id}>${c.title}</a>
    <span class="row-meta">
      <${Score} c=${c} /> · ${c.category} · ${c.format.replace(/_/g, " ")}
      ${trend ? html` · trend: ${webUrl(trend.url) ? html`<a href=${webUrl(trend.url)} rel="noopener noreferrer" target="_blank">${trend.source}</a>` : trend.source}` : null}
    </span>
  </li>`;
}

function Score({ c }) {
  const sd = c.predicted_score_uncertainty;
  return html`<span class="score" title="Predicted score, 0–100">score ${c.predicted_score}${sd != null ? html` ± ${sd}` : null}</span>`;
}

function Generate({ onWritten }) {
  const [form, setForm] = useState({ topics: "", niche: "", category: "", region: "", count: 5 });
  const [busy, setBusy] = useState(false);
  const [elapsed, setElapsed] = useState(0);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  useInterval(() => setElapsed((s) => s + 1), 1000, busy);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    const body = { count: Number(form.count) };
    const topics = form.topics.split(",").map((t) => t.trim()).filter(Boolean);
    if (topics.length) body.topics = topics;
    if (form.niche.trim()) body.niche = form.niche.trim();
    if (form.category.trim()) body.category = form.category.trim().toLowerCase();
    if (form.region.trim()) body.region = form.region.trim().toUpperCase();
    setBusy(true);
    setElapsed(0);
    setError(null);
    setDone(null);
    try {
      const batch = await post("/v1/concepts", body, { idempotencyKey: uuid() });
      setDone(batch);
      onWritten(batch);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="card" onSubmit=${submit} aria-busy=${busy}>
    <h2>Write concepts</h2>
    <div class="form-grid">
      <${Field} id="topics" label="Topics" hint="Up to 5, separated by commas. Leave empty to use today's trends.">
        <input id="topics" value=${form.topics} onInput=${set("topics")} aria-describedby="topics-hint" placeholder="octopus sleep, cold brew" />
      <//>
      <${Field} id="niche" label="Niche or brand line" hint="Optional, at most 200 characters.">
        <input id="niche" maxlength="200" value=${form.niche} onInput=${set("niche")} aria-describedby="niche-hint" />
      <//>
      <${Field} id="category" label="Trend category" hint="Optional, e.g. science.">
        <input id="category" value=${form.category} onInput=${set("category")} aria-describedby="category-hint" pattern="[a-z-]{1,40}" />
      <//>
      <${Field} id="region" label="Region" hint="Two letters, e.g. US.">
        <input id="region" value=${form.region} onInput=${set("region")} aria-describedby="region-hint" maxlength="2" />
      <//>
      <${Field} id="count" label="How many">
        <input id="count" type="number" min="1" max="10" value=${form.count} onInput=${set("count")} />
      <//>
    </div>
    <button type="submit" class="primary" disabled=${busy}>${busy ? "Writing…" : "Write concepts"}</button>
    <p class="status-line" role="status" aria-live="polite">
      ${busy ? `Reading trends and writing concepts… ${elapsed} s` : done ? `Wrote ${done.concepts.length} concepts (${done.writer}, trends: ${done.trend_source}).` : ""}
    </p>
    <${ErrorBox} error=${error} />
  </form>`;
}

export function ConceptDetail({ id }) {
  const { data: c, error, loading, reload } = useLoad(() => get("/v1/concepts/" + encodeURIComponent(id)), [id]);
  return html`<${Page} title=${c ? c.title : error && error.status === 404 ? "Concept not found" : "Concept"}
      actions=${c ? html`<button type="button" class="primary" onClick=${() => navigate("/videos/new?concept=" + c.id)}>Make video</button>` : null}>
    <${ErrorBox} error=${error} retry=${reload} />
    ${loading && !c ? html`<${Loading} lines=${8} />` : c ? html`<${ConceptBody} c=${c} />` : null}
    <p><a href="/concepts">All concepts</a></p>
  <//>`;
}

function ConceptBody({ c }) {
  return html`<div class="card">
      <p class="hook">“${c.hook}”</p>
      <p><${Score} c=${c} /> · ${c.category} · ${c.format.replace(/_/g, " ")} · ${c.hook_style.replace(/_/g, " ")} hook · ${c.duration_s} s</p>
      <h2>Beats</h2>
      <${Timeline} c=${c} />
      <h2>Caption</h2>
      <p>${c.caption}</p>
      <p class="tags">${c.hashtags.map((t) => html`<span class="tag" key=${t}>${t}</span>`)}</p>
      <h2>Why</h2>
      <p>${c.rationale}</p>
      <h2>Trends</h2>
      <ul>${c.trends.map((t, i) => html`<li key=${i}>${webUrl(t.url) ? html`<a href=${webUrl(t.url)} rel="noopener noreferrer" target="_blank">${t.title}</a>` : t.title} <span class="muted">(${t.source})</span></li>`)}</ul>
      <h2>Visual prompt</h2>
      <p class="muted">${c.visual_prompt}</p>
    </div>
    <${Feedback} c=${c} />`;
}

function Timeline({ c }) {
  const total = c.duration_s || 15;
  return html`<div class="timeline" aria-hidden="true">
      <div class="beat hook-beat" style=${{ left: "0%", width: (100 * (c.beats[0] ? c.beats[0].start_s : 2)) / total + "%" }}>hook</div>
      ${c.beats.map((b, i) => html`<div class="beat" key=${i} style=${{ left: (100 * b.start_s) / total + "%", width: (100 * b.duration_s) / total + "%" }}>${i + 1}</div>`)}
    </div>
    <ol class="beats">
      ${c.beats.map((b, i) => html`<li key=${i}><span class="muted small">${b.start_s.toFixed(1)}–${(b.start_s + b.duration_s).toFixed(1)} s</span> ${b.text}</li>`)}
    </ol>`;
}

function Feedback({ c }) {
  const [form, setForm] = useState({ platform: "tiktok", views: "", likes: "", comments: "", shares: "", saves: "", completion_rate: "" });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [result, setResult] = useState(null);
  const set = (k) => (e) => setForm({ ...form, [k]: e.target.value });
  const submit = async (e) => {
    e.preventDefault();
    const body = { platform: form.platform };
    for (const k of ["views", "likes", "comments", "shares", "saves"]) body[k] = Number(form[k] || 0);
    if (form.completion_rate !== "") body.completion_rate = Number(form.completion_rate) / 100;
    setBusy(true);
    setError(null);
    try {
      setResult(await post("/v1/concepts/" + c.id + "/feedback", body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const num = (k, label) => html`<${Field} id=${"fb-" + k} label=${label}>
    <input id=${"fb-" + k} type="number" min="0" step="1" inputmode="numeric" value=${form[k]} onInput=${set(k)} />
  <//>`;
  return html`<form class="card" onSubmit=${submit}>
    <h2>How did it do?</h2>
    <p class="muted">After posting, report the numbers; the learner uses them for the next concepts.</p>
    <div class="form-grid">
      <${Field} id="fb-platform" label="Platform">
        <select id="fb-platform" value=${form.platform} onChange=${set("platform")}>
          <option value="tiktok">TikTok</option>
          <option value="youtube_shorts">YouTube Shorts</option>
          <option value="instagram_reels">Instagram Reels</option>
        </select>
      <//>
      ${num("views", "Views")} ${num("likes", "Likes")} ${num("comments", "Comments")} ${num("shares", "Shares")} ${num("saves", "Saves")}
      <${Field} id="fb-completion_rate" label="Completion (%)">
        <input id="fb-completion_rate" type="number" min="0" max="100" step="any" value=${form.completion_rate} onInput=${set("completion_rate")} />
      <//>
    </div>
    <button type="submit" disabled=${busy}>${busy ? "Sending…" : "Send feedback"}</button>
    <${ErrorBox} error=${error} />
    ${result ? html`<p class="notice ok" role="status">Recorded: engagement score ${Number(result.score).toFixed(3)} (predicted ${Number(result.predicted).toFixed(3)}).</p>` : null}
  </form>`;
}

