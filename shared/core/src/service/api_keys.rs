//! Issuing, listing, revoking and authenticating API keys.

use crate::clock::Clock;
use crate::domain::api_key::{
    KeyCredential, LAST_USE_PRECISION_MS, PresentedKey, hash_key, hash_matches, parse_presented,
};
use crate::domain::rate_limit::{COUNTER_PREFIX, RateLimit};
use crate::domain::tenant::validate_name;
use crate::domain::{ApiKey, IssuedKey, Role, Scope, Scopes, TenantStatus, keys};
use crate::error::{Error, Result};
use crate::ids::is_valid_id;
use crate::ports::{Cond, Item, ItemStore, Query, StoreError, Transaction, TxError, Update, Write};

use super::principal::{Credential, Principal};
use super::tenants::get_tenant;

/// Issues a key for the caller. Its scopes may not exceed the caller's.
pub async fn issue_key(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    caller: &Principal,
    name: &str,
    scopes: Scopes,
) -> Result<IssuedKey> {
    let name = validate_name("key name", name)?;
    if !caller.scopes.covers(&scopes) {
        return Err(Error::Forbidden {
            code: "insufficient_scope",
            message: "a key cannot have scopes its creator lacks".into(),
        });
    }
    let issued = ApiKey::issue(
        &caller.tenant.id,
        &caller.user_id,
        caller.role,
        name,
        scopes,
        clock.now(),
    );
    let hash = hash_key(issued.token.expose());
    store
        .transact(vec![
            Write::Put(issued.key.to_item(), Cond::Absent),
            Write::Put(issued.key.lookup_item(&hash), Cond::Absent),
        ])
        .await?;
    Ok(issued)
}

pub struct KeyPage {
    pub keys: Vec<ApiKey>,
    pub next_cursor: Option<String>,
}

/// The tenant's keys, newest first.
pub async fn list_keys(
    store: &dyn ItemStore,
    tenant_id: &str,
    limit: usize,
    cursor: Option<String>,
) -> Result<KeyPage> {
    let q = Query::new(keys::tenant_pk(tenant_id), keys::KEY_SK_PREFIX)
        .limit(limit)
        .descending()
        .after(cursor);
    let page = store.query(q).await?;
    Ok(KeyPage {
        keys: Item::decode_all(&page.items, "api key", |i| ApiKey::from_item(tenant_id, i)),
        next_cursor: page.next_cursor,
    })
}

/// Revokes one of the tenant's keys. Revoking twice is fine; another tenant's key is
/// "not found". The tenant's last live owner key that may manage keys is never revoked
/// (`last_owner_key`): that would lock the tenant out of its own keys.
pub async fn revoke_key(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    key_id: &str,
) -> Result<()> {
    if !is_valid_id("key", key_id) {
        return Err(Error::NotFound("api key"));
    }
    let pk = keys::tenant_pk(tenant_id);
    let item = store
        .get(&pk, &keys::key_sk(key_id))
        .await?
        .ok_or(Error::NotFound("api key"))?;
    let key = ApiKey::from_item(tenant_id, &item).ok_or(Error::NotFound("api key"))?;
    if key.revoked_at.is_some() {
        return Ok(());
    }
    // Revocations of a tenant's keys take turns on one counter, so two keys revoked at once
    // cannot both be "not the last one".
    for _ in 0..5 {
        let guard = store.get(&pk, REVOCATIONS_SK).await?;
        let seen = guard.as_ref().and_then(|g| g.int("count"));
        if manages_keys(&key) && !another_key_manager(store, tenant_id, key_id).await? {
            return Err(Error::State {
                code: "last_owner_key",
                message: "this is the tenant's last owner key that can manage keys; create another before revoking it".into(),
            });
        }
        let now = clock.now().millis();
        let turn = Update::new(pk.clone(), REVOCATIONS_SK)
            .set("count", seen.unwrap_or(0) + 1)
            .when(match seen {
                Some(n) => Cond::AttrEquals("count".into(), serde_json::json!(n)),
                None => Cond::AttrAbsent("count".into()),
            });
        #[derive(Clone, Copy)]
        enum Lost {
            /// A concurrent revoke of this key won: the key is revoked either way.
            KeyRevoked,
            /// Another revocation of this tenant came first: look again.
            TenantTurn,
        }
        let mut tx = Transaction::new();
        tx.guarded(
            Lost::KeyRevoked,
            Write::Update(
                Update::new(pk.clone(), keys::key_sk(key_id))
                    .set("revoked_at", now)
                    .when(Cond::AttrAbsent("revoked_at".into())),
            ),
        )
        .guarded(
            Lost::KeyRevoked,
            Write::Update(
                Update::new(
                    keys::api_key_lookup_pk(&key.prefix),
                    keys::API_KEY_LOOKUP_SK,
                )
                .set("revoked_at", now)
                .when(Cond::Exists),
            ),
        )
        .guarded(Lost::TenantTurn, Write::Update(turn));
        match tx.commit(store).await {
            Ok(()) | Err(TxError::Refused(Lost::KeyRevoked)) => {
                return end_sessions_of(store, tenant_id, key_id, now).await;
            }
            Err(TxError::Refused(Lost::TenantTurn)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict(
        "the tenant's keys are being revoked concurrently; retry".into(),
    ))
}

/// Ends the dashboard sessions bought with a key that was just revoked: a leaked key's
/// sessions go with it. (Sessions never manage the last-owner rule, so no turn is needed.)
async fn end_sessions_of(
    store: &dyn ItemStore,
    tenant_id: &str,
    key_id: &str,
    now: i64,
) -> Result<()> {
    let pk = keys::tenant_pk(tenant_id);
    let mut cursor = None;
    loop {
        let page = list_keys(store, tenant_id, 100, cursor).await?;
        for s in page
            .keys
            .iter()
            .filter(|k| k.parent_key_id.as_deref() == Some(key_id) && k.revoked_at.is_none())
        {
            let writes = vec![
                Write::Update(
                    Update::new(pk.clone(), keys::key_sk(&s.id))
                        .set("revoked_at", now)
                        .when(Cond::Exists),
                ),
                Write::Update(
                    Update::new(keys::api_key_lookup_pk(&s.prefix), keys::API_KEY_LOOKUP_SK)
                        .set("revoked_at", now)
                        .when(Cond::Exists),
                ),
            ];
            store.transact(writes).await?;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(()),
        }
    }
}

/// The counter revocations take turns on.
const REVOCATIONS_SK: &str = "KEYREVOCATIONS";

/// A session ends by itself, so it never keeps a tenant able to manage its keys.
fn manages_keys(k: &ApiKey) -> bool {
    k.role == Role::Owner
        && k.scopes.allows(Scope::KeysManage)
        && k.revoked_at.is_none()
        && k.expires_at.is_none()
}

/// Records when a key was last used, at most once per [`LAST_USE_PRECISION_MS`]. Best effort:
/// a failed write costs the caller nothing but a less precise "last used".
async fn note_use(store: &dyn ItemStore, clock: &dyn Clock, cred: &KeyCredential, prefix: &str) {
    let now = clock.now();
    if cred
        .last_used_at
        .is_some_and(|t| now.millis() - t.millis() < LAST_USE_PRECISION_MS)
    {
        return;
    }
    // Two plain writes, not a transaction: every request writes the key's record (its rate
    // limit), and a transaction holding that record would turn them away meanwhile.
    let records = [
        (keys::tenant_pk(&cred.tenant_id), keys::key_sk(&cred.key_id)),
        (
            keys::api_key_lookup_pk(prefix),
            keys::API_KEY_LOOKUP_SK.into(),
        ),
    ];
    for (pk, sk) in records {
        let stamp = Update::new(pk, sk)
            .set("last_used_at", now.millis())
            .when(Cond::Exists);
        if let Err(e) = store.update(stamp).await {
            tracing::debug!(key_id = %cred.key_id, error = %e, "could not record the key's last use");
        }
    }
}

/// Drops the counters of past windows from a key's record once more than
/// [`STALE_COUNTERS_KEPT`] have gathered, so the record stays small. Best effort, like
/// [`note_use`]: a failed write only leaves them for a later request.
async fn drop_stale_counters(store: &dyn ItemStore, item: &Item, current_start: i64) {
    // Only windows before this one: an instance whose clock runs ahead may be counting a
    // later one.
    let stale: Vec<&String> = item
        .attrs
        .keys()
        .filter(|k| {
            k.strip_prefix(COUNTER_PREFIX)
                .and_then(|start| start.parse::<i64>().ok())
                .is_some_and(|start| start < current_start)
        })
        .collect();
    if stale.len() <= STALE_COUNTERS_KEPT {
        return;
    }
    let upd = stale
        .iter()
        .fold(Update::new(&item.pk, &item.sk), |u, k| u.remove(k))
        .when(Cond::Exists);
    if let Err(e) = store.update(upd).await {
        tracing::debug!(error = %e, "could not drop a key's past rate-limit counters");
    }
}

/// Whether a live owner key other than `except` can manage keys.
async fn another_key_manager(store: &dyn ItemStore, tenant_id: &str, except: &str) -> Result<bool> {
    let mut cursor = None;
    loop {
        let page = list_keys(store, tenant_id, 100, cursor).await?;
        if page.keys.iter().any(|k| k.id != except && manages_keys(k)) {
            return Ok(true);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(false),
        }
    }
}

/// Which tenant each API key this process has seen authenticate belongs to, by the key's
/// public prefix. A key never changes tenant, so nothing learned here goes stale: it only lets
/// the next request with the key read its tenant at the same time as the key's check, instead
/// of after it. Learned only from a request that authenticated, and checked against the
/// key's own record on every use, so an entry can cost a wasted read (a request refused after
/// all: a wrong secret with the key's public prefix, a revoked key, a spent rate limit) and
/// never a wrong tenant.
#[derive(Debug, Default)]
pub struct KnownKeyTenants {
    by_prefix: std::sync::Mutex<std::collections::HashMap<String, String>>,
}

/// Entries kept before the map starts over (a few hundred kilobytes at most).
const KNOWN_KEYS_MAX: usize = 4096;

impl KnownKeyTenants {
    /// The tenant learned for a key's prefix, if any.
    pub fn tenant_of(&self, prefix: &str) -> Option<String> {
        let map = self.by_prefix.lock().unwrap_or_else(|p| p.into_inner());
        map.get(prefix).cloned()
    }

    /// Forgets a key's tenant (its request was refused).
    pub fn forget(&self, prefix: &str) {
        let mut map = self.by_prefix.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(prefix);
    }

    /// Remembers the tenant of a key that just authenticated.
    pub fn learn(&self, prefix: &str, tenant_id: &str) {
        let mut map = self.by_prefix.lock().unwrap_or_else(|p| p.into_inner());
        if map.get(prefix).is_some_and(|t| t == tenant_id) {
            return;
        }
        if map.len() >= KNOWN_KEYS_MAX {
            map.clear();
        }
        map.insert(prefix.to_owned(), tenant_id.to_owned());
    }
}

/// How many counters of past windows a key's record may carry before they are dropped (a
/// key idle for two windows or more leaves its last one behind; each request drops the one
/// just before its own).
const STALE_COUNTERS_KEPT: usize = 4;

/// Checks a presented API key and counts the request against its rate limit, in one
/// conditional write on the key's record: the window's counter moves only when the presented
/// key's hash matches and the window has budget left, and the write answers the record. The
/// tenant is read after it, or, for a key this process has seen authenticate before
/// (`known`), at the same time: one round trip instead of two. Every failure to
/// authenticate reads the same to the caller.
///
/// A refused request makes the process forget the key's tenant, so requests refused one
/// after another (a wrong secret with a key's public prefix, a spent rate limit) cost no
/// early reads; the key's next accepted request learns it again.
pub async fn authenticate(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    known: &KnownKeyTenants,
    token: &str,
    limit: RateLimit,
) -> Result<Principal> {
    let presented = parse_presented(token).ok_or(INVALID_KEY)?;
    let answer = check_key(store, clock, known, &presented, limit).await;
    if answer.is_err() {
        known.forget(presented.prefix);
    }
    answer
}

const INVALID_KEY: Error = Error::Unauthenticated("invalid API key");

async fn check_key(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    known: &KnownKeyTenants,
    presented: &PresentedKey<'_>,
    limit: RateLimit,
) -> Result<Principal> {
    let now = clock.now();
    let (pk, sk) = (
        keys::api_key_lookup_pk(presented.prefix),
        keys::API_KEY_LOOKUP_SK,
    );
    let (counter, previous) = limit.counter_attrs(now);
    let count = Update::new(&pk, sk)
        .add(&counter, 1)
        .remove(&previous)
        .when(Cond::All(vec![
            Cond::AttrEquals("hash".into(), hash_key(presented.whole).into()),
            // A revoked key counts nothing (and so leaves nothing on its record).
            Cond::AttrAbsent("revoked_at".into()),
            Cond::below(&counter, i64::from(limit.max)),
        ]));
    let counted = async {
        let mut tries = 0;
        loop {
            tries += 1;
            match store.update(count.clone()).await {
                Ok(item) => return Ok((Some(item), false)),
                // Not this key, revoked, or its window's budget is spent: the record tells
                // which.
                Err(StoreError::ConditionFailed { .. }) => {
                    return Ok((store.get(&pk, sk).await?, true));
                }
                // A write of the record in a transaction (revoking, ending sessions) held it.
                Err(StoreError::Conflict) if tries < 3 => continue,
                Err(e) => return Err(Error::from(e)),
            }
        }
    };
    let (counted, early_tenant) = match known.tenant_of(presented.prefix) {
        Some(tenant_id) => {
            let (counted, tenant) =
                futures_util::future::join(counted, get_tenant(store, &tenant_id)).await;
            let tenant = match tenant {
                Ok(t) => t.filter(|t| t.id == tenant_id),
                Err(e) => {
                    tracing::debug!(error = %e, "the early read of a key's tenant failed; reading it again");
                    None
                }
            };
            (counted, tenant)
        }
        None => (counted.await, None),
    };
    let (item, refused) = counted?;
    let item = item.ok_or(INVALID_KEY)?;
    let cred = KeyCredential::from_item(&item).ok_or(INVALID_KEY)?;
    if !hash_matches(presented.whole, &cred.hash) {
        return Err(INVALID_KEY);
    }
    if !refused {
        drop_stale_counters(store, &item, limit.window_start(now)).await;
    }
    if cred.revoked {
        return Err(Error::Unauthenticated("API key revoked"));
    }
    if cred.expires_at.is_some_and(|e| now >= e) {
        return Err(Error::Unauthenticated("session expired; sign in again"));
    }
    if refused {
        return Err(Error::RateLimited {
            retry_after_secs: limit.retry_after(now),
        });
    }
    // The record names the tenant; a read made before it was known counts only if it agrees.
    let tenant = match early_tenant {
        Some(t) if t.id == cred.tenant_id => t,
        _ => get_tenant(store, &cred.tenant_id)
            .await?
            .ok_or(INVALID_KEY)?,
    };
    if tenant.status != TenantStatus::Active {
        return Err(Error::Forbidden {
            code: "tenant_suspended",
            message: "this tenant is suspended".into(),
        });
    }
    known.learn(presented.prefix, &cred.tenant_id);
    note_use(store, clock, &cred, presented.prefix).await;
    Ok(Principal {
        tenant,
        user_id: cred.user_id,
        role: cred.role,
        scopes: cred.scopes,
        credential: Credential::ApiKey {
            key_id: cred.key_id,
        },
    })
}
