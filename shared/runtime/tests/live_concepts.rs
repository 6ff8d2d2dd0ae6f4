//! Concept batches through the API with live sources configured the way an operator does it
//! (keys and base URLs in the environment) and local servers speaking the YouTube, GNews and
//! Anthropic shapes: trends from both sources, cached for the next request; a spent quota on
//! every source answered clearly with nothing charged; a refusal refunded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use viral_core::domain::Plan;
use viral_core::ports::{ItemStore, Secrets};
use viral_core::service::tenants;
use viral_core::{Clock, SystemClock};
use viral_embedded::{EnvSecrets, SqliteItemStore};
use viral_runtime::Config;

#[derive(Default)]
struct Upstream {
    youtube: AtomicUsize,
    gnews: AtomicUsize,
    anthropic: AtomicUsize,
    /// `ok`, `quota` (both trend sources), `refusal` (the writer).
    mode: Mutex<String>,
}

type S = State<Arc<Upstream>>;

fn mode(u: &Upstream) -> String {
    u.mode.lock().unwrap().clone()
}

async fn youtube(State(u): S) -> Response {
    u.youtube.fetch_add(1, Ordering::SeqCst);
    if mode(&u) == "quota" {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"error": {"code": 403, "message": "quota",
            "errors": [{"reason": "quotaExceeded", "domain": "youtube.quota"}]}})),
        )
            .into_response();
    }
    axum::Json(json!({"items": [
        {"id": "yt_video_01", "snippet": {"title": "Octopus filmed dreaming", "publishedAt": "2026-11-24T10:00:00Z", "categoryId": "28"},
         "statistics": {"viewCount": "900000"}},
        {"id": "yt_video_02", "snippet": {"title": "Speedrun record falls", "publishedAt": "2026-11-24T12:00:00Z", "categoryId": "20"},
         "statistics": {"viewCount": "400000"}}
    ]}))
    .into_response()
}

async fn gnews(State(u): S) -> Response {
    u.gnews.fetch_add(1, Ordering::SeqCst);
    if mode(&u) == "quota" {
        return (
            StatusCode::FORBIDDEN,
            axum::Json(json!({"errors": ["daily limit"]})),
        )
            .into_response();
    }
    axum::Json(json!({"totalArticles": 2, "articles": [
        {"title": "Night trains return to Europe", "url": "https://news.example/trains", "publishedAt": "2026-11-24T08:00:00Z",
         "source": {"name": "Example"}},
        {"title": "Cold brew overtakes hot coffee", "url": "https://news.example/coffee", "publishedAt": "2026-11-24T09:00:00Z",
         "source": {"name": "Example"}}
    ]}))
    .into_response()
}

async fn anthropic(State(u): S, axum::Json(req): axum::Json<Value>) -> Response {
    u.anthropic.fetch_add(1, Ordering::SeqCst);
    if mode(&u) == "refusal" {
        return axum::Json(json!({"id": "msg_1", "type": "message", "role": "assistant",
            "content": [{"type": "text", "text": "I can't help with that."}], "stop_reason": "refusal"}))
        .into_response();
    }
    let count = req["tools"][0]["input_schema"]["properties"]["concepts"]["minItems"]
        .as_u64()
        .unwrap_or(5) as usize;
    // The numbered trends of the prompt, as a model would see them.
    let trends = req["messages"][0]["content"]
        .as_str()
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            l.split_once(". [")
                .is_some_and(|(n, _)| n.parse::<usize>().is_ok())
        })
        .count()
        .max(1);
    let formats = ["listicle", "story", "myth-busting", "how-to"];
    let concepts: Vec<Value> = (0..count)
        .map(|i| json!({
            "title": format!("Idea {i}"), "hook": "Wait for it", "visual_prompt": "A night train crossing snowy mountains, drone shot",
            "beats": [{"text": "First", "duration_s": 6}, {"text": "Then", "duration_s": 7}],
            "caption": "Go", "hashtags": ["travel"], "category": "travel",
            "format": formats[i % 4], "hook_style": "pov", "trend_indexes": [i % trends], "rationale": "Travel is rising"
        }))
        .collect();
    axum::Json(json!({"id": "msg_1", "type": "message", "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "emit_concepts", "input": {"concepts": concepts}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 1}}))
    .into_response()
}

async fn upstream() -> (String, Arc<Upstream>) {
    let u = Arc::new(Upstream::default());
    *u.mode.lock().unwrap() = "ok".into();
    let app = Router::new()
        .route("/youtube/v3/videos", get(youtube))
        .route("/gnews/top-headlines", get(gnews))
        .route("/v1/messages", post(anthropic))
        .with_state(u.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), u)
}

struct Api {
    app: Router,
    key: String,
    upstream: Arc<Upstream>,
    _dir: tempfile::TempDir,
}

async fn api() -> Api {
    let (base, upstream) = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let env: HashMap<String, String> = [
        ("VIRAL_DATA_DIR", dir.path().to_str().unwrap().to_owned()),
        ("VIRAL_RATE_LIMIT", "1000/10s".into()),
        ("VIRAL_ALLOW_LOOPBACK_PROVIDERS", "1".into()),
        ("YOUTUBE_API_KEY", "yt-key".into()),
        ("GNEWS_API_KEY", "gn-key".into()),
        ("ANTHROPIC_API_KEY", "sk-ant-key".into()),
        ("YOUTUBE_BASE_URL", format!("{base}/youtube/v3")),
        ("GNEWS_BASE_URL", format!("{base}/gnews")),
        ("ANTHROPIC_BASE_URL", base.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let secrets: Arc<dyn Secrets> = Arc::new(EnvSecrets::from_map(env.clone()));
    let store: Arc<dyn ItemStore> =
        Arc::new(SqliteItemStore::open(&dir.path().join("viral.db")).unwrap());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut state = viral_runtime::services::api_state(&config, store.clone(), clock.clone())
        .await
        .unwrap();
    state.trends = viral_runtime::sources::trend_source(
        &config.sources,
        secrets.clone(),
        store.clone(),
        clock.clone(),
    )
    .unwrap();
    state.writer = viral_runtime::sources::concept_writer(&config.sources, secrets).unwrap();
    let t = tenants::create_tenant(&*store, &*clock, "Acme", Plan::Pro)
        .await
        .unwrap();
    Api {
        app: viral_api::router(state),
        key: t.key.token.expose().to_owned(),
        upstream,
        _dir: dir,
    }
}

impl Api {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("authorization", format!("Bearer {}", self.key))
            .header("content-type", "application/json")
            .body(
                body.map(|b| Body::from(b.to_string()))
                    .unwrap_or_else(Body::empty),
            )
            .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status().as_u16();
        let raw = resp.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&raw).unwrap_or(Value::Null))
    }

    fn hits(&self) -> (usize, usize, usize) {
        let u = &self.upstream;
        (
            u.youtube.load(Ordering::SeqCst),
            u.gnews.load(Ordering::SeqCst),
            u.anthropic.load(Ordering::SeqCst),
        )
    }

    async fn concepts_used(&self) -> i64 {
        self.call("GET", "/v1/usage", None).await.1["concepts"]["used"]
            .as_i64()
            .unwrap()
    }
}

#[tokio::test]
async fn a_batch_from_live_trends_and_the_model_with_trends_cached() {
    let api = api().await;
    let (status, providers) = api.call("GET", "/v1/providers", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        providers["concepts"],
        json!({"trend_source": "youtube+gnews", "concept_writer": "claude-haiku-4-5", "live": true})
    );

    let (status, batch) = api
        .call("POST", "/v1/concepts", Some(json!({"region": "US"})))
        .await;
    assert_eq!(status, 201, "{batch}");
    assert_eq!(batch["trend_source"], "youtube+gnews");
    assert_eq!(batch["writer"], "claude-haiku-4-5");
    let concepts = batch["concepts"].as_array().unwrap();
    assert_eq!(concepts.len(), 5);
    let urls: Vec<&str> = concepts
        .iter()
        .filter_map(|c| c["trends"][0]["url"].as_str())
        .collect();
    assert!(
        urls.contains(&"https://www.youtube.com/watch?v=yt_video_01"),
        "{urls:?}"
    );
    assert!(urls.contains(&"https://news.example/trains"), "{urls:?}");
    assert_eq!(api.hits(), (1, 1, 1));

    let (status, _) = api
        .call("POST", "/v1/concepts", Some(json!({"region": "US"})))
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        api.hits(),
        (1, 1, 2),
        "trends came from the cache; the writer ran again"
    );
    assert_eq!(api.concepts_used().await, 10);
}

#[tokio::test]
async fn spent_quotas_and_refusals_are_clear_and_charge_nothing() {
    let api = api().await;
    *api.upstream.mode.lock().unwrap() = "quota".into();
    let (status, body) = api
        .call("POST", "/v1/concepts", Some(json!({"category": "science"})))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "source_quota_exhausted");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("topics")
    );
    assert_eq!(api.concepts_used().await, 0, "refunded");

    // Topics need no trend source.
    let (status, batch) = api
        .call(
            "POST",
            "/v1/concepts",
            Some(json!({"topics": ["night trains"], "count": 2})),
        )
        .await;
    assert_eq!(status, 201, "{batch}");
    assert_eq!(batch["trend_source"], "topic");
    assert_eq!(api.concepts_used().await, 2);

    *api.upstream.mode.lock().unwrap() = "refusal".into();
    let (status, body) = api
        .call(
            "POST",
            "/v1/concepts",
            Some(json!({"topics": ["something"], "count": 2})),
        )
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["code"], "writer_failed");
    assert_eq!(
        api.concepts_used().await,
        2,
        "the refused batch was refunded"
    );
}
