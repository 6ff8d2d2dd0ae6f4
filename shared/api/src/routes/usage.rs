use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use viral_core::domain::Scope;
use viral_core::domain::usage::Counter;
use viral_core::service::usage::current_usage;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub(crate) struct CounterView {
    used: i64,
    limit: i64,
    remaining: i64,
}

impl From<&Counter> for CounterView {
    fn from(c: &Counter) -> Self {
        Self {
            used: c.used,
            limit: c.limit,
            remaining: c.remaining(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct UsageResponse {
    /// The period counted: `YYYY-MM` (a calendar month, UTC) or, while a subscription gives
    /// the plan, its billing period's start (RFC 3339).
    period: String,
    /// When the period began (RFC 3339).
    period_start: String,
    plan: String,
    concepts: CounterView,
    videos: CounterView,
    /// When the counters start again (RFC 3339).
    resets_at: String,
}

/// This period's usage against the plan's limits.
#[utoipa::path(get, path = "/v1/usage", tag = "account", security(("bearer" = [])),
    responses(
        (status = 200, body = UsageResponse),
        (status = 401, body = ErrorBody),
        (status = 403, description = "Key lacks usage:read", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn usage(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<Json<UsageResponse>> {
    p.require(Scope::UsageRead)?;
    let u = current_usage(&*state.store, &*state.clock, &p.tenant).await?;
    Ok(Json(UsageResponse {
        period: u.period.key.clone(),
        period_start: u.period.start.rfc3339(),
        plan: u.plan.as_str().to_owned(),
        concepts: CounterView::from(&u.concepts),
        videos: CounterView::from(&u.videos),
        resets_at: u.resets_at.rfc3339(),
    }))
}
