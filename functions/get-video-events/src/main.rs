//! `GET /v1/videos/{id}/events` as its own Lambda: API Gateway maps this one route here.

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_workflow_route(const { viral_api::Route::GetVideoEvents.entry() })
        .await
}
