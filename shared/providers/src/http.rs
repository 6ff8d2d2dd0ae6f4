//! What every provider client shares: one HTTP client built at init (no network), timeouts,
//! retry of 429/5xx and network errors with backoff that honours `Retry-After`, a cap on
//! response bodies, and one classification of failures into the port's error kinds.

use std::time::Duration;

use reqwest::{Client, RequestBuilder, StatusCode};
use viral_core::ports::{ProviderError, SourceError};

/// How a client retries and how long it waits.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    pub base_delay: Duration,
    /// No single wait is longer, whatever `Retry-After` asks.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(20),
        }
    }
}

/// A failed call, before a provider names it.
#[derive(Debug)]
pub struct HttpFailure {
    /// `None` when no response came (connect error, timeout, body cut short).
    pub status: Option<StatusCode>,
    /// The start of the response body, for the error message.
    pub body: String,
    /// A create request ([`Http::send_create`]) that may have been taken: it was sent (or
    /// may have been) and no answer came back, or the answer was a server error that does
    /// not say the request was left alone (see [`may_have_taken`]).
    pub maybe_taken: bool,
}

impl HttpFailure {
    /// The default classification: auth and request errors are permanent, the rest transient.
    /// Callers check for their provider's content-policy signal first.
    pub fn into_provider_error(self, provider: &str) -> ProviderError {
        let detail = if self.body.is_empty() {
            String::new()
        } else {
            format!(": {}", self.body)
        };
        if self.maybe_taken {
            return ProviderError::UnknownOutcome(match self.status {
                Some(s) => format!(
                    "{provider} answered {} to a create it may have carried out{detail}",
                    s.as_u16()
                ),
                None => format!("no usable answer from {provider}{detail}"),
            });
        }
        match self.status {
            None => ProviderError::Transient(format!("{provider} unreachable{detail}")),
            Some(s) if s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN => {
                ProviderError::Permanent(format!(
                    "{provider} refused the credentials ({}){detail}",
                    s.as_u16()
                ))
            }
            Some(s) if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                ProviderError::Transient(format!("{provider} answered {}{detail}", s.as_u16()))
            }
            Some(s) => {
                ProviderError::Permanent(format!("{provider} answered {}{detail}", s.as_u16()))
            }
        }
    }
}

impl HttpFailure {
    /// The default classification for trend sources and the concept writer: a refused key is
    /// `Credentials`, 429/5xx and no answer are transient, other 4xx permanent. Callers check
    /// their API's own quota and policy signals first.
    pub fn into_source_error(self, source: &str) -> SourceError {
        let detail = if self.body.is_empty() {
            String::new()
        } else {
            format!(": {}", self.body)
        };
        match self.status {
            None => SourceError::Transient(format!("{source} unreachable{detail}")),
            Some(s) if s == StatusCode::UNAUTHORIZED || s == StatusCode::FORBIDDEN => {
                SourceError::Credentials(format!(
                    "{source} refused the key ({}){detail}",
                    s.as_u16()
                ))
            }
            Some(s) if s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error() => {
                SourceError::Transient(format!("{source} answered {}{detail}", s.as_u16()))
            }
            Some(s) => SourceError::Permanent(format!("{source} answered {}{detail}", s.as_u16())),
        }
    }
}

/// Longest excerpt of a provider's error body kept in messages.
const EXCERPT: usize = 300;

fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(EXCERPT).collect();
    if text.chars().count() > EXCERPT {
        s.push('…');
    }
    s
}

/// The HTTP side of a provider client.
#[derive(Clone, Debug)]
pub struct Http {
    client: Client,
    retry: RetryPolicy,
}

impl Http {
    /// Builds the client (no network). Redirects are not followed: an API that answers with a
    /// redirect is answered with an error, never with a request to a host we did not choose.
    pub fn new(timeout: Duration, retry: RetryPolicy) -> Result<Self, ProviderError> {
        let client = Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ProviderError::Permanent(format!("HTTP client: {e}")))?;
        Ok(Self { client, retry })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Sends the request `build` makes (again on each try) and returns the body of a 2xx
    /// answer, reading at most `max_body` bytes. For reads and other idempotent calls: 429,
    /// 5xx and network errors are retried.
    pub async fn send(
        &self,
        max_body: usize,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Vec<u8>, HttpFailure> {
        self.send_with(max_body, build, false).await
    }

    /// As [`Http::send`], for a request that creates something paid (a render). It is sent
    /// again only when the provider certainly did not take it: the connection was never made,
    /// or the provider answered 429 or 503. Once it may have been taken — sent with no answer,
    /// a timeout, a connection cut, a 2xx whose body did not arrive, a 500, 502 or 504 (a
    /// gateway or the server may fail after the task was created) — it is never repeated:
    /// the failure says `maybe_taken`.
    pub async fn send_create(
        &self,
        max_body: usize,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Vec<u8>, HttpFailure> {
        self.send_with(max_body, build, true).await
    }

    async fn send_with(
        &self,
        max_body: usize,
        build: impl Fn(&Client) -> RequestBuilder,
        create: bool,
    ) -> Result<Vec<u8>, HttpFailure> {
        let mut attempt = 1;
        loop {
            let (failure, retry_after) = match build(&self.client).send().await {
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = retry_after(&resp);
                    match read_capped(resp, max_body).await {
                        Ok(body) if status.is_success() => return Ok(body),
                        Ok(body) => (
                            HttpFailure {
                                status: Some(status),
                                body: excerpt(&body),
                                maybe_taken: create && may_have_taken(status),
                            },
                            retry_after,
                        ),
                        // An error status whose body broke off is still an error status.
                        Err(e) if !status.is_success() => (
                            HttpFailure {
                                status: Some(status),
                                body: e,
                                maybe_taken: create && may_have_taken(status),
                            },
                            retry_after,
                        ),
                        Err(e) => (
                            HttpFailure {
                                status: None,
                                body: e,
                                maybe_taken: create,
                            },
                            None,
                        ),
                    }
                }
                Err(e) => (
                    HttpFailure {
                        status: None,
                        body: describe(&e),
                        maybe_taken: create && !e.is_connect(),
                    },
                    None,
                ),
            };
            let retryable = !failure.maybe_taken
                && match failure.status {
                    None => true,
                    Some(s) => s == StatusCode::TOO_MANY_REQUESTS || s.is_server_error(),
                };
            if !retryable || attempt >= self.retry.attempts {
                return Err(failure);
            }
            let backoff = self.retry.base_delay * 2u32.saturating_pow(attempt - 1);
            let wait = retry_after.unwrap_or(backoff).min(self.retry.max_delay);
            tracing::debug!(attempt, ?wait, status = ?failure.status, "provider call retried");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// Whether an error status leaves open that a create was carried out. 429 and 503 say the
/// request was turned away (and 501/505 that it was not understood); any other 5xx may come
/// from a server or gateway that failed after the work began.
fn may_have_taken(status: StatusCode) -> bool {
    status.is_server_error() && !matches!(status.as_u16(), 501 | 503 | 505)
}

/// `Retry-After` in seconds (the HTTP-date form is treated as absent).
fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// Reads a body chunk by chunk, refusing it once it passes `max` bytes (whatever
/// `Content-Length` claims).
pub async fn read_capped(mut resp: reqwest::Response, max: usize) -> Result<Vec<u8>, String> {
    if resp.content_length().is_some_and(|n| n > max as u64) {
        return Err(format!("response larger than {max} bytes"));
    }
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > max {
                    return Err(format!("response larger than {max} bytes"));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => return Err(format!("response cut short: {}", describe(&e))),
        }
    }
}

/// A reqwest error without its URL (URLs can carry signed query strings).
pub fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "bad response body"
    } else {
        "request failed"
    };
    match std::error::Error::source(e) {
        Some(src) => format!("{kind}: {src}"),
        None => kind.to_owned(),
    }
}

/// Parses a JSON body; a body that is not the documented shape is the provider's fault and
/// may be a transient glitch (truncated, an HTML error page), so it is transient.
pub fn parse_json<T: serde::de::DeserializeOwned>(
    provider: &str,
    body: &[u8],
) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|e| {
        ProviderError::Transient(format!(
            "{provider} sent an unexpected response ({e}): {}",
            excerpt(body)
        ))
    })
}

/// [`parse_json`] for the answer to a create request: the provider said yes, so something
/// may exist that we cannot name — an unknown outcome, never a reason to send it again.
pub fn parse_created<T: serde::de::DeserializeOwned>(
    provider: &str,
    body: &[u8],
) -> Result<T, ProviderError> {
    serde_json::from_slice(body).map_err(|e| {
        ProviderError::UnknownOutcome(format!(
            "{provider} accepted the request but its answer is unreadable ({e}): {}",
            excerpt(body)
        ))
    })
}

/// [`parse_json`] for trend sources and the concept writer.
pub fn parse_source_json<T: serde::de::DeserializeOwned>(
    source: &str,
    body: &[u8],
) -> Result<T, SourceError> {
    serde_json::from_slice(body).map_err(|e| {
        SourceError::Transient(format!(
            "{source} sent an unexpected response ({e}): {}",
            excerpt(body)
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified() {
        let f = |s: Option<u16>| HttpFailure {
            status: s.map(|s| StatusCode::from_u16(s).unwrap()),
            body: String::new(),
            maybe_taken: false,
        };
        assert!(matches!(
            f(Some(401)).into_provider_error("x"),
            ProviderError::Permanent(_)
        ));
        assert!(matches!(
            f(Some(400)).into_provider_error("x"),
            ProviderError::Permanent(_)
        ));
        assert!(matches!(
            f(Some(429)).into_provider_error("x"),
            ProviderError::Transient(_)
        ));
        assert!(matches!(
            f(Some(503)).into_provider_error("x"),
            ProviderError::Transient(_)
        ));
        assert!(matches!(
            f(None).into_provider_error("x"),
            ProviderError::Transient(_)
        ));
        let taken = HttpFailure {
            maybe_taken: true,
            ..f(None)
        };
        assert!(matches!(
            taken.into_provider_error("x"),
            ProviderError::UnknownOutcome(_)
        ));
    }

    #[test]
    fn excerpts_are_bounded() {
        let long = vec![b'a'; 10_000];
        assert_eq!(excerpt(&long).chars().count(), EXCERPT + 1);
    }
}
