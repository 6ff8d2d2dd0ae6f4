//! Publishing a video and following its posts.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use viral_core::domain::Scope;
use viral_core::domain::account::Platform;
use viral_core::domain::post::{Post, PostStatus};
use viral_core::service::collector;
use viral_core::service::posts::{self, Filter, Target};

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Path, Query};
use crate::routes::accounts::social;
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublishRequest {
    /// One post per target, 1–10 accounts, each at most once.
    #[schema(value_type = Vec<TargetDoc>, min_items = 1, max_items = 10)]
    targets: Vec<Target>,
}

/// One account to post to. Title, caption and hashtags default to the video's concept; all
/// are cut to the platform's limits with a warning.
#[derive(ToSchema)]
#[allow(dead_code)] // documents `posts::Target`
pub(crate) struct TargetDoc {
    #[schema(min_length = 1, max_length = 100)]
    account_id: String,
    #[schema(max_length = 10000)]
    caption: Option<String>,
    /// YouTube (and sandbox) only.
    #[schema(max_length = 1000)]
    title: Option<String>,
    #[schema(schema_with = crate::list_schemas::post_hashtags)]
    hashtags: Option<Vec<String>>,
    /// In the platform's words: TikTok `PUBLIC_TO_EVERYONE`, `MUTUAL_FOLLOW_FRIENDS`,
    /// `FOLLOWER_OF_CREATOR`, `SELF_ONLY` (required: one of the creator's options, shown by
    /// `GET /v1/accounts/{id}`); YouTube `public` (default), `unlisted`, `private`; Instagram
    /// `public`; sandbox `public` (default) or `private`.
    #[schema(max_length = 40)]
    privacy: Option<String>,
    /// RFC 3339 with a zone, within the platform's window (TikTok 10 days, Instagram 29,
    /// YouTube and sandbox 30). Absent: now.
    #[schema(max_length = 64)]
    schedule_at: Option<String>,
    options: Option<OptionsDoc>,
}

#[derive(ToSchema)]
#[allow(dead_code)] // documents `posts::Options`
pub(crate) struct OptionsDoc {
    disable_comment: Option<bool>,
    /// TikTok.
    disable_duet: Option<bool>,
    /// TikTok.
    disable_stitch: Option<bool>,
    /// YouTube `selfDeclaredMadeForKids`; default false.
    made_for_kids: Option<bool>,
    /// YouTube category id, default `22`.
    #[schema(pattern = "^[0-9]{1,4}$")]
    category_id: Option<String>,
    /// The cover frame, ms from the start.
    cover_ms: Option<u64>,
    /// TikTok commercial-content disclosure: paid partnership.
    brand_content: Option<bool>,
    /// TikTok commercial-content disclosure: the creator's own business.
    brand_organic: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PostErrorView {
    /// Stable: `account_needs_reconnect`, `account_removed`, `publish_outcome_unknown`,
    /// `platform_unavailable`, `platform_processing_timeout`, or the platform's own code.
    code: String,
    message: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PostView {
    id: String,
    video_id: String,
    account_id: String,
    platform: String,
    /// Posts to the sandbox stay on this deployment; they are never public.
    sandbox: bool,
    /// `scheduled`, `queued`, `uploading`, `processing`, `published`, `failed`, `cancelled`.
    status: String,
    title: Option<String>,
    caption: String,
    /// As asked.
    privacy: String,
    /// As the platform applied it (an unaudited app's posts stay private), once published.
    privacy_applied: Option<String>,
    /// Always true: the platform's AI-generated label is set wherever it has one.
    ai_generated: bool,
    disable_comment: bool,
    disable_duet: bool,
    disable_stitch: bool,
    made_for_kids: bool,
    category_id: Option<String>,
    cover_ms: Option<u64>,
    brand_content: bool,
    brand_organic: bool,
    schedule_at: Option<String>,
    /// The earliest it goes out (its schedule, or when a posting limit resets).
    not_before: Option<String>,
    /// What was changed to fit the platform, and reschedules.
    warnings: Vec<String>,
    platform_post_id: Option<String>,
    /// The public URL, once the platform gives one.
    url: Option<String>,
    attempts: u32,
    /// Whether `DELETE /v1/posts/{id}` can still cancel it (it has not reached its platform).
    cancellable: bool,
    error: Option<PostErrorView>,
    created_at: String,
    updated_at: String,
    published_at: Option<String>,
}

impl From<&Post> for PostView {
    fn from(p: &Post) -> Self {
        let c = &p.content;
        Self {
            id: p.id.clone(),
            video_id: p.job_id.clone(),
            account_id: p.account_id.clone(),
            platform: p.platform.as_str().to_owned(),
            sandbox: p.platform == Platform::Sandbox,
            status: p.status.as_str().to_owned(),
            title: c.title.clone(),
            caption: c.caption.clone(),
            privacy: c.privacy.clone(),
            privacy_applied: p.privacy_applied.clone(),
            ai_generated: c.ai_generated,
            disable_comment: c.disable_comment,
            disable_duet: c.disable_duet,
            disable_stitch: c.disable_stitch,
            made_for_kids: c.made_for_kids,
            category_id: c.category_id.clone(),
            cover_ms: c.cover_ms,
            brand_content: c.brand_content,
            brand_organic: c.brand_organic,
            schedule_at: p.schedule_at.map(|t| t.rfc3339()),
            not_before: p.not_before.map(|t| t.rfc3339()),
            warnings: p.warnings.clone(),
            platform_post_id: p.platform_post_id.clone(),
            url: p.url.clone(),
            attempts: p.attempts,
            cancellable: p.cancellable(),
            error: p.error.as_ref().map(|e| PostErrorView {
                code: e.code.clone(),
                message: e.message.clone(),
            }),
            created_at: p.created_at.rfc3339(),
            updated_at: p.updated_at.rfc3339(),
            published_at: p.published_at.map(|t| t.rfc3339()),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PublishAnswer {
    posts: Vec<PostView>,
}

/// Publishes a succeeded video to connected accounts: one post per target, each through the
/// publish workflow (at most once per post; a replay with the same `Idempotency-Key` answers
/// with the same posts).
#[utoipa::path(post, path = "/v1/videos/{id}/publish", tag = "posts", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100),
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]+$", description = "1–255 visible ASCII characters")),
    request_body = PublishRequest,
    responses(
        (status = 202, body = PublishAnswer),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "The key lacks publish:write", body = ErrorBody),
        (status = 404, description = "No such video or account in this workspace", body = ErrorBody),
        (status = 409, description = "`video_not_ready`, or `account_needs_reconnect`", body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, description = "A rule the video fails on the target platform, a privacy the platform does not know, a schedule in the past or too far ahead, or an Idempotency-Key reused with another body", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 501, description = "`publishing_not_configured`", body = ErrorBody),
        (status = 503, description = "The publish workflow could not be started: the posts are saved; retry with the same Idempotency-Key", body = ErrorBody)))]
pub(crate) async fn publish(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(job_id): Path<String>,
    headers: HeaderMap,
    Json(body): Json<PublishRequest>,
) -> ApiResult<Response> {
    p.require(Scope::PublishWrite)?;
    let s = social(&state)?;
    let configured = s.publishers.platforms();
    let workflow = publish_workflow(&state)?;
    let key = crate::extract::idempotency_key(&headers)?;
    let created = posts::create(
        &*state.store,
        &*state.clock,
        &p.tenant.id,
        &job_id,
        body.targets,
        key.as_deref(),
        &configured,
    )
    .await?;
    // Starting is idempotent (executions are named after posts): a replay also starts a post
    // whose first start was lost. A failed start leaves the posts saved and untouched (nothing
    // reached a platform); the 503 says to retry with the same key, and the reconciler starts
    // them meanwhile.
    for post in &created.posts {
        if !post.status.is_terminal() {
            workflow
                .start_post(&p.tenant.id, &post.id)
                .await
                .map_err(viral_core::Error::from)?;
        }
    }
    let mut resp = (
        StatusCode::ACCEPTED,
        axum::Json(PublishAnswer {
            posts: created.posts.iter().map(PostView::from).collect(),
        }),
    )
        .into_response();
    if created.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct PostListParams {
    /// Page size, 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The previous page's `next_cursor`.
    #[param(min_length = 1, max_length = 1024)]
    cursor: Option<String>,
    /// Only posts in this status.
    #[param(schema_with = post_status_schema)]
    status: Option<String>,
    /// Only posts to this account.
    #[param(min_length = 1, max_length = 100)]
    account: Option<String>,
}

/// The statuses a post can be in, from the domain's own list.
fn post_status_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(PostStatus::ALL.map(PostStatus::as_str)))
        .build()
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PostList {
    /// Newest first. With a filter a page may hold fewer than `limit`; follow `next_cursor`.
    items: Vec<PostView>,
    next_cursor: Option<String>,
}

/// The workspace's posts, newest first.
#[utoipa::path(get, path = "/v1/posts", tag = "posts", security(("bearer" = [])),
    params(PostListParams),
    responses((status = 200, body = PostList), (status = 400, description = "Bad limit, cursor, status or account", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody), (status = 501, description = "`publishing_not_configured`", body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
    Query(q): Query<PostListParams>,
) -> ApiResult<axum::Json<PostList>> {
    social(&state)?;
    let limit = crate::extract::page_limit(q.limit)?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(PostStatus::parse(s).ok_or_else(|| {
            crate::extract::invalid_query(
                "status must be one of scheduled, queued, uploading, processing, published, failed, cancelled",
            )
        })?),
    };
    if q.account
        .as_ref()
        .is_some_and(|a| a.is_empty() || a.len() > 100)
    {
        return Err(crate::extract::invalid_query(
            "account must be an account id (1 to 100 characters)",
        ));
    }
    let filter = Filter {
        status,
        account_id: q.account,
    };
    let page = posts::list(&*state.store, &p.tenant.id, &filter, limit, q.cursor).await?;
    Ok(axum::Json(PostList {
        items: page.posts.iter().map(PostView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// One post: status, the platform's post id and URL once known, attempts and errors.
#[utoipa::path(get, path = "/v1/posts/{id}", tag = "posts", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100)),
    responses((status = 200, body = PostView), (status = 401, body = ErrorBody),
        (status = 404, description = "No such post in this workspace", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 501, description = "`publishing_not_configured`", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<PostView>> {
    social(&state)?;
    let post = posts::get(&*state.store, &p.tenant.id, &id).await?;
    Ok(axum::Json(PostView::from(&post)))
}

/// Cancels a post that has not reached its platform (scheduled or queued). Cancelling twice
/// is harmless.
#[utoipa::path(delete, path = "/v1/posts/{id}", tag = "posts", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100)),
    responses((status = 200, body = PostView), (status = 401, body = ErrorBody),
        (status = 403, description = "The key lacks publish:write", body = ErrorBody),
        (status = 404, description = "No such post in this workspace", body = ErrorBody),
        (status = 409, description = "`post_not_cancellable`: it reached the platform", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 501, description = "`publishing_not_configured`", body = ErrorBody)))]
pub(crate) async fn cancel(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<PostView>> {
    p.require(Scope::PublishWrite)?;
    let s = social(&state)?;
    let post = posts::cancel(&*state.store, &*state.clock, &s.limits, &p.tenant.id, &id).await?;
    Ok(axum::Json(PostView::from(&post)))
}

/// One observation of a published post's numbers. `null` is "the platform does not measure it
/// or said nothing", never 0.
#[derive(Serialize, ToSchema)]
pub(crate) struct ObservationView {
    observed_at: String,
    /// Hours since the post went out.
    age_hours: f64,
    views: Option<u64>,
    likes: Option<u64>,
    comments: Option<u64>,
    shares: Option<u64>,
    saves: Option<u64>,
    /// Mean seconds watched per view.
    avg_view_s: Option<f64>,
    /// Share of the video watched on average, 0–1.
    completion: Option<f64>,
    reach: Option<u64>,
    followers_gained: Option<i64>,
    /// Every number as the platform named it when it was fetched.
    #[schema(value_type = Object)]
    raw: std::collections::BTreeMap<String, f64>,
    /// Engagement, 0–1, by the platform's measure (null when nothing was viewed yet).
    score: Option<f64>,
    /// How much the learner counted it (young observations count less).
    weight: f64,
    /// From the sandbox channel's simulated audience.
    simulated: bool,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct PostMetrics {
    post_id: String,
    platform: String,
    published_at: Option<String>,
    /// When the numbers are fetched next; null once collection ended.
    next_at: Option<String>,
    /// Why collection waits or ended.
    note: Option<String>,
    /// Oldest first.
    observations: Vec<ObservationView>,
}

fn four(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// A published post's numbers over time, as the collector fetched them (1 h, 3 h, 6 h, 1 d,
/// 2 d, 7 d and 28 d after it went out).
#[utoipa::path(get, path = "/v1/posts/{id}/metrics", tag = "posts", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100)),
    responses((status = 200, body = PostMetrics), (status = 401, body = ErrorBody),
        (status = 404, description = "No such post in this workspace", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn metrics(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<PostMetrics>> {
    let (post, series) = collector::series(&*state.store, &p.tenant.id, &id).await?;
    Ok(axum::Json(PostMetrics {
        post_id: post.id.clone(),
        platform: post.platform.as_str().to_owned(),
        published_at: post.published_at.map(|t| t.rfc3339()),
        next_at: post.metrics_due.map(|t| t.rfc3339()),
        note: post.metrics_note.clone(),
        observations: series
            .into_iter()
            .map(|o| ObservationView {
                observed_at: o.observed_at.rfc3339(),
                age_hours: four(o.age_s as f64 / 3600.0),
                views: o.metrics.views,
                likes: o.metrics.likes,
                comments: o.metrics.comments,
                shares: o.metrics.shares,
                saves: o.metrics.saves,
                avg_view_s: o.metrics.avg_view_s,
                completion: o.metrics.completion,
                reach: o.metrics.reach,
                followers_gained: o.metrics.followers_gained,
                raw: o.metrics.raw,
                score: o.score.map(four),
                weight: four(o.weight),
                simulated: o.simulated,
            })
            .collect(),
    }))
}

/// The workflow that runs posts, or 503 while this deployment has none.
pub(crate) fn publish_workflow(
    state: &AppState,
) -> Result<std::sync::Arc<dyn viral_core::ports::Workflow>, ApiError> {
    state.workflow.clone().ok_or_else(|| {
        crate::routes::videos::no_workflow("this deployment cannot run the publish workflow yet")
    })
}
