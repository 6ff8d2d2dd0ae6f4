//! The trend cache on the SQLite store: a burst of requests makes one upstream call, an
//! expired entry is refetched, and a failing source falls back to what was cached.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use viral_core::domain::concept::{Trend, sample_trends};
use viral_core::ports::{SourceError, TrendQuery, TrendSource};
use viral_core::service::trend_cache::CachedTrends;
use viral_core::{ManualClock, Timestamp};
use viral_embedded::SqliteItemStore;

/// A source that counts its calls, can be made to fail, and can be slow.
#[derive(Default)]
struct Upstream {
    calls: AtomicUsize,
    down: std::sync::atomic::AtomicBool,
    delay_ms: u64,
}

#[async_trait]
impl TrendSource for Upstream {
    fn name(&self) -> &str {
        "youtube"
    }
    async fn trends(&self, q: &TrendQuery) -> Result<Vec<Trend>, SourceError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(self.delay_ms)).await;
        if self.down.load(Ordering::SeqCst) {
            return Err(SourceError::Transient("youtube".into()));
        }
        let mut t = sample_trends();
        t.truncate(q.max);
        Ok(t)
    }
}

#[tokio::test]
async fn a_burst_makes_one_call_and_expiry_refetches() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteItemStore::open(&dir.path().join("viral.db")).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp(1_795_569_153_000)));
    let upstream = Arc::new(Upstream::default());
    let cache = CachedTrends::new(
        upstream.clone(),
        store,
        clock.clone(),
        Duration::from_secs(600),
    );
    let q = TrendQuery {
        region: Some("US".into()),
        category: None,
        max: 3,
    };
    for _ in 0..20 {
        assert_eq!(cache.trends(&q).await.unwrap().len(), 3);
    }
    assert_eq!(upstream.calls.load(Ordering::SeqCst), 1);
    // Another region is another entry.
    let gb = TrendQuery {
        region: Some("GB".into()),
        ..q.clone()
    };
    cache.trends(&gb).await.unwrap();
    assert_eq!(upstream.calls.load(Ordering::SeqCst), 2);
    // Past the TTL the source is asked again…
    clock.advance(Duration::from_secs(601));
    cache.trends(&q).await.unwrap();
    assert_eq!(upstream.calls.load(Ordering::SeqCst), 3);
    // …and when it fails, the last answer serves.
    clock.advance(Duration::from_secs(601));
    upstream.down.store(true, Ordering::SeqCst);
    assert_eq!(cache.trends(&q).await.unwrap().len(), 3);
    let never = TrendQuery {
        region: Some("FR".into()),
        ..q
    };
    assert!(
        cache.trends(&never).await.is_err(),
        "nothing cached, nothing to serve"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concurrent_burst_makes_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteItemStore::open(&dir.path().join("viral.db")).unwrap());
    let clock = Arc::new(ManualClock::new(Timestamp(1_795_569_153_000)));
    let upstream = Arc::new(Upstream {
        delay_ms: 200,
        ..Default::default()
    });
    let cache = Arc::new(CachedTrends::new(
        upstream.clone(),
        store,
        clock,
        Duration::from_secs(600),
    ));
    let q = TrendQuery {
        region: Some("US".into()),
        category: Some("science".into()),
        max: 3,
    };
    let burst: Vec<_> = (0..16)
        .map(|_| {
            let (cache, q) = (cache.clone(), q.clone());
            tokio::spawn(async move { cache.trends(&q).await })
        })
        .collect();
    for task in burst {
        assert!(task.await.unwrap().is_ok());
    }
    assert_eq!(upstream.calls.load(Ordering::SeqCst), 1);
}
