use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use viral_core::domain::Tenant;
use viral_core::service::Credential;

use crate::error::ErrorBody;
use crate::extract::Caller;

#[derive(Serialize, ToSchema)]
pub(crate) struct TenantView {
    id: String,
    name: String,
    /// `free`, `starter`, `pro` or `agency`.
    plan: String,
    /// `active` or `suspended`.
    status: String,
    /// RFC 3339.
    created_at: String,
}

impl TenantView {
    /// The tenant with the plan in force at `now` (its subscriptions decide, once it has any).
    fn of(t: &Tenant, now: viral_core::Timestamp) -> Self {
        Self {
            id: t.id.clone(),
            name: t.name.clone(),
            plan: t.plan_at(now).as_str().to_owned(),
            status: t.status.as_str().to_owned(),
            created_at: t.created_at.rfc3339(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PrincipalView {
    /// `api_key` or `jwt`.
    kind: &'static str,
    user_id: String,
    /// `owner` or `member`.
    role: String,
    /// `null` when unrestricted.
    scopes: Option<Vec<String>>,
    /// The API key used, when `kind` is `api_key`.
    key_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct MeResponse {
    tenant: TenantView,
    principal: PrincipalView,
}

/// Who am I: the caller's tenant and credential.
#[utoipa::path(get, path = "/v1/me", tag = "account", security(("bearer" = [])),
    responses(
        (status = 200, body = MeResponse),
        (status = 401, description = "Missing or invalid credentials", body = ErrorBody),
        (status = 429, description = "Rate limited", body = ErrorBody)))]
pub(crate) async fn me(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    Caller(p): Caller,
) -> Json<MeResponse> {
    let (kind, key_id) = match &p.credential {
        Credential::ApiKey { key_id } => ("api_key", Some(key_id.clone())),
        Credential::Jwt { .. } => ("jwt", None),
    };
    Json(MeResponse {
        tenant: TenantView::of(&p.tenant, state.clock.now()),
        principal: PrincipalView {
            kind,
            user_id: p.user_id.clone(),
            role: p.role.as_str().to_owned(),
            scopes: p
                .scopes
                .names()
                .map(|v| v.into_iter().map(str::to_owned).collect()),
            key_id,
        },
    })
}
