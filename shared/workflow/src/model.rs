//! The state machine as loaded: parsed from ASL JSON and checked, so that anything we do not
//! support fails at load with an error naming the state, never silently at run time.

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::choice::{Rule, parse_rule};
use crate::path::RefPath;
use crate::template::Template;

/// `InputPath`/`OutputPath`/`ResultPath`/`ItemsPath`: absent (default `$`), `null`, or a path.
#[derive(Clone, Debug, PartialEq)]
pub enum PathSpec {
    Default,
    Null,
    Path(RefPath),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
    pub jitter_full: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    pub result_path: PathSpec,
}

#[derive(Clone, Debug, PartialEq)]
pub enum WaitSpec {
    Seconds(u64),
    SecondsPath(RefPath),
    Timestamp(String),
    TimestampPath(RefPath),
}

#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Pass {
        result: Option<Value>,
    },
    Task {
        resource: String,
        timeout_seconds: Option<u64>,
        heartbeat_seconds: Option<u64>,
    },
    Choice {
        choices: Vec<(Rule, String)>,
        default: Option<String>,
    },
    Wait(WaitSpec),
    Succeed,
    Fail {
        error: Option<String>,
        cause: Option<String>,
    },
    Parallel {
        branches: Vec<Machine>,
    },
    Map {
        items_path: PathSpec,
        item_selector: Option<Template>,
        processor: Box<Machine>,
        max_concurrency: usize,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct State {
    pub name: String,
    pub kind: Kind,
    pub input_path: PathSpec,
    pub output_path: PathSpec,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: PathSpec,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    /// `None` for terminal states (End, Succeed, Fail) and Choice.
    pub next: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Machine {
    pub start_at: String,
    pub states: HashMap<String, State>,
    pub timeout_seconds: Option<u64>,
}

/// Why a definition could not be loaded, naming the state when one is at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{}{message}", state.as_ref().map(|s| format!("state {s:?}: ")).unwrap_or_default())]
pub struct LoadError {
    pub state: Option<String>,
    pub message: String,
}

fn at(state: &str) -> impl Fn(String) -> LoadError + '_ {
    move |message| LoadError {
        state: Some(state.to_owned()),
        message,
    }
}

const COMMON: &[&str] = &["Type", "Comment"];
const FLOW: &[&str] = &["Next", "End"];
const IO: &[&str] = &["InputPath", "OutputPath"];
const RESULT: &[&str] = &["Parameters", "ResultPath"];
const TASKISH: &[&str] = &["ResultSelector", "Retry", "Catch"];

fn allowed(kind: &str) -> Option<Vec<&'static str>> {
    let mut v: Vec<&str> = COMMON.to_vec();
    let extra: &[&[&str]] = match kind {
        "Pass" => &[FLOW, IO, RESULT, &["Result"]],
        "Task" => &[
            FLOW,
            IO,
            RESULT,
            TASKISH,
            &["Resource", "TimeoutSeconds", "HeartbeatSeconds"],
        ],
        "Choice" => &[IO, &["Choices", "Default"]],
        "Wait" => &[
            FLOW,
            IO,
            &["Seconds", "SecondsPath", "Timestamp", "TimestampPath"],
        ],
        "Succeed" => &[IO],
        "Fail" => &[&["Error", "Cause"]],
        "Parallel" => &[FLOW, IO, RESULT, TASKISH, &["Branches"]],
        "Map" => &[
            FLOW,
            IO,
            RESULT,
            TASKISH,
            &[
                "ItemsPath",
                "ItemSelector",
                "Iterator",
                "ItemProcessor",
                "MaxConcurrency",
            ],
        ],
        _ => return None,
    };
    for e in extra {
        v.extend_from_slice(e);
    }
    Some(v)
}

fn path_spec(m: &Map<String, Value>, key: &str) -> Result<PathSpec, String> {
    match m.get(key) {
        None => Ok(PathSpec::Default),
        Some(Value::Null) => Ok(PathSpec::Null),
        Some(Value::String(s)) => RefPath::parse(s).map(PathSpec::Path),
        Some(_) => Err(format!("{key} must be a path string or null")),
    }
}

fn template(m: &Map<String, Value>, key: &str) -> Result<Option<Template>, String> {
    m.get(key)
        .map(|v| {
            if v.is_object() {
                Template::compile(v).map_err(|e| format!("{key}: {e}"))
            } else {
                Err(format!("{key} must be an object"))
            }
        })
        .transpose()
}

fn error_equals(m: &Map<String, Value>, what: &str) -> Result<Vec<String>, String> {
    let list: Vec<String> = m
        .get("ErrorEquals")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if list.is_empty() {
        return Err(format!("{what} needs a non-empty ErrorEquals of strings"));
    }
    if list.contains(&"States.ALL".to_owned()) && list.len() > 1 {
        return Err(format!("{what}: States.ALL must stand alone"));
    }
    Ok(list)
}

fn non_negative(v: &Value, what: &str) -> Result<f64, String> {
    v.as_f64()
        .filter(|n| *n >= 0.0)
        .ok_or_else(|| format!("{what} must be a non-negative number"))
}

fn parse_retrier(v: &Value) -> Result<Retrier, String> {
    let m = v.as_object().ok_or("a retrier must be an object")?;
    let known = [
        "ErrorEquals",
        "IntervalSeconds",
        "MaxAttempts",
        "BackoffRate",
        "MaxDelaySeconds",
        "JitterStrategy",
        "Comment",
    ];
    if let Some(k) = m.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!("unsupported retrier field {k:?}"));
    }
    let interval_seconds = match m.get("IntervalSeconds") {
        None => 1.0,
        Some(v) => v
            .as_u64()
            .filter(|n| *n >= 1)
            .map(|n| n as f64)
            .ok_or("IntervalSeconds must be a positive integer")?,
    };
    let backoff_rate = match m.get("BackoffRate") {
        None => 2.0,
        Some(v) => v
            .as_f64()
            .filter(|n| *n >= 1.0)
            .ok_or("BackoffRate must be at least 1.0")?,
    };
    Ok(Retrier {
        error_equals: error_equals(m, "a retrier")?,
        interval_seconds,
        max_attempts: match m.get("MaxAttempts") {
            None => 3,
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or("MaxAttempts must be a non-negative integer")?,
        },
        backoff_rate,
        max_delay_seconds: m
            .get("MaxDelaySeconds")
            .map(|v| non_negative(v, "MaxDelaySeconds"))
            .transpose()?,
        jitter_full: match m.get("JitterStrategy").map(|v| v.as_str()) {
            None | Some(Some("NONE")) => false,
            Some(Some("FULL")) => true,
            _ => return Err("JitterStrategy must be FULL or NONE".into()),
        },
    })
}

fn parse_catcher(v: &Value) -> Result<Catcher, String> {
    let m = v.as_object().ok_or("a catcher must be an object")?;
    if let Some(k) = m
        .keys()
        .find(|k| !["ErrorEquals", "Next", "ResultPath", "Comment"].contains(&k.as_str()))
    {
        return Err(format!("unsupported catcher field {k:?}"));
    }
    Ok(Catcher {
        error_equals: error_equals(m, "a catcher")?,
        next: m
            .get("Next")
            .and_then(Value::as_str)
            .ok_or("a catcher needs Next")?
            .to_owned(),
        result_path: path_spec(m, "ResultPath")?,
    })
}

fn seconds(m: &Map<String, Value>, key: &str) -> Result<Option<u64>, String> {
    m.get(key)
        .map(|v| {
            v.as_u64()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("{key} must be a positive integer"))
        })
        .transpose()
}

fn parse_state(name: &str, v: &Value) -> Result<State, String> {
    let m = v.as_object().ok_or("a state must be an object")?;
    let ty = m
        .get("Type")
        .and_then(Value::as_str)
        .ok_or("missing Type")?;
    let allowed = allowed(ty).ok_or_else(|| format!("unsupported Type {ty:?}"))?;
    if let Some(k) = m.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("field {k:?} is not supported on a {ty} state"));
    }
    let next = m
        .get("Next")
        .map(|v| v.as_str().map(str::to_owned).ok_or("Next must be a string"))
        .transpose()?;
    let end = m
        .get("End")
        .map(|v| v.as_bool().ok_or("End must be a boolean"))
        .transpose()?
        .unwrap_or(false);
    if FLOW.iter().any(|f| allowed.contains(f)) && (next.is_some() == end) {
        return Err("needs exactly one of Next or End: true".into());
    }
    let kind = match ty {
        "Pass" => Kind::Pass {
            result: m.get("Result").cloned(),
        },
        "Task" => {
            let resource = m
                .get("Resource")
                .and_then(Value::as_str)
                .filter(|r| !r.is_empty())
                .ok_or("a Task needs a Resource")?
                .to_owned();
            let timeout_seconds = seconds(m, "TimeoutSeconds")?;
            let heartbeat_seconds = seconds(m, "HeartbeatSeconds")?;
            if let (Some(t), Some(h)) = (timeout_seconds, heartbeat_seconds)
                && h >= t
            {
                return Err("HeartbeatSeconds must be less than TimeoutSeconds".into());
            }
            Kind::Task {
                resource,
                timeout_seconds,
                heartbeat_seconds,
            }
        }
        "Choice" => {
            let list = m
                .get("Choices")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or("a Choice needs a non-empty Choices array")?;
            let mut choices = Vec::new();
            for c in list {
                let o = c.as_object().ok_or("a choice rule must be an object")?;
                let next = o
                    .get("Next")
                    .and_then(Value::as_str)
                    .ok_or("a choice rule needs Next")?;
                choices.push((parse_rule(o, true)?, next.to_owned()));
            }
            Kind::Choice {
                choices,
                default: m.get("Default").and_then(Value::as_str).map(str::to_owned),
            }
        }
        "Wait" => {
            let specs: Vec<WaitSpec> = [
                m.get("Seconds").map(|v| {
                    v.as_u64()
                        .map(WaitSpec::Seconds)
                        .ok_or_else(|| "Seconds must be a non-negative integer".to_owned())
                }),
                m.get("SecondsPath").map(|v| {
                    v.as_str()
                        .ok_or_else(|| "SecondsPath must be a path".to_owned())
                        .and_then(RefPath::parse)
                        .map(WaitSpec::SecondsPath)
                }),
                m.get("Timestamp").map(|v| {
                    v.as_str()
                        .filter(|s| {
                            time::OffsetDateTime::parse(
                                s,
                                &time::format_description::well_known::Rfc3339,
                            )
                            .is_ok()
                        })
                        .map(|s| WaitSpec::Timestamp(s.to_owned()))
                        .ok_or_else(|| "Timestamp must be RFC 3339".to_owned())
                }),
                m.get("TimestampPath").map(|v| {
                    v.as_str()
                        .ok_or_else(|| "TimestampPath must be a path".to_owned())
                        .and_then(RefPath::parse)
                        .map(WaitSpec::TimestampPath)
                }),
            ]
            .into_iter()
            .flatten()
            .collect::<Result<_, _>>()?;
            match <[WaitSpec; 1]>::try_from(specs) {
                Ok([s]) => Kind::Wait(s),
                Err(_) => return Err(
                    "a Wait needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath"
                        .into(),
                ),
            }
        }
        "Succeed" => Kind::Succeed,
        "Fail" => Kind::Fail {
            error: m.get("Error").and_then(Value::as_str).map(str::to_owned),
            cause: m.get("Cause").and_then(Value::as_str).map(str::to_owned),
        },
        "Parallel" => {
            let list = m
                .get("Branches")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or("a Parallel needs a non-empty Branches array")?;
            let branches = list
                .iter()
                .map(|b| load_value(b).map_err(|e| format!("in a branch: {e}")))
                .collect::<Result<_, _>>()?;
            Kind::Parallel { branches }
        }
        "Map" => {
            let processor = m
                .get("ItemProcessor")
                .or_else(|| m.get("Iterator"))
                .ok_or("a Map needs an ItemProcessor")?;
            if let Some(pc) = processor.get("ProcessorConfig")
                && pc
                    .get("Mode")
                    .and_then(Value::as_str)
                    .is_some_and(|mode| mode != "INLINE")
            {
                return Err("only INLINE Map processing is supported".into());
            }
            let mut processor = processor.clone();
            if let Some(o) = processor.as_object_mut() {
                o.remove("ProcessorConfig");
            }
            let item_selector = match (template(m, "ItemSelector")?, template(m, "Parameters")?) {
                (Some(_), Some(_)) => return Err("use ItemSelector or Parameters, not both".into()),
                (a, b) => a.or(b),
            };
            Kind::Map {
                items_path: path_spec(m, "ItemsPath")?,
                item_selector,
                processor: Box::new(
                    load_value(&processor).map_err(|e| format!("in the ItemProcessor: {e}"))?,
                ),
                max_concurrency: m
                    .get("MaxConcurrency")
                    .map(|v| {
                        v.as_u64()
                            .map(|n| n as usize)
                            .ok_or("MaxConcurrency must be a non-negative integer")
                    })
                    .transpose()?
                    .unwrap_or(0),
            }
        }
        _ => unreachable!("allowed() accepted the type"),
    };
    let is_map = matches!(kind, Kind::Map { .. });
    Ok(State {
        name: name.to_owned(),
        input_path: path_spec(m, "InputPath")?,
        output_path: path_spec(m, "OutputPath")?,
        parameters: if is_map {
            None
        } else {
            template(m, "Parameters")?
        },
        result_selector: template(m, "ResultSelector")?,
        result_path: path_spec(m, "ResultPath")?,
        retry: m
            .get("Retry")
            .map(|v| v.as_array().ok_or("Retry must be an array"))
            .transpose()?
            .map(|a| a.iter().map(parse_retrier).collect::<Result<Vec<_>, _>>())
            .transpose()?
            .unwrap_or_default(),
        catch: m
            .get("Catch")
            .map(|v| v.as_array().ok_or("Catch must be an array"))
            .transpose()?
            .map(|a| a.iter().map(parse_catcher).collect::<Result<Vec<_>, _>>())
            .transpose()?
            .unwrap_or_default(),
        next,
        kind,
    })
}

fn check_retry_order(state: &State) -> Result<(), String> {
    for (list, what) in [
        (
            state
                .retry
                .iter()
                .map(|r| &r.error_equals)
                .collect::<Vec<_>>(),
            "Retry",
        ),
        (
            state
                .catch
                .iter()
                .map(|c| &c.error_equals)
                .collect::<Vec<_>>(),
            "Catch",
        ),
    ] {
        if let Some(i) = list
            .iter()
            .position(|e| e.contains(&"States.ALL".to_owned()))
            && i + 1 != list.len()
        {
            return Err(format!("States.ALL must be the last {what} entry"));
        }
    }
    Ok(())
}

/// Loads a definition from JSON text.
pub fn load(text: &str) -> Result<Machine, LoadError> {
    let v: Value = serde_json::from_str(text).map_err(|e| LoadError {
        state: None,
        message: format!("not JSON: {e}"),
    })?;
    load_value(&v)
}

pub fn load_value(v: &Value) -> Result<Machine, LoadError> {
    let top = |message: String| LoadError {
        state: None,
        message,
    };
    let m = v
        .as_object()
        .ok_or_else(|| top("a definition must be an object".into()))?;
    let known = [
        "StartAt",
        "States",
        "Comment",
        "TimeoutSeconds",
        "Version",
        "QueryLanguage",
    ];
    if let Some(k) = m.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(top(format!("unsupported top-level field {k:?}")));
    }
    if m.get("QueryLanguage").is_some_and(|q| q != "JSONPath") {
        return Err(top("only the JSONPath query language is supported".into()));
    }
    let start_at = m
        .get("StartAt")
        .and_then(Value::as_str)
        .ok_or_else(|| top("missing StartAt".into()))?
        .to_owned();
    let raw = m
        .get("States")
        .and_then(Value::as_object)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| top("missing or empty States".into()))?;
    let mut states = HashMap::new();
    for (name, sv) in raw {
        let state = parse_state(name, sv).map_err(at(name))?;
        check_retry_order(&state).map_err(at(name))?;
        states.insert(name.clone(), state);
    }
    let exists = |target: &str| states.contains_key(target);
    if !exists(&start_at) {
        return Err(top(format!("StartAt names no state: {start_at:?}")));
    }
    for s in states.values() {
        let mut targets: Vec<&String> = s
            .next
            .iter()
            .chain(s.catch.iter().map(|c| &c.next))
            .collect();
        if let Kind::Choice { choices, default } = &s.kind {
            targets.extend(choices.iter().map(|(_, n)| n));
            targets.extend(default.iter());
        }
        if let Some(t) = targets.into_iter().find(|t| !exists(t)) {
            return Err(at(&s.name)(format!(
                "transition to a state that does not exist: {t:?}"
            )));
        }
    }
    Ok(Machine {
        start_at,
        states,
        timeout_seconds: m.get("TimeoutSeconds").and_then(Value::as_u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(def: Value) -> LoadError {
        load_value(&def).unwrap_err()
    }

    #[test]
    fn loads_a_small_machine() {
        let m = load(
            r#"{"StartAt":"A","States":{"A":{"Type":"Pass","Next":"B"},"B":{"Type":"Succeed"}}}"#,
        )
        .unwrap();
        assert_eq!(m.start_at, "A");
        assert_eq!(m.states["A"].next.as_deref(), Some("B"));
    }

    #[test]
    fn unsupported_constructs_name_their_state() {
        let e = err(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Resultt": 1}}}),
        );
        assert_eq!(e.state.as_deref(), Some("A"));
        assert!(e.message.contains("Resultt"), "{e}");
        let e = err(json!({"StartAt": "A", "States": {"A": {"Type": "Teleport", "End": true}}}));
        assert_eq!(e.state.as_deref(), Some("A"));
        let e = err(
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "Retry": [{"ErrorEquals": ["X"], "MaxAtempts": 2}]}}}),
        );
        assert!(e.message.contains("MaxAtempts"), "{e}");
        let e = err(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Nowhere"}}}));
        assert!(e.message.contains("Nowhere"), "{e}");
        let e = err(json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}));
        assert!(e.message.contains("Next or End"), "{e}");
        let e = err(
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "TimeoutSeconds": 10, "HeartbeatSeconds": 10}}}),
        );
        assert!(e.message.contains("HeartbeatSeconds"), "{e}");
        let e = err(
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true,
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "A"}, {"ErrorEquals": ["X"], "Next": "A"}]}}}),
        );
        assert!(e.message.contains("last"), "{e}");
        let e = err(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true,
            "Parameters": {"x.$": "States.Teleport()"}}}}),
        );
        assert!(e.message.contains("Teleport"), "{e}");
        let e = err(
            json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true,
            "ItemProcessor": {"StartAt": "B", "States": {"B": {"Type": "Wait", "End": true}}}}}}),
        );
        assert!(e.message.contains("ItemProcessor"), "{e}");
        assert!(
            err(json!({"StartAt": "Z", "States": {"A": {"Type": "Succeed"}}}))
                .message
                .contains("StartAt")
        );
    }
}
