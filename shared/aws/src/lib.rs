//! AWS adapters on the official SDK crates: DynamoDB (ItemStore), S3 (BlobStore), SQS (Queue),
//! Secrets Manager (Secrets) and KMS (TokenVault). Clients are built once from one `SdkConfig`, without network
//! calls, so a Lambda's init stays short.

mod attrs;
pub mod calls;
pub mod cloudfront;
pub mod dynamodb;
mod errors;
pub mod https;
pub mod kms;
pub mod s3;
pub mod scheduler;
pub mod secrets_manager;
pub mod sqs;
pub mod static_site;
pub mod step_functions;

pub use cloudfront::CloudFrontSigner;
pub use dynamodb::DynamoItemStore;
pub use kms::KmsTokenVault;
pub use s3::S3BlobStore;
pub use scheduler::EventBridgeSchedules;
pub use secrets_manager::SecretsManagerSecrets;
pub use sqs::SqsQueue;
pub use step_functions::SfnWorkflow;

pub use aws_config::SdkConfig;

/// The SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`).
/// Reads environment and profile files only; credentials are fetched lazily on first use.
///
/// For the CLI and `viral up` (never a Lambda, which reads [`LambdaEnv`]). With the
/// `sdk-https-client` feature (the CLI's) the clients keep the SDK's own HTTPS client, which
/// honours `HTTPS_PROXY`/`NO_PROXY` on a developer's network; without it, ours on the system's
/// store (see [`https`]).
pub async fn load_sdk_config() -> SdkConfig {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    #[cfg(not(feature = "sdk-https-client"))]
    let loader = loader.http_client(https::system_https_client());
    loader.load().await
}

/// What a Lambda's environment says about region, credentials and endpoint.
///
/// Lambda puts the execution role's credentials in `AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` for the life of the execution environment,
/// so functions read them directly instead of linking aws-config's provider chain (STS, SSO,
/// IMDS, profile files): a smaller binary and a shorter cold start.
#[derive(Clone, Debug)]
pub struct LambdaEnv {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    /// `AWS_ENDPOINT_URL`, for an AWS-compatible server.
    pub endpoint_url: Option<String>,
    /// `VIRAL_AWS_TRUST=system`: the SDK clients trust the system's store instead of the
    /// roots of Amazon Trust Services alone (see [`https`]): a switch for a deployment where
    /// an AWS endpoint is served from another authority, without a new build.
    pub trust_system_store: bool,
}

impl LambdaEnv {
    /// One SDK configuration for every client a function builds, from these values alone.
    pub fn sdk_config(&self) -> SdkConfig {
        use aws_sdk_dynamodb::config::{Credentials, SharedCredentialsProvider};
        let creds = Credentials::new(
            &self.access_key_id,
            &self.secret_access_key,
            self.session_token.clone(),
            None,
            "lambda-environment",
        );
        let mut b = SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(self.region.clone()))
            .credentials_provider(SharedCredentialsProvider::new(creds));
        if let Some(url) = &self.endpoint_url {
            b = b.endpoint_url(url);
        }
        // An AWS-compatible server is not AWS: its certificate is not Amazon's.
        b = b.http_client(if self.endpoint_url.is_some() || self.trust_system_store {
            https::system_https_client()
        } else {
            https::aws_https_client()
        });
        b.build()
    }

    /// Reads the variables; the error names the first one missing.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`Self::from_env`] over any source of variables (tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let var = |k: &str| lookup(k).filter(|v| !v.is_empty());
        let need = |k: &'static str| var(k).ok_or_else(|| format!("{k} is not set"));
        Ok(Self {
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .ok_or("AWS_REGION is not set")?,
            access_key_id: need("AWS_ACCESS_KEY_ID")?,
            secret_access_key: need("AWS_SECRET_ACCESS_KEY")?,
            session_token: var("AWS_SESSION_TOKEN"),
            endpoint_url: var("AWS_ENDPOINT_URL"),
            trust_system_store: match var("VIRAL_AWS_TRUST").as_deref() {
                None | Some("amazon") => false,
                Some("system") => true,
                Some(other) => {
                    return Err(format!(
                        "VIRAL_AWS_TRUST is {other:?}: use \"amazon\" (the default) or \"system\""
                    ));
                }
            },
        })
    }
}

/// Configuration for an AWS-compatible server on loopback (moto), with static test credentials.
pub async fn emulator_sdk_config(endpoint: &str) -> SdkConfig {
    let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "static");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .http_client(https::system_https_client())
        .load()
        .await
}

#[cfg(test)]
mod tests {
    use super::LambdaEnv;

    fn env(pairs: &[(&str, &str)]) -> Result<LambdaEnv, String> {
        let mut all = vec![
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ];
        all.extend_from_slice(pairs);
        LambdaEnv::from_lookup(|k| {
            all.iter()
                .rev()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    /// A Lambda links no fallback client (the SDK's `default-https-client` is the CLI's
    /// alone), so each configuration it builds must carry ours, or every call fails with
    /// "no HTTP client". The workspace's tests have the fallback (the CLI's feature), so this
    /// asks the configuration itself.
    #[tokio::test]
    async fn every_configuration_a_lambda_or_a_test_builds_carries_an_http_client() {
        for pairs in [
            &[][..],
            &[("VIRAL_AWS_TRUST", "system")][..],
            &[("AWS_ENDPOINT_URL", "http://127.0.0.1:1")][..],
        ] {
            let conf = env(pairs).unwrap().sdk_config();
            assert!(conf.http_client().is_some(), "{pairs:?}");
        }
        let conf = super::emulator_sdk_config("http://127.0.0.1:1").await;
        assert!(conf.http_client().is_some());
    }

    #[test]
    fn the_trusted_authorities_are_amazons_unless_told_otherwise() {
        assert!(!env(&[]).unwrap().trust_system_store);
        assert!(
            !env(&[("VIRAL_AWS_TRUST", "amazon")])
                .unwrap()
                .trust_system_store
        );
        assert!(
            env(&[("VIRAL_AWS_TRUST", "system")])
                .unwrap()
                .trust_system_store
        );
        let e = env(&[("VIRAL_AWS_TRUST", "everyone")]).unwrap_err();
        assert!(e.contains("VIRAL_AWS_TRUST") && e.contains("system"), "{e}");
        assert_eq!(
            LambdaEnv::from_lookup(|_| None).unwrap_err(),
            "AWS_REGION is not set"
        );
    }
}
