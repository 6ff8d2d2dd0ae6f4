//! PlanJob: routes the attempt (provider, model, clips, estimated cost) and records the
//! decision on the job.

use crate::{Deps, StepError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use viral_core::domain::JobStatus;
use viral_core::domain::routing::{Route, RouteRequest};
use viral_core::service::videos::MAX_ATTEMPTS;
use viral_core::service::{tenants, videos};

/// One clip of the plan: the workflow renders each as its own provider task.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Clip {
    pub index: u32,
    pub duration_s: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub provider: String,
    pub model: String,
    pub attempt: u32,
    pub max_attempts: u32,
    pub estimated_cost_cents: u32,
    pub clips: Vec<Clip>,
    pub reason: String,
    /// Below the plan's quality: no better provider could serve the job here.
    #[serde(default)]
    pub degraded: bool,
}

/// PlanJob's input: which attempt the workflow is planning (1, then 2 on the fallback path).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanInput {
    pub tenant_id: String,
    pub job_id: String,
    pub attempt: u32,
}

fn plan_of(route: &Route, attempt: u32) -> Plan {
    Plan {
        provider: route.provider.clone(),
        model: route.model.clone(),
        attempt,
        max_attempts: MAX_ATTEMPTS,
        estimated_cost_cents: route.estimated_cost_cents,
        clips: route
            .clips
            .iter()
            .enumerate()
            .map(|(i, d)| Clip {
                index: i as u32,
                duration_s: *d,
            })
            .collect(),
        reason: route.reason.clone(),
        degraded: route.degraded,
    }
}

/// Routes this attempt and records the decision on the job. Idempotent per attempt: run
/// again (a Lambda retry, a resumed execution) it returns the recorded plan instead of
/// counting another attempt.
pub async fn plan_job(d: &Deps, input: PlanInput) -> Result<Plan, StepError> {
    if input.attempt == 0 || input.attempt > MAX_ATTEMPTS {
        return Err(StepError::new(
            "Step.BadInput",
            format!("attempt {} is outside 1..={MAX_ATTEMPTS}", input.attempt),
        ));
    }
    let job = videos::get(&*d.store, &input.tenant_id, &input.job_id).await?;
    let ended = |job: &viral_core::domain::Job| {
        StepError::new(
            "Job.Ended",
            format!("job is already {}", job.status.as_str()),
        )
    };
    if job.status.is_terminal() {
        return Err(ended(&job));
    }
    let recorded = |job: &viral_core::domain::Job| -> Option<Plan> {
        let route: Route = serde_json::from_value(job.route.clone()?).ok()?;
        (job.attempts >= input.attempt).then(|| plan_of(&route, job.attempts))
    };
    if let Some(plan) = recorded(&job) {
        return Ok(plan);
    }
    let tenant = tenants::get_tenant(&*d.store, &input.tenant_id)
        .await?
        .ok_or_else(|| StepError::new("Job.NoProvider", "the job's tenant is gone"))?;
    let tier = tenant.plan_at(d.clock.now()).limits().tier;
    // The provider the previous attempt used failed: try it last.
    let failed: Vec<String> = job.provider.iter().cloned().collect();
    let request = RouteRequest {
        requested: &job.spec.provider,
        target_s: job.spec.duration_s,
        tier,
        // One budget per job: what earlier attempts committed is spent.
        spend_cap_cents: job.budget_cents.saturating_sub(job.spent_cents),
        failed: &failed,
        last_attempt: input.attempt == MAX_ATTEMPTS,
    };
    let route = videos::route_attempt(&*d.store, &*d.clock, &d.providers.profiles(), request)
        .await
        .map_err(|e| match e {
            viral_core::Error::Store(_) => StepError::from(e),
            other => StepError::new("Job.NoProvider", other.to_string()),
        })?;
    let job = videos::advance_if(
        &*d.store,
        &*d.clock,
        &input.tenant_id,
        &input.job_id,
        JobStatus::Planning,
        vec![
            ("provider", json!(route.provider)),
            ("model", json!(route.model)),
            ("attempts", json!(input.attempt)),
            ("route", serde_json::to_value(&route).unwrap_or(Value::Null)),
        ],
        |j| j.attempts < input.attempt,
    )
    .await?;
    if job.status.is_terminal() {
        return Err(ended(&job));
    }
    // Ours, or the plan a concurrent run of this attempt recorded first.
    recorded(&job).ok_or_else(|| StepError::new("Store.Unavailable", "the plan was not recorded"))
}
