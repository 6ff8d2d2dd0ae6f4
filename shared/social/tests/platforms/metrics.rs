//! Each platform's metrics call against a local server speaking its documented shapes:
//! TikTok's `video/query` (counts only, ≤ 20 ids, private posts absent), YouTube's
//! `videos.list` statistics (strings) plus an Analytics report once its lag has passed, and
//! Instagram's Reels insights (missing metrics absent, not 0; "not enough viewers"; a deleted
//! media; rate limits).

use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;
use viral_core::Timestamp;
use viral_core::domain::account::{Account, AccountStatus, Platform, PlatformProfile};
use viral_core::domain::metrics::{MetricsTarget, Observed};
use viral_core::ports::{PublishError, Publisher, SecretString};
use viral_social::{InstagramPublisher, SocialConfig, TiktokPublisher, YoutubePublisher};

use crate::support::{secrets, serve};

const NOW: Timestamp = Timestamp(1_796_378_400_000);

type Seen = Arc<Mutex<Vec<String>>>;

fn account(platform: Platform) -> Account {
    Account {
        id: "acc_1".into(),
        tenant_id: "tn_1".into(),
        platform,
        profile: PlatformProfile {
            user_id: "u1".into(),
            display_name: "Creator".into(),
            avatar_url: None,
        },
        scopes: vec![],
        status: AccountStatus::Active,
        status_reason: None,
        access_expires_at: None,
        refresh_expires_at: None,
        access_token_sealed: None,
        refresh_token_sealed: None,
        created_at: NOW,
        updated_at: NOW,
        version: 1,
    }
}

fn target(id: &str, days_old: i64) -> MetricsTarget {
    MetricsTarget {
        platform_post_id: id.into(),
        published_at: Timestamp(NOW.0 - days_old * 86_400_000),
        duration_s: 15.0,
        features: vec![],
        trend_age_h: None,
    }
}

fn bearer_ok(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer user-token")
}

fn metrics_of(o: &Observed) -> &viral_core::domain::metrics::Metrics {
    match o {
        Observed::Metrics(m) => m,
        other => panic!("no metrics: {other:?}"),
    }
}

async fn tiktok_query(
    State(seen): State<Seen>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if !bearer_ok(&h) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"data": {}, "error": {"code": "access_token_invalid", "message": "bad token", "log_id": "l1"}}))).into_response();
    }
    let ids: Vec<String> = body["filters"]["video_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    seen.lock()
        .unwrap()
        .push(format!("{}|{}", q["fields"], ids.join(",")));
    if ids.iter().any(|i| i == "garbled") {
        return Json(json!({"data": {}, "error": {"code": "ok", "message": "", "log_id": "l4"}}))
            .into_response();
    }
    if ids.iter().any(|i| i == "busy") {
        return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "120")], Json(json!({"data": {}, "error": {"code": "rate_limit_exceeded", "message": "slow down", "log_id": "l2"}}))).into_response();
    }
    // The private one is not returned (TikTok shows public videos only).
    let videos: Vec<Value> = ids
        .iter()
        .filter(|i| i.as_str() != "private")
        .map(|i| json!({"id": i, "view_count": 1200, "like_count": 80, "comment_count": 6, "share_count": 9}))
        .collect();
    Json(json!({"data": {"videos": videos, "cursor": 0, "has_more": false}, "error": {"code": "ok", "message": "", "log_id": "l3"}})).into_response()
}

#[tokio::test]
async fn tiktok_counts_come_in_batches_and_a_private_post_is_gone() {
    let seen: Seen = Arc::default();
    let base = serve(
        Router::new()
            .route("/v2/video/query/", post(tiktok_query))
            .with_state(seen.clone()),
    )
    .await;
    let config = SocialConfig {
        tiktok_base_url: base,
        ..SocialConfig::default()
    };
    let tiktok = TiktokPublisher::new(config, secrets()).unwrap();
    assert_eq!(tiktok.metrics_batch(), 20);
    let access = SecretString::new("user-token");
    let got = tiktok
        .metrics(
            &access,
            &account(Platform::Tiktok),
            &[target("7301", 1), target("private", 1)],
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(
        got.len(),
        1,
        "the collector records what is not named as gone"
    );
    let m = metrics_of(&got[0].1);
    assert_eq!(
        (m.views, m.likes, m.comments, m.shares),
        (Some(1200), Some(80), Some(6), Some(9))
    );
    assert_eq!((m.saves, m.avg_view_s, m.reach), (None, None, None));
    assert_eq!(m.raw["view_count"], 1200.0);
    assert_eq!(
        seen.lock().unwrap()[0],
        "id,view_count,like_count,comment_count,share_count|7301,private"
    );
    // The platform's Retry-After is the wait the collector reschedules the account by.
    let limited = tiktok
        .metrics(
            &access,
            &account(Platform::Tiktok),
            &[target("busy", 1)],
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            limited,
            PublishError::Limited {
                retry_after_secs: 120,
                ..
            }
        ),
        "{limited:?}"
    );
    // A reply without the list says nothing about which posts are gone.
    let garbled = tiktok
        .metrics(
            &access,
            &account(Platform::Tiktok),
            &[target("garbled", 1)],
            NOW,
        )
        .await
        .unwrap_err();
    assert!(matches!(garbled, PublishError::Transient(_)), "{garbled:?}");
    let refused = tiktok
        .metrics(
            &SecretString::new("stale"),
            &account(Platform::Tiktok),
            &[target("7301", 1)],
            NOW,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(refused, PublishError::Unauthorized(_)),
        "{refused:?}"
    );
}

async fn yt_videos(
    State(seen): State<Seen>,
    Query(q): Query<HashMap<String, String>>,
    h: HeaderMap,
) -> Response {
    assert!(bearer_ok(&h));
    seen.lock()
        .unwrap()
        .push(format!("videos {} {}", q["part"], q["id"]));
    // `deleted` is not returned; counts are strings, as YouTube sends them.
    let items: Vec<Value> = q["id"]
        .split(',')
        .filter(|i| *i != "deleted")
        .map(|i| json!({"kind": "youtube#video", "id": i, "statistics": {"viewCount": "5400", "likeCount": "310", "favoriteCount": "0", "commentCount": "12"}}))
        .collect();
    Json(json!({"kind": "youtube#videoListResponse", "items": items})).into_response()
}

async fn yt_reports(
    State(seen): State<Seen>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    seen.lock().unwrap().push(format!(
        "report {} {} {} {} {}",
        q["ids"], q["startDate"], q["endDate"], q["dimensions"], q["filters"]
    ));
    Json(json!({
        "kind": "youtubeAnalytics#resultTable",
        "columnHeaders": [
            {"name": "video", "columnType": "DIMENSION", "dataType": "STRING"},
            {"name": "averageViewDuration", "columnType": "METRIC", "dataType": "INTEGER"},
            {"name": "averageViewPercentage", "columnType": "METRIC", "dataType": "FLOAT"},
            {"name": "shares", "columnType": "METRIC", "dataType": "INTEGER"},
            {"name": "subscribersGained", "columnType": "METRIC", "dataType": "INTEGER"},
            {"name": "subscribersLost", "columnType": "METRIC", "dataType": "INTEGER"}
        ],
        "rows": [["old", 11, 73.5, 21, 8, 1]]
    }))
    .into_response()
}

#[tokio::test]
async fn youtube_counts_are_fresh_and_watch_time_comes_once_analytics_has_the_days() {
    let seen: Seen = Arc::default();
    let base = serve(
        Router::new()
            .route("/youtube/v3/videos", get(yt_videos))
            .route("/v2/reports", get(yt_reports))
            .with_state(seen.clone()),
    )
    .await;
    let config = SocialConfig {
        youtube_api_base_url: base.clone(),
        youtube_analytics_base_url: base,
        ..SocialConfig::default()
    };
    let yt = YoutubePublisher::new(config, secrets()).unwrap();
    let got = yt
        .metrics(
            &SecretString::new("user-token"),
            &account(Platform::Youtube),
            &[target("old", 5), target("new", 1), target("deleted", 5)],
            NOW,
        )
        .await
        .unwrap();
    let by: HashMap<_, _> = got.iter().map(|(k, v)| (k.as_str(), v)).collect();
    assert!(!by.contains_key("deleted"));
    let fresh = metrics_of(by["new"]);
    assert_eq!(
        (fresh.views, fresh.likes, fresh.comments),
        (Some(5400), Some(310), Some(12))
    );
    assert_eq!(
        (fresh.avg_view_s, fresh.shares),
        (None, None),
        "too young for Analytics"
    );
    let old = metrics_of(by["old"]);
    assert_eq!(old.avg_view_s, Some(11.0));
    assert_eq!(old.completion, Some(0.735));
    assert_eq!((old.shares, old.followers_gained), (Some(21), Some(7)));
    assert_eq!(old.raw["viewCount"], 5400.0);
    assert_eq!(old.raw["averageViewPercentage"], 73.5);
    let calls = seen.lock().unwrap().clone();
    assert_eq!(calls[0], "videos statistics old,new,deleted");
    // Only the posts older than three days, up to the last fully processed day.
    assert_eq!(
        calls[1],
        "report channel==MINE 2026-11-29 2026-12-01 video video==old,deleted"
    );
}

async fn ig_insights(Path(id): Path<String>, Query(q): Query<HashMap<String, String>>) -> Response {
    let err = |status: StatusCode, code: i64, sub: i64, message: &str| {
        (
            status,
            Json(json!({"error": {"message": message, "type": "OAuthException", "code": code, "error_subcode": sub, "fbtrace_id": "t1"}})),
        )
            .into_response()
    };
    assert!(q["metric"].contains("ig_reels_avg_watch_time"));
    match id.as_str() {
        "few" => err(StatusCode::BAD_REQUEST, 10, 0, "(#10) Not enough viewers for the media to show insights"),
        "gone" => err(StatusCode::BAD_REQUEST, 100, 33, "Unsupported get request. Object with ID 'gone' does not exist"),
        "busy" => err(StatusCode::FORBIDDEN, 4, 0, "Application request limit reached"),
        // Meta leaves out what it has no data for: no `shares` here.
        _ => Json(json!({"data": [
            {"name": "views", "period": "lifetime", "values": [{"value": 900}], "id": format!("{id}/insights/views/lifetime")},
            {"name": "reach", "period": "lifetime", "values": [{"value": 700}]},
            {"name": "likes", "period": "lifetime", "values": [{"value": 60}]},
            {"name": "comments", "period": "lifetime", "values": [{"value": 4}]},
            {"name": "saved", "period": "lifetime", "values": [{"value": 15}]},
            {"name": "ig_reels_avg_watch_time", "period": "lifetime", "values": [{"value": 8200}]}
        ]}))
        .into_response(),
    }
}

#[tokio::test]
async fn instagram_insights_keep_missing_metrics_missing_and_tell_gone_from_not_yet() {
    let base = serve(Router::new().route("/v23.0/{id}/insights", get(ig_insights))).await;
    let config = SocialConfig {
        instagram_graph_base_url: base,
        ..SocialConfig::default()
    };
    let ig = InstagramPublisher::new(config, secrets()).unwrap();
    let access = SecretString::new("user-token");
    let acc = account(Platform::Instagram);
    let got = ig
        .metrics(
            &access,
            &acc,
            &[target("m1", 2), target("few", 0), target("gone", 3)],
            NOW,
        )
        .await
        .unwrap();
    let m = metrics_of(&got[0].1);
    assert_eq!(
        (m.views, m.reach, m.likes, m.saves),
        (Some(900), Some(700), Some(60), Some(15))
    );
    assert_eq!(m.shares, None, "missing, not 0");
    assert_eq!(m.avg_view_s, Some(8.2), "milliseconds to seconds");
    assert!(matches!(got[1].1, Observed::Unavailable(_)));
    assert!(matches!(got[2].1, Observed::Gone(_)));
    let limited = ig
        .metrics(&access, &acc, &[target("busy", 1)], NOW)
        .await
        .unwrap_err();
    assert!(
        matches!(limited, PublishError::Limited { .. }),
        "{limited:?}"
    );
}
