//! PlanJob: routes the attempt (provider, model, clips, estimated cost) and records the
//! decision on the job.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use viral_core::domain::JobStatus;
use viral_core::domain::routing::{self, Route, RouteRequest};
use viral_core::service::{provider_health, tenants, videos};

use super::MAX_ATTEMPTS;
use crate::{Deps, StepError};

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
        .ok_or_else(|| StepError::new("Job.NotFound", "the job's tenant is gone"))?;
    let limits = tenant.plan_at(d.clock.now()).limits();
    let profiles = d.providers.profiles();
    let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
    let health = provider_health::get_all(&*d.store, &names).await?;
    // The provider the previous attempt used failed: try it last.
    let failed: Vec<String> = job.provider.iter().cloned().collect();
    let request = RouteRequest {
        requested: &job.spec.provider,
        target_s: job.spec.duration_s,
        tier: limits.tier,
        spend_cap_cents: Some(limits.max_video_cost_cents),
        failed: &failed,
        last_attempt: input.attempt == MAX_ATTEMPTS,
    };
    let route = routing::choose(
        &profiles,
        &|name| health.get(name).cloned().unwrap_or_default(),
        &request,
        d.clock.now(),
    )
    .ok_or_else(|| {
        StepError::new(
            "Job.NoProvider",
            format!(
                "no provider can render {:?} for {} s within the plan's limit of {} cents",
                job.spec.provider, job.spec.duration_s, limits.max_video_cost_cents
            ),
        )
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
            ("estimated_cost_cents", json!(route.estimated_cost_cents)),
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
