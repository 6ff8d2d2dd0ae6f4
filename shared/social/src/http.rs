//! What the platform clients share: one HTTP client (no redirects: an OAuth or upload
//! endpoint that redirects is not followed with our tokens), errors that never carry a URL
//! (URLs can hold tokens), bounded response bodies, and the app's credentials read through
//! the Secrets port on first use.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use viral_core::ports::{PublishError, SecretString, Secrets};

/// Largest JSON answer read from a platform.
const MAX_BODY: usize = 1024 * 1024;

#[derive(Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
}

impl Http {
    /// `timeout` bounds one request, body included (uploads take the longest).
    pub fn new(timeout: Duration) -> Result<Self, PublishError> {
        reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map(|client| Self { client })
            .map_err(|e| PublishError::NotConfigured(format!("HTTP client: {}", describe(&e))))
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Sends; a request that `creates` something and fails after it may have been sent is an
    /// unknown outcome, anything else that fails before an answer is transient.
    pub async fn send(&self, req: RequestBuilder, creates: bool) -> Result<Answer, PublishError> {
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_connect() || !creates => {
                return Err(PublishError::Transient(describe(&e)));
            }
            Err(e) => return Err(PublishError::Unknown(describe(&e))),
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = match read_capped(resp).await {
            Ok(b) => b,
            Err(e) if creates && status.is_success() => return Err(PublishError::Unknown(e)),
            Err(e) => return Err(PublishError::Transient(e)),
        };
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        Ok(Answer {
            status,
            headers,
            json,
            text: String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned(),
        })
    }
}

/// A platform's answer.
pub(crate) struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// `Null` when the body is not JSON.
    pub json: Value,
    /// The start of the body, for messages.
    pub text: String,
}

impl Answer {
    /// Seconds from `Retry-After`, when given as seconds.
    pub fn retry_after(&self) -> Option<u64> {
        self.headers
            .get(reqwest::header::RETRY_AFTER)?
            .to_str()
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }
}

async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(format!("response larger than {MAX_BODY} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("response cut short: {}", describe(&e)))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("response larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A reqwest error without its URL.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(src) => format!("{kind}: {src}"),
        None => kind.to_owned(),
    }
}

/// The app's client id and secret at a platform, from the Secrets port on first use.
#[derive(Clone)]
pub(crate) struct AppCredentials {
    secrets: Arc<dyn Secrets>,
    id_name: &'static str,
    secret_name: &'static str,
}

impl AppCredentials {
    pub fn new(
        secrets: Arc<dyn Secrets>,
        id_name: &'static str,
        secret_name: &'static str,
    ) -> Self {
        Self {
            secrets,
            id_name,
            secret_name,
        }
    }

    async fn one(&self, name: &'static str) -> Result<SecretString, PublishError> {
        match self.secrets.get(name).await {
            Ok(Some(v)) if !v.expose().trim().is_empty() => Ok(v),
            Ok(_) => Err(PublishError::NotConfigured(format!(
                "{name} is not set: this platform is not configured"
            ))),
            Err(e) => Err(PublishError::Transient(format!("cannot read {name}: {e}"))),
        }
    }

    pub async fn get(&self) -> Result<(String, SecretString), PublishError> {
        let id = self.one(self.id_name).await?;
        let secret = self.one(self.secret_name).await?;
        Ok((id.expose().trim().to_owned(), secret))
    }
}

/// A URL with its query, built safely.
pub(crate) fn url_with(
    base: &str,
    path: &str,
    query: &[(&str, &str)],
) -> Result<String, PublishError> {
    // A full URL (an authorize page) keeps its trailing slash: TikTok's needs it.
    let raw = if path.is_empty() {
        base.to_owned()
    } else {
        format!("{}{path}", base.trim_end_matches('/'))
    };
    reqwest::Url::parse_with_params(&raw, query)
        .map(|u| u.to_string())
        .map_err(|_| PublishError::NotConfigured(format!("bad platform URL {raw:?}")))
}

/// An expiry `expires_in` seconds from `now`.
pub(crate) fn expiry(
    now: viral_core::Timestamp,
    expires_in: Option<i64>,
) -> Option<viral_core::Timestamp> {
    expires_in
        .filter(|s| *s > 0)
        .map(|s| now.plus(Duration::from_secs(s as u64)))
}

/// A platform's answer that is not the documented shape: their glitch, maybe transient.
pub(crate) fn unexpected(platform: &str, a: &Answer) -> PublishError {
    PublishError::Transient(format!(
        "{platform} answered {} with an unexpected body: {}",
        a.status, a.text
    ))
}

/// A count as the platforms send it: a number, or a string of digits (YouTube). Anything else
/// — negative, fractional, absent — is no count.
pub(crate) fn count(v: &serde_json::Value) -> Option<u64> {
    v.as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// The platform ids of the posts asked about, at most `max` (the platform's batch size).
pub(crate) fn post_ids(
    targets: &[viral_core::domain::metrics::MetricsTarget],
    max: usize,
) -> Vec<&str> {
    targets
        .iter()
        .map(|t| t.platform_post_id.as_str())
        .filter(|id| !id.is_empty())
        .take(max)
        .collect()
}
