//! Trends cached per source, region and category in the item store, so that a burst of
//! concept requests makes one upstream call (YouTube charges quota per page). Entries carry a
//! TTL; an expired one is refetched (the store's housekeeping deletes it later). A source
//! failure with a stale entry at hand serves the stale trends rather than failing the batch.
//! Concurrent misses in one process wait for the first one's fetch (instances of a Lambda
//! each fetch once, then share the stored entry).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::clock::Clock;
use crate::domain::concept::Trend;
use crate::ports::{Cond, Item, ItemStore, SourceError, TrendQuery, TrendSource};

pub const TRENDS_PK: &str = "TRENDS";

/// A [`TrendSource`] in front of another, caching its answers for `ttl`.
pub struct CachedTrends {
    inner: Arc<dyn TrendSource>,
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    /// Held while fetching, so a concurrent burst makes one upstream call.
    fetching: futures_util::lock::Mutex<()>,
}

impl CachedTrends {
    pub fn new(
        inner: Arc<dyn TrendSource>,
        store: Arc<dyn ItemStore>,
        clock: Arc<dyn Clock>,
        ttl: Duration,
    ) -> Self {
        Self {
            inner,
            store,
            clock,
            ttl,
            fetching: futures_util::lock::Mutex::new(()),
        }
    }

    /// The cached trends if the entry is fresh, and the entry itself (fresh or stale).
    async fn lookup(&self, sk: &str) -> (Option<Vec<Trend>>, Option<Item>) {
        let now = self.clock.now();
        // A cache that cannot be read is no reason to fail: go to the source.
        let cached = self.store.get(TRENDS_PK, sk).await.ok().flatten();
        let fresh = cached
            .as_ref()
            .filter(|item| item.expires_at.is_some_and(|t| t > now.secs()))
            .and_then(parsed);
        (fresh, cached)
    }

    fn key(&self, q: &TrendQuery) -> String {
        format!(
            "{}#{}#{}#{}",
            self.inner.name(),
            q.region.as_deref().unwrap_or("-"),
            q.category.as_deref().unwrap_or("-"),
            q.max
        )
    }
}

fn parsed(item: &Item) -> Option<Vec<Trend>> {
    serde_json::from_value(item.attrs.get("trends")?.clone()).ok()
}

#[async_trait]
impl TrendSource for CachedTrends {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn trends(&self, q: &TrendQuery) -> Result<Vec<Trend>, SourceError> {
        let sk = self.key(q);
        if let (Some(fresh), _) = self.lookup(&sk).await {
            return Ok(fresh);
        }
        let _fetching = self.fetching.lock().await;
        // Another request may have fetched while this one waited.
        let (fresh, cached) = self.lookup(&sk).await;
        if let Some(fresh) = fresh {
            return Ok(fresh);
        }
        let now = self.clock.now();
        match self.inner.trends(q).await {
            Ok(trends) => {
                let mut item = Item::new(TRENDS_PK, sk).with(
                    "trends",
                    serde_json::to_value(&trends).unwrap_or(Value::Null),
                );
                item.expires_at = Some(now.secs() + self.ttl.as_secs() as i64);
                if let Err(e) = self.store.put(item, Cond::None).await {
                    tracing::warn!(error = %e, "could not cache trends");
                }
                Ok(trends)
            }
            Err(e) => match cached.as_ref().and_then(parsed) {
                Some(stale) => {
                    tracing::warn!(error = %e, "trend source failed; serving cached trends");
                    Ok(stale)
                }
                None => Err(e),
            },
        }
    }
}
