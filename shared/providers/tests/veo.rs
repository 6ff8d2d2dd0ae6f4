//! The Vertex Veo client against a local server speaking Vertex's documented shapes: the
//! service-account token exchange (the server verifies the signed assertion), the long-running
//! operation, base64 output, RAI filtering, operation errors and malformed answers.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};
use viral_core::ports::{ProviderError, RenderRequest, RenderStatus, VideoProvider};
use viral_providers::Credential;
use viral_providers::google_auth::{ServiceAccountKey, TokenSource};
use viral_providers::http::RetryPolicy;
use viral_providers::veo::{VEO_3_1_FAST, VeoProvider};

const PRIVATE_KEY: &str = include_str!("fixtures/test-service-account.key");
const PUBLIC_KEY: &str = include_str!("fixtures/test-service-account.pub");
const EMAIL: &str = "viral-test@viral-dev.iam.gserviceaccount.com";
const OP: &str = "projects/viral-dev/locations/us-central1/publishers/google/models/veo-3.1-fast-generate-001/operations/5b1c-77de-0f21";

#[derive(Default)]
struct Server {
    base: Mutex<String>,
    /// How the operation ends: "ok", "filtered", "error", "gcs", "not_mp4", "bad_base64".
    mode: Mutex<String>,
    /// What the next submit answers: "ok", "429once", "foreign_name".
    submit_mode: Mutex<String>,
    token_hits: AtomicUsize,
    submit_hits: AtomicUsize,
    fetches: AtomicUsize,
    submitted: Mutex<Option<Value>>,
}

type S = State<Arc<Server>>;

struct TokenForm {
    grant_type: String,
    assertion: String,
}

#[derive(serde::Deserialize)]
struct Claims {
    iss: String,
    scope: String,
}

async fn token(State(s): S, body: String) -> Response {
    s.token_hits.fetch_add(1, Ordering::SeqCst);
    let fields: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
    let f = TokenForm {
        grant_type: fields.get("grant_type").cloned().unwrap_or_default(),
        assertion: fields.get("assertion").cloned().unwrap_or_default(),
    };
    let aud = format!("{}/token", s.base.lock().unwrap());
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[aud]);
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(PUBLIC_KEY.as_bytes()).unwrap();
    match jsonwebtoken::decode::<Claims>(&f.assertion, &key, &v) {
        Ok(t)
            if f.grant_type == "urn:ietf:params:oauth:grant-type:jwt-bearer"
                && t.claims.iss == EMAIL
                && t.claims.scope == "https://www.googleapis.com/auth/cloud-platform" =>
        {
            Json(json!({"access_token": if s.mode.lock().unwrap().as_str() == "stale_token" { "ya29.revoked" } else { "ya29.test-token" }, "expires_in": 3599, "token_type": "Bearer"}))
                .into_response()
        }
        _ => (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant", "error_description": "Invalid JWT Signature."})),
        )
            .into_response(),
    }
}

async fn model_call(
    State(s): S,
    h: HeaderMap,
    Path(call): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if h.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer ya29.test-token") {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}})),
        )
            .into_response();
    }
    let mode = s.mode.lock().unwrap().clone();
    match call.as_str() {
        "veo-3.1-fast-generate-001:predictLongRunning" => {
            let n = s.submit_hits.fetch_add(1, Ordering::SeqCst);
            *s.submitted.lock().unwrap() = Some(body);
            match s.submit_mode.lock().unwrap().as_str() {
                "429once" if n == 0 => (
                    StatusCode::TOO_MANY_REQUESTS,
                    [("retry-after", "0")],
                    Json(json!({"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}})),
                )
                    .into_response(),
                "foreign_name" => {
                    Json(json!({"name": "projects/other/locations/x/operations/1"})).into_response()
                }
                _ => Json(json!({"name": OP})).into_response(),
            }
        }
        "veo-3.1-fast-generate-001:fetchPredictOperation" => {
            if mode == "down" {
                s.fetches.fetch_add(1, Ordering::SeqCst);
                return (StatusCode::SERVICE_UNAVAILABLE, "upstream connect error").into_response();
            }
            if body["operationName"] != OP {
                return (
                    StatusCode::NOT_FOUND,
                    Json(json!({"error": {"code": 404, "status": "NOT_FOUND"}})),
                )
                    .into_response();
            }
            if s.fetches.fetch_add(1, Ordering::SeqCst) == 0 {
                return Json(json!({"name": OP})).into_response();
            }
            let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
            let video = |v: Value| {
                json!({"name": OP, "done": true, "response": {
                "@type": "type.googleapis.com/cloud.ai.large_models.vision.GenerateVideoResponse",
                "raiMediaFilteredCount": 0, "videos": [v]}})
            };
            Json(match mode.as_str() {
                "filtered" => json!({"name": OP, "done": true, "response": {
                    "raiMediaFilteredCount": 1,
                    "raiMediaFilteredReasons": ["The prompt could not be submitted: it may violate our policies."],
                    "videos": []}}),
                "error" => json!({"name": OP, "done": true, "error": {"code": 13, "message": "Internal error"}}),
                "gcs" => video(json!({"gcsUri": "gs://bucket/v.mp4", "mimeType": "video/mp4"})),
                "not_mp4" => video(json!({"bytesBase64Encoded": b64(b"<html>nope</html>"), "mimeType": "video/mp4"})),
                "bad_base64" => video(json!({"bytesBase64Encoded": "!!!not base64!!!", "mimeType": "video/mp4"})),
                _ => video(json!({"bytesBase64Encoded": b64(&support::mp4_bytes()), "mimeType": "video/mp4"})),
            })
            .into_response()
        }
        _ => (StatusCode::NOT_FOUND, "no such method").into_response(),
    }
}

async fn start(mode: &str) -> (Arc<Server>, VeoProvider) {
    let s = Arc::new(Server::default());
    *s.mode.lock().unwrap() = mode.into();
    let app = Router::new()
        .route("/token", post(token))
        .route(
            "/v1/projects/viral-dev/locations/us-central1/publishers/google/models/{call}",
            post(model_call),
        )
        .with_state(s.clone());
    let base = support::serve(app).await;
    *s.base.lock().unwrap() = base.clone();
    let (provider, _) = client(&base, PRIVATE_KEY);
    (s, provider)
}

fn client(base: &str, private_key: &str) -> (VeoProvider, Arc<TokenSource>) {
    let key_file = json!({"type": "service_account", "project_id": "viral-dev", "private_key_id": "k1",
            "private_key": private_key, "client_email": EMAIL, "token_uri": format!("{base}/token")});
    let tokens = Arc::new(TokenSource::new(Credential::fixed(key_file.to_string())).unwrap());
    let retry = RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_secs(1),
    };
    let p = VeoProvider::new(
        base,
        "viral-dev",
        "us-central1",
        VEO_3_1_FAST,
        tokens.clone(),
        retry,
    )
    .unwrap();
    (p, tokens)
}

fn request() -> RenderRequest {
    RenderRequest {
        idempotency_key: "job_1-a1-c0".into(),
        job_id: "job_1".into(),
        tenant_id: "tn_1".into(),
        prompt: "A paper boat in the rain.".into(),
        duration_s: 7.5,
        width: 1080,
        height: 1920,
        fps: 30,
        narration: None,
    }
}

#[tokio::test]
async fn an_operation_runs_to_a_decoded_mp4_with_one_token() {
    let (s, p) = start("ok").await;
    let sub = p.submit(&request()).await.unwrap();
    assert_eq!(sub.task_id, OP);
    let sent = s.submitted.lock().unwrap().clone().unwrap();
    assert_eq!(sent["instances"][0]["prompt"], "A paper boat in the rain.");
    assert_eq!(sent["parameters"]["aspectRatio"], "9:16");
    assert_eq!(sent["parameters"]["durationSeconds"], 8);
    assert_eq!(sent["parameters"]["resolution"], "1080p");
    assert_eq!(sent["parameters"]["generateAudio"], false);
    assert_eq!(
        p.poll(OP).await.unwrap(),
        RenderStatus::Running { progress: 0 }
    );
    assert_eq!(p.poll(OP).await.unwrap(), RenderStatus::Done);
    assert_eq!(p.fetch(OP).await.unwrap(), support::mp4_bytes());
    assert_eq!(
        s.token_hits.load(Ordering::SeqCst),
        1,
        "the token is cached"
    );
}

#[tokio::test]
async fn clips_with_their_own_sound_are_asked_for_at_the_stated_price() {
    let (s, p) = start("ok").await;
    let p = p.with_audio(20.0);
    assert_eq!(p.price_cents_per_second(), 20.0);
    p.submit(&request()).await.unwrap();
    let sent = s.submitted.lock().unwrap().clone().unwrap();
    assert_eq!(sent["parameters"]["generateAudio"], true);
}

#[tokio::test]
async fn the_poll_that_finds_it_done_hands_over_the_video() {
    let (s, p) = start("ok").await;
    p.submit(&request()).await.unwrap();
    assert_eq!(
        p.poll_with_output(OP).await.unwrap(),
        (RenderStatus::Running { progress: 0 }, None)
    );
    assert_eq!(
        p.poll_with_output(OP).await.unwrap(),
        (RenderStatus::Done, Some(support::mp4_bytes()))
    );
    assert_eq!(s.fetches.load(Ordering::SeqCst), 2, "one call per poll");
    // A finished operation whose video is unusable fails the poll as the fetch would.
    let (_, p) = start("not_mp4").await;
    p.poll_with_output(OP).await.unwrap();
    assert!(matches!(
        p.poll_with_output(OP).await,
        Err(ProviderError::Permanent(_))
    ));
}

#[tokio::test]
async fn filtered_failed_and_malformed_operations_are_classified() {
    type Check = fn(&Result<RenderStatus, ProviderError>) -> bool;
    let cases: [(&str, Check); 2] = [
        (
            "filtered",
            |r| matches!(r, Err(ProviderError::ContentRejected(m)) if m.contains("violate")),
        ),
        (
            "error",
            |r| matches!(r, Ok(RenderStatus::Failed { reason }) if reason.contains("13")),
        ),
    ];
    for (mode, ok) in cases {
        let (s, p) = start(mode).await;
        s.fetches.store(1, Ordering::SeqCst);
        let r = p.poll(OP).await;
        assert!(ok(&r), "{mode}: {r:?}");
    }
    for (mode, want) in [
        ("gcs", "Cloud Storage"),
        ("not_mp4", "not an MP4"),
        ("bad_base64", "base64"),
    ] {
        let (s, p) = start(mode).await;
        s.fetches.store(1, Ordering::SeqCst);
        assert_eq!(p.poll(OP).await.unwrap(), RenderStatus::Done, "{mode}");
        let e = p.fetch(OP).await.unwrap_err();
        assert!(e.to_string().contains(want), "{mode}: {e}");
    }
}

#[tokio::test]
async fn rate_limits_retry_and_foreign_operations_are_refused() {
    let (s, p) = start("ok").await;
    *s.submit_mode.lock().unwrap() = "429once".into();
    p.submit(&request()).await.unwrap();
    assert_eq!(s.submit_hits.load(Ordering::SeqCst), 2);
    *s.submit_mode.lock().unwrap() = "foreign_name".into();
    assert!(p.submit(&request()).await.is_err());
    // An operation name from elsewhere is refused before any request is made.
    let before = s.fetches.load(Ordering::SeqCst);
    let e = p
        .poll("projects/other/locations/x/operations/1")
        .await
        .unwrap_err();
    assert!(matches!(e, ProviderError::Permanent(_)), "{e:?}");
    assert_eq!(s.fetches.load(Ordering::SeqCst), before);
}

#[tokio::test]
async fn a_key_the_server_does_not_trust_is_a_permanent_error() {
    let (s, _) = start("ok").await;
    let base = s.base.lock().unwrap().clone();
    // A different key signs the assertion: the token endpoint answers invalid_grant.
    let (p, _) = client(&base, include_str!("fixtures/untrusted.key"));
    let e = p.submit(&request()).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Permanent(_)) && e.to_string().contains("invalid_grant"),
        "{e}"
    );
    assert!(ServiceAccountKey::parse("{}").is_err());
    let plain = json!({"client_email": EMAIL, "private_key": PRIVATE_KEY, "token_uri": "http://evil.example/token"});
    assert!(
        ServiceAccountKey::parse(&plain.to_string()).is_err(),
        "token_uri must be HTTPS"
    );
}

#[tokio::test]
async fn a_token_the_api_refuses_is_permanent_and_server_errors_transient() {
    let (_, p) = start("stale_token").await;
    let e = p.submit(&request()).await.unwrap_err();
    assert!(
        matches!(e, ProviderError::Permanent(_)) && e.to_string().contains("401"),
        "{e}"
    );
    let (_, p) = start("ok").await;
    let e = p.poll(&format!("{OP}-missing")).await.unwrap_err();
    // An operation the service does not know is a 404: permanent, not retried.
    assert!(matches!(e, ProviderError::Permanent(_)), "{e:?}");
    let (s, p) = start("down").await;
    let e = p.poll(OP).await.unwrap_err();
    assert!(matches!(e, ProviderError::Transient(_)), "{e:?}");
    assert!(s.fetches.load(Ordering::SeqCst) >= 2, "5xx is retried");
}
