//! The video workflow's `JoinVideo` step as its own Lambda (a Task of the state machine):
//! joins the fetched clips and trims the result to the job's length.

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_step(const { viral_steps::Step::JoinVideo.entry() }).await
}
