//! Autopilot: the tenant's settings, the kill switch, the audit feed of runs, and the review
//! of runs that wait for a person.

use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use viral_core::domain::Scope;
use viral_core::domain::autopilot::{Approval, QuietHours, Run, Settings};
use viral_core::service::autopilot::{self, Runner, Stored};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Path, Query};
use crate::routes::accounts::social;
use crate::state::AppState;

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuietHoursBody {
    /// First quiet hour (local, 0–23).
    #[schema(minimum = 0, maximum = 23)]
    start: u8,
    /// First hour after the quiet (local, 0–23); equal to `start` means none.
    #[schema(minimum = 0, maximum = 23)]
    end: u8,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct AutopilotRequest {
    enabled: bool,
    /// What the channel is about, steering the concepts (at most 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    niche: Option<String>,
    #[schema(schema_with = crate::list_schemas::autopilot_categories)]
    categories: Option<Vec<String>>,
    #[schema(schema_with = crate::list_schemas::autopilot_regions)]
    regions: Option<Vec<String>>,
    #[schema(schema_with = crate::list_schemas::autopilot_targets)]
    targets: Vec<String>,
    #[schema(minimum = 1, maximum = 12)]
    posts_per_day: u32,
    /// The most autopilot spends on videos in one local day, in US dollars (0–1000).
    #[schema(minimum = 0, maximum = 1000)]
    daily_budget_usd: f64,
    /// Local hours with no runs and no posts; default 23–7.
    quiet_hours: Option<QuietHoursBody>,
    /// An IANA time zone, e.g. `Europe/Paris`; default `UTC`.
    #[schema(max_length = 64)]
    timezone: Option<String>,
    /// `auto` posts at once; `review` waits for a person. TikTok accounts always wait.
    #[schema(pattern = "^(auto|review)$")]
    approval: Option<String>,
    /// Length of each video, 5–60 s; default 15.
    #[schema(minimum = 5, maximum = 60)]
    duration_s: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AutopilotView {
    enabled: bool,
    niche: Option<String>,
    categories: Vec<String>,
    regions: Vec<String>,
    targets: Vec<String>,
    posts_per_day: u32,
    daily_budget_usd: f64,
    quiet_hours: QuietHoursBody,
    timezone: String,
    approval: String,
    duration_s: f64,
    /// The local hours at which the day's runs start.
    run_hours: Vec<u8>,
    updated_at: String,
    paused_at: Option<String>,
}

impl From<&Stored> for AutopilotView {
    fn from(s: &Stored) -> Self {
        let c = &s.settings;
        Self {
            enabled: c.enabled,
            niche: c.niche.clone(),
            categories: c.categories.clone(),
            regions: c.regions.clone(),
            targets: c.targets.clone(),
            posts_per_day: c.posts_per_day,
            daily_budget_usd: f64::from(c.daily_budget_cents) / 100.0,
            quiet_hours: QuietHoursBody {
                start: c.quiet_hours.start,
                end: c.quiet_hours.end,
            },
            timezone: c.timezone.clone(),
            approval: c.approval.as_str().into(),
            duration_s: c.duration_s,
            run_hours: c.slot_hours(),
            updated_at: s.updated_at.rfc3339(),
            paused_at: s.paused_at.map(|p| p.rfc3339()),
        }
    }
}

fn invalid(m: &str) -> ApiError {
    viral_core::Error::Invalid(m.to_owned()).into()
}

fn settings_of(b: AutopilotRequest) -> Result<Settings, ApiError> {
    if !(0.0..=1000.0).contains(&b.daily_budget_usd) || !b.daily_budget_usd.is_finite() {
        return Err(invalid("daily_budget_usd must be 0 to 1000"));
    }
    let approval = match b.approval.as_deref() {
        None | Some("auto") => Approval::Auto,
        Some("review") => Approval::Review,
        Some(_) => return Err(invalid("approval is auto or review")),
    };
    Ok(Settings {
        enabled: b.enabled,
        niche: b.niche,
        categories: b.categories.unwrap_or_default(),
        regions: b.regions.unwrap_or_default(),
        targets: b.targets,
        posts_per_day: b.posts_per_day,
        daily_budget_cents: (b.daily_budget_usd * 100.0).round() as u32,
        quiet_hours: b
            .quiet_hours
            .map_or(QuietHours { start: 23, end: 7 }, |q| QuietHours {
                start: q.start,
                end: q.end,
            }),
        timezone: b.timezone.unwrap_or_else(|| "UTC".into()),
        approval,
        duration_s: b.duration_s.unwrap_or(15.0),
    })
}

/// The tenant's schedule follows its settings (on AWS; locally `viral up` ticks everyone).
async fn sync(
    state: &AppState,
    tenant_id: &str,
    stored: &Stored,
    open: bool,
) -> Result<(), ApiError> {
    if let Some(schedules) = &state.autopilot_schedules {
        autopilot::sync_schedule(&**schedules, tenant_id, stored, open).await?;
    }
    Ok(())
}

/// Autopilot writes and posts videos, so changing it needs both scopes.
fn require_writer(p: &viral_core::service::Principal) -> Result<(), ApiError> {
    p.require(Scope::VideosWrite)?;
    p.require(Scope::PublishWrite)?;
    Ok(())
}

/// Sets the tenant's autopilot. Each enabled day has `posts_per_day` runs spread over the
/// waking hours in `timezone`; each run spends only within the plan's quotas and what is left
/// of `daily_budget_usd`, checked in the same write that reserves it.
#[utoipa::path(put, path = "/v1/autopilot", tag = "autopilot", security(("bearer" = [])),
    request_body = AutopilotRequest,
    responses((status = 200, body = AutopilotView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "The key lacks videos:write or publish:write", body = ErrorBody),
        (status = 409, description = "Changed meanwhile; read and retry", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "A setting out of bounds, an unknown time zone, or a target that is not one of this workspace's accounts", body = ErrorBody),
        (status = 429, body = ErrorBody),
        (status = 503, description = "Saved, but the schedule could not be updated: send the settings again", body = ErrorBody)))]
pub(crate) async fn put(
    State(state): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<AutopilotRequest>,
) -> ApiResult<axum::Json<AutopilotView>> {
    require_writer(&p)?;
    let settings = settings_of(body)?;
    let stored = autopilot::put(&*state.store, &*state.clock, &p.tenant.id, settings).await?;
    sync(&state, &p.tenant.id, &stored, false).await?;
    Ok(axum::Json(AutopilotView::from(&stored)))
}

/// The tenant's autopilot settings; 404 until it is set.
#[utoipa::path(get, path = "/v1/autopilot", tag = "autopilot", security(("bearer" = [])),
    responses((status = 200, body = AutopilotView), (status = 401, body = ErrorBody),
        (status = 404, description = "Autopilot was never set", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<axum::Json<AutopilotView>> {
    let stored = autopilot::get(&*state.store, &p.tenant.id)
        .await?
        .ok_or(viral_core::Error::NotFound("autopilot"))?;
    Ok(axum::Json(AutopilotView::from(&stored)))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PausedView {
    autopilot: AutopilotView,
    /// Scheduled autopilot posts taken back.
    cancelled_posts: Vec<String>,
    /// Runs that waited for review, ended.
    stopped_runs: Vec<String>,
}

/// The kill switch: no run, concept batch or video starts after it answers (each is written
/// under the condition that autopilot is on), scheduled autopilot posts are cancelled, runs
/// waiting for review end. A video already rendering finishes (its provider attempts
/// included), is settled against the day's budget, and is not posted.
#[utoipa::path(post, path = "/v1/autopilot/pause", tag = "autopilot", security(("bearer" = [])),
    responses((status = 200, body = PausedView), (status = 401, body = ErrorBody),
        (status = 403, description = "The key lacks videos:write or publish:write", body = ErrorBody),
        (status = 404, description = "Autopilot was never set", body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 503, description = "Paused, but the schedule could not be removed: pause again", body = ErrorBody)))]
pub(crate) async fn pause(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<axum::Json<PausedView>> {
    require_writer(&p)?;
    let default_limits;
    let limits = match &state.social {
        Some(s) => &s.limits,
        None => {
            default_limits = viral_core::domain::publish_limits::PublishLimits::default();
            &default_limits
        }
    };
    let paused = autopilot::pause(&*state.store, &*state.clock, limits, &p.tenant.id).await?;
    sync(&state, &p.tenant.id, &paused.stored, paused.still_open > 0).await?;
    Ok(axum::Json(PausedView {
        autopilot: AutopilotView::from(&paused.stored),
        cancelled_posts: paused.cancelled_posts,
        stopped_runs: paused.stopped_runs,
    }))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct RunList {
    /// Each run: `status` (`started`, `rendering`, `awaiting_review`, `posting`, `posted`,
    /// `skipped`, `failed`, `rejected`, `stopped`), `reason`, the trends, the concepts with the
    /// learner's `expected` ± `sd` and the `draw` the pick compared, the `pick` and `why`, the
    /// `job_id`, `reserved_cents` and `cost_cents`, the `placement` (account, hour, why) and
    /// the `posts`.
    #[schema(value_type = Vec<Object>)]
    items: Vec<Run>,
    next_cursor: Option<String>,
}

/// The audit feed: the tenant's runs, newest first.
#[utoipa::path(get, path = "/v1/autopilot/runs", tag = "autopilot", security(("bearer" = [])), params(crate::extract::ListParams),
    responses((status = 200, body = RunList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn runs(
    State(state): State<AppState>,
    Caller(p): Caller,
    Query(q): Query<crate::extract::ListParams>,
) -> ApiResult<axum::Json<RunList>> {
    let limit = crate::extract::page_limit(q.limit)?;
    let (items, next_cursor) =
        autopilot::list_runs(&*state.store, &p.tenant.id, limit, q.cursor).await?;
    Ok(axum::Json(RunList { items, next_cursor }))
}

/// One run.
#[utoipa::path(get, path = "/v1/autopilot/runs/{id}", tag = "autopilot", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100, description = "Longer ids name nothing: 404")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody),
        (status = 404, description = "No such run in this workspace", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn run(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Run>> {
    Ok(axum::Json(
        autopilot::get_run(&*state.store, &p.tenant.id, &id).await?,
    ))
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApproveRequest {
    /// The privacy to post with, where the platform asks the creator (TikTok: one of the
    /// account's `privacy_options`).
    #[schema(min_length = 1, max_length = 40)]
    privacy: Option<String>,
}

/// A person approves a run that waits for review: its video is posted (at the hour the run
/// chose, or at once if that has passed).
#[utoipa::path(post, path = "/v1/autopilot/runs/{id}/approve", tag = "autopilot", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100)),
    request_body = ApproveRequest,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "The key lacks publish:write", body = ErrorBody),
        (status = 404, description = "No such run in this workspace", body = ErrorBody),
        (status = 409, description = "`run_not_awaiting_review`", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 501, description = "`publishing_not_configured`", body = ErrorBody),
        (status = 503, description = "The publish workflow could not be started; approve again", body = ErrorBody)))]
pub(crate) async fn approve(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<ApproveRequest>,
) -> ApiResult<axum::Json<Run>> {
    p.require(Scope::PublishWrite)?;
    let s = social(&state)?;
    let platforms = s.publishers.platforms();
    let workflow = crate::routes::posts::publish_workflow(&state)?;
    let profiles = crate::routes::videos::enabled_profiles(&state);
    let runner = Runner {
        store: &*state.store,
        clock: &*state.clock,
        trends: &*state.trends,
        writer: &*state.writer,
        workflow: &*workflow,
        profiles: &profiles,
        platforms: &platforms,
        picker: viral_core::domain::autopilot::Picker::Thompson,
        seed: None,
        dashboard_url: &s.public_url,
    };
    let run = autopilot::approve(&runner, &p.tenant.id, &id, body.privacy).await?;
    Ok(axum::Json(run))
}

/// A person rejects a run that waits for review: nothing is posted; the video is kept.
#[utoipa::path(post, path = "/v1/autopilot/runs/{id}/reject", tag = "autopilot", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100)),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody),
        (status = 403, description = "The key lacks publish:write", body = ErrorBody),
        (status = 404, description = "No such run in this workspace", body = ErrorBody),
        (status = 409, description = "`run_not_awaiting_review`", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn reject(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Run>> {
    p.require(Scope::PublishWrite)?;
    Ok(axum::Json(
        autopilot::reject(&*state.store, &*state.clock, &p.tenant.id, &id).await?,
    ))
}
