//! AWS adapters on the official SDK crates: DynamoDB (ItemStore), S3 (BlobStore), SQS (Queue)
//! and Secrets Manager (Secrets). Clients are built once from one `SdkConfig`, without network
//! calls, so a Lambda's init stays short.

mod attrs;
pub mod dynamodb;
mod errors;
pub mod s3;
pub mod secrets_manager;
pub mod sqs;

pub use dynamodb::DynamoItemStore;
pub use s3::S3BlobStore;
pub use secrets_manager::SecretsManagerSecrets;
pub use sqs::SqsQueue;

pub use aws_config::SdkConfig;

/// The SDK configuration from the environment (region, credentials, `AWS_ENDPOINT_URL`).
/// Reads environment and profile files only; credentials are fetched lazily on first use.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await
}

/// Configuration for an AWS-compatible server on loopback (moto), with static test credentials.
pub async fn emulator_sdk_config(endpoint: &str) -> SdkConfig {
    let creds = aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "static");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .load()
        .await
}
