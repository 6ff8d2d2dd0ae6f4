//! `GET /v1/posts/{id}` as its own Lambda: API Gateway maps this one route here.

#[tokio::main]
async fn main() -> Result<(), viral_runtime::lambda::Error> {
    viral_runtime::lambda::serve_social_route(const { viral_api::Route::GetPost.entry() }).await
}
