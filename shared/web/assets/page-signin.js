// Sign-in: the one-time link `viral up` prints, a pasted API key, or the OIDC provider.

import { html, useEffect, useState } from "./vendor/preact-htm.mjs";
import { getConfig, takeSignOutReason } from "./api.js";
import { finishOidc, signInWithKey, signInWithLink, startOidc } from "./auth.js";
import { navigate } from "./nav.js";
import { ErrorBox, Field } from "./ui.js";

export function SignIn({ next }) {
  const config = getConfig();
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [notice] = useState(takeSignOutReason);
  const [key, setKey] = useState("");

  // A sign-in link carries its one-time token in the fragment (never sent to a server or in
  // a Referer); it is removed from the address bar before it is used.
  useEffect(() => {
    const tryLink = () => {
      const m = location.hash.match(/^#token=(vs_[A-Za-z0-9_-]+)$/);
      if (!m) return;
      history.replaceState(null, "", location.pathname + location.search);
      setBusy(true);
      setError(null);
      signInWithLink(m[1]).then(
        () => navigate(next, true),
        (e) => {
          setError(e);
          setBusy(false);
        },
      );
    };
    tryLink();
    // A second link opened in this tab changes only the fragment: no new page load.
    addEventListener("hashchange", tryLink);
    return () => removeEventListener("hashchange", tryLink);
  }, []);

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await signInWithKey(key);
      setKey("");
      navigate(next, true);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return html`<main id="main" class="signin">
    <div class="card narrow">
      <h1 id="page-title" tabindex="-1"><img src="/assets/icon.svg" alt="" width="28" height="28" /> Sign in to viral</h1>
      ${notice ? html`<p class="notice info" role="status">${notice}</p>` : null}
      ${busy && !key ? html`<p role="status">Signing in…</p>` : null}
      <${ErrorBox} error=${error} />
      ${config.oidc
        ? html`<p><button type="button" class="primary wide" onClick=${() => startOidc(config.oidc, next).catch(setError)}>Sign in with your account</button></p>
            <p class="or">or</p>`
        : null}
      <form onSubmit=${submit} novalidate>
        <${Field} id="api-key" label="API key" hint="Paste a key (vk_live_…). It is exchanged for a 12-hour session and not kept by this page.">
          <input id="api-key" name="api-key" type="password" autocomplete="off" spellcheck="false" required
            aria-describedby="api-key-hint" value=${key} onInput=${(e) => setKey(e.target.value)} />
        <//>
        <button type="submit" class="primary" disabled=${busy || !key}>Sign in with the key</button>
      </form>
      ${config.sign_in_links
        ? html`<p class="hint">Running locally? <code>viral up</code> prints a sign-in link; <code>viral dashboard</code> prints a new one.</p>`
        : null}
      <p class="hint"><a href="/docs">API documentation</a></p>
    </div>
  </main>`;
}

export function OidcCallback() {
  const [error, setError] = useState(null);
  useEffect(() => {
    const config = getConfig();
    if (!config.oidc) {
      setError({ message: "This deployment has no sign-in provider.", code: "no_oidc" });
      return;
    }
    finishOidc(config.oidc, new URLSearchParams(location.search)).then((next) => navigate(next, true), setError);
  }, []);
  return html`<main id="main" class="signin"><div class="card narrow">
    <h1 id="page-title" tabindex="-1">Signing in…</h1>
    <${ErrorBox} error=${error} />
    ${error ? html`<p><a href="/signin">Back to sign-in</a></p>` : html`<p role="status">Finishing the sign-in with your provider.</p>`}
  </div></main>`;
}
