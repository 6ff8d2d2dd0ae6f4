//! The local pipeline: the real `statemachines/video-generation.asl.json` on the in-process
//! ASL engine, its Task resources resolved to the step functions, its SQS integration to a
//! local queue per provider, and a provider worker per queue.
//!
//! Any number of processes may share one data dir. Each execution is run by the process that
//! holds its claim (a lease renewed while it runs); when a process dies, another resumes its
//! executions from their last checkpoint once the claims lapse. Queue messages are claimed by
//! a visibility timeout that the worker extends while it works, so a message whose worker
//! died comes back. Task tokens are kept in the store: a worker in one process answers a
//! task waiting in another through that process's inbox.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use viral_core::Timestamp;
use viral_core::domain::keys;
use viral_core::ports::{Cond, Item, ItemStore, Message, Queue, StoreError, Update, Write};
use viral_core::ports::{TaskCallbacks, Transaction, TxError, WorkflowError};
use viral_workflow::engine::{Event, Outcome};
use viral_workflow::{
    Checkpoint, Engine, Failure, Machine, Resume, TaskCall, TaskRunner, TokenBook,
};

use viral_steps::steps::{self, JobRef, SubmitLimits};
use viral_steps::worker::{self, Handled};
use viral_steps::{Deps, Step, run_step};

/// The workflow definition, as deployed.
pub const DEFINITION: &str = include_str!("../../../statemachines/video-generation.asl.json");
/// The publish workflow's definition, as deployed: an execution per post.
pub const PUBLISH_DEFINITION: &str = include_str!("../../../statemachines/publish.asl.json");

/// Executions are named after what they run: a job (`job_…`) or a post (`post_…`).
fn is_post(execution_id: &str) -> bool {
    execution_id.starts_with("post_")
}

/// An execution's input: its tenant and its job or post.
fn execution_input(r: &JobRef) -> Value {
    if is_post(&r.job_id) {
        json!({"tenant_id": r.tenant_id, "post_id": r.job_id})
    } else {
        viral_core::ports::workflow::job_input(&r.tenant_id, &r.job_id)
    }
}

/// `${…}` substitutions of the definition and what they become locally (SAM's
/// `DefinitionSubstitutions` give the ARNs on AWS): `viral:<step>` and the local provider
/// queues, one per provider as on AWS.
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

/// The provider a queue URL names (`local:provider-jobs/<provider>`); anything else names a
/// queue that does not exist here.
fn local_queue(send: &Value) -> Result<&str, Failure> {
    let url = send.get("QueueUrl").and_then(Value::as_str);
    url.and_then(|u| u.strip_prefix(LOCAL_QUEUE_PREFIX))
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Failure::new("SQS.QueueDoesNotExist", format!("no local queue {url:?}")))
}

struct LocalRunner {
    deps: Deps,
    queues: HashMap<String, Arc<dyn Queue>>,
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
                let provider = local_queue(&call.input)?;
                let queue = self.queues.get(provider).ok_or_else(|| {
                    Failure::new(
                        "SQS.QueueDoesNotExist",
                        format!("no local queue for provider {provider:?}"),
                    )
                })?;
                let body = call
                    .input
                    .get("MessageBody")
                    .ok_or_else(|| Failure::new("Step.BadInput", "no MessageBody"))?;
                let id = queue
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
const LEASE: Duration = Duration::from_secs(30);
const RENEW_EVERY: Duration = Duration::from_secs(10);
/// An accepted job with no execution this long after acceptance lost its start (the process
/// died between the two); the sweep starts it.
const START_GRACE: Duration = Duration::from_secs(10);
/// How often a process looks for executions to resume, and for overdue jobs.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
/// How often a process reads the answers other processes left for its tasks.
const INBOX_EVERY: Duration = Duration::from_millis(100);
/// When a message whose answer could not be delivered comes back.
const RETRY_DELAY: Duration = Duration::from_secs(5);
/// When a message for a clip another worker is submitting comes back (as a new message, so
/// waiting does not count towards the dead-letter queue).
const BUSY_DELAY: Duration = Duration::from_secs(5);
/// The queue (from `queue_for`, like a provider's) where the worker follows submitted clips.
pub const RENDER_POLLS: &str = "render-polls";
const MACHINE_NAME: &str = "video-generation";
const PUBLISH_MACHINE_NAME: &str = "publish";

/// The execution record's fields that `describe` shows; the rest is bookkeeping.
const PUBLIC_FIELDS: [&str; 3] = ["status", "started_at", "ended_at"];

/// Each provider's queue, by provider name.
pub type QueueFor = Arc<dyn Fn(&str) -> Arc<dyn Queue> + Send + Sync>;

/// How a local pipeline runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Multiplies the workflow's waits and retry backoffs (1.0 normally; small in tests and
    /// benchmarks). Timeouts are not scaled.
    pub time_scale: f64,
    /// What the worker gives one provider call.
    pub limits: SubmitLimits,
    /// How many submits each provider's worker runs at once (each queue's
    /// `MaximumConcurrency` on AWS); the rest wait in its queue.
    pub concurrency: HashMap<String, usize>,
    /// For providers not in `concurrency`.
    pub default_concurrency: usize,
    /// How long a received message stays hidden; the worker extends it every third of that
    /// while it works, so a message whose worker died is delivered again this soon after.
    pub visibility: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            time_scale: 1.0,
            limits: SubmitLimits {
                provider_timeout: Duration::from_secs(300),
                lease: Duration::from_secs(30),
                wait_scale: 1.0,
            },
            // Storyboard renders use the CPU: two at once on a laptop.
            concurrency: HashMap::from([("storyboard".to_owned(), 2)]),
            default_concurrency: 5,
            visibility: Duration::from_secs(30),
        }
    }
}

impl Options {
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.time_scale = scale;
        self
    }

    pub fn concurrency_of(&self, provider: &str) -> usize {
        self.concurrency
            .get(provider)
            .copied()
            .unwrap_or(self.default_concurrency)
            .max(1)
    }
}

fn exec_sk(job_id: &str) -> String {
    format!("EXEC#{job_id}")
}

/// Index partition of the execution records still running, in any tenant: how a process
/// finds the executions a dead one left, including those whose job already ended (a process
/// that died right after finalizing).
const RUNNING_EXECS: &str = "EXECS#RUNNING";

fn running_key(started: Timestamp, job: &JobRef) -> String {
    format!("{:015}#{}#{}", started.millis(), job.tenant_id, job.job_id)
}

fn events_prefix(job_id: &str) -> String {
    format!("EVT#{job_id}#")
}

/// A callback for a task waiting in another process.
#[derive(Clone, Debug)]
enum Callback {
    Success(Value),
    Failure { error: String, cause: String },
    Heartbeat,
}

/// Task tokens in the store: `<owner>.<id>`, open while their task waits, and each process's
/// inbox of callbacks that other processes made for its tasks.
struct StoreTokens {
    store: Arc<dyn ItemStore>,
    owner: String,
}

fn tokens_pk(owner: &str) -> String {
    format!("TASKTOKENS#{owner}")
}

fn inbox_pk(owner: &str) -> String {
    format!("TASKINBOX#{owner}")
}

/// The process a token belongs to.
fn owner_of(token: &str) -> Option<&str> {
    token.split_once('.').map(|(owner, _)| owner)
}

/// Why a callback was not delivered: its token was already answered, ended or never issued.
#[derive(Clone, Copy, Debug)]
struct TokenNotOpen;

fn callback_failure(e: StoreError) -> WorkflowError {
    WorkflowError::Unavailable(e.to_string())
}

impl StoreTokens {
    /// Hands a callback to the process whose task waits on `token`: the token moves from
    /// open to answered and the callback lands in that process's inbox, together. False when
    /// the token is not open (answered, ended, or never issued).
    async fn deliver(&self, token: &str, cb: Callback) -> Result<bool, WorkflowError> {
        let Some(owner) = owner_of(token) else {
            return Ok(false);
        };
        let open = Cond::AttrEquals("state".into(), json!("open"));
        let token_write = match cb {
            Callback::Heartbeat => Update::new(tokens_pk(owner), token)
                .set("heartbeat", true)
                .when(open),
            _ => Update::new(tokens_pk(owner), token)
                .set("state", "answered")
                .when(open),
        };
        let (kind, detail) = match &cb {
            Callback::Success(v) => ("success", json!({"output": v})),
            Callback::Failure { error, cause } => {
                ("failure", json!({"error": error, "cause": cause}))
            }
            Callback::Heartbeat => ("heartbeat", json!({})),
        };
        let mail = Item::new(
            inbox_pk(owner),
            format!("{token}#{}", viral_core::ids::new_id("cb")),
        )
        .with("token", token)
        .with("kind", kind)
        .with("detail", detail);
        let mut tx = Transaction::new();
        tx.guarded(TokenNotOpen, Write::Update(token_write))
            .write(Write::Put(mail, Cond::Absent));
        match tx.commit(&*self.store).await {
            Ok(()) => Ok(true),
            Err(TxError::Refused(TokenNotOpen)) => Ok(false),
            Err(TxError::Store(e)) => Err(callback_failure(e)),
        }
    }

    /// Whether `token` is open, without answering it.
    async fn is_open(&self, token: &str) -> Result<bool, WorkflowError> {
        let Some(owner) = owner_of(token) else {
            return Ok(false);
        };
        let item = self
            .store
            .get(&tokens_pk(owner), token)
            .await
            .map_err(callback_failure)?;
        Ok(item.is_some_and(|i| i.str("state") == Some("open")))
    }

    /// Takes what other processes left in this process's inbox.
    async fn take_inbox(&self) -> Result<Vec<(String, Callback)>, StoreError> {
        let page = self
            .store
            .query(viral_core::ports::Query::new(inbox_pk(&self.owner), "").limit(100))
            .await?;
        let mut out = Vec::with_capacity(page.items.len());
        for item in page.items {
            self.store.delete(&item.pk, &item.sk, Cond::None).await?;
            let Some(token) = item.str("token").map(str::to_owned) else {
                continue;
            };
            let detail = item.attrs.get("detail").cloned().unwrap_or(Value::Null);
            let text = |k: &str| detail[k].as_str().unwrap_or_default().to_owned();
            let cb = match item.str("kind") {
                Some("success") => Callback::Success(detail["output"].clone()),
                Some("failure") => Callback::Failure {
                    error: text("error"),
                    cause: text("cause"),
                },
                Some("heartbeat") => Callback::Heartbeat,
                _ => continue,
            };
            out.push((token, cb));
        }
        Ok(out)
    }
}

#[async_trait]
impl TokenBook for StoreTokens {
    async fn open(&self) -> Result<String, Failure> {
        let token = format!("{}.{}", self.owner, viral_core::ids::new_id("tt"));
        let item = Item::new(tokens_pk(&self.owner), token.as_str()).with("state", "open");
        self.store
            .put(item, Cond::Absent)
            .await
            .map_err(|e| Failure::new("Store.Unavailable", e.to_string()))?;
        Ok(token)
    }

    async fn close(&self, token: &str) {
        if let Some(owner) = owner_of(token)
            && let Err(e) = self
                .store
                .delete(&tokens_pk(owner), token, Cond::None)
                .await
        {
            tracing::debug!(error = %e, "could not close a task token");
        }
    }
}

/// An execution this process runs.
struct Running {
    tenant_id: String,
    task: tokio::task::AbortHandle,
}

pub struct LocalPipeline {
    engine: Arc<Engine>,
    machine: Arc<Machine>,
    publish_machine: Arc<Machine>,
    deps: Deps,
    queues: HashMap<String, Arc<dyn Queue>>,
    /// Submitted clips the worker follows until their render is fetched.
    polls: Arc<dyn Queue>,
    tokens: Arc<StoreTokens>,
    /// This process's claim on the executions it runs, and the owner of its task tokens.
    owner: String,
    /// Itself, for the `Workflow` port whose methods take `&self`.
    me: std::sync::Weak<LocalPipeline>,
    options: Options,
    running: Mutex<HashMap<String, Running>>,
    /// Each provider's worker slots, and the render polls' (taken whole when the worker
    /// drains).
    slots: HashMap<String, Arc<Semaphore>>,
    stopping: AtomicBool,
    background: Mutex<Vec<JoinHandle<()>>>,
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
/// one that resumed the execution, and tell it (`lost`) to stop.
async fn write_records(
    deps: Deps,
    job: JobRef,
    owner: String,
    lost: Arc<AtomicBool>,
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
                lost.store(true, Ordering::SeqCst);
            }
            Err(e) => tracing::warn!(error = %e, "could not record an execution checkpoint"),
        }
    }
}

impl LocalPipeline {
    /// The pipeline over `deps`, with a queue per provider from `queue_for`. Nothing runs
    /// until [`LocalPipeline::start`] (an execution) or [`LocalPipeline::run_background`]
    /// (the workers, the inbox and the sweeper).
    pub fn new(deps: Deps, queue_for: QueueFor, options: Options) -> Result<Arc<Self>, String> {
        // The worker's waits between polls are the workflow's waits, scaled alike.
        let mut options = options;
        options.limits.wait_scale = options.time_scale;
        let text = substitute(DEFINITION, &local_substitutions())?;
        let machine = viral_workflow::load(&text).map_err(|e| e.to_string())?;
        let text = substitute(PUBLISH_DEFINITION, &local_substitutions())?;
        let publish_machine = viral_workflow::load(&text).map_err(|e| e.to_string())?;
        let names: Vec<String> = deps
            .providers
            .profiles()
            .into_iter()
            .map(|p| p.name)
            .collect();
        let queues: HashMap<String, Arc<dyn Queue>> =
            names.iter().map(|n| (n.clone(), queue_for(n))).collect();
        let mut slots: HashMap<String, Arc<Semaphore>> = names
            .iter()
            .map(|n| {
                (
                    n.clone(),
                    Arc::new(Semaphore::new(options.concurrency_of(n))),
                )
            })
            .collect();
        let polls = queue_for(RENDER_POLLS);
        slots.insert(
            RENDER_POLLS.to_owned(),
            Arc::new(Semaphore::new(options.concurrency_of(RENDER_POLLS))),
        );
        let owner = viral_core::ids::new_id("proc");
        let tokens = Arc::new(StoreTokens {
            store: deps.store.clone(),
            owner: owner.clone(),
        });
        let runner = Arc::new(LocalRunner {
            deps: deps.clone(),
            queues: queues.clone(),
        });
        // Waits and backoffs follow the time scale; timeouts stay real, so a step slowed by a
        // busy machine (or a test's load) is slow, not failed.
        let engine = Arc::new(
            Engine::new(runner, deps.clock.clone(), options.time_scale)
                .with_timeout_scale(1.0)
                .with_tokens(tokens.clone()),
        );
        Ok(Arc::new_cyclic(|me| Self {
            engine,
            machine: Arc::new(machine),
            publish_machine: Arc::new(publish_machine),
            deps,
            queues,
            polls,
            tokens,
            owner,
            me: me.clone(),
            options,
            running: Mutex::new(HashMap::new()),
            slots,
            stopping: AtomicBool::new(false),
            background: Mutex::new(Vec::new()),
        }))
    }

    /// What routing knows of the providers this pipeline uses.
    pub fn profiles(&self) -> Vec<viral_core::domain::routing::ProviderProfile> {
        self.deps.providers.profiles()
    }

    /// Starts the job's execution, named after the job: starting twice starts once.
    pub async fn start(self: &Arc<Self>, job: &JobRef) -> Result<bool, StoreError> {
        let now = self.deps.clock.now();
        let record = Item::new(keys::tenant_pk(&job.tenant_id), exec_sk(&job.job_id))
            .with("status", "RUNNING")
            .with("started_at", now.millis())
            .with("owner", self.owner.as_str())
            .with("lease_until", now.plus(LEASE).millis())
            .with_gsi1(RUNNING_EXECS, running_key(now, job));
        match self.deps.store.put(record, Cond::Absent).await {
            Ok(()) => {}
            Err(StoreError::ConditionFailed { .. }) => return Ok(false),
            Err(e) => return Err(e),
        }
        self.spawn_execution(job.clone(), None);
        Ok(true)
    }

    fn spawn_execution(self: &Arc<Self>, job: JobRef, resume: Option<Resume>) {
        let me = self.clone();
        let job_id = job.job_id.clone();
        let tenant_id = job.tenant_id.clone();
        // Held until the entry is in place, so a fast execution's removal comes after it.
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let task = tokio::spawn(async move { me.run_execution(job, resume).await });
        let abort = task.abort_handle();
        running.insert(
            job_id.clone(),
            Running {
                tenant_id,
                task: abort,
            },
        );
        drop(running);
        // A panic in the execution stops its lease renewals; forgetting it lets the next
        // sweep (this process's too) resume it once the lease lapses.
        let me = self.clone();
        tokio::spawn(async move {
            if let Err(e) = task.await
                && e.is_panic()
            {
                tracing::error!(
                    job_id,
                    "an execution panicked; it resumes once its claim lapses"
                );
                me.forget(&job_id);
            }
        });
    }

    /// Runs an execution to its end under this process's claim, then records how it ended.
    /// If another process takes the claim over (this one stalled past its lease), it stops.
    async fn run_execution(&self, job: JobRef, resume: Option<Resume>) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Record>();
        let lost = Arc::new(AtomicBool::new(false));
        let writer = tokio::spawn(write_records(
            self.deps.clone(),
            job.clone(),
            self.owner.clone(),
            lost.clone(),
            rx,
        ));
        let input = execution_input(&job);
        let sink = ChannelSink(tx);
        let (machine, name) = self.machine_of(&job.job_id);
        let x = {
            let execution =
                self.engine
                    .execute_from(machine, name, &job.job_id, input, resume, Some(&sink));
            let mut execution = std::pin::pin!(execution);
            // The claim is renewed on real time (the process is alive), whatever the time scale.
            loop {
                tokio::select! {
                    x = &mut execution => break Some(x),
                    () = tokio::time::sleep(RENEW_EVERY) => {
                        if lost.load(Ordering::SeqCst) {
                            break None;
                        }
                        let _ = sink.0.send(Record::Renew);
                    }
                }
            }
        };
        drop(sink);
        let _ = writer.await;
        let Some(x) = x else {
            self.forget(&job.job_id);
            return;
        };
        let status = match &x.outcome {
            Outcome::Succeeded(_) => "SUCCEEDED",
            Outcome::Failed(_) => "FAILED",
            Outcome::TimedOut => "TIMED_OUT",
        };
        if is_post(&job.job_id) {
            if !matches!(x.outcome, Outcome::Succeeded(_) | Outcome::Failed(_)) {
                // Timed out: the post ends failed (a Fail state has failed it already).
                let _ = steps::fail_post(
                    &self.deps,
                    steps::FailPostInput {
                        tenant_id: job.tenant_id.clone(),
                        post_id: job.job_id.clone(),
                        error: json!({"Error": "States.Timeout", "Cause": "the publish workflow timed out"}),
                    },
                )
                .await;
            }
        } else if !matches!(x.outcome, Outcome::Succeeded(_)) {
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
            .clear_gsi1()
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
        self.forget(&job.job_id);
    }

    /// The machine an execution runs, and its name.
    fn machine_of(&self, execution_id: &str) -> (&Machine, &'static str) {
        if is_post(execution_id) {
            (&self.publish_machine, PUBLISH_MACHINE_NAME)
        } else {
            (&self.machine, MACHINE_NAME)
        }
    }

    /// Starts a post's publish execution, named after the post: starting twice starts once.
    pub async fn start_post(
        self: &Arc<Self>,
        tenant_id: &str,
        post_id: &str,
    ) -> Result<bool, StoreError> {
        self.start(&JobRef {
            tenant_id: tenant_id.to_owned(),
            job_id: post_id.to_owned(),
        })
        .await
    }

    fn forget(&self, job_id: &str) {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(job_id);
    }

    fn runs(&self, job_id: &str) -> bool {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(job_id)
    }

    /// Picks up what stopped processes left behind: a running execution whose claim lapsed
    /// resumes from its last checkpoint (that state runs again; every step is idempotent),
    /// and an accepted job whose execution never started is started. Returns how many.
    pub async fn resume_interrupted(self: &Arc<Self>) -> Result<usize, viral_core::Error> {
        let mut picked = 0;
        let mut cursor = None;
        loop {
            let page = self
                .deps
                .store
                .query_gsi1(
                    viral_core::ports::Query::new(RUNNING_EXECS, "")
                        .limit(100)
                        .after(cursor),
                )
                .await?;
            for rec in page.items {
                let Some(tenant_id) = rec.pk.strip_prefix("T#") else {
                    continue;
                };
                let Some(job_id) = rec.sk.strip_prefix("EXEC#") else {
                    continue;
                };
                let now = self.deps.clock.now();
                if self.runs(job_id)
                    || rec.str("status") != Some("RUNNING")
                    || rec.int("lease_until").unwrap_or(0) >= now.millis()
                {
                    continue;
                }
                let r = JobRef {
                    tenant_id: tenant_id.to_owned(),
                    job_id: job_id.to_owned(),
                };
                picked += usize::from(self.claim_and_resume(r, rec).await?);
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        let mut cursor = None;
        loop {
            let (jobs, next) =
                viral_core::service::videos::open_jobs(&*self.deps.store, cursor).await?;
            for job in jobs {
                if self.runs(&job.id) || job.created_at.plus(START_GRACE) >= self.deps.clock.now() {
                    continue;
                }
                let r = JobRef {
                    tenant_id: job.tenant_id.clone(),
                    job_id: job.id.clone(),
                };
                let record = self
                    .deps
                    .store
                    .get(&keys::tenant_pk(&r.tenant_id), &exec_sk(&r.job_id))
                    .await?;
                if record.is_none() {
                    picked += usize::from(self.start(&r).await?);
                }
            }
            match next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        picked += self.start_lost_posts().await?;
        Ok(picked)
    }

    /// Starts the executions of open posts whose start was lost (the process died between
    /// accepting the post and starting it).
    async fn start_lost_posts(self: &Arc<Self>) -> Result<usize, viral_core::Error> {
        let mut picked = 0;
        let mut cursor = None;
        loop {
            let (page, next) =
                viral_core::service::posts::open_posts(&*self.deps.store, cursor).await?;
            for post in page {
                if self.runs(&post.id) || post.created_at.plus(START_GRACE) >= self.deps.clock.now()
                {
                    continue;
                }
                let started = self
                    .deps
                    .store
                    .get(&keys::tenant_pk(&post.tenant_id), &exec_sk(&post.id))
                    .await?
                    .is_some();
                if !started {
                    picked += usize::from(self.start_post(&post.tenant_id, &post.id).await?);
                }
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
        // Only the lapsed lease this sweep read: if its owner renewed it since, or finished
        // (which removes the lease), the claim fails instead of re-running the execution.
        let Some(lapsed) = rec.attrs.get("lease_until").cloned() else {
            return Ok(false);
        };
        let claim = Update::new(pk.clone(), exec_sk(&job.job_id))
            .set("owner", self.owner.as_str())
            .set("lease_until", now.plus(LEASE).millis())
            .when(Cond::AttrEquals("lease_until".into(), lapsed));
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
                state: self.machine_of(&job.job_id).0.start_at.clone(),
                input: execution_input(&job),
            },
        };
        tracing::info!(job_id = %job.job_id, state = %at.state, "resuming an interrupted execution");
        let resume = Resume {
            started_at: Timestamp(rec.int("started_at").unwrap_or_else(|| now.millis())),
            at,
            next_event_id,
        };
        self.spawn_execution(job, Some(resume));
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
        // Stored as epoch milliseconds; shown as every other time in the API is.
        for field in ["started_at", "ended_at"] {
            if let Some(ms) = out.get(field).and_then(Value::as_i64) {
                out.insert(field.into(), json!(Timestamp(ms).rfc3339()));
            }
        }
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
        match viral_core::service::publishing::end_stuck(
            &*self.deps.store,
            &*self.deps.clock,
            &self.deps.social.limits,
            viral_core::service::publishing::STUCK_POST_AFTER,
        )
        .await
        {
            Ok(posts) if posts.ended > 0 => {
                tracing::warn!(ended = posts.ended, "reconciler ended stuck posts");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reconciler could not look for stuck posts"),
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

    /// Runs what keeps this process's share of the work going until [`shutdown`]: a worker
    /// per provider queue (each with its provider's concurrency), the inbox of answers other
    /// processes send its tasks, and the sweeper that resumes executions stopped processes
    /// left and ends overdue jobs.
    ///
    /// [`shutdown`]: LocalPipeline::shutdown
    pub fn run_background(self: &Arc<Self>) {
        let mut handles = Vec::new();
        for (provider, queue) in &self.queues {
            let slots = self.slots[provider].clone();
            handles.push(self.spawn_worker(queue.clone(), slots));
        }
        let slots = self.slots[RENDER_POLLS].clone();
        handles.push(self.spawn_worker(self.polls.clone(), slots));
        let me = self.clone();
        handles.push(tokio::spawn(async move {
            loop {
                tokio::time::sleep(INBOX_EVERY).await;
                match me.tokens.take_inbox().await {
                    Ok(mail) => {
                        for (token, cb) in mail {
                            let _ = match cb {
                                Callback::Success(v) => me.engine.send_task_success(&token, v),
                                Callback::Failure { error, cause } => {
                                    me.engine.send_task_failure(&token, &error, &cause)
                                }
                                Callback::Heartbeat => me.engine.send_task_heartbeat(&token),
                            };
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "could not read the task inbox"),
                }
            }
        }));
        let me = self.clone();
        handles.push(tokio::spawn(async move {
            let mut swept = 0u32;
            loop {
                match me.resume_interrupted().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(resumed = n, "resumed interrupted executions"),
                    Err(e) => tracing::warn!(error = %e, "could not resume executions"),
                }
                // Jobs past the workflow's own timeout end failed and refunded.
                if swept.is_multiple_of(12) {
                    match me.reconcile(viral_steps::STUCK_AFTER).await {
                        Ok(0) => {}
                        Ok(n) => tracing::warn!(ended = n, "reconciler ended stuck executions"),
                        Err(e) => tracing::warn!(error = %e, "reconciler failed"),
                    }
                }
                swept = swept.wrapping_add(1);
                tokio::time::sleep(SWEEP_EVERY).await;
            }
        }));
        self.background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(handles);
    }

    /// One queue's worker (a provider's, or the render polls'): takes messages while it has
    /// free slots and handles each.
    fn spawn_worker(
        self: &Arc<Self>,
        queue: Arc<dyn Queue>,
        slots: Arc<Semaphore>,
    ) -> JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            while !me.stopping.load(Ordering::SeqCst) {
                let Ok(first) = slots.clone().acquire_owned().await else {
                    return;
                };
                let more = slots.available_permits().min(9);
                let msgs = match queue
                    .receive(
                        1 + more as u32,
                        me.options.visibility,
                        Duration::from_secs(1),
                    )
                    .await
                {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "provider queue receive failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                let mut permits = vec![first];
                for _ in 1..msgs.len() {
                    match slots.clone().try_acquire_owned() {
                        Ok(p) => permits.push(p),
                        Err(_) => break,
                    }
                }
                for (m, permit) in msgs.into_iter().zip(permits) {
                    let me = me.clone();
                    let queue = queue.clone();
                    tokio::spawn(async move {
                        me.handle(&*queue, m).await;
                        drop(permit);
                    });
                }
            }
        })
    }

    /// One message: kept hidden while the worker works on it, then deleted, or handed back.
    async fn handle(&self, queue: &dyn Queue, m: Message) {
        let work = worker::handle_message(
            &self.deps,
            self,
            &*self.polls,
            &m.body,
            &self.options.limits,
        );
        let mut work = std::pin::pin!(work);
        let handled = loop {
            tokio::select! {
                h = &mut work => break h,
                () = tokio::time::sleep(self.options.visibility / 3) => {
                    if let Err(e) = queue.extend(&m.receipt, self.options.visibility).await {
                        tracing::warn!(error = %e, "could not keep a message hidden");
                    }
                }
            }
        };
        let done = match handled {
            Handled::Done | Handled::Malformed => queue.delete(&m.receipt).await,
            Handled::Retry => queue.extend(&m.receipt, RETRY_DELAY).await,
            Handled::Busy => match queue.send(&m.body, BUSY_DELAY).await {
                Ok(_) => queue.delete(&m.receipt).await,
                Err(_) => queue.extend(&m.receipt, BUSY_DELAY).await,
            },
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, "could not settle a provider message");
        }
    }

    /// Stops this process's share of the work without losing any: the workers take no new
    /// message and finish the ones in hand (each bounded by the provider timeout), and the
    /// executions this process still runs are handed back (their claims released, so another
    /// process resumes them at once) instead of being left to lapse.
    pub async fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        let drain = self.options.limits.provider_timeout + Duration::from_secs(30);
        for (provider, slots) in &self.slots {
            let all = u32::try_from(self.options.concurrency_of(provider)).unwrap_or(u32::MAX);
            if tokio::time::timeout(drain, slots.acquire_many(all))
                .await
                .is_err()
            {
                tracing::warn!(provider, "a provider call was still running at shutdown");
            }
        }
        let running: Vec<(String, Running)> = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for (job_id, r) in running {
            r.task.abort();
            let release = Update::new(keys::tenant_pk(&r.tenant_id), exec_sk(&job_id))
                .set("lease_until", 0)
                .when(Cond::AttrEquals("owner".into(), json!(self.owner)));
            match self.deps.store.update(release).await {
                Ok(_) | Err(StoreError::ConditionFailed { .. }) => {}
                Err(e) => tracing::warn!(error = %e, job_id, "could not hand an execution back"),
            }
        }
        for h in self
            .background
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
            h.abort();
        }
    }
}

#[async_trait]
impl viral_core::ports::Workflow for LocalPipeline {
    async fn start_job(&self, tenant_id: &str, job_id: &str) -> Result<bool, WorkflowError> {
        let me = self
            .me
            .upgrade()
            .ok_or_else(|| WorkflowError::Unavailable("pipeline shutting down".into()))?;
        me.start(&JobRef {
            tenant_id: tenant_id.to_owned(),
            job_id: job_id.to_owned(),
        })
        .await
        .map_err(|e| WorkflowError::Unavailable(e.to_string()))
    }

    async fn start_post(&self, tenant_id: &str, post_id: &str) -> Result<bool, WorkflowError> {
        let me = self
            .me
            .upgrade()
            .ok_or_else(|| WorkflowError::Unavailable("pipeline shutting down".into()))?;
        me.start_post(tenant_id, post_id)
            .await
            .map_err(|e| WorkflowError::Unavailable(e.to_string()))
    }

    async fn job_history(
        &self,
        tenant_id: &str,
        job_id: &str,
    ) -> Result<Option<Value>, WorkflowError> {
        self.describe(tenant_id, job_id)
            .await
            .map_err(|e| WorkflowError::Unavailable(e.to_string()))
    }
}

/// Callbacks for this process's own tasks go straight to its engine; for another process's,
/// through the store to that process's inbox.
#[async_trait]
impl TaskCallbacks for LocalPipeline {
    async fn task_heartbeat(&self, token: &str) -> Result<bool, WorkflowError> {
        if owner_of(token) == Some(self.owner.as_str()) {
            return Ok(self.engine.send_task_heartbeat(token).is_ok());
        }
        self.tokens.is_open(token).await
    }

    async fn task_succeeded(&self, token: &str, output: Value) -> Result<bool, WorkflowError> {
        if owner_of(token) == Some(self.owner.as_str()) {
            return Ok(self.engine.send_task_success(token, output).is_ok());
        }
        self.tokens.deliver(token, Callback::Success(output)).await
    }

    async fn task_failed(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<bool, WorkflowError> {
        if owner_of(token) == Some(self.owner.as_str()) {
            return Ok(self.engine.send_task_failure(token, error, cause).is_ok());
        }
        let cb = Callback::Failure {
            error: error.to_owned(),
            cause: cause.to_owned(),
        };
        self.tokens.deliver(token, cb).await
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
    fn each_provider_queue_url_names_its_local_queue() {
        let text = substitute(DEFINITION, &local_substitutions()).unwrap();
        let expr = format!("States.Format('{LOCAL_QUEUE_PREFIX}{{}}', $.provider)");
        assert!(
            text.contains(&expr),
            "Submit no longer formats the queue URL"
        );
        assert_eq!(
            local_queue(&json!({"QueueUrl": "local:provider-jobs/runway"})).unwrap(),
            "runway"
        );
        for bad in [
            json!({"QueueUrl": "https://sqs.us-east-1.amazonaws.com/1/viral-provider-runway"}),
            json!({"QueueUrl": "local:provider-jobs/"}),
            json!({"MessageBody": {}}),
        ] {
            assert_eq!(
                local_queue(&bad).unwrap_err().error,
                "SQS.QueueDoesNotExist"
            );
        }
    }

    #[test]
    fn the_reconciler_waits_for_the_executions_own_timeout() {
        let def: Value = serde_json::from_str(DEFINITION).unwrap();
        assert_eq!(
            def["TimeoutSeconds"].as_u64(),
            Some(viral_steps::EXECUTION_TIMEOUT.as_secs())
        );
        assert!(viral_steps::STUCK_AFTER > viral_steps::EXECUTION_TIMEOUT);
    }

    #[test]
    fn tokens_name_their_process() {
        assert_eq!(owner_of("proc_1.tt_2"), Some("proc_1"));
        assert_eq!(owner_of("tt_2"), None);
    }
}
