//! The HTTPS client of a Lambda's SDK clients.
//!
//! The SDK's default client reads the system's trust store when the first client is built: on
//! Debian a bundle and then every file of `/etc/ssl/certs`, 4.6 ms of an 8.2 ms start of
//! `get-me` (`perf stat`). A Lambda's SDK clients talk to AWS endpoints alone, and AWS serves
//! every endpoint with a certificate of Amazon Trust Services, so they trust its roots alone:
//! Amazon Root CA 1–4 and Starfield Services Root CA – G2, which cross-signs them
//! (`roots/amazon-trust-services.pem`, taken from Mozilla's set; a test keeps them equal).
//! Five roots parse from memory in microseconds, and no other authority can vouch for an AWS
//! endpoint. An AWS-compatible server named by `AWS_ENDPOINT_URL` is not AWS: it gets the
//! system's store (see `LambdaEnv::sdk_config`).

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The roots of Amazon Trust Services, PEM.
const AMAZON_TRUST_SERVICES: &[u8] = include_bytes!("../roots/amazon-trust-services.pem");

/// rustls on aws-lc (the TLS stack the rest of the binary links), trusting only the roots of
/// Amazon Trust Services.
pub fn aws_https_client() -> SharedHttpClient {
    let builder = aws_smithy_http_client::Builder::new().tls_provider(RUSTLS_ON_AWS_LC);
    match TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(AMAZON_TRUST_SERVICES))
        .build()
    {
        Ok(context) => builder.tls_context(context).build_https(),
        // Building a context cannot fail in this SDK version. Should that change, the
        // function keeps working on the system's store (wider trust, said in the log)
        // rather than refusing to start.
        Err(e) => {
            tracing::warn!(error = %e, "the Amazon roots were refused; using the system's trust store");
            builder.build_https()
        }
    }
}

/// rustls on aws-lc, trusting the system's store (for servers that are not AWS).
pub fn system_https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(RUSTLS_ON_AWS_LC)
        .build_https()
}

const RUSTLS_ON_AWS_LC: tls::Provider =
    tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc);

#[cfg(test)]
mod tests {
    use super::*;
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;

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
}
