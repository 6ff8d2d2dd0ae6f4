//! The Sora client against a local server speaking the documented Videos API: multipart
//! create, the status life cycle, moderation failures, content download (direct, or a
//! redirect that must not carry the key inward), and error statuses.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use viral_core::ports::{ProviderError, RenderRequest, RenderStatus, VideoProvider};
use viral_providers::http::RetryPolicy;
use viral_providers::sora::SoraProvider;
use viral_providers::{Credential, DownloadPolicy};

const KEY: &str = "sk-test-0123456789";
const ID: &str = "video_68d7512d07848190b3e45da0ecbebcde004da08e1e0678d5";

#[derive(Default)]
struct Server {
    base: Mutex<String>,
    /// "ok", "moderation", "failed", "redirect_inward", "redirect_out", "html", "gone".
    mode: Mutex<String>,
    polls: AtomicUsize,
    form: Mutex<String>,
    canary_port: Mutex<u16>,
}

type S = State<Arc<Server>>;

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {KEY}"))
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}})),
    )
        .into_response()
}

async fn create(State(s): S, h: HeaderMap, body: String) -> Response {
    if !authorized(&h) {
        return unauthorized();
    }
    let ct = h
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !ct.starts_with("multipart/form-data") {
        return (StatusCode::BAD_REQUEST, "multipart expected").into_response();
    }
    *s.form.lock().unwrap() = body;
    Json(
        json!({"id": ID, "object": "video", "model": "sora-2", "status": "queued", "progress": 0,
                "seconds": "12", "size": "720x1280", "created_at": 1795569153}),
    )
    .into_response()
}

async fn video(State(s): S, h: HeaderMap, Path(id): Path<String>) -> Response {
    if !authorized(&h) {
        return unauthorized();
    }
    let n = s.polls.fetch_add(1, Ordering::SeqCst);
    let mode = s.mode.lock().unwrap().clone();
    if mode == "truncated" && n >= 2 {
        return (StatusCode::OK, "{\"id\": \"video_1\", \"status\"").into_response();
    }
    let status = match n {
        0 => json!({"status": "queued", "progress": 0}),
        1 => json!({"status": "in_progress", "progress": 37}),
        _ => match mode.as_str() {
            "moderation" => {
                json!({"status": "failed", "error": {"code": "moderation_blocked", "message": "Your request was blocked by our moderation system."}})
            }
            "failed" => {
                json!({"status": "failed", "error": {"code": "internal_error", "message": "Video generation failed"}})
            }
            _ => json!({"status": "completed", "progress": 100}),
        },
    };
    let mut v = json!({"id": id, "object": "video", "model": "sora-2", "seconds": "12", "size": "720x1280"});
    v.as_object_mut()
        .unwrap()
        .extend(status.as_object().unwrap().clone());
    Json(v).into_response()
}

async fn content(State(s): S, h: HeaderMap) -> Response {
    if !authorized(&h) {
        return unauthorized();
    }
    let port = *s.canary_port.lock().unwrap();
    match s.mode.lock().unwrap().as_str() {
        "redirect_inward" => (
            StatusCode::FOUND,
            [("location", format!("http://127.0.0.1:{port}/steal"))],
        )
            .into_response(),
        "redirect_out" => (
            StatusCode::FOUND,
            [("location", "https://files.example.net/v.mp4".to_owned())],
        )
            .into_response(),
        "html" => "<html>oops</html>".into_response(),
        "gone" => (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"message": "Video not found"}})),
        )
            .into_response(),
        _ => ([("content-type", "video/mp4")], support::mp4_bytes()).into_response(),
    }
}

async fn start(mode: &str, allow_loopback: bool) -> (Arc<Server>, SoraProvider, support::Canary) {
    let s = Arc::new(Server::default());
    *s.mode.lock().unwrap() = mode.into();
    let canary = support::Canary::start().await;
    *s.canary_port.lock().unwrap() = canary.port;
    let app = Router::new()
        .route("/v1/videos", post(create))
        .route("/v1/videos/{id}", get(video))
        .route("/v1/videos/{id}/content", get(content))
        .with_state(s.clone());
    let base = support::serve(app).await;
    *s.base.lock().unwrap() = base.clone();
    let p = SoraProvider::new(
        &base,
        Credential::fixed(KEY),
        DownloadPolicy::new(&[".openai.com"], allow_loopback),
        RetryPolicy {
            attempts: 2,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(1),
        },
    )
    .unwrap();
    (s, p, canary)
}

fn request() -> RenderRequest {
    RenderRequest {
        idempotency_key: "job_1-a1-c0".into(),
        job_id: "job_1".into(),
        tenant_id: "tn_1".into(),
        prompt: "A lighthouse keeper's cat.".into(),
        duration_s: 15.0,
        width: 1080,
        height: 1920,
        fps: 30,
        narration: None,
    }
}

#[tokio::test]
async fn a_video_is_created_polled_and_downloaded() {
    let (s, p, _) = start("ok", false).await;
    let sub = p.submit(&request()).await.unwrap();
    assert_eq!(sub.task_id, ID);
    let form = s.form.lock().unwrap().clone();
    for (field, value) in [
        ("prompt", "A lighthouse keeper's cat."),
        ("model", "sora-2"),
        ("seconds", "12"),
        ("size", "720x1280"),
    ] {
        assert!(
            form.contains(&format!("name=\"{field}\"\r\n\r\n{value}\r\n")),
            "{field} in {form}"
        );
    }
    assert_eq!(
        p.poll(ID).await.unwrap(),
        RenderStatus::Running { progress: 0 }
    );
    assert_eq!(
        p.poll(ID).await.unwrap(),
        RenderStatus::Running { progress: 37 }
    );
    assert_eq!(p.poll(ID).await.unwrap(), RenderStatus::Done);
    assert_eq!(p.fetch(ID).await.unwrap(), support::mp4_bytes());
}

#[tokio::test]
async fn failures_are_classified() {
    let (s, p, _) = start("moderation", false).await;
    s.polls.store(2, Ordering::SeqCst);
    assert!(matches!(
        p.poll(ID).await,
        Err(ProviderError::ContentRejected(_))
    ));
    let (s, p, _) = start("failed", false).await;
    s.polls.store(2, Ordering::SeqCst);
    assert!(matches!(p.poll(ID).await, Ok(RenderStatus::Failed { .. })));
    let bad = SoraProvider::new(
        "http://127.0.0.1:9",
        Credential::fixed("sk-wrong"),
        DownloadPolicy::new(&[], false),
        RetryPolicy {
            attempts: 1,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        },
    )
    .unwrap();
    assert!(
        matches!(
            bad.submit(&request()).await,
            Err(ProviderError::Transient(_))
        ),
        "nothing listens there"
    );
    assert!(matches!(
        p.poll("../../v1/files").await,
        Err(ProviderError::Permanent(_))
    ));
}

#[tokio::test]
async fn content_is_checked_and_redirects_go_through_the_guard() {
    let (_, p, _) = start("html", false).await;
    assert!(
        p.fetch(ID)
            .await
            .unwrap_err()
            .to_string()
            .contains("not an MP4")
    );
    let (_, p, _) = start("gone", false).await;
    assert!(matches!(
        p.fetch(ID).await,
        Err(ProviderError::Permanent(_))
    ));
    let (_, p, canary) = start("redirect_inward", false).await;
    let e = p.fetch(ID).await.unwrap_err();
    assert!(e.to_string().contains("refused"), "{e}");
    assert_eq!(canary.hits(), 0, "the redirect never reached loopback");
    let (_, p, _) = start("redirect_out", false).await;
    let e = p.fetch(ID).await.unwrap_err();
    assert!(e.to_string().contains("allowlist"), "{e}");
}

fn client_with_key(base: &str, key: &str) -> SoraProvider {
    SoraProvider::new(
        base,
        Credential::fixed(key),
        DownloadPolicy::new(&[], false),
        RetryPolicy {
            attempts: 1,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
        },
    )
    .unwrap()
}

#[tokio::test]
async fn a_wrong_key_is_permanent_and_a_truncated_answer_transient() {
    let (s, _, _) = start("truncated", false).await;
    let base = s.base.lock().unwrap().clone();
    let e = client_with_key(&base, "sk-wrong")
        .submit(&request())
        .await
        .unwrap_err();
    assert!(
        matches!(e, ProviderError::Permanent(_)) && e.to_string().contains("401"),
        "{e}"
    );
    assert!(!format!("{e:?}").contains("sk-wrong"));
    s.polls.store(2, Ordering::SeqCst);
    let r = client_with_key(&base, KEY).poll(ID).await;
    assert!(matches!(r, Err(ProviderError::Transient(_))), "{r:?}");
}
