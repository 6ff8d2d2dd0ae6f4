//! Instagram against a local server speaking the Instagram API with Instagram Login as
//! documented: the code exchange and the 60-day token, a Reels container fetched from our
//! signed media URL, `status_code` `IN_PROGRESS` → `FINISHED` (or `ERROR`), the 24 h
//! publishing limit read at run time, `media_publish` once, the permalink.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use viral_core::domain::account::Platform;
use viral_core::domain::post::PostStatus;
use viral_core::service::publishing::Next;
use viral_core::service::{accounts, posts};
use viral_social::{InstagramPublisher, SocialConfig};

use crate::support::{PUBLIC_URL, World, secrets, serve};

const IG_USER: &str = "17841400000000000";

#[derive(Default)]
struct Meta {
    long_lived: String,
    containers: Vec<HashMap<String, String>>,
    reads: u32,
    container_error: bool,
    quota_usage: u32,
    publishes: u32,
}

type S = Arc<Mutex<Meta>>;

fn form(body: &str) -> HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn bearer(s: &S, h: &HeaderMap) -> Option<Response> {
    let t = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if t == s.lock().unwrap().long_lived {
        None
    } else {
        Some((
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"message": "Error validating access token", "type": "OAuthException", "code": 190, "fbtrace_id": "AbC123"}})),
        )
            .into_response())
    }
}

async fn short_token(body: String) -> Response {
    let f = form(&body);
    assert_eq!(f["client_id"], "ig-app-id");
    assert_eq!(f["client_secret"], "ig-app-secret");
    assert_eq!(f["grant_type"], "authorization_code");
    assert_eq!(
        f["redirect_uri"],
        format!("{PUBLIC_URL}/oauth/instagram/callback")
    );
    assert_eq!(
        f["code"], "AQBx-code",
        "the `#_` Instagram appends is dropped"
    );
    axum::Json(json!({"data": [{"access_token": "IGQshort", "user_id": IG_USER, "permissions": "instagram_business_basic,instagram_business_content_publish"}]})).into_response()
}

async fn exchange(State(s): State<S>, Query(q): Query<HashMap<String, String>>) -> Response {
    assert_eq!(q["grant_type"], "ig_exchange_token");
    assert_eq!(q["access_token"], "IGQshort");
    let mut m = s.lock().unwrap();
    m.long_lived = "IGQlong1".into();
    axum::Json(
        json!({"access_token": m.long_lived, "token_type": "bearer", "expires_in": 5_183_944}),
    )
    .into_response()
}

async fn me(State(s): State<S>, h: HeaderMap) -> Response {
    if let Some(r) = bearer(&s, &h) {
        return r;
    }
    axum::Json(json!({"user_id": IG_USER, "username": "octofacts", "id": "9000"})).into_response()
}

async fn create(
    State(s): State<S>,
    Path(user): Path<String>,
    h: HeaderMap,
    body: String,
) -> Response {
    if let Some(r) = bearer(&s, &h) {
        return r;
    }
    assert_eq!(user, IG_USER);
    let mut m = s.lock().unwrap();
    m.containers.push(form(&body));
    axum::Json(json!({"id": "17889000000000001"})).into_response()
}

async fn node(
    State(s): State<S>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Response {
    if let Some(r) = bearer(&s, &h) {
        return r;
    }
    let mut m = s.lock().unwrap();
    if id == "17889000000000001" {
        m.reads += 1;
        let (code, status) = if m.container_error {
            (
                "ERROR",
                "Error: Media upload has failed with error code 2207026",
            )
        } else if m.publishes > 0 {
            ("PUBLISHED", "Published")
        } else if m.reads == 1 {
            ("IN_PROGRESS", "In Progress")
        } else {
            ("FINISHED", "Finished")
        };
        assert!(q["fields"].contains("status_code"));
        return axum::Json(json!({"status_code": code, "status": status, "id": id}))
            .into_response();
    }
    assert_eq!(q["fields"], "permalink");
    axum::Json(json!({"permalink": "https://www.instagram.com/reel/C0ctoPus/", "id": id}))
        .into_response()
}

async fn limit(State(s): State<S>, h: HeaderMap) -> Response {
    if let Some(r) = bearer(&s, &h) {
        return r;
    }
    let used = s.lock().unwrap().quota_usage;
    axum::Json(json!({"data": [{"quota_usage": used, "config": {"quota_total": 50, "quota_duration": 86400}}]})).into_response()
}

async fn publish(State(s): State<S>, h: HeaderMap, body: String) -> Response {
    if let Some(r) = bearer(&s, &h) {
        return r;
    }
    assert_eq!(form(&body)["creation_id"], "17889000000000001");
    let mut m = s.lock().unwrap();
    m.publishes += 1;
    axum::Json(json!({"id": "17920000000000002"})).into_response()
}

async fn world() -> (S, World) {
    let s: S = Arc::new(Mutex::new(Meta::default()));
    let router = Router::new()
        .route("/oauth/access_token", post(short_token))
        .route("/access_token", get(exchange))
        .route("/v23.0/me", get(me))
        .route("/v23.0/{id}", get(node))
        .route("/v23.0/{id}/media", post(create))
        .route("/v23.0/{id}/media_publish", post(publish))
        .route("/v23.0/{id}/content_publishing_limit", get(limit))
        .with_state(s.clone());
    let base = serve(router).await;
    let config = SocialConfig {
        instagram_api_base_url: base.clone(),
        instagram_graph_base_url: base.clone(),
        instagram_authorize_url: format!("{base}/oauth/authorize"),
        ..SocialConfig::default()
    };
    let publisher = InstagramPublisher::new(config, secrets()).unwrap();
    (s, World::new(Arc::new(publisher)).await)
}

fn target(acc: &str) -> posts::Target {
    posts::Target {
        account_id: acc.to_owned(),
        caption: Some("Three hearts, blue blood.".into()),
        hashtags: Some(vec!["octopus".into(), "reels".into()]),
        options: posts::Options {
            cover_ms: Some(1500),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn a_reel_is_fetched_from_our_signed_url_processed_and_published_once() {
    let (s, w) = world().await;
    let (acc, url) = w.connect(Platform::Instagram, "AQBx-code#_").await;
    let q: HashMap<_, _> = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(
        q["scope"],
        "instagram_business_basic,instagram_business_content_publish,instagram_business_manage_insights"
    );
    let account = accounts::get(&*w.store, &w.tenant, &acc).await.unwrap();
    assert_eq!(account.profile.user_id, IG_USER);
    assert_eq!(account.profile.display_name, "octofacts");
    assert!(
        account.access_expires_at.is_some(),
        "the 60-day token's expiry is kept"
    );
    let job = w.video(4096).await;
    let post = w.post(&job, target(&acc)).await;
    assert_eq!(w.run(&post).await, Next::Done);
    let p = w.get(&post).await;
    assert_eq!(p.status, PostStatus::Published, "{:?}", p.error);
    assert_eq!(p.platform_post_id.as_deref(), Some("17920000000000002"));
    assert_eq!(
        p.url.as_deref(),
        Some("https://www.instagram.com/reel/C0ctoPus/")
    );
    let m = s.lock().unwrap();
    assert_eq!(m.publishes, 1);
    let c = &m.containers[0];
    assert_eq!(c["media_type"], "REELS");
    assert!(
        c["video_url"].starts_with("https://media.viral.example/"),
        "{}",
        c["video_url"]
    );
    assert_eq!(c["caption"], "Three hearts, blue blood.\n#octopus #reels");
    assert_eq!(c["share_to_feed"], "true");
    assert_eq!(c["thumb_offset"], "1500");
}

#[tokio::test]
async fn a_container_error_fails_the_post_with_metas_code() {
    let (s, w) = world().await;
    let (acc, _) = w.connect(Platform::Instagram, "AQBx-code").await;
    s.lock().unwrap().container_error = true;
    let job = w.video(4096).await;
    let post = w.post(&job, target(&acc)).await;
    assert_eq!(w.run(&post).await, Next::Done);
    let p = w.get(&post).await;
    assert_eq!(p.status, PostStatus::Failed);
    assert_eq!(p.error.unwrap().code, "2207026");
    assert_eq!(s.lock().unwrap().publishes, 0);
}

#[tokio::test]
async fn the_rolling_24_hour_limit_reschedules_instead_of_publishing() {
    let (s, w) = world().await;
    let (acc, _) = w.connect(Platform::Instagram, "AQBx-code").await;
    s.lock().unwrap().quota_usage = 50;
    let job = w.video(4096).await;
    let post = w.post(&job, target(&acc)).await;
    assert!(matches!(w.run(&post).await, Next::Wait(_)));
    let p = w.get(&post).await;
    assert_eq!(p.status, PostStatus::Scheduled);
    assert!(
        p.warnings
            .iter()
            .any(|x| x.contains("50 posts of the last 24 h")),
        "{:?}",
        p.warnings
    );
    assert_eq!(s.lock().unwrap().publishes, 0);
    // Once the window moved, the same container is published (not created again).
    s.lock().unwrap().quota_usage = 10;
    let mut later = w.get(&post).await;
    later.not_before = None;
    viral_core::service::posts::save(&*w.store, &*w.clock, later)
        .await
        .unwrap();
    assert_eq!(w.run(&post).await, Next::Done);
    let m = s.lock().unwrap();
    assert_eq!((m.containers.len(), m.publishes), (1, 1));
}
