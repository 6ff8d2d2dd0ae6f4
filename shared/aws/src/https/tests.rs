use super::*;

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

/// A request through the client builds its TLS configuration from the roots (the SDK
/// parses each with `expect`): it fails to connect, and does not panic.
#[tokio::test]
async fn a_client_on_the_amazon_roots_builds_its_tls_configuration() {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let conf = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        // Nothing listens on port 1: the request fails after the connector is built.
        .endpoint_url("https://127.0.0.1:1")
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
        .http_client(aws_https_client())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(conf);
    let answer = client.list_tables().send().await;
    assert!(answer.is_err());
}

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use aws_sdk_dynamodb::config::timeout::TimeoutConfig;
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_dynamodb::error::SdkError;
use rustls_pki_types::PrivateKeyDer;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

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

/// A TLS server on loopback for `localhost`, with a certificate of its own (the one root that
/// vouches for it), answering every request as DynamoDB answers ListTables. Counts the TCP
/// connections it accepts.
struct TlsServer {
    port: u16,
    root: CertificateDer<'static>,
    connections: Arc<AtomicUsize>,
}

async fn tls_server() -> TlsServer {
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
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let answer = hyper::service::service_fn(|_| async {
                    http::Response::builder()
                        .header("content-type", "application/x-amz-json-1.0")
                        .body(http_body_util::Full::new(Bytes::from_static(
                            br#"{"TableNames":["over-tls"]}"#,
                        )))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), answer)
                    .await;
            });
        }
    });
    TlsServer {
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

/// Calls go over TLS to a server the client's roots vouch for, and the second call reuses
/// the first call's connection.
#[tokio::test]
async fn calls_go_over_tls_and_reuse_the_connection() {
    let server = tls_server().await;
    let client = dynamodb(
        trusting(&server.root, Schemes::HttpsOnly),
        &format!("https://localhost:{}", server.port),
        TimeoutConfig::disabled(),
    );
    for _ in 0..2 {
        let tables = client
            .list_tables()
            .send()
            .await
            .expect("an answer over TLS");
        assert_eq!(tables.table_names(), ["over-tls"]);
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

/// The client on Amazon's roots refuses a server whose certificate Amazon did not issue:
/// the call fails before any request is sent, as an I/O failure (the SDK may retry it).
#[tokio::test]
async fn the_amazon_roots_refuse_a_certificate_amazon_did_not_issue() {
    let server = tls_server().await;
    let client = dynamodb(
        aws_https_client(),
        &format!("https://localhost:{}", server.port),
        TimeoutConfig::disabled(),
    );
    match client.list_tables().send().await {
        Err(SdkError::DispatchFailure(f)) => assert!(f.is_io(), "{f:?}"),
        other => panic!("expected a refused connection, got {other:?}"),
    }
}

/// The Lambda's client speaks HTTPS alone: a plain HTTP endpoint is refused.
#[tokio::test]
async fn the_amazon_client_refuses_plain_http() {
    let port = silent_server().await;
    let client = dynamodb(
        aws_https_client(),
        &format!("http://127.0.0.1:{port}"),
        TimeoutConfig::disabled(),
    );
    assert!(matches!(
        client.list_tables().send().await,
        Err(SdkError::DispatchFailure(_))
    ));
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
    let started = Instant::now();
    match client.list_tables().send().await {
        Err(SdkError::DispatchFailure(f)) => assert!(f.is_timeout(), "{f:?}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
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
    let started = Instant::now();
    match client.list_tables().send().await {
        Err(SdkError::DispatchFailure(f)) => assert!(f.is_timeout(), "{f:?}"),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(5));
}
