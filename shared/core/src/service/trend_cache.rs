//! Trends cached per source, region and category in the item store, so that a burst of
//! concept requests makes one upstream call (YouTube charges quota per page). Entries carry a
//! TTL; an expired one is refetched (the store's housekeeping deletes it later). A source
//! failure with a stale entry at hand serves the stale trends rather than failing the batch.

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
        }
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

#[async_trait]
impl TrendSource for CachedTrends {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn trends(&self, q: &TrendQuery) -> Result<Vec<Trend>, SourceError> {
        let sk = self.key(q);
        let now = self.clock.now();
        // A cache that cannot be read is no reason to fail: go to the source.
        let cached = self.store.get(TRENDS_PK, &sk).await.ok().flatten();
        let parsed = |item: &Item| -> Option<Vec<Trend>> {
            serde_json::from_value(item.attrs.get("trends")?.clone()).ok()
        };
        if let Some(item) = &cached
            && item.expires_at.is_some_and(|t| t > now.secs())
            && let Some(trends) = parsed(item)
        {
            return Ok(trends);
        }
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
