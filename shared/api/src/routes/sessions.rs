//! `POST /v1/sessions`: a short-lived key for the dashboard, from a one-time sign-in link or
//! from the credential the caller sends.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use viral_core::service::sessions;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, Json};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateSessionRequest {
    /// The one-time token of a sign-in link (`viral up`, `viral dashboard`). Omit it to start
    /// a session for the credential in `Authorization` (an API key pasted into the dashboard).
    #[schema(min_length = 46, max_length = 46, pattern = r"^vs_[A-Za-z0-9_-]{43}$")]
    sign_in_token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Session {
    /// A bearer credential like an API key that ends at `expires_at`. Keep it in memory or
    /// session storage, never somewhere that outlives the browser tab.
    token: String,
    /// Its id among the tenant's keys (`DELETE /v1/api-keys/{id}` ends it early).
    key_id: String,
    tenant_id: String,
    expires_at: String,
}

/// Starts a dashboard session: a short-lived key (12 h), from a sign-in link's one-time
/// token, or for the caller's own credential (same tenant, role and scopes).
#[utoipa::path(post, path = "/v1/sessions", tag = "account",
    request_body = CreateSessionRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 201, body = Session),
        (status = 400, body = ErrorBody),
        (status = 401, description = "The sign-in token is used, expired or wrong, or no valid credential was sent", body = ErrorBody),
        (status = 403, description = "The tenant is suspended", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    caller: Option<Caller>,
    Json(body): Json<CreateSessionRequest>,
) -> ApiResult<(StatusCode, axum::Json<Session>)> {
    let issued = match (body.sign_in_token, caller) {
        (Some(token), _) => {
            sessions::start_from_sign_in(&*state.store, &*state.clock, &token).await?
        }
        (None, Some(Caller(p))) => sessions::start_for(&*state.store, &*state.clock, &p).await?,
        (None, None) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_credentials",
                "send a sign_in_token, or Authorization: Bearer <API key>",
            ));
        }
    };
    let expires_at = issued
        .key
        .expires_at
        .map(|t| t.rfc3339())
        .unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        axum::Json(Session {
            token: issued.token.expose().to_owned(),
            key_id: issued.key.id.clone(),
            tenant_id: issued.key.tenant_id.clone(),
            expires_at,
        }),
    ))
}
