use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use viral_core::domain::Scope;
use viral_core::domain::concept::Concept;
use viral_core::service::concepts::{self, ConceptRequest, Feedback};

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Path, Query};
use crate::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateConceptsRequest {
    #[schema(schema_with = crate::list_schemas::concept_topics)]
    topics: Option<Vec<String>>,
    /// Two-letter country for trends, upper case, e.g. `US`.
    #[schema(pattern = r"^[A-Z]{2}$")]
    region: Option<String>,
    /// A trend category: lower-case letters and `-`, e.g. `science`.
    #[schema(pattern = r"^[a-z-]{1,40}$")]
    category: Option<String>,
    /// 1–10, default 5. Each concept delivered counts against the period's concept quota; a
    /// request for more than remains is refused whole (402 `quota_exceeded`, saying how many
    /// remain), never trimmed.
    #[schema(minimum = 1, maximum = 10)]
    count: Option<usize>,
    /// Length of the video each concept is written for: 5–60 s, default 15.
    #[schema(minimum = 5.0, maximum = 60.0)]
    duration_s: Option<f64>,
    /// The tenant's niche or brand line, steering the writing (at most 200 characters, no
    /// control characters).
    #[schema(max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    niche: Option<String>,
}

/// A batch of concepts: each with hook, timed beats, visual prompt, caption, hashtags, kind,
/// trend references and a predicted score.
#[derive(Serialize, ToSchema)]
pub(crate) struct BatchView {
    /// The batch, as `GET /v1/concept-batches/{id}` serves it again; each concept's own `id`
    /// is what `GET /v1/concepts/{id}` and `POST /v1/videos` take.
    batch_id: String,
    #[schema(value_type = Vec<Object>)]
    concepts: Vec<Concept>,
    /// `sample` (offline), `topic`, `youtube` or `gnews`.
    trend_source: String,
    /// `rules` (offline) or the model.
    writer: String,
    created_at: String,
}

/// Writes a batch of concepts from trends (or your topics), steered by what has worked for you.
#[utoipa::path(post, path = "/v1/concepts", tag = "concepts", security(("bearer" = [])),
    request_body = CreateConceptsRequest,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]+$", description = "1–255 visible ASCII characters; a retry with the same key and body returns the same batch")),
    responses(
        (status = 201, body = BatchView),
        (status = 200, description = "A replay of an earlier request with this Idempotency-Key", body = BatchView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 402, description = "`quota_exceeded`: fewer concepts remain in this period's quota than asked for; the message says how many remain and when the quota resets", body = ErrorBody),
        (status = 403, description = "Key lacks concepts:write", body = ErrorBody),
        (status = 409, description = "The same Idempotency-Key is still being written", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody),
        (status = 502, description = "The writer's answer was unusable", body = ErrorBody),
        (status = 503, description = "A trend source or the writer is unavailable", body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(p): Caller,
    headers: HeaderMap,
    Json(body): Json<CreateConceptsRequest>,
) -> ApiResult<Response> {
    p.require(Scope::ConceptsWrite)?;
    let key = crate::extract::idempotency_key(&headers)?;
    let request = ConceptRequest {
        topics: body.topics.unwrap_or_default(),
        region: body.region,
        category: body.category,
        count: body.count.unwrap_or(5),
        duration_s: body.duration_s.unwrap_or(15.0),
        niche: body.niche,
    };
    let done = concepts::generate(
        &*state.store,
        &*state.clock,
        &p.tenant,
        request,
        key.as_deref(),
        &*state.trends,
        &*state.writer,
    )
    .await?;
    let view = BatchView::from(done.batch);
    let status = if done.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut resp = (status, axum::Json(view)).into_response();
    if done.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

impl From<concepts::Batch> for BatchView {
    fn from(b: concepts::Batch) -> Self {
        BatchView {
            batch_id: b.id,
            concepts: b.concepts,
            trend_source: b.trend_source,
            writer: b.writer,
            created_at: b.created_at,
        }
    }
}

/// A batch of concepts as `POST /v1/concepts` answered it.
#[utoipa::path(get, path = "/v1/concept-batches/{id}", tag = "concepts", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100, description = "A `batch_id` from `POST /v1/concepts`")),
    responses((status = 200, body = BatchView), (status = 401, body = ErrorBody),
        (status = 404, description = "No such batch in this tenant", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn get_batch(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<BatchView>> {
    let batch = concepts::get_batch(&*state.store, &p.tenant.id, &id).await?;
    Ok(axum::Json(BatchView::from(batch)))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ConceptList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<Concept>,
    next_cursor: Option<String>,
}

/// The tenant's concepts, newest first.
#[utoipa::path(get, path = "/v1/concepts", tag = "concepts", security(("bearer" = [])),
    params(crate::extract::ListParams),
    responses((status = 200, body = ConceptList), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
    Query(q): Query<crate::extract::ListParams>,
) -> ApiResult<axum::Json<ConceptList>> {
    let limit = crate::extract::page_limit(q.limit)?;
    let (items, next_cursor) = concepts::list(&*state.store, &p.tenant.id, limit, q.cursor).await?;
    Ok(axum::Json(ConceptList { items, next_cursor }))
}

/// One concept.
#[utoipa::path(get, path = "/v1/concepts/{id}", tag = "concepts", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100, description = "Longer ids name nothing: 404")),
    responses((status = 200, body = Object), (status = 401, body = ErrorBody),
        (status = 404, description = "No such concept in this tenant", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Concept>> {
    Ok(axum::Json(
        concepts::get(&*state.store, &p.tenant.id, &id).await?,
    ))
}

/// How a published concept did on one platform. Besides each field's bounds, the service
/// refuses (422) more likes, comments, shares and saves together than ten per view, and an
/// `observed_at` before 2005 or more than a day ahead.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct FeedbackBody {
    #[schema(value_type = crate::routes::videos::PlatformName)]
    platform: String,
    #[schema(maximum = 100_000_000_000_u64)]
    views: u64,
    #[serde(default)]
    #[schema(maximum = 100_000_000_000_u64)]
    likes: u64,
    #[serde(default)]
    #[schema(maximum = 100_000_000_000_u64)]
    comments: u64,
    #[serde(default)]
    #[schema(maximum = 100_000_000_000_u64)]
    shares: u64,
    #[serde(default)]
    #[schema(maximum = 100_000_000_000_u64)]
    saves: u64,
    /// Share of viewers who watched to the end, 0–1.
    #[schema(minimum = 0.0, maximum = 1.0)]
    completion_rate: Option<f64>,
    /// Mean seconds watched, 0–3600.
    #[schema(minimum = 0.0, maximum = 3600.0)]
    watch_time_s: Option<f64>,
    /// When the figures were read (RFC 3339); default now.
    #[schema(format = DateTime, max_length = 64)]
    observed_at: Option<String>,
}

impl From<FeedbackBody> for Feedback {
    fn from(b: FeedbackBody) -> Self {
        Feedback {
            platform: b.platform,
            views: b.views,
            likes: b.likes,
            comments: b.comments,
            shares: b.shares,
            saves: b.saves,
            completion_rate: b.completion_rate,
            watch_time_s: b.watch_time_s,
            observed_at: b.observed_at,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub(crate) struct FeedbackRecorded {
    concept_id: String,
    platform: String,
    /// The engagement score (0–1) this observation gives the learner.
    score: f64,
    /// What the learner expected when the concept was written (0–1).
    predicted: f64,
    /// False when this replaced an earlier observation of the same concept and platform.
    first: bool,
}

/// How a published concept performed on a platform. Posting again for the same platform
/// replaces the earlier observation (it is not counted twice). Once a post of the concept on
/// that platform is measured by the metrics collector, its numbers replace a person's report
/// and more manual feedback there is refused (409 `feedback_measured`).
#[utoipa::path(post, path = "/v1/concepts/{id}/feedback", tag = "concepts", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100, description = "Longer ids name nothing: 404")),
    request_body = FeedbackBody,
    responses((status = 200, body = FeedbackRecorded), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`feedback_measured`: the collector measures this concept's post on this platform", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn feedback(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<FeedbackBody>,
) -> ApiResult<axum::Json<FeedbackRecorded>> {
    p.require(Scope::ConceptsWrite)?;
    let body = Feedback::from(body);
    let r =
        concepts::record_feedback(&*state.store, &*state.clock, &p.tenant.id, &id, body).await?;
    Ok(axum::Json(FeedbackRecorded {
        concept_id: r.concept_id,
        platform: r.platform,
        score: r.score,
        predicted: r.predicted,
        first: r.first,
    }))
}

/// What the learner believes works for this tenant (effects with uncertainty) and how its
/// predictions compared with outcomes, month by month.
#[utoipa::path(get, path = "/v1/insights", tag = "concepts", security(("bearer" = [])),
    responses((status = 200, description = "`{effects: [{feature, effect, sd}], observations, calibration: [[month, mean_abs_error, n]]}`", body = Object),
        (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn insights(
    State(state): State<AppState>,
    Caller(p): Caller,
) -> ApiResult<axum::Json<concepts::Insights>> {
    Ok(axum::Json(
        concepts::insights(&*state.store, &p.tenant.id).await?,
    ))
}
