//! `PUT /v1/autopilot` as its own Lambda: API Gateway maps this one route here.

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_autopilot_route(const { viral_api::Route::PutAutopilot.entry() })
        .await
}
