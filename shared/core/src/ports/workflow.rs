//! Workflow: starts a job's execution and reads its history. The local adapter runs the ASL
//! file in-process; on AWS it is Step Functions (`executionName = job_id`).

use async_trait::async_trait;
use serde_json::Value;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum WorkflowError {
    #[error("workflow unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait Workflow: Send + Sync {
    /// Starts the job's execution. Starting the same job twice starts it once; returns whether
    /// this call started it.
    async fn start_job(&self, tenant_id: &str, job_id: &str) -> Result<bool, WorkflowError>;
    /// The execution's status and events, if it was started.
    async fn job_history(
        &self,
        tenant_id: &str,
        job_id: &str,
    ) -> Result<Option<Value>, WorkflowError>;
}
