//! The publish workflow's `PollPost` step as its own Lambda (a Task of the state machine).

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_step(const { viral_steps::Step::PollPost.entry() }).await
}
