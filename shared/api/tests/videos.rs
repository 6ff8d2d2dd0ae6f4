//! Video routes in-process, with a recording Workflow (the pipeline itself is tested in
//! viral-steps and end to end in viral-cli).

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use common::TestApp;
use serde_json::{Value, json};
use viral_core::domain::{Plan, RateLimit};
use viral_core::ports::{Workflow, WorkflowError};

#[derive(Default)]
struct Recorder(Mutex<Vec<String>>);

#[async_trait]
impl Workflow for Recorder {
    async fn start_job(&self, _: &str, job_id: &str) -> Result<bool, WorkflowError> {
        let mut v = self.0.lock().unwrap();
        let first = !v.contains(&job_id.to_owned());
        v.push(job_id.to_owned());
        Ok(first)
    }
    async fn job_history(&self, _: &str, job_id: &str) -> Result<Option<Value>, WorkflowError> {
        Ok(Some(
            json!({"status": "RUNNING", "history": [{"type": "ExecutionStarted", "job": job_id}]}),
        ))
    }
}

fn app() -> (TestApp, Arc<Recorder>) {
    let rec = Arc::new(Recorder::default());
    let w = rec.clone();
    let t = TestApp::with(move |s| {
        s.workflow = Some(w);
        s.rate_limit = RateLimit::parse("1000/10s").unwrap();
    });
    (t, rec)
}

fn post(key: &str, idem: Option<&str>, body: &str) -> Request<Body> {
    let mut b = Request::post("/v1/videos")
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json");
    if let Some(k) = idem {
        b = b.header("idempotency-key", k);
    }
    b.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn create_get_list_and_events() {
    let (t, rec) = app();
    let a = t.tenant("A", Plan::Starter).await;
    let r = t
        .send(post(
            &a.key,
            Some("k-1"),
            r#"{"prompt":"Hello. World.","platforms":["tiktok"],"narration":{"language":"en-gb","speed":1.2}}"#,
        ))
        .await;
    r.expect(202, None);
    let id = r.body["job_id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["status"], "queued");
    assert_eq!(rec.0.lock().unwrap().as_slice(), std::slice::from_ref(&id));

    let r = t
        .call("GET", &format!("/v1/videos/{id}"), Some(&a.key), None)
        .await;
    r.expect(200, None);
    assert_eq!(r.body["status"], "queued");
    assert_eq!(r.body["platforms"], json!(["tiktok"]));
    assert_eq!(r.body["duration_s"], 15.0);
    assert_eq!(
        r.body["narration"],
        json!({"language": "en-gb", "speed": 1.2})
    );
    assert!(r.body["video_url"].is_null());

    let r = t.call("GET", "/v1/videos", Some(&a.key), None).await;
    r.expect(200, None);
    assert_eq!(r.body["items"][0]["id"], id.as_str());

    let r = t
        .call(
            "GET",
            &format!("/v1/videos/{id}/events"),
            Some(&a.key),
            None,
        )
        .await;
    r.expect(200, None);
    assert_eq!(r.body["history"][0]["type"], "ExecutionStarted");

    let r = t.call("GET", "/v1/usage", Some(&a.key), None).await;
    assert_eq!(r.body["videos"]["used"], 1);
}

#[tokio::test]
async fn idempotent_retries_charge_once() {
    let (t, rec) = app();
    let a = t.tenant("A", Plan::Starter).await;
    let body = r#"{"prompt":"Same body"}"#;
    let first = t.send(post(&a.key, Some("retry-me"), body)).await;
    first.expect(202, None);
    let again = t.send(post(&a.key, Some("retry-me"), body)).await;
    again.expect(202, None);
    assert_eq!(again.body["job_id"], first.body["job_id"]);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    // The replay re-issues the (idempotent) start; only one job exists and one video is used.
    assert_eq!(rec.0.lock().unwrap().len(), 2);
    let r = t.call("GET", "/v1/videos", Some(&a.key), None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
    let r = t.call("GET", "/v1/usage", Some(&a.key), None).await;
    assert_eq!(r.body["videos"]["used"], 1);

    t.send(post(
        &a.key,
        Some("retry-me"),
        r#"{"prompt":"Another body"}"#,
    ))
    .await
    .expect(422, Some("idempotency_mismatch"));
    let long = "x".repeat(256);
    t.send(post(&a.key, Some(&long), body))
        .await
        .expect(422, Some("invalid_request"));
}

#[tokio::test]
async fn quota_is_enforced_and_never_double_charged() {
    let (t, _) = app();
    let a = t.tenant("A", Plan::Free).await; // one video a month
    t.send(post(&a.key, None, r#"{"prompt":"one"}"#))
        .await
        .expect(202, None);
    let r = t.send(post(&a.key, None, r#"{"prompt":"two"}"#)).await;
    r.expect(402, Some("quota_exceeded"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2026-12-01")
    );
    let r = t.call("GET", "/v1/usage", Some(&a.key), None).await;
    assert_eq!(r.body["videos"]["used"], 1);
    assert_eq!(r.body["videos"]["remaining"], 0);
    let r = t.call("GET", "/v1/videos", Some(&a.key), None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn other_tenants_videos_are_not_found() {
    let (t, _) = app();
    let a = t.tenant("A", Plan::Starter).await;
    let b = t.tenant("B", Plan::Starter).await;
    let r = t.send(post(&a.key, None, r#"{"prompt":"mine"}"#)).await;
    let id = r.body["job_id"].as_str().unwrap().to_owned();
    for path in [
        format!("/v1/videos/{id}"),
        format!("/v1/videos/{id}/events"),
        "/v1/videos/job_zzz".into(),
    ] {
        t.call("GET", &path, Some(&b.key), None)
            .await
            .expect(404, Some("not_found"));
    }
    let r = t.call("GET", "/v1/videos", Some(&b.key), None).await;
    assert!(r.body["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn bad_requests_are_4xx_and_reserve_nothing() {
    let (t, _) = app();
    let a = t.tenant("A", Plan::Starter).await;
    for (body, status, code) in [
        (r#"{}"#, 422, "invalid_request"),
        (r#"{"prompt":"   "}"#, 422, "invalid_request"),
        (
            r#"{"prompt":"x","provider":"teleport"}"#,
            422,
            "invalid_request",
        ),
        (
            r#"{"prompt":"x","platforms":["myspace"]}"#,
            422,
            "invalid_request",
        ),
        (r#"{"prompt":"x","platforms":[]}"#, 422, "invalid_request"),
        (r#"{"prompt":"x","duration_s":3}"#, 422, "invalid_request"),
        (
            r#"{"prompt":"x","duration_s":"long"}"#,
            422,
            "invalid_request",
        ),
        (r#"{"prompt":"x","colour":"red"}"#, 422, "invalid_request"),
        (
            r#"{"prompt":"x","narration":{"speed":9}}"#,
            422,
            "invalid_request",
        ),
        (
            r#"{"prompt":"x","narration":{"voice":"../../etc/passwd"}}"#,
            422,
            "invalid_request",
        ),
        (
            r#"{"prompt":"x","narration":{"language":"EN_US"}}"#,
            422,
            "invalid_request",
        ),
        (
            r#"{"prompt":"x","narration":{"accent":"posh"}}"#,
            422,
            "invalid_request",
        ),
        (r#"{"concept_id":"cpt_1"}"#, 404, "not_found"),
        (r#"{"prompt":"#, 400, "invalid_json"),
    ] {
        t.send(post(&a.key, None, body))
            .await
            .expect(status, Some(code));
    }
    let long = json!({"prompt": "x".repeat(2001)}).to_string();
    t.send(post(&a.key, None, &long))
        .await
        .expect(422, Some("invalid_request"));
    let r = t.call("GET", "/v1/usage", Some(&a.key), None).await;
    assert_eq!(r.body["videos"]["used"], 0);
    // A key without videos:write may read but not create.
    let r = t
        .call(
            "POST",
            "/v1/api-keys",
            Some(&a.key),
            Some(r#"{"name":"ro","scopes":["usage:read"]}"#),
        )
        .await;
    let ro = r.body["key"].as_str().unwrap().to_owned();
    t.send(post(&ro, None, r#"{"prompt":"x"}"#))
        .await
        .expect(403, Some("insufficient_scope"));
}

#[tokio::test]
async fn the_workspace_narration_is_the_default_a_job_may_override() {
    let (t, _) = app();
    let a = t.tenant("A", Plan::Starter).await;
    let b = t.tenant("B", Plan::Starter).await;
    let settings = |key: String| {
        let t = &t;
        async move {
            let r = t.call("GET", "/v1/settings", Some(&key), None).await;
            r.expect(200, None);
            r.body["narration"].clone()
        }
    };
    assert_eq!(settings(a.key.clone()).await, Value::Null);
    let r = t
        .call(
            "PUT",
            "/v1/settings",
            Some(&a.key),
            Some(r#"{"narration":{"language":"es","voice":"Lucia","speed":1.1}}"#),
        )
        .await;
    r.expect(200, None);
    let spanish = json!({"language": "es", "voice": "Lucia", "speed": 1.1});
    assert_eq!(r.body["narration"], spanish);
    assert_eq!(settings(a.key.clone()).await, spanish);
    assert_eq!(settings(b.key.clone()).await, Value::Null, "A's only");

    let video = |key: String, body: &'static str| {
        let t = &t;
        async move {
            let r = t.send(post(&key, None, body)).await;
            r.expect(202, None);
            let id = r.body["job_id"].as_str().unwrap().to_owned();
            let r = t
                .call("GET", &format!("/v1/videos/{id}"), Some(&key), None)
                .await;
            r.body["narration"].clone()
        }
    };
    assert_eq!(video(a.key.clone(), r#"{"prompt":"Hola."}"#).await, spanish);
    assert_eq!(
        video(
            a.key.clone(),
            r#"{"prompt":"Hi.","narration":{"speed":0.9}}"#
        )
        .await,
        json!({"speed": 0.9}),
        "a job's own narration wins whole"
    );
    assert_eq!(
        video(b.key.clone(), r#"{"prompt":"Hi."}"#).await,
        Value::Null
    );

    // Bad settings are refused and change nothing.
    for body in [
        r#"{"narration":{"speed":9}}"#,
        r#"{"narration":{"voice":"../../etc/passwd"}}"#,
        r#"{"narration":{"language":"EN_US"}}"#,
        r#"{"narration":{"accent":"posh"}}"#,
        r#"{"theme":"dark"}"#,
        r#"{"narration":"loud"}"#,
    ] {
        t.call("PUT", "/v1/settings", Some(&a.key), Some(body))
            .await
            .expect(422, Some("invalid_request"));
    }
    t.call(
        "PUT",
        "/v1/settings",
        Some(&a.key),
        Some(r#"{"narration":"#),
    )
    .await
    .expect(400, Some("invalid_json"));
    assert_eq!(settings(a.key.clone()).await, spanish);

    // A key without videos:write may read the settings but not change them.
    let r = t
        .call(
            "POST",
            "/v1/api-keys",
            Some(&a.key),
            Some(r#"{"name":"ro","scopes":["usage:read"]}"#),
        )
        .await;
    let ro = r.body["key"].as_str().unwrap().to_owned();
    assert_eq!(settings(ro.clone()).await, spanish);
    t.call("PUT", "/v1/settings", Some(&ro), Some("{}"))
        .await
        .expect(403, Some("insufficient_scope"));

    // `{}` clears the default.
    let r = t
        .call("PUT", "/v1/settings", Some(&a.key), Some("{}"))
        .await;
    r.expect(200, None);
    assert_eq!(settings(a.key.clone()).await, Value::Null);
    assert_eq!(
        video(a.key.clone(), r#"{"prompt":"Hi."}"#).await,
        Value::Null
    );
}

#[tokio::test]
async fn without_a_workflow_jobs_are_refused_before_any_charge() {
    let t = TestApp::new();
    let a = t.tenant("A", Plan::Starter).await;
    t.send(post(&a.key, None, r#"{"prompt":"x"}"#))
        .await
        .expect(503, Some("workflow_unavailable"));
    let r = t.call("GET", "/v1/usage", Some(&a.key), None).await;
    assert_eq!(r.body["videos"]["used"], 0);
}

#[tokio::test]
async fn a_video_from_a_concept_renders_its_hook_and_beats() {
    let (t, started) = app();
    let a = t.tenant("Acme", Plan::Pro).await;
    let r = t
        .call(
            "POST",
            "/v1/concepts",
            Some(&a.key),
            Some(r#"{"count": 1, "duration_s": 20}"#),
        )
        .await;
    r.expect(201, None);
    let concept = r.body["concepts"][0].clone();
    let body = json!({"concept_id": concept["id"]}).to_string();
    let r = t
        .call("POST", "/v1/videos", Some(&a.key), Some(&body))
        .await;
    r.expect(202, None);
    let job_id = r.body["job_id"].as_str().unwrap().to_owned();
    assert_eq!(*started.0.lock().unwrap(), vec![job_id.clone()]);
    let job = t
        .call("GET", &format!("/v1/videos/{job_id}"), Some(&a.key), None)
        .await;
    assert!(
        job.body["prompt"]
            .as_str()
            .unwrap()
            .starts_with(concept["hook"].as_str().unwrap())
    );
    assert_eq!(job.body["duration_s"], 20.0, "the concept's length");
    let both = json!({"concept_id": concept["id"], "prompt": "x"}).to_string();
    t.call("POST", "/v1/videos", Some(&a.key), Some(&both))
        .await
        .expect(422, Some("invalid_request"));
}
