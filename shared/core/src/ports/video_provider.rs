//! VideoProvider: a text-to-video service, as submit → poll → fetch (every provider we use
//! works as a long-running task).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenderRequest {
    pub job_id: String,
    pub tenant_id: String,
    pub prompt: String,
    pub duration_s: f64,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    pub task_id: String,
    /// Seconds until a poll is worth making.
    pub eta_s: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum RenderStatus {
    Running { progress: u8 },
    Done,
    Failed { reason: String },
}

/// Classified so the workflow can decide: retry, fall back to another provider, or stop.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ProviderError {
    /// 429, 5xx, timeouts: worth retrying the same provider.
    #[error("provider temporarily unavailable: {0}")]
    Transient(String),
    /// Bad request, bad key, unsupported parameters: retrying will not help.
    #[error("provider refused the request: {0}")]
    Permanent(String),
    /// The provider's content policy rejected the prompt or output.
    #[error("provider rejected the content: {0}")]
    ContentRejected(String),
}

impl ProviderError {
    /// The error name the state machine's Retry and Catch match on.
    pub fn error_name(&self) -> &'static str {
        match self {
            ProviderError::Transient(_) => "Provider.Transient",
            ProviderError::Permanent(_) => "Provider.Permanent",
            ProviderError::ContentRejected(_) => "Provider.ContentRejected",
        }
    }
}

#[async_trait]
pub trait VideoProvider: Send + Sync {
    fn name(&self) -> &'static str;
    fn model(&self) -> &'static str;
    /// US cents per second of output.
    fn price_cents_per_second(&self) -> f64;
    /// Clip lengths it renders, in seconds; empty when any length up to `max_clip_s` works.
    fn clip_durations(&self) -> &'static [u32] {
        &[]
    }
    fn max_clip_s(&self) -> u32 {
        60
    }
    /// 1 (a text-card preview) to 5 (the best generative video), for routing.
    fn quality(&self) -> u8 {
        3
    }
    async fn submit(&self, req: &RenderRequest) -> Result<Submitted, ProviderError>;
    async fn poll(&self, task_id: &str) -> Result<RenderStatus, ProviderError>;
    async fn fetch(&self, task_id: &str) -> Result<Vec<u8>, ProviderError>;
}
