//! Money through the API: quota taken exactly (under concurrent requests, on a period's first
//! request, and for what a batch delivered), the plan's tier and per-job cost cap for named
//! providers, the routing decision and estimate shown at once, an honest `degraded`, and a
//! panicking request that leaves the server serving.

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use common::TestApp;
use serde_json::{Value, json};
use viral_core::domain::concept::{Brief, Concept, Trend};
use viral_core::domain::learner::Posterior;
use viral_core::domain::routing::{ProviderInfo, ProviderProfile};
use viral_core::domain::{Plan, RateLimit, keys};
use viral_core::ports::{ConceptWriter, Query, RuleWriter, SourceError, Workflow, WorkflowError};

struct Started;

#[async_trait]
impl Workflow for Started {
    async fn start_job(&self, _: &str, _: &str) -> Result<bool, WorkflowError> {
        Ok(true)
    }
    async fn job_history(&self, _: &str, _: &str) -> Result<Option<Value>, WorkflowError> {
        Ok(None)
    }
}

fn provider(name: &str, cents_per_second: f64, durations: &[u32], quality: u8) -> ProviderInfo {
    ProviderInfo {
        profile: ProviderProfile {
            name: name.into(),
            model: format!("{name}-1"),
            cents_per_second,
            clip_durations: durations.to_vec(),
            max_clip_s: durations.iter().copied().max().unwrap_or(60),
            quality,
        },
        enabled: true,
        status: "enabled".into(),
    }
}

fn app(providers: Vec<ProviderInfo>) -> TestApp {
    TestApp::with(move |s| {
        s.workflow = Some(Arc::new(Started));
        s.rate_limit = RateLimit::parse("100000/10s").unwrap();
        s.providers = providers;
    })
}

fn post(path: &str, key: &str, idem: &str, body: Value) -> Request<Body> {
    Request::post(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .header("idempotency-key", idem)
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn used(t: &TestApp, key: &str) -> (i64, i64) {
    let u = t.call("GET", "/v1/usage", Some(key), None).await;
    u.expect(200, None);
    (
        u.body["concepts"]["used"].as_i64().unwrap(),
        u.body["videos"]["used"].as_i64().unwrap(),
    )
}

/// Ledger entries of a tenant by state, summed by amount (videos count one each).
async fn ledger(t: &TestApp, tenant: &str) -> (i64, i64) {
    let page = t
        .state
        .store
        .query(Query::new(keys::tenant_pk(tenant), "LEDGER#").limit(1000))
        .await
        .unwrap();
    let (mut reserved, mut consumed) = (0, 0);
    for i in &page.items {
        let amount = i.int("amount").unwrap_or(1);
        match i.str("state") {
            Some("RESERVED") => reserved += amount,
            Some("CONSUMED") => consumed += amount,
            _ => {}
        }
    }
    (reserved, consumed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_requests_take_exactly_what_remains() {
    let t = app(vec![ProviderInfo::storyboard()]);
    // Starter: 10 videos and 10 concepts a month; 3 of each used before the race.
    let a = t.tenant("Racer", Plan::Starter).await;
    for i in 0..3 {
        t.send(post(
            "/v1/videos",
            &a.key,
            &format!("warm-v{i}"),
            json!({"prompt": "Warm. Up."}),
        ))
        .await
        .expect(202, None);
    }
    t.send(post(
        "/v1/concepts",
        &a.key,
        "warm-c",
        json!({"count": 3, "topics": ["warm"]}),
    ))
    .await
    .expect(201, None);
    let q = 10 - 3;
    let race = |path: &'static str, body: Value| {
        let (app, key) = (t.app.clone(), a.key.clone());
        async move {
            // All 50 in flight at once; collected in order.
            let reqs: Vec<_> = (0..50)
                .map(|i| {
                    let (app, key, body) = (app.clone(), key.clone(), body.clone());
                    tokio::spawn(async move {
                        common::send(&app, post(path, &key, &format!("race-{i}"), body)).await
                    })
                })
                .collect();
            let mut codes = Vec::new();
            for r in reqs {
                let r = r.await.unwrap();
                codes.push(r.status.as_u16());
                if r.status == 402 {
                    assert_eq!(r.body["error"]["code"], "quota_exceeded", "{}", r.body);
                }
            }
            codes
        }
    };
    let videos = race(
        "/v1/videos",
        json!({"prompt": "Race. For the last videos."}),
    )
    .await;
    let concepts = race("/v1/concepts", json!({"count": 1, "topics": ["race"]})).await;
    let ok = |codes: &[u16], want: u16| codes.iter().filter(|c| **c == want).count();
    assert_eq!(ok(&videos, 202), q, "{videos:?}");
    assert_eq!(ok(&videos, 402), 50 - q, "{videos:?}");
    assert_eq!(ok(&concepts, 201), q, "{concepts:?}");
    assert_eq!(ok(&concepts, 402), 50 - q, "{concepts:?}");
    assert_eq!(used(&t, &a.key).await, (10, 10));
    // The ledger agrees: 10 videos reserved, 10 concepts consumed.
    assert_eq!(ledger(&t, &a.id).await, (10, 10));
    eprintln!(
        "quota race: 50 concurrent POST /v1/videos and 50 POST /v1/concepts against {q} left: \
         {} and {} accepted, the rest 402; usage 10/10 and 10/10, ledger consistent",
        ok(&videos, 202),
        ok(&concepts, 201)
    );
}

#[tokio::test]
async fn a_periods_first_request_obeys_the_limit_and_says_what_remains() {
    let t = app(vec![ProviderInfo::storyboard()]);
    // Free: 3 concepts; nothing used yet this period (no counter exists).
    let a = t.tenant("Fresh", Plan::Free).await;
    let r = t
        .send(post(
            "/v1/concepts",
            &a.key,
            "big",
            json!({"count": 10, "topics": ["x"]}),
        ))
        .await;
    r.expect(402, Some("quota_exceeded"));
    let m = r.body["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("needs 10") && m.contains("3 of the period's 3 remain"),
        "{m}"
    );
    assert_eq!(used(&t, &a.key).await, (0, 0), "nothing reserved");
    t.send(post(
        "/v1/concepts",
        &a.key,
        "two",
        json!({"count": 2, "topics": ["x"]}),
    ))
    .await
    .expect(201, None);
    let r = t
        .send(post(
            "/v1/concepts",
            &a.key,
            "three",
            json!({"count": 3, "topics": ["x"]}),
        ))
        .await;
    r.expect(402, Some("quota_exceeded"));
    let m = r.body["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("needs 3") && m.contains("1 of the period's 3 remain"),
        "{m}"
    );
    assert_eq!(used(&t, &a.key).await, (2, 0));
}

/// Writes only `n` concepts, whatever was asked.
struct Short(usize);

#[async_trait]
impl ConceptWriter for Short {
    fn name(&self) -> &str {
        "short"
    }
    async fn write(
        &self,
        trends: &[Trend],
        brief: &Brief,
        learner: &Posterior,
        seed: u64,
    ) -> Result<Vec<Concept>, SourceError> {
        let mut all = RuleWriter.write(trends, brief, learner, seed).await?;
        all.truncate(self.0);
        Ok(all)
    }
}

#[tokio::test]
async fn a_short_batch_is_charged_for_what_it_delivered() {
    let t = TestApp::with(|s| {
        s.writer = Arc::new(Short(4));
        s.rate_limit = RateLimit::parse("1000/10s").unwrap();
    });
    let a = t.tenant("Short", Plan::Starter).await;
    let r = t
        .send(post(
            "/v1/concepts",
            &a.key,
            "ten",
            json!({"count": 10, "topics": ["a", "b"]}),
        ))
        .await;
    r.expect(201, None);
    assert_eq!(r.body["concepts"].as_array().unwrap().len(), 4);
    assert_eq!(used(&t, &a.key).await, (4, 0), "asked 10, got 4, charged 4");
    assert_eq!(ledger(&t, &a.id).await, (0, 4));
}

#[tokio::test]
async fn a_named_provider_must_be_in_the_plan_and_fit_its_cap() {
    let t = app(vec![
        ProviderInfo::storyboard(),
        provider("runway", 12.0, &[2, 3, 4, 5, 6, 7, 8, 9, 10], 4),
        provider("veo", 15.0, &[4, 6, 8], 5),
    ]);
    let free = t.tenant("Free", Plan::Free).await;
    let r = t
        .send(post(
            "/v1/videos",
            &free.key,
            "f-1",
            json!({"prompt": "P.", "provider": "runway"}),
        ))
        .await;
    r.expect(422, Some("provider_not_in_plan"));
    let starter = t.tenant("Starter", Plan::Starter).await;
    // 30 s of Veo is 8 + 8 + 8 + 6 s at 15 cents: 450 cents, over the $3.00 cap.
    let r = t
        .send(post(
            "/v1/videos",
            &starter.key,
            "s-1",
            json!({"prompt": "P.", "provider": "veo", "duration_s": 30}),
        ))
        .await;
    r.expect(402, Some("cost_cap_exceeded"));
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(msg.contains("450"), "{msg}");
    assert_eq!(used(&t, &free.key).await, (0, 0), "nothing reserved");
    assert_eq!(used(&t, &starter.key).await, (0, 0), "nothing reserved");
    // Within the tier and the cap: accepted, and the answer says how and for how much.
    let r = t
        .send(post(
            "/v1/videos",
            &starter.key,
            "s-2",
            json!({"prompt": "P.", "provider": "veo"}),
        ))
        .await;
    r.expect(202, None);
    assert_eq!(r.body["routing"]["provider"], "veo");
    assert_eq!(r.body["routing"]["clips"], json!([8.0, 8.0]));
    assert_eq!(r.body["estimated_cost_cents"], 240);
    assert_eq!(r.body["budget_cents"], 300);
    assert_eq!(r.body["degraded"], false);
    let id = r.body["job_id"].as_str().unwrap();
    let v = t
        .call("GET", &format!("/v1/videos/{id}"), Some(&starter.key), None)
        .await;
    v.expect(200, None);
    assert_eq!(v.body["budget_cents"], 300);
    assert_eq!(
        v.body["cost_cents"], 0,
        "nothing spent before a provider takes a clip"
    );
}

#[tokio::test]
async fn a_tier_this_deployment_cannot_serve_says_so() {
    // Only the built-in preview renderer here; a pro plan aims for generative video.
    let t = app(vec![ProviderInfo::storyboard()]);
    let pro = t.tenant("Pro", Plan::Pro).await;
    let r = t
        .send(post(
            "/v1/videos",
            &pro.key,
            "p-1",
            json!({"prompt": "Pro. Plan."}),
        ))
        .await;
    r.expect(202, None);
    assert_eq!(r.body["degraded"], true, "{}", r.body);
    assert_eq!(r.body["routing"]["provider"], "storyboard");
    let reason = r.body["routing"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("standard tier") && reason.contains("preview"),
        "{reason}"
    );
    // The free plan's previews are what it asks for: not degraded.
    let free = t.tenant("Free", Plan::Free).await;
    let r = t
        .send(post(
            "/v1/videos",
            &free.key,
            "f-1",
            json!({"prompt": "Free. Plan."}),
        ))
        .await;
    r.expect(202, None);
    assert_eq!(r.body["degraded"], false, "{}", r.body);
}

#[tokio::test]
async fn a_panicking_request_answers_500_and_the_server_keeps_serving() {
    let t = TestApp::new();
    let extra = axum::Router::new().route(
        "/boom",
        axum::routing::get(|| async {
            let v: Vec<u8> = Vec::new();
            #[allow(clippy::indexing_slicing)]
            let x = v[1];
            x.to_string()
        }),
    );
    let app = viral_api::router_with(t.state.clone(), &viral_api::Route::ALL, extra);
    let r = common::send(
        &app,
        Request::get("/boom")
            .header("x-request-id", "req-boom-1")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    r.expect(500, Some("internal"));
    assert_eq!(r.body["error"]["request_id"], "req-boom-1");
    let ok = common::send(&app, Request::get("/healthz").body(Body::empty()).unwrap()).await;
    ok.expect(200, None);
}

/// The catch-panic layer above only works when panics unwind. The release profile leaves
/// `panic` unset: `cargo build --release` (the CLI, `viral up`) then unwinds, and the CLI
/// refuses to compile otherwise; `cargo lambda build --release` (what `sam build` runs) then
/// aborts, which keeps the unwinding code out of the Lambdas (README *Panics*). A `panic` line
/// here would force one choice on both.
#[test]
fn the_release_profile_leaves_the_panic_strategy_to_the_build() {
    let manifest =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml")).unwrap();
    let sections: Vec<&str> = manifest
        .split("\n[")
        .filter(|section| section.starts_with("profile.release"))
        .collect();
    assert!(
        sections.iter().any(|s| s.starts_with("profile.release]")),
        "no [profile.release] in the manifest"
    );
    let release: Vec<&str> = sections
        .iter()
        .flat_map(|section| section.lines())
        .map(str::trim)
        .filter(|line| line.starts_with("panic"))
        .collect();
    assert!(release.is_empty(), "{release:?}");
}

#[tokio::test]
async fn a_retry_is_answered_with_the_first_result_after_the_quota_ran_out() {
    let t = app(vec![ProviderInfo::storyboard()]);
    let free = t.tenant("Free", Plan::Free).await;
    let body = json!({"prompt": "Once. Only once."});
    let first = t
        .send(post("/v1/videos", &free.key, "only-1", body.clone()))
        .await;
    first.expect(202, None);
    // The period's one video is taken by that job: a retry of the same request still gets
    // it, never `quota_exceeded`; a new request does not.
    let again = t
        .send(post("/v1/videos", &free.key, "only-1", body.clone()))
        .await;
    assert_eq!(
        again.body["job_id"], first.body["job_id"],
        "{:?}",
        again.body
    );
    let other = t.send(post("/v1/videos", &free.key, "only-2", body)).await;
    other.expect(402, Some("quota_exceeded"));
    assert_eq!(used(&t, &free.key).await, (0, 1));
    // The same for concepts: three of three taken, then a retry.
    let concepts = json!({"count": 3, "topics": ["a"]});
    let first = t
        .send(post("/v1/concepts", &free.key, "c-1", concepts.clone()))
        .await;
    first.expect(201, None);
    let again = t
        .send(post("/v1/concepts", &free.key, "c-1", concepts))
        .await;
    again.expect(200, None);
    assert_eq!(again.body["batch_id"], first.body["batch_id"]);
    assert_eq!(used(&t, &free.key).await, (3, 1));
}
