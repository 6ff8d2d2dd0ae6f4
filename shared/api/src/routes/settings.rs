//! The workspace's settings: today, how its videos are narrated unless a job says otherwise.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use viral_core::domain::{Scope, Tenant};
use viral_core::service::tenants;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json};
use crate::routes::videos::NarrationRequest;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct SettingsRequest {
    /// How videos are narrated when `POST /v1/videos` sends no `narration`; absent or `null`:
    /// the voice's own defaults.
    narration: Option<NarrationRequest>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct NarrationView {
    language: Option<String>,
    voice: Option<String>,
    speed: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct SettingsView {
    /// The default narration; `null` when none is set.
    narration: Option<NarrationView>,
}

impl From<&Tenant> for SettingsView {
    fn from(t: &Tenant) -> Self {
        Self {
            narration: t.narration.as_ref().map(|n| NarrationView {
                language: n.language.clone(),
                voice: n.voice.clone(),
                speed: n.speed,
            }),
        }
    }
}

/// The workspace's settings.
#[utoipa::path(get, path = "/v1/settings", tag = "account", security(("bearer" = [])),
    responses((status = 200, body = SettingsView), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn get(Caller(p): Caller) -> axum::Json<SettingsView> {
    axum::Json(SettingsView::from(&p.tenant))
}

/// Replaces the workspace's settings. A job that names its own `narration` keeps it; a job
/// without one takes this default when it is accepted (jobs accepted before keep theirs).
#[utoipa::path(put, path = "/v1/settings", tag = "account", security(("bearer" = [])),
    request_body = SettingsRequest,
    responses((status = 200, body = SettingsView), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, description = "The key lacks videos:write", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "A language tag, voice name or speed out of bounds", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn put(
    State(state): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<SettingsRequest>,
) -> ApiResult<axum::Json<SettingsView>> {
    p.require(Scope::VideosWrite)?;
    let narration = body.narration.map(NarrationRequest::into_narration);
    let tenant = tenants::set_narration(&*state.store, &p.tenant.id, narration).await?;
    Ok(axum::Json(SettingsView::from(&tenant)))
}
