//! `POST /v1/billing/portal` as its own Lambda: API Gateway maps this one route here.

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_billing_route(const { viral_api::Route::CreatePortal.entry() })
        .await
}
