//! The webhook dispatcher, run on a schedule.

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_webhook_dispatcher().await
}
