//! YouTube Data API v3: `videos.list` with `chart=mostPopular` per region and category. One
//! quota unit per page (the chart is about 200 deep, 50 a page). Statistics come as strings;
//! velocity is views per hour since publication. Quota exhaustion (403 `quotaExceeded`) and a
//! refused key (400 `keyInvalid`, 403) are told apart from transient failures.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use viral_core::clock::{Clock, Timestamp};
use viral_core::domain::concept::{Trend, keywords};
use viral_core::ports::{ProviderError, SourceError, TrendQuery, TrendSource};

use super::{clean, web_url};
use crate::credential::Credential;
use crate::http::{Http, HttpFailure, RetryPolicy, parse_source_json};

pub const DEFAULT_BASE_URL: &str = "https://www.googleapis.com/youtube/v3";
const NAME: &str = "YouTube";
/// Largest page the API serves.
const PAGE: usize = 50;
/// The chart is about 200 videos deep.
const MAX_PAGES: usize = 4;
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Our category names and YouTube's video category ids (the US list; most regions share it).
const CATEGORIES: [(&str, u32); 15] = [
    ("science", 28),
    ("tech", 28),
    ("sports", 17),
    ("travel", 19),
    ("comedy", 23),
    ("music", 10),
    ("gaming", 20),
    ("entertainment", 24),
    ("news", 25),
    ("howto", 26),
    ("education", 27),
    ("pets", 15),
    ("autos", 2),
    ("film", 1),
    ("people", 22),
];

/// YouTube's category id for one of ours, if it has one.
pub fn category_id(category: &str) -> Option<u32> {
    CATEGORIES
        .iter()
        .find(|(name, _)| *name == category)
        .map(|(_, id)| *id)
}

fn category_name(id: &str) -> String {
    id.parse::<u32>()
        .ok()
        .and_then(|id| CATEGORIES.iter().find(|(_, i)| *i == id))
        .map(|(name, _)| (*name).to_owned())
        .unwrap_or_else(|| "general".into())
}

pub struct YouTubeTrends {
    http: Http,
    base_url: String,
    key: Credential,
    clock: Arc<dyn Clock>,
}

impl YouTubeTrends {
    pub fn new(
        base_url: &str,
        key: Credential,
        clock: Arc<dyn Clock>,
        retry: RetryPolicy,
    ) -> Result<Self, ProviderError> {
        Ok(Self {
            http: Http::new(Duration::from_secs(10), retry)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            clock,
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default)]
    items: Vec<Video>,
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct Video {
    id: Option<String>,
    snippet: Option<Snippet>,
    statistics: Option<Statistics>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Snippet {
    title: Option<String>,
    published_at: Option<String>,
    category_id: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Statistics {
    /// A decimal string, as the API sends it.
    view_count: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    errors: Vec<ErrorReason>,
    #[serde(default)]
    message: String,
    /// Google's newer error details: `{"reason": "API_KEY_INVALID"}` for a bad key.
    #[serde(default)]
    details: Vec<ErrorReason>,
}

#[derive(Deserialize)]
struct ErrorReason {
    #[serde(default)]
    reason: String,
}

/// Names a failed call: quota, key, missing chart, or the default classes.
fn classify(f: HttpFailure, q: &TrendQuery) -> SourceError {
    let detail: Option<ErrorDetail> = serde_json::from_str::<ErrorBody>(&f.body)
        .ok()
        .map(|b| b.error);
    let reasons: Vec<&str> = detail
        .iter()
        .flat_map(|d| d.errors.iter().chain(&d.details).map(|e| e.reason.as_str()))
        .collect();
    let message = detail.as_ref().map(|d| d.message.as_str()).unwrap_or("");
    if reasons
        .iter()
        .any(|r| matches!(*r, "quotaExceeded" | "dailyLimitExceeded"))
    {
        return SourceError::QuotaExhausted(
            "YouTube's daily API quota is spent; it resets at midnight Pacific time".into(),
        );
    }
    if reasons.iter().any(|r| {
        matches!(
            *r,
            "keyInvalid" | "keyExpired" | "accessNotConfigured" | "API_KEY_INVALID"
        )
    }) {
        return SourceError::Credentials(format!("YouTube refused the API key: {message}"));
    }
    if f.status.is_some_and(|s| s.as_u16() == 404) {
        return SourceError::Permanent(format!(
            "YouTube has no trending chart for region {} and category {}",
            q.region.as_deref().unwrap_or("US"),
            q.category.as_deref().unwrap_or("(any)")
        ));
    }
    f.into_source_error(NAME)
}

impl YouTubeTrends {
    fn normalise(&self, v: Video, category: Option<&str>) -> Option<Trend> {
        let id = v.id.filter(|id| {
            (6..=20).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })?;
        let snippet = v.snippet?;
        let title = clean(snippet.title.as_deref()?, 300);
        if title.is_empty() {
            return None;
        }
        let published = snippet
            .published_at
            .as_deref()
            .and_then(Timestamp::parse_rfc3339);
        let views = v
            .statistics
            .and_then(|s| s.view_count)
            .and_then(|c| c.trim().parse::<u64>().ok());
        let views_per_hour = match (views, published) {
            (Some(views), Some(at)) => {
                let hours = (self.clock.now().millis() - at.millis()) as f64 / 3_600_000.0;
                Some((views as f64 / hours.max(1.0)).round())
            }
            _ => None,
        };
        let tags: Vec<String> = snippet
            .tags
            .iter()
            .map(|t| clean(t, 40).to_lowercase())
            .filter(|t| !t.is_empty())
            .take(4)
            .collect();
        Some(Trend {
            source: "youtube".into(),
            url: web_url(&format!("https://www.youtube.com/watch?v={id}")),
            published_at: published.map(Timestamp::rfc3339),
            category: match category {
                Some(c) => c.to_owned(),
                None => category_name(snippet.category_id.as_deref().unwrap_or_default()),
            },
            keywords: if tags.is_empty() {
                keywords(&title)
            } else {
                tags
            },
            title,
            views_per_hour,
        })
    }
}

#[async_trait]
impl TrendSource for YouTubeTrends {
    fn name(&self) -> &str {
        "youtube"
    }

    /// The chart for the region (default US) and category (the whole chart when the
    /// category has no YouTube id), fastest-growing first.
    async fn trends(&self, q: &TrendQuery) -> Result<Vec<Trend>, SourceError> {
        let key = self.key.get_for_source().await?;
        let region = q.region.clone().unwrap_or_else(|| "US".into());
        let category = q.category.as_deref().and_then(category_id);
        let wanted = q.max.clamp(1, PAGE * MAX_PAGES);
        let mut out: Vec<Trend> = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let per_page = (wanted - out.len()).min(PAGE).to_string();
            let mut query: Vec<(&str, &str)> = vec![
                ("part", "snippet,statistics"),
                ("chart", "mostPopular"),
                ("regionCode", &region),
                ("maxResults", &per_page),
                ("key", key.expose()),
            ];
            let id = category.map(|c| c.to_string());
            if let Some(id) = &id {
                query.push(("videoCategoryId", id));
            }
            if let Some(t) = &token {
                query.push(("pageToken", t));
            }
            let url = super::endpoint(&format!("{}/videos", self.base_url), &query)?;
            let body = self
                .http
                .send(MAX_BODY, |c| c.get(url.clone()))
                .await
                .map_err(|f| classify(f, q))?;
            let page: Page = parse_source_json(NAME, &body)?;
            let labelled = category.and(q.category.as_deref());
            out.extend(
                page.items
                    .into_iter()
                    .filter_map(|v| self.normalise(v, labelled)),
            );
            token = page
                .next_page_token
                .filter(|t| !t.is_empty() && t.len() <= 200);
            if out.len() >= wanted || token.is_none() {
                break;
            }
        }
        out.truncate(wanted);
        out.sort_by(|a, b| {
            b.views_per_hour
                .unwrap_or(0.0)
                .total_cmp(&a.views_per_hour.unwrap_or(0.0))
        });
        Ok(out)
    }
}
