//! Workflow on AWS Step Functions: a job's execution is named after the job, so starting twice
//! starts once; provider workers answer the `.waitForTaskToken` state with SendTaskSuccess or
//! SendTaskFailure.

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use serde_json::{Value, json};
use viral_core::ports::{TaskCallbacks, Workflow, WorkflowError};

use crate::errors::{code, describe};

#[derive(Clone, Debug)]
pub struct SfnWorkflow {
    client: Client,
    state_machine_arn: String,
    /// The publish workflow, where this process starts posts.
    publish_state_machine_arn: Option<String>,
}

fn unavailable<E: std::error::Error>(e: E) -> WorkflowError {
    WorkflowError::Unavailable(describe(&e))
}

/// A callback's outcome: delivered (true), or refused because the task already ended (false).
fn answered<T, E>(sent: Result<T, E>) -> Result<bool, WorkflowError>
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata + std::error::Error,
{
    match sent {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                code(&e),
                Some("TaskTimedOut" | "TaskDoesNotExist" | "InvalidToken")
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(unavailable(e)),
    }
}

impl SfnWorkflow {
    /// Creates a state machine (for an AWS-compatible test server: `viral bench cost`, tests)
    /// and returns its ARN.
    pub async fn create_state_machine(
        conf: &aws_config::SdkConfig,
        name: &str,
        definition: &str,
    ) -> Result<String, WorkflowError> {
        Client::new(conf)
            .create_state_machine()
            .name(name)
            .definition(definition)
            .role_arn("arn:aws:iam::123456789012:role/viral-bench")
            .send()
            .await
            .map(|o| o.state_machine_arn)
            .map_err(unavailable)
    }

    pub fn new(client: Client, state_machine_arn: &str) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.to_owned(),
            publish_state_machine_arn: None,
        }
    }

    /// Also starts posts, on the publish state machine.
    pub fn with_publish(mut self, publish_state_machine_arn: &str) -> Self {
        self.publish_state_machine_arn = Some(publish_state_machine_arn.to_owned());
        self
    }

    /// Starts an execution named `name`; false when it exists already.
    async fn start(&self, machine: &str, name: &str, input: Value) -> Result<bool, WorkflowError> {
        match self
            .client
            .start_execution()
            .state_machine_arn(machine)
            .name(name)
            .input(input.to_string())
            .send()
            .await
        {
            Ok(_) => Ok(true),
            // The execution exists (running, or ended): it was started before.
            Err(e) if code(&e) == Some("ExecutionAlreadyExists") => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    pub fn from_conf(conf: &aws_config::SdkConfig, state_machine_arn: &str) -> Self {
        Self::new(Client::new(conf), state_machine_arn)
    }

    /// `arn:aws:states:r:a:stateMachine:NAME` → `arn:aws:states:r:a:execution:NAME:JOB`.
    fn execution_arn(&self, job_id: &str) -> String {
        format!(
            "{}:{job_id}",
            self.state_machine_arn
                .replacen(":stateMachine:", ":execution:", 1)
        )
    }
}

#[async_trait]
impl Workflow for SfnWorkflow {
    async fn start_job(&self, tenant_id: &str, job_id: &str) -> Result<bool, WorkflowError> {
        let input = viral_core::ports::workflow::job_input(tenant_id, job_id);
        self.start(&self.state_machine_arn, job_id, input).await
    }

    async fn start_post(&self, tenant_id: &str, post_id: &str) -> Result<bool, WorkflowError> {
        let machine = self.publish_state_machine_arn.as_deref().ok_or_else(|| {
            WorkflowError::Unavailable("VIRAL_PUBLISH_STATE_MACHINE_ARN is not set".into())
        })?;
        let input = json!({"tenant_id": tenant_id, "post_id": post_id});
        self.start(machine, post_id, input).await
    }

    async fn job_history(
        &self,
        _tenant_id: &str,
        job_id: &str,
    ) -> Result<Option<Value>, WorkflowError> {
        let arn = self.execution_arn(job_id);
        let described = match self
            .client
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
        {
            Ok(d) => d,
            Err(e) if code(&e) == Some("ExecutionDoesNotExist") => return Ok(None),
            Err(e) => return Err(unavailable(e)),
        };
        let mut history = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .client
                .get_execution_history()
                .execution_arn(&arn)
                .max_results(1000)
                .set_next_token(token)
                .send()
                .await
                .map_err(unavailable)?;
            for e in page.events() {
                let state = e.state_entered_event_details().map(|d| d.name().to_owned());
                history.push(json!({
                    "id": e.id(),
                    "timestamp": e.timestamp().to_string(),
                    "type": e.r#type().as_str(),
                    "state": state,
                }));
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                break;
            }
        }
        Ok(Some(
            json!({"status": described.status().as_str(), "history": history}),
        ))
    }
}

#[async_trait]
impl TaskCallbacks for SfnWorkflow {
    async fn task_heartbeat(&self, token: &str) -> Result<bool, WorkflowError> {
        answered(
            self.client
                .send_task_heartbeat()
                .task_token(token)
                .send()
                .await,
        )
    }

    async fn task_succeeded(&self, token: &str, output: Value) -> Result<bool, WorkflowError> {
        let sent = self
            .client
            .send_task_success()
            .task_token(token)
            .output(output.to_string())
            .send()
            .await;
        answered(sent)
    }

    async fn task_failed(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<bool, WorkflowError> {
        // Step Functions caps error at 256 and cause at 32,768 characters.
        let error: String = error.chars().take(256).collect();
        let cause: String = cause.chars().take(32_768).collect();
        let sent = self
            .client
            .send_task_failure()
            .task_token(token)
            .error(error)
            .cause(cause)
            .send()
            .await;
        answered(sent)
    }
}
