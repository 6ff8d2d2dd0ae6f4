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
    /// Up to 5 topics to write about; without them, live trends (or the sample set).
    topics: Option<Vec<String>>,
    /// Two-letter country for trends, e.g. `US`.
    region: Option<String>,
    /// A trend category, e.g. `science`.
    category: Option<String>,
    /// 1–10, default 5. Each concept delivered counts against the period's concept quota; a
    /// request for more than remains is refused whole (402 `quota_exceeded`, saying how many
    /// remain), never trimmed.
    count: Option<usize>,
    /// Length of the video each concept is written for: 5–60 s, default 15.
    duration_s: Option<f64>,
    /// The tenant's niche or brand line, steering the writing (at most 200 characters).
    #[schema(max_length = 200)]
    niche: Option<String>,
}

/// A batch of concepts: each with hook, timed beats, visual prompt, caption, hashtags, kind,
/// trend references and a predicted score.
#[derive(Serialize, ToSchema)]
pub(crate) struct BatchView {
    id: String,
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
    params(("Idempotency-Key" = Option<String>, Header, description = "a retry with the same key and body returns the same batch")),
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
    let b = done.batch;
    let view = BatchView {
        id: b.id,
        concepts: b.concepts,
        trend_source: b.trend_source,
        writer: b.writer,
        created_at: b.created_at,
    };
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
    params(("id" = String, Path)),
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
/// replaces the earlier observation (it is not counted twice).
#[utoipa::path(post, path = "/v1/concepts/{id}/feedback", tag = "concepts", security(("bearer" = [])),
    params(("id" = String, Path)),
    request_body(content = Object, description = "`{platform, views, likes?, comments?, shares?, saves?, completion_rate? (0–1), watch_time_s?, observed_at? (RFC 3339, from 2005 to now)}`"),
    responses((status = 200, body = FeedbackRecorded), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn feedback(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Json(body): Json<Feedback>,
) -> ApiResult<axum::Json<FeedbackRecorded>> {
    p.require(Scope::ConceptsWrite)?;
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
