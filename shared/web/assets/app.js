// The shell: configuration, the sign-in gate, navigation and the router.

import { html, render, useEffect, useState } from "./vendor/preact-htm.mjs";
import { getSession, loadConfig, onSession, restoreSession } from "./api.js";
import { signOut } from "./auth.js";
import { navigate } from "./nav.js";
import { ErrorBox } from "./ui.js";
import { SignIn, OidcCallback } from "./page-signin.js";
import { Overview } from "./page-overview.js";
import { Concepts, ConceptDetail } from "./page-concepts.js";
import { Videos, NewVideo, VideoDetail } from "./page-videos.js";
import { Providers } from "./page-providers.js";
import { Insights } from "./page-insights.js";
import { Billing, BillingDone } from "./page-billing.js";
import { Keys } from "./page-keys.js";
import { Docs } from "./page-docs.js";
import { Accounts } from "./page-accounts.js";
import { Posts } from "./page-posts.js";
import { Analytics } from "./page-analytics.js";
import { Webhooks } from "./page-webhooks.js";
import { Autopilot } from "./page-autopilot.js";
import { Settings } from "./page-settings.js";

const NAV = [
  ["/", "Overview"],
  ["/concepts", "Concepts"],
  ["/videos", "Videos"],
  ["/posts", "Posts"],
  ["/autopilot", "Autopilot"],
  ["/accounts", "Accounts"],
  ["/providers", "Providers"],
  ["/analytics", "Analytics"],
  ["/insights", "Insights"],
  ["/billing", "Billing"],
  ["/keys", "API keys"],
  ["/webhooks", "Webhooks"],
  ["/settings", "Settings"],
  ["/docs", "API docs"],
];
// The pages the next releases add; listed so people can see where the product is going.
const SOON = [];

const ROUTES = [
  [/^\/(overview|dashboard)?$/, Overview],
  [/^\/concepts$/, Concepts],
  [/^\/concepts\/([^/]+)$/, ConceptDetail],
  [/^\/videos$/, Videos],
  [/^\/videos\/new$/, NewVideo],
  [/^\/videos\/([^/]+)$/, VideoDetail],
  [/^\/posts$/, Posts],
  [/^\/autopilot$/, Autopilot],
  [/^\/accounts$/, Accounts],
  [/^\/providers$/, Providers],
  [/^\/analytics$/, Analytics],
  [/^\/insights$/, Insights],
  [/^\/billing$/, Billing],
  [/^\/billing\/done$/, BillingDone],
  [/^\/keys$/, Keys],
  [/^\/webhooks$/, Webhooks],
  [/^\/settings$/, Settings],
  [/^\/docs$/, Docs],
];
const PUBLIC = [/^\/docs$/];

function usePath() {
  const [loc, setLoc] = useState(location.pathname + location.search);
  useEffect(() => {
    const f = () => setLoc(location.pathname + location.search);
    addEventListener("popstate", f);
    addEventListener("viral:navigate", f);
    return () => {
      removeEventListener("popstate", f);
      removeEventListener("viral:navigate", f);
    };
  }, []);
  return loc;
}

// Same-origin links move inside the app without a reload.
document.addEventListener("click", (e) => {
  const a = e.target.closest && e.target.closest("a[href]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  if (a.origin !== location.origin || a.target || a.hasAttribute("download") || a.pathname.startsWith("/media/")) return;
  // In-page anchors (the skip link) keep their native behaviour.
  if (a.getAttribute("href").startsWith("#")) return;
  if (a.pathname.startsWith("/v1/") || a.pathname.startsWith("/openapi")) return;
  e.preventDefault();
  navigate(a.pathname + a.search);
});

function Nav({ path }) {
  const here = path.split("?")[0];
  const current = (href) => (href === "/" ? /^\/(overview|dashboard)?$/.test(here) : here === href || here.startsWith(href + "/"));
  return html`<nav class="nav" aria-label="Main">
    <ul>
      ${NAV.map(([href, label]) => html`<li key=${href}>
        <a href=${href} aria-current=${current(href) ? "page" : undefined}>${label}</a></li>`)}
    </ul>
    ${SOON.length ? html`<p class="soon-title" id="soon">Coming next</p>
    <ul class="soon" aria-labelledby="soon">
      ${SOON.map((s) => html`<li key=${s}><span aria-disabled="true">${s}</span></li>`)}
    </ul>` : null}
  </nav>`;
}

function Shell({ path, children }) {
  const s = getSession();
  return html`<a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <a class="brand" href="/"><img src="/assets/icon.svg" alt="" width="24" height="24" /> viral</a>
      ${s
        ? html`<button type="button" class="link" onClick=${() => signOut().then(() => navigate("/signin"))}>Sign out</button>`
        : html`<a href="/signin">Sign in</a>`}
    </header>
    <div class="layout">
      <${Nav} path=${path} />
      <main id="main" tabindex="-1">${children}</main>
    </div>`;
}

function Route({ path }) {
  const pathname = path.split("?")[0];
  for (const [re, Page] of ROUTES) {
    const m = pathname.match(re);
    if (!m) continue;
    let id = m[1];
    try {
      id = id && decodeURIComponent(id);
    } catch {
      break; // a malformed escape: no such page
    }
    return html`<${Page} key=${pathname} id=${id} query=${new URLSearchParams(location.search)} />`;
  }
  return html`<section class="page"><h1 id="page-title" tabindex="-1">Page not found</h1>
    <p>There is no page at <code>${pathname}</code>. <a href="/">Go to the overview</a>.</p></section>`;
}

function Redirect({ to }) {
  useEffect(() => navigate(to, true), [to]);
  return null;
}

function App() {
  const path = usePath();
  const [session, setSession] = useState(getSession());
  useEffect(() => onSession(setSession), []);
  // Each page change moves focus to the new heading, so screen readers announce it.
  useEffect(() => {
    const h = document.getElementById("page-title");
    if (h && document.activeElement !== h && path !== "/signin") h.focus({ preventScroll: true });
    document.title = (h ? h.textContent + " · " : "") + "viral";
  });
  const pathname = path.split("?")[0];
  if (pathname === "/auth/callback") return html`<${OidcCallback} />`;
  const open = PUBLIC.some((re) => re.test(pathname));
  if (pathname === "/signin") {
    // A sign-in link always counts (it may be another tenant's); otherwise a signed-in
    // visitor has nothing to do here.
    if (session && !location.hash.startsWith("#token=")) return html`<${Redirect} to="/" />`;
    return html`<${SignIn} next="/" />`;
  }
  if (!session && !open) return html`<${SignIn} next=${path} />`;
  return html`<${Shell} path=${path}><${Route} path=${path} /><//>`;
}

async function start() {
  const root = document.getElementById("app");
  try {
    await loadConfig();
  } catch (e) {
    render(html`<main class="page"><${ErrorBox} error=${e} /></main>`, root);
    return;
  }
  restoreSession();
  root.textContent = "";
  render(html`<${App} />`, root);
}

start();
