//! `POST /v1/concepts` as its own Lambda: API Gateway maps this one route here.

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_concepts_route(const { viral_api::Route::CreateConcepts.entry() })
        .await
}
