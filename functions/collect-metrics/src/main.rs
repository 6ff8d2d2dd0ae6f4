//! The metrics collector, run on a schedule.

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_metrics_collector().await
}
