//! The provider worker's handling of one queue message, the same locally and in the SQS
//! Lambda: submit the clip (at most once, see `steps::submit_clip`), then answer the waiting
//! workflow state through its task token.

use std::time::Duration;

use serde_json::json;
use viral_core::ports::{TaskCallbacks, WorkflowError};

use crate::Deps;
use crate::steps::{self, Submit, SubmitLimits, SubmitMessage};

/// What became of one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    /// The workflow has its answer (or had one already: a duplicate delivery).
    Done,
    /// Not a message we understand; dropping it is right (retrying cannot help).
    Malformed,
    /// Deliver it again later: the workflow could not be told. A redelivery never submits
    /// the clip again (its intent has the task).
    Retry,
    /// Another worker is submitting this clip right now: deliver it again once that one is
    /// likely done (it will find the task on record).
    Busy,
}

/// Tries to tell the workflow, a few times: the answer must not be lost to a blip, and the
/// work behind it is never done again for a retry (the clip's intent has the task).
async fn report<F, Fut>(job_id: &str, send: F) -> Handled
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<bool, WorkflowError>>,
{
    for wait_ms in [100, 400, 1600, 0] {
        match send().await {
            Ok(true) => return Handled::Done,
            Ok(false) => {
                tracing::info!(
                    job_id,
                    "task token already closed; duplicate delivery ignored"
                );
                return Handled::Done;
            }
            Err(e) if wait_ms == 0 => {
                tracing::warn!(error = %e, job_id, "could not answer the workflow; the message will come back");
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(wait_ms)).await,
        }
    }
    Handled::Retry
}

pub async fn handle_message(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    body: &str,
    limits: &SubmitLimits,
) -> Handled {
    crate::metering::in_function("provider-worker", handle(deps, callbacks, body, limits)).await
}

async fn handle(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    body: &str,
    limits: &SubmitLimits,
) -> Handled {
    let msg: SubmitMessage = match serde_json::from_str(body) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "dropping a malformed provider message");
            return Handled::Malformed;
        }
    };
    // A message for a closed token (a redelivery after the answer, or a task that timed out
    // or was re-run after a restart) must not submit a render nobody waits for.
    match callbacks.task_heartbeat(&msg.token).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(job_id = %msg.job_id, "task token closed; stale message dropped");
            return Handled::Done;
        }
        Err(e) => {
            tracing::warn!(error = %e, job_id = %msg.job_id, "could not reach the workflow");
            return Handled::Retry;
        }
    }
    match steps::submit_clip(deps, &msg, limits).await {
        Submit::Busy => Handled::Busy,
        Submit::Answered(Ok(answer)) => {
            let output = json!(answer);
            report(&msg.job_id, || {
                callbacks.task_succeeded(&msg.token, output.clone())
            })
            .await
        }
        Submit::Answered(Err(e)) => {
            report(&msg.job_id, || {
                callbacks.task_failed(&msg.token, &e.name, &e.cause)
            })
            .await
        }
    }
}
