//! Connecting an account: OAuth 2 Authorization Code with PKCE (S256). The `state` the
//! platform carries back is sealed by the token vault (authenticated encryption: it cannot be
//! forged or read), names the tenant, the platform, the PKCE verifier and where the browser
//! goes afterwards, expires after [`STATE_TTL`], and works once (its nonce is consumed).
//! The sandbox connects with one call.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::clock::{Clock, Timestamp};
use crate::domain::account::{Account, Platform, PlatformProfile};
use crate::domain::keys;
use crate::error::{Error, Result};
use crate::ids::{new_id, random_bytes};
use crate::ports::{
    Cond, Item, ItemStore, Publisher, SecretString, StoreError, TokenVault, Tokens, VaultError,
};
use crate::service::accounts;

/// How long a connect may take, from the authorize URL to the callback.
pub const STATE_TTL: Duration = Duration::from_secs(15 * 60);
const STATE_CONTEXT: &str = "oauth-state";

#[derive(Serialize, Deserialize)]
struct State {
    tenant_id: String,
    platform: String,
    nonce: String,
    verifier: String,
    return_to: Option<String>,
    expires_at: i64,
    /// SHA-256 of the cookie the browser that started the connect holds: only that browser
    /// can finish it, so a link sent to someone else cannot bring their account here.
    #[serde(default)]
    browser: Option<String>,
}

fn nonce_sk(nonce: &str) -> String {
    format!("OAUTH#{nonce}")
}

/// Where a platform sends the browser back: one URL per platform, registered with its app.
pub fn callback_url(public_url: &str, platform: Platform) -> String {
    format!(
        "{}/oauth/{}/callback",
        public_url.trim_end_matches('/'),
        platform.as_str()
    )
}

/// A new browser binding: a random value the starting browser keeps in a cookie.
pub fn new_browser_binding() -> String {
    URL_SAFE_NO_PAD.encode(random_bytes::<32>())
}

/// PKCE S256: the challenge of a verifier.
pub fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What connecting needs: the store, the vault that seals the state and the tokens, the
/// clock, and the public URL the platforms call back on.
pub struct Connector<'a> {
    pub store: &'a dyn ItemStore,
    pub vault: &'a dyn TokenVault,
    pub clock: &'a dyn Clock,
    pub public_url: &'a str,
}

/// Begins a connect: the platform's authorize URL, with a sealed single-use state.
pub async fn start(
    c: &Connector<'_>,
    publisher: &dyn Publisher,
    tenant_id: &str,
    return_to: Option<String>,
    browser_binding: Option<&str>,
) -> Result<String> {
    let (store, vault, clock, public_url) = (c.store, c.vault, c.clock, c.public_url);
    let now = clock.now();
    let expires = now.plus(STATE_TTL);
    let nonce = new_id("oauth");
    let verifier = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    let state = State {
        tenant_id: tenant_id.to_owned(),
        platform: publisher.platform().as_str().to_owned(),
        nonce: nonce.clone(),
        verifier: verifier.clone(),
        return_to,
        expires_at: expires.millis(),
        browser: browser_binding.map(|b| hex::encode(Sha256::digest(b.as_bytes()))),
    };
    let text = serde_json::to_string(&state).map_err(|e| Error::Invalid(e.to_string()))?;
    let sealed = vault.seal(&SecretString::new(text), STATE_CONTEXT).await?;
    let mut pending = Item::new(keys::tenant_pk(tenant_id), nonce_sk(&nonce))
        .with("platform", state.platform.as_str())
        .with("created_at", now.millis());
    pending.expires_at = Some(expires.secs());
    store.put(pending, Cond::Absent).await?;
    let url = publisher
        .authorize_url(
            &sealed,
            &pkce_challenge(&verifier),
            &callback_url(public_url, publisher.platform()),
        )
        .await?;
    Ok(url)
}

/// What a finished connect made.
pub struct Finished {
    pub account: Account,
    pub return_to: Option<String>,
}

fn bad_state(why: &str) -> Error {
    Error::Forbidden {
        code: "oauth_state_invalid",
        message: format!("this connect link is not valid: {why}; start the connect again"),
    }
}

/// Finishes a connect from the platform's callback: checks the state (sealed by us, for this
/// platform, not expired, not used before), trades the code for tokens and stores the account.
pub async fn finish(
    c: &Connector<'_>,
    publisher: &dyn Publisher,
    code: &str,
    sealed_state: &str,
    browser_binding: Option<&str>,
) -> Result<Finished> {
    let (store, vault, clock, public_url) = (c.store, c.vault, c.clock, c.public_url);
    let text = match vault.open(sealed_state, STATE_CONTEXT).await {
        Ok(t) => t,
        Err(VaultError::Unreadable) => return Err(bad_state("it was not issued here")),
        Err(e) => return Err(e.into()),
    };
    let state: State =
        serde_json::from_str(text.expose()).map_err(|_| bad_state("it is damaged"))?;
    if state.platform != publisher.platform().as_str() {
        return Err(bad_state("it was issued for another platform"));
    }
    if Timestamp(state.expires_at) < clock.now() {
        return Err(bad_state("it expired"));
    }
    if let Some(expected) = &state.browser {
        let held = browser_binding.map(|b| hex::encode(Sha256::digest(b.as_bytes())));
        if held.as_deref().map(str::as_bytes) != Some(expected.as_bytes()) {
            return Err(bad_state("it was started in another browser"));
        }
    }
    let pk = keys::tenant_pk(&state.tenant_id);
    match store
        .delete(&pk, &nonce_sk(&state.nonce), Cond::Exists)
        .await
    {
        Ok(()) => {}
        Err(StoreError::ConditionFailed { .. }) => {
            return Err(bad_state("it was used already"));
        }
        Err(e) => return Err(e.into()),
    }
    let (profile, tokens) = publisher
        .exchange_code(
            code,
            &state.verifier,
            &callback_url(public_url, publisher.platform()),
        )
        .await?;
    // Users may untick scopes on the consent page: an account that cannot post is refused
    // now, not discovered at its first post.
    if let Some(needed) = publisher.publish_scope()
        && !tokens.scopes.is_empty()
        && !tokens.scopes.iter().any(|s| s == needed)
    {
        // The grant it did give is given back (best effort).
        if let Err(e) = publisher
            .revoke(Some(&tokens.access), tokens.refresh.as_ref())
            .await
        {
            tracing::warn!(error = %e, "could not revoke a grant without the right to post");
        }
        return Err(Error::Forbidden {
            code: "scope_not_granted",
            message: format!(
                "{} did not grant the right to post ({needed}); connect again and allow it",
                publisher.platform().as_str()
            ),
        });
    }
    let account = accounts::connect(
        store,
        vault,
        clock,
        &state.tenant_id,
        publisher.platform(),
        profile,
        tokens,
    )
    .await?;
    Ok(Finished {
        account,
        return_to: state.return_to,
    })
}

/// Sandbox "tokens": random and never expiring; the account needs something to seal.
pub fn sandbox_tokens() -> Tokens {
    Tokens {
        access: SecretString::new(new_id("sbxtok")),
        refresh: None,
        access_expires_at: None,
        refresh_expires_at: None,
        scopes: vec!["sandbox.publish".into()],
    }
}

/// Connects a new sandbox channel named `name` (no OAuth: it is ours).
pub async fn sandbox(
    store: &dyn ItemStore,
    vault: &dyn TokenVault,
    clock: &dyn Clock,
    tenant_id: &str,
    name: &str,
) -> Result<Account> {
    let name = crate::domain::tenant::validate_name("name", name)?;
    let profile = PlatformProfile {
        user_id: new_id("sbxuser"),
        display_name: name,
        avatar_url: None,
    };
    accounts::connect(
        store,
        vault,
        clock,
        tenant_id,
        Platform::Sandbox,
        profile,
        sandbox_tokens(),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_the_unpadded_base64url_sha256_of_the_verifier() {
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mJ92K9Nu1h0SMGHSKuW0TpamLDGj8k"),
            // Computed independently: base64.urlsafe_b64encode(sha256(verifier)), padding dropped.
            "sCLv4H_o9Q9kdRc8WqH2Yrdve_BhkA-Nu-nHtzuDby4"
        );
        assert_eq!(
            callback_url("https://api.example.com/", Platform::Tiktok),
            "https://api.example.com/oauth/tiktok/callback"
        );
    }
}
