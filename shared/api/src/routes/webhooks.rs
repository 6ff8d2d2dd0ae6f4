use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use viral_core::domain::Scope;
use viral_core::domain::webhook::{Delivery, Webhook};
use viral_core::service::webhooks;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Path, Query};
use crate::state::AppState;

fn vault(state: &AppState) -> Result<&dyn viral_core::ports::TokenVault, ApiError> {
    state.social.as_ref().map(|s| &*s.vault).ok_or_else(|| {
        viral_core::Error::NotConfigured {
            code: "webhooks_not_configured",
            message: "this deployment has no token vault to seal webhook secrets".into(),
        }
        .into()
    })
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateWebhookRequest {
    /// Where deliveries are POSTed: an https URL on a public address (no credentials, no
    /// private, loopback, link-local or metadata address), at most 2,048 bytes.
    #[schema(max_length = 2048, pattern = "^https?://")]
    url: String,
    #[schema(schema_with = crate::list_schemas::webhook_events)]
    events: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookView {
    id: String,
    url: String,
    events: Vec<String>,
    created_at: String,
}

impl From<&Webhook> for WebhookView {
    fn from(w: &Webhook) -> Self {
        Self {
            id: w.id.clone(),
            url: w.url.clone(),
            events: w.events.clone(),
            created_at: w.created_at.rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedWebhook {
    #[serde(flatten)]
    webhook: WebhookView,
    /// The signing secret (`whsec_…`): shown this once. Each delivery carries
    /// `Viral-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body" with it>`.
    secret: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct WebhookList {
    items: Vec<WebhookView>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryView {
    id: String,
    /// The event's id: the same in every delivery of it (drop duplicates by it).
    event_id: String,
    event_type: String,
    /// `pending`, `delivered`, or `dead` (failed for 24 hours; kept as a dead-letter record).
    status: String,
    attempts: u32,
    next_at: Option<String>,
    /// The endpoint's last HTTP status.
    last_status: Option<u16>,
    last_error: Option<String>,
    created_at: String,
    delivered_at: Option<String>,
    /// The JSON body as it was signed and sent.
    body: String,
}

impl From<&Delivery> for DeliveryView {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id.clone(),
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            status: d.status.as_str().to_owned(),
            attempts: d.attempts,
            next_at: d.next_at.map(|t| t.rfc3339()),
            last_status: d.last_status,
            last_error: d.last_error.clone(),
            created_at: d.created_at.rfc3339(),
            delivered_at: d.delivered_at.map(|t| t.rfc3339()),
            body: d.body.clone(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryList {
    /// Newest first.
    items: Vec<DeliveryView>,
    next_cursor: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeliveryListParams {
    /// Page size, 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The previous page's `next_cursor`.
    #[param(min_length = 1, max_length = 1024)]
    cursor: Option<String>,
}

/// Registers an endpoint for events; the answer holds its signing secret, once.
#[utoipa::path(post, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhookRequest,
    responses((status = 201, body = CreatedWebhook),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "The key lacks keys:manage", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "A URL that is not https or points at a private address, an unknown event, or the 10 endpoints a workspace may have", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 501, description = "`webhooks_not_configured`", body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreateWebhookRequest>,
) -> ApiResult<Response> {
    p.require(Scope::KeysManage)?;
    let vault = vault(&state)?;
    let created = webhooks::create(
        &*state.store,
        vault,
        &*state.clock,
        &p.tenant.id,
        &body.url,
        &body.events,
        state.allow_loopback,
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedWebhook {
            webhook: WebhookView::from(&created.webhook),
            secret: created.secret.expose().to_owned(),
        }),
    )
        .into_response())
}

/// The workspace's endpoints.
#[utoipa::path(get, path = "/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = WebhookList), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<axum::Json<WebhookList>> {
    let all = webhooks::list(&*state.store, &p.tenant.id).await?;
    Ok(axum::Json(WebhookList {
        items: all.iter().map(WebhookView::from).collect(),
    }))
}

/// One endpoint (its secret is never shown again).
#[utoipa::path(get, path = "/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100)),
    responses((status = 200, body = WebhookView), (status = 401, body = ErrorBody),
        (status = 404, description = "No such webhook in this workspace", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<WebhookView>> {
    let w = webhooks::get(&*state.store, &p.tenant.id, &id).await?;
    Ok(axum::Json(WebhookView::from(&w)))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Deleted {
    deleted: bool,
}

/// Deletes an endpoint; its pending deliveries are dead-lettered when next due.
#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100)),
    responses((status = 200, body = Deleted), (status = 401, body = ErrorBody),
        (status = 403, description = "The key lacks keys:manage", body = ErrorBody),
        (status = 404, description = "No such webhook in this workspace", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn delete(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Deleted>> {
    p.require(Scope::KeysManage)?;
    webhooks::delete(&*state.store, &p.tenant.id, &id).await?;
    Ok(axum::Json(Deleted { deleted: true }))
}

/// An endpoint's deliveries, newest first: status, attempts, the endpoint's last answer.
#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100), DeliveryListParams),
    responses((status = 200, body = DeliveryList), (status = 400, description = "Bad limit or cursor", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, description = "No such webhook in this workspace", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn deliveries(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Query(q): Query<DeliveryListParams>,
) -> ApiResult<axum::Json<DeliveryList>> {
    let limit = crate::extract::page_limit(q.limit)?;
    let (items, next_cursor) =
        webhooks::deliveries(&*state.store, &p.tenant.id, &id, limit, q.cursor).await?;
    Ok(axum::Json(DeliveryList {
        items: items.iter().map(DeliveryView::from).collect(),
        next_cursor,
    }))
}

/// Sends a delivery again now (a dead-lettered one too): one more attempt.
#[utoipa::path(post, path = "/v1/webhooks/{id}/deliveries/{delivery}/retry", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100), ("delivery" = String, Path, min_length = 1, max_length = 100)),
    responses((status = 202, body = DeliveryView), (status = 401, body = ErrorBody),
        (status = 403, description = "The key lacks keys:manage", body = ErrorBody),
        (status = 404, description = "No such webhook or delivery in this workspace", body = ErrorBody),
        (status = 409, description = "`already_delivered`", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn retry(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path((id, delivery)): Path<(String, String)>,
) -> ApiResult<Response> {
    p.require(Scope::KeysManage)?;
    let d = webhooks::retry(&*state.store, &*state.clock, &p.tenant.id, &id, &delivery).await?;
    Ok((StatusCode::ACCEPTED, axum::Json(DeliveryView::from(&d))).into_response())
}
