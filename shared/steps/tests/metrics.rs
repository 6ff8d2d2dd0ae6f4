//! The closed loop's first half: published posts' numbers are collected on their cadence and
//! reach the learner with no manual call; a platform's trouble (rate limit, deleted post, no
//! data yet, dead grant) is recorded on its posts and never stops another tenant; the
//! platform-wide prior is folded from many concurrent observations without losing one and
//! without counting a tenant's own evidence twice; a person's report on a post the collector
//! measures is replaced by the measurement, not counted beside it.

mod support;
mod world;

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use viral_core::Clock;
use viral_core::domain::Plan;
use viral_core::domain::account::Platform;
use viral_core::domain::metrics::{Metrics, Observed};
use viral_core::domain::post::PostStatus;
use viral_core::domain::publish_limits::PlatformCall;
use viral_core::ports::{Cond, Item, PublishError};
use viral_core::service::collector::{Collector, series};
use viral_core::service::publishing::{self, Next};
use viral_core::service::{concepts, videos};
use viral_testkit::publisher::{Call, Scripted, ScriptedPublisher};
use world::World;

const HOUR: Duration = Duration::from_secs(3600);

impl World {
    fn collector(&self) -> Collector<'_> {
        Collector {
            store: &*self.store,
            vault: &*self.vault,
            clock: &*self.clock,
            publishers: &self.publishers,
        }
    }
}

/// A concept of kind science × story × question, and a succeeded video made from it.
async fn video_of_concept(w: &World, tenant: &str) -> String {
    let concept_id = viral_core::ids::new_id("cn");
    let concept = json!({
        "id": concept_id, "title": "Octopuses dream", "hook": "Do octopuses dream?",
        "beats": [], "visual_prompt": "an octopus", "caption": "Octopuses dream",
        "hashtags": ["#octopus"], "category": "science", "format": "story",
        "hook_style": "question", "platforms": ["tiktok"], "trends": [],
        "predicted_score": 40, "rationale": "", "duration_s": 15.0
    });
    w.store
        .put(
            Item::new(format!("T#{tenant}"), format!("CONCEPT#{concept_id}"))
                .with("concept", concept),
            Cond::Absent,
        )
        .await
        .unwrap();
    let job = w.video(tenant).await;
    let mut stored = videos::get(&*w.store, tenant, &job).await.unwrap();
    stored.spec.concept_id = Some(concept_id);
    let mut item = stored.to_item();
    item.version += 1;
    w.store
        .put(item, Cond::VersionIs(stored.version))
        .await
        .unwrap();
    job
}

/// Runs a post's steps until it is published.
async fn publish(w: &World, tenant: &str, post: &str) {
    let ctx = w.ctx();
    let mut next = publishing::check(&ctx, tenant, post).await.unwrap();
    for _ in 0..5 {
        next = match next {
            Next::Upload => publishing::upload(&ctx, tenant, post).await.unwrap(),
            Next::Poll(_) => publishing::poll(&ctx, tenant, post).await.unwrap(),
            Next::Wait(_) | Next::Done => break,
        };
    }
    assert_eq!(w.get(tenant, post).await.status, PostStatus::Published);
}

#[tokio::test]
async fn a_sandbox_posts_numbers_reach_the_learner_with_no_manual_call() {
    let w = World::new(vec![]);
    let t = w.tenant(Plan::Pro).await;
    let job = video_of_concept(&w, &t).await;
    let acc = w.account(&t, Platform::Sandbox, None).await;
    // The tenant's audience is in Tokyo (its autopilot's zone, autopilot off): 10:00 UTC is
    // 19:00 there, so the post's hour is the evening block.
    viral_core::service::autopilot::put(
        &*w.store,
        &*w.clock,
        &t,
        viral_core::domain::autopilot::Settings {
            enabled: false,
            niche: None,
            categories: vec![],
            regions: vec![],
            targets: vec![acc.clone()],
            posts_per_day: 1,
            daily_budget_cents: 0,
            quiet_hours: Default::default(),
            timezone: "Asia/Tokyo".into(),
            approval: Default::default(),
            duration_s: 15.0,
        },
    )
    .await
    .unwrap();
    let post = w.post(&t, &job, &acc, "public").await;
    publish(&w, &t, &post).await;
    let before = concepts::insights(&*w.store, &t).await.unwrap();
    assert_eq!(before.observations, 0.0);

    // Nothing is due until an hour after publishing.
    let pass = w.collector().pass().await.unwrap();
    assert_eq!(pass.collected.due, 0);

    w.clock.advance(HOUR);
    let pass = w.collector().pass().await.unwrap();
    assert_eq!(
        (
            pass.collected.due,
            pass.collected.observed,
            pass.collected.learned
        ),
        (1, 1, 1)
    );
    assert_eq!(pass.folded.tenants, 1);
    // An overlapping pass at the same step stores and teaches nothing more.
    let again = w
        .collector()
        .observe(vec![w.get(&t, &post).await])
        .await
        .unwrap();
    assert_eq!((again.observed, again.learned), (0, 0));
    let early = concepts::insights(&*w.store, &t).await.unwrap();
    // A one-hour-old observation counts about a quarter (0.25 + 0.75 · 1/48).
    assert!(
        (early.observations - 0.265_625).abs() < 1e-9,
        "{}",
        early.observations
    );
    let features: Vec<&str> = early.effects.iter().map(|e| e.feature.as_str()).collect();
    for f in [
        "category:science",
        "format:story",
        "hook:question",
        "platform:sandbox",
        "provider:storyboard",
        "length:10-20s",
        "hour:16-20",
    ] {
        assert!(features.contains(&f), "{f} in {features:?}");
    }

    // A day later the newest observation replaces the first: the evidence is one post's, at
    // the weight of its age.
    w.clock.advance(23 * HOUR);
    let pass = w.collector().pass().await.unwrap();
    assert_eq!(pass.collected.learned, 1);
    let day = concepts::insights(&*w.store, &t).await.unwrap();
    assert!(
        (day.observations - 0.625).abs() < 1e-9,
        "{}",
        day.observations
    );

    let (p, obs) = series(&*w.store, &t, &post).await.unwrap();
    assert_eq!(obs.len(), 2);
    assert!(obs[1].metrics.views > obs[0].metrics.views, "views grow");
    assert!(obs.iter().all(|o| o.simulated && o.score.is_some()));
    assert!(obs[0].metrics.raw.contains_key("simulated_views"));
    // Next due at 48 h; nothing in between.
    assert_eq!(p.metrics_taken, 4);
    assert_eq!(p.metrics_due, p.published_at.map(|t| t.plus(48 * HOUR)));
    assert_eq!(w.collector().pass().await.unwrap().collected.due, 0);

    // After the last step (28 days) collection ends and says so.
    w.clock.advance(30 * 24 * HOUR);
    w.collector().pass().await.unwrap();
    let done = w.get(&t, &post).await;
    assert_eq!(done.metrics_due, None);
    assert!(done.metrics_note.unwrap().contains("complete"));
    assert_eq!(series(&*w.store, &t, &post).await.unwrap().1.len(), 3);

    // Another tenant's post is 404.
    let other = w.tenant(Plan::Pro).await;
    assert!(matches!(
        series(&*w.store, &other, &post).await,
        Err(viral_core::Error::NotFound(_))
    ));
}

#[tokio::test]
async fn a_platforms_trouble_stays_on_its_posts_and_never_stops_another_tenant() {
    let tiktok = Arc::new(ScriptedPublisher::new(Platform::Tiktok));
    let w = World::new(vec![tiktok.clone()]);
    // Tenant A posts three videos to TikTok; tenant B one to the sandbox.
    let a = w.tenant(Plan::Pro).await;
    let a_job = w.video(&a).await;
    let a_acc = w.account(&a, Platform::Tiktok, None).await;
    let mut a_posts = Vec::new();
    for _ in 0..3 {
        let p = w.post(&a, &a_job, &a_acc, "SELF_ONLY").await;
        publish(&w, &a, &p).await;
        a_posts.push(p);
    }
    let b = w.tenant(Plan::Pro).await;
    let b_job = w.video(&b).await;
    let b_acc = w.account(&b, Platform::Sandbox, None).await;
    let b_post = w.post(&b, &b_job, &b_acc, "public").await;
    publish(&w, &b, &b_post).await;
    w.clock.advance(HOUR);

    // TikTok is over its rate limit: A's posts wait for it; B's post is collected.
    tiktok.then(
        Call::Metrics,
        Scripted::Fail(PublishError::Limited {
            code: "rate_limit_exceeded".into(),
            message: "too many requests".into(),
            retry_after_secs: 120,
        }),
    );
    let pass = w.collector().pass().await.unwrap();
    assert_eq!(
        (
            pass.collected.due,
            pass.collected.observed,
            pass.collected.deferred
        ),
        (4, 1, 3)
    );
    assert_eq!(series(&*w.store, &b, &b_post).await.unwrap().1.len(), 1);
    let waiting = w.get(&a, &a_posts[0]).await;
    assert_eq!(
        waiting.metrics_due,
        Some(w.clock.now().plus(Duration::from_secs(120)))
    );
    assert!(waiting.metrics_note.unwrap().contains("rate limited"));
    // One batched call for the three posts (TikTok takes 20 ids at once).
    assert_eq!(tiktok.count(Call::Metrics), 1);

    // Two minutes later: one post is deleted at TikTok (not in the answer), one has no data
    // yet, one has numbers, and none of them are zeros made up for missing data.
    w.clock.advance(Duration::from_secs(120));
    let id = |p: &str| {
        let w = &w;
        let (a, p) = (a.clone(), p.to_owned());
        async move { w.get(&a, &p).await.platform_post_id.unwrap() }
    };
    let (id1, id2) = (id(&a_posts[1]).await, id(&a_posts[2]).await);
    tiktok.then(
        Call::Metrics,
        Scripted::Observed(vec![
            (id1, Observed::Unavailable("not processed yet".into())),
            (
                id2,
                Observed::Metrics(Metrics {
                    views: Some(500),
                    likes: Some(40),
                    ..Metrics::default()
                }),
            ),
        ]),
    );
    let pass = w.collector().pass().await.unwrap();
    assert_eq!(
        (
            pass.collected.observed,
            pass.collected.gone,
            pass.collected.deferred
        ),
        (1, 1, 1)
    );
    let gone = w.get(&a, &a_posts[0]).await;
    assert_eq!(gone.metrics_due, None);
    assert!(gone.metrics_note.unwrap().contains("deleted or private"));
    let later = w.get(&a, &a_posts[1]).await;
    assert_eq!(later.metrics_failures, 1);
    assert_eq!(
        later.metrics_due,
        Some(w.clock.now().plus(Duration::from_secs(900)))
    );
    let (_, obs) = series(&*w.store, &a, &a_posts[2]).await.unwrap();
    assert_eq!(obs[0].metrics.views, Some(500));
    assert_eq!(obs[0].metrics.saves, None, "TikTok reports no saves");
    assert!(!obs[0].simulated);

    // The grant dies: refreshing after a refused token marks the account, and the post backs
    // off instead of failing the pass.
    w.clock.advance(HOUR);
    tiktok.then(
        Call::Metrics,
        Scripted::Fail(PublishError::Unauthorized("expired".into())),
    );
    tiktok.then(
        Call::Refresh,
        Scripted::Fail(PublishError::NeedsReconnect("invalid_grant".into())),
    );
    let pass = w.collector().pass().await.unwrap();
    assert!(pass.collected.deferred >= 1);
    assert!(
        pass.collected
            .problems
            .iter()
            .any(|p| p.contains("account_needs_reconnect")),
        "{:?}",
        pass.collected.problems
    );
}

#[tokio::test]
async fn measured_numbers_replace_a_persons_report_of_the_same_post() {
    let tiktok = Arc::new(ScriptedPublisher::new(Platform::Tiktok));
    let w = World::new(vec![tiktok.clone()]);
    let t = w.tenant(Plan::Pro).await;
    let job = video_of_concept(&w, &t).await;
    let concept = videos::get(&*w.store, &t, &job)
        .await
        .unwrap()
        .spec
        .concept_id
        .unwrap();
    let feedback = |platform: &str| -> concepts::Feedback {
        serde_json::from_value(json!({"platform": platform, "views": 1000, "likes": 90})).unwrap()
    };
    // The person reports the TikTok post by hand first: it counts whole.
    concepts::record_feedback(&*w.store, &*w.clock, &t, &concept, feedback("tiktok"))
        .await
        .unwrap();
    let manual = concepts::insights(&*w.store, &t).await.unwrap();
    assert!((manual.observations - 1.0).abs() < 1e-9);

    let acc = w.account(&t, Platform::Tiktok, None).await;
    let post = w.post(&t, &job, &acc, "SELF_ONLY").await;
    publish(&w, &t, &post).await;
    w.clock.advance(HOUR);
    let platform_id = w.get(&t, &post).await.platform_post_id.unwrap();
    tiktok.then(
        Call::Metrics,
        Scripted::Observed(vec![(
            platform_id,
            Observed::Metrics(Metrics {
                views: Some(800),
                likes: Some(60),
                ..Metrics::default()
            }),
        )]),
    );
    let pass = w.collector().pass().await.unwrap();
    assert_eq!(pass.collected.learned, 1);
    // The measurement stands in for the report: one post's evidence, at its age's weight.
    let measured = concepts::insights(&*w.store, &t).await.unwrap();
    assert!(
        (measured.observations - 0.265_625).abs() < 1e-9,
        "{}",
        measured.observations
    );
    let page = w
        .store
        .query(viral_core::ports::Query::new(format!("T#{t}"), "FB#"))
        .await
        .unwrap();
    assert_eq!(page.items.len(), 2);
    let (marker, measured) = (&page.items[0], &page.items[1]);
    // The report's item is a marker now (no score: it teaches nothing), which no later report
    // can be written over; what the person said is kept on the measurement.
    assert!(marker.attrs.contains_key("measured_by"), "{marker:?}");
    assert!(!marker.attrs.contains_key("score"));
    assert_eq!(measured.attrs["replaced"]["source"], "manual");
    // More reports of the measured post are refused; another platform's are still taken.
    let refused =
        concepts::record_feedback(&*w.store, &*w.clock, &t, &concept, feedback("tiktok")).await;
    assert!(
        matches!(
            refused,
            Err(viral_core::Error::State {
                code: "feedback_measured",
                ..
            })
        ),
        "{refused:?}"
    );
    concepts::record_feedback(
        &*w.store,
        &*w.clock,
        &t,
        &concept,
        feedback("youtube_shorts"),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn instagram_calls_share_one_hourly_budget_with_publishing() {
    let instagram = Arc::new(ScriptedPublisher::new(Platform::Instagram));
    let w = World::new(vec![instagram.clone()]);
    let t = w.tenant(Plan::Pro).await;
    let job = w.video(&t).await;
    let acc = w.account(&t, Platform::Instagram, None).await;
    let post = w.post(&t, &job, &acc, "public").await;
    publish(&w, &t, &post).await;
    w.clock.advance(HOUR);
    // Publishing has used what is left of Meta's 200 calls this hour for the account.
    let account = viral_core::service::accounts::get(&*w.store, &t, &acc)
        .await
        .unwrap();
    let mut taken = 0;
    while publishing::call_budget(&*w.store, &*w.clock, &account, PlatformCall::Poll)
        .await
        .unwrap()
        .is_none()
    {
        taken += 1;
        assert!(taken <= 200, "Meta's budget is 200 calls an hour");
    }
    let calls = instagram.count(Call::Metrics);
    let pass = w.collector().pass().await.unwrap();
    assert_eq!((pass.collected.due, pass.collected.observed), (1, 0));
    assert_eq!(
        instagram.count(Call::Metrics),
        calls,
        "no call over the budget"
    );
    let waiting = w.get(&t, &post).await;
    assert!(waiting.metrics_note.unwrap().contains("call budget"));
    assert!(waiting.metrics_due.unwrap() > w.clock.now());
    // Once the hour has passed the numbers are fetched.
    w.clock.set(waiting.metrics_due.unwrap());
    let pass = w.collector().pass().await.unwrap();
    assert_eq!(pass.collected.due, 1);
    assert_eq!(instagram.count(Call::Metrics), calls + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_observations_lose_none_and_none_counts_twice() {
    // 50 tenants × 20 observations, all at once (the same suite runs on DynamoDB, one at a
    // time, in viral-aws' conformance tests).
    let w = World::new(vec![]);
    viral_testkit::learner::concurrent_observations_lose_none(
        w.store.clone(),
        viral_testkit::learner::Load {
            tenants: 50,
            per_tenant: 20,
            concurrent: true,
        },
    )
    .await;
}
