//! Autopilot routes in-process: settings are checked with stable codes, only keys that may
//! write videos and posts change them, a run waiting for review is approved once over HTTP,
//! the kill switch answers with what it took back, and another tenant gets 404 on every run
//! route. What runs do is tested in viral-steps' autopilot tests.

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{Tenant, TestApp};
use serde_json::{Value, json};
use viral_api::SocialState;
use viral_core::domain::autopilot::{Picker, RunStatus};
use viral_core::domain::routing::ProviderInfo;
use viral_core::domain::{Plan, RateLimit};
use viral_core::ports::{Publishers, RuleWriter, SampleTrends, Workflow, WorkflowError};
use viral_core::service::autopilot::{self, Runner};
use viral_core::service::videos;

#[derive(Default)]
struct Started(Mutex<Vec<String>>);

#[async_trait]
impl Workflow for Started {
    async fn start_job(&self, _: &str, _: &str) -> Result<bool, WorkflowError> {
        Ok(true)
    }
    async fn start_post(&self, _: &str, post_id: &str) -> Result<bool, WorkflowError> {
        self.0.lock().unwrap().push(post_id.to_owned());
        Ok(true)
    }
    async fn job_history(&self, _: &str, _: &str) -> Result<Option<Value>, WorkflowError> {
        Ok(None)
    }
}

fn app(dir: &tempfile::TempDir, started: Arc<Started>) -> TestApp {
    let vault =
        viral_embedded::FileTokenVault::from_key_file(&dir.path().join("vault.key")).unwrap();
    TestApp::with(move |s| {
        s.rate_limit = RateLimit::parse("1000/10s").unwrap();
        s.workflow = Some(started);
        s.social = Some(SocialState {
            vault: Arc::new(vault),
            publishers: Publishers::default()
                .with(Arc::new(viral_social::SandboxPublisher::default())),
            limits: Default::default(),
            public_url: "https://app.viral.example".into(),
            return_origins: vec![],
        });
    })
}

async fn channel(t: &TestApp, a: &Tenant) -> String {
    let r = t
        .call(
            "POST",
            "/v1/accounts/connect",
            Some(&a.key),
            Some(r#"{"platform":"sandbox","name":"Channel"}"#),
        )
        .await;
    r.body["account"]["id"].as_str().unwrap().to_owned()
}

fn body(target: &str) -> Value {
    json!({"enabled": true, "targets": [target], "posts_per_day": 2, "daily_budget_usd": 5,
           "timezone": "UTC", "quiet_hours": {"start": 0, "end": 0}, "approval": "review"})
}

#[tokio::test]
async fn settings_are_checked_and_need_both_write_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let t = app(&dir, Arc::default());
    let (a, b) = (
        t.tenant("A", Plan::Pro).await,
        t.tenant("B", Plan::Pro).await,
    );
    let mine = channel(&t, &a).await;
    let theirs = channel(&t, &b).await;
    t.call("GET", "/v1/autopilot", Some(&a.key), None)
        .await
        .expect(404, Some("not_found"));
    for (patch, why) in [
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"targets": [theirs]}), "targets"),
        (json!({"targets": []}), "targets"),
        (json!({"daily_budget_usd": 5000}), "daily_budget_usd"),
        (json!({"posts_per_day": 0}), "posts_per_day"),
        (json!({"approval": "sometimes"}), "approval"),
        (
            json!({"quiet_hours": {"start": 1, "end": 0}}),
            "quiet_hours",
        ),
        (json!({"regions": ["usa"]}), "regions"),
    ] {
        let mut b = body(&mine);
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        let r = t
            .call("PUT", "/v1/autopilot", Some(&a.key), Some(&b.to_string()))
            .await;
        r.expect(422, None);
        let msg = r.body["error"]["message"].as_str().unwrap();
        assert!(msg.contains(why), "{why}: {msg}");
    }
    let r = t
        .call(
            "PUT",
            "/v1/autopilot",
            Some(&a.key),
            Some(&body(&mine).to_string()),
        )
        .await;
    r.expect(200, None);
    assert_eq!(r.body["run_hours"], json!([0, 12]));
    assert_eq!(r.body["daily_budget_usd"], json!(5.0));
    let got = t.call("GET", "/v1/autopilot", Some(&a.key), None).await;
    assert_eq!(got.body["approval"], "review");
    // B sees no autopilot of A's.
    t.call("GET", "/v1/autopilot", Some(&b.key), None)
        .await
        .expect(404, Some("not_found"));
    let reader = t
        .call(
            "POST",
            "/v1/api-keys",
            Some(&a.key),
            Some(r#"{"name":"videos only","scopes":["videos:write"]}"#),
        )
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    t.call(
        "PUT",
        "/v1/autopilot",
        Some(&reader),
        Some(&body(&mine).to_string()),
    )
    .await
    .expect(403, Some("insufficient_scope"));
    t.call("POST", "/v1/autopilot/pause", Some(&reader), None)
        .await
        .expect(403, Some("insufficient_scope"));
    t.call("GET", "/v1/autopilot", Some(&reader), None)
        .await
        .expect(200, None);
}

#[tokio::test]
async fn a_run_awaiting_review_is_approved_once_and_only_by_its_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let started = Arc::new(Started::default());
    let t = app(&dir, started.clone());
    let (a, b) = (
        t.tenant("A", Plan::Pro).await,
        t.tenant("B", Plan::Pro).await,
    );
    let mine = channel(&t, &a).await;
    t.call(
        "PUT",
        "/v1/autopilot",
        Some(&a.key),
        Some(&body(&mine).to_string()),
    )
    .await
    .expect(200, None);
    // The scheduler's tick, with a workflow that only records; the job is then finished.
    let profiles = vec![ProviderInfo::storyboard().profile];
    let platforms = [viral_core::domain::account::Platform::Sandbox];
    let workflow = started.clone();
    let runner = Runner {
        store: &*t.state.store,
        clock: &*t.state.clock,
        trends: &SampleTrends,
        writer: &RuleWriter,
        workflow: &*workflow,
        profiles: &profiles,
        platforms: &platforms,
        picker: Picker::Thompson,
        seed: Some(1),
        dashboard_url: "https://app.example.com",
    };
    let run = runner.tick(&a.id).await.unwrap().started.unwrap();
    let job = run.job_id.clone().unwrap();
    videos::finish_succeeded(
        &*t.state.store,
        &*t.state.clock,
        &a.id,
        &job,
        vec![("video_key", json!(format!("tenants/{}/videos/x.mp4", a.id)))],
    )
    .await
    .unwrap();
    runner.tick(&a.id).await.unwrap();
    let id = run.id.clone();
    let list = t
        .call("GET", "/v1/autopilot/runs", Some(&a.key), None)
        .await;
    list.expect(200, None);
    let item = &list.body["items"][0];
    assert_eq!(item["status"], "awaiting_review");
    assert_eq!(item["concepts"].as_array().unwrap().len(), 5);
    assert!(item["why"].as_str().unwrap().contains("Thompson"));
    for (method, path) in [
        ("GET", format!("/v1/autopilot/runs/{id}")),
        ("POST", format!("/v1/autopilot/runs/{id}/approve")),
        ("POST", format!("/v1/autopilot/runs/{id}/reject")),
    ] {
        t.call(method, &path, Some(&b.key), Some("{}"))
            .await
            .expect(404, Some("not_found"));
    }
    // B's feed holds none of A's runs, and B's kill switch (B has no autopilot) is a 404 that
    // leaves A's autopilot on.
    let theirs = t
        .call("GET", "/v1/autopilot/runs", Some(&b.key), None)
        .await;
    theirs.expect(200, None);
    assert_eq!(theirs.body["items"], json!([]));
    t.call("POST", "/v1/autopilot/pause", Some(&b.key), None)
        .await
        .expect(404, Some("not_found"));
    let still = t.call("GET", "/v1/autopilot", Some(&a.key), None).await;
    assert_eq!(still.body["enabled"], json!(true));
    let approved = t
        .call(
            "POST",
            &format!("/v1/autopilot/runs/{id}/approve"),
            Some(&a.key),
            Some("{}"),
        )
        .await;
    approved.expect(200, None);
    assert_eq!(approved.body["status"], "posted");
    let post = approved.body["posts"][0].as_str().unwrap().to_owned();
    assert_eq!(started.0.lock().unwrap().clone(), vec![post.clone()]);
    t.call(
        "POST",
        &format!("/v1/autopilot/runs/{id}/approve"),
        Some(&a.key),
        Some("{}"),
    )
    .await
    .expect(409, Some("run_not_awaiting_review"));
    t.call("GET", &format!("/v1/posts/{post}"), Some(&a.key), None)
        .await
        .expect(200, None);
    // The kill switch: a later run waiting for review is ended and reported.
    let paused = t
        .call("POST", "/v1/autopilot/pause", Some(&a.key), None)
        .await;
    paused.expect(200, None);
    assert_eq!(paused.body["autopilot"]["enabled"], false);
    assert!(paused.body["autopilot"]["paused_at"].is_string());
    let run = autopilot::get_run(&*t.state.store, &a.id, &id)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Posted);
}
