//! Account and post routes in-process: connecting (sandbox at once; OAuth with PKCE and a
//! sealed single-use state against a scripted platform), publishing a finished video with
//! every refusal the issue names, idempotent replays, cancelling, removing, and a
//! cross-tenant matrix. The workflow itself runs in viral-steps' tests.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use common::{NOW, Tenant, TestApp};
use serde_json::{Value, json};
use viral_api::SocialState;
use viral_core::domain::account::Platform;
use viral_core::domain::{Job, JobSpec, JobStatus, Plan, RateLimit};
use viral_core::ports::{Publishers, Workflow, WorkflowError};
use viral_testkit::publisher::{Call, ScriptedPublisher};

#[derive(Default)]
struct Started(Mutex<Vec<String>>, std::sync::atomic::AtomicUsize);

#[async_trait]
impl Workflow for Started {
    async fn start_job(&self, _: &str, _: &str) -> Result<bool, WorkflowError> {
        Ok(true)
    }
    async fn start_post(&self, _: &str, post_id: &str) -> Result<bool, WorkflowError> {
        // `1` makes the next start fail, as Step Functions down would.
        if self.1.swap(0, std::sync::atomic::Ordering::SeqCst) == 1 {
            return Err(WorkflowError::Unavailable("states is down".into()));
        }
        let mut v = self.0.lock().unwrap();
        let first = !v.iter().any(|p| p == post_id);
        v.push(post_id.to_owned());
        Ok(first)
    }
    async fn job_history(&self, _: &str, _: &str) -> Result<Option<Value>, WorkflowError> {
        Ok(None)
    }
}

struct Fixture {
    t: TestApp,
    tiktok: Arc<ScriptedPublisher>,
    instagram: Arc<ScriptedPublisher>,
    started: Arc<Started>,
    _vault_dir: tempfile::TempDir,
}

const PUBLIC_URL: &str = "https://app.viral.example";

fn fixture() -> Fixture {
    let vault_dir = tempfile::tempdir().unwrap();
    let vault =
        viral_embedded::FileTokenVault::from_key_file(&vault_dir.path().join("vault.key")).unwrap();
    let tiktok = Arc::new(ScriptedPublisher::new(Platform::Tiktok));
    let instagram = Arc::new(ScriptedPublisher::new(Platform::Instagram));
    let started = Arc::new(Started::default());
    let (p, ig, w) = (tiktok.clone(), instagram.clone(), started.clone());
    let t = TestApp::with(move |s| {
        s.rate_limit = RateLimit::parse("1000/10s").unwrap();
        s.workflow = Some(w);
        s.social = Some(SocialState {
            vault: Arc::new(vault),
            publishers: Publishers::default()
                .with(Arc::new(viral_social::SandboxPublisher::default()))
                .with(p)
                .with(ig),
            limits: Default::default(),
            public_url: PUBLIC_URL.into(),
            return_origins: vec!["https://dash.viral.example".into()],
        });
    });
    Fixture {
        t,
        tiktok,
        instagram,
        started,
        _vault_dir: vault_dir,
    }
}

/// A finished job, validated for TikTok (passed) and Instagram (failed).
async fn finished_video(t: &TestApp, tenant: &str, status: JobStatus) -> String {
    let job = Job {
        id: viral_core::ids::new_id("job"),
        tenant_id: tenant.to_owned(),
        status,
        spec: JobSpec {
            prompt: "Three facts about octopuses. They have three hearts.".into(),
            concept_id: None,
            provider: "auto".into(),
            platforms: vec!["tiktok".into(), "instagram_reels".into()],
            duration_s: 15.0,
            narration: None,
        },
        created_at: NOW,
        updated_at: NOW,
        version: 1,
        provider: Some("storyboard".into()),
        model: Some("storyboard-v1".into()),
        attempts: 1,
        budget_cents: 0,
        spent_cents: 0,
        video_key: Some(format!("tenants/{tenant}/videos/x.mp4")),
        captions_key: None,
        validation: Some(json!({"platforms": [
            {"platform": "tiktok", "pass": true, "reasons": []},
            {"platform": "instagram_reels", "pass": false, "reasons": ["duration 95.00 s is outside 3–90 s"]}
        ]})),
        failure: None,
        route: None,
    };
    t.state
        .store
        .put(job.to_item(), viral_core::ports::Cond::Absent)
        .await
        .unwrap();
    job.id
}

async fn sandbox(t: &TestApp, a: &Tenant) -> String {
    let r = t
        .call(
            "POST",
            "/v1/accounts/connect",
            Some(&a.key),
            Some(r#"{"platform":"sandbox","name":"Demo channel"}"#),
        )
        .await;
    r.expect(201, None);
    assert_eq!(r.body["account"]["sandbox"], true);
    assert_eq!(r.body["authorize_url"], Value::Null);
    r.body["account"]["id"].as_str().unwrap().to_owned()
}

/// Connects a TikTok account through the OAuth round trip; returns its id.
async fn tiktok(f: &Fixture, a: &Tenant, code: &str) -> String {
    oauth(f, a, "tiktok", code).await
}

async fn oauth(f: &Fixture, a: &Tenant, platform: &str, code: &str) -> String {
    let body = json!({ "platform": platform }).to_string();
    let r =
        f.t.call("POST", "/v1/accounts/connect", Some(&a.key), Some(&body))
            .await;
    r.expect(200, None);
    let url = r.body["authorize_url"].as_str().unwrap();
    let state = param(url, "state");
    let back =
        f.t.call(
            "GET",
            &format!("/oauth/{platform}/callback?code={code}&state={state}"),
            None,
            None,
        )
        .await;
    back.expect(200, None);
    let list = f.t.call("GET", "/v1/accounts", Some(&a.key), None).await;
    list.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["platform_user_id"] == format!("user-{code}"))
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn param(url: &str, name: &str) -> String {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap()
        .to_owned()
}

fn publish(key: &str, job: &str, idem: Option<&str>, body: Value) -> Request<Body> {
    let mut b = Request::post(format!("/v1/videos/{job}/publish"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json");
    if let Some(k) = idem {
        b = b.header("idempotency-key", k);
    }
    b.body(Body::from(body.to_string())).unwrap()
}

#[tokio::test]
async fn a_sandbox_channel_connects_at_once_and_shows_its_allowance() {
    let f = fixture();
    let a = f.t.tenant("A", Plan::Pro).await;
    let id = sandbox(&f.t, &a).await;
    let list = f.t.call("GET", "/v1/accounts", Some(&a.key), None).await;
    list.expect(200, None);
    let item = &list.body["items"][0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["display_name"], "Demo channel");
    assert_eq!(item["status"], "active");
    assert_eq!(item["today"]["posts"], 0);
    assert_eq!(item["today"]["limit"], 100);
    assert_eq!(item["today"]["workspace_limit"], Value::Null);
    // Tokens never leave the server, sealed or not.
    let text = String::from_utf8_lossy(&list.raw);
    assert!(!text.contains("sbxtok") && !text.contains("v1."), "{text}");
    let one =
        f.t.call("GET", &format!("/v1/accounts/{id}"), Some(&a.key), None)
            .await;
    one.expect(200, None);
    assert_eq!(
        one.body["creator"]["privacy_options"],
        json!(["public", "private"])
    );
    // Unknown and misnamed platforms are refused clearly.
    f.t.call(
        "POST",
        "/v1/accounts/connect",
        Some(&a.key),
        Some(r#"{"platform":"myspace"}"#),
    )
    .await
    .expect(422, Some("invalid_request"));
    f.t.call(
        "POST",
        "/v1/accounts/connect",
        Some(&a.key),
        Some(r#"{"platform":"youtube"}"#),
    )
    .await
    .expect(501, Some("platform_not_configured"));
}

#[tokio::test]
async fn oauth_state_is_sealed_single_use_bound_and_expiring() {
    let f = fixture();
    let a = f.t.tenant("A", Plan::Pro).await;
    let start = |redirect: Option<&str>| {
        let body = match redirect {
            Some(r) => json!({"platform": "tiktok", "redirect_uri": r}),
            None => json!({"platform": "tiktok"}),
        }
        .to_string();
        let (t, key) = (&f.t, a.key.clone());
        async move {
            t.call("POST", "/v1/accounts/connect", Some(&key), Some(&body))
                .await
        }
    };
    let r = start(None).await;
    r.expect(200, None);
    let url = r.body["authorize_url"].as_str().unwrap().to_owned();
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    assert!(url.contains(&format!("redirect_uri={PUBLIC_URL}/oauth/tiktok/callback")));
    let state = param(&url, "state");
    assert!(!state.contains(&a.id), "the state does not show the tenant");
    // A forged or damaged state is refused; the code is never exchanged.
    let bad =
        f.t.call(
            "GET",
            &format!(
                "/oauth/tiktok/callback?code=c1&state={}x",
                &state[..state.len() - 1]
            ),
            None,
            None,
        )
        .await;
    assert_eq!(bad.status.as_u16(), 403);
    assert_eq!(f.tiktok.count(Call::Exchange), 0);
    // The state is for TikTok only.
    let r2 = start(None).await;
    let other = param(r2.body["authorize_url"].as_str().unwrap(), "state");
    let wrong =
        f.t.call(
            "GET",
            &format!("/oauth/youtube/callback?code=c1&state={other}"),
            None,
            None,
        )
        .await;
    assert!(
        wrong.status.as_u16() == 501 || wrong.status.as_u16() == 403,
        "{}",
        wrong.status
    );
    // It works once.
    let ok =
        f.t.call(
            "GET",
            &format!("/oauth/tiktok/callback?code=c1&state={state}"),
            None,
            None,
        )
        .await;
    ok.expect(200, None);
    let page = String::from_utf8_lossy(&ok.raw);
    assert!(
        page.contains("Creator c1") && page.contains("is connected"),
        "{page}"
    );
    assert_eq!(
        ok.headers.get("content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    let again =
        f.t.call(
            "GET",
            &format!("/oauth/tiktok/callback?code=c1&state={state}"),
            None,
            None,
        )
        .await;
    assert_eq!(again.status.as_u16(), 403);
    assert!(String::from_utf8_lossy(&again.raw).contains("used already"));
    assert_eq!(f.tiktok.count(Call::Exchange), 1);
    // And expires after 15 minutes.
    let late = start(None).await;
    let late_state = param(late.body["authorize_url"].as_str().unwrap(), "state");
    f.t.clock.advance(Duration::from_secs(16 * 60));
    let expired =
        f.t.call(
            "GET",
            &format!("/oauth/tiktok/callback?code=c2&state={late_state}"),
            None,
            None,
        )
        .await;
    assert_eq!(expired.status.as_u16(), 403);
    assert!(String::from_utf8_lossy(&expired.raw).contains("expired"));
    // A declined consent says so.
    let declined =
        f.t.call(
            "GET",
            "/oauth/tiktok/callback?error=access_denied&error_description=The%20user%20said%20no",
            None,
            None,
        )
        .await;
    assert_eq!(declined.status.as_u16(), 400);
    // Every parameter within the length the document gives it, even the ignored ones.
    let long_scope =
        f.t.call(
            "GET",
            &format!(
                "/oauth/tiktok/callback?code=c1&state=s&scope={}",
                "a".repeat(4097)
            ),
            None,
            None,
        )
        .await;
    assert_eq!(long_scope.status.as_u16(), 400);
    assert!(String::from_utf8_lossy(&long_scope.raw).contains("scope is too long"));
    // Returning to the dashboard: only its own origins.
    start(Some("https://evil.example/accounts"))
        .await
        .expect(422, Some("invalid_request"));
    let back = start(Some("https://dash.viral.example/accounts")).await;
    back.expect(200, None);
    let state = param(back.body["authorize_url"].as_str().unwrap(), "state");
    // Bound to the browser that started it: its cookie, HttpOnly, for the callback only.
    let cookie = back.headers["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("viral_oauth=")
            && cookie.contains("Path=/oauth/")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Secure"),
        "{cookie}"
    );
    let elsewhere =
        f.t.call(
            "GET",
            &format!("/oauth/tiktok/callback?code=c3&state={state}"),
            None,
            None,
        )
        .await;
    assert_eq!(elsewhere.status.as_u16(), 403);
    assert!(String::from_utf8_lossy(&elsewhere.raw).contains("another browser"));
    let again = start(Some("https://dash.viral.example/accounts")).await;
    let pair = again.headers["set-cookie"].to_str().unwrap().to_owned();
    let pair = pair.split(';').next().unwrap().to_owned();
    assert_ne!(
        cookie.split(';').next().unwrap(),
        pair,
        "each connect has its own"
    );
    let state = param(again.body["authorize_url"].as_str().unwrap(), "state");
    let redirected =
        f.t.send(
            Request::get(format!("/oauth/tiktok/callback?code=c3&state={state}"))
                .header("cookie", format!("theme=dark; {pair}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(redirected.status.as_u16(), 303);
    let location = redirected.headers["location"].to_str().unwrap();
    assert!(
        location.starts_with("https://dash.viral.example/accounts?connected=acc_"),
        "{location}"
    );
    // Connecting the same platform user again updates that account (an account pool per
    // platform holds different users).
    let list = f.t.call("GET", "/v1/accounts", Some(&a.key), None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn publishing_refuses_what_would_fail_at_the_platform_and_replays_by_key() {
    let f = fixture();
    let a = f.t.tenant("A", Plan::Pro).await;
    let acc = tiktok(&f, &a, "c1").await;
    let job = finished_video(&f.t, &a.id, JobStatus::Succeeded).await;
    let target = |extra: Value| {
        let mut t = json!({"account_id": acc, "privacy": "SELF_ONLY"});
        t.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        json!({"targets": [t]})
    };
    let send = |body: Value| f.t.send(publish(&a.key, &job, None, body));
    // Not finished.
    let running = finished_video(&f.t, &a.id, JobStatus::Rendering).await;
    f.t.send(publish(&a.key, &running, None, target(json!({}))))
        .await
        .expect(409, Some("video_not_ready"));
    // TikTok's privacy has no default and must be a TikTok level.
    send(json!({"targets": [{"account_id": acc}]}))
        .await
        .expect(422, Some("invalid_request"));
    let r = send(target(json!({"privacy": "public"}))).await;
    r.expect(422, Some("invalid_request"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SELF_ONLY")
    );
    // Schedules: with a zone, not in the past, within TikTok's 10 days.
    for (at, why) in [
        ("2026-11-25T09:00:00", "zone"),
        ("2026-11-24T09:00:00Z", "past"),
        ("2026-12-20T09:00:00Z", "10 days"),
    ] {
        let r = send(target(json!({"schedule_at": at}))).await;
        r.expect(422, Some("invalid_request"));
        assert!(
            r.body["error"]["message"].as_str().unwrap().contains(why),
            "{at}: {}",
            r.body
        );
    }
    // The same account twice, no targets, unknown fields.
    send(json!({"targets": [{"account_id": acc, "privacy": "SELF_ONLY"}, {"account_id": acc, "privacy": "SELF_ONLY"}]}))
        .await
        .expect(422, Some("invalid_request"));
    send(json!({"targets": []}))
        .await
        .expect(422, Some("invalid_request"));
    send(target(json!({"options": {"watermark": true}})))
        .await
        .expect(422, Some("invalid_request"));
    // Nothing was created by any of that.
    assert!(f.started.0.lock().unwrap().is_empty());

    // Accepted: captions cut with a warning, the AI label set, the workflow started.
    let long = "word ".repeat(600);
    let body = target(json!({
        "caption": long,
        "hashtags": ["octopus", "#facts", "octopus"],
        "schedule_at": "2026-11-26T09:00:00+01:00",
        "options": {"disable_comment": true}
    }));
    let r =
        f.t.send(publish(&a.key, &job, Some("pub-1"), body.clone()))
            .await;
    r.expect(202, None);
    let post = &r.body["posts"][0];
    assert_eq!(post["status"], "scheduled");
    assert_eq!(post["schedule_at"], "2026-11-26T08:00:00Z");
    assert_eq!(post["ai_generated"], true);
    assert_eq!(post["disable_comment"], true);
    assert_eq!(post["sandbox"], false);
    let caption = post["caption"].as_str().unwrap();
    assert!(caption.chars().count() <= 2200);
    assert!(caption.ends_with("#octopus #facts"), "{caption}");
    assert!(
        post["warnings"][0]
            .as_str()
            .unwrap()
            .contains("caption cut")
    );
    let post_id = post["id"].as_str().unwrap().to_owned();
    assert_eq!(*f.started.0.lock().unwrap(), vec![post_id.clone()]);
    // A replay answers with the same post; another body under the key is refused.
    let again = f.t.send(publish(&a.key, &job, Some("pub-1"), body)).await;
    again.expect(202, None);
    assert_eq!(again.body["posts"][0]["id"], post_id.as_str());
    assert_eq!(again.headers["idempotent-replayed"], "true");
    f.t.send(publish(&a.key, &job, Some("pub-1"), target(json!({}))))
        .await
        .expect(422, Some("idempotency_mismatch"));
    let list = f.t.call("GET", "/v1/posts", Some(&a.key), None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    // A platform whose rules the video fails: the rule is named, nothing is posted.
    let ig = oauth(&f, &a, "instagram", "ig1").await;
    let r = send(json!({"targets": [{"account_id": ig}]})).await;
    r.expect(422, Some("invalid_request"));
    let msg = r.body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("instagram_reels") && msg.contains("3–90 s"),
        "{msg}"
    );
    assert_eq!(f.instagram.count(Call::Begin), 0);
}

#[tokio::test]
async fn scheduled_posts_cancel_and_filters_list_them() {
    let f = fixture();
    let a = f.t.tenant("A", Plan::Pro).await;
    let acc = sandbox(&f.t, &a).await;
    let job = finished_video(&f.t, &a.id, JobStatus::Succeeded).await;
    let r = f
        .t
        .send(publish(
            &a.key,
            &job,
            None,
            json!({"targets": [{"account_id": acc, "schedule_at": "2026-11-30T12:00:00Z", "title": "Octopuses"}]}),
        ))
        .await;
    r.expect(202, None);
    let id = r.body["posts"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["posts"][0]["privacy"], "public");
    let scheduled =
        f.t.call("GET", "/v1/posts?status=scheduled", Some(&a.key), None)
            .await;
    assert_eq!(scheduled.body["items"].as_array().unwrap().len(), 1);
    let by_account =
        f.t.call(
            "GET",
            &format!("/v1/posts?account={acc}"),
            Some(&a.key),
            None,
        )
        .await;
    assert_eq!(by_account.body["items"].as_array().unwrap().len(), 1);
    f.t.call("GET", "/v1/posts?status=lost", Some(&a.key), None)
        .await
        .expect(400, Some("invalid_query"));
    let c =
        f.t.call("DELETE", &format!("/v1/posts/{id}"), Some(&a.key), None)
            .await;
    c.expect(200, None);
    assert_eq!(c.body["status"], "cancelled");
    f.t.call("DELETE", &format!("/v1/posts/{id}"), Some(&a.key), None)
        .await
        .expect(200, None);
    let none =
        f.t.call("GET", "/v1/posts?status=scheduled", Some(&a.key), None)
            .await;
    assert!(none.body["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn removing_an_account_revokes_it_at_the_platform_first() {
    let f = fixture();
    let a = f.t.tenant("A", Plan::Pro).await;
    let acc = tiktok(&f, &a, "c9").await;
    let r =
        f.t.call("DELETE", &format!("/v1/accounts/{acc}"), Some(&a.key), None)
            .await;
    r.expect(200, None);
    assert_eq!(r.body["revoked_at_platform"], true);
    assert_eq!(f.tiktok.count(Call::Revoke), 1);
    f.t.call("GET", &format!("/v1/accounts/{acc}"), Some(&a.key), None)
        .await
        .expect(404, Some("not_found"));
}

#[tokio::test]
async fn a_key_without_publish_write_can_read_but_not_connect_or_publish() {
    let f = fixture();
    let a = f.t.tenant("A", Plan::Pro).await;
    let acc = sandbox(&f.t, &a).await;
    let r =
        f.t.call(
            "POST",
            "/v1/api-keys",
            Some(&a.key),
            Some(r#"{"name":"reader","scopes":["videos:write"]}"#),
        )
        .await;
    let reader = r.body["key"].as_str().unwrap().to_owned();
    f.t.call("GET", "/v1/accounts", Some(&reader), None)
        .await
        .expect(200, None);
    f.t.call(
        "POST",
        "/v1/accounts/connect",
        Some(&reader),
        Some(r#"{"platform":"sandbox"}"#),
    )
    .await
    .expect(403, Some("insufficient_scope"));
    let job = finished_video(&f.t, &a.id, JobStatus::Succeeded).await;
    f.t.send(publish(
        &reader,
        &job,
        None,
        json!({"targets": [{"account_id": acc}]}),
    ))
    .await
    .expect(403, Some("insufficient_scope"));
    f.t.call(
        "DELETE",
        &format!("/v1/accounts/{acc}"),
        Some(&reader),
        None,
    )
    .await
    .expect(403, Some("insufficient_scope"));
}

#[tokio::test]
async fn tenants_never_see_each_others_accounts_or_posts() {
    let f = fixture();
    let a = f.t.tenant("A", Plan::Pro).await;
    let b = f.t.tenant("B", Plan::Pro).await;
    let a_acc = sandbox(&f.t, &a).await;
    let b_acc = sandbox(&f.t, &b).await;
    let a_job = finished_video(&f.t, &a.id, JobStatus::Succeeded).await;
    let b_job = finished_video(&f.t, &b.id, JobStatus::Succeeded).await;
    let r =
        f.t.send(publish(
            &a.key,
            &a_job,
            None,
            json!({"targets": [{"account_id": a_acc, "schedule_at": "2026-11-30T12:00:00Z"}]}),
        ))
        .await;
    let a_post = r.body["posts"][0]["id"].as_str().unwrap().to_owned();
    // B, with A's ids, on every new route: 404, and nothing of A's changes.
    for (method, path) in [
        ("GET", format!("/v1/accounts/{a_acc}")),
        ("DELETE", format!("/v1/accounts/{a_acc}")),
        ("GET", format!("/v1/posts/{a_post}")),
        ("GET", format!("/v1/posts/{a_post}/metrics")),
        ("DELETE", format!("/v1/posts/{a_post}")),
    ] {
        f.t.call(method, &path, Some(&b.key), None)
            .await
            .expect(404, Some("not_found"));
    }
    // A's video to B's account, B's video to A's account.
    f.t.send(publish(
        &b.key,
        &a_job,
        None,
        json!({"targets": [{"account_id": b_acc}]}),
    ))
    .await
    .expect(404, Some("not_found"));
    f.t.send(publish(
        &b.key,
        &b_job,
        None,
        json!({"targets": [{"account_id": a_acc}]}),
    ))
    .await
    .expect(404, Some("not_found"));
    let b_lists = f.t.call("GET", "/v1/accounts", Some(&b.key), None).await;
    assert_eq!(b_lists.body["items"].as_array().unwrap().len(), 1);
    let b_posts = f.t.call("GET", "/v1/posts", Some(&b.key), None).await;
    assert!(b_posts.body["items"].as_array().unwrap().is_empty());
    let a_post_now =
        f.t.call("GET", &format!("/v1/posts/{a_post}"), Some(&a.key), None)
            .await;
    assert_eq!(a_post_now.body["status"], "scheduled");
    f.t.call("GET", &format!("/v1/accounts/{a_acc}"), Some(&a.key), None)
        .await
        .expect(200, None);
}

#[tokio::test]
async fn a_platform_without_the_apps_credentials_says_so_with_501() {
    let dir = tempfile::tempdir().unwrap();
    let vault =
        viral_embedded::FileTokenVault::from_key_file(&dir.path().join("vault.key")).unwrap();
    let no_secrets = Arc::new(viral_embedded::EnvSecrets::from_map(Default::default()));
    let tiktok =
        viral_social::TiktokPublisher::new(viral_social::SocialConfig::default(), no_secrets)
            .unwrap();
    let t = TestApp::with(move |s| {
        s.social = Some(SocialState {
            vault: Arc::new(vault),
            publishers: Publishers::default().with(Arc::new(tiktok)),
            limits: Default::default(),
            public_url: PUBLIC_URL.into(),
            return_origins: vec![],
        });
    });
    let a = t.tenant("A", Plan::Pro).await;
    let r = t
        .call(
            "POST",
            "/v1/accounts/connect",
            Some(&a.key),
            Some(r#"{"platform":"tiktok"}"#),
        )
        .await;
    r.expect(501, Some("platform_not_configured"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TIKTOK_CLIENT_KEY"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_failed_start_keeps_the_posts_for_a_replay_to_start() {
    let f = fixture();
    let a = f.t.tenant("A", Plan::Pro).await;
    let acc = sandbox(&f.t, &a).await;
    let job = finished_video(&f.t, &a.id, JobStatus::Succeeded).await;
    let body = json!({"targets": [{"account_id": acc}]});
    f.started.1.store(1, std::sync::atomic::Ordering::SeqCst);
    let r =
        f.t.send(publish(&a.key, &job, Some("retry-me"), body.clone()))
            .await;
    assert_eq!(r.status.as_u16(), 503, "{}", r.body);
    let list = f.t.call("GET", "/v1/posts", Some(&a.key), None).await;
    let saved = &list.body["items"][0];
    assert_eq!(saved["status"], "queued", "saved, untouched: {}", list.body);
    let again =
        f.t.send(publish(&a.key, &job, Some("retry-me"), body))
            .await;
    again.expect(202, None);
    assert_eq!(again.body["posts"][0]["id"], saved["id"]);
    assert_eq!(
        *f.started.0.lock().unwrap(),
        vec![saved["id"].as_str().unwrap().to_owned()]
    );
}

#[tokio::test]
async fn collected_metrics_and_analytics_are_served_to_their_tenant_only() {
    let f = fixture();
    let a = f.t.tenant("A", Plan::Pro).await;
    let b = f.t.tenant("B", Plan::Pro).await;
    let acc = sandbox(&f.t, &a).await;
    let job = finished_video(&f.t, &a.id, JobStatus::Succeeded).await;
    let r =
        f.t.send(publish(
            &a.key,
            &job,
            None,
            json!({"targets": [{"account_id": acc}]}),
        ))
        .await;
    let post_id = r.body["posts"][0]["id"].as_str().unwrap().to_owned();
    let none =
        f.t.call(
            "GET",
            &format!("/v1/posts/{post_id}/metrics"),
            Some(&a.key),
            None,
        )
        .await;
    none.expect(200, None);
    assert_eq!(none.body["observations"], json!([]));
    assert_eq!(none.body["next_at"], Value::Null);
    // What the publish workflow records when the sandbox has the post.
    let store = &*f.t.state.store;
    let mut post = viral_core::service::posts::get(store, &a.id, &post_id)
        .await
        .unwrap();
    post.status = viral_core::domain::post::PostStatus::Published;
    post.platform_post_id = Some("sbxpost_1".into());
    post.published_at = Some(NOW);
    post.metrics_due = viral_core::domain::metrics::next_due(NOW, 0);
    viral_core::service::posts::save(store, &*f.t.clock, post)
        .await
        .unwrap();
    f.t.clock.advance(Duration::from_secs(25 * 3600));
    let social = f.t.state.social.as_ref().unwrap();
    let pass = viral_core::service::collector::Collector {
        store,
        vault: &*social.vault,
        clock: &*f.t.clock,
        publishers: &social.publishers,
    }
    .pass()
    .await
    .unwrap();
    assert_eq!(pass.collected.learned, 1);

    let m =
        f.t.call(
            "GET",
            &format!("/v1/posts/{post_id}/metrics"),
            Some(&a.key),
            None,
        )
        .await;
    m.expect(200, None);
    let o = &m.body["observations"][0];
    assert_eq!(
        (&o["simulated"], &o["age_hours"]),
        (&json!(true), &json!(25.0))
    );
    assert!(o["views"].as_u64().unwrap() > 0 && o["raw"]["simulated_views"].is_number());
    assert_eq!(
        m.body["next_at"],
        json!(NOW.plus(Duration::from_secs(48 * 3600)).rfc3339())
    );
    f.t.call(
        "GET",
        &format!("/v1/posts/{post_id}/metrics"),
        Some(&b.key),
        None,
    )
    .await
    .expect(404, Some("not_found"));

    let an =
        f.t.call(
            "GET",
            "/v1/analytics?group_by=platform&metric=engagement",
            Some(&a.key),
            None,
        )
        .await;
    an.expect(200, None);
    assert_eq!(an.body["posts"], 1);
    let g = &an.body["groups"][0];
    assert_eq!(
        (&g["key"], &g["posts"], &g["simulated"]),
        (&json!("sandbox"), &json!(1), &json!(true))
    );
    assert!(g["effect"].is_number() && g["effect_sd"].is_number(), "{g}");
    assert!(an.body["calibration_error"].is_number());
    let by_account =
        f.t.call("GET", "/v1/analytics?group_by=account", Some(&a.key), None)
            .await;
    assert_eq!(by_account.body["groups"][0]["key"], json!(acc));
    assert_eq!(by_account.body["groups"][0]["effect"], Value::Null);
    // B sees nothing of A's; a period before the post has nothing either.
    let theirs = f.t.call("GET", "/v1/analytics", Some(&b.key), None).await;
    assert_eq!(
        (&theirs.body["posts"], &theirs.body["groups"]),
        (&json!(0), &json!([]))
    );
    let before =
        f.t.call(
            "GET",
            &format!(
                "/v1/analytics?to={}",
                viral_core::Timestamp(NOW.0 - 3_600_000).rfc3339()
            ),
            Some(&a.key),
            None,
        )
        .await;
    assert_eq!(before.body["posts"], 0);
    for (q, code) in [
        ("group_by=colour", 422),
        ("metric=vibes", 422),
        ("from=yesterday", 422),
        ("from=2026-12-05T00:00:00Z&to=2026-12-01T00:00:00Z", 422),
        ("colour=red", 400),
    ] {
        let r =
            f.t.call("GET", &format!("/v1/analytics?{q}"), Some(&a.key), None)
                .await;
        assert_eq!(r.status.as_u16(), code, "{q}: {}", r.body);
    }
}
