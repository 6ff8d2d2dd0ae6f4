//! Concept routes in-process with the offline trends and writer: batches, quota, idempotent
//! retries, other tenants' ids, feedback validation and replacement, insights, and a video
//! made from a concept.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::TestApp;
use serde_json::{Value, json};
use viral_core::domain::{Plan, RateLimit};

fn app() -> TestApp {
    TestApp::with(|s| s.rate_limit = RateLimit::parse("1000/10s").unwrap())
}

async fn post(t: &TestApp, path: &str, key: &str, idem: Option<&str>, body: Value) -> common::Resp {
    let mut b = Request::post(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json");
    if let Some(k) = idem {
        b = b.header("idempotency-key", k);
    }
    t.send(b.body(Body::from(body.to_string())).unwrap()).await
}

#[tokio::test]
async fn a_batch_has_five_complete_concepts_and_replays_by_key() {
    let t = app();
    let a = t.tenant("Acme", Plan::Pro).await;
    let r = post(
        &t,
        "/v1/concepts",
        &a.key,
        Some("b-1"),
        json!({"niche": "a calm science channel"}),
    )
    .await;
    r.expect(201, None);
    assert_eq!(r.body["trend_source"], "sample");
    assert_eq!(r.body["writer"], "rules");
    let concepts = r.body["concepts"].as_array().unwrap();
    assert_eq!(concepts.len(), 5);
    for c in concepts {
        for field in [
            "id",
            "title",
            "hook",
            "visual_prompt",
            "caption",
            "category",
            "format",
            "hook_style",
            "rationale",
        ] {
            assert!(
                c[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field}: {c}"
            );
        }
        let beats = c["beats"].as_array().unwrap();
        let last = beats.last().unwrap();
        let end = last["start_s"].as_f64().unwrap() + last["duration_s"].as_f64().unwrap();
        assert!((end - 15.0).abs() < 0.05);
        assert!(c["predicted_score"].as_u64().unwrap() <= 100);
    }
    // The same key and body: the same batch, not charged again.
    let again = post(
        &t,
        "/v1/concepts",
        &a.key,
        Some("b-1"),
        json!({"niche": "a calm science channel"}),
    )
    .await;
    again.expect(200, None);
    assert_eq!(again.body["batch_id"], r.body["batch_id"]);
    // The batch is served again by its id, to its own tenant only.
    let path = format!(
        "/v1/concept-batches/{}",
        r.body["batch_id"].as_str().unwrap()
    );
    let batch = t.call("GET", &path, Some(&a.key), None).await;
    batch.expect(200, None);
    assert_eq!(batch.body["concepts"], r.body["concepts"]);
    let other = t.tenant("Other", Plan::Pro).await;
    t.call("GET", &path, Some(&other.key), None)
        .await
        .expect(404, Some("not_found"));
    assert_eq!(again.headers["idempotent-replayed"], "true");
    let usage = t.call("GET", "/v1/usage", Some(&a.key), None).await;
    assert_eq!(usage.body["concepts"]["used"], 5);
    // Another body with the same key is refused.
    post(&t, "/v1/concepts", &a.key, Some("b-1"), json!({"count": 2}))
        .await
        .expect(422, Some("idempotency_mismatch"));
    // Topics become the trends.
    let r = post(
        &t,
        "/v1/concepts",
        &a.key,
        None,
        json!({"topics": ["Sourdough starters"], "count": 2}),
    )
    .await;
    r.expect(201, None);
    assert_eq!(r.body["trend_source"], "topic");
    assert!(r.body["concepts"][0]["trends"][0]["title"] == "Sourdough starters");
}

#[tokio::test]
async fn the_month_quota_counts_concepts() {
    let t = app();
    let a = t.tenant("Acme", Plan::Starter).await; // 10 concepts a month
    for _ in 0..2 {
        post(&t, "/v1/concepts", &a.key, None, json!({}))
            .await
            .expect(201, None);
    }
    post(&t, "/v1/concepts", &a.key, None, json!({}))
        .await
        .expect(402, Some("quota_exceeded"));
    let usage = t.call("GET", "/v1/usage", Some(&a.key), None).await;
    assert_eq!(
        usage.body["concepts"]["used"], 10,
        "the refused batch took nothing"
    );
}

#[tokio::test]
async fn bad_requests_and_other_tenants_ids() {
    let t = app();
    let a = t.tenant("A", Plan::Pro).await;
    let b = t.tenant("B", Plan::Pro).await;
    for bad in [
        json!({"count": 0}),
        json!({"count": 11}),
        json!({"duration_s": 2}),
        json!({"region": "usa"}),
        json!({"topics": ["", "x"]}),
        json!({"topics": ["a","b","c","d","e","f"]}),
        json!({"niche": "n".repeat(201)}),
        json!({"niche": "bells\u{7}"}),
    ] {
        post(&t, "/v1/concepts", &a.key, None, bad.clone())
            .await
            .expect(422, Some("invalid_request"));
    }
    post(&t, "/v1/concepts", &a.key, None, json!({"surprise": 1}))
        .await
        .expect(422, None);
    let r = post(&t, "/v1/concepts", &a.key, None, json!({"count": 1})).await;
    let id = r.body["concepts"][0]["id"].as_str().unwrap().to_owned();
    t.call("GET", &format!("/v1/concepts/{id}"), Some(&a.key), None)
        .await
        .expect(200, None);
    t.call("GET", &format!("/v1/concepts/{id}"), Some(&b.key), None)
        .await
        .expect(404, Some("not_found"));
    post(
        &t,
        &format!("/v1/concepts/{id}/feedback"),
        &b.key,
        None,
        json!({"platform": "tiktok", "views": 10}),
    )
    .await
    .expect(404, Some("not_found"));
    let list = t.call("GET", "/v1/concepts", Some(&b.key), None).await;
    assert_eq!(list.body["items"], json!([]));
    let list = t
        .call("GET", "/v1/concepts?limit=1", Some(&a.key), None)
        .await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn feedback_is_validated_replaces_itself_and_teaches_the_learner() {
    let t = app();
    let a = t.tenant("Acme", Plan::Pro).await;
    let r = post(&t, "/v1/concepts", &a.key, None, json!({"count": 1})).await;
    let c = r.body["concepts"][0].clone();
    let path = format!("/v1/concepts/{}/feedback", c["id"].as_str().unwrap());
    for bad in [
        json!({"platform": "myspace", "views": 10}),
        json!({"platform": "tiktok", "views": 10, "completion_rate": 1.5}),
        json!({"platform": "tiktok", "views": 1, "likes": 500}),
        json!({"platform": "tiktok", "views": 10, "observed_at": "yesterday"}),
        json!({"platform": "tiktok", "views": 10, "observed_at": "9999-01-01T00:00:00Z"}),
        json!({"platform": "tiktok", "views": 10, "observed_at": "1999-01-01T00:00:00Z"}),
        json!({"platform": "tiktok", "views": -1}),
    ] {
        let r = post(&t, &path, &a.key, None, bad.clone()).await;
        assert_eq!(r.status.as_u16(), 422, "{bad}: {}", r.body);
    }
    let fb = json!({"platform": "tiktok", "views": 10000, "likes": 900, "shares": 120, "completion_rate": 0.7});
    let r = post(&t, &path, &a.key, None, fb.clone()).await;
    r.expect(200, None);
    // Figures for people: four decimals at most, no float noise.
    for field in ["score", "predicted"] {
        let text = r.body[field].to_string();
        let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(decimals <= 4, "{field}: {text}");
    }
    assert_eq!(r.body["first"], true);
    let score = r.body["score"].as_f64().unwrap();
    assert!(score > 0.5, "{score}");
    let again = post(&t, &path, &a.key, None, fb).await;
    assert_eq!(again.body["first"], false);
    let ins = t.call("GET", "/v1/insights", Some(&a.key), None).await;
    ins.expect(200, None);
    assert_eq!(
        ins.body["observations"], 1.0,
        "the repeat replaced, not added"
    );
    let effects = ins.body["effects"].as_array().unwrap();
    let cat = format!("category:{}", c["category"].as_str().unwrap());
    let e = effects
        .iter()
        .find(|e| e["feature"] == cat.as_str())
        .expect("the category's effect");
    assert!(e["effect"].as_f64().unwrap() > 0.0 && e["sd"].as_f64().unwrap() > 0.0);
    assert_eq!(ins.body["calibration"].as_array().unwrap().len(), 1);
}
