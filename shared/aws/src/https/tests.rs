use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::SdkError;
use rustls_pki_types::PrivateKeyDer;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// Every root in the file is one of Mozilla's (so the file cannot drift into trusting
/// something else), and all five are there.
#[test]
fn the_amazon_roots_are_mozillas() {
    let parsed: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(AMAZON_TRUST_SERVICES)
            .collect::<Result<_, _>>()
            .unwrap_or_default();
    assert_eq!(parsed.len(), 5);
    for root in &parsed {
        assert!(
            webpki_root_certs::TLS_SERVER_ROOT_CERTS
                .iter()
                .any(|m| m.as_ref() == root.as_ref()),
            "a root that Mozilla does not ship"
        );
    }
}

/// A DynamoDB client through `http` to `endpoint`, without retries.
fn dynamodb(
    http: SharedHttpClient,
    endpoint: &str,
    timeouts: TimeoutConfig,
) -> aws_sdk_dynamodb::Client {
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .endpoint_url(endpoint)
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .timeout_config(timeouts)
        .http_client(http)
        .build();
    aws_sdk_dynamodb::Client::from_conf(conf)
}

/// A server on loopback for `localhost` (over TLS with a certificate of its own, the one root
/// that vouches for it, or plain HTTP). It answers the statuses of `statuses` in turn, then
/// 200s, as DynamoDB answers ListTables, and counts the TCP connections it accepts.
struct TestServer {
    port: u16,
    root: CertificateDer<'static>,
    connections: Arc<AtomicUsize>,
}

async fn test_server(tls: bool, statuses: &'static [u16]) -> TestServer {
    use hyper::body::Bytes;
    use hyper_util::rt::TokioIo;

    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("a test certificate");
    let root = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(vec![root.clone()], key)
    .expect("a server configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("an address").port();
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    let requests = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            let requests = requests.clone();
            tokio::spawn(async move {
                let answer = hyper::service::service_fn(move |_| {
                    let n = requests.fetch_add(1, Ordering::SeqCst);
                    let status = statuses.get(n).copied().unwrap_or(200);
                    let body: &'static [u8] = if status == 200 {
                        br#"{"TableNames":["answered"]}"#
                    } else {
                        br#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"try again"}"#
                    };
                    async move {
                        http::Response::builder()
                            .status(status)
                            .header("content-type", "application/x-amz-json-1.0")
                            .body(http_body_util::Full::new(Bytes::from_static(body)))
                    }
                });
                let http = hyper::server::conn::http1::Builder::new();
                if tls {
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        let _ = http.serve_connection(TokioIo::new(tls), answer).await;
                    }
                } else {
                    let _ = http.serve_connection(TokioIo::new(tcp), answer).await;
                }
            });
        }
    });
    TestServer {
        port,
        root,
        connections,
    }
}

/// A server that accepts connections and never says a word (nor ends them).
async fn silent_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let port = listener.local_addr().expect("an address").port();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            // Read what comes (a TLS hello, a request) so the client's writes complete.
            tokio::spawn(async move {
                let mut sink = [0u8; 4096];
                while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
            });
        }
    });
    port
}

fn trusting(root: &CertificateDer<'static>, schemes: Schemes) -> SharedHttpClient {
    let mut roots = RootCertStore::empty();
    roots.add(root.clone()).expect("the test root");
    SharedHttpClient::new(HyperHttps::new(roots, schemes))
}

/// A call that should end (in an answer or an error) within a few seconds: a regression
/// fails the test rather than hanging the suite.
async fn within<T>(call: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the call neither answered nor failed within 10 s")
}

fn dispatch_failure<T: fmt::Debug, E: fmt::Debug>(
    answer: Result<T, SdkError<E, HttpResponse>>,
) -> aws_smithy_runtime_api::client::result::DispatchFailure {
    match answer {
        Err(SdkError::DispatchFailure(f)) => f,
        other => panic!("expected the call to fail before an answer, got {other:?}"),
    }
}

/// The call fails as a timeout, at a 200 ms limit: well within the 2 s it would take
/// without one (the call would then end at `within`'s 10 s).
async fn assert_times_out(client: aws_sdk_dynamodb::Client) {
    let started = Instant::now();
    let failure = dispatch_failure(within(client.list_tables().send()).await);
    assert!(failure.is_timeout(), "{failure:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Calls go over TLS to a server the client's roots vouch for, and the next call reuses the
/// first call's connection.
#[tokio::test]
async fn calls_go_over_tls_and_reuse_the_connection() {
    let server = test_server(true, &[]).await;
    let client = dynamodb(
        trusting(&server.root, Schemes::HttpsOnly),
        &format!("https://localhost:{}", server.port),
        TimeoutConfig::disabled(),
    );
    for _ in 0..2 {
        let tables = within(client.list_tables().send())
            .await
            .expect("an answer over TLS");
        assert_eq!(tables.table_names(), ["answered"]);
        // hyper's pool takes the connection back on a task of its own.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

/// A transient error (a 503) closes the connection it came on, so the retry opens another
/// (it may reach another host). (A connection that answered well stays open: see
/// `calls_go_over_tls_and_reuse_the_connection`.)
#[tokio::test]
async fn a_transient_error_closes_its_connection_before_the_retry() {
    let server = test_server(false, &[503]).await;
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .endpoint_url(format!("http://127.0.0.1:{}", server.port))
        .retry_config(
            aws_sdk_dynamodb::config::retry::RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(50)),
        )
        .http_client(system_https_client())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);
    let tables = within(client.list_tables().send())
        .await
        .expect("the retry's answer");
    assert_eq!(tables.table_names(), ["answered"]);
    assert_eq!(server.connections.load(Ordering::SeqCst), 2);
}

/// The client on Amazon's roots refuses a server whose certificate Amazon did not issue:
/// the server is reached, and the call fails in the handshake, before any request is sent.
#[tokio::test]
async fn the_amazon_roots_refuse_a_certificate_amazon_did_not_issue() {
    let server = test_server(true, &[]).await;
    let client = dynamodb(
        aws_https_client(),
        &format!("https://localhost:{}", server.port),
        TimeoutConfig::disabled(),
    );
    let failure = dispatch_failure(within(client.list_tables().send()).await);
    assert!(failure.is_io(), "{failure:?}");
    assert!(
        format!("{failure:?}").contains("UnknownIssuer"),
        "{failure:?}"
    );
    assert!(server.connections.load(Ordering::SeqCst) >= 1);
}

/// The Lambda's client speaks HTTPS alone: a plain HTTP endpoint is refused before anything
/// is sent.
#[tokio::test]
async fn the_amazon_client_refuses_plain_http() {
    let server = test_server(false, &[]).await;
    let client = dynamodb(
        aws_https_client(),
        &format!("http://127.0.0.1:{}", server.port),
        TimeoutConfig::disabled(),
    );
    dispatch_failure(within(client.list_tables().send()).await);
    assert_eq!(server.connections.load(Ordering::SeqCst), 0);
}

/// The connect timeout covers the TLS handshake: a server that accepts the TCP connection
/// and never answers the hello times the call out, as a timeout.
#[tokio::test]
async fn a_handshake_that_never_ends_times_out_at_the_connect_timeout() {
    let port = silent_server().await;
    let client = dynamodb(
        aws_https_client(),
        &format!("https://localhost:{port}"),
        TimeoutConfig::builder()
            .connect_timeout(Duration::from_millis(200))
            .build(),
    );
    assert_times_out(client).await;
}

/// A server that takes the request and never answers times the call out at the read
/// timeout, as a timeout.
#[tokio::test]
async fn an_answer_that_never_comes_times_out_at_the_read_timeout() {
    let port = silent_server().await;
    let client = dynamodb(
        system_https_client(),
        &format!("http://127.0.0.1:{port}"),
        TimeoutConfig::builder()
            .read_timeout(Duration::from_millis(200))
            .build(),
    );
    assert_times_out(client).await;
}
