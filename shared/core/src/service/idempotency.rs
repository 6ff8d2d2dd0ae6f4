//! `Idempotency-Key` records: written in the same transaction as what a request creates, so a
//! retry with the same key and body finds what the first request made instead of paying twice.

use crate::clock::Timestamp;
use crate::error::{Error, Result};
use crate::ports::{Item, ItemStore};

/// How long an idempotency record answers replays.
pub const TTL_SECS: i64 = 24 * 3600;

/// Keys are 1–255 visible ASCII characters (Stripe's rule).
pub fn validate_key(key: &str) -> Result<()> {
    if key.is_empty() || key.len() > 255 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Error::Invalid(
            "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
        ));
    }
    Ok(())
}

/// Where a key's record lives; `scope` keeps the keys of different routes apart.
fn sk(scope: &str, key: &str) -> String {
    format!("IDEMP#{scope}#{key}")
}

/// The record for `key`: the request's hash and the id of what it created, expiring after
/// [`TTL_SECS`]. Put it with `Cond::Absent` beside the creation.
pub fn record(pk: &str, scope: &str, key: &str, hash: &str, id: &str, now: Timestamp) -> Item {
    let mut record = Item::new(pk, sk(scope, key))
        .with("hash", hash)
        .with("id", id)
        .with("created_at", now.millis());
    record.expires_at = Some(now.secs() + TTL_SECS);
    record
}

/// The id an earlier request with this key created, if there was one (and it had the same
/// body): checked before any work, so a retry is answered with the first result even when
/// the plan, the providers or the quota have changed since.
pub async fn earlier(
    store: &dyn ItemStore,
    pk: &str,
    scope: &str,
    key: &str,
    hash: &str,
) -> Result<Option<String>> {
    match store.get(pk, &sk(scope, key)).await? {
        None => Ok(None),
        Some(record) if record.str("hash") != Some(hash) => Err(Error::IdempotencyMismatch),
        Some(record) => Ok(Some(record.str("id").unwrap_or_default().to_owned())),
    }
}

/// After the record's put failed because it exists: the id the first request created, if the
/// body is the same.
pub async fn replayed_id(
    store: &dyn ItemStore,
    pk: &str,
    scope: &str,
    key: &str,
    hash: &str,
) -> Result<String> {
    let record = store
        .get(pk, &sk(scope, key))
        .await?
        .ok_or_else(|| Error::Conflict("idempotency record vanished; retry".into()))?;
    if record.str("hash") != Some(hash) {
        return Err(Error::IdempotencyMismatch);
    }
    Ok(record.str("id").unwrap_or_default().to_owned())
}
