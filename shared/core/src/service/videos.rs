//! Video jobs: accepting one (job, quota reservation, ledger entry and idempotency record in
//! one transaction), moving it along, and ending it exactly once: consumed on success,
//! refunded on failure.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::domain::job::{CONSUMED, REFUNDED, RESERVED, job_sk, ledger_sk};
use crate::domain::plan::PlanLimits;
use crate::domain::routing::{self, NoRoute, ProviderProfile, Route, RouteRequest};
use crate::domain::{Job, JobSpec, JobStatus, Resource, Tenant, keys};
use crate::error::{Error, Result};
use crate::ids::{is_valid_id, new_id};
use crate::metrics::{self, Dimension};
use crate::ports::{Cond, Item, ItemStore, Query, StoreError, Transaction, TxError, Update, Write};
use crate::service::quota::{self, Refusal, Reservation, Settled};
use crate::service::{idempotency, provider_health};

/// Provider attempts per job, fallbacks included.
pub const MAX_ATTEMPTS: u32 = 2;

/// Idempotency-Key scope of video jobs.
const IDEMPOTENCY_SCOPE: &str = "videos";

fn spec_hash(spec: &JobSpec) -> String {
    hex::encode(Sha256::digest(serde_json::to_vec(spec).unwrap_or_default()))
}

/// What accepting a job did.
#[derive(Debug)]
pub struct Accepted {
    pub job: Job,
    /// True when an earlier request with the same Idempotency-Key made this job.
    pub replayed: bool,
}

/// Why a job cannot be routed, as the caller is told.
fn no_route(e: NoRoute) -> Error {
    match e {
        NoRoute::NotInPlan { .. } => {
            Error::ProviderNotInPlan(format!("{e}; send provider \"auto\" or upgrade the plan"))
        }
        NoRoute::OverCap { .. } => Error::CostCapExceeded(format!(
            "{e}; pick a cheaper provider, a shorter video, or \"auto\""
        )),
        NoRoute::Unknown(_) | NoRoute::CannotRender(_) => Error::Invalid(e.to_string()),
    }
}

/// A job's input against the rules and against this deployment's providers: what API,
/// estimate, autopilot and CLI check before anything is written or started.
pub fn check_spec(spec: &JobSpec, profiles: &[ProviderProfile]) -> Result<()> {
    spec.check()?;
    routing::check_known(profiles, &spec.provider).map_err(no_route)
}

/// Routes one attempt of a job: the providers this deployment has (their profiles), their
/// recent health, the plan's tier and what is left of the job's budget.
pub async fn route_attempt(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    profiles: &[ProviderProfile],
    request: RouteRequest<'_>,
) -> Result<Route> {
    // A provider named in the request is used as asked, whatever its health: no read.
    let health = if request.requested == "auto" {
        let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
        provider_health::get_all(store, &names).await?
    } else {
        Default::default()
    };
    routing::choose(
        profiles,
        &|name| health.get(name).cloned().unwrap_or_default(),
        &request,
        clock.now(),
    )
    .map_err(no_route)
}

/// Routes a job's first attempt within its plan's tier and per-video cost cap: what `accept`
/// commits to and `estimate` shows.
async fn route_first_attempt(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    profiles: &[ProviderProfile],
    spec: &JobSpec,
    limits: &PlanLimits,
) -> Result<Route> {
    route_attempt(
        store,
        clock,
        profiles,
        RouteRequest {
            requested: &spec.provider,
            target_s: spec.duration_s,
            tier: limits.tier,
            spend_cap_cents: limits.max_video_cost_cents,
            failed: &[],
            last_attempt: MAX_ATTEMPTS == 1,
        },
    )
    .await
}

/// Accepts a job: routes its first attempt (a named provider must be in the plan's tier and
/// fit the plan's cost cap), creates it with that plan and its budget, reserves one video of
/// this period's quota and writes its ledger entry (and the idempotency record), all or
/// nothing. `profiles` are the providers this deployment uses.
pub async fn accept(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant: &Tenant,
    spec: JobSpec,
    idempotency_key: Option<&str>,
    profiles: &[ProviderProfile],
) -> Result<Accepted> {
    accept_within(
        store,
        clock,
        tenant,
        spec,
        idempotency_key,
        profiles,
        Within::default(),
    )
    .await
}

/// What a caller that spends without a person watching (autopilot) adds to accepting a job.
#[derive(Debug, Default)]
pub struct Within {
    /// The job's budget is at most this (the plan's per-video cap otherwise).
    pub budget_cents: Option<u32>,
    /// A condition written in the same transaction: when it fails nothing is accepted and
    /// the answer is [`Error::State`] with code `precondition_failed`.
    pub guard: Option<Write>,
}

/// [`accept`], within a smaller budget and under a caller's condition.
pub async fn accept_within(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant: &Tenant,
    spec: JobSpec,
    idempotency_key: Option<&str>,
    profiles: &[ProviderProfile],
    within: Within,
) -> Result<Accepted> {
    check_spec(&spec, profiles)?;
    let now = clock.now();
    let pk = keys::tenant_pk(&tenant.id);
    // Of the request as sent: a retry matches it even if the tenant's defaults changed since.
    let hash = spec_hash(&spec);
    if let Some(k) = idempotency_key {
        idempotency::validate_key(k)?;
        if let Some(id) = idempotency::earlier(store, &pk, IDEMPOTENCY_SCOPE, k, &hash).await? {
            return replay(store, &tenant.id, &id).await;
        }
    }
    let mut spec = spec;
    if spec.narration.is_none() {
        spec.narration = tenant.narration.clone();
    }
    let period = tenant.usage_period(now);
    let mut limits = tenant.plan_at(now).limits();
    if let Some(cap) = within.budget_cents {
        limits.max_video_cost_cents = limits.max_video_cost_cents.min(cap);
    }
    let route = route_first_attempt(store, clock, profiles, &spec, &limits).await?;
    let reservation = Reservation {
        tenant_id: &tenant.id,
        period: &period,
        resource: Resource::Videos,
        amount: 1,
        limit: Resource::Videos.limit(tenant.plan_at(now)),
    };
    let job = Job {
        id: new_id("job"),
        tenant_id: tenant.id.clone(),
        status: JobStatus::Queued,
        spec,
        created_at: now,
        updated_at: now,
        version: 0,
        provider: Some(route.provider.clone()),
        model: Some(route.model.clone()),
        attempts: 1,
        budget_cents: limits.max_video_cost_cents,
        spent_cents: 0,
        video_key: None,
        captions_key: None,
        validation: None,
        failure: None,
        route: Some(serde_json::to_value(&route).unwrap_or(Value::Null)),
    };
    let ledger = Item::new(&pk, ledger_sk(&job.id))
        .with("state", RESERVED)
        .with("resource", Resource::Videos.name())
        .with("period", period.key.as_str())
        .with("created_at", now.millis());
    let accept_with = |reserve: Write| {
        let mut tx = Transaction::new();
        tx.write(Write::Put(job.to_item(), Cond::Absent))
            .guarded(Refusal::QuotaSpent, reserve)
            .write(Write::Put(ledger.clone(), Cond::Absent));
        if let Some(k) = idempotency_key {
            let record = idempotency::record(&pk, IDEMPOTENCY_SCOPE, k, &hash, &job.id, now);
            tx.guarded(Refusal::KeyTaken, Write::Put(record, Cond::Absent));
        }
        if let Some(guard) = &within.guard {
            tx.guarded(Refusal::Guard, guard.clone());
        }
        tx
    };
    let committed = reservation.commit(store, clock, accept_with).await?;
    match committed {
        Ok(()) => {
            metrics::count("JobsStarted", None);
            Ok(Accepted {
                job,
                replayed: false,
            })
        }
        Err(TxError::Refused(Refusal::QuotaSpent)) => {
            // A concurrent first request with this key may have taken the last unit.
            if let Some(k) = idempotency_key
                && let Some(id) =
                    idempotency::earlier(store, &pk, IDEMPOTENCY_SCOPE, k, &hash).await?
            {
                return replay(store, &tenant.id, &id).await;
            }
            Err(reservation.refused(store).await)
        }
        Err(TxError::Refused(Refusal::KeyTaken)) => {
            let k = idempotency_key.unwrap_or_default();
            let job_id = idempotency::replayed_id(store, &pk, IDEMPOTENCY_SCOPE, k, &hash).await?;
            replay(store, &tenant.id, &job_id).await
        }
        Err(TxError::Refused(Refusal::Guard)) => Err(Error::State {
            code: "precondition_failed",
            message: "the job was not started: its caller's condition no longer holds".into(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// What accepting a job would decide, with nothing written or reserved: the first attempt's
/// route and the job's budget, or the refusal `accept` would give (quota spent, a provider the
/// plan does not include, over the plan's per-video cap). Store failures are errors.
pub struct Estimate {
    pub decision: std::result::Result<Route, Error>,
    pub budget_cents: u32,
    pub videos_remaining: i64,
}

pub async fn estimate(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant: &Tenant,
    spec: &JobSpec,
    profiles: &[ProviderProfile],
) -> Result<Estimate> {
    check_spec(spec, profiles)?;
    let now = clock.now();
    let limits = tenant.plan_at(now).limits();
    let usage = super::usage::current_usage(store, clock, tenant).await?;
    let videos_remaining = usage.videos.remaining();
    let routed = route_first_attempt(store, clock, profiles, spec, &limits).await;
    let decision = match routed {
        Err(
            refusal @ (Error::Invalid(_) | Error::ProviderNotInPlan(_) | Error::CostCapExceeded(_)),
        ) => Err(refusal),
        Err(e) => return Err(e),
        Ok(_) if videos_remaining <= 0 => Err(Error::QuotaExceeded {
            resource: Resource::Videos.name(),
            limit: usage.videos.limit,
            requested: 1,
            remaining: 0,
            resets_at: usage.resets_at.rfc3339(),
        }),
        Ok(route) => Ok(route),
    };
    Ok(Estimate {
        decision,
        budget_cents: limits.max_video_cost_cents,
        videos_remaining: videos_remaining.max(0),
    })
}

async fn replay(store: &dyn ItemStore, tenant_id: &str, job_id: &str) -> Result<Accepted> {
    Ok(Accepted {
        job: get(store, tenant_id, job_id).await?,
        replayed: true,
    })
}

/// One of the tenant's jobs; another tenant's id is "not found".
pub async fn get(store: &dyn ItemStore, tenant_id: &str, job_id: &str) -> Result<Job> {
    if !is_valid_id("job", job_id) {
        return Err(Error::NotFound("video"));
    }
    let item = store
        .get(&keys::tenant_pk(tenant_id), &job_sk(job_id))
        .await?
        .ok_or(Error::NotFound("video"))?;
    Job::from_item(tenant_id, &item).ok_or(Error::NotFound("video"))
}

/// The tenant's jobs, newest first.
pub async fn list(
    store: &dyn ItemStore,
    tenant_id: &str,
    limit: usize,
    cursor: Option<String>,
) -> Result<(Vec<Job>, Option<String>)> {
    let page = store
        .query(
            Query::new(keys::tenant_pk(tenant_id), "JOB#")
                .limit(limit)
                .descending()
                .after(cursor),
        )
        .await?;
    let jobs = Item::decode_all(&page.items, "job", |i| Job::from_item(tenant_id, i));
    Ok((jobs, page.next_cursor))
}

/// Moves an open job to `status` with the given field changes. A job that already ended, or
/// a move backwards, leaves it unchanged and returns it as it is.
pub async fn advance(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    job_id: &str,
    status: JobStatus,
    set: Vec<(&str, Value)>,
) -> Result<Job> {
    advance_if(store, clock, tenant_id, job_id, status, set, |_| true).await
}

/// As [`advance`], only while `guard` holds for the job as stored (checked on every try, so a
/// concurrent writer cannot slip between the check and the write). Returns the job as it is.
pub async fn advance_if(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    job_id: &str,
    status: JobStatus,
    set: Vec<(&str, Value)>,
    guard: impl Fn(&Job) -> bool + Send,
) -> Result<Job> {
    for _ in 0..8 {
        let job = get(store, tenant_id, job_id).await?;
        if (job.status != status && !job.status.can_become(status)) || !guard(&job) {
            return Ok(job);
        }
        let mut upd = Update::new(keys::tenant_pk(tenant_id), job_sk(job_id))
            .set("status", status.as_str())
            .set("updated_at", clock.now().millis())
            .version(job.version + 1)
            .when(Cond::VersionIs(job.version));
        for (k, v) in &set {
            upd = upd.set(k, v.clone());
        }
        match store.update(upd).await {
            Ok(item) => return Job::from_item(tenant_id, &item).ok_or(Error::NotFound("video")),
            Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict("the job kept changing; retry".into()))
}

/// Ends a job as succeeded and consumes its reservation. Safe to call twice: only the first
/// call that finds the reservation open changes anything.
pub async fn finish_succeeded(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    job_id: &str,
    set: Vec<(&str, Value)>,
) -> Result<bool> {
    end(store, clock, tenant_id, job_id, JobStatus::Succeeded, set).await
}

/// Ends a job as failed and refunds its reservation exactly once.
pub async fn finish_failed(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    job_id: &str,
    reason: &str,
) -> Result<bool> {
    end(
        store,
        clock,
        tenant_id,
        job_id,
        JobStatus::Failed,
        vec![("failure", Value::from(reason))],
    )
    .await
}

/// Returns whether this call ended the job (false: it had already ended).
async fn end(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    job_id: &str,
    status: JobStatus,
    set: Vec<(&str, Value)>,
) -> Result<bool> {
    let pk = keys::tenant_pk(tenant_id);
    let job = get(store, tenant_id, job_id).await?;
    let ledger = store
        .get(&pk, &ledger_sk(job_id))
        .await?
        .ok_or(Error::NotFound("ledger entry"))?;
    let period = ledger.str("period").unwrap_or_default().to_owned();
    let mut job_upd = Update::new(&pk, job_sk(job_id))
        .set("status", status.as_str())
        .set("updated_at", clock.now().millis())
        .version(job.version + 1)
        .clear_gsi1()
        .when(Cond::Exists);
    // What failed, for the `video.failed` event.
    let failure = set
        .iter()
        .find(|(k, _)| *k == "failure")
        .and_then(|(_, v)| v.as_str().map(str::to_owned));
    for (k, v) in set {
        job_upd = job_upd.set(k, v);
    }
    let mut tx = Transaction::new();
    tx.guarded(
        Settled,
        Write::Update(
            Update::new(&pk, ledger_sk(job_id))
                .set(
                    "state",
                    if status == JobStatus::Succeeded {
                        CONSUMED
                    } else {
                        REFUNDED
                    },
                )
                .set("ended_at", clock.now().millis())
                .when(Cond::AttrEquals("state".into(), Value::from(RESERVED))),
        ),
    )
    .write(Write::Update(job_upd));
    if status == JobStatus::Failed {
        tx.write(quota::release(tenant_id, &period, Resource::Videos, 1));
    }
    match tx.commit(store).await {
        Ok(()) => {
            // Counted once: only the call that ended the job gets here.
            let provider = job.provider.as_deref().unwrap_or("none");
            match status {
                JobStatus::Succeeded => {
                    metrics::count("JobsSucceeded", Some(Dimension::Provider(provider)));
                    metrics::record(
                        "ProviderCostCents",
                        f64::from(job.spent_cents),
                        metrics::Unit::None,
                        Some(Dimension::Provider(provider)),
                    );
                }
                _ => metrics::count("JobsFailed", Some(Dimension::Provider(provider))),
            }
            tracing::info!(tenant_id, job_id, status = status.as_str(), "job ended");
            let event = match status {
                JobStatus::Succeeded => "video.succeeded",
                _ => "video.failed",
            };
            crate::service::webhooks::emit(
                store,
                clock,
                tenant_id,
                event,
                serde_json::json!({"video_id": job_id, "status": status.as_str(), "failure": failure}),
            )
            .await;
            Ok(true)
        }
        // The reservation was already consumed or refunded: the job had ended.
        Err(TxError::Refused(Settled)) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A job the reconciler ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    pub tenant_id: String,
    pub job_id: String,
}

/// What a reconciler pass did.
#[derive(Debug, Default)]
pub struct Reconciled {
    pub ended: Vec<Ended>,
    /// Jobs it could not end this time (they stay open for the next pass).
    pub errors: Vec<String>,
}

/// Ends every job still open `older_than` after it was accepted (its workflow timed out, was
/// lost, or never started): failed, and refunded exactly once.
pub async fn reconcile(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    older_than: std::time::Duration,
) -> Result<Reconciled> {
    let cutoff = clock.now().millis() - i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
    let mut out = Reconciled::default();
    let mut cursor = None;
    loop {
        let (jobs, next) = open_jobs(store, cursor).await?;
        for job in jobs {
            if job.created_at.millis() > cutoff {
                return Ok(out);
            }
            let reason = "Job.Stuck: the job ran past its deadline and was ended by the reconciler";
            match finish_failed(store, clock, &job.tenant_id, &job.id, reason).await {
                Ok(true) => out.ended.push(Ended {
                    tenant_id: job.tenant_id,
                    job_id: job.id,
                }),
                Ok(false) => {}
                Err(e) => out.errors.push(format!("{}: {e}", job.id)),
            }
        }
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// One page of the jobs that have not ended, across tenants, oldest first, and the cursor of
/// the next page. The index is eventually consistent on DynamoDB: callers re-read a job before
/// acting on it (the ledger guards make acting twice harmless).
pub async fn open_jobs(
    store: &dyn ItemStore,
    cursor: Option<String>,
) -> Result<(Vec<Job>, Option<String>)> {
    let page = store
        .query_gsi1(
            Query::new(crate::domain::job::OPEN_JOBS, "")
                .limit(100)
                .after(cursor),
        )
        .await?;
    let jobs = Item::decode_all(&page.items, "job", |item| {
        let tenant_id = item.pk.strip_prefix("T#")?;
        Job::from_item(tenant_id, item)
    });
    Ok((jobs, page.next_cursor))
}
