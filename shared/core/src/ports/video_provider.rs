//! VideoProvider: a text-to-video service, as submit → poll → fetch (every provider we use
//! works as a long-running task).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RenderRequest {
    /// Unique per clip of an attempt: the same for every try of the same submit. A provider
    /// that can find a task by it does (see [`VideoProvider::lookup`]).
    pub idempotency_key: String,
    pub job_id: String,
    pub tenant_id: String,
    pub prompt: String,
    pub duration_s: f64,
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// How the job asked to be narrated (providers that narrate: the storyboard).
    #[serde(default)]
    pub narration: Option<crate::domain::job::Narration>,
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
    /// The job's own input cannot be rendered by any provider (checks at accept should have
    /// refused it): a second attempt would fail the same way, so the job ends at once.
    #[error("the job's input cannot be rendered: {0}")]
    InvalidInput(String),
    /// A submit whose outcome cannot be known: the request may have reached the provider (no
    /// answer, a connection cut after sending, an answer we could not read). It must not be
    /// sent again blindly: it may have been taken, and paid for.
    #[error("the provider may or may not have taken the request: {0}")]
    UnknownOutcome(String),
}

/// What a provider knows of a submit whose outcome we lost.
#[derive(Clone, Debug, PartialEq)]
pub enum Lookup {
    /// It took the task.
    Found(Submitted),
    /// It certainly has no task for this request: submitting again is safe.
    Absent,
    /// It cannot be asked.
    Unsupported,
}

impl ProviderError {
    /// The error name the state machine's Retry and Catch match on.
    pub fn error_name(&self) -> &'static str {
        match self {
            ProviderError::Transient(_) => "Provider.Transient",
            ProviderError::Permanent(_) => "Provider.Permanent",
            ProviderError::ContentRejected(_) => "Provider.ContentRejected",
            ProviderError::InvalidInput(_) => "Provider.InvalidInput",
            ProviderError::UnknownOutcome(_) => "Provider.UnknownOutcome",
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
    /// Starts a render. Paid: callers make at most one call per clip (see
    /// `service::submits`), so an implementation never repeats a request whose outcome it
    /// does not know — it answers [`ProviderError::UnknownOutcome`] instead.
    async fn submit(&self, req: &RenderRequest) -> Result<Submitted, ProviderError>;
    /// After `submit` failed with an error that says the task was not taken: whether the
    /// attempt spent money all the same, so that its estimate stays charged to the job's
    /// budget instead of going back. Saying yes also promises that a retry of the same
    /// request does not pay that money again (it reuses what was bought): the retry's claim
    /// is charged only what the kept charge does not cover. A provider that bills only the
    /// tasks it takes says no (the default); the storyboard says yes once its paid voice may
    /// have been asked.
    async fn spent_on_failed_submit(&self, _req: &RenderRequest) -> bool {
        false
    }
    /// Finds the task an earlier `submit` of this request made, if the provider can tell.
    async fn lookup(&self, _req: &RenderRequest) -> Result<Lookup, ProviderError> {
        Ok(Lookup::Unsupported)
    }
    async fn poll(&self, task_id: &str) -> Result<RenderStatus, ProviderError>;
    /// Polls, and hands over the finished video when the provider's answer already carries
    /// it (Veo's finished operation holds the video itself), so that it is downloaded once.
    /// By default the video comes from [`VideoProvider::fetch`].
    async fn poll_with_output(
        &self,
        task_id: &str,
    ) -> Result<(RenderStatus, Option<Vec<u8>>), ProviderError> {
        Ok((self.poll(task_id).await?, None))
    }
    async fn fetch(&self, task_id: &str) -> Result<Vec<u8>, ProviderError>;
}
