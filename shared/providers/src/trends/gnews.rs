//! GNews v4: `top-headlines` for a category GNews knows, `search` for any other word. The key
//! goes in the `apikey` parameter. GNews answers 401 for a bad key, 403 when the day's quota
//! is spent (it resets at 00:00 UTC) and 429 when called faster than the plan allows.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use viral_core::clock::Timestamp;
use viral_core::domain::concept::{Trend, keywords};
use viral_core::ports::{ProviderError, SourceError, TrendQuery, TrendSource};

use super::{clean, web_url};
use crate::credential::Credential;
use crate::http::{Http, HttpFailure, RetryPolicy, parse_source_json};

pub const DEFAULT_BASE_URL: &str = "https://gnews.io/api/v4";
const NAME: &str = "GNews";
const MAX_BODY: usize = 2 * 1024 * 1024;
/// Most articles one call returns on any plan.
const MAX_ARTICLES: usize = 100;

/// Our category names and GNews's topic for each.
const CATEGORIES: [(&str, &str); 10] = [
    ("general", "general"),
    ("world", "world"),
    ("nation", "nation"),
    ("business", "business"),
    ("money", "business"),
    ("tech", "technology"),
    ("entertainment", "entertainment"),
    ("sports", "sports"),
    ("science", "science"),
    ("health", "health"),
];

pub fn topic(category: &str) -> Option<&'static str> {
    CATEGORIES
        .iter()
        .find(|(ours, _)| *ours == category)
        .map(|(_, theirs)| *theirs)
}

pub struct GNewsTrends {
    http: Http,
    base_url: String,
    key: Credential,
    lang: String,
}

impl GNewsTrends {
    pub fn new(
        base_url: &str,
        key: Credential,
        lang: &str,
        retry: RetryPolicy,
    ) -> Result<Self, ProviderError> {
        Ok(Self {
            http: Http::new(Duration::from_secs(10), retry)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            lang: lang.to_owned(),
        })
    }
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    articles: Vec<Article>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Article {
    title: Option<String>,
    url: Option<String>,
    published_at: Option<String>,
}

fn classify(f: HttpFailure) -> SourceError {
    match f.status.map(|s| s.as_u16()) {
        Some(403) => SourceError::QuotaExhausted(
            "GNews's daily request quota is spent; it resets at 00:00 UTC".into(),
        ),
        Some(401) => SourceError::Credentials(format!("GNews refused the API key: {}", f.body)),
        _ => f.into_source_error(NAME),
    }
}

#[async_trait]
impl TrendSource for GNewsTrends {
    fn name(&self) -> &str {
        "gnews"
    }

    /// Top headlines for the category (`general` without one), or a search for a category
    /// GNews has no topic for. Newest first, as GNews orders them.
    async fn trends(&self, q: &TrendQuery) -> Result<Vec<Trend>, SourceError> {
        let key = self.key.get_for_source().await?;
        let category = q.category.clone().unwrap_or_else(|| "general".into());
        let max = q.max.clamp(1, MAX_ARTICLES).to_string();
        let country = q.region.as_deref().map(str::to_lowercase);
        let (path, filter) = match topic(&category) {
            Some(t) => ("top-headlines", ("category", t.to_owned())),
            None => ("search", ("q", category.clone())),
        };
        let mut query: Vec<(&str, &str)> = vec![
            (filter.0, &filter.1),
            ("lang", &self.lang),
            ("max", &max),
            ("apikey", key.expose()),
        ];
        if let Some(country) = &country {
            query.push(("country", country));
        }
        let url = super::endpoint(&format!("{}/{path}", self.base_url), &query)?;
        let body = self
            .http
            .send(MAX_BODY, |c| c.get(url.clone()))
            .await
            .map_err(classify)?;
        let answer: Answer = parse_source_json(NAME, &body)?;
        Ok(answer
            .articles
            .into_iter()
            .filter_map(|a| {
                let title = clean(a.title.as_deref()?, 300);
                (!title.is_empty()).then(|| Trend {
                    source: "gnews".into(),
                    url: a.url.as_deref().and_then(web_url),
                    published_at: a
                        .published_at
                        .as_deref()
                        .and_then(Timestamp::parse_rfc3339)
                        .map(Timestamp::rfc3339),
                    category: category.clone(),
                    keywords: keywords(&title),
                    title,
                    views_per_hour: None,
                })
            })
            .collect())
    }
}
