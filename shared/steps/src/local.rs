//! The local pipeline: the real `statemachines/video-generation.asl.json` on the in-process
//! ASL engine, its Task resources resolved to the step functions, its SQS integration to the
//! local queue, and a provider worker consuming that queue.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use viral_core::Timestamp;
use viral_core::domain::keys;
use viral_core::ports::Update;
use viral_core::ports::{Cond, Item, Queue, StoreError};
use viral_workflow::engine::{Event, Outcome};
use viral_workflow::{Checkpoint, Engine, Failure, Machine, Resume, TaskCall, TaskRunner};

use crate::steps::{self, JobRef};
use crate::{Deps, Step, run_step};

/// The workflow definition, as deployed.
pub const DEFINITION: &str = include_str!("../../../statemachines/video-generation.asl.json");

/// `${…}` substitutions of the definition and what they become locally (SAM's
/// `DefinitionSubstitutions` give the ARNs on AWS): `viral:<step>` and the local queue, which
/// takes every provider's messages (AWS has a queue per provider).
pub fn local_substitutions() -> Vec<(&'static str, String)> {
    let mut subs: Vec<(&'static str, String)> = Step::ALL
        .iter()
        .map(|s| (s.substitution(), format!("viral:{}", s.function_name())))
        .collect();
    subs.push(("ProviderQueueUrlPrefix", LOCAL_QUEUE_PREFIX.into()));
    subs
}

const SQS_SEND: &str = "arn:aws:states:::sqs:sendMessage";
const LOCAL_QUEUE_PREFIX: &str = "local:provider-jobs/";

/// Replaces every `${Name}` with its value; an unknown name is an error.
pub fn substitute(definition: &str, subs: &[(&str, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(definition.len());
    let mut rest = definition;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('}').ok_or("unclosed ${")? + start;
        let name = &rest[start + 2..end];
        let value = subs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .ok_or_else(|| format!("no substitution for ${{{name}}}"))?;
        out.push_str(value);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Every provider's queue URL (`local:provider-jobs/<provider>`) is the one local queue;
/// anything else names a queue that does not exist here.
fn local_queue(send: &Value) -> Result<(), Failure> {
    let url = send.get("QueueUrl").and_then(Value::as_str);
    match url {
        Some(u) if u.starts_with(LOCAL_QUEUE_PREFIX) => Ok(()),
        _ => Err(Failure::new(
            "SQS.QueueDoesNotExist",
            format!("no local queue {url:?}"),
        )),
    }
}

struct LocalRunner {
    deps: Deps,
    queue: Arc<dyn Queue>,
}

#[async_trait]
impl TaskRunner for LocalRunner {
    async fn run(&self, call: TaskCall) -> Result<Value, Failure> {
        if let Some(step) = call
            .resource
            .strip_prefix("viral:")
            .and_then(|name| Step::ALL.into_iter().find(|s| s.function_name() == name))
        {
            return run_step(&self.deps, step, call.input)
                .await
                .map_err(|e| Failure::new(e.name, e.cause));
        }
        match call.resource.as_str() {
            SQS_SEND => {
                local_queue(&call.input)?;
                let body = call
                    .input
                    .get("MessageBody")
                    .ok_or_else(|| Failure::new("Step.BadInput", "no MessageBody"))?;
                let id = self
                    .queue
                    .send(&body.to_string(), Duration::ZERO)
                    .await
                    .map_err(|e| Failure::new("SQS.Unavailable", e.to_string()))?;
                Ok(json!({"MessageId": id}))
            }
            other => Err(Failure::new(
                "States.Runtime",
                format!("no local resource {other:?}"),
            )),
        }
    }
}

/// How long an execution stays claimed by the process running it without a renewal. When a
/// process dies, its executions are resumed by the next sweep after their claims lapse.
const LEASE: Duration = Duration::from_secs(60);
const RENEW_EVERY: Duration = Duration::from_secs(20);
/// An accepted job with no execution this long after acceptance lost its start (the process
/// died between the two); the sweep starts it.
const START_GRACE: Duration = Duration::from_secs(30);
const MACHINE_NAME: &str = "video-generation";

/// The execution record's fields that `describe` shows; the rest is bookkeeping.
const PUBLIC_FIELDS: [&str; 3] = ["status", "started_at", "ended_at"];

pub struct LocalPipeline {
    engine: Arc<Engine>,
    machine: Arc<Machine>,
    deps: Deps,
    queue: Arc<dyn Queue>,
    /// This process's claim on the executions it runs.
    owner: String,
    /// Itself, for the `Workflow` port whose methods take `&self`.
    me: std::sync::Weak<LocalPipeline>,
    /// How long the worker gives a provider's submit (a Lambda worker's timeout on AWS).
    provider_timeout: Duration,
}

fn exec_sk(job_id: &str) -> String {
    format!("EXEC#{job_id}")
}

fn events_prefix(job_id: &str) -> String {
    format!("EVT#{job_id}#")
}

/// What an execution asks its record writer to persist, in order.
enum Record {
    Event(Event),
    Checkpoint(Checkpoint),
    /// Extend this process's claim.
    Renew,
}

struct ChannelSink(tokio::sync::mpsc::UnboundedSender<Record>);

impl viral_workflow::engine::EventSink for ChannelSink {
    fn event(&self, event: &Event) {
        let _ = self.0.send(Record::Event(event.clone()));
    }

    fn checkpoint(&self, at: &Checkpoint) {
        let _ = self.0.send(Record::Checkpoint(at.clone()));
    }
}

/// Writes an execution's events, checkpoints and claim renewals as they come, one writer per
/// execution so events stay in order. Of several checkpoints waiting, only the newest is
/// written; the claim conditions keep a process that lost its claim from writing over the
/// one that resumed the execution.
async fn write_records(
    deps: Deps,
    job: JobRef,
    owner: String,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Record>,
) {
    let pk = keys::tenant_pk(&job.tenant_id);
    let prefix = events_prefix(&job.job_id);
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let mut checkpoint = None;
        let mut renew = false;
        for r in batch {
            match r {
                Record::Event(e) => {
                    let item = Item::new(pk.clone(), format!("{prefix}{:06}", e.id))
                        .with("event", event_json(&e));
                    if let Err(err) = deps.store.put(item, Cond::None).await {
                        tracing::warn!(error = %err, "could not record an execution event");
                    }
                }
                Record::Checkpoint(c) => checkpoint = Some(c),
                Record::Renew => renew = true,
            }
        }
        if checkpoint.is_none() && !renew {
            continue;
        }
        let mut upd = Update::new(pk.clone(), exec_sk(&job.job_id))
            .set("lease_until", deps.clock.now().plus(LEASE).millis())
            .when(Cond::AttrEquals("owner".into(), json!(owner)));
        if let Some(c) = checkpoint {
            upd = upd.set("at_state", c.state).set("at_input", c.input);
        }
        match deps.store.update(upd).await {
            Ok(_) => {}
            Err(StoreError::ConditionFailed { .. }) => {
                tracing::warn!(job_id = %job.job_id, "another process resumed this execution");
            }
            Err(e) => tracing::warn!(error = %e, "could not record an execution checkpoint"),
        }
    }
}

impl LocalPipeline {
    /// `time_scale` shortens Waits and backoffs (1.0 normally; small in tests).
    pub fn new(deps: Deps, queue: Arc<dyn Queue>, time_scale: f64) -> Result<Arc<Self>, String> {
        Self::with_provider_timeout(deps, queue, time_scale, Duration::from_secs(300))
    }

    /// As [`LocalPipeline::new`], with the worker's limit on one provider submit.
    pub fn with_provider_timeout(
        deps: Deps,
        queue: Arc<dyn Queue>,
        time_scale: f64,
        provider_timeout: Duration,
    ) -> Result<Arc<Self>, String> {
        let text = substitute(DEFINITION, &local_substitutions())?;
        let machine = viral_workflow::load(&text).map_err(|e| e.to_string())?;
        let runner = Arc::new(LocalRunner {
            deps: deps.clone(),
            queue: queue.clone(),
        });
        let engine = Arc::new(Engine::new(runner, deps.clock.clone(), time_scale));
        Ok(Arc::new_cyclic(|me| Self {
            engine,
            machine: Arc::new(machine),
            deps,
            queue,
            owner: viral_core::ids::new_id("proc"),
            me: me.clone(),
            provider_timeout,
        }))
    }

    /// Starts the job's execution, named after the job: starting twice starts once.
    pub async fn start(self: &Arc<Self>, job: &JobRef) -> Result<bool, StoreError> {
        let now = self.deps.clock.now();
        let record = Item::new(keys::tenant_pk(&job.tenant_id), exec_sk(&job.job_id))
            .with("status", "RUNNING")
            .with("started_at", now.millis())
            .with("owner", self.owner.as_str())
            .with("lease_until", now.plus(LEASE).millis());
        match self.deps.store.put(record, Cond::Absent).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        let me = self.clone();
        let job = job.clone();
        tokio::spawn(async move { me.run_execution(job, None).await });
        Ok(true)
    }

    /// Runs an execution to its end under this process's claim, then records how it ended.
    async fn run_execution(&self, job: JobRef, resume: Option<Resume>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Record>();
        let writer = tokio::spawn(write_records(
            self.deps.clone(),
            job.clone(),
            self.owner.clone(),
            rx,
        ));
        let input = json!({"tenant_id": job.tenant_id, "job_id": job.job_id});
        let sink = ChannelSink(tx);
        let x = {
            let execution = self.engine.execute_from(
                &self.machine,
                MACHINE_NAME,
                &job.job_id,
                input,
                resume,
                Some(&sink),
            );
            let mut execution = std::pin::pin!(execution);
            // The claim is renewed on real time (the process is alive), whatever the time scale.
            loop {
                tokio::select! {
                    x = &mut execution => break x,
                    () = tokio::time::sleep(RENEW_EVERY) => {
                        let _ = sink.0.send(Record::Renew);
                    }
                }
            }
        };
        drop(sink);
        let _ = writer.await;
        let status = match &x.outcome {
            Outcome::Succeeded(_) => "SUCCEEDED",
            Outcome::Failed(_) => "FAILED",
            Outcome::TimedOut => "TIMED_OUT",
        };
        if !matches!(x.outcome, Outcome::Succeeded(_)) {
            // Whatever ended the execution, the job ends failed and refunded.
            let _ = steps::refund_job(
                &self.deps,
                steps::RefundInput {
                    tenant_id: job.tenant_id.clone(),
                    job_id: job.job_id.clone(),
                    error: json!({"Error": format!("Execution.{status}"), "Cause": "the workflow ended"}),
                },
            )
            .await;
        }
        let done = Update::new(keys::tenant_pk(&job.tenant_id), exec_sk(&job.job_id))
            .set("status", status)
            .set("ended_at", self.deps.clock.now().millis())
            .remove("lease_until")
            .remove("at_input")
            .when(Cond::AttrEquals("owner".into(), json!(self.owner)));
        match self.deps.store.update(done).await {
            Ok(_) => {}
            Err(StoreError::ConditionFailed { .. }) => {
                tracing::warn!(job_id = %job.job_id, "another process owns this execution now");
            }
            Err(e) => {
                tracing::error!(error = %e, job_id = %job.job_id, "could not record the execution")
            }
        }
    }

    /// Picks up what stopped processes left behind: a running execution whose claim lapsed
    /// resumes from its last checkpoint (that state runs again; every step is idempotent),
    /// and an accepted job whose execution never started is started. Returns how many.
    pub async fn resume_interrupted(self: &Arc<Self>) -> Result<usize, viral_core::Error> {
        let mut picked = 0;
        let mut cursor = None;
        loop {
            let (jobs, next) =
                viral_core::service::videos::open_jobs(&*self.deps.store, cursor).await?;
            for job in jobs {
                let r = JobRef {
                    tenant_id: job.tenant_id.clone(),
                    job_id: job.id.clone(),
                };
                let now = self.deps.clock.now();
                let record = self
                    .deps
                    .store
                    .get(&keys::tenant_pk(&r.tenant_id), &exec_sk(&r.job_id))
                    .await?;
                let resumed = match record {
                    None if job.created_at.plus(START_GRACE) < now => self.start(&r).await?,
                    Some(rec)
                        if rec.str("status") == Some("RUNNING")
                            && rec.int("lease_until").unwrap_or(0) < now.millis() =>
                    {
                        self.claim_and_resume(r, rec).await?
                    }
                    _ => false,
                };
                picked += usize::from(resumed);
            }
            match next {
                Some(c) => cursor = Some(c),
                None => return Ok(picked),
            }
        }
    }

    /// Takes over an execution whose claim lapsed (only one process can: the claim is a
    /// conditional write on the lapsed lease) and resumes it where it last checkpointed.
    async fn claim_and_resume(
        self: &Arc<Self>,
        job: JobRef,
        rec: Item,
    ) -> Result<bool, StoreError> {
        let pk = keys::tenant_pk(&job.tenant_id);
        let now = self.deps.clock.now();
        let claim = Update::new(pk.clone(), exec_sk(&job.job_id))
            .set("owner", self.owner.as_str())
            .set("lease_until", now.plus(LEASE).millis())
            .when(Cond::below("lease_until", now.millis()));
        match self.deps.store.update(claim).await {
            Ok(_) => {}
            Err(StoreError::ConditionFailed { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        let last = self
            .deps
            .store
            .query(
                viral_core::ports::Query::new(&pk, events_prefix(&job.job_id))
                    .descending()
                    .limit(1),
            )
            .await?;
        let next_event_id = last
            .items
            .first()
            .and_then(|i| i.attrs.get("event"))
            .and_then(|e| e["id"].as_u64())
            .map_or(1, |id| id + 1);
        let at = match (rec.str("at_state"), rec.attrs.get("at_input")) {
            (Some(state), Some(input)) => Checkpoint {
                state: state.to_owned(),
                input: input.clone(),
            },
            // It died before its first checkpoint was written: from the top.
            _ => Checkpoint {
                state: self.machine.start_at.clone(),
                input: json!({"tenant_id": job.tenant_id, "job_id": job.job_id}),
            },
        };
        tracing::info!(job_id = %job.job_id, state = %at.state, "resuming an interrupted execution");
        let resume = Resume {
            started_at: Timestamp(rec.int("started_at").unwrap_or_else(|| now.millis())),
            at,
            next_event_id,
        };
        let me = self.clone();
        tokio::spawn(async move { me.run_execution(job, Some(resume)).await });
        Ok(true)
    }

    /// The execution's status and history so far (Step Functions-shaped events).
    pub async fn describe(
        &self,
        tenant_id: &str,
        job_id: &str,
    ) -> Result<Option<Value>, StoreError> {
        let pk = keys::tenant_pk(tenant_id);
        let Some(record) = self.deps.store.get(&pk, &exec_sk(job_id)).await? else {
            return Ok(None);
        };
        let mut history = Vec::new();
        let mut cursor = None;
        loop {
            let q = viral_core::ports::Query::new(&pk, events_prefix(job_id))
                .limit(1000)
                .after(cursor);
            let page = self.deps.store.query(q).await?;
            history.extend(
                page.items
                    .into_iter()
                    .filter_map(|mut i| i.attrs.remove("event")),
            );
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut out = record.attrs;
        out.retain(|k, _| PUBLIC_FIELDS.contains(&k.as_str()));
        out.insert("history".into(), Value::Array(history));
        Ok(Some(Value::Object(out)))
    }

    /// Ends jobs still open `older_than` after acceptance (see `videos::reconcile`): failed
    /// and refunded once; their execution record, if still "running", becomes ABORTED.
    /// Returns how many it ended.
    pub async fn reconcile(&self, older_than: Duration) -> Result<usize, viral_core::Error> {
        let done = viral_core::service::videos::reconcile(
            &*self.deps.store,
            &*self.deps.clock,
            older_than,
        )
        .await?;
        for e in &done.errors {
            tracing::warn!(error = %e, "reconciler could not end a job");
        }
        for job in &done.ended {
            let pk = keys::tenant_pk(&job.tenant_id);
            let aborted = Item::new(pk, exec_sk(&job.job_id))
                .with("status", "ABORTED")
                .with("ended_at", self.deps.clock.now().millis());
            let running = Cond::AttrEquals("status".into(), json!("RUNNING"));
            match self.deps.store.put(aborted, running).await {
                Ok(()) | Err(StoreError::ConditionFailed { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(done.ended.len())
    }

    /// Consumes the provider queue until the process ends: submits renders (up to 16 at once,
    /// each bounded by the provider timeout) and reports back through the task token. Safe
    /// under duplicate delivery: a closed token is refused and the message dropped.
    pub fn spawn_worker(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        let slots = Arc::new(tokio::sync::Semaphore::new(16));
        tokio::spawn(async move {
            loop {
                let free = slots.available_permits().clamp(1, 10) as u32;
                let msgs = match me
                    .queue
                    .receive(free, Duration::from_secs(300), Duration::from_secs(1))
                    .await
                {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "provider queue receive failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                for m in msgs {
                    let Ok(permit) = slots.clone().acquire_owned().await else {
                        return;
                    };
                    let me = me.clone();
                    tokio::spawn(async move {
                        let handled = crate::worker::handle_message(
                            &me.deps,
                            &*me,
                            &m.body,
                            me.provider_timeout,
                        )
                        .await;
                        // A message whose answer could not be delivered stays for redelivery.
                        if handled != crate::worker::Handled::Retry {
                            let _ = me.queue.delete(&m.receipt).await;
                        }
                        drop(permit);
                    });
                }
            }
        })
    }
}

#[async_trait]
impl viral_core::ports::Workflow for LocalPipeline {
    async fn start_job(
        &self,
        tenant_id: &str,
        job_id: &str,
    ) -> Result<bool, viral_core::ports::WorkflowError> {
        let me = self.me.upgrade().ok_or_else(|| {
            viral_core::ports::WorkflowError::Unavailable("pipeline shutting down".into())
        })?;
        me.start(&JobRef {
            tenant_id: tenant_id.to_owned(),
            job_id: job_id.to_owned(),
        })
        .await
        .map_err(|e| viral_core::ports::WorkflowError::Unavailable(e.to_string()))
    }

    async fn job_history(
        &self,
        tenant_id: &str,
        job_id: &str,
    ) -> Result<Option<Value>, viral_core::ports::WorkflowError> {
        self.describe(tenant_id, job_id)
            .await
            .map_err(|e| viral_core::ports::WorkflowError::Unavailable(e.to_string()))
    }
}

#[async_trait]
impl viral_core::ports::TaskCallbacks for LocalPipeline {
    async fn task_heartbeat(&self, token: &str) -> Result<bool, viral_core::ports::WorkflowError> {
        Ok(self.engine.send_task_heartbeat(token).is_ok())
    }

    async fn task_succeeded(
        &self,
        token: &str,
        output: Value,
    ) -> Result<bool, viral_core::ports::WorkflowError> {
        Ok(self.engine.send_task_success(token, output).is_ok())
    }

    async fn task_failed(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<bool, viral_core::ports::WorkflowError> {
        Ok(self.engine.send_task_failure(token, error, cause).is_ok())
    }
}

fn event_json(e: &Event) -> Value {
    json!({"id": e.id, "timestamp": e.timestamp, "type": e.kind, "state": e.state, "details": e.detail})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definition_loads_with_local_substitutions() {
        let text = substitute(DEFINITION, &local_substitutions()).unwrap();
        viral_workflow::load(&text).unwrap();
        assert!(substitute("${Nope}", &local_substitutions()).is_err());
    }

    #[test]
    fn every_provider_queue_url_is_the_local_queue() {
        let text = substitute(DEFINITION, &local_substitutions()).unwrap();
        let expr = format!("States.Format('{LOCAL_QUEUE_PREFIX}{{}}', $.provider)");
        assert!(
            text.contains(&expr),
            "Submit no longer formats the queue URL"
        );
        assert!(local_queue(&json!({"QueueUrl": "local:provider-jobs/runway"})).is_ok());
        for bad in [
            json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/viral-provider-runway"}),
            json!({"MessageBody": {}}),
        ] {
            assert_eq!(
                local_queue(&bad).unwrap_err().error,
                "SQS.QueueDoesNotExist"
            );
        }
    }
}
