use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use viral_core::service::provider_health;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::Caller;
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub(crate) struct HealthView {
    /// Recent success rate, 0–1 (new providers start trusted).
    success_rate: f64,
    /// Mean seconds from submit to a fetched clip.
    mean_latency_s: f64,
    /// Failures in a row; at 3 the circuit opens for 5 minutes.
    consecutive_failures: u32,
    /// While open, routing tries this provider last.
    circuit_open: bool,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ProviderView {
    name: String,
    model: String,
    /// US cents per second rendered.
    cents_per_second: f64,
    /// Clip lengths it renders (seconds); empty when any length up to `max_clip_s` works.
    clip_durations: Vec<u32>,
    max_clip_s: u32,
    /// 1 (text-card preview) to 5.
    quality: u8,
    enabled: bool,
    /// `enabled`, or why it is off and what it needs.
    status: String,
    health: HealthView,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ConceptSourcesView {
    /// Where concept batches get trends: `youtube`, `gnews`, `youtube+gnews`, or `sample`
    /// (the dated offline set).
    trend_source: String,
    /// Who writes concepts: a model id, or `rules` (the offline writer).
    concept_writer: String,
    /// Whether any of them is a live API rather than the offline default.
    live: bool,
}

#[derive(Serialize, ToSchema)]
pub(crate) struct ProvidersResponse {
    providers: Vec<ProviderView>,
    concepts: ConceptSourcesView,
}

/// The video providers (price, limits, health, and whether this deployment uses them), and
/// where concepts come from.
#[utoipa::path(get, path = "/v1/providers", tag = "videos", security(("bearer" = [])),
    responses((status = 200, body = ProvidersResponse), (status = 401, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
pub(crate) async fn list(
    State(state): State<AppState>,
    Caller(_): Caller,
) -> ApiResult<Json<ProvidersResponse>> {
    let names: Vec<&str> = state
        .providers
        .iter()
        .map(|p| p.profile.name.as_str())
        .collect();
    let health = provider_health::get_all(&*state.store, &names).await?;
    let now = state.clock.now();
    let providers = state
        .providers
        .iter()
        .map(|p| {
            let h = health.get(&p.profile.name).cloned().unwrap_or_default();
            ProviderView {
                name: p.profile.name.clone(),
                model: p.profile.model.clone(),
                cents_per_second: p.profile.cents_per_second,
                clip_durations: p.profile.clip_durations.clone(),
                max_clip_s: p.profile.max_clip_s,
                quality: p.profile.quality,
                enabled: p.enabled,
                status: p.status.clone(),
                health: HealthView {
                    success_rate: h.success_rate(),
                    mean_latency_s: h.mean_latency_s,
                    consecutive_failures: h.consecutive_failures,
                    circuit_open: h.is_open(now),
                },
            }
        })
        .collect();
    let sources = &state.concept_sources;
    Ok(Json(ProvidersResponse {
        providers,
        concepts: ConceptSourcesView {
            trend_source: sources.trend_source.clone(),
            concept_writer: sources.writer.clone(),
            live: sources.trend_source != "sample" || sources.writer != "rules",
        },
    }))
}
