// Billing: plan and status, upgrade through Stripe Checkout, manage through the portal; the
// pages Checkout and the portal send people back to.

import { html, useState } from "./vendor/preact-htm.mjs";
import { get, post } from "./api.js";
import { Badge, ErrorBox, Loading, Page, day, useInterval, useLoad, when } from "./ui.js";

const PLANS = [
  ["starter", "Starter", "$49 / month"],
  ["pro", "Pro", "$149 / month"],
  ["agency", "Agency", "$499 / month"],
];

export function Billing() {
  const { data, error, loading, reload } = useLoad(() => get("/v1/billing"));
  const [busy, setBusy] = useState(null);
  const [actionError, setActionError] = useState(null);
  const go = (path, body) => async () => {
    setBusy(path);
    setActionError(null);
    try {
      const { url } = await post(path, body);
      location.assign(url);
    } catch (e) {
      setActionError(e);
      setBusy(null);
    }
  };
  return html`<${Page} title="Billing">
    <${ErrorBox} error=${error} retry=${reload} />
    ${loading && !data ? html`<${Loading} lines=${4} />` : data ? html`
      <div class="card"><${Status} b=${data} />
        ${data.billing_account ? html`<button type="button" onClick=${go("/v1/billing/portal")} disabled=${!!busy}>Manage billing</button>` : null}
      </div>
      <div class="card">
        <h2>Plans</h2>
        <ul class="plans">${PLANS.map(([id, name, price]) => html`<li key=${id} class=${data.plan === id ? "current" : ""}>
          <strong>${name}</strong> <span>${price}</span>
          ${data.plan === id && data.status
            ? html`<span class="muted">your plan</span>`
            : html`<button type="button" onClick=${go("/v1/billing/checkout", { plan: id })} disabled=${!!busy}>Choose ${name}</button>`}
        </li>`)}</ul>
        <${ErrorBox} error=${actionError} />
      </div>` : null}
  <//>`;
}

function Status({ b }) {
  return html`<h2>Your plan: ${b.plan}</h2>
    <p>${b.status ? html`<${Badge} status=${b.status} />` : html`<span class="muted">No subscription: the plan was set by an operator.</span>`}
      ${b.cancel_at_period_end ? html` <span class="muted">ends at the period's end</span>` : null}</p>
    ${b.current_period_end ? html`<p class="muted">Period ${day(b.current_period_start)} – ${day(b.current_period_end)}</p>` : null}
    ${b.grace_ends_at ? html`<p class="notice error">Payment failed: the plan stays until ${when(b.grace_ends_at)}.</p>` : null}`;
}

// Where Stripe Checkout returns: the subscription exists once Stripe's webhook has arrived,
// which can take a few seconds, so this page asks until it has.
export function BillingDone({ query }) {
  const session = query.get("session_id");
  const [b, setB] = useState(null);
  const [error, setError] = useState(null);
  const [tries, setTries] = useState(0);
  const done = b && b.status && ["active", "trialing"].includes(b.status);
  const giveUp = tries >= 60;
  useInterval(async () => {
    setTries((t) => t + 1);
    try {
      setB(await get("/v1/billing"));
      setError(null);
    } catch (e) {
      setError(e);
    }
  }, 1000, !done && !giveUp);
  return html`<${Page} title="Subscription">
    <div class="card" role="status" aria-live="polite">
      ${done
        ? html`<h2>You are on ${b.plan}.</h2><${Status} b=${b} /><p><a href="/">Go to the overview</a></p>`
        : giveUp
          ? html`<p>Payment is still being confirmed. This page stopped checking; <a href="/billing">see billing</a> in a minute.</p>`
          : html`<p><strong>Processing your payment…</strong> This takes a few seconds.</p>
              ${session ? html`<p class="muted small">Checkout session <code>${session}</code></p>` : null}`}
      <${ErrorBox} error=${error} />
    </div>
  <//>`;
}

