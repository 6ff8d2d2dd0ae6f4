//! TikTok against a local server speaking Login Kit v2 and the Content Posting API as
//! documented: the OAuth exchange and rotating refresh, `creator_info` with a restricted
//! privacy list, `video/init`, a chunk refused once, `status/fetch` through moderation,
//! `spam_risk_too_many_posts`, an expired access token, a revoked grant.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};
use viral_core::domain::account::{AccountStatus, Platform};
use viral_core::domain::post::PostStatus;
use viral_core::ports::{PublishError, Publisher};
use viral_core::service::publishing::Next;
use viral_core::service::{accounts, posts};
use viral_social::{SocialConfig, TiktokPublisher};

use crate::support::{PUBLIC_URL, World, secrets, serve};

#[derive(Default)]
struct Platform_ {
    base: String,
    privacy_options: Vec<&'static str>,
    access: String,
    refresh: String,
    rotations: u32,
    dead_refresh: bool,
    expire_access_once: bool,
    fail_first_chunk: bool,
    spam_limited: bool,
    inits: Vec<Value>,
    chunks: Vec<(String, usize)>,
    status_reads: u32,
    verifiers: Vec<String>,
    revoked: Vec<String>,
    /// The user unticked posting on the consent page.
    narrow_scopes: bool,
}

type S = Arc<Mutex<Platform_>>;

fn form(body: &str) -> std::collections::HashMap<String, String> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn tt_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": code, "message": message, "log_id": "20261204LOG"}})),
    )
        .into_response()
}

fn ok(data: Value) -> Response {
    axum::Json(
        json!({"data": data, "error": {"code": "ok", "message": "", "log_id": "20261204LOG"}}),
    )
    .into_response()
}

/// The user's token, as TikTok checks it.
fn authorized(s: &S, headers: &HeaderMap) -> Option<Response> {
    let mut p = s.lock().unwrap();
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if p.expire_access_once && token == p.access {
        p.expire_access_once = false;
        p.access = format!("{}-stale", p.access);
    }
    if token != p.access {
        return Some(tt_error(
            StatusCode::UNAUTHORIZED,
            "access_token_invalid",
            "The access token is invalid or not found in the request.",
        ));
    }
    None
}

async fn token(State(s): State<S>, body: String) -> Response {
    let f = form(&body);
    let mut p = s.lock().unwrap();
    if f.get("client_key").map(String::as_str) != Some("tt-client-key")
        || f.get("client_secret").map(String::as_str) != Some("tt-client-secret")
    {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client", "error_description": "Client key or secret is incorrect.", "log_id": "L"}))).into_response();
    }
    match f.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            assert_eq!(
                f["redirect_uri"],
                format!("{PUBLIC_URL}/oauth/tiktok/callback")
            );
            p.verifiers.push(f["code_verifier"].clone());
        }
        Some("refresh_token") => {
            if p.dead_refresh || f.get("refresh_token") != Some(&p.refresh) {
                return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant", "error_description": "Refresh token is invalid or expired.", "log_id": "L"}))).into_response();
            }
        }
        _ => panic!("unexpected grant {body}"),
    }
    // Every exchange and every refresh issues a new access token and a new (rotated) refresh
    // token.
    p.rotations += 1;
    p.access = format!("act.{}", p.rotations);
    p.refresh = format!("rft.{}", p.rotations);
    axum::Json(json!({
        "access_token": p.access,
        "expires_in": 7200,
        "open_id": "open-7f3a",
        "refresh_expires_in": 15_552_000,
        "refresh_token": p.refresh,
        "scope": if p.narrow_scopes { "user.info.basic,video.list" } else { "user.info.basic,video.publish,video.upload,video.list" },
        "token_type": "Bearer"
    }))
    .into_response()
}

async fn user_info(State(s): State<S>, headers: HeaderMap) -> Response {
    if let Some(r) = authorized(&s, &headers) {
        return r;
    }
    ok(
        json!({"user": {"open_id": "open-7f3a", "display_name": "Octo Facts", "avatar_url": "https://p16.tiktokcdn.com/octo.jpeg"}}),
    )
}

async fn creator_info(State(s): State<S>, headers: HeaderMap) -> Response {
    if let Some(r) = authorized(&s, &headers) {
        return r;
    }
    let p = s.lock().unwrap();
    ok(json!({
        "creator_avatar_url": "https://p16.tiktokcdn.com/octo.jpeg",
        "creator_username": "octofacts",
        "creator_nickname": "Octo Facts",
        "privacy_level_options": p.privacy_options,
        "comment_disabled": false,
        "duet_disabled": true,
        "stitch_disabled": false,
        "max_video_post_duration_sec": 600
    }))
}

async fn init(State(s): State<S>, headers: HeaderMap, body: String) -> Response {
    if let Some(r) = authorized(&s, &headers) {
        return r;
    }
    let mut p = s.lock().unwrap();
    if p.spam_limited {
        return tt_error(
            StatusCode::FORBIDDEN,
            "spam_risk_too_many_posts",
            "The daily post cap from the API is reached for the current user.",
        );
    }
    let v: Value = serde_json::from_str(&body).unwrap();
    p.inits.push(v);
    let n = p.inits.len();
    ok(
        json!({"publish_id": format!("v_pub_file~v2-1.{n}"), "upload_url": format!("{}/upload/?upload_id={n}", p.base)}),
    )
}

async fn upload(State(s): State<S>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let mut p = s.lock().unwrap();
    assert_eq!(headers["content-type"], "video/mp4");
    let range = headers["content-range"].to_str().unwrap().to_owned();
    if p.fail_first_chunk {
        p.fail_first_chunk = false;
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    p.chunks.push((range, body.len()));
    StatusCode::CREATED.into_response()
}

async fn status(State(s): State<S>, headers: HeaderMap, body: String) -> Response {
    if let Some(r) = authorized(&s, &headers) {
        return r;
    }
    let mut p = s.lock().unwrap();
    let v: Value = serde_json::from_str(&body).unwrap();
    assert!(v["publish_id"].as_str().unwrap().starts_with("v_pub_file"));
    p.status_reads += 1;
    let public = p
        .inits
        .last()
        .is_some_and(|i| i["post_info"]["privacy_level"] == "PUBLIC_TO_EVERYONE");
    match p.status_reads {
        1 => ok(json!({"status": "PROCESSING_UPLOAD", "uploaded_bytes": 0})),
        _ => ok(json!({
            "status": "PUBLISH_COMPLETE",
            "publicaly_available_post_id": if public { json!([7_312_345_678_901_234_567_u64]) } else { json!([]) },
            "uploaded_bytes": 4096
        })),
    }
}

async fn revoke(State(s): State<S>, body: String) -> Response {
    let f = form(&body);
    s.lock().unwrap().revoked.push(f["token"].clone());
    axum::Json(json!({})).into_response()
}

async fn platform(privacy: &[&'static str]) -> (S, SocialConfig) {
    let s: S = Arc::new(Mutex::new(Platform_ {
        privacy_options: privacy.to_vec(),
        ..Default::default()
    }));
    let router = Router::new()
        .route("/v2/oauth/token/", post(token))
        .route("/v2/oauth/revoke/", post(revoke))
        .route("/v2/user/info/", get(user_info))
        .route("/v2/post/publish/creator_info/query/", post(creator_info))
        .route("/v2/post/publish/video/init/", post(init))
        .route("/v2/post/publish/status/fetch/", post(status))
        .route("/upload/", put(upload))
        .with_state(s.clone());
    let base = serve(router).await;
    s.lock().unwrap().base = base.clone();
    let config = SocialConfig {
        tiktok_base_url: base.clone(),
        tiktok_authorize_url: format!("{base}/v2/auth/authorize/"),
        ..SocialConfig::default()
    };
    (s, config)
}

async fn world(privacy: &[&'static str]) -> (S, World) {
    let (s, config) = platform(privacy).await;
    let publisher = TiktokPublisher::new(config, secrets()).unwrap();
    (s, World::new(Arc::new(publisher)).await)
}

fn target(account: &str, privacy: &str) -> posts::Target {
    posts::Target {
        account_id: account.to_owned(),
        caption: Some("Octopuses have three hearts 🐙".into()),
        hashtags: Some(vec!["octopus".into(), "facts".into()]),
        privacy: Some(privacy.to_owned()),
        ..Default::default()
    }
}

#[tokio::test]
async fn connects_posts_with_the_audit_metadata_and_follows_moderation() {
    let (s, w) = world(&["PUBLIC_TO_EVERYONE", "FOLLOWER_OF_CREATOR", "SELF_ONLY"]).await;
    let (acc, url) = w.connect(Platform::Tiktok, "code-1").await;
    // The authorize URL: our client key, the scopes comma-separated, PKCE S256.
    let u = reqwest::Url::parse(&url).unwrap();
    let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
    assert_eq!(q["client_key"], "tt-client-key");
    assert!(
        u.path().ends_with("/v2/auth/authorize/"),
        "TikTok's path keeps its slash: {u}"
    );
    assert_eq!(
        q["scope"],
        "user.info.basic,video.publish,video.upload,video.list"
    );
    assert_eq!(q["code_challenge_method"], "S256");
    // The verifier sent with the code is the one the challenge was made from.
    let verifier = s.lock().unwrap().verifiers[0].clone();
    assert_eq!(
        viral_core::service::connect::pkce_challenge(&verifier),
        q["code_challenge"]
    );
    let account = accounts::get(&*w.store, &w.tenant, &acc).await.unwrap();
    assert_eq!(account.profile.display_name, "Octo Facts");
    assert_eq!(account.scopes.len(), 4);
    assert!(account.access_expires_at.is_some());

    let job = w.video(4096).await;
    let post = w.post(&job, target(&acc, "PUBLIC_TO_EVERYONE")).await;
    assert_eq!(w.run(&post).await, Next::Done);
    let p = w.get(&post).await;
    assert_eq!(p.status, PostStatus::Published, "{:?}", p.error);
    assert_eq!(p.platform_post_id.as_deref(), Some("7312345678901234567"));
    assert_eq!(
        p.url.as_deref(),
        Some("https://www.tiktok.com/@octofacts/video/7312345678901234567")
    );
    let st = s.lock().unwrap();
    assert_eq!(st.inits.len(), 1, "posted once");
    let info = &st.inits[0]["post_info"];
    assert_eq!(info["privacy_level"], "PUBLIC_TO_EVERYONE");
    assert_eq!(info["is_aigc"], true, "the AI-generated label");
    assert_eq!(info["disable_duet"], true, "the creator turned duets off");
    assert_eq!(info["brand_content_toggle"], false);
    assert_eq!(
        info["title"],
        "Octopuses have three hearts 🐙\n#octopus #facts"
    );
    let source = &st.inits[0]["source_info"];
    assert_eq!(
        (
            source["source"].as_str(),
            source["video_size"].as_u64(),
            source["total_chunk_count"].as_u64()
        ),
        (Some("FILE_UPLOAD"), Some(4096), Some(1))
    );
    assert_eq!(st.chunks, vec![("bytes 0-4095/4096".to_owned(), 4096)]);
}

#[tokio::test]
async fn an_unaudited_app_may_only_post_privately_and_says_so() {
    let (s, w) = world(&["SELF_ONLY"]).await;
    let (acc, _) = w.connect(Platform::Tiktok, "code-2").await;
    let account = accounts::get(&*w.store, &w.tenant, &acc).await.unwrap();
    let publisher = w.publishers.get(Platform::Tiktok).unwrap();
    let open = accounts::open_tokens(&*w.vault, &account).await.unwrap();
    let info = publisher
        .creator_info(&open.access.unwrap(), &account)
        .await
        .unwrap();
    assert_eq!(info.privacy_options, vec!["SELF_ONLY"]);
    assert!(info.restriction.unwrap().contains("not audited"));
    // A public post is refused before anything is sent to TikTok.
    let job = w.video(4096).await;
    let post = w.post(&job, target(&acc, "PUBLIC_TO_EVERYONE")).await;
    assert_eq!(w.run(&post).await, Next::Done);
    let p = w.get(&post).await;
    assert_eq!(p.status, PostStatus::Failed);
    assert_eq!(p.error.unwrap().code, "privacy_level_option_mismatch");
    assert!(s.lock().unwrap().inits.is_empty());
    // A private one goes; its post never gets a public id.
    let post = w.post(&job, target(&acc, "SELF_ONLY")).await;
    assert_eq!(w.run(&post).await, Next::Done);
    let p = w.get(&post).await;
    assert_eq!(p.status, PostStatus::Published);
    assert_eq!((p.platform_post_id, p.url), (None, None));
}

#[tokio::test]
async fn a_refused_chunk_is_sent_again_and_an_expired_token_refreshed_once() {
    let (s, w) = world(&["SELF_ONLY"]).await;
    let (acc, _) = w.connect(Platform::Tiktok, "code-3").await;
    {
        let mut p = s.lock().unwrap();
        p.fail_first_chunk = true;
        p.expire_access_once = true;
    }
    let job = w.video(8192).await;
    let post = w.post(&job, target(&acc, "SELF_ONLY")).await;
    assert_eq!(w.run(&post).await, Next::Done);
    assert_eq!(w.get(&post).await.status, PostStatus::Published);
    let (inits, chunks, rotations) = {
        let st = s.lock().unwrap();
        (st.inits.len(), st.chunks.clone(), st.rotations)
    };
    assert_eq!(inits, 1);
    assert_eq!(chunks, vec![("bytes 0-8191/8192".to_owned(), 8192)]);
    // The refresh rotated the refresh token; the account holds the newest.
    assert_eq!(rotations, 2);
    let account = accounts::get(&*w.store, &w.tenant, &acc).await.unwrap();
    let open = accounts::open_tokens(&*w.vault, &account).await.unwrap();
    assert_eq!(open.refresh.unwrap().expose(), "rft.2");
}

#[tokio::test]
async fn the_daily_cap_reschedules_and_a_revoked_grant_asks_for_a_reconnect() {
    let (s, w) = world(&["SELF_ONLY"]).await;
    let (acc, _) = w.connect(Platform::Tiktok, "code-4").await;
    s.lock().unwrap().spam_limited = true;
    let job = w.video(4096).await;
    let post = w.post(&job, target(&acc, "SELF_ONLY")).await;
    let Next::Wait(until) = w.run(&post).await else {
        panic!("rescheduled")
    };
    let p = w.get(&post).await;
    assert_eq!(p.status, PostStatus::Scheduled);
    assert!(until > w.clock.now());
    assert!(
        p.warnings
            .iter()
            .any(|x| x.contains("spam_risk_too_many_posts")),
        "{:?}",
        p.warnings
    );
    // The user removed the app at TikTok: the refresh fails, the account needs reconnecting,
    // the post fails saying so.
    {
        let mut p = s.lock().unwrap();
        p.spam_limited = false;
        p.dead_refresh = true;
        p.access = "act.revoked".into();
    }
    let post = w.post(&job, target(&acc, "SELF_ONLY")).await;
    assert_eq!(w.run(&post).await, Next::Done);
    assert_eq!(
        w.get(&post).await.error.unwrap().code,
        "account_needs_reconnect"
    );
    let account = accounts::get(&*w.store, &w.tenant, &acc).await.unwrap();
    assert_eq!(account.status, AccountStatus::NeedsReconnect);
    // Revoking: TikTok takes the access token (not the refresh token) with our client key
    // and secret.
    let publisher = w.publishers.get(Platform::Tiktok).unwrap();
    let (act, rft) = (
        viral_core::ports::SecretString::new("act.9"),
        viral_core::ports::SecretString::new("rft.9"),
    );
    assert!(publisher.revoke(Some(&act), Some(&rft)).await.unwrap());
    assert_eq!(s.lock().unwrap().revoked, vec!["act.9"]);
    // An unknown client is a configuration problem, never a reconnect.
    let base = s.lock().unwrap().base.clone();
    let bad = TiktokPublisher::new(
        SocialConfig {
            tiktok_base_url: base,
            ..SocialConfig::default()
        },
        std::sync::Arc::new(viral_embedded::EnvSecrets::from_map(Default::default())),
    )
    .unwrap();
    assert!(matches!(
        bad.refresh(&viral_core::ports::SecretString::new("x"))
            .await,
        Err(PublishError::NotConfigured(_))
    ));
}

#[test]
fn files_are_chunked_by_tiktoks_rules() {
    use viral_social::tiktok::chunking;
    assert_eq!(chunking(4096), (4096, 1));
    assert_eq!(chunking(64 * 1024 * 1024), (64 * 1024 * 1024, 1));
    let big = 100 * 1024 * 1024;
    let (size, count) = chunking(big);
    assert_eq!((size, count), (32 * 1024 * 1024, 3));
    // The last chunk holds the remainder and stays within 128 MB.
    assert!(big - size * (count - 1) <= 128 * 1024 * 1024);
}

#[tokio::test]
async fn a_connect_without_the_right_to_post_is_refused() {
    let (s, w) = world(&["SELF_ONLY"]).await;
    s.lock().unwrap().narrow_scopes = true;
    let p = w.publishers.get(Platform::Tiktok).unwrap();
    let url = viral_core::service::connect::start(&w.connector(), &*p, &w.tenant, None, None)
        .await
        .unwrap();
    let state = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let refused =
        viral_core::service::connect::finish(&w.connector(), &*p, "code-5", &state, None).await;
    let Err(viral_core::Error::Forbidden { code, message }) = refused else {
        panic!("accepted without video.publish");
    };
    assert_eq!(code, "scope_not_granted");
    assert!(message.contains("video.publish"), "{message}");
    assert!(
        accounts::list(&*w.store, &w.tenant)
            .await
            .unwrap()
            .is_empty()
    );
}
