//! The provider worker's handling of one queue message, the same locally and in the SQS
//! Lambda: submit the render, then answer the waiting workflow state through its task token.

use std::time::Duration;

use serde_json::json;
use viral_core::ports::TaskCallbacks;

use crate::Deps;
use crate::steps::{self, SubmitMessage};

/// What became of one message.
#[derive(Debug, PartialEq, Eq)]
pub enum Handled {
    /// The workflow has its answer (or had one already: a duplicate delivery).
    Done,
    /// Not a message we understand; dropping it is right (retrying cannot help).
    Malformed,
    /// The workflow could not be told; the message should be delivered again.
    Retry,
}

pub async fn handle_message(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    body: &str,
    provider_timeout: Duration,
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
    let answer =
        match tokio::time::timeout(provider_timeout, steps::submit_render(deps, &msg)).await {
            Ok(Ok(s)) => callbacks.task_succeeded(&msg.token, json!(s)).await,
            Ok(Err(e)) => callbacks.task_failed(&msg.token, &e.name, &e.cause).await,
            Err(_) => {
                callbacks
                    .task_failed(
                        &msg.token,
                        "Provider.Timeout",
                        "the provider did not answer in time",
                    )
                    .await
            }
        };
    match answer {
        Ok(true) => Handled::Done,
        Ok(false) => {
            tracing::info!(job_id = %msg.job_id, "task token already closed; duplicate delivery ignored");
            Handled::Done
        }
        Err(e) => {
            tracing::warn!(error = %e, job_id = %msg.job_id, "could not answer the workflow");
            Handled::Retry
        }
    }
}
