//! Workflow: starts a job's execution and reads its history. The local adapter runs the ASL
//! file in-process; on AWS it is Step Functions (`executionName = job_id`).

use async_trait::async_trait;
use serde_json::Value;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum WorkflowError {
    #[error("workflow unavailable: {0}")]
    Unavailable(String),
}

/// A video job execution's input: the job and its first attempt (each later attempt is
/// numbered by the workflow itself).
pub fn job_input(tenant_id: &str, job_id: &str) -> Value {
    serde_json::json!({"tenant_id": tenant_id, "job_id": job_id, "attempt": 1})
}

#[async_trait]
pub trait Workflow: Send + Sync {
    /// Starts the job's execution. Starting the same job twice starts it once; returns false
    /// when the execution is known to exist already.
    async fn start_job(&self, tenant_id: &str, job_id: &str) -> Result<bool, WorkflowError>;
    /// Starts a post's publish execution (`statemachines/publish.asl.json`), named after the
    /// post: starting twice starts once.
    async fn start_post(&self, tenant_id: &str, post_id: &str) -> Result<bool, WorkflowError> {
        let _ = (tenant_id, post_id);
        Err(WorkflowError::Unavailable(
            "this deployment has no publish workflow".into(),
        ))
    }
    /// The execution's status and events, if it was started.
    async fn job_history(
        &self,
        tenant_id: &str,
        job_id: &str,
    ) -> Result<Option<Value>, WorkflowError>;
}

/// How a finished provider call reports back to the waiting workflow state (the task token of
/// `.waitForTaskToken`). A token that is already closed is refused with `Ok(false)`, so a
/// duplicate delivery is harmless.
#[async_trait]
pub trait TaskCallbacks: Send + Sync {
    /// Tells the waiting state the work goes on (resetting its `HeartbeatSeconds`); `Ok(false)`
    /// when the token is closed, so a worker can drop stale work before doing any.
    async fn task_heartbeat(&self, token: &str) -> Result<bool, WorkflowError>;
    async fn task_succeeded(&self, token: &str, output: Value) -> Result<bool, WorkflowError>;
    async fn task_failed(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<bool, WorkflowError>;
}
