//! The video workflow's steps. Each is one function with typed input and output, run by a
//! step Lambda on AWS and by the local ASL engine on a laptop; errors carry the names the
//! state machine's Retry and Catch match on.

pub mod metering;
pub mod simulated;
pub mod steps;
pub mod worker;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use viral_core::Clock;
use viral_core::ports::{BlobStore, ItemStore};
use viral_providers::Registry;

/// The workflow's own limit on one execution (`TimeoutSeconds` of the definition): a job's
/// clips may wait in their provider's queue for hours behind a burst, and still end.
pub const EXECUTION_TIMEOUT: Duration = Duration::from_secs(21_600);

/// When the reconciler ends a job still open (on AWS and locally): past the execution's own
/// timeout, plus a margin for the timeout's own Refund to run first.
pub const STUCK_AFTER: Duration = Duration::from_secs(21_600 + 600);

/// The workflow's Lambda-backed steps, each a Task of the definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    PlanJob,
    JoinVideo,
    RefundJob,
    CheckPost,
    UploadPost,
    PollPost,
    FailPost,
}

impl Step {
    pub const ALL: [Step; 7] = [
        Step::PlanJob,
        Step::JoinVideo,
        Step::RefundJob,
        Step::CheckPost,
        Step::UploadPost,
        Step::PollPost,
        Step::FailPost,
    ];

    /// The steps of the publish workflow (`statemachines/publish.asl.json`); the rest are the
    /// video workflow's.
    pub fn publishes(self) -> bool {
        matches!(
            self,
            Step::CheckPost | Step::UploadPost | Step::PollPost | Step::FailPost
        )
    }

    /// The function crate under `functions/` that runs this step on AWS.
    pub fn function_name(self) -> &'static str {
        match self {
            Step::PlanJob => "plan-job",
            Step::JoinVideo => "join-video",
            Step::RefundJob => "refund-job",
            Step::CheckPost => "check-post",
            Step::UploadPost => "upload-post",
            Step::PollPost => "poll-post",
            Step::FailPost => "fail-post",
        }
    }

    /// The `${…}` the definition uses for this step's function ARN.
    pub fn substitution(self) -> &'static str {
        match self {
            Step::PlanJob => "PlanJobFunctionArn",
            Step::JoinVideo => "JoinVideoFunctionArn",
            Step::RefundJob => "RefundJobFunctionArn",
            Step::CheckPost => "CheckPostFunctionArn",
            Step::UploadPost => "UploadPostFunctionArn",
            Step::PollPost => "PollPostFunctionArn",
            Step::FailPost => "FailPostFunctionArn",
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, StepError> {
    serde_json::from_value(v).map_err(|e| StepError::new("Step.BadInput", e.to_string()))
}

fn json<T: serde::Serialize>(r: Result<T, StepError>) -> Result<serde_json::Value, StepError> {
    r.and_then(|v| {
        serde_json::to_value(v).map_err(|e| StepError::new("Step.BadOutput", e.to_string()))
    })
}

/// A step on JSON: parse its input, run it, serialise its output.
pub type StepFuture<'a> =
    Pin<Box<dyn Future<Output = Result<serde_json::Value, StepError>> + Send + 'a>>;
type StepFn = for<'a> fn(&'a Deps, serde_json::Value) -> StepFuture<'a>;

/// What a step needs of the video providers. A step Lambda builds only that, so the steps
/// that never call a provider do not carry the provider clients (or the storyboard's encoder).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderNeeds {
    /// Nothing: the registry may be empty.
    Nothing,
    /// What routing knows of each enabled provider (price, clips, quality), no client. No
    /// step calls a provider: the provider worker submits, polls and fetches.
    Profiles,
}

/// One step's entry point. A step Lambda gets its own as a constant
/// (`const { Step::PlanJob.entry() }`), so its binary links that step's code alone; the local
/// engine looks each one up by name.
#[derive(Clone, Copy)]
pub struct StepEntry {
    pub step: Step,
    pub needs: ProviderNeeds,
    run: StepFn,
}

macro_rules! on_json {
    ($f:path) => {{
        fn run(d: &Deps, input: serde_json::Value) -> StepFuture<'_> {
            Box::pin(async move { json($f(d, parse(input)?).await) })
        }
        run
    }};
}

impl Step {
    /// This step's entry point (a `const fn`: a step Lambda evaluates it at compile time).
    pub const fn entry(self) -> StepEntry {
        use ProviderNeeds::{Nothing, Profiles};
        let (needs, run): (ProviderNeeds, StepFn) = match self {
            Step::PlanJob => (Profiles, on_json!(steps::plan_job)),
            Step::JoinVideo => (Nothing, on_json!(steps::join_video)),
            Step::RefundJob => (Nothing, on_json!(steps::refund_job)),
            Step::CheckPost => (Nothing, on_json!(steps::check_post)),
            Step::UploadPost => (Nothing, on_json!(steps::upload_post)),
            Step::PollPost => (Nothing, on_json!(steps::poll_post)),
            Step::FailPost => (Nothing, on_json!(steps::fail_post)),
        };
        StepEntry {
            step: self,
            needs,
            run,
        }
    }
}

impl StepEntry {
    /// Runs the step on its JSON input, every line it logs naming its tenant and job.
    pub async fn run(
        &self,
        d: &Deps,
        input: serde_json::Value,
    ) -> Result<serde_json::Value, StepError> {
        let field = |k: &str| {
            input
                .get(k)
                .and_then(|v| v.as_str())
                .unwrap_or("")
                .to_owned()
        };
        let span = tracing::info_span!(
            "step",
            step = self.step.function_name(),
            tenant_id = %field("tenant_id"),
            job_id = %field("job_id"),
            post_id = %field("post_id")
        );
        let work = tracing::Instrument::instrument((self.run)(d, input), span);
        metering::in_function(self.step.function_name(), work).await
    }
}

/// Runs one step on its JSON input: what the local engine calls (a step Lambda calls its own
/// [`StepEntry`]).
pub async fn run_step(
    d: &Deps,
    step: Step,
    input: serde_json::Value,
) -> Result<serde_json::Value, StepError> {
    step.entry().run(d, input).await
}

/// What the steps need, built once per process.
#[derive(Clone)]
pub struct Deps {
    pub store: Arc<dyn ItemStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Arc<dyn Clock>,
    pub providers: Registry,
    /// What the publish steps need; empty in a process that does not publish.
    pub social: Social,
    /// Whether the join burns captions into provider clips.
    pub provider_captions: ProviderCaptions,
    /// A voice that costs nothing (Piper, espeak-ng) reads the script under provider clips
    /// at the join, and their captions follow it; `None`: music and captions at reading
    /// pace. A paid voice is never called there: its price is not in a provider job's
    /// estimate, and its call would need an intent record of its own.
    pub narrator: Option<Arc<dyn viral_providers::voice::Voice>>,
}

/// How the join treats clips from a video provider, which come without our captions (the
/// storyboard draws its own). `VIRAL_PROVIDER_CAPTIONS`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProviderCaptions {
    /// Burn the script's words in (the clips are decoded, drawn on and encoded once) and
    /// store them as WebVTT and SubRip beside the video.
    #[default]
    Burn,
    /// Only store them as files: clips that match are joined without re-encoding.
    Files,
}

impl ProviderCaptions {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "burn" => Some(Self::Burn),
            "files" => Some(Self::Files),
            _ => None,
        }
    }
}

/// The publish steps' dependencies: a publisher per platform, the vault that opens the
/// accounts' tokens, and the posting limits.
#[derive(Clone, Default)]
pub struct Social {
    pub publishers: viral_core::ports::Publishers,
    pub vault: Option<Arc<dyn viral_core::ports::TokenVault>>,
    pub limits: viral_core::domain::publish_limits::PublishLimits,
}

/// A step's failure: `name` is what ASL `ErrorEquals` matches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {cause}")]
pub struct StepError {
    pub name: String,
    pub cause: String,
}

impl StepError {
    pub fn new(name: &str, cause: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            cause: cause.into(),
        }
    }
}

impl From<viral_core::Error> for StepError {
    fn from(e: viral_core::Error) -> Self {
        use viral_core::Error as E;
        use viral_core::ports::StoreError;
        let name = match &e {
            E::Store(StoreError::Conflict | StoreError::Throttled | StoreError::Backend(_)) => {
                "Store.Unavailable"
            }
            E::Blob(_) => "Blob.Unavailable",
            // A part of the deployment that is not running now: retried like the store.
            E::Unavailable { .. } | E::Workflow(_) => "Store.Unavailable",
            // A version race: the step reads again and goes on.
            E::Conflict(_) => "Store.Conflict",
            E::NotFound(_) => "Job.NotFound",
            E::Platform(
                viral_core::ports::PublishError::Transient(_)
                | viral_core::ports::PublishError::Unknown(_),
            )
            | E::Vault(viral_core::ports::VaultError::Unavailable(_)) => "Publish.Transient",
            E::Platform(_) => "Publish.Refused",
            _ => "Job.Invalid",
        };
        StepError::new(name, e.to_string())
    }
}

impl From<viral_core::ports::ProviderError> for StepError {
    fn from(e: viral_core::ports::ProviderError) -> Self {
        StepError::new(e.error_name(), e.to_string())
    }
}
