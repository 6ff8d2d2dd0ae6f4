//! The per-principal rate limit, counted in the ItemStore so it holds across instances.

use crate::clock::Clock;
use crate::domain::{RateLimit, keys};
use crate::error::{Error, Result};
use crate::ports::{Cond, ItemStore, StoreError, Update};

/// Counts one request; fails with [`Error::RateLimited`] once the window's budget is spent.
/// The counter only moves while under the limit, so refused requests do not extend the wait.
pub async fn hit(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    limit: RateLimit,
    principal: &str,
) -> Result<()> {
    let now = clock.now();
    let upd = Update::new(
        keys::rate_limit_pk(principal),
        keys::rate_limit_sk(limit.window_start(now)),
    )
    .add("count", 1)
    .expires_at(limit.expires_at(now))
    .when(Cond::below("count", i64::from(limit.max)));
    match store.update(upd).await {
        Ok(_) => Ok(()),
        Err(StoreError::ConditionFailed { .. }) => Err(Error::RateLimited {
            retry_after_secs: limit.retry_after(now),
        }),
        Err(e) => Err(e.into()),
    }
}
