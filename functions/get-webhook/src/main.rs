//! `GET /v1/webhooks/{id}` as its own Lambda: API Gateway maps this one route here.

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_route(const { viral_api::Route::GetWebhook.entry() }).await
}
