use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub(crate) struct Health {
    /// Always `ok` when the process answers.
    status: &'static str,
    version: &'static str,
}

/// Liveness: answers without touching any backend.
#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, description = "The API process is up", body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    })
}
