//! Counting the calls a process makes to AWS: a wrapper around the SDK's HTTP client that
//! records every request it sends (each retry too: a round trip is a round trip) with its
//! service, operation, sizes and the unit of work it belongs to. `viral bench cost` counts
//! through it; Lambdas never build it.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// One request sent to AWS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    /// The signing name: `dynamodb`, `s3`, `sqs`, `states`, `secretsmanager`, `kms`, …
    pub service: String,
    /// `GetItem`, `TransactWriteItems`, `StartExecution`…; for S3 (a REST API) the method and
    /// whether it names an object: `PUT object`, `GET object`, `HEAD object`, and
    /// `COPY object` for a server-side copy.
    pub operation: String,
    /// For S3, the object's path (`/bucket/key`, path-style addressing); empty otherwise.
    pub object: String,
    /// For an S3 copy, the source's path (`bucket/key`); empty otherwise.
    pub copied_from: String,
    /// The unit of work that made it (a `functions/` name), from the labeller.
    pub by: Option<&'static str>,
    pub request_bytes: u64,
    /// Filled in when the response arrives (its `Content-Length`).
    pub response_bytes: u64,
    /// When the request was sent.
    pub sent_at: Instant,
    /// From sending the request to its response's headers (reading the body is not in it).
    pub took: Duration,
    /// For DynamoDB's `TransactWriteItems`, the size of each item's part of the request:
    /// each is charged on its own.
    pub item_bytes: Vec<u64>,
}

type Labeller = Arc<dyn Fn() -> Option<&'static str> + Send + Sync>;

/// The calls made so far; clones share one log.
#[derive(Clone)]
pub struct CallLog {
    calls: Arc<Mutex<Recorded>>,
    label: Labeller,
}

/// Each call under a number that is never reused, so an answer that arrives after a `take`
/// finds nothing instead of another call.
#[derive(Default)]
struct Recorded {
    next: u64,
    calls: Vec<(u64, Call)>,
}

impl std::fmt::Debug for CallLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallLog").finish_non_exhaustive()
    }
}

impl CallLog {
    /// A log whose calls are attributed by `label` (called as each request is sent, in the
    /// sending task).
    pub fn new(label: impl Fn() -> Option<&'static str> + Send + Sync + 'static) -> Self {
        Self {
            calls: Arc::default(),
            label: Arc::new(label),
        }
    }

    /// Takes the calls recorded so far, leaving the log empty.
    pub fn take(&self) -> Vec<Call> {
        let mut log = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::take(&mut log.calls)
            .into_iter()
            .map(|(_, c)| c)
            .collect()
    }

    fn push(&self, call: Call) -> u64 {
        let mut log = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        let id = log.next;
        log.next += 1;
        log.calls.push((id, call));
        id
    }

    fn answered(&self, id: u64, bytes: u64, took: Duration) {
        let mut log = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        // A `take` in between leaves nothing to fill in.
        if let Some((_, c)) = log.calls.iter_mut().rev().find(|(i, _)| *i == id) {
            c.response_bytes = bytes;
            c.took = took;
        }
    }

    /// `conf` with its HTTP client counted here. Every SDK client built from the result
    /// records its requests in this log.
    pub fn counted(&self, conf: &SdkConfig) -> SdkConfig {
        let inner = conf
            .http_client()
            .unwrap_or_else(crate::https::system_https_client);
        conf.to_builder()
            .http_client(Counting {
                inner,
                log: self.clone(),
            })
            .build()
    }
}

/// The service a signed request is for: the fourth part of SigV4's credential scope
/// (`Credential=AKID/20261205/us-east-1/dynamodb/aws4_request`).
fn service_of(request: &HttpRequest) -> String {
    request
        .headers()
        .get("authorization")
        .and_then(|a| a.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unsigned")
        .to_owned()
}

/// The size of each write in a `TransactWriteItems` request body (its JSON), or nothing for
/// another request or a body that is not there to read.
fn transact_items(request: &HttpRequest) -> Vec<u64> {
    let target = request.headers().get("x-amz-target").unwrap_or_default();
    if !target.ends_with(".TransactWriteItems") {
        return Vec::new();
    }
    request
        .body()
        .bytes()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(b).ok())
        .and_then(|v| {
            v.get("TransactItems")?
                .as_array()
                .map(|items| items.iter().map(|i| i.to_string().len() as u64).collect())
        })
        .unwrap_or_default()
}

/// The path of a URI, without scheme, host or query.
fn object_of(uri: &str) -> String {
    let rest = uri.split('?').next().unwrap_or("");
    let rest = rest
        .strip_prefix("http://")
        .or_else(|| rest.strip_prefix("https://"))
        .unwrap_or(rest);
    rest.find('/')
        .map_or(String::new(), |i| rest[i..].to_owned())
}

fn operation_of(service: &str, request: &HttpRequest) -> String {
    // JSON protocols (DynamoDB, SQS, Step Functions, Secrets Manager, KMS) name the action in
    // `X-Amz-Target: DynamoDB_20120810.GetItem`.
    if let Some(target) = request.headers().get("x-amz-target") {
        return target.rsplit('.').next().unwrap_or(target).to_owned();
    }
    if service == "s3" {
        if request.headers().contains_key("x-amz-copy-source") {
            return "COPY object".into();
        }
        // Path style: /bucket/key…; a key has a slash after the bucket.
        let path = object_of(request.uri());
        let object = path.split('/').filter(|p| !p.is_empty()).count() > 1;
        return format!(
            "{} {}",
            request.method(),
            if object { "object" } else { "bucket" }
        );
    }
    request.method().to_owned()
}

#[derive(Debug)]
struct Counting {
    inner: SharedHttpClient,
    log: CallLog,
}

impl HttpClient for Counting {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(CountingConnector {
            inner: self.inner.http_connector(settings, components),
            log: self.log.clone(),
        })
    }
}

#[derive(Debug)]
struct CountingConnector {
    inner: SharedHttpConnector,
    log: CallLog,
}

impl HttpConnector for CountingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let service = service_of(&request);
        let object = if service == "s3" {
            object_of(request.uri())
        } else {
            String::new()
        };
        let copied_from = request
            .headers()
            .get("x-amz-copy-source")
            .unwrap_or_default()
            .to_owned();
        let item_bytes = if service == "dynamodb" {
            transact_items(&request)
        } else {
            Vec::new()
        };
        let sent_at = Instant::now();
        let at = self.log.push(Call {
            sent_at,
            item_bytes,
            operation: operation_of(&service, &request),
            object,
            copied_from,
            service,
            by: (self.log.label)(),
            request_bytes: request.body().content_length().unwrap_or(0),
            response_bytes: 0,
            took: Duration::ZERO,
        });
        let sent = self.inner.call(request);
        let log = self.log.clone();
        HttpConnectorFuture::new(async move {
            let response = sent.await?;
            let bytes = response
                .headers()
                .get("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            log.answered(at, bytes, sent_at.elapsed());
            Ok(response)
        })
    }
}

/// How many round trips `calls` took one after another: calls sent while an earlier one was
/// still waiting for its answer share its round trip (requests made at the same time).
pub fn sequential_round_trips<'a>(calls: impl IntoIterator<Item = &'a Call>) -> usize {
    let mut calls: Vec<&Call> = calls.into_iter().collect();
    calls.sort_by_key(|c| c.sent_at);
    let mut rounds = 0;
    let mut answered_by: Option<Instant> = None;
    for c in calls {
        let answered = c.sent_at + c.took;
        match answered_by {
            Some(end) if c.sent_at < end => answered_by = Some(end.max(answered)),
            _ => {
                rounds += 1;
                answered_by = Some(answered);
            }
        }
    }
    rounds
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(sent_ms: u64, took_ms: u64, base: Instant) -> Call {
        Call {
            service: "dynamodb".into(),
            operation: "GetItem".into(),
            object: String::new(),
            copied_from: String::new(),
            by: None,
            request_bytes: 0,
            response_bytes: 0,
            sent_at: base + Duration::from_millis(sent_ms),
            took: Duration::from_millis(took_ms),
            item_bytes: Vec::new(),
        }
    }

    #[test]
    fn requests_sent_together_share_a_round_trip() {
        let t = Instant::now();
        assert_eq!(sequential_round_trips(&[]), 0);
        // One after another: three.
        let chain = [call(0, 5, t), call(6, 5, t), call(12, 5, t)];
        assert_eq!(sequential_round_trips(&chain), 3);
        // Two sent together, then one after both answered: two.
        let joined = [call(0, 5, t), call(1, 9, t), call(11, 2, t)];
        assert_eq!(sequential_round_trips(&joined), 2);
        // A call sent while the longer of two is still out shares their round trip.
        let overlap = [call(0, 2, t), call(1, 9, t), call(4, 2, t)];
        assert_eq!(sequential_round_trips(&overlap), 1);
    }
}
