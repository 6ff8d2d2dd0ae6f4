//! The provider queue's consumer (SQS event source with `ReportBatchItemFailures`).

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_provider_worker().await
}
