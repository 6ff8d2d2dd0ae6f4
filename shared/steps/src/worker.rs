//! The provider worker's handling of one queue message, the same locally and in the SQS
//! Lambda: submit the clip (at most once, see `steps::submit_clip`), follow its render by
//! putting the message on the render-poll queue, delayed, until the render is done, fetch it
//! into our storage, and answer the waiting workflow state through its task token.
//!
//! Polling on a queue in place of a Wait/Poll/Choice loop in the state machine: Step
//! Functions bills every state entered ($25 per million), SQS a message's three requests
//! ($1.2 per million), so one clip costs one state however long its render takes. Polls have
//! a queue of their own, so they never wait behind a burst of submits on a provider's queue.

use std::time::Duration;

use serde_json::json;
use viral_core::ports::{Queue, RenderStatus, TaskCallbacks, WorkflowError};

use crate::steps::{self, Following, Submit, SubmitLimits, SubmitMessage};
use crate::{Deps, StepError};

/// How long after a poll that found the render running the next one comes.
pub const POLL_EVERY: Duration = Duration::from_secs(10);
/// Polls or fetches in a row that may fail for a passing reason before the clip fails with
/// it (5, 10, 20, 40 and 60 s apart).
pub const FOLLOW_RETRIES: u32 = 5;

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

/// Handles one message from a provider's queue (a clip to submit) or from the render-poll
/// queue `polls` (a submitted clip to follow).
pub async fn handle_message(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    polls: &dyn Queue,
    body: &str,
    limits: &SubmitLimits,
) -> Handled {
    let work = handle(deps, callbacks, polls, body, limits);
    crate::metering::in_function("provider-worker", work).await
}

async fn handle(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    polls: &dyn Queue,
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
    if let Some(render) = msg.render.clone() {
        return follow(deps, callbacks, polls, msg, render, limits).await;
    }
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
            let render = Following {
                task_id: answer.task_id,
                submitted_at: answer.submitted_at,
                failures: 0,
            };
            if answer.eta_s == 0 {
                // Rendered already (the storyboard) or about to be: no queue round.
                follow(deps, callbacks, polls, msg, render, limits).await
            } else {
                let eta = Duration::from_secs(answer.eta_s);
                later(polls, msg, render, eta, limits).await
            }
        }
        Submit::Answered(Err(e)) => fail(callbacks, &msg, &e).await,
    }
}

async fn fail(callbacks: &dyn TaskCallbacks, msg: &SubmitMessage, e: &StepError) -> Handled {
    report(&msg.job_id, || {
        callbacks.task_failed(&msg.token, &e.name, &e.cause)
    })
    .await
}

/// Errors a later poll or fetch may not meet.
fn passing(e: &StepError) -> bool {
    matches!(
        e.name.as_str(),
        "Provider.Transient" | "Blob.Unavailable" | "Store.Unavailable"
    )
}

/// Polls the clip's render once: fetched and answered when done, back on the poll queue while
/// it runs or after a passing failure, and the workflow told when it failed for good. The
/// task token is checked before the fetch (not at each poll: Step Functions throttles the
/// calls), so a clip nobody waits for any more is never fetched over the job's clips.
async fn follow(
    deps: &Deps,
    callbacks: &dyn TaskCallbacks,
    polls: &dyn Queue,
    msg: SubmitMessage,
    render: Following,
    limits: &SubmitLimits,
) -> Handled {
    let poll = steps::PollInput {
        tenant_id: msg.tenant_id.clone(),
        job_id: msg.job_id.clone(),
        provider: msg.provider.clone(),
        task_id: render.task_id.clone(),
        submitted_at: render.submitted_at,
    };
    let fetched = match steps::poll_render(deps, poll).await {
        Ok(RenderStatus::Done) => match callbacks.task_heartbeat(&msg.token).await {
            Ok(true) => {
                let fetch = steps::FetchInput {
                    tenant_id: msg.tenant_id.clone(),
                    job_id: msg.job_id.clone(),
                    provider: msg.provider.clone(),
                    task_id: render.task_id.clone(),
                    clip: msg.clip.clone(),
                    submitted_at: render.submitted_at,
                };
                steps::fetch_video(deps, fetch).await.map(Some)
            }
            Ok(false) => {
                tracing::info!(job_id = %msg.job_id, "task token closed; the render is not fetched");
                return Handled::Done;
            }
            Err(e) => Err(StepError::new("Store.Unavailable", e.to_string())),
        },
        // A failed render comes back from `poll_render` as `Provider.RenderFailed`.
        Ok(_) => Ok(None),
        Err(e) => Err(e),
    };
    match fetched {
        Ok(Some(clip)) => {
            let output = json!(clip);
            report(&msg.job_id, || {
                callbacks.task_succeeded(&msg.token, output.clone())
            })
            .await
        }
        Ok(None) => {
            let next = Following {
                failures: 0,
                ..render
            };
            later(polls, msg, next, POLL_EVERY, limits).await
        }
        Err(e) if passing(&e) && render.failures < FOLLOW_RETRIES => {
            tracing::warn!(error = %e, job_id = %msg.job_id, "following a render failed; trying again");
            let backoff = Duration::from_secs((5u64 << render.failures).min(60));
            let next = Following {
                failures: render.failures + 1,
                ..render
            };
            later(polls, msg, next, backoff, limits).await
        }
        Err(e) => fail(callbacks, &msg, &after_submit(e)).await,
    }
}

/// A failure while following a submitted render, named so the workflow never pays another
/// provider for the clip while this one may still be rendering (and billing) it: the
/// provider's own transient or permanent errors become `Provider.FollowTransient` (the state
/// retries it: followed again from the record, never submitted again) and
/// `Provider.FollowFailed`, which the fallback refunds instead of trying another provider. A
/// render the provider reports failed (`Provider.RenderFailed`) or past its deadline, and
/// anything else, keep their names.
fn after_submit(e: StepError) -> StepError {
    let name = match e.name.as_str() {
        "Provider.Transient" => "Provider.FollowTransient",
        "Provider.Permanent" => "Provider.FollowFailed",
        _ => return e,
    };
    StepError::new(name, e.cause)
}

/// Puts the clip's message on the render-poll queue to be followed after `wait` (scaled, and
/// at most SQS's longest delay). If it cannot be sent, this message comes back instead: a
/// submitted clip's message finds its task on record and is never submitted again.
async fn later(
    polls: &dyn Queue,
    mut msg: SubmitMessage,
    render: Following,
    wait: Duration,
    limits: &SubmitLimits,
) -> Handled {
    let job_id = msg.job_id.clone();
    msg.render = Some(render);
    let body = match serde_json::to_string(&msg) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, job_id, "could not write a provider message");
            return Handled::Retry;
        }
    };
    let scale = match limits.wait_scale {
        s if s.is_finite() && s >= 0.0 => s.min(1.0),
        _ => 1.0,
    };
    let max = viral_core::ports::queue::MAX_DELAY;
    let delay = wait.min(max).mul_f64(scale);
    match polls.send(&body, delay).await {
        Ok(_) => Handled::Done,
        Err(e) => {
            tracing::warn!(error = %e, job_id, "could not queue a clip's next poll; the message will come back");
            Handled::Retry
        }
    }
}
