//! The video workflow's steps. Each is one function with typed input and output, run by a
//! step Lambda on AWS and by the local ASL engine on a laptop; errors carry the names the
//! state machine's Retry and Catch match on.

pub mod local;
pub mod steps;
pub mod worker;

use std::sync::Arc;

use viral_core::Clock;
use viral_core::ports::{BlobStore, ItemStore};
use viral_providers::Registry;

/// The workflow's Lambda-backed steps, each a Task of the definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    PlanJob,
    PollRender,
    FetchVideo,
    JoinVideo,
    ValidateVideo,
    StoreVideo,
    FinalizeJob,
    RefundJob,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Step::PlanJob,
        Step::PollRender,
        Step::FetchVideo,
        Step::JoinVideo,
        Step::ValidateVideo,
        Step::StoreVideo,
        Step::FinalizeJob,
        Step::RefundJob,
    ];

    /// The function crate under `functions/` that runs this step on AWS.
    pub fn function_name(self) -> &'static str {
        match self {
            Step::PlanJob => "plan-job",
            Step::PollRender => "poll-render",
            Step::FetchVideo => "fetch-video",
            Step::JoinVideo => "join-video",
            Step::ValidateVideo => "validate-video",
            Step::StoreVideo => "store-video",
            Step::FinalizeJob => "finalize-job",
            Step::RefundJob => "refund-job",
        }
    }

    /// The `${…}` the definition uses for this step's function ARN.
    pub fn substitution(self) -> &'static str {
        match self {
            Step::PlanJob => "PlanJobFunctionArn",
            Step::PollRender => "PollRenderFunctionArn",
            Step::FetchVideo => "FetchVideoFunctionArn",
            Step::JoinVideo => "JoinVideoFunctionArn",
            Step::ValidateVideo => "ValidateVideoFunctionArn",
            Step::StoreVideo => "StoreVideoFunctionArn",
            Step::FinalizeJob => "FinalizeJobFunctionArn",
            Step::RefundJob => "RefundJobFunctionArn",
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

/// Runs one step on its JSON input: what a step Lambda and the local engine both call.
pub async fn run_step(
    d: &Deps,
    step: Step,
    input: serde_json::Value,
) -> Result<serde_json::Value, StepError> {
    // Every line logged by the step names its tenant and job.
    let field = |k: &str| {
        input
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let span = tracing::info_span!(
        "step",
        step = step.function_name(),
        tenant_id = %field("tenant_id"),
        job_id = %field("job_id")
    );
    tracing::Instrument::instrument(run(d, step, input), span).await
}

async fn run(
    d: &Deps,
    step: Step,
    input: serde_json::Value,
) -> Result<serde_json::Value, StepError> {
    match step {
        Step::PlanJob => json(steps::plan_job(d, parse(input)?).await),
        Step::PollRender => json(steps::poll_render(d, parse(input)?).await),
        Step::FetchVideo => json(steps::fetch_video(d, parse(input)?).await),
        Step::JoinVideo => json(steps::join_video(d, parse(input)?).await),
        Step::ValidateVideo => json(steps::validate_video(d, parse(input)?).await),
        Step::StoreVideo => json(steps::store_video(d, parse(input)?).await),
        Step::FinalizeJob => json(steps::finalize_job(d, parse(input)?).await),
        Step::RefundJob => json(steps::refund_job(d, parse(input)?).await),
    }
}

/// What the steps need, built once per process.
#[derive(Clone)]
pub struct Deps {
    pub store: Arc<dyn ItemStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Arc<dyn Clock>,
    pub providers: Registry,
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
            E::NotFound(_) => "Job.NotFound",
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
