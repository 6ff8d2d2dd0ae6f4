//! The HTTPS client of the SDK clients a Lambda or a test builds: hyper's pooled HTTP/1.1
//! client over rustls, with the SDK's connect and read timeouts, its retry classes and its
//! connection poisoning. The SDK's own client (`default-https-client`, the CLI's) is the same
//! hyper client with HTTP/2 compiled in, which no AWS API we call speaks (`h2` alone was
//! 298 KB of `get-me`).
//!
//! Trust. The SDK's default client reads the system's trust store when the first client is
//! built: on Debian a bundle and then every file of `/etc/ssl/certs`, 4.6 ms of an 8.2 ms start of
//! `get-me` (`perf stat`). A Lambda's SDK clients talk to AWS endpoints alone, and AWS serves
//! every endpoint with a certificate of Amazon Trust Services, so they trust its roots alone:
//! Amazon Root CA 1–4 and Starfield Services Root CA – G2, which cross-signs them
//! (`roots/amazon-trust-services.pem`, taken from Mozilla's set; a test keeps them equal).
//! Five roots parse from memory in microseconds, and no other authority can vouch for an AWS
//! endpoint. An AWS-compatible server named by `AWS_ENDPOINT_URL` is not AWS: it gets the
//! system's store (see `LambdaEnv::sdk_config`).

use std::collections::HashMap;
use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use aws_smithy_runtime_api::client::connection::{CaptureSmithyConnection, ConnectionMetadata};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::retries::ErrorKind;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{
    CaptureConnection, HttpConnector as TcpConnector, capture_connection,
};
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::RootCertStore;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

type BoxError = Box<dyn Error + Send + Sync>;

/// The roots of Amazon Trust Services, PEM.
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("../roots/amazon-trust-services.pem");

/// HTTPS only, trusting only the roots of Amazon Trust Services.
pub fn aws_https_client() -> SharedHttpClient {
    let mut roots = RootCertStore::empty();
    let (added, refused) = roots.add_parsable_certificates(
        CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES).filter_map(Result::ok),
    );
    if added == 0 || refused > 0 {
        // The file is ours and a test parses it: this is a broken build, said in the log,
        // not a reason to refuse to start. With no root every call fails to connect.
        tracing::error!(added, refused, "the Amazon roots did not all parse");
    }
    SharedHttpClient::new(HyperHttps::new(roots, Schemes::HttpsOnly))
}

/// HTTPS or plain HTTP, trusting the system's store: for an AWS-compatible server, which is
/// not AWS (moto on loopback speaks HTTP), or a Lambda told `VIRAL_AWS_TRUST=system`. No
/// proxy: a Lambda has none (the CLI, which may, keeps the SDK's own client; see
/// [`crate::load_sdk_config`]).
pub fn system_https_client() -> SharedHttpClient {
    SharedHttpClient::new(HyperHttps::new(SYSTEM_ROOTS.clone(), Schemes::HttpsOrHttp))
}

/// The system's store, read once per process (a bundle and a directory of files).
static SYSTEM_ROOTS: LazyLock<RootCertStore> = LazyLock::new(|| {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::warn!(error = %e, "a certificate of the system's store was not read");
    }
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(found.certs);
    if roots.is_empty() {
        tracing::warn!("the system's trust store has no certificate: every HTTPS call will fail");
    }
    roots
});

/// The SDK's HTTP client, ours: hyper's pooled HTTP/1.1 client over rustls on aws-lc (the
/// TLS stack the rest of the binary links).
struct HyperHttps {
    tls: rustls::ClientConfig,
    schemes: Schemes,
    /// One pool per pair of timeouts the SDK asks for (the SDK asks on every attempt).
    connectors: Mutex<HashMap<Timeouts, SharedHttpConnector>>,
}

#[derive(Clone, Copy, Debug)]
enum Schemes {
    HttpsOnly,
    HttpsOrHttp,
}

/// Connect (TCP and TLS) and read (until the answer's head) timeouts.
type Timeouts = (Option<Duration>, Option<Duration>);

impl HyperHttps {
    fn new(roots: RootCertStore, schemes: Schemes) -> Self {
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
        let tls = match tls {
            Ok(tls) => tls,
            // aws-lc's provider supports the default versions; only a rustls that changed
            // that would land here, and then it must not start half-trusting.
            Err(e) => panic!("rustls refused its own defaults: {e}"),
        };
        Self {
            tls,
            schemes,
            connectors: Mutex::new(HashMap::new()),
        }
    }

    fn pool(&self, (connect, read): Timeouts) -> Pool {
        let mut tcp = TcpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        let tls = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(self.tls.clone());
        let tls = match self.schemes {
            Schemes::HttpsOnly => tls.https_only(),
            Schemes::HttpsOrHttp => tls.https_or_http(),
        };
        let connect_to = ConnectWithin {
            inner: tls.enable_http1().wrap_connector(tcp),
            limit: connect,
        };
        Pool {
            // The timer lets the pool drop connections idle for 90 s (hyper's default).
            client: Client::builder(TokioExecutor::new())
                .pool_timer(TokioTimer::new())
                .build(connect_to),
            read_timeout: read,
        }
    }
}

impl fmt::Debug for HyperHttps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HyperHttps")
            .field("schemes", &self.schemes)
            .finish_non_exhaustive()
    }
}

impl HttpClient for HyperHttps {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        let key = (settings.connect_timeout(), settings.read_timeout());
        let mut connectors = self
            .connectors
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        connectors
            .entry(key)
            .or_insert_with(|| SharedHttpConnector::new(self.pool(key)))
            .clone()
    }
}

#[derive(Clone, Debug)]
struct Pool {
    client: Client<ConnectWithin, SdkBody>,
    read_timeout: Option<Duration>,
}

impl HttpConnector for Pool {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let mut request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        // The SDK closes a connection that gave a transient error (a 500, a 503, a throttle),
        // so the retry reaches another host rather than the one that failed: it asks us for
        // the connection the request went out on.
        let used = capture_connection(&mut request);
        if let Some(asks) = request.extensions().get::<CaptureSmithyConnection>() {
            asks.set_connection_retriever(move || connection_used(&used));
        }
        let answer = self.client.request(request);
        let read_timeout = self.read_timeout;
        HttpConnectorFuture::new(async move {
            let answer = match read_timeout {
                None => answer.await,
                Some(limit) => match tokio::time::timeout(limit, answer).await {
                    Ok(answer) => answer,
                    Err(_) => {
                        return Err(ConnectorError::timeout(
                            format!("no answer within {} ms", limit.as_millis()).into(),
                        ));
                    }
                },
            };
            match answer {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|e| ConnectorError::other(e.into(), None)),
                Err(e) => Err(connector_error(e)),
            }
        })
    }
}

/// The connection a request went out on, which the SDK may close (`poison`: it is not reused).
fn connection_used(used: &CaptureConnection) -> Option<ConnectionMetadata> {
    used.connection_metadata().as_ref()?;
    let used = used.clone();
    Some(
        ConnectionMetadata::builder()
            .proxied(false)
            .poison_fn(move || {
                if let Some(connected) = used.connection_metadata().as_ref() {
                    connected.poison();
                }
            })
            .build(),
    )
}

/// What the SDK's retries need to know of a failure: a timeout or an I/O error (connection
/// refused, reset or closed, a failed name lookup or TLS handshake) is transient and retried;
/// a request hyper refused to send is the caller's.
fn connector_error(e: hyper_util::client::legacy::Error) -> ConnectorError {
    if source::<ConnectTimedOut>(&e).is_some() {
        return ConnectorError::timeout(e.into());
    }
    if e.is_connect() {
        return ConnectorError::io(e.into());
    }
    match source::<hyper::Error>(&e) {
        Some(h) if h.is_timeout() => ConnectorError::timeout(e.into()),
        Some(h) if h.is_user() => ConnectorError::user(e.into()),
        Some(h) if h.is_closed() || h.is_canceled() || source::<std::io::Error>(h).is_some() => {
            ConnectorError::io(e.into())
        }
        // S3 sometimes ends an answer early.
        Some(h) if h.is_incomplete_message() => {
            ConnectorError::other(e.into(), Some(ErrorKind::TransientError))
        }
        _ if source::<std::io::Error>(&e).is_some() => ConnectorError::io(e.into()),
        _ => ConnectorError::other(e.into(), None),
    }
}

fn source<'a, E: Error + 'static>(e: &'a (dyn Error + 'static)) -> Option<&'a E> {
    std::iter::successors(Some(e), |&e| e.source()).find_map(|e| e.downcast_ref::<E>())
}

/// The TCP connection and TLS handshake together within the SDK's connect timeout (hyper's
/// own connect timeout covers TCP alone).
#[derive(Clone, Debug)]
struct ConnectWithin {
    inner: HttpsConnector<TcpConnector>,
    limit: Option<Duration>,
}

type Connection = <HttpsConnector<TcpConnector> as tower_service::Service<http::Uri>>::Response;

impl tower_service::Service<http::Uri> for ConnectWithin {
    type Response = Connection;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Connection, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.inner.call(uri);
        let limit = self.limit;
        Box::pin(async move {
            match limit {
                None => connecting.await,
                Some(limit) => match tokio::time::timeout(limit, connecting).await {
                    Ok(connected) => connected,
                    Err(_) => Err(Box::new(ConnectTimedOut(limit)) as BoxError),
                },
            }
        })
    }
}

#[derive(Debug)]
struct ConnectTimedOut(Duration);

impl fmt::Display for ConnectTimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not connected within {} ms", self.0.as_millis())
    }
}

impl Error for ConnectTimedOut {}

#[cfg(test)]
mod tests;
