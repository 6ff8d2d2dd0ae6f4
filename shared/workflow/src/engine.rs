//! Runs a loaded state machine: input/output processing, Retry with backoff and jitter, Catch,
//! timeouts, heartbeats, `.waitForTaskToken` callbacks, Parallel and Map, and an execution
//! history shaped like Step Functions'. A time scale lets tests run Waits and backoffs fast.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::{BoxFuture, try_join_all};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use viral_core::{Clock, Timestamp};

use crate::model::{Catcher, Kind, Machine, PathSpec, Retrier, State, WaitSpec};

/// A failure as Step Functions names it: `Error` and `Cause`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub error: String,
    pub cause: String,
}

impl Failure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }

    fn runtime(cause: impl Into<String>) -> Self {
        Self::new(RUNTIME, cause)
    }
}

pub const RUNTIME: &str = "States.Runtime";
pub const TIMEOUT: &str = "States.Timeout";
pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
pub const NO_CHOICE: &str = "States.NoChoiceMatched";

/// One Task invocation, as handed to the [`TaskRunner`].
#[derive(Clone, Debug)]
pub struct TaskCall {
    pub execution: String,
    pub state: String,
    /// The resource without its `.waitForTaskToken` suffix.
    pub resource: String,
    pub input: Value,
    /// Set for callback tasks: whoever finishes the work calls `send_task_success` with it.
    pub token: Option<String>,
    /// 0 on the first try.
    pub retry_count: u32,
}

/// What a Task's `Resource` does. For callback tasks the result is ignored: the output comes
/// from `send_task_success`.
#[async_trait]
pub trait TaskRunner: Send + Sync {
    async fn run(&self, call: TaskCall) -> Result<Value, Failure>;
}

enum Callback {
    Success(Value),
    Failure(Failure),
    Heartbeat,
}

/// Where callback task tokens are kept while their task waits. The engine delivers callbacks
/// made in its own process; a book that records tokens elsewhere (a store shared by several
/// processes) lets other processes find out whether a token is still open and answer it.
#[async_trait]
pub trait TokenBook: Send + Sync {
    /// A new token, recorded as open before the task's work (its message) goes out.
    async fn open(&self) -> Result<String, Failure>;
    /// The task ended, however it ended: the token is refused from now on.
    async fn close(&self, token: &str);
}

/// Tokens known only to this engine: callbacks must come from the same process.
pub struct MemoryTokens;

#[async_trait]
impl TokenBook for MemoryTokens {
    async fn open(&self) -> Result<String, Failure> {
        Ok(viral_core::ids::new_id("tt"))
    }

    async fn close(&self, _token: &str) {}
}

/// Why a callback was refused (Step Functions answers `TaskTimedOut` or `TaskDoesNotExist`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CallbackError {
    #[error("no open task has this token (it finished, timed out or never existed)")]
    TaskDoesNotExist,
}

/// What a history shows instead of a task token.
pub const REDACTED_TOKEN: &str = "[task token]";

/// Replaces every string holding `token` in `v` with [`REDACTED_TOKEN`].
fn redact(v: &mut Value, token: &str) {
    match v {
        Value::String(s) if s.contains(token) => *s = REDACTED_TOKEN.to_owned(),
        Value::Array(items) => items.iter_mut().for_each(|i| redact(i, token)),
        Value::Object(fields) => fields.values_mut().for_each(|f| redact(f, token)),
        _ => {}
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: u64,
    pub timestamp: String,
    pub kind: String,
    pub state: Option<String>,
    pub detail: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Succeeded(Value),
    Failed(Failure),
    TimedOut,
}

#[derive(Clone, Debug)]
pub struct Execution {
    pub name: String,
    pub outcome: Outcome,
    pub history: Vec<Event>,
}

/// Where an execution can pick up again: a top-level state and the input it was entered with.
/// Re-entering a state runs it again from the start, so its work must be idempotent (our steps
/// are) — the same at-least-once contract Step Functions gives Lambda tasks.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    pub state: String,
    pub input: Value,
}

/// An execution interrupted (its process ended) and started again from a checkpoint.
#[derive(Clone, Debug)]
pub struct Resume {
    /// When the execution first started: its `TimeoutSeconds` still counts from there.
    pub started_at: Timestamp,
    pub at: Checkpoint,
    /// The id the next history event gets (one past the last one recorded).
    pub next_event_id: u64,
}

/// Receives each history event as it happens (to persist it while the execution runs), and
/// each checkpoint: the execution entered a top-level state with this input.
pub trait EventSink: Send + Sync {
    fn event(&self, event: &Event);

    fn checkpoint(&self, _at: &Checkpoint) {}
}

struct Run<'a> {
    name: &'a str,
    machine_name: &'a str,
    input: &'a Value,
    start_time: String,
    first_event_id: u64,
    history: Mutex<Vec<Event>>,
    sink: Option<&'a dyn EventSink>,
}

pub struct Engine {
    runner: Arc<dyn TaskRunner>,
    clock: Arc<dyn Clock>,
    time_scale: f64,
    /// Multiplies timeouts (task, heartbeat, execution); `time_scale` unless set apart.
    timeout_scale: f64,
    callbacks: Mutex<HashMap<String, mpsc::UnboundedSender<Callback>>>,
    tokens: Arc<dyn TokenBook>,
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn random_fraction() -> f64 {
    let b = viral_core::ids::random_bytes::<8>();
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

fn matches(error_equals: &[String], error: &str) -> bool {
    if error == RUNTIME || error == "States.DataLimitExceeded" {
        // Never retried or caught, as in Step Functions.
        return false;
    }
    error_equals
        .iter()
        .any(|e| e == error || e == "States.ALL" || (e == "States.TaskFailed" && error != TIMEOUT))
}

fn select(spec: &PathSpec, input: &Value, ctx: &Value, what: &str) -> Result<Value, Failure> {
    match spec {
        PathSpec::Default => Ok(input.clone()),
        PathSpec::Null => Ok(json!({})),
        PathSpec::Path(p) => p
            .get(input, ctx)
            .cloned()
            .ok_or_else(|| Failure::runtime(format!("{what} {p} matched nothing"))),
    }
}

fn place(spec: &PathSpec, raw_input: Value, result: Value) -> Result<Value, Failure> {
    match spec {
        PathSpec::Default => Ok(result),
        PathSpec::Null => Ok(raw_input),
        PathSpec::Path(p) => p.set(raw_input, result).map_err(Failure::runtime),
    }
}

impl Engine {
    /// `time_scale` multiplies every wait, backoff and timeout (1.0 in production, small in tests).
    pub fn new(runner: Arc<dyn TaskRunner>, clock: Arc<dyn Clock>, time_scale: f64) -> Self {
        Self {
            runner,
            clock,
            time_scale: time_scale.max(0.0),
            timeout_scale: time_scale.max(0.0),
            callbacks: Mutex::new(HashMap::new()),
            tokens: Arc::new(MemoryTokens),
        }
    }

    /// Scales timeouts (task, heartbeat and execution `TimeoutSeconds`) by `scale` instead of
    /// the time scale: 1.0 keeps them real while waits and backoffs run fast, so a step slowed
    /// by a busy machine is slow, not failed.
    pub fn with_timeout_scale(mut self, scale: f64) -> Self {
        self.timeout_scale = scale.max(0.0);
        self
    }

    /// Keeps callback tokens in `tokens` (the engine still delivers its own process's
    /// callbacks through `send_task_*`).
    pub fn with_tokens(mut self, tokens: Arc<dyn TokenBook>) -> Self {
        self.tokens = tokens;
        self
    }

    fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.time_scale)
    }

    fn timeout(&self, d: Duration) -> Duration {
        d.mul_f64(self.timeout_scale)
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }

    fn record(&self, run: &Run<'_>, kind: &str, state: Option<&str>, detail: Value) {
        if let Ok(mut h) = run.history.lock() {
            let event = Event {
                id: run.first_event_id + h.len() as u64,
                timestamp: self.now().rfc3339(),
                kind: kind.to_owned(),
                state: state.map(str::to_owned),
                detail,
            };
            if let Some(sink) = run.sink {
                sink.event(&event);
            }
            h.push(event);
        }
    }

    /// Runs an execution to its end.
    pub async fn execute(
        &self,
        machine: &Machine,
        machine_name: &str,
        name: &str,
        input: Value,
    ) -> Execution {
        self.execute_with(machine, machine_name, name, input, None)
            .await
    }

    /// Runs an execution to its end, handing each event to `sink` as it happens.
    pub async fn execute_with(
        &self,
        machine: &Machine,
        machine_name: &str,
        name: &str,
        input: Value,
        sink: Option<&dyn EventSink>,
    ) -> Execution {
        self.execute_from(machine, machine_name, name, input, None, sink)
            .await
    }

    /// Runs an execution to its end, from its start or, with `resume`, from a checkpoint.
    /// A resumed execution's history (returned and sunk) holds only the events from there on.
    pub async fn execute_from(
        &self,
        machine: &Machine,
        machine_name: &str,
        name: &str,
        input: Value,
        resume: Option<Resume>,
        sink: Option<&dyn EventSink>,
    ) -> Execution {
        let started_at = resume.as_ref().map_or_else(|| self.now(), |r| r.started_at);
        let run = Run {
            name,
            machine_name,
            input: &input,
            start_time: started_at.rfc3339(),
            first_event_id: resume.as_ref().map_or(1, |r| r.next_event_id.max(1)),
            history: Mutex::new(Vec::new()),
            sink,
        };
        let from = match resume {
            None => {
                self.record(&run, "ExecutionStarted", None, json!({"input": input}));
                Checkpoint {
                    state: machine.start_at.clone(),
                    input: input.clone(),
                }
            }
            Some(r) => {
                self.record(
                    &run,
                    "ExecutionResumed",
                    Some(&r.at.state),
                    json!({"input": r.at.input}),
                );
                r.at
            }
        };
        let body = self.run_machine(machine, from.input, &run, None, Some(from.state));
        let outcome = match machine.timeout_seconds {
            Some(t) => {
                // Wall time already spent counts, unscaled (the clock is real time).
                let spent = (self.now().millis() - started_at.millis()).max(0) as u64;
                let left = self
                    .timeout(Duration::from_secs(t))
                    .saturating_sub(Duration::from_millis(spent));
                match tokio::time::timeout(left, body).await {
                    Ok(r) => r.map_or_else(Outcome::Failed, Outcome::Succeeded),
                    Err(_) => Outcome::TimedOut,
                }
            }
            None => body.await.map_or_else(Outcome::Failed, Outcome::Succeeded),
        };
        match &outcome {
            Outcome::Succeeded(out) => {
                self.record(&run, "ExecutionSucceeded", None, json!({"output": out}))
            }
            Outcome::Failed(f) => self.record(
                &run,
                "ExecutionFailed",
                None,
                json!({"error": f.error, "cause": f.cause}),
            ),
            Outcome::TimedOut => self.record(&run, "ExecutionTimedOut", None, json!({})),
        }
        Execution {
            name: name.to_owned(),
            outcome,
            history: run.history.into_inner().unwrap_or_default(),
        }
    }

    /// Completes a callback task with its output.
    pub fn send_task_success(&self, token: &str, output: Value) -> Result<(), CallbackError> {
        self.send(token, Callback::Success(output))
    }

    pub fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), CallbackError> {
        self.send(token, Callback::Failure(Failure::new(error, cause)))
    }

    pub fn send_task_heartbeat(&self, token: &str) -> Result<(), CallbackError> {
        self.send(token, Callback::Heartbeat)
    }

    fn send(&self, token: &str, cb: Callback) -> Result<(), CallbackError> {
        let map = self
            .callbacks
            .lock()
            .map_err(|_| CallbackError::TaskDoesNotExist)?;
        map.get(token)
            .and_then(|tx| tx.send(cb).ok())
            .ok_or(CallbackError::TaskDoesNotExist)
    }

    fn context(
        &self,
        run: &Run<'_>,
        state: &str,
        retry: u32,
        token: Option<&str>,
        item: &Option<(usize, Value)>,
    ) -> Value {
        let mut ctx = json!({
            "Execution": {"Id": format!("{}:{}", run.machine_name, run.name), "Name": run.name,
                          "Input": run.input, "StartTime": run.start_time},
            "StateMachine": {"Id": run.machine_name, "Name": run.machine_name},
            "State": {"Name": state, "EnteredTime": self.now().rfc3339(), "RetryCount": retry},
        });
        if let Some(t) = token {
            ctx["Task"] = json!({"Token": t});
        }
        if let Some((i, v)) = item {
            ctx["Map"] = json!({"Item": {"Index": i, "Value": v}});
        }
        ctx
    }

    fn run_machine<'a>(
        &'a self,
        m: &'a Machine,
        mut input: Value,
        run: &'a Run<'a>,
        item: Option<(usize, Value)>,
        top_level_from: Option<String>,
    ) -> BoxFuture<'a, Result<Value, Failure>> {
        Box::pin(async move {
            // Only the top level checkpoints: a branch or iteration re-runs with its state.
            let top = top_level_from.is_some();
            let mut current = top_level_from.unwrap_or_else(|| m.start_at.clone());
            loop {
                let state = m
                    .states
                    .get(&current)
                    .ok_or_else(|| Failure::runtime(format!("no state {current:?}")))?;
                if top && let Some(sink) = run.sink {
                    sink.checkpoint(&Checkpoint {
                        state: current.clone(),
                        input: input.clone(),
                    });
                }
                let ty = type_name(&state.kind);
                self.record(
                    run,
                    &format!("{ty}StateEntered"),
                    Some(&state.name),
                    json!({"input": input}),
                );
                match self.run_state(state, input.clone(), run, &item).await {
                    Ok((output, next)) => {
                        self.record(
                            run,
                            &format!("{ty}StateExited"),
                            Some(&state.name),
                            json!({"output": output}),
                        );
                        match next {
                            Some(n) => {
                                current = n;
                                input = output;
                            }
                            None => return Ok(output),
                        }
                    }
                    Err(f) => {
                        let Some(c) = state
                            .catch
                            .iter()
                            .find(|c| matches(&c.error_equals, &f.error))
                        else {
                            return Err(f);
                        };
                        input = self.caught(c, input, &f)?;
                        self.record(
                            run,
                            "CatchTaken",
                            Some(&state.name),
                            json!({"error": f.error, "next": c.next}),
                        );
                        current = c.next.clone();
                    }
                }
            }
        })
    }

    fn caught(&self, c: &Catcher, raw_input: Value, f: &Failure) -> Result<Value, Failure> {
        place(
            &c.result_path,
            raw_input,
            json!({"Error": f.error, "Cause": f.cause}),
        )
    }

    /// One state: its output and the next state's name (`None` at the end).
    async fn run_state(
        &self,
        s: &State,
        raw_input: Value,
        run: &Run<'_>,
        item: &Option<(usize, Value)>,
    ) -> Result<(Value, Option<String>), Failure> {
        let ctx = self.context(run, &s.name, 0, None, item);
        let input = select(&s.input_path, &raw_input, &ctx, "InputPath")?;
        let finish = |result: Value| -> Result<(Value, Option<String>), Failure> {
            let selected = match &s.result_selector {
                Some(t) => t.render(&result, &ctx).map_err(Failure::runtime)?,
                None => result,
            };
            let placed = place(&s.result_path, raw_input.clone(), selected)?;
            Ok((
                select(&s.output_path, &placed, &ctx, "OutputPath")?,
                s.next.clone(),
            ))
        };
        let effective = |input: &Value, ctx: &Value| -> Result<Value, Failure> {
            match &s.parameters {
                Some(t) => t.render(input, ctx).map_err(Failure::runtime),
                None => Ok(input.clone()),
            }
        };
        match &s.kind {
            Kind::Pass { result } => {
                let r = match result {
                    Some(r) => r.clone(),
                    None => effective(&input, &ctx)?,
                };
                finish(r)
            }
            Kind::Succeed => Ok((select(&s.output_path, &input, &ctx, "OutputPath")?, None)),
            Kind::Fail { error, cause } => Err(Failure::new(
                error.clone().unwrap_or_else(|| "States.Fail".into()),
                cause.clone().unwrap_or_default(),
            )),
            Kind::Choice { choices, default } => {
                let next = choices
                    .iter()
                    .find(|(rule, _)| rule.matches(&input, &ctx))
                    .map(|(_, n)| n.clone())
                    .or_else(|| default.clone())
                    .ok_or_else(|| {
                        Failure::new(NO_CHOICE, format!("no choice rule matched in {:?}", s.name))
                    })?;
                Ok((
                    select(&s.output_path, &input, &ctx, "OutputPath")?,
                    Some(next),
                ))
            }
            Kind::Wait(spec) => {
                let d = self.wait_duration(spec, &input, &ctx)?;
                tokio::time::sleep(self.scaled(d)).await;
                Ok((
                    select(&s.output_path, &input, &ctx, "OutputPath")?,
                    s.next.clone(),
                ))
            }
            Kind::Task { .. } | Kind::Parallel { .. } | Kind::Map { .. } => {
                let mut attempts = vec![0u32; s.retry.len()];
                let mut retry_count = 0u32;
                let callback = matches!(&s.kind, Kind::Task { resource, .. } if resource.ends_with(".waitForTaskToken"));
                loop {
                    let token = if callback {
                        match self.tokens.open().await {
                            Ok(t) => Some(t),
                            Err(f) => return Err(f),
                        }
                    } else {
                        None
                    };
                    let ctx = self.context(run, &s.name, retry_count, token.as_deref(), item);
                    let result = match effective(&input, &ctx) {
                        Ok(eff) => self.act(s, eff, &ctx, run, token, retry_count).await,
                        Err(f) => {
                            if let Some(t) = &token {
                                self.tokens.close(t).await;
                            }
                            return Err(f);
                        }
                    };
                    match result {
                        Ok(r) => return finish(r),
                        Err(f) => {
                            let Some(i) = s
                                .retry
                                .iter()
                                .position(|r| matches(&r.error_equals, &f.error))
                            else {
                                return Err(f);
                            };
                            let r: &Retrier = &s.retry[i];
                            if attempts[i] >= r.max_attempts {
                                return Err(f);
                            }
                            let mut delay =
                                r.interval_seconds * r.backoff_rate.powi(attempts[i] as i32);
                            if let Some(max) = r.max_delay_seconds {
                                delay = delay.min(max);
                            }
                            if r.jitter_full {
                                delay *= random_fraction();
                            }
                            attempts[i] += 1;
                            retry_count += 1;
                            self.record(
                                run,
                                "RetryScheduled",
                                Some(&s.name),
                                json!({"error": f.error, "attempt": attempts[i], "delay_seconds": delay}),
                            );
                            tokio::time::sleep(self.scaled(secs(delay))).await;
                        }
                    }
                }
            }
        }
    }

    fn wait_duration(
        &self,
        spec: &WaitSpec,
        input: &Value,
        ctx: &Value,
    ) -> Result<Duration, Failure> {
        let until = |ts: &str| -> Result<Duration, Failure> {
            let t = time::OffsetDateTime::parse(ts, &time::format_description::well_known::Rfc3339)
                .map_err(|_| Failure::runtime(format!("not an RFC 3339 timestamp: {ts:?}")))?;
            let ms = (t.unix_timestamp_nanos() / 1_000_000) as i64 - self.now().millis();
            Ok(Duration::from_millis(ms.max(0) as u64))
        };
        match spec {
            WaitSpec::Seconds(n) => Ok(Duration::from_secs(*n)),
            WaitSpec::SecondsPath(p) => p
                .get(input, ctx)
                .and_then(Value::as_f64)
                .filter(|n| *n >= 0.0)
                .map(secs)
                .ok_or_else(|| {
                    Failure::runtime(format!("SecondsPath {p} is not a non-negative number"))
                }),
            WaitSpec::Timestamp(ts) => until(ts),
            WaitSpec::TimestampPath(p) => {
                let ts = p.get(input, ctx).and_then(Value::as_str).ok_or_else(|| {
                    Failure::runtime(format!("TimestampPath {p} is not a string"))
                })?;
                until(ts)
            }
        }
    }

    /// The work of a Task, Parallel or Map state, given its effective input.
    async fn act(
        &self,
        s: &State,
        eff: Value,
        ctx: &Value,
        run: &Run<'_>,
        token: Option<String>,
        retry_count: u32,
    ) -> Result<Value, Failure> {
        match &s.kind {
            Kind::Task {
                resource,
                timeout_seconds,
                heartbeat_seconds,
            } => {
                let call = TaskCall {
                    execution: run.name.to_owned(),
                    state: s.name.clone(),
                    resource: resource.trim_end_matches(".waitForTaskToken").to_owned(),
                    input: eff,
                    token: token.clone(),
                    retry_count,
                };
                // The history is shown to the tenant: a task token would let its holder
                // answer the task, so it never appears there.
                let mut shown = call.input.clone();
                if let Some(t) = &token {
                    redact(&mut shown, t);
                }
                self.record(
                    run,
                    "TaskScheduled",
                    Some(&s.name),
                    json!({"resource": resource, "parameters": shown}),
                );
                let work = self.task(call, token, *heartbeat_seconds);
                let result = match timeout_seconds {
                    Some(t) => {
                        match tokio::time::timeout(self.timeout(Duration::from_secs(*t)), work)
                            .await
                        {
                            Ok(r) => r,
                            Err(_) => Err(Failure::new(
                                TIMEOUT,
                                format!("{:?} ran past {t} s", s.name),
                            )),
                        }
                    }
                    None => work.await,
                };
                match &result {
                    Ok(out) => {
                        self.record(run, "TaskSucceeded", Some(&s.name), json!({"output": out}))
                    }
                    Err(f) if f.error == TIMEOUT || f.error == HEARTBEAT_TIMEOUT => self.record(
                        run,
                        "TaskTimedOut",
                        Some(&s.name),
                        json!({"error": f.error, "cause": f.cause}),
                    ),
                    Err(f) => self.record(
                        run,
                        "TaskFailed",
                        Some(&s.name),
                        json!({"error": f.error, "cause": f.cause}),
                    ),
                }
                result
            }
            Kind::Parallel { branches } => {
                let runs = branches
                    .iter()
                    .map(|b| self.run_machine(b, eff.clone(), run, None, None));
                try_join_all(runs).await.map(Value::Array)
            }
            Kind::Map {
                items_path,
                item_selector,
                processor,
                max_concurrency,
            } => {
                let items = select(items_path, &eff, ctx, "ItemsPath")?;
                let items = items
                    .as_array()
                    .ok_or_else(|| Failure::runtime("ItemsPath did not select an array"))?
                    .clone();
                let limit = if *max_concurrency == 0 {
                    items.len().max(1)
                } else {
                    *max_concurrency
                };
                let mut inputs = Vec::with_capacity(items.len());
                for (i, v) in items.into_iter().enumerate() {
                    let mut item_ctx = ctx.clone();
                    item_ctx["Map"] = json!({"Item": {"Index": i, "Value": v}});
                    let input = match item_selector {
                        Some(t) => t.render(&eff, &item_ctx).map_err(Failure::runtime)?,
                        None => v.clone(),
                    };
                    inputs.push((i, v, input));
                }
                let outputs: Vec<Value> = stream::iter(inputs)
                    .map(|(i, v, input)| {
                        self.run_machine(processor, input, run, Some((i, v)), None)
                    })
                    .buffered(limit)
                    .try_collect()
                    .await?;
                Ok(Value::Array(outputs))
            }
            _ => Err(Failure::runtime("not a task-like state")),
        }
    }

    /// A Task's resource; for callback tasks, waits for `send_task_*` with heartbeats.
    async fn task(
        &self,
        call: TaskCall,
        token: Option<String>,
        heartbeat: Option<u64>,
    ) -> Result<Value, Failure> {
        let Some(token) = token else {
            return self.runner.run(call).await;
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        if let Ok(mut map) = self.callbacks.lock() {
            map.insert(token.clone(), tx);
        }
        let _closed = Closer {
            engine: self,
            token: token.clone(),
        };
        self.runner.run(call).await?;
        loop {
            let next = match heartbeat {
                Some(h) => {
                    match tokio::time::timeout(self.timeout(Duration::from_secs(h)), rx.recv())
                        .await
                    {
                        Ok(m) => m,
                        Err(_) => {
                            return Err(Failure::new(
                                HEARTBEAT_TIMEOUT,
                                format!("no heartbeat within {h} s"),
                            ));
                        }
                    }
                }
                None => rx.recv().await,
            };
            match next {
                Some(Callback::Success(v)) => return Ok(v),
                Some(Callback::Failure(f)) => return Err(f),
                Some(Callback::Heartbeat) => continue,
                None => return Err(Failure::runtime("callback channel closed")),
            }
        }
    }
}

/// Closes a task token when its task ends, however it ends, so late callbacks are refused.
struct Closer<'a> {
    engine: &'a Engine,
    token: String,
}

impl Drop for Closer<'_> {
    fn drop(&mut self) {
        if let Ok(mut map) = self.engine.callbacks.lock() {
            map.remove(&self.token);
        }
        // The book may be a store: closed in the background (a task dropped mid-wait cannot
        // await), and only where a runtime still runs.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            let (book, token) = (self.engine.tokens.clone(), std::mem::take(&mut self.token));
            rt.spawn(async move { book.close(&token).await });
        }
    }
}

fn type_name(k: &Kind) -> &'static str {
    match k {
        Kind::Pass { .. } => "Pass",
        Kind::Task { .. } => "Task",
        Kind::Choice { .. } => "Choice",
        Kind::Wait(_) => "Wait",
        Kind::Succeed => "Succeed",
        Kind::Fail { .. } => "Fail",
        Kind::Parallel { .. } => "Parallel",
        Kind::Map { .. } => "Map",
    }
}
