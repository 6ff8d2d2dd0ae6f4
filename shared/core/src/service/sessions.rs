//! Dashboard sessions: short-lived keys a browser holds instead of a long-lived API key.
//!
//! A session starts in one of two ways: from a one-time sign-in token (`viral up` and
//! `viral dashboard` print it in a link, like Jupyter's) or from a credential the caller already
//! has (an API key pasted into the sign-in form). Either way the browser gets a key that ends by
//! itself after [`SESSION_TTL_SECS`]; a sign-in token works once and for [`SIGN_IN_TTL_SECS`].

use std::time::Duration;

use crate::clock::{Clock, Timestamp};
use crate::domain::api_key::hash_key;
use crate::domain::tenant::Member;
use crate::domain::{ApiKey, IssuedKey, Role, Scopes, TenantStatus, keys};
use crate::error::{Error, Result};
use crate::ids::random_bytes;
use crate::ports::{Cond, Item, ItemStore, Query, SecretString, Transaction, TxError, Write};

use super::principal::{Credential, Principal};
use super::tenants::get_tenant;

/// How long a dashboard session lasts.
pub const SESSION_TTL_SECS: u64 = 12 * 3600;
/// How long a printed sign-in link may wait for its one use.
pub const SIGN_IN_TTL_SECS: u64 = 24 * 3600;

const SIGN_IN_PREAMBLE: &str = "vs_";
/// `vs_` + 43 base64url characters (256 random bits).
const SIGN_IN_LEN: usize = SIGN_IN_PREAMBLE.len() + 43;
const SESSION_NAME: &str = "dashboard session";

fn sign_in_pk(token_hash: &str) -> String {
    format!("SIGNIN#{token_hash}")
}
const SIGN_IN_SK: &str = "SIGNIN";

/// Whether the text has the shape of a sign-in token (checked before any read).
pub fn looks_like_sign_in_token(token: &str) -> bool {
    token.len() == SIGN_IN_LEN
        && token.starts_with(SIGN_IN_PREAMBLE)
        && token[SIGN_IN_PREAMBLE.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn new_sign_in_token() -> SecretString {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>());
    SecretString::new(format!("{SIGN_IN_PREAMBLE}{body}"))
}

/// A one-time sign-in token for the tenant's first owner. Only the hash is stored.
pub async fn issue_sign_in(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
) -> Result<SecretString> {
    let tenant = get_tenant(store, tenant_id)
        .await?
        .ok_or(Error::NotFound("tenant"))?;
    let owner = first_owner(store, &tenant.id).await?;
    let token = new_sign_in_token();
    let expires = clock.now().plus(Duration::from_secs(SIGN_IN_TTL_SECS));
    let mut item = Item::new(sign_in_pk(&hash_key(token.expose())), SIGN_IN_SK)
        .with("tenant_id", tenant.id.as_str())
        .with("user_id", owner.id.as_str())
        .with("expires_at", expires.millis());
    // The store's TTL deletes tokens nobody used.
    item.expires_at = Some(expires.secs());
    store.put(item, Cond::Absent).await?;
    Ok(token)
}

async fn first_owner(store: &dyn ItemStore, tenant_id: &str) -> Result<Member> {
    let page = store
        .query(Query::new(keys::tenant_pk(tenant_id), "USER#").limit(100))
        .await?;
    Item::decode_all(&page.items, "member", Member::from_item)
        .into_iter()
        .find(|m| m.role == Role::Owner)
        .ok_or(Error::NotFound("tenant owner"))
}

/// Spends a sign-in token on a session. A used, expired or unknown token reads the same.
pub async fn start_from_sign_in(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    token: &str,
) -> Result<IssuedKey> {
    const INVALID: Error =
        Error::Unauthenticated("this sign-in link is used, expired or wrong; ask for a new one");
    if !looks_like_sign_in_token(token) {
        return Err(INVALID);
    }
    let pk = sign_in_pk(&hash_key(token));
    let item = store.get(&pk, SIGN_IN_SK).await?.ok_or(INVALID)?;
    let (Some(tenant_id), Some(user_id), Some(expires)) = (
        item.str("tenant_id"),
        item.str("user_id"),
        item.int("expires_at"),
    ) else {
        return Err(INVALID);
    };
    let now = clock.now();
    if now >= Timestamp(expires) {
        return Err(INVALID);
    }
    let tenant = get_tenant(store, tenant_id).await?.ok_or(INVALID)?;
    if tenant.status != TenantStatus::Active {
        return Err(suspended());
    }
    let issued = session_key(tenant_id, user_id, Role::Owner, Scopes::ALL, now);
    #[derive(Clone, Copy)]
    struct Spent;
    let mut tx = Transaction::new();
    // Deleting the token in the same transaction makes it work exactly once.
    tx.guarded(
        Spent,
        Write::Delete {
            pk,
            sk: SIGN_IN_SK.into(),
            cond: Cond::Exists,
        },
    );
    for w in session_writes(&issued) {
        tx.write(w);
    }
    match tx.commit(store).await {
        Ok(()) => Ok(issued),
        Err(TxError::Refused(Spent)) => Err(INVALID),
        Err(e) => Err(e.into()),
    }
}

/// A session for a caller who holds an API key (pasted into the dashboard): same tenant, user,
/// role and scopes, ending after [`SESSION_TTL_SECS`], and when the key is revoked. Only a key
/// that lives until revoked may start one: a session cannot renew itself into another, and
/// an OIDC token (whose holder the provider may remove at any time) is used as it is.
pub async fn start_for(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    caller: &Principal,
) -> Result<IssuedKey> {
    let refuse = |message: &str| Error::Forbidden {
        code: "session_not_renewable",
        message: message.into(),
    };
    let Credential::ApiKey { key_id } = &caller.credential else {
        return Err(refuse(
            "an OIDC token is used as it is; sessions start from a sign-in link or an API key",
        ));
    };
    let key = store
        .get(&keys::tenant_pk(&caller.tenant.id), &keys::key_sk(key_id))
        .await?
        .and_then(|i| ApiKey::from_item(&caller.tenant.id, &i))
        .ok_or(Error::Unauthenticated("invalid API key"))?;
    if key.expires_at.is_some() {
        return Err(refuse(
            "a session cannot start another; sign in again with a link or an API key",
        ));
    }
    let mut issued = session_key(
        &caller.tenant.id,
        &caller.user_id,
        caller.role,
        caller.scopes.clone(),
        clock.now(),
    );
    issued.key.parent_key_id = Some(key.id);
    store.transact(session_writes(&issued)).await?;
    Ok(issued)
}

fn session_key(
    tenant_id: &str,
    user_id: &str,
    role: Role,
    scopes: Scopes,
    now: Timestamp,
) -> IssuedKey {
    let mut issued = ApiKey::issue(tenant_id, user_id, role, SESSION_NAME.into(), scopes, now);
    issued.key.expires_at = Some(now.plus(Duration::from_secs(SESSION_TTL_SECS)));
    issued
}

/// How long an ended session stays listed before the store's TTL removes it.
const ENDED_SESSION_KEPT_SECS: u64 = 7 * 24 * 3600;

fn session_writes(issued: &IssuedKey) -> Vec<Write> {
    let hash = hash_key(issued.token.expose());
    let gone = issued
        .key
        .expires_at
        .map(|e| e.plus(Duration::from_secs(ENDED_SESSION_KEPT_SECS)).secs());
    let mut record = issued.key.to_item();
    let mut lookup = issued.key.lookup_item(&hash);
    record.expires_at = gone;
    lookup.expires_at = gone;
    vec![
        Write::Put(record, Cond::Absent),
        Write::Put(lookup, Cond::Absent),
    ]
}

fn suspended() -> Error {
    Error::Forbidden {
        code: "tenant_suspended",
        message: "this tenant is suspended".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_tokens_have_one_shape() {
        let t = new_sign_in_token();
        assert!(looks_like_sign_in_token(t.expose()), "{}", t.expose().len());
        assert!(!looks_like_sign_in_token("vs_short"));
        assert!(!looks_like_sign_in_token(&t.expose().replace("vs_", "vk_")));
        let mut bad = t.expose().to_owned();
        bad.pop();
        bad.push('!');
        assert!(!looks_like_sign_in_token(&bad));
    }
}
