//! The AWS adapters against the port conformance suites, on moto in server mode (started by
//! `tests/run`). No hand-written fake of an AWS API is involved.

use std::sync::Arc;

use viral_aws::{
    DynamoItemStore, S3BlobStore, SecretsManagerSecrets, SqsQueue, emulator_sdk_config,
};
use viral_testkit::{moto_endpoint, unique};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_item_store_conforms() {
    let conf = emulator_sdk_config(&moto_endpoint()).await;
    let store = DynamoItemStore::from_conf(&conf, &unique("viral-items-"));
    store.create_table().await.expect("create table on moto");
    viral_testkit::item_store::run_all(Arc::new(store)).await;
}

#[tokio::test]
async fn s3_blob_store_conforms() {
    let conf = emulator_sdk_config(&moto_endpoint()).await;
    let store = S3BlobStore::from_conf(&conf, &unique("viral-media-").to_lowercase(), true);
    store.create_bucket().await.expect("create bucket on moto");
    let http = reqwest::Client::new();
    let fetch = |url: String| {
        let http = http.clone();
        async move {
            let resp = http.get(&url).send().await.ok()?;
            if resp.status().is_success() {
                Some(resp.bytes().await.ok()?.to_vec())
            } else {
                None
            }
        }
    };
    viral_testkit::blob_store::run_all(&store, fetch).await;
}

#[tokio::test]
async fn sqs_queue_conforms() {
    let conf = emulator_sdk_config(&moto_endpoint()).await;
    let (q, dlq) = SqsQueue::create_with_redrive(&conf, &unique("viral-jobs-"), 2)
        .await
        .expect("create queues on moto");
    viral_testkit::queue::run_all(&q, &dlq).await;
}

#[tokio::test]
async fn secrets_manager_conforms() {
    let conf = emulator_sdk_config(&moto_endpoint()).await;
    let prefix = format!("{}/", unique("viral-"));
    let secrets = SecretsManagerSecrets::from_conf(&conf, &prefix);
    secrets
        .create("VIRAL_TEST_SECRET", "s3cr3t-value")
        .await
        .expect("create secret on moto");
    viral_testkit::secrets::run_all(&secrets).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_from_the_lambda_environment_conforms() {
    // The client Lambdas build: region, credentials and endpoint without aws-config.
    let env = viral_aws::LambdaEnv {
        region: "us-east-1".into(),
        access_key_id: "test".into(),
        secret_access_key: "test".into(),
        session_token: Some("token".into()),
        endpoint_url: Some(moto_endpoint()),
    };
    let store = DynamoItemStore::from_lambda_env(&env, &unique("viral-lambda-"));
    store.create_table().await.expect("create table on moto");
    viral_testkit::item_store::run_all(Arc::new(store)).await;
}
