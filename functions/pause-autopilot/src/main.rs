//! `POST /v1/autopilot/pause` as its own Lambda: API Gateway maps this one route here.

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_autopilot_route(const { viral_api::Route::PauseAutopilot.entry() })
        .await
}
