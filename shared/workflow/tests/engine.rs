//! The engine on small definitions, one feature each, with outputs written from the spec.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use viral_core::{ManualClock, Timestamp};
use viral_workflow::engine::{CallbackError, HEARTBEAT_TIMEOUT, NO_CHOICE, RUNTIME};
use viral_workflow::{
    Checkpoint, Engine, EventSink, Execution, Failure, Outcome, Resume, TaskCall, TaskRunner, load,
};

type Handler = dyn Fn(TaskCall) -> Result<Value, Failure> + Send + Sync;

/// Answers each Task by resource name; `hang` never answers; callback tasks hand their token
/// to `tokens`.
struct Runner {
    handlers: Vec<(&'static str, Box<Handler>)>,
    tokens: Mutex<Vec<String>>,
    calls: AtomicU32,
}

impl Runner {
    fn new() -> Self {
        Self {
            handlers: Vec::new(),
            tokens: Mutex::new(Vec::new()),
            calls: AtomicU32::new(0),
        }
    }

    fn on(
        mut self,
        resource: &'static str,
        f: impl Fn(TaskCall) -> Result<Value, Failure> + Send + Sync + 'static,
    ) -> Self {
        self.handlers.push((resource, Box::new(f)));
        self
    }
}

#[async_trait]
impl TaskRunner for Runner {
    async fn run(&self, call: TaskCall) -> Result<Value, Failure> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if let Some(t) = &call.token {
            self.tokens.lock().unwrap().push(t.clone());
        }
        if call.resource == "hang" {
            std::future::pending::<()>().await;
        }
        let h = self
            .handlers
            .iter()
            .find(|(r, _)| *r == call.resource)
            .unwrap_or_else(|| panic!("no handler for {}", call.resource));
        (h.1)(call)
    }
}

fn engine(runner: Runner) -> (Arc<Engine>, Arc<Runner>) {
    let runner = Arc::new(runner);
    let clock = Arc::new(ManualClock::new(Timestamp(1_795_569_153_000)));
    // 1 s of workflow time = 1 ms of test time.
    (Arc::new(Engine::new(runner.clone(), clock, 0.001)), runner)
}

async fn run(e: &Engine, def: Value, input: Value) -> Execution {
    let m = load(&def.to_string()).expect("definition loads");
    e.execute(&m, "test-machine", "exec-1", input).await
}

fn succeeded(x: &Execution) -> &Value {
    match &x.outcome {
        Outcome::Succeeded(v) => v,
        other => panic!("expected success, got {other:?}; history: {:#?}", x.history),
    }
}

fn failed(x: &Execution) -> &Failure {
    match &x.outcome {
        Outcome::Failed(f) => f,
        other => panic!("expected failure, got {other:?}"),
    }
}

fn kinds(x: &Execution) -> Vec<&str> {
    x.history.iter().map(|e| e.kind.as_str()).collect()
}

#[tokio::test]
async fn pass_with_input_result_and_output_paths() {
    // The spec's ResultPath example: the result is placed inside the input.
    let (e, _) = engine(Runner::new());
    let def = json!({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "InputPath": "$.data", "Result": {"x": 1}, "ResultPath": "$.result",
        "OutputPath": "$", "End": true}}});
    let x = run(&e, def, json!({"data": {"keep": true}, "other": 1})).await;
    // ResultPath places the result in the *raw* input, InputPath only feeds the state.
    assert_eq!(
        succeeded(&x),
        &json!({"data": {"keep": true}, "other": 1, "result": {"x": 1}})
    );
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "ResultPath": null, "OutputPath": "$.a", "End": true}}});
    assert_eq!(
        succeeded(&run(&e, def, json!({"a": [1]})).await),
        &json!([1])
    );
    assert_eq!(
        kinds(
            &run(
                &e,
                json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}),
                json!({})
            )
            .await
        ),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[tokio::test]
async fn parameters_paths_intrinsics_and_context() {
    let (e, _) = engine(Runner::new());
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true, "Parameters": {
        "fixed": "v", "name.$": "$.name", "greeting.$": "States.Format('hi {}', $.name)",
        "exec.$": "$$.Execution.Name", "state.$": "$$.State.Name", "nested": {"n.$": "$.n"}}}}});
    let x = run(&e, def, json!({"name": "ada", "n": 3})).await;
    assert_eq!(
        succeeded(&x),
        &json!({"fixed": "v", "name": "ada", "greeting": "hi ada",
        "exec": "exec-1", "state": "P", "nested": {"n": 3}})
    );
    // A path that matches nothing is a States.Runtime error, which nothing catches.
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Parameters": {"x.$": "$.missing"}, "Next": "Q",
              "Comment": "Pass states have no Catch; the execution fails"},
        "Q": {"Type": "Succeed"}}});
    assert_eq!(failed(&run(&e, def, json!({})).await).error, RUNTIME);
}

#[tokio::test]
async fn choice_routes_defaults_and_fails_without_a_match() {
    let (e, _) = engine(Runner::new());
    let def = |default: Option<&str>| {
        let mut c = json!({"Type": "Choice", "Choices": [
            {"Variable": "$.status", "StringEquals": "done", "Next": "Done"},
            {"And": [{"Variable": "$.n", "NumericGreaterThan": 2}, {"Variable": "$.n", "NumericLessThan": 10}], "Next": "Mid"}]});
        if let Some(d) = default {
            c["Default"] = json!(d);
        }
        json!({"StartAt": "C", "States": {"C": c,
            "Done": {"Type": "Pass", "Result": "done", "End": true},
            "Mid": {"Type": "Pass", "Result": "mid", "End": true},
            "Other": {"Type": "Pass", "Result": "other", "End": true}}})
    };
    assert_eq!(
        succeeded(&run(&e, def(None), json!({"status": "done"})).await),
        &json!("done")
    );
    assert_eq!(
        succeeded(&run(&e, def(None), json!({"n": 5})).await),
        &json!("mid")
    );
    assert_eq!(
        succeeded(&run(&e, def(Some("Other")), json!({"n": 50})).await),
        &json!("other")
    );
    assert_eq!(
        failed(&run(&e, def(None), json!({"n": 50})).await).error,
        NO_CHOICE
    );
}

#[tokio::test]
async fn waits_honour_the_time_scale() {
    let (e, _) = engine(Runner::new());
    let def = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 500, "Next": "W2"},
        "W2": {"Type": "Wait", "SecondsPath": "$.eta", "Next": "W3"},
        "W3": {"Type": "Wait", "Timestamp": "2026-11-25T01:12:43Z", "End": true}}});
    let started = std::time::Instant::now();
    let x = run(&e, def, json!({"eta": 300})).await;
    assert_eq!(succeeded(&x), &json!({"eta": 300}));
    // 500 s + 300 s + 10 s of workflow time at 1/1000: about 0.81 s.
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let bad = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.eta", "End": true}}});
    assert_eq!(
        failed(&run(&e, bad, json!({"eta": "soon"})).await).error,
        RUNTIME
    );
}

#[tokio::test]
async fn task_result_selector_and_result_path() {
    let (e, _) = engine(Runner::new().on("render", |c| {
        Ok(json!({"url": format!("s3://{}", c.input["job"].as_str().unwrap()), "noise": 1}))
    }));
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "render",
        "Parameters": {"job.$": "$.job_id"}, "ResultSelector": {"video.$": "$.url"}, "ResultPath": "$.render",
        "End": true}}});
    let x = run(&e, def, json!({"job_id": "j1"})).await;
    assert_eq!(
        succeeded(&x),
        &json!({"job_id": "j1", "render": {"video": "s3://j1"}})
    );
    assert_eq!(
        kinds(&x)[1..4],
        ["TaskStateEntered", "TaskScheduled", "TaskSucceeded"]
    );
}

#[tokio::test]
async fn retry_backs_off_then_succeeds() {
    let tries = Arc::new(AtomicU32::new(0));
    let t = tries.clone();
    let (e, _) = engine(Runner::new().on("flaky", move |c| {
        let n = t.fetch_add(1, Ordering::SeqCst);
        assert_eq!(c.retry_count, n);
        if n < 3 {
            Err(Failure::new("Provider.Transient", "503"))
        } else {
            Ok(json!("ok"))
        }
    }));
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "flaky", "End": true,
        "Retry": [{"ErrorEquals": ["Other"], "MaxAttempts": 9},
                  {"ErrorEquals": ["Provider.Transient"], "IntervalSeconds": 2, "BackoffRate": 3.0,
                   "MaxAttempts": 3, "MaxDelaySeconds": 10}]}}});
    let x = run(&e, def, json!({})).await;
    assert_eq!(succeeded(&x), &json!("ok"));
    let delays: Vec<f64> = x
        .history
        .iter()
        .filter(|e| e.kind == "RetryScheduled")
        .map(|e| e.detail["delay_seconds"].as_f64().unwrap())
        .collect();
    // 2, 2×3, 2×9 capped at 10.
    assert_eq!(delays, [2.0, 6.0, 10.0]);
}

#[tokio::test]
async fn full_jitter_never_exceeds_the_backoff() {
    let (e, _) = engine(Runner::new().on("fail", |_| Err(Failure::new("E", ""))));
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "fail", "End": true,
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 4, "MaxAttempts": 4, "JitterStrategy": "FULL"}]}}});
    let x = run(&e, def, json!({})).await;
    assert_eq!(failed(&x).error, "E");
    let delays: Vec<f64> = x
        .history
        .iter()
        .filter(|e| e.kind == "RetryScheduled")
        .map(|e| e.detail["delay_seconds"].as_f64().unwrap())
        .collect();
    assert_eq!(delays.len(), 4);
    for (i, d) in delays.iter().enumerate() {
        assert!(*d >= 0.0 && *d <= 4.0 * 2f64.powi(i as i32), "{delays:?}");
    }
}

#[tokio::test]
async fn exhausted_retries_fall_to_catch_with_result_path() {
    let (e, r) = engine(Runner::new().on("fail", |_| {
        Err(Failure::new("Provider.Rejected", "content policy"))
    }));
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "fail", "Next": "Done",
              "Retry": [{"ErrorEquals": ["Provider.Rejected"], "MaxAttempts": 1}],
              "Catch": [{"ErrorEquals": ["Nope"], "Next": "Done"},
                        {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.error", "Next": "Refund"}]},
        "Refund": {"Type": "Pass", "End": true},
        "Done": {"Type": "Succeed"}}});
    let x = run(&e, def, json!({"job": "j1"})).await;
    assert_eq!(
        succeeded(&x),
        &json!({"job": "j1", "error": {"Error": "Provider.Rejected", "Cause": "content policy"}})
    );
    assert_eq!(r.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn timeouts_are_states_timeout_and_catchable() {
    let (e, _) = engine(Runner::new());
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "hang", "TimeoutSeconds": 30, "Next": "Ok",
              "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 5}],
              "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "Late"}]},
        "Ok": {"Type": "Succeed"},
        "Late": {"Type": "Pass", "Result": "timed out", "End": true}}});
    let x = run(&e, def, json!({})).await;
    // States.TaskFailed does not match States.Timeout: no retry, straight to the catcher.
    assert_eq!(succeeded(&x), &json!("timed out"));
    assert!(kinds(&x).contains(&"TaskTimedOut"));
    assert!(!kinds(&x).contains(&"RetryScheduled"));
}

#[tokio::test]
async fn callback_tasks_wait_for_their_token() {
    let (e, r) = engine(Runner::new().on("sqs:sendMessage", |c| {
        assert!(c.input["token"].as_str().unwrap().starts_with("tt_"));
        Ok(json!({"MessageId": "m1"}))
    }));
    let def = json!({"StartAt": "Submit", "States": {"Submit": {
        "Type": "Task", "Resource": "sqs:sendMessage.waitForTaskToken", "TimeoutSeconds": 600, "HeartbeatSeconds": 60,
        "Parameters": {"token.$": "$$.Task.Token", "job.$": "$.job"}, "ResultPath": "$.submitted", "End": true}}});
    let m = load(&def.to_string()).unwrap();
    let e2 = e.clone();
    let exec =
        tokio::spawn(async move { e2.execute(&m, "sm", "exec-cb", json!({"job": "j1"})).await });
    let token = loop {
        if let Some(t) = r.tokens.lock().unwrap().first().cloned() {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    // Heartbeats keep it alive past HeartbeatSeconds (60 ms here).
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(30)).await;
        e.send_task_heartbeat(&token).unwrap();
    }
    e.send_task_success(&token, json!({"provider_task_id": "p1", "eta": 30}))
        .unwrap();
    let x = exec.await.unwrap();
    assert_eq!(
        succeeded(&x),
        &json!({"job": "j1", "submitted": {"provider_task_id": "p1", "eta": 30}})
    );
    // The token is closed: a duplicate or late callback is refused, harmlessly.
    assert_eq!(
        e.send_task_success(&token, json!({})),
        Err(CallbackError::TaskDoesNotExist)
    );
}

#[tokio::test]
async fn callback_tasks_fail_on_failure_or_missing_heartbeat() {
    let (e, r) = engine(Runner::new().on("q", |_| Ok(json!({}))));
    let def = json!({"StartAt": "S", "States": {"S": {
        "Type": "Task", "Resource": "q.waitForTaskToken", "TimeoutSeconds": 600, "HeartbeatSeconds": 20, "End": true}}});
    let m = Arc::new(load(&def.to_string()).unwrap());
    let (e2, m2) = (e.clone(), m.clone());
    let exec = tokio::spawn(async move { e2.execute(&m2, "sm", "a", json!({})).await });
    let token = loop {
        if let Some(t) = r.tokens.lock().unwrap().first().cloned() {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    };
    e.send_task_failure(&token, "Provider.Failed", "bad prompt")
        .unwrap();
    assert_eq!(
        failed(&exec.await.unwrap()),
        &Failure::new("Provider.Failed", "bad prompt")
    );
    // Nobody calls back: the heartbeat deadline (20 ms here) ends it.
    let x = e.execute(&m, "sm", "b", json!({})).await;
    assert_eq!(failed(&x).error, HEARTBEAT_TIMEOUT);
}

#[tokio::test]
async fn parallel_branches_and_their_failures() {
    let (e, _) = engine(
        Runner::new()
            .on("double", |c| Ok(json!(c.input["n"].as_i64().unwrap() * 2)))
            .on("boom", |_| Err(Failure::new("Boom", "branch 2"))),
    );
    let branch = |res: &str| json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": res, "End": true}}});
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [
        branch("double"), {"StartAt": "X", "States": {"X": {"Type": "Pass", "Result": "x", "End": true}}}],
        "ResultPath": "$.both", "End": true}}});
    assert_eq!(
        succeeded(&run(&e, def, json!({"n": 4})).await),
        &json!({"n": 4, "both": [8, "x"]})
    );
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [branch("double"), branch("boom")], "Next": "Z",
              "Catch": [{"ErrorEquals": ["Boom"], "Next": "Caught"}]},
        "Z": {"Type": "Succeed"}, "Caught": {"Type": "Pass", "Result": "caught", "End": true}}});
    assert_eq!(
        succeeded(&run(&e, def, json!({"n": 1})).await),
        &json!("caught")
    );
}

#[tokio::test]
async fn map_iterates_in_order_with_item_selector() {
    let (e, _) = engine(Runner::new().on("seg", |c| {
        Ok(json!(format!("{}:{}", c.input["i"], c.input["d"])))
    }));
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.segments", "MaxConcurrency": 2,
        "ItemSelector": {"i.$": "$$.Map.Item.Index", "d.$": "$$.Map.Item.Value.duration", "job.$": "$.job"},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "R",
            "States": {"R": {"Type": "Task", "Resource": "seg", "End": true}}},
        "ResultPath": "$.clips", "End": true}}});
    let x = run(
        &e,
        def,
        json!({"job": "j", "segments": [{"duration": 8}, {"duration": 8}, {"duration": 4}]}),
    )
    .await;
    assert_eq!(succeeded(&x)["clips"], json!(["0:8", "1:8", "2:4"]));
    let bad = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.n", "End": true,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
    assert_eq!(failed(&run(&e, bad, json!({"n": 3})).await).error, RUNTIME);
}

#[tokio::test]
async fn fail_states_and_execution_timeouts() {
    let (e, _) = engine(Runner::new());
    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Job.Failed", "Cause": "no provider left"}}});
    assert_eq!(
        failed(&run(&e, def, json!({})).await),
        &Failure::new("Job.Failed", "no provider left")
    );
    let def = json!({"TimeoutSeconds": 5, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    let x = run(&e, def, json!({})).await;
    assert_eq!(x.outcome, Outcome::TimedOut);
    assert_eq!(kinds(&x).last(), Some(&"ExecutionTimedOut"));
}

/// Records checkpoints, as the local pipeline persists them.
#[derive(Default)]
struct Checkpoints(Mutex<Vec<Checkpoint>>);

impl EventSink for Checkpoints {
    fn event(&self, _: &viral_workflow::engine::Event) {}

    fn checkpoint(&self, at: &Checkpoint) {
        self.0.lock().unwrap().push(at.clone());
    }
}

#[tokio::test]
async fn resumes_from_a_top_level_checkpoint() {
    let def = json!({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "a", "ResultPath": "$.a", "Next": "B"},
        "B": {"Type": "Parallel", "ResultPath": "$.b", "Next": "C", "Branches": [
            {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "Result": 1, "End": true}}}
        ]},
        "C": {"Type": "Task", "Resource": "c", "ResultPath": "$.c", "End": true}
    }});
    let (e, runner) = engine(
        Runner::new()
            .on("a", |_| Ok(json!("from a")))
            .on("c", |call| Ok(json!({"saw": call.input["a"]}))),
    );
    let m = load(&def.to_string()).unwrap();
    let sink = Checkpoints::default();
    let first = e
        .execute_with(&m, "test-machine", "exec-1", json!({"n": 1}), Some(&sink))
        .await;
    let whole = succeeded(&first).clone();
    let points = sink.0.lock().unwrap().clone();
    // Only top-level states checkpoint (not the branch's Inner), each with its input.
    assert_eq!(
        points.iter().map(|c| c.state.as_str()).collect::<Vec<_>>(),
        ["A", "B", "C"]
    );
    assert_eq!(points[1].input, json!({"n": 1, "a": "from a"}));
    assert_eq!(runner.calls.load(Ordering::SeqCst), 2);

    // The process died inside B: resuming there runs B and C again, not A.
    let resumed = e
        .execute_from(
            &m,
            "test-machine",
            "exec-1",
            json!({"n": 1}),
            Some(Resume {
                started_at: Timestamp(1_795_569_153_000),
                at: points[1].clone(),
                next_event_id: 7,
            }),
            None,
        )
        .await;
    assert_eq!(succeeded(&resumed), &whole);
    assert_eq!(runner.calls.load(Ordering::SeqCst), 3, "only C ran again");
    assert_eq!(resumed.history[0].kind, "ExecutionResumed");
    assert_eq!(resumed.history[0].id, 7);
    assert_eq!(resumed.history[0].state.as_deref(), Some("B"));
    assert_eq!(kinds(&resumed).last(), Some(&"ExecutionSucceeded"));
}

#[tokio::test]
async fn a_resumed_execution_keeps_its_original_deadline() {
    let def = json!({"TimeoutSeconds": 3600, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 10, "End": true}
    }});
    let (e, _) = engine(Runner::new());
    let m = load(&def.to_string()).unwrap();
    // Started 2 h ago on the (manual) clock: nothing is left of its hour.
    let x = e
        .execute_from(
            &m,
            "test-machine",
            "exec-1",
            json!({}),
            Some(Resume {
                started_at: Timestamp(1_795_569_153_000 - 7_200_000),
                at: Checkpoint {
                    state: "W".into(),
                    input: json!({}),
                },
                next_event_id: 3,
            }),
            None,
        )
        .await;
    assert_eq!(x.outcome, Outcome::TimedOut);
}
