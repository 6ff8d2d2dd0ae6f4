//! The publish workflow's steps: thin wrappers over `service::publishing`, which decides.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use viral_core::service::publishing::{self, Ctx, next_json};

use crate::{Deps, StepError};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PostRef {
    pub tenant_id: String,
    pub post_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FailPostInput {
    pub tenant_id: String,
    pub post_id: String,
    /// What the state machine caught: `{Error, Cause}`.
    pub error: Value,
}

fn ctx(d: &Deps) -> Result<Ctx<'_>, StepError> {
    let vault = d.social.vault.as_deref().ok_or_else(|| {
        StepError::new(
            "Publish.NotConfigured",
            "this process has no token vault (VIRAL_KMS_KEY_ID on AWS)",
        )
    })?;
    Ok(Ctx {
        store: &*d.store,
        blobs: &*d.blobs,
        vault,
        clock: &*d.clock,
        publishers: &d.social.publishers,
        limits: &d.social.limits,
    })
}

pub async fn check_post(d: &Deps, input: PostRef) -> Result<Value, StepError> {
    let next = publishing::check(&ctx(d)?, &input.tenant_id, &input.post_id).await?;
    Ok(next_json(&next))
}

pub async fn upload_post(d: &Deps, input: PostRef) -> Result<Value, StepError> {
    let next = publishing::upload(&ctx(d)?, &input.tenant_id, &input.post_id).await?;
    Ok(next_json(&next))
}

pub async fn poll_post(d: &Deps, input: PostRef) -> Result<Value, StepError> {
    let next = publishing::poll(&ctx(d)?, &input.tenant_id, &input.post_id).await?;
    Ok(next_json(&next))
}

/// Ends the post failed with a code from what went wrong: the step's own error name (e.g.
/// `Publish.Transient` after the retries ran out) or the workflow's.
pub async fn fail_post(d: &Deps, input: FailPostInput) -> Result<Value, StepError> {
    let name = input.error["Error"].as_str().unwrap_or("States.Runtime");
    let cause = input.error["Cause"].as_str().unwrap_or("");
    let code = match name {
        "Publish.Transient" => "platform_unavailable",
        "Publish.NotConfigured" => "platform_not_configured",
        "States.Timeout" => "publish_timeout",
        _ => "publish_failed",
    };
    let message = if cause.is_empty() {
        name.to_owned()
    } else {
        cause.to_owned()
    };
    let post = publishing::fail(&ctx(d)?, &input.tenant_id, &input.post_id, code, &message).await?;
    Ok(serde_json::json!({"status": post.status.as_str()}))
}
