// Webhooks: add an endpoint for events (its signing secret shown once, with a copy button),
// see each endpoint's recent deliveries with the endpoint's answer, retry a failed one, and
// delete an endpoint with a confirmation.

import { html, useState } from "./vendor/preact-htm.mjs";
import { del, get, post } from "./api.js";
import { Badge, CopyButton, Empty, ErrorBox, Field, Loading, Page, useLoad, when } from "./ui.js";

const EVENTS = [
  ["video.succeeded", "A video is ready"],
  ["video.failed", "A video failed"],
  ["post.published", "A post went live"],
  ["post.failed", "A post failed"],
  ["account.needs_reconnect", "An account must be connected again"],
  ["autopilot.run_finished", "An autopilot run finished or waits for approval"],
  ["quota.low", "A fifth or less of the quota is left"],
];

export function Webhooks() {
  const list = useLoad(() => get("/v1/webhooks"));
  const [created, setCreated] = useState(null);
  const [confirming, setConfirming] = useState(null);
  const [open, setOpen] = useState(null);
  const [error, setError] = useState(null);
  const remove = async (w) => {
    setError(null);
    try {
      await del("/v1/webhooks/" + encodeURIComponent(w.id));
      setConfirming(null);
      list.reload();
    } catch (e) {
      setError(e);
    }
  };
  const hooks = list.data ? list.data.items : null;
  return html`<${Page} title="Webhooks">
    <${Create} onCreated=${(w) => (setCreated(w), list.reload())} />
    ${created ? html`<div class="card notice ok" role="status">
        <p><strong>Endpoint added.</strong> Copy its signing secret now: it is shown this once. Check each delivery's <code>Viral-Signature</code> with it (see <a href="/docs">API docs</a>).</p>
        <p class="secret"><code id="new-secret">${created.secret}</code> <${CopyButton} text=${created.secret} label="Copy secret" /></p>
        <button type="button" class="link" onClick=${() => setCreated(null)}>I have stored it</button>
      </div>` : null}
    <div class="card">
      <h2>Endpoints</h2>
      <${ErrorBox} error=${list.error || error} retry=${list.reload} />
      ${!hooks ? (list.error ? null : html`<${Loading} />`) : hooks.length === 0
        ? html`<${Empty} title="No endpoints yet."><p>Add one above to hear about videos, posts and accounts as they change.</p><//>`
        : html`<ul class="rows">${hooks.map((w) => html`<li key=${w.id}>
            <p><strong class="break">${w.url}</strong></p>
            <p class="row-meta small">${w.events.join(", ")} · added ${when(w.created_at)}</p>
            <p>
              <button type="button" aria-expanded=${open === w.id} onClick=${() => setOpen(open === w.id ? null : w.id)}>${open === w.id ? "Hide deliveries" : "Deliveries"}</button>
              ${confirming === w.id
                ? html` <span class="confirm">Delete this endpoint? Pending deliveries will not be sent.
                    <button type="button" class="danger" onClick=${() => remove(w)}>Delete</button>
                    <button type="button" onClick=${() => setConfirming(null)}>Keep</button></span>`
                : html` <button type="button" onClick=${() => setConfirming(w.id)} aria-label=${"Delete endpoint " + w.url}>Delete</button>`}
            </p>
            ${open === w.id ? html`<${Deliveries} hook=${w} />` : null}
          </li>`)}</ul>`}
    </div>
  <//>`;
}

function Deliveries({ hook }) {
  const list = useLoad(() => get("/v1/webhooks/" + encodeURIComponent(hook.id) + "/deliveries?limit=20"), [hook.id]);
  const [error, setError] = useState(null);
  const retry = async (d) => {
    setError(null);
    try {
      await post("/v1/webhooks/" + encodeURIComponent(hook.id) + "/deliveries/" + encodeURIComponent(d.id) + "/retry");
      list.reload();
    } catch (e) {
      setError(e);
    }
  };
  const items = list.data ? list.data.items : null;
  return html`<div class="deliveries">
    <${ErrorBox} error=${list.error || error} retry=${list.reload} />
    ${!items ? (list.error ? null : html`<${Loading} lines=${2} />`) : items.length === 0
      ? html`<p class="muted">No deliveries yet: they appear when a subscribed event happens.</p>`
      : html`<div class="table-scroll"><table>
          <caption class="sr-only">Recent deliveries to ${hook.url}</caption>
          <thead><tr><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Last answer</th><th scope="col">When</th><th scope="col"><span class="sr-only">Actions</span></th></tr></thead>
          <tbody>${items.map((d) => html`<tr key=${d.id}>
            <th scope="row">${d.event_type}</th>
            <td><${Badge} status=${d.status} /></td>
            <td>${d.attempts}</td>
            <td class="small">${d.last_status ? "HTTP " + d.last_status : d.last_error || "—"}</td>
            <td class="small">${d.status === "pending" && d.next_at ? "next " + when(d.next_at) : when(d.delivered_at || d.created_at)}</td>
            <td>${d.status === "delivered" ? null : html`<button type="button" onClick=${() => retry(d)} aria-label=${"Send the " + d.event_type + " delivery again"}>Send again</button>`}</td>
          </tr>`)}</tbody></table></div>`}
  </div>`;
}

function Create({ onCreated }) {
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState(["video.succeeded", "post.published", "post.failed"]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onCreated(await post("/v1/webhooks", { url: url.trim(), events }));
      setUrl("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const toggle = (ev) => (e) => setEvents(e.target.checked ? [...events, ev] : events.filter((x) => x !== ev));
  return html`<form class="card" onSubmit=${submit}>
    <h2>Add an endpoint</h2>
    <${Field} id="hook-url" label="URL" hint="An https address on the public internet; each delivery is a signed JSON POST.">
      <input id="hook-url" type="url" maxlength="2048" required placeholder="https://example.com/viral-events" value=${url} aria-describedby="hook-url-hint" onInput=${(e) => setUrl(e.target.value)} />
    <//>
    <fieldset>
      <legend>Events</legend>
      ${EVENTS.map(([ev, label]) => html`<label class="choice" key=${ev}><input type="checkbox" checked=${events.includes(ev)} onChange=${toggle(ev)} /> ${label} <code class="small">${ev}</code></label>`)}
    </fieldset>
    <button type="submit" class="primary" disabled=${busy || !url.trim() || events.length === 0}>${busy ? "Adding…" : "Add endpoint"}</button>
    <${ErrorBox} error=${error} />
  </form>`;
}
