use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use viral_core::domain::{Job, JobSpec, Scope};
use viral_core::ports::BlobKey;
use viral_core::service::videos;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Caller, Json, Path, Query};
use crate::state::AppState;

use viral_core::domain::concept::PLATFORMS;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateVideoRequest {
    /// A concept from `POST /v1/concepts` (its script becomes the video). Send this or
    /// `prompt`, not both.
    #[schema(min_length = 1, max_length = 100)]
    concept_id: Option<String>,
    /// Or a prompt: up to 2000 characters, not only spaces, no control characters but line
    /// breaks; each sentence becomes a card in the storyboard tier.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*$"
    )]
    prompt: Option<String>,
    /// `auto` (default: routed, with fallback) or a provider's name. A provider this
    /// deployment has not enabled (see `GET /v1/providers`), or that the plan's tier does not
    /// include, is refused with 422.
    #[schema(value_type = Option<String>, example = "auto", min_length = 1, max_length = 40, pattern = r"^[A-Za-z0-9._-]+$")]
    provider: Option<String>,
    /// Subset of `tiktok`, `youtube_shorts`, `instagram_reels` (default: all three, or the
    /// concept's).
    #[schema(value_type = Option<Vec<PlatformName>>, min_items = 1, max_items = 3)]
    platforms: Option<Vec<String>>,
    /// 5–60 s, default 15 (or the concept's).
    #[schema(minimum = 5.0, maximum = 60.0)]
    duration_s: Option<f64>,
    /// How the storyboard is narrated, when this deployment has a voice (`VIRAL_VOICE`);
    /// absent: the workspace's default (`PUT /v1/settings`); each field left out is the
    /// voice's own.
    narration: Option<NarrationRequest>,
}

/// A video's narration.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct NarrationRequest {
    /// Lower-case BCP 47 tag: `en-us` (default), `es`, `pt-br`.
    #[schema(
        min_length = 2,
        max_length = 12,
        pattern = r"^[a-z-]{2,12}$",
        example = "en-us"
    )]
    language: Option<String>,
    /// The engine's voice: `Joanna` (Polly), `en-gb` (espeak-ng), an ElevenLabs voice id.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[A-Za-z0-9_+-]{1,64}$",
        example = "Joanna"
    )]
    voice: Option<String>,
    /// Pace, 0.5 to 2.0 (1.0 is the voice's normal).
    #[schema(minimum = 0.5, maximum = 2.0)]
    speed: Option<f64>,
}

impl NarrationRequest {
    pub(crate) fn into_narration(self) -> viral_core::domain::Narration {
        viral_core::domain::Narration {
            language: self.language,
            voice: self.voice,
            speed: self.speed,
        }
    }
}

/// A platform a video is made and checked for.
#[derive(ToSchema)]
#[schema(as = PlatformName)]
#[allow(dead_code)] // documents the names; requests carry them as strings
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PlatformName {
    Tiktok,
    YoutubeShorts,
    InstagramReels,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct VideoView {
    id: String,
    /// queued, planning, rendering, validating, storing, succeeded or failed.
    status: String,
    /// 0–100.
    progress: u8,
    prompt: String,
    platforms: Vec<String>,
    duration_s: f64,
    /// How the storyboard is narrated (`language`, `voice`, `speed`): as the job asked, or
    /// the workspace's default when it asked nothing; absent: the voice's defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    narration: Option<Value>,
    provider: Option<String>,
    model: Option<String>,
    attempts: u32,
    /// What the job has committed to providers so far, in US cents: the estimated price of
    /// every clip a provider took (or may have taken), across attempts.
    cost_cents: u32,
    /// Most the job may spend on providers across all its attempts and clips (the plan's
    /// per-video cap when it was accepted).
    budget_cents: u32,
    /// How the current attempt was routed: provider, model, clips (seconds each), estimated
    /// cost in cents, the reason, and `degraded`.
    #[schema(value_type = Option<Object>)]
    routing: Option<Value>,
    /// True when no provider of the plan's quality could serve the job here, so it runs on a
    /// lower one (a storyboard preview); `routing.reason` says why.
    degraded: bool,
    /// Per-platform pass/fail with reasons, and what the MP4 really is.
    #[schema(value_type = Option<Object>)]
    validation: Option<Value>,
    /// A signed, expiring URL of the MP4 once the job has succeeded.
    video_url: Option<String>,
    /// Why `video_url` is empty although the job stored a video (e.g. `signing_failed`: the
    /// URL could not be signed just now; ask again). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    video_url_error: Option<String>,
    /// Signed, expiring URLs of the word-timed captions burned into the video, as files to
    /// upload beside it (platforms take them; they help accessibility and search). Absent
    /// when the video has none (provider clips, for now).
    #[serde(skip_serializing_if = "Option::is_none")]
    captions: Option<CaptionsView>,
    failure: Option<String>,
    created_at: String,
    updated_at: String,
}

/// The captions of a video, as files.
#[derive(Serialize, ToSchema)]
pub struct CaptionsView {
    /// WebVTT.
    vtt_url: String,
    /// SubRip.
    srt_url: String,
}

/// Signed URLs of the video's captions; `None` when it has none or they cannot be signed
/// just now (logged: the video itself is what matters).
async fn captions(state: &AppState, job: &Job) -> Option<CaptionsView> {
    let vtt = BlobKey::parse(job.captions_key.as_deref()?).ok()?;
    let srt = BlobKey::parse(&format!("{}.srt", vtt.as_str().strip_suffix(".vtt")?)).ok()?;
    let media = state.media.as_ref()?;
    let sign = |k: BlobKey| async move { media.media_url(&k, state.media_url_ttl).await };
    match (sign(vtt).await, sign(srt).await) {
        (Ok(vtt_url), Ok(srt_url)) => Some(CaptionsView { vtt_url, srt_url }),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(job_id = %job.id, error = %e, "cannot sign the captions' URLs");
            None
        }
    }
}

async fn view(state: &AppState, job: &Job) -> VideoView {
    let (video_url, video_url_error) = signed_url(state, job).await;
    VideoView {
        id: job.id.clone(),
        status: job.status.as_str().to_owned(),
        progress: job.status.progress(),
        prompt: job.spec.prompt.clone(),
        platforms: job.spec.platforms.clone(),
        duration_s: job.spec.duration_s,
        narration: job
            .spec
            .narration
            .as_ref()
            .and_then(|n| serde_json::to_value(n).ok()),
        provider: job.provider.clone(),
        model: job.model.clone(),
        attempts: job.attempts,
        cost_cents: job.spent_cents,
        budget_cents: job.budget_cents,
        routing: job.route.clone(),
        degraded: job.routing().is_some_and(|r| r.degraded),
        validation: job.validation.clone(),
        video_url,
        video_url_error,
        captions: captions(state, job).await,
        failure: job.failure.clone(),
        created_at: job.created_at.rfc3339(),
        updated_at: job.updated_at.rfc3339(),
    }
}

/// The video's signed URL, or why there is none although the job stored a video. A failure is
/// logged with the job id: an empty `video_url` with nothing said would look like a lost video.
async fn signed_url(state: &AppState, job: &Job) -> (Option<String>, Option<String>) {
    let Some(stored) = &job.video_key else {
        return (None, None);
    };
    let Some(media) = &state.media else {
        return (None, Some("media_not_served_here".into()));
    };
    let key = match BlobKey::parse(stored) {
        Ok(k) => k,
        Err(e) => {
            tracing::error!(job_id = %job.id, error = %e, "stored video key is not a valid key");
            return (None, Some("invalid_video_key".into()));
        }
    };
    match media.media_url(&key, state.media_url_ttl).await {
        Ok(url) => (Some(url), None),
        Err(e) => {
            tracing::error!(job_id = %job.id, error = %e, "cannot sign the video URL");
            (None, Some("signing_failed".into()))
        }
    }
}

/// The profiles of the providers this deployment uses.
pub(crate) fn enabled_profiles(
    state: &AppState,
) -> Vec<viral_core::domain::routing::ProviderProfile> {
    state
        .providers
        .iter()
        .filter(|p| p.enabled)
        .map(|p| p.profile.clone())
        .collect()
}

/// The concept a request names, if any (another tenant's is "not found").
async fn concept_of(
    state: &AppState,
    tenant_id: &str,
    body: &CreateVideoRequest,
) -> ApiResult<Option<viral_core::domain::concept::Concept>> {
    Ok(match &body.concept_id {
        Some(id) => Some(viral_core::service::concepts::get(&*state.store, tenant_id, id).await?),
        None => None,
    })
}

/// 503 `workflow_unavailable`: this deployment runs no workflow engine.
pub(crate) fn no_workflow(message: &str) -> ApiError {
    viral_core::Error::Unavailable {
        code: "workflow_unavailable",
        message: message.to_owned(),
    }
    .into()
}

fn invalid(m: &str) -> ApiError {
    viral_core::Error::Invalid(m.to_owned()).into()
}

/// The job a request asks for; with a concept, its hook and beats are the prompt and its
/// length and platforms the defaults.
fn spec_of(
    state: &AppState,
    body: CreateVideoRequest,
    concept: Option<&viral_core::domain::concept::Concept>,
) -> ApiResult<JobSpec> {
    if concept.is_some() && body.prompt.is_some() {
        return Err(invalid("send concept_id or prompt, not both"));
    }
    let prompt = match concept {
        Some(c) => c.video_prompt(),
        None => body.prompt.unwrap_or_default(),
    };
    let provider = body.provider.unwrap_or_else(|| "auto".into());
    let enabled: Vec<&str> = state
        .providers
        .iter()
        .filter(|p| p.enabled)
        .map(|p| p.profile.name.as_str())
        .collect();
    if provider != "auto" && !enabled.contains(&provider.as_str()) {
        return Err(invalid(&format!(
            "unknown or disabled provider {provider:?}; use auto or one of {} (GET /v1/providers says why others are off)",
            enabled.join(", ")
        )));
    }
    let platforms = body.platforms.unwrap_or_else(|| match concept {
        Some(c) => c.platforms.clone(),
        None => PLATFORMS.map(str::to_owned).to_vec(),
    });
    let duration_s = body
        .duration_s
        .unwrap_or_else(|| concept.map_or(15.0, |c| c.duration_s));
    Ok(JobSpec {
        prompt,
        concept_id: concept.map(|c| c.id.clone()),
        provider,
        platforms,
        duration_s,
        narration: body.narration.map(NarrationRequest::into_narration),
    }
    .checked()?)
}

#[derive(Serialize, ToSchema)]
pub(crate) struct Accepted {
    job_id: String,
    status: String,
    /// How the first attempt is routed: provider, model, clips (seconds each),
    /// estimated cost in cents, the reason, and `degraded`.
    #[schema(value_type = Option<Object>)]
    routing: Option<Value>,
    /// The first attempt's estimated provider cost, in US cents.
    estimated_cost_cents: u32,
    /// Most the job may spend on providers across all its attempts, in US cents.
    budget_cents: u32,
    /// True when this deployment cannot serve the plan's quality tier and the job runs on a
    /// lower-quality provider instead; `routing.reason` says why.
    degraded: bool,
}

/// Starts a video job: routes its first attempt (a named provider must be in the plan's tier
/// and fit the plan's per-video cost cap), reserves one video of the period's quota and runs
/// the workflow. The answer shows the routing decision and the estimated cost at once. Send
/// an `Idempotency-Key` header so that a retried request never costs twice.
#[utoipa::path(post, path = "/v1/videos", tag = "videos", security(("bearer" = [])),
    request_body = CreateVideoRequest,
    params(("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255, pattern = r"^[!-~]+$", description = "1–255 visible ASCII characters; a retry with the same key and body returns the same job")),
    responses(
        (status = 202, description = "Accepted; poll GET /v1/videos/{id}", body = Accepted),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 402, description = "`quota_exceeded`: no video left in this period's quota; `cost_cap_exceeded`: the named provider, or with `auto` the cheapest that can render it, costs more than the plan lets one video cost", body = ErrorBody),
        (status = 403, description = "Key lacks videos:write", body = ErrorBody),
        (status = 404, description = "Unknown concept", body = ErrorBody),
        (status = 422, description = "Invalid body (`invalid_request`), Idempotency-Key reused with another body (`idempotency_mismatch`), or a provider the plan's tier does not include (`provider_not_in_plan`)", body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    Caller(p): Caller,
    headers: HeaderMap,
    Json(body): Json<CreateVideoRequest>,
) -> ApiResult<Response> {
    p.require(Scope::VideosWrite)?;
    let concept = concept_of(&state, &p.tenant.id, &body).await?;
    let spec = spec_of(&state, body, concept.as_ref())?;
    let key = crate::extract::idempotency_key(&headers)?;
    let workflow = state
        .workflow
        .clone()
        .ok_or_else(|| no_workflow("this deployment cannot run video jobs yet"))?;
    let profiles = enabled_profiles(&state);
    let accepted = videos::accept(
        &*state.store,
        &*state.clock,
        &p.tenant,
        spec,
        key.as_deref(),
        &profiles,
    )
    .await?;
    // Starting is idempotent (the execution is named after the job), so a replay also makes
    // sure a job whose first start was lost does run.
    workflow
        .start_job(&p.tenant.id, &accepted.job.id)
        .await
        .map_err(viral_core::Error::from)?;
    let job = &accepted.job;
    let routing = job.routing();
    let mut resp = (
        StatusCode::ACCEPTED,
        axum::Json(Accepted {
            job_id: job.id.clone(),
            status: job.status.as_str().to_owned(),
            routing: job.route.clone(),
            estimated_cost_cents: routing.as_ref().map_or(0, |r| r.estimated_cost_cents),
            budget_cents: job.budget_cents,
            degraded: routing.is_some_and(|r| r.degraded),
        }),
    )
        .into_response();
    if accepted.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok(resp)
}

/// A video job: status, progress, provider, validation, and a signed URL once done.
#[utoipa::path(get, path = "/v1/videos/{id}", tag = "videos", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100, description = "Longer ids name nothing: 404")),
    responses((status = 200, body = VideoView), (status = 401, body = ErrorBody),
        (status = 404, description = "No such video in this tenant", body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<VideoView>> {
    let job = videos::get(&*state.store, &p.tenant.id, &id).await?;
    Ok(axum::Json(view(&state, &job).await))
}

#[derive(Serialize, ToSchema)]
pub(crate) struct VideoList {
    items: Vec<VideoView>,
    next_cursor: Option<String>,
}

/// The tenant's video jobs, newest first.
#[utoipa::path(get, path = "/v1/videos", tag = "videos", security(("bearer" = [])), params(crate::extract::ListParams),
    responses((status = 200, body = VideoList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(p): Caller,
    Query(q): Query<crate::extract::ListParams>,
) -> ApiResult<axum::Json<VideoList>> {
    let limit = crate::extract::page_limit(q.limit)?;
    let (jobs, next_cursor) = videos::list(&*state.store, &p.tenant.id, limit, q.cursor).await?;
    let mut items = Vec::with_capacity(jobs.len());
    for j in &jobs {
        items.push(view(&state, j).await);
    }
    Ok(axum::Json(VideoList { items, next_cursor }))
}

/// The job's workflow execution history, shaped like Step Functions' events.
#[utoipa::path(get, path = "/v1/videos/{id}/events", tag = "videos", security(("bearer" = [])),
    params(("id" = String, Path, min_length = 1, max_length = 100, description = "Longer ids name nothing: 404")),
    responses((status = 200, description = "`{status, history: [{id, timestamp, type, state, details}]}`", body = Object),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn events(
    State(state): State<AppState>,
    Caller(p): Caller,
    Path(id): Path<String>,
) -> ApiResult<axum::Json<Value>> {
    let job = videos::get(&*state.store, &p.tenant.id, &id).await?;
    let workflow = state
        .workflow
        .clone()
        .ok_or_else(|| no_workflow("this deployment cannot read executions yet"))?;
    let history = workflow
        .job_history(&p.tenant.id, &job.id)
        .await
        .map_err(viral_core::Error::from)?;
    Ok(axum::Json(history.unwrap_or_else(
        || serde_json::json!({"status": "NOT_STARTED", "history": []}),
    )))
}

/// Why a job would be refused: the code and message `POST /v1/videos` would answer with.
#[derive(Serialize, ToSchema)]
pub(crate) struct Refusal {
    /// `quota_exceeded`, `cost_cap_exceeded`, `provider_not_in_plan` or `invalid_request`.
    code: String,
    message: String,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct EstimateView {
    /// Whether `POST /v1/videos` with this body would be accepted now.
    allowed: bool,
    /// Why not, when `allowed` is false.
    refusal: Option<Refusal>,
    /// How the first attempt would be routed: provider, model, clips (seconds each),
    /// estimated cost in cents, the reason, and `degraded`.
    #[schema(value_type = Option<Object>)]
    routing: Option<Value>,
    /// The first attempt's estimated provider cost, in US cents (0 when refused).
    estimated_cost_cents: u32,
    /// Most the job may spend on providers across all its attempts, in US cents.
    budget_cents: u32,
    /// Videos left in this period's quota.
    videos_remaining: i64,
}

/// Estimates a video job before it is submitted: the same routing and plan checks as
/// `POST /v1/videos`, with nothing reserved, charged or started.
#[utoipa::path(post, path = "/v1/videos/estimate", tag = "videos", security(("bearer" = [])),
    request_body = CreateVideoRequest,
    responses(
        (status = 200, description = "The estimate, or why the job would be refused", body = EstimateView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "Key lacks videos:write", body = ErrorBody),
        (status = 404, description = "Unknown concept", body = ErrorBody),
        (status = 422, description = "Invalid body, or a provider this deployment has not enabled (`invalid_request`; `GET /v1/providers` says why)", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn estimate(
    State(state): State<AppState>,
    Caller(p): Caller,
    Json(body): Json<CreateVideoRequest>,
) -> ApiResult<axum::Json<EstimateView>> {
    p.require(Scope::VideosWrite)?;
    let concept = concept_of(&state, &p.tenant.id, &body).await?;
    let spec = spec_of(&state, body, concept.as_ref())?;
    let profiles = enabled_profiles(&state);
    let est = videos::estimate(&*state.store, &*state.clock, &p.tenant, &spec, &profiles).await?;
    let (routing, refusal, cost) = match est.decision {
        Ok(route) => {
            let cost = route.estimated_cost_cents;
            (serde_json::to_value(&route).ok(), None, cost)
        }
        Err(e) => {
            let e = ApiError::from(e);
            let refusal = Refusal {
                code: e.code.to_owned(),
                message: e.message,
            };
            (None, Some(refusal), 0)
        }
    };
    Ok(axum::Json(EstimateView {
        allowed: refusal.is_none(),
        refusal,
        routing,
        estimated_cost_cents: cost,
        budget_cents: est.budget_cents,
        videos_remaining: est.videos_remaining,
    }))
}
