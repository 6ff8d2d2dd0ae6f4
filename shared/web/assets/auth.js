// Signing in: a one-time sign-in link, a pasted API key (both become a 12 h session key), or
// an OIDC provider with Authorization Code + PKCE (tokens kept in memory).

import { ApiError, api, getSession, post, setSession } from "./api.js";

export async function signInWithLink(token) {
  const s = await post("/v1/sessions", { sign_in_token: token }, { token: null });
  setSession({ token: s.token, key_id: s.key_id, expires_at: s.expires_at, kind: "session" }, true);
}

export async function signInWithKey(key) {
  const trimmed = key.trim();
  if (!/^vk_live_[A-Za-z0-9]{12}_[A-Za-z0-9]{32}$/.test(trimmed)) {
    throw new ApiError(400, "not_a_key", "That is not an API key: keys look like vk_live_ followed by 45 letters and digits.");
  }
  // The key itself is never kept: it buys a session key and is forgotten.
  const s = await post("/v1/sessions", {}, { token: trimmed });
  setSession({ token: s.token, key_id: s.key_id, expires_at: s.expires_at, kind: "session" }, true);
}

export async function signOut() {
  const s = getSession();
  if (s && s.kind === "session" && s.key_id) {
    // Ends the session key at the server too; signing out works even if this fails.
    try {
      await api("DELETE", "/v1/api-keys/" + encodeURIComponent(s.key_id));
    } catch {
      /* the session key expires by itself */
    }
  }
  setSession(null, false);
}

const b64url = (bytes) =>
  btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const PKCE = "viral.pkce";
const callback = () => location.origin + "/auth/callback";

export async function startOidc(oidc, next) {
  const verifier = random(32);
  const state = random(16);
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  // The verifier must survive the redirect; it is useless without the code and deleted on return.
  // `next`: the page to return to (e.g. /billing/done after Checkout).
  sessionStorage.setItem(PKCE, JSON.stringify({ verifier, state, next }));
  const u = new URL(oidc.authorization_endpoint);
  u.search = new URLSearchParams({
    response_type: "code",
    client_id: oidc.client_id,
    redirect_uri: callback(),
    scope: oidc.scope,
    state,
    code_challenge: b64url(new Uint8Array(digest)),
    code_challenge_method: "S256",
  }).toString();
  location.assign(u.toString());
}

export async function finishOidc(oidc, params) {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(PKCE) || "null");
  } catch {
    saved = null;
  }
  sessionStorage.removeItem(PKCE);
  if (params.get("error")) {
    throw new ApiError(400, "oidc_" + params.get("error"), params.get("error_description") || "The sign-in provider refused the sign-in.");
  }
  if (!saved || saved.state !== params.get("state") || !params.get("code")) {
    throw new ApiError(400, "oidc_state", "This sign-in was not started here or has expired. Sign in again.");
  }
  let r;
  try {
    r = await fetch(oidc.token_endpoint, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "authorization_code",
        code: params.get("code"),
        redirect_uri: callback(),
        client_id: oidc.client_id,
        code_verifier: saved.verifier,
      }),
    });
  } catch {
    throw new ApiError(0, "oidc_unreachable", "The sign-in provider could not be reached.");
  }
  const data = await r.json().catch(() => null);
  const token = data && data[oidc.token];
  if (!r.ok || typeof token !== "string") {
    throw new ApiError(r.status, "oidc_token", (data && (data.error_description || data.error)) || "The sign-in provider gave no token.");
  }
  const expires = new Date(Date.now() + 1000 * (Number(data.expires_in) || 3600)).toISOString();
  setSession({ token, expires_at: expires, kind: "oidc" }, false);
  // Only a path of this site (never `//elsewhere`).
  return typeof saved.next === "string" && /^\/(?!\/)/.test(saved.next) ? saved.next : "/";
}
