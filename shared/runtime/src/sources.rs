//! The trend source and concept writer of this process, from the configuration: clients
//! only (keys are read through the Secrets port on first use), each live source behind the
//! trend cache, several live sources merged.

use std::sync::Arc;
use std::time::Duration;

use viral_core::Clock;
use viral_core::ports::{ConceptWriter, ItemStore, RuleWriter, SampleTrends, Secrets, TrendSource};
use viral_core::service::trend_cache::CachedTrends;
use viral_core::service::trend_merge::MergedTrends;
use viral_providers::http::RetryPolicy;
use viral_providers::{AnthropicWriter, Credential, GNewsTrends, YouTubeTrends};

use crate::services::StartError;
use crate::source_config::SourceConfig;

fn start_err(name: &str, e: impl std::fmt::Display) -> StartError {
    StartError::Backend(format!("{name}: {e}"))
}

/// Trend sources retry twice, quickly: a concept request is waiting.
fn source_retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(300),
        max_delay: Duration::from_secs(3),
    }
}

pub fn trend_source(
    cfg: &SourceConfig,
    secrets: Arc<dyn Secrets>,
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
) -> Result<Arc<dyn TrendSource>, StartError> {
    let mut live: Vec<Arc<dyn TrendSource>> = Vec::new();
    for name in &cfg.trend_sources {
        let source: Arc<dyn TrendSource> = match name.as_str() {
            "youtube" => Arc::new(
                YouTubeTrends::new(
                    &cfg.youtube_base_url,
                    Credential::named(secrets.clone(), "YOUTUBE_API_KEY"),
                    clock.clone(),
                    source_retry(),
                )
                .map_err(|e| start_err(name, e))?,
            ),
            "gnews" => Arc::new(
                GNewsTrends::new(
                    &cfg.gnews_base_url,
                    Credential::named(secrets.clone(), "GNEWS_API_KEY"),
                    &cfg.gnews_lang,
                    source_retry(),
                )
                .map_err(|e| start_err(name, e))?,
            ),
            // The sample set is in the binary: nothing to cache.
            _ => return Ok(Arc::new(SampleTrends)),
        };
        live.push(Arc::new(CachedTrends::new(
            source,
            store.clone(),
            clock.clone(),
            cfg.trends_ttl,
        )));
    }
    Ok(match live.len() {
        1 => live.remove(0),
        _ => Arc::new(MergedTrends::new(live)),
    })
}

pub fn concept_writer(
    cfg: &SourceConfig,
    secrets: Arc<dyn Secrets>,
) -> Result<Arc<dyn ConceptWriter>, StartError> {
    Ok(match cfg.writer.as_str() {
        "anthropic" => Arc::new(
            AnthropicWriter::new(
                &cfg.anthropic_base_url,
                Credential::named(secrets, "ANTHROPIC_API_KEY"),
                &cfg.anthropic_model,
                cfg.anthropic_timeout,
                RetryPolicy {
                    attempts: 3,
                    base_delay: Duration::from_secs(1),
                    max_delay: Duration::from_secs(5),
                },
            )
            .map_err(|e| start_err("anthropic", e))?
            .with_price(cfg.anthropic_price),
        ),
        _ => Arc::new(RuleWriter),
    })
}
