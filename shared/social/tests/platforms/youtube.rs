//! YouTube against a local server speaking Google OAuth and the Data API's resumable upload as
//! documented: the code exchange (a refresh token at first consent only), the upload session,
//! a transfer broken half-way and resumed from the server's `308 Range`, processing, the
//! project's `quotaExceeded`, the channel's `uploadLimitExceeded`, the unverified project's
//! private lock, and `invalid_grant`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use viral_core::domain::account::{AccountStatus, Platform};
use viral_core::domain::post::PostStatus;
use viral_core::service::publishing::Next;
use viral_core::service::{accounts, posts};
use viral_social::{SocialConfig, YoutubePublisher};

use crate::support::{PUBLIC_URL, World, secrets, serve};

#[derive(Default)]
struct Google {
    base: String,
    access: String,
    refreshes: u32,
    dead_refresh: bool,
    sessions: Vec<(Value, usize)>,
    received: Vec<u8>,
    expected: usize,
    break_first_transfer: bool,
    puts: Vec<String>,
    quota_exceeded: bool,
    upload_limit: bool,
    /// An unverified project: every upload is locked private.
    unverified: bool,
    reads: u32,
}

type S = Arc<Mutex<Google>>;

fn gerror(status: StatusCode, reason: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"code": status.as_u16(), "message": message, "errors": [{"message": message, "domain": "youtube.video", "reason": reason}]}})),
    )
        .into_response()
}

fn bearer(s: &S, h: &HeaderMap) -> Option<Response> {
    let p = s.lock().unwrap();
    let t = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if t == p.access {
        None
    } else {
        Some(gerror(
            StatusCode::UNAUTHORIZED,
            "authError",
            "Invalid Credentials",
        ))
    }
}

async fn token(State(s): State<S>, body: String) -> Response {
    let f: std::collections::HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(f["client_id"], "g-client-id");
    assert_eq!(f["client_secret"], "g-client-secret");
    let mut p = s.lock().unwrap();
    match f["grant_type"].as_str() {
        "authorization_code" => {
            assert_eq!(
                f["redirect_uri"],
                format!("{PUBLIC_URL}/oauth/youtube/callback")
            );
            assert!(!f["code_verifier"].is_empty());
            p.access = "ya29.first".into();
            axum::Json(json!({
                "access_token": p.access, "expires_in": 3599, "refresh_token": "1//0refresh",
                "scope": "https://www.googleapis.com/auth/youtube.upload https://www.googleapis.com/auth/youtube.readonly https://www.googleapis.com/auth/yt-analytics.readonly",
                "token_type": "Bearer"
            }))
            .into_response()
        }
        "refresh_token" => {
            if p.dead_refresh || f["refresh_token"] != "1//0refresh" {
                return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}))).into_response();
            }
            p.refreshes += 1;
            p.access = format!("ya29.r{}", p.refreshes);
            // No refresh_token on a refresh: the first one stays.
            axum::Json(json!({"access_token": p.access, "expires_in": 3599, "scope": "https://www.googleapis.com/auth/youtube.upload", "token_type": "Bearer"})).into_response()
        }
        g => panic!("grant {g}"),
    }
}

async fn channels(State(s): State<S>, h: HeaderMap) -> Response {
    if let Some(r) = bearer(&s, &h) {
        return r;
    }
    axum::Json(json!({"kind": "youtube#channelListResponse", "items": [{"kind": "youtube#channel", "id": "UCocto123", "snippet": {"title": "Octo Facts", "thumbnails": {"default": {"url": "https://yt3.ggpht.com/octo=s88"}}}}]})).into_response()
}

async fn start(State(s): State<S>, h: HeaderMap, body: String) -> Response {
    if let Some(r) = bearer(&s, &h) {
        return r;
    }
    let mut p = s.lock().unwrap();
    if p.quota_exceeded {
        return gerror(
            StatusCode::FORBIDDEN,
            "quotaExceeded",
            "The request cannot be completed because you have exceeded your quota.",
        );
    }
    if p.upload_limit {
        return gerror(
            StatusCode::BAD_REQUEST,
            "uploadLimitExceeded",
            "The user has exceeded the number of videos they may upload.",
        );
    }
    assert_eq!(h["x-upload-content-type"], "video/mp4");
    let size: usize = h["x-upload-content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    p.sessions
        .push((serde_json::from_str(&body).unwrap(), size));
    p.expected = size;
    p.received.clear();
    let location = format!(
        "{}/upload/youtube/v3/videos?uploadType=resumable&upload_id=xa298sd_f",
        p.base
    );
    let mut r = StatusCode::OK.into_response();
    r.headers_mut()
        .insert("location", HeaderValue::from_str(&location).unwrap());
    r
}

fn video(_: &Google) -> Response {
    (StatusCode::OK, axum::Json(json!({"kind": "youtube#video", "id": "dQw4w9WgXcQ", "status": {"uploadStatus": "uploaded", "privacyStatus": "private"}}))).into_response()
}

async fn transfer(State(s): State<S>, h: HeaderMap, body: axum::body::Bytes) -> Response {
    if let Some(r) = bearer(&s, &h) {
        return r;
    }
    let mut p = s.lock().unwrap();
    let range = h["content-range"].to_str().unwrap().to_owned();
    p.puts.push(range.clone());
    let total = p.expected;
    if range == format!("bytes */{total}") {
        if p.received.len() == total {
            return video(&p);
        }
        let mut r = Response::new(axum::body::Body::empty());
        *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
        if !p.received.is_empty() {
            let v = format!("bytes=0-{}", p.received.len() - 1);
            r.headers_mut()
                .insert("range", HeaderValue::from_str(&v).unwrap());
        }
        return r;
    }
    let from: usize = range
        .strip_prefix("bytes ")
        .and_then(|r| r.split('-').next())
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        from,
        p.received.len(),
        "the client resumes exactly where the server is"
    );
    if p.break_first_transfer {
        // The connection broke half-way: the server kept what arrived.
        p.break_first_transfer = false;
        let half = body.len() / 2;
        p.received.extend_from_slice(&body[..half]);
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    p.received.extend_from_slice(&body);
    if p.received.len() == total {
        video(&p)
    } else {
        StatusCode::PERMANENT_REDIRECT.into_response()
    }
}

async fn videos(State(s): State<S>, h: HeaderMap) -> Response {
    if let Some(r) = bearer(&s, &h) {
        return r;
    }
    let mut p = s.lock().unwrap();
    p.reads += 1;
    let asked = p
        .sessions
        .last()
        .map(|(m, _)| m["status"]["privacyStatus"].clone())
        .unwrap_or_default();
    let privacy = if p.unverified {
        json!("private")
    } else {
        asked
    };
    let (upload, processing) = if p.reads == 1 {
        ("uploaded", "processing")
    } else {
        ("processed", "succeeded")
    };
    axum::Json(json!({"items": [{"id": "dQw4w9WgXcQ", "status": {"uploadStatus": upload, "privacyStatus": privacy}, "processingDetails": {"processingStatus": processing}}]})).into_response()
}

async fn world() -> (S, World) {
    let s: S = Arc::new(Mutex::new(Google::default()));
    let router = Router::new()
        .route("/token", post(token))
        .route("/youtube/v3/channels", get(channels))
        .route("/youtube/v3/videos", get(videos))
        .route("/upload/youtube/v3/videos", post(start).put(transfer))
        .with_state(s.clone());
    let base = serve(router).await;
    s.lock().unwrap().base = base.clone();
    let config = SocialConfig {
        google_oauth_base_url: base.clone(),
        google_authorize_url: format!("{base}/o/oauth2/v2/auth"),
        youtube_api_base_url: base.clone(),
        youtube_upload_base_url: base,
        ..SocialConfig::default()
    };
    let publisher = YoutubePublisher::new(config, secrets()).unwrap();
    (s, World::new(Arc::new(publisher)).await)
}

fn target(acc: &str) -> posts::Target {
    posts::Target {
        account_id: acc.to_owned(),
        title: Some("Three <hearts> in one octopus".into()),
        caption: Some("Octopuses have three hearts.".into()),
        hashtags: Some(vec!["shorts".into(), "octopus".into()]),
        privacy: Some("public".into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_broken_upload_resumes_where_the_server_is_and_the_metadata_is_deliberate() {
    let (s, w) = world().await;
    let (acc, url) = w.connect(Platform::Youtube, "4/0code").await;
    let q: std::collections::HashMap<_, _> = reqwest::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(
        (q["access_type"].as_str(), q["prompt"].as_str()),
        ("offline", "consent")
    );
    let account = accounts::get(&*w.store, &w.tenant, &acc).await.unwrap();
    assert_eq!(account.profile.user_id, "UCocto123");
    s.lock().unwrap().break_first_transfer = true;
    let job = w.video(100_000).await;
    let post = w.post(&job, target(&acc)).await;
    assert_eq!(w.run(&post).await, Next::Done);
    let p = w.get(&post).await;
    assert_eq!(p.status, PostStatus::Published, "{:?}", p.error);
    assert_eq!(
        p.url.as_deref(),
        Some("https://www.youtube.com/shorts/dQw4w9WgXcQ")
    );
    assert_eq!(p.privacy_applied.as_deref(), Some("public"));
    let st = s.lock().unwrap();
    assert_eq!(
        st.sessions.len(),
        1,
        "one upload session: never started over"
    );
    assert_eq!(
        st.puts,
        vec![
            "bytes */100000".to_owned(),
            "bytes 0-99999/100000".to_owned(),
            "bytes */100000".to_owned(),
            "bytes 50000-99999/100000".to_owned()
        ]
    );
    assert_eq!(st.received.len(), 100_000);
    let (meta, size) = &st.sessions[0];
    assert_eq!(*size, 100_000);
    assert_eq!(meta["snippet"]["title"], "Three hearts in one octopus");
    assert_eq!(meta["snippet"]["categoryId"], "22");
    assert_eq!(meta["snippet"]["tags"], json!(["shorts", "octopus"]));
    assert_eq!(meta["status"]["privacyStatus"], "public");
    assert_eq!(meta["status"]["selfDeclaredMadeForKids"], false);
    assert_eq!(meta["status"]["containsSyntheticMedia"], true);
}

#[tokio::test]
async fn an_unverified_projects_upload_is_recorded_as_the_private_video_it_is() {
    let (s, w) = world().await;
    let (acc, _) = w.connect(Platform::Youtube, "4/0code").await;
    s.lock().unwrap().unverified = true;
    let job = w.video(2048).await;
    let post = w.post(&job, target(&acc)).await;
    assert_eq!(w.run(&post).await, Next::Done);
    let p = w.get(&post).await;
    assert_eq!(p.privacy_applied.as_deref(), Some("private"));
    assert!(
        p.warnings
            .iter()
            .any(|x| x.contains("asked for public but the platform applied private"))
    );
}

#[tokio::test]
async fn quotas_reschedule_and_an_expired_grant_asks_for_a_reconnect() {
    let (s, w) = world().await;
    let (acc, _) = w.connect(Platform::Youtube, "4/0code").await;
    let job = w.video(2048).await;
    s.lock().unwrap().quota_exceeded = true;
    let post = w.post(&job, target(&acc)).await;
    assert!(matches!(w.run(&post).await, Next::Wait(_)));
    let p = w.get(&post).await;
    assert_eq!(p.status, PostStatus::Scheduled);
    assert!(p.warnings.iter().any(|x| x.contains("quotaExceeded")));
    {
        let mut g = s.lock().unwrap();
        g.quota_exceeded = false;
        g.upload_limit = true;
    }
    let post = w.post(&job, target(&acc)).await;
    assert!(matches!(w.run(&post).await, Next::Wait(_)));
    assert!(
        w.get(&post)
            .await
            .warnings
            .iter()
            .any(|x| x.contains("uploadLimitExceeded"))
    );
    assert!(
        s.lock().unwrap().sessions.is_empty(),
        "nothing was uploaded"
    );
    // The access token expired and the refresh token died (a "testing" app's 7 days).
    {
        let mut g = s.lock().unwrap();
        g.upload_limit = false;
        g.access = "ya29.rotated-elsewhere".into();
        g.dead_refresh = true;
    }
    let post = w.post(&job, target(&acc)).await;
    assert_eq!(w.run(&post).await, Next::Done);
    assert_eq!(
        w.get(&post).await.error.unwrap().code,
        "account_needs_reconnect"
    );
    let account = accounts::get(&*w.store, &w.tenant, &acc).await.unwrap();
    assert_eq!(account.status, AccountStatus::NeedsReconnect);
    assert!(account.status_reason.unwrap().contains("invalid_grant"));
}

#[tokio::test]
async fn a_refresh_keeps_the_refresh_token_google_gave_at_first_consent() {
    let (s, w) = world().await;
    let (acc, _) = w.connect(Platform::Youtube, "4/0code").await;
    // The access token died early: the refusal refreshes it once.
    s.lock().unwrap().access = "ya29.other".into();
    let account = accounts::get(&*w.store, &w.tenant, &acc).await.unwrap();
    let publisher = w.publishers.get(Platform::Youtube).unwrap();
    let (after, access) =
        accounts::access_token(&*w.store, &*w.vault, &*w.clock, &*publisher, &account, true)
            .await
            .unwrap();
    assert_eq!(access.expose(), "ya29.r1");
    let open = accounts::open_tokens(&*w.vault, &after).await.unwrap();
    assert_eq!(open.refresh.unwrap().expose(), "1//0refresh");
}
