//! The Runway client against a local server speaking Runway's documented shapes: the task
//! life cycle, auth and rate-limit errors, malformed answers, moderation failures, and output
//! URLs that expire, redirect inward, run oversize or are not MP4.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use viral_core::ports::{ProviderError, RenderRequest, RenderStatus, VideoProvider};
use viral_providers::http::RetryPolicy;
use viral_providers::runway::{GEN4_5, RunwayProvider};
use viral_providers::{Credential, DownloadPolicy, download};

const KEY: &str = "key_3f9a_test_secret";

#[derive(Default)]
struct Server {
    base: Mutex<String>,
    /// What the next submit answers: "ok", "429x2", "500", "502", "503", "malformed", "html",
    /// "redirect".
    submit_mode: Mutex<String>,
    /// How a task ends: "ok", "safety", "failed", "unknown", "cancelled", and where its output
    /// points: "expired", "inward", "oversize", "html".
    task_mode: Mutex<String>,
    submit_hits: AtomicUsize,
    polls: AtomicUsize,
    bodies: Mutex<Vec<Value>>,
}

type S = State<Arc<Server>>;

fn authorized(h: &HeaderMap) -> Option<Response> {
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some(&format!("Bearer {KEY}")) {
        return Some(
            (
                StatusCode::UNAUTHORIZED,
                Json(json!({"error": "Invalid API key"})),
            )
                .into_response(),
        );
    }
    if h.get("x-runway-version").and_then(|v| v.to_str().ok()) != Some("2024-11-06") {
        return Some(
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "X-Runway-Version required"})),
            )
                .into_response(),
        );
    }
    None
}

async fn text_to_video(State(s): S, h: HeaderMap, Json(body): Json<Value>) -> Response {
    if let Some(r) = authorized(&h) {
        return r;
    }
    let n = s.submit_hits.fetch_add(1, Ordering::SeqCst);
    s.bodies.lock().unwrap().push(body);
    let mode = s.submit_mode.lock().unwrap().clone();
    match mode.as_str() {
        "429x2" if n < 2 => (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "1")],
            Json(json!({"error": "Too many requests"})),
        )
            .into_response(),
        "500" => (StatusCode::INTERNAL_SERVER_ERROR, "upstream exploded").into_response(),
        "502" => (StatusCode::BAD_GATEWAY, "bad gateway").into_response(),
        "503" => (StatusCode::SERVICE_UNAVAILABLE, "overloaded").into_response(),
        // The task is made, then the connection drops before any answer.
        "reset" => panic!("connection lost after the request was read"),
        "malformed" => (StatusCode::OK, "{\"id\": \"abc").into_response(),
        "html" => (StatusCode::OK, "<html><body>Bad gateway</body></html>").into_response(),
        "redirect" => (
            StatusCode::TEMPORARY_REDIRECT,
            [("location", "http://169.254.169.254/latest/meta-data")],
        )
            .into_response(),
        "forbidden" => (
            StatusCode::FORBIDDEN,
            Json(json!({"error": "Organization has insufficient credits"})),
        )
            .into_response(),
        "bad_request" => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "Validation of body failed", "issues": [{"path": ["duration"]}]})),
        )
            .into_response(),
        _ => Json(json!({"id": "17f20503-6c24-4c16-946b-35dbbce2af2f"})).into_response(),
    }
}

async fn task(State(s): S, h: HeaderMap, Path(id): Path<String>) -> Response {
    if let Some(r) = authorized(&h) {
        return r;
    }
    let n = s.polls.fetch_add(1, Ordering::SeqCst);
    let base = s.base.lock().unwrap().clone();
    let mode = s.task_mode.lock().unwrap().clone();
    let running = ["PENDING", "THROTTLED", "RUNNING"];
    if n < running.len() {
        return Json(
            json!({"id": id, "status": running[n], "createdAt": "2026-11-25T04:00:00Z",
                           "progress": if n == 2 { json!(0.42) } else { Value::Null }}),
        )
        .into_response();
    }
    let out = |path: &str| {
        json!({"id": id, "status": "SUCCEEDED", "createdAt": "2026-11-25T04:00:00Z",
                                   "output": [format!("{base}/out/{path}?_jwt=signed")]})
    };
    Json(match mode.as_str() {
        "safety" => json!({"id": id, "status": "FAILED", "failure": "Prompt flagged by moderation",
                           "failureCode": "SAFETY.INPUT.TEXT"}),
        "failed" => json!({"id": id, "status": "FAILED", "failure": "Internal error",
                           "failureCode": "INTERNAL"}),
        "cancelled" => json!({"id": id, "status": "CANCELLED"}),
        "unknown" => json!({"id": id, "status": "EXPLODED"}),
        "no_output" => json!({"id": id, "status": "SUCCEEDED", "output": []}),
        "huge" => json!({"id": id, "status": "RUNNING", "padding": "x".repeat(2 << 20)}),
        "expired" => out("expired.mp4"),
        "inward" => out("inward.mp4"),
        "oversize" => out("oversize.mp4"),
        "html" => out("page.mp4"),
        _ => out("video.mp4"),
    })
    .into_response()
}

async fn output(Path(name): Path<String>) -> Response {
    match name.as_str() {
        "video.mp4" => ([("content-type", "video/mp4")], support::mp4_bytes()).into_response(),
        "expired.mp4" => (
            StatusCode::FORBIDDEN,
            "<Error><Code>AccessDenied</Code></Error>",
        )
            .into_response(),
        "inward.mp4" => (
            StatusCode::FOUND,
            [("location", "http://10.0.0.7/internal.mp4")],
        )
            .into_response(),
        "oversize.mp4" => {
            let mut v = support::mp4_bytes();
            v.resize(3 * 1024 * 1024, 0);
            v.into_response()
        }
        _ => ([("content-type", "video/mp4")], "<html>not a video</html>").into_response(),
    }
}

async fn start() -> (Arc<Server>, String) {
    let s = Arc::new(Server::default());
    let app = Router::new()
        .route("/v1/text_to_video", post(text_to_video))
        .route("/v1/tasks/{id}", get(task))
        .route("/out/{name}", get(output))
        .with_state(s.clone());
    let base = support::serve(app).await;
    *s.base.lock().unwrap() = base.clone();
    (s, base)
}

fn client(base: &str, key: &str) -> RunwayProvider {
    // 10.0.0.7 is listed so that a redirect there is stopped by the address check itself.
    let mut downloads = DownloadPolicy::new(&[".runwayml.com", "10.0.0.7"], true);
    downloads.max_bytes = 1024 * 1024;
    RunwayProvider::with_retry(
        base,
        Credential::fixed(key),
        GEN4_5,
        downloads,
        RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_secs(2),
        },
    )
    .unwrap()
}

fn request(prompt: &str) -> RenderRequest {
    RenderRequest {
        idempotency_key: "job_1-a1-c0".into(),
        job_id: "job_1".into(),
        tenant_id: "tn_1".into(),
        prompt: prompt.into(),
        duration_s: 15.0,
        width: 1080,
        height: 1920,
        fps: 30,
        narration: None,
    }
}

fn message(e: &ProviderError) -> String {
    e.to_string()
}

#[tokio::test]
async fn a_task_runs_from_pending_to_a_fetched_mp4() {
    let (s, base) = start().await;
    let p = client(&base, KEY);
    let sub = p.submit(&request("Cats surfing at dawn.")).await.unwrap();
    assert_eq!(sub.task_id, "17f20503-6c24-4c16-946b-35dbbce2af2f");
    let sent = s.bodies.lock().unwrap()[0].clone();
    assert_eq!(
        sent,
        json!({"model": "gen4.5", "promptText": "Cats surfing at dawn.", "ratio": "720:1280", "duration": 10})
    );
    let mut seen = Vec::new();
    loop {
        let st = p.poll(&sub.task_id).await.unwrap();
        seen.push(st.clone());
        if st == RenderStatus::Done {
            break;
        }
    }
    assert_eq!(
        seen,
        [
            RenderStatus::Running { progress: 0 },
            RenderStatus::Running { progress: 0 },
            RenderStatus::Running { progress: 42 },
            RenderStatus::Done
        ]
    );
    let bytes = p.fetch(&sub.task_id).await.unwrap();
    assert_eq!(bytes, support::mp4_bytes());
}

#[tokio::test]
async fn bad_keys_and_bad_requests_are_permanent_and_never_echo_the_key() {
    let (s, base) = start().await;
    let e = client(&base, "key_wrong")
        .submit(&request("x"))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Permanent(_)), "{e:?}");
    assert!(message(&e).contains("401"), "{e}");
    assert!(!format!("{e:?}").contains("key_wrong"));
    *s.submit_mode.lock().unwrap() = "forbidden".into();
    let e = client(&base, KEY).submit(&request("x")).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Permanent(_)) && message(&e).contains("403"),
        "{e}"
    );
    *s.submit_mode.lock().unwrap() = "bad_request".into();
    let e = client(&base, KEY).submit(&request("x")).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Permanent(_)) && message(&e).contains("400"),
        "{e}"
    );
    assert!(!format!("{e:?}").contains(KEY));
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_wait_they_ask_for() {
    let (s, base) = start().await;
    *s.submit_mode.lock().unwrap() = "429x2".into();
    let t = Instant::now();
    client(&base, KEY).submit(&request("x")).await.unwrap();
    assert_eq!(s.submit_hits.load(Ordering::SeqCst), 3);
    assert!(
        t.elapsed() >= Duration::from_secs(2),
        "Retry-After: 1, twice"
    );
}

#[tokio::test]
async fn server_errors_are_retried_and_a_submit_that_may_have_been_taken_never_is() {
    let (s, base) = start().await;
    // 503 turns the request away: sending it again cannot make a second task.
    *s.submit_mode.lock().unwrap() = "503".into();
    let e = client(&base, KEY).submit(&request("x")).await.unwrap_err();
    assert!(matches!(e, ProviderError::Transient(_)), "{e:?}");
    assert_eq!(s.submit_hits.load(Ordering::SeqCst), 3, "tried three times");
    // A 500 or 502 (the server or a gateway failed, maybe after creating the task), a 2xx
    // we cannot read, or a connection cut after the request was sent: the task may exist
    // (and be paid for), so the submit is never sent again.
    for mode in ["500", "502", "malformed", "html", "reset"] {
        s.submit_hits.store(0, Ordering::SeqCst);
        *s.submit_mode.lock().unwrap() = mode.into();
        let e = client(&base, KEY).submit(&request("x")).await.unwrap_err();
        assert!(
            matches!(e, ProviderError::UnknownOutcome(_)),
            "{mode}: {e:?}"
        );
        assert_eq!(s.submit_hits.load(Ordering::SeqCst), 1, "{mode}: sent once");
    }
    // Nothing listening: the request never left, so it is retried.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let e = client(&closed, KEY)
        .submit(&request("x"))
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Transient(_)), "{e:?}");
    // An API that redirects is not followed anywhere.
    *s.submit_mode.lock().unwrap() = "redirect".into();
    let e = client(&base, KEY).submit(&request("x")).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Permanent(_)) && message(&e).contains("307"),
        "{e}"
    );
}

async fn finish(
    mode: &str,
) -> (
    Arc<Server>,
    RunwayProvider,
    Result<RenderStatus, ProviderError>,
) {
    let (s, base) = start().await;
    *s.task_mode.lock().unwrap() = mode.into();
    s.polls.store(3, Ordering::SeqCst);
    let p = client(&base, KEY);
    let r = p.poll("17f20503-6c24-4c16-946b-35dbbce2af2f").await;
    (s, p, r)
}

#[tokio::test]
async fn every_end_state_is_classified() {
    let (_, _, r) = finish("safety").await;
    assert!(
        matches!(r, Err(ProviderError::ContentRejected(ref m)) if m.contains("SAFETY.INPUT.TEXT")),
        "{r:?}"
    );
    let (_, _, r) = finish("failed").await;
    assert!(
        matches!(r, Ok(RenderStatus::Failed { ref reason }) if reason.contains("INTERNAL")),
        "{r:?}"
    );
    let (_, _, r) = finish("cancelled").await;
    assert!(matches!(r, Ok(RenderStatus::Failed { .. })), "{r:?}");
    let (_, _, r) = finish("unknown").await;
    assert!(matches!(r, Err(ProviderError::Transient(_))), "{r:?}");
    let (_, _, r) = finish("no_output").await;
    assert!(matches!(r, Err(ProviderError::Transient(_))), "{r:?}");
    let (_, _, r) = finish("huge").await;
    assert!(
        matches!(r, Err(ProviderError::Transient(ref m)) if m.contains("larger than")),
        "an oversize answer is cut off: {r:?}"
    );
    let (_, p, _) = finish("ok").await;
    let e = p.fetch("../../etc/passwd").await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Permanent(_)),
        "task ids are checked: {e:?}"
    );
}

#[tokio::test]
async fn bad_outputs_are_refused() {
    for (mode, want) in [
        ("expired", "expire"),
        ("inward", "forbidden address"),
        ("oversize", "larger than"),
        ("html", "not an MP4"),
    ] {
        let (s, p, r) = finish(mode).await;
        assert_eq!(r.unwrap(), RenderStatus::Done);
        s.polls.store(3, Ordering::SeqCst);
        let e = p
            .fetch("17f20503-6c24-4c16-946b-35dbbce2af2f")
            .await
            .unwrap_err();
        assert!(matches!(e, ProviderError::Permanent(_)), "{mode}: {e:?}");
        assert!(message(&e).contains(want), "{mode}: {e}");
        assert!(
            !message(&e).contains("_jwt"),
            "signed URLs stay out of errors"
        );
    }
}

#[tokio::test]
async fn the_download_guard_never_connects_where_it_must_not() {
    let canary = support::Canary::start().await;
    let strict = DownloadPolicy::new(&["localhost", "127.0.0.1", ".runwayml.com"], false);
    for url in [
        format!("https://127.0.0.1:{}/v.mp4", canary.port),
        format!("https://localhost:{}/v.mp4", canary.port),
        format!("https://[::1]:{}/v.mp4", canary.port),
        format!("http://127.0.0.1:{}/v.mp4", canary.port),
        "https://169.254.169.254/latest/meta-data".into(),
        "https://10.0.0.1/v.mp4".into(),
        "file:///etc/passwd".into(),
        "gopher://127.0.0.1:70/".into(),
        "https://user:pw@cdn.runwayml.com/v.mp4".into(),
        "https://evil.example.com/v.mp4".into(),
    ] {
        let e = download(&strict, &url).await.unwrap_err();
        assert!(
            matches!(e, viral_providers::download::DownloadError::Refused(_)),
            "{url}: {e:?}"
        );
    }
    // Even with loopback allowed (tests, local development), plain HTTP goes to loopback only
    // and private ranges stay closed.
    let dev = DownloadPolicy::new(&[".runwayml.com"], true);
    assert!(download(&dev, "http://10.0.0.1/v.mp4").await.is_err());
    assert_eq!(canary.hits(), 0, "no connection reached the canary");
}
