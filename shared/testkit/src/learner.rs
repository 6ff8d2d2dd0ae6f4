//! The learner on any item store: observations arriving concurrently from many tenants, while
//! scheduled folds share their evidence into the platform-wide prior, lose none and count none
//! twice. Run on the embedded store and on DynamoDB (moto).

use std::sync::Arc;

use viral_core::domain::learner::PRIOR_MEAN;
use viral_core::ports::ItemStore;
use viral_core::service::learning::{self, Lesson};
use viral_core::{Clock, ManualClock, Timestamp};

/// How observations arrive.
#[derive(Clone, Copy, Debug)]
pub struct Load {
    pub tenants: usize,
    pub per_tenant: usize,
    /// Every observation at once with two fold passes overlapping them, or one after another
    /// with a fold between tenants. moto needs the second: a failed transaction there restores
    /// a snapshot of the whole table, undoing whatever other requests wrote meanwhile
    /// (`moto/dynamodb/models/__init__.py`, `transact_write_items`), so concurrency is shown
    /// on the embedded store, which serialises transactions as DynamoDB does.
    pub concurrent: bool,
}

fn score_of(n: usize) -> f64 {
    0.1 + (n as f64) / 100.0
}

/// Each observation is taught twice (a young one, then the newer one that replaces it) while
/// two overlapping fold passes run; then every tenant's evidence is exactly its own newest
/// observations and its prior exactly everyone else's. `store` must be fresh.
pub async fn concurrent_observations_lose_none(store: Arc<dyn ItemStore>, load: Load) {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(Timestamp(1_796_378_400_000)));
    let run = crate::unique("t");
    let tenants: Vec<String> = (0..load.tenants).map(|i| format!("{run}_{i}")).collect();
    let features = vec!["category:science".to_owned(), "platform:tiktok".to_owned()];
    let teach = {
        let (store, clock) = (store.clone(), clock.clone());
        move |t: String, i: usize, n: usize| {
            let (store, clock, features) = (store.clone(), clock.clone(), features.clone());
            async move {
                let mut lesson = Lesson {
                    sk: format!("FB#-#tiktok#post_{i}_{n}"),
                    features,
                    score: 0.9,
                    weight: 0.3,
                    predicted: 0.1,
                    source: "collected",
                    attrs: vec![],
                    replaces: vec![],
                };
                let first = learning::learn(&*store, &*clock, &t, &lesson, &[])
                    .await
                    .unwrap();
                lesson.score = score_of(n);
                lesson.weight = 1.0;
                let again = learning::learn(&*store, &*clock, &t, &lesson, &[])
                    .await
                    .unwrap();
                first && !again
            }
        }
    };
    if load.concurrent {
        let mut tasks = Vec::new();
        for (i, t) in tenants.iter().enumerate() {
            for n in 0..load.per_tenant {
                tasks.push(tokio::spawn(teach(t.clone(), i, n)));
            }
        }
        // Two scheduled folds (overlapping passes) run while observations arrive.
        let folders: Vec<_> = (0..2)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move {
                    for _ in 0..20 {
                        learning::fold(&*store).await.unwrap();
                        tokio::task::yield_now().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            assert!(
                t.await.unwrap(),
                "a first observation, then its replacement"
            );
        }
        for f in folders {
            f.await.unwrap();
        }
    } else {
        for (i, t) in tenants.iter().enumerate() {
            for n in 0..load.per_tenant {
                assert!(
                    teach(t.clone(), i, n).await,
                    "a first observation, then its replacement"
                );
            }
            learning::fold(&*store).await.unwrap();
        }
    }
    while learning::fold(&*store).await.unwrap().tenants > 0 {}

    // Each tenant's evidence is its newest observations, exactly: n, Σy and Σy². The prior
    // (the store is fresh) is everyone's, exactly, and each tenant's view of it leaves out
    // its own share.
    let per = load.per_tenant as f64;
    let y = |n: usize| score_of(n) - PRIOR_MEAN;
    let sum_y: f64 = (0..load.per_tenant).map(y).sum();
    let sum_yy: f64 = (0..load.per_tenant).map(|n| y(n) * y(n)).sum();
    let mut priors = Vec::new();
    for t in &tenants {
        let (mine, others) = learning::evidence(&*store, t).await.unwrap();
        assert!((mine.n - per).abs() < 1e-9, "{t}: {}", mine.n);
        assert!((mine.xty[0] - sum_y).abs() < 1e-9, "{t}: {}", mine.xty[0]);
        assert!((mine.yy - sum_yy).abs() < 1e-9, "{t}: {}", mine.yy);
        priors.push(others);
    }
    let (mine, everyone) = learning::evidence(&*store, &crate::unique("nobody"))
        .await
        .unwrap();
    assert_eq!(mine.n, 0.0);
    for (t, others) in tenants.iter().zip(&priors) {
        // The prior without this tenant's own share: all folded evidence less its own.
        assert!(
            (everyone.n - others.n - per).abs() < 1e-6,
            "{t}: {}",
            others.n
        );
        assert!(
            (everyone.xty[0] - others.xty[0] - sum_y).abs() < 1e-6,
            "{t}: {}",
            others.xty[0]
        );
        assert!(
            (everyone.yy - others.yy - sum_yy).abs() < 1e-6,
            "{t}: {}",
            others.yy
        );
    }
    let all = per * load.tenants as f64;
    assert!(
        (everyone.n - all).abs() < 1e-6,
        "folded {} of {all}",
        everyone.n
    );
    assert!((everyone.xty[0] - sum_y * load.tenants as f64).abs() < 1e-6);
}
