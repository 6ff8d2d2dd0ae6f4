//! The YouTube and GNews clients against local servers speaking their documented shapes:
//! paging, statistics as strings, velocity, categories, quota and key errors, retries,
//! truncated, malformed and HTML bodies — and the key never shows in an error.

mod support;

use std::sync::Arc;

use serde_json::{Value, json};
use support::{Reply, Scripted, fast_retry, truncating_server};
use viral_core::clock::{ManualClock, Timestamp};
use viral_core::ports::{SourceError, TrendQuery, TrendSource};
use viral_providers::{Credential, GNewsTrends, YouTubeTrends};

const KEY: &str = "AIza_test_key_9c1d";

fn now() -> Timestamp {
    Timestamp::parse_rfc3339("2026-11-25T12:00:00Z").unwrap()
}

fn youtube(base: &str) -> YouTubeTrends {
    YouTubeTrends::new(
        base,
        Credential::fixed(KEY),
        Arc::new(ManualClock::new(now())),
        fast_retry(),
    )
    .unwrap()
}

fn video(id: &str, title: &str, published: &str, views: &str, category: &str) -> Value {
    json!({
        "kind": "youtube#video",
        "id": id,
        "snippet": {
            "publishedAt": published, "channelId": "UC1", "title": title,
            "description": "…", "channelTitle": "Channel", "categoryId": category,
            "tags": ["Octopus", "Sleep"]
        },
        "statistics": {"viewCount": views, "likeCount": "10", "commentCount": "2"},
        "contentDetails": {"duration": "PT1M"}
    })
}

fn q(region: Option<&str>, category: Option<&str>, max: usize) -> TrendQuery {
    TrendQuery {
        region: region.map(str::to_owned),
        category: category.map(str::to_owned),
        max,
    }
}

fn quota_error() -> Value {
    json!({"error": {"code": 403, "message": "The request cannot be completed because you have exceeded your quota.",
        "errors": [{"message": "…", "domain": "youtube.quota", "reason": "quotaExceeded"}]}})
}

#[tokio::test]
async fn the_chart_is_paged_normalised_and_ordered_by_velocity() {
    let page1: Vec<Value> = (0..50)
        .map(|i| {
            video(
                &format!("vid{i:08}"),
                &format!("Video {i}"),
                "2026-11-25T02:00:00Z",
                &format!("{}", 1000 * (i + 1)),
                "28",
            )
        })
        .collect();
    let mut page2 = vec![
        // Ten hours old with 5,000,000 views: 500,000 an hour, the fastest.
        video(
            "fastest_01",
            "Octopus\u{0007}  dreams",
            "2026-11-25T02:00:00Z",
            "5000000",
            "28",
        ),
        json!({"id": "no_snippet_1"}),
        video("bad id!", "Bad id", "2026-11-25T02:00:00Z", "1", "28"),
        video(
            "nostats_01",
            "No views",
            "2026-11-25T02:00:00Z",
            "not a number",
            "28",
        ),
    ];
    for i in 0..20 {
        page2.push(video(
            &format!("more{i:06}"),
            "More",
            "2026-11-24T12:00:00Z",
            "10",
            "28",
        ));
    }
    let server = Scripted::start(vec![
        Reply::json(
            200,
            json!({"kind": "youtube#videoListResponse", "nextPageToken": "CDIQAA",
            "pageInfo": {"totalResults": 200, "resultsPerPage": 50}, "items": page1}),
        ),
        Reply::json(
            200,
            json!({"items": page2, "pageInfo": {"totalResults": 200}}),
        ),
    ])
    .await;
    let trends = youtube(&server.base)
        .trends(&q(Some("GB"), Some("science"), 60))
        .await
        .unwrap();
    assert_eq!(trends.len(), 60);
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "60 trends take two pages");
    for s in &seen {
        assert_eq!(s.path, "/videos");
        assert_eq!(s.param("chart"), Some("mostPopular"));
        assert_eq!(s.param("part"), Some("snippet,statistics"));
        assert_eq!(s.param("regionCode"), Some("GB"));
        assert_eq!(s.param("videoCategoryId"), Some("28"));
        assert_eq!(s.param("key"), Some(KEY));
    }
    assert_eq!(seen[0].param("maxResults"), Some("50"));
    assert_eq!(seen[0].param("pageToken"), None);
    assert_eq!(seen[1].param("maxResults"), Some("10"));
    assert_eq!(seen[1].param("pageToken"), Some("CDIQAA"));
    let top = &trends[0];
    assert_eq!(top.title, "Octopus dreams");
    assert_eq!(top.source, "youtube");
    assert_eq!(top.category, "science");
    assert_eq!(top.views_per_hour, Some(500_000.0));
    assert_eq!(
        top.url.as_deref(),
        Some("https://www.youtube.com/watch?v=fastest_01")
    );
    assert_eq!(top.keywords, ["octopus", "sleep"]);
    assert_eq!(top.published_at.as_deref(), Some("2026-11-25T02:00:00Z"));
    assert!(trends.iter().all(|t| t.title != "Bad id"));
    let no_views = trends.iter().find(|t| t.title == "No views").unwrap();
    assert_eq!(no_views.views_per_hour, None);
    assert!(
        trends
            .windows(2)
            .all(|w| { w[0].views_per_hour.unwrap_or(0.0) >= w[1].views_per_hour.unwrap_or(0.0) })
    );
}

#[tokio::test]
async fn a_category_youtube_lacks_reads_the_whole_chart_labelled_by_its_own_categories() {
    let server = Scripted::start(vec![Reply::json(
        200,
        json!({"items": [video("abcdefgh", "Goal of the season", "2026-11-25T10:00:00Z", "100", "17")]}),
    )])
    .await;
    let trends = youtube(&server.base)
        .trends(&q(None, Some("food"), 5))
        .await
        .unwrap();
    let s = &server.seen()[0];
    assert_eq!(s.param("videoCategoryId"), None);
    assert_eq!(s.param("regionCode"), Some("US"));
    assert_eq!(trends[0].category, "sports");
}

#[tokio::test]
async fn youtube_failures_are_named_and_never_show_the_key() {
    let server = Scripted::start(vec![Reply::json(403, quota_error())]).await;
    let yt = youtube(&server.base);
    let check = |e: &SourceError| assert!(!e.to_string().contains(KEY), "key leaked: {e}");

    let e = yt.trends(&q(None, None, 10)).await.unwrap_err();
    check(&e);
    assert!(
        matches!(e, SourceError::QuotaExhausted(ref m) if m.contains("Pacific")),
        "{e:?}"
    );
    assert_eq!(server.hits(), 1, "quota errors are not retried");

    server.script(vec![Reply::json(
        400,
        json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
        "errors": [{"message": "API key not valid.", "domain": "global", "reason": "badRequest"}],
        "status": "INVALID_ARGUMENT", "details": [{"reason": "API_KEY_INVALID"}]}}),
    )]);
    let e = yt.trends(&q(None, None, 10)).await.unwrap_err();
    check(&e);
    assert!(matches!(e, SourceError::Credentials(_)), "{e:?}");

    server.script(vec![Reply::json(
        400,
        json!({"error": {"code": 400, "message": "Bad key",
        "errors": [{"reason": "keyInvalid"}]}}),
    )]);
    let e = yt.trends(&q(None, None, 10)).await.unwrap_err();
    assert!(matches!(e, SourceError::Credentials(_)), "{e:?}");

    server.script(vec![Reply::json(
        400,
        json!({"error": {"code": 400, "message": "Invalid value for regionCode",
        "errors": [{"reason": "invalidRegionCode"}]}}),
    )]);
    let e = yt.trends(&q(None, None, 10)).await.unwrap_err();
    assert!(
        matches!(e, SourceError::Permanent(ref m) if m.contains("regionCode")),
        "{e:?}"
    );

    server.script(vec![Reply::json(404, json!({"error": {"code": 404, "message": "The requested video chart is not supported or is not available.",
        "errors": [{"reason": "videoChartNotFound"}]}}))]);
    let e = yt
        .trends(&q(Some("KP"), Some("music"), 10))
        .await
        .unwrap_err();
    assert!(
        matches!(e, SourceError::Permanent(ref m) if m.contains("KP")),
        "{e:?}"
    );

    server.script(vec![Reply::raw(503, "text/html", "<html>busy</html>")]);
    let e = yt.trends(&q(None, None, 10)).await.unwrap_err();
    check(&e);
    assert!(matches!(e, SourceError::Transient(_)), "{e:?}");
    assert_eq!(server.hits(), 3, "5xx is retried");

    server.script(vec![
        Reply::json(429, json!({"error": {"code": 429, "message": "slow down"}}))
            .with_header("retry-after", "0"),
        Reply::json(
            200,
            json!({"items": [video("abcdefgh", "Back", "2026-11-25T10:00:00Z", "1", "1")]}),
        ),
    ]);
    assert_eq!(
        yt.trends(&q(None, None, 10)).await.unwrap()[0].title,
        "Back"
    );

    for body in [
        "<!DOCTYPE html><html>proxy error</html>",
        "{\"items\": [",
        "[1, 2]",
    ] {
        server.script(vec![Reply::raw(200, "application/json", body)]);
        let e = yt.trends(&q(None, None, 10)).await.unwrap_err();
        check(&e);
        assert!(
            matches!(e, SourceError::Transient(ref m) if m.contains("unexpected")),
            "{body}: {e:?}"
        );
    }

    let cut = youtube(&truncating_server("{\"items\": [{\"id\": \"abc").await);
    let e = cut.trends(&q(None, None, 10)).await.unwrap_err();
    check(&e);
    assert!(matches!(e, SourceError::Transient(_)), "{e:?}");
}

#[tokio::test]
async fn a_missing_key_is_a_credentials_error_before_any_call() {
    let server = Scripted::start(vec![Reply::json(200, json!({"items": []}))]).await;
    let secrets = Arc::new(viral_embedded::EnvSecrets::from_map(Default::default()));
    let yt = YouTubeTrends::new(
        &server.base,
        Credential::named(secrets, "YOUTUBE_API_KEY"),
        Arc::new(ManualClock::new(now())),
        fast_retry(),
    )
    .unwrap();
    let e = yt.trends(&q(None, None, 10)).await.unwrap_err();
    assert!(
        matches!(e, SourceError::Credentials(ref m) if m.contains("YOUTUBE_API_KEY")),
        "{e:?}"
    );
    assert_eq!(server.hits(), 0);
}

fn gnews(base: &str) -> GNewsTrends {
    GNewsTrends::new(base, Credential::fixed(KEY), "en", fast_retry()).unwrap()
}

fn articles() -> Value {
    json!({"totalArticles": 2, "articles": [
        {"title": "Chip makers race to 2 nm", "description": "…", "content": "… [1234 chars]",
         "url": "https://news.example/chips", "image": "https://news.example/i.jpg",
         "publishedAt": "2026-11-25T09:30:00Z", "source": {"name": "Example", "url": "https://news.example"}},
        {"title": "Link we refuse", "url": "javascript:alert(1)", "publishedAt": "yesterday"},
        {"description": "no title"}
    ]})
}

#[tokio::test]
async fn gnews_headlines_and_search_are_normalised() {
    let server = Scripted::start(vec![Reply::json(200, articles())]).await;
    let g = gnews(&server.base);
    let trends = g.trends(&q(Some("US"), Some("tech"), 10)).await.unwrap();
    let s = &server.seen()[0];
    assert_eq!(s.path, "/top-headlines");
    assert_eq!(s.param("category"), Some("technology"));
    assert_eq!(s.param("country"), Some("us"));
    assert_eq!(s.param("lang"), Some("en"));
    assert_eq!(s.param("max"), Some("10"));
    assert_eq!(s.param("apikey"), Some(KEY));
    assert_eq!(trends.len(), 2);
    assert_eq!(trends[0].title, "Chip makers race to 2 nm");
    assert_eq!(trends[0].url.as_deref(), Some("https://news.example/chips"));
    assert_eq!(trends[0].category, "tech");
    assert_eq!(trends[0].source, "gnews");
    assert_eq!(
        trends[0].published_at.as_deref(),
        Some("2026-11-25T09:30:00Z")
    );
    assert_eq!(trends[1].url, None, "a javascript: link is dropped");
    assert_eq!(trends[1].published_at, None);

    server.script(vec![Reply::json(200, articles())]);
    g.trends(&q(None, Some("food"), 10)).await.unwrap();
    let s = &server.seen()[0];
    assert_eq!(s.path, "/search");
    assert_eq!(s.param("q"), Some("food"));
    assert_eq!(s.param("country"), None);
}

#[tokio::test]
async fn gnews_failures_are_named_and_never_show_the_key() {
    let server = Scripted::start(vec![Reply::json(
        401,
        json!({"errors": ["You did not provide an API key."]}),
    )])
    .await;
    let g = gnews(&server.base);
    let e = g.trends(&q(None, None, 10)).await.unwrap_err();
    assert!(matches!(e, SourceError::Credentials(_)), "{e:?}");

    server.script(vec![Reply::json(403, json!({"errors": ["You have reached your request limit for today, the next reset will be tomorrow at midnight UTC."]}))]);
    let e = g.trends(&q(None, None, 10)).await.unwrap_err();
    assert!(
        matches!(e, SourceError::QuotaExhausted(ref m) if m.contains("00:00 UTC")),
        "{e:?}"
    );
    assert_eq!(server.hits(), 1);

    server.script(vec![Reply::json(
        429,
        json!({"errors": ["Too many requests"]}),
    )]);
    let e = g.trends(&q(None, None, 10)).await.unwrap_err();
    assert!(matches!(e, SourceError::Transient(_)), "{e:?}");
    assert_eq!(server.hits(), 3, "429 is retried");

    server.script(vec![Reply::json(
        400,
        json!({"errors": {"q": "The query has a syntax error."}}),
    )]);
    let e = g.trends(&q(None, Some("a-b"), 10)).await.unwrap_err();
    assert!(
        matches!(e, SourceError::Permanent(ref m) if m.contains("syntax")),
        "{e:?}"
    );

    server.script(vec![Reply::raw(
        200,
        "text/html",
        "<html>maintenance</html>",
    )]);
    let e = g.trends(&q(None, None, 10)).await.unwrap_err();
    assert!(matches!(e, SourceError::Transient(_)), "{e:?}");

    let cut = gnews(&truncating_server("{\"articles\": [{\"title\": \"Half").await);
    let e = cut.trends(&q(None, None, 10)).await.unwrap_err();
    assert!(matches!(e, SourceError::Transient(_)), "{e:?}");
    assert!(!e.to_string().contains(KEY));
}
