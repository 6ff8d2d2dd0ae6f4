use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use viral_core::domain::analytics::Group;
use viral_core::service::analytics::{self, AnalyticsQuery};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Query};
use crate::state::AppState;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct AnalyticsParams {
    /// What to group the posts by (default `category`).
    #[param(pattern = "^(category|format|hook|platform|account|provider|hour|length|voice)$")]
    group_by: Option<String>,
    /// What the groups are ordered by, largest first (default `views`).
    #[param(pattern = "^(views|likes|comments|shares|saves|engagement)$")]
    metric: Option<String>,
    /// Posts published at or after this RFC 3339 time (default 28 days before `to`).
    #[param(max_length = 64, format = DateTime)]
    from: Option<String>,
    /// Posts published before this RFC 3339 time (default now); at most 366 days after `from`.
    #[param(max_length = 64, format = DateTime)]
    to: Option<String>,
}

/// One group of posts.
#[derive(Serialize, ToSchema)]
pub(crate) struct GroupView {
    /// The group: a category, format, hook style, platform, provider, hour block (`16-20`,
    /// in the tenant's autopilot zone, else UTC), length band (`10-20s`), voice (`default` or
    /// the voice the job named) or account id; `unknown` for posts without that feature.
    key: String,
    posts: u32,
    views: Option<u64>,
    likes: Option<u64>,
    comments: Option<u64>,
    shares: Option<u64>,
    saves: Option<u64>,
    /// Likes per view over the posts reporting both.
    like_rate: Option<f64>,
    /// Shares per view over the posts reporting both.
    share_rate: Option<f64>,
    /// Mean engagement (0–1) by each platform's measure.
    engagement: f64,
    /// Mean engagement the learner predicted for these posts.
    predicted: f64,
    /// The learner's effect of this group on engagement now, and its standard deviation
    /// (`null` for accounts, and for groups the learner has no feature for).
    effect: Option<f64>,
    effect_sd: Option<f64>,
    /// Every post here is from the sandbox's simulated audience.
    simulated: bool,
}

impl From<Group> for GroupView {
    fn from(g: Group) -> Self {
        Self {
            key: g.key,
            posts: g.posts,
            views: g.views,
            likes: g.likes,
            comments: g.comments,
            shares: g.shares,
            saves: g.saves,
            like_rate: g.like_rate,
            share_rate: g.share_rate,
            engagement: g.engagement,
            predicted: g.predicted,
            effect: g.effect,
            effect_sd: g.effect_sd,
            simulated: g.simulated,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct AnalyticsView {
    group_by: String,
    metric: String,
    from: String,
    to: String,
    /// Posts published in the period with at least one collected observation.
    posts: u32,
    /// Largest first by `metric`.
    groups: Vec<GroupView>,
    /// Mean |predicted − observed| engagement over these posts; `null` without posts.
    calibration_error: Option<f64>,
    /// More posts than one answer reads (5,000): the figures cover the first of them.
    truncated: bool,
}

/// How the workspace's published posts did, grouped: totals (summed over the posts that
/// reported each number; `null` when none did), likes and shares per view, mean engagement
/// against what the learner predicted, and the learner's current effect ± sd per group. Each
/// post counts with its newest collected observation.
#[utoipa::path(get, path = "/v1/analytics", tag = "posts", security(("bearer" = [])),
    params(AnalyticsParams),
    responses((status = 200, body = AnalyticsView),
        (status = 400, description = "An unknown parameter", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 422, description = "A group, metric or time the API does not take, or a period the wrong way round or over 366 days", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(p): Caller,
    Query(q): Query<AnalyticsParams>,
) -> ApiResult<axum::Json<AnalyticsView>> {
    let query = AnalyticsQuery::parse(
        q.group_by.as_deref(),
        q.metric.as_deref(),
        q.from.as_deref(),
        q.to.as_deref(),
        state.clock.now(),
    )?;
    let a = analytics::analytics(&*state.store, &p.tenant.id, &query).await?;
    Ok(axum::Json(AnalyticsView {
        group_by: a.group_by.to_owned(),
        metric: a.metric.to_owned(),
        from: a.from,
        to: a.to,
        posts: a.posts,
        groups: a.groups.into_iter().map(GroupView::from).collect(),
        calibration_error: a.calibration_error,
        truncated: a.truncated,
    }))
}
