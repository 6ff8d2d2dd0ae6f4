//! The publish workflow's `UploadPost` step as its own Lambda (a Task of the state machine).

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_step(const { viral_steps::Step::UploadPost.entry() }).await
}
