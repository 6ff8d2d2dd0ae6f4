use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use viral_core::domain::{ApiKey, Scope, Scopes};
use viral_core::service::{Credential, api_keys};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Path, Query};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateKeyRequest {
    /// 1–100 characters, not only spaces, no control characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    name: String,
    #[schema(schema_with = crate::list_schemas::key_scopes)]
    scopes: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ApiKeyView {
    id: String,
    name: String,
    /// The public part of the key, for recognising it.
    prefix: String,
    /// `null` when unrestricted.
    scopes: Option<Vec<String>>,
    created_by: String,
    created_at: String,
    revoked_at: Option<String>,
    /// When a dashboard session ends; `null` for keys that live until revoked.
    expires_at: Option<String>,
    /// When the key last authenticated a request (to within an hour); `null` if never.
    last_used_at: Option<String>,
}

impl From<&ApiKey> for ApiKeyView {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id.clone(),
            name: k.name.clone(),
            prefix: k.prefix.clone(),
            scopes: k
                .scopes
                .names()
                .map(|v| v.into_iter().map(str::to_owned).collect()),
            created_by: k.user_id.clone(),
            created_at: k.created_at.rfc3339(),
            revoked_at: k.revoked_at.map(|t| t.rfc3339()),
            expires_at: k.expires_at.map(|t| t.rfc3339()),
            last_used_at: k.last_used_at.map(|t| t.rfc3339()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct CreatedKey {
    #[serde(flatten)]
    view: ApiKeyView,
    /// The API key itself. Shown this once: only a hash is stored.
    key: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct KeyList {
    items: Vec<ApiKeyView>,
    /// Pass as `cursor` for the next page; absent on the last page.
    next_cursor: Option<String>,
}

/// Creates an API key. The secret is in the response once and never again.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    request_body = CreateKeyRequest,
    responses(
        (status = 201, body = CreatedKey),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Missing keys:manage, or scopes beyond the caller's", body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "Invalid name or scopes", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreateKeyRequest>,
) -> ApiResult<(StatusCode, axum::Json<CreatedKey>)> {
    p.require(Scope::KeysManage)?;
    let scopes = match &body.scopes {
        None => Scopes::ALL,
        Some(list) => Scopes::parse_list(list)?,
    };
    let issued = api_keys::issue_key(&*state.store, &*state.clock, &p, &body.name, scopes).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(CreatedKey {
            view: ApiKeyView::from(&issued.key),
            key: issued.token.expose().to_owned(),
        }),
    ))
}

/// The tenant's API keys, newest first, revoked ones included.
#[utoipa::path(get, path = "/v1/api-keys", tag = "api-keys", security(("bearer" = [])),
    params(crate::extract::ListParams),
    responses(
        (status = 200, body = KeyList),
        (status = 400, description = "Bad limit or cursor", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
    Query(params): Query<crate::extract::ListParams>,
) -> ApiResult<axum::Json<KeyList>> {
    p.require(Scope::KeysManage)?;
    let limit = crate::extract::page_limit(params.limit)?;
    let page = api_keys::list_keys(&*state.store, &p.tenant.id, limit, params.cursor).await?;
    Ok(axum::Json(KeyList {
        items: page.keys.iter().map(ApiKeyView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Revokes an API key at once, and the dashboard sessions bought with it. Revoking twice is
/// fine. A key may always revoke itself (a session signing out); other keys need keys:manage.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api-keys", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100, description = "The key's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Key lacks keys:manage (and is not the key being revoked)", body = ErrorBody),
        (status = 404, description = "No such key in this tenant", body = ErrorBody),
        (status = 409, description = "`last_owner_key`: the tenant's last owner key that can manage keys; create another first", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    // Any key may end itself (a dashboard session signing out); others need keys:manage.
    let own = matches!(&p.credential, Credential::ApiKey { key_id } if *key_id == id);
    if !own {
        p.require(Scope::KeysManage)?;
    }
    api_keys::revoke_key(&*state.store, &*state.clock, &p.tenant.id, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
