// Autopilot: set it (accounts, posts a day, daily budget, time zone, quiet hours, review),
// pause it at once, and follow its runs — what it saw, picked and why, what it cost, where it
// posted — with one-click approve or reject for runs that wait for a person. A link to
// `/autopilot?run=<id>` (the webhook's review page) opens that run.

import { html, useEffect, useState } from "./vendor/preact-htm.mjs";
import { get, post, put } from "./api.js";
import { PLATFORM_NAMES } from "./page-accounts.js";
import { Badge, Empty, ErrorBox, Field, Loading, Page, dollars, useInterval, useLoad, when } from "./ui.js";

const HOURS = Array.from({ length: 24 }, (_, h) => h);
const hh = (h) => String(h).padStart(2, "0") + ":00";
const RUN_TONE = { posted: "published", awaiting_review: "pending", skipped: "scheduled", rejected: "cancelled", stopped: "cancelled", started: "queued", posting: "uploading" };
const RUN_LABEL = { awaiting_review: "waiting for your approval" };
const moving = (r) => ["started", "rendering", "posting"].includes(r.status);

async function load() {
  const [settings, accounts] = await Promise.all([
    get("/v1/autopilot").catch((e) => (e.status === 404 ? null : Promise.reject(e))),
    get("/v1/accounts"),
  ]);
  return { settings, accounts: accounts.items };
}

export function Autopilot({ query }) {
  const data = useLoad(load);
  const runs = useLoad(() => get("/v1/autopilot/runs?limit=30"));
  const [notice, setNotice] = useState(null);
  const [error, setError] = useState(null);
  const [confirming, setConfirming] = useState(false);
  const d = data.data;
  const list = runs.data ? runs.data.items : null;
  // While it is on, new runs appear by themselves (one request every 5 s; faster while one
  // is under way).
  const on = d && d.settings && d.settings.enabled;
  useInterval(runs.reload, list && list.some(moving) ? 2500 : 5000, !!on || (!!list && list.some(moving)));
  const pause = async () => {
    setError(null);
    try {
      const r = await post("/v1/autopilot/pause");
      setConfirming(false);
      setNotice(`Autopilot is paused. ${r.cancelled_posts.length} scheduled post(s) taken back, ${r.stopped_runs.length} run(s) waiting for review ended.`);
      data.reload();
      runs.reload();
    } catch (e) {
      setError(e);
    }
  };
  // Once it is set up, the runs (and what waits for approval) come first.
  const runsCard = list
    ? html`<${Runs} runs=${list} accounts=${d ? d.accounts : []} focus=${query && query.get("run")} reload=${runs.reload} />`
    : runs.error ? null : html`<${Loading} />`;
  return html`<${Page} title="Autopilot" actions=${on ? (confirming
      ? html`<span class="confirm">Pause now? Nothing new is paid for after this.
          <button type="button" class="danger" onClick=${pause}>Pause autopilot</button>
          <button type="button" onClick=${() => setConfirming(false)}>Keep running</button></span>`
      : html`<button type="button" class="danger" onClick=${() => setConfirming(true)}>Pause…</button>`) : null}>
    <${ErrorBox} error=${data.error || runs.error || error} retry=${() => (data.reload(), runs.reload())} />
    ${notice ? html`<div class="notice ok" role="status"><p>${notice}</p></div>` : null}
    ${!d ? (data.error ? null : html`<${Loading} />`) : html`
      <p class="card" role="status"><${Badge} status=${on ? "active" : "muted"}>${on ? "on" : "off"}<//>
        ${on ? ` Autopilot is on: ${d.settings.posts_per_day} run(s) a day at ${d.settings.run_hours.map(hh).join(", ")} (${d.settings.timezone}), up to ${dollars(Math.round(d.settings.daily_budget_usd * 100))} a day.`
          : d.settings ? ` Autopilot is paused${d.settings.paused_at ? " since " + when(d.settings.paused_at) : ""}.` : " Autopilot is not set up yet."}</p>
      ${d.settings ? runsCard : null}
      <${Settings} current=${d.settings} accounts=${d.accounts} onSaved=${(s) => (setNotice(s.enabled ? "Saved: autopilot is on." : "Saved: autopilot is off."), data.reload(), runs.reload())} />
      ${d.settings ? null : runsCard}`}
  <//>`;
}

function Settings({ current, accounts, onSaved }) {
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const c = current || {};
  const [targets, setTargets] = useState(c.targets || []);
  const [perDay, setPerDay] = useState(c.posts_per_day || 2);
  const [budget, setBudget] = useState(c.daily_budget_usd !== undefined ? c.daily_budget_usd : 5);
  const [tz, setTz] = useState(c.timezone || zone);
  const q = c.quiet_hours || { start: 23, end: 7 };
  const [quiet, setQuiet] = useState(q.start !== q.end);
  const [start, setStart] = useState(q.start === q.end ? 23 : q.start);
  const [end, setEnd] = useState(q.start === q.end ? 7 : q.end);
  const [approval, setApproval] = useState(c.approval || "review");
  const [niche, setNiche] = useState(c.niche || "");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const save = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const body = {
        enabled: true, targets, posts_per_day: Number(perDay), daily_budget_usd: Number(budget), timezone: tz.trim(),
        quiet_hours: quiet ? { start: Number(start), end: Number(end) } : { start: 0, end: 0 }, approval,
      };
      if (niche.trim()) body.niche = niche.trim();
      // What this form does not show is kept as it was set (through the API).
      if (c.categories && c.categories.length) body.categories = c.categories;
      if (c.regions && c.regions.length) body.regions = c.regions;
      if (c.duration_s) body.duration_s = c.duration_s;
      onSaved(await put("/v1/autopilot", body));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const toggle = (id) => (e) => setTargets(e.target.checked ? [...targets, id] : targets.filter((x) => x !== id));
  const tiktok = accounts.some((a) => targets.includes(a.id) && a.platform === "tiktok");
  return html`<form class="card" onSubmit=${save}>
    <h2>Settings</h2>
    ${accounts.length === 0
      ? html`<${Empty} title="No connected accounts."><p>Connect one on <a href="/accounts">Accounts</a> (a sandbox channel needs no platform).</p><//>`
      : html`<fieldset>
          <legend>Post to (taken in turn)</legend>
          ${accounts.map((a) => html`<label class="choice" key=${a.id}><input type="checkbox" checked=${targets.includes(a.id)} onChange=${toggle(a.id)} />
            ${a.display_name} <span class="muted small">${PLATFORM_NAMES[a.platform] || a.platform}${a.status === "needs_reconnect" ? " · must be connected again" : ""}</span></label>`)}
        </fieldset>`}
    <div class="grid2">
      <${Field} id="ap-per-day" label="Posts a day" hint="1 to 12 runs, spread over the waking hours.">
        <input id="ap-per-day" type="number" min="1" max="12" required value=${perDay} aria-describedby="ap-per-day-hint" onInput=${(e) => setPerDay(e.target.value)} />
      <//>
      <${Field} id="ap-budget" label="Daily budget (US$)" hint="The most autopilot spends on videos in one day. The built-in renderer is free.">
        <input id="ap-budget" type="number" min="0" max="1000" step="0.01" required value=${budget} aria-describedby="ap-budget-hint" onInput=${(e) => setBudget(e.target.value)} />
      <//>
      <${Field} id="ap-tz" label="Time zone" hint="An IANA name, e.g. Europe/Paris.">
        <input id="ap-tz" type="text" maxlength="64" required value=${tz} aria-describedby="ap-tz-hint" onInput=${(e) => setTz(e.target.value)} />
      <//>
      <${Field} id="ap-niche" label="Niche (optional)" hint="What the channel is about; it steers the concepts.">
        <input id="ap-niche" type="text" maxlength="200" value=${niche} aria-describedby="ap-niche-hint" onInput=${(e) => setNiche(e.target.value)} />
      <//>
    </div>
    <fieldset>
      <legend>Quiet hours</legend>
      <label class="choice"><input type="checkbox" id="ap-quiet" checked=${quiet} onChange=${(e) => setQuiet(e.target.checked)} /> No runs and no posts between</label>
      <label class="inline">from <select aria-label="Quiet from" disabled=${!quiet} value=${start} onChange=${(e) => setStart(e.target.value)}>${HOURS.map((h) => html`<option key=${h} value=${h}>${hh(h)}</option>`)}</select></label>
      <label class="inline">to <select aria-label="Quiet until" disabled=${!quiet} value=${end} onChange=${(e) => setEnd(e.target.value)}>${HOURS.map((h) => html`<option key=${h} value=${h}>${hh(h)}</option>`)}</select></label>
    </fieldset>
    <fieldset>
      <legend>Before posting</legend>
      <label class="choice"><input type="radio" name="ap-approval" value="review" checked=${approval === "review"} onChange=${() => setApproval("review")} /> Wait for my approval</label>
      <label class="choice"><input type="radio" name="ap-approval" value="auto" checked=${approval === "auto"} onChange=${() => setApproval("auto")} /> Post by itself</label>
      ${tiktok ? html`<p class="hint">TikTok posts always wait for your approval: TikTok requires the creator's consent to each post.</p>` : null}
    </fieldset>
    <button type="submit" class="primary" disabled=${busy || targets.length === 0}>${busy ? "Saving…" : current && current.enabled ? "Save" : "Turn autopilot on"}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}

function Runs({ runs, accounts, focus, reload }) {
  useEffect(() => {
    const el = focus && document.getElementById("run-" + focus);
    if (el) el.scrollIntoView({ block: "center" });
  }, [focus, runs.length]);
  const name = (id) => {
    const a = accounts.find((x) => x.id === id);
    return a ? a.display_name : "a removed account";
  };
  return html`<div class="card">
    <h2>Runs</h2>
    ${runs.length === 0
      ? html`<${Empty} title="No runs yet."><p>Once autopilot is on, each run shows here: the trends, the concepts with what the learner expects, the pick and why, the cost and the post.</p><//>`
      : html`<ul class="rows runs">${runs.map((r) => html`<li key=${r.id} id=${"run-" + r.id} class=${focus === r.id ? "focused" : ""}>
          <p><${Badge} status=${RUN_TONE[r.status] || r.status}>${RUN_LABEL[r.status] || r.status.replace("_", " ")}<//>
            <strong> ${pickTitle(r)}</strong></p>
          <p class="row-meta small">${when(r.started_at)} · slot ${r.slot}${r.cost_cents !== null && r.cost_cents !== undefined ? " · cost " + dollars(r.cost_cents) : r.reserved_cents ? " · holds " + dollars(r.reserved_cents) : ""}
            ${r.placement ? html` · to ${name(r.placement.account_id)}${r.placement.schedule_at ? " at " + when(r.placement.schedule_at) : ""}` : null}
            ${r.job_id ? html` · <a href=${"/videos/" + r.job_id}>the video</a>` : null}
            ${r.posts.length ? html` · <a href="/posts">the post</a>` : null}</p>
          ${r.reason && r.status !== "awaiting_review" ? html`<p class="small break">${r.reason}</p>` : null}
          ${r.why ? html`<p class="small muted">Why this concept: ${r.why}</p>` : null}
          ${r.placement ? html`<p class="small muted">Why then: ${r.placement.why}</p>` : null}
          ${r.status === "awaiting_review" ? html`<${Review} run=${r} reload=${reload} />` : null}
          ${r.concepts.length ? html`<${Considered} run=${r} />` : null}
        </li>`)}</ul>`}
  </div>`;
}

// The concepts a run weighed, drawn only when asked for (a wide table).
function Considered({ run }) {
  const [open, setOpen] = useState(false);
  return html`<div>
    <button type="button" class="link small" aria-expanded=${open} onClick=${() => setOpen(!open)}>${open ? "Hide" : "Show"} the ${run.concepts.length} concepts it weighed</button>
    ${open ? html`<div class="table-scroll"><table>
      <caption class="sr-only">Concepts of run ${run.id}</caption>
      <thead><tr><th scope="col">Concept</th><th scope="col">Kind</th><th scope="col">Expected</th><th scope="col">Draw</th></tr></thead>
      <tbody>${run.concepts.map((c) => html`<tr key=${c.concept_id}>
        <th scope="row">${c.concept_id === run.pick ? html`<strong>${c.title}</strong> (picked)` : c.title}</th>
        <td class="small">${c.category} · ${c.format} · ${c.hook_style}</td>
        <td>${c.expected.toFixed(3)} ± ${c.sd.toFixed(3)}</td><td>${c.draw.toFixed(3)}</td></tr>`)}</tbody>
    </table></div>` : null}
  </div>`;
}

function pickTitle(r) {
  const c = r.concepts.find((x) => x.concept_id === r.pick);
  return c ? c.title : r.status === "skipped" ? "Skipped" : "Choosing a concept…";
}

function Review({ run, reload }) {
  const tiktok = run.placement && run.placement.platform === "tiktok";
  const [privacy, setPrivacy] = useState("");
  const [options, setOptions] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (!tiktok) return;
    get("/v1/accounts/" + encodeURIComponent(run.placement.account_id)).then(
      (a) => {
        setOptions((a.creator && a.creator.privacy_options) || []);
        if (a.creator_error) setError({ status: 409, message: "TikTok did not say who may see this post: " + ((a.creator_error.error && a.creator_error.error.message) || "no reason given") });
      },
      (e) => setError(e),
    );
  }, [run.id]);
  const act = (what) => async () => {
    setBusy(true);
    setError(null);
    try {
      await post("/v1/autopilot/runs/" + encodeURIComponent(run.id) + "/" + what, what === "approve" && privacy ? { privacy } : {});
      reload();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };
  return html`<div class="review">
    <p class="small">${tiktok
      ? "TikTok requires the creator's consent to each post: choose who can see it, then approve."
      : "Autopilot is set to wait for your approval before it posts."}</p>
    ${tiktok ? html`<${Field} id=${"privacy-" + run.id} label="Who can see it on TikTok">
        <select id=${"privacy-" + run.id} required value=${privacy} onChange=${(e) => setPrivacy(e.target.value)}>
          <option value="">Choose…</option>
          ${(options || []).map((o) => html`<option key=${o} value=${o}>${o}</option>`)}
        </select><//>` : null}
    <button type="button" class="primary" disabled=${busy || (tiktok && !privacy)} onClick=${act("approve")}>Approve and post</button>
    <button type="button" disabled=${busy} onClick=${act("reject")}>Reject</button>
    <${ErrorBox} error=${error} />
  </div>`;
}
