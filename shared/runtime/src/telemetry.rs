//! Logs and metrics. Locally: readable text on stderr. In Lambda: one JSON object per line
//! with the keys AWS Lambda Powertools uses — `level`, `message`, `service`, `cold_start`,
//! `function_request_id`, `xray_trace_id` — plus `tenant_id` and `job_id` whenever the event or
//! an enclosing span carries them, and the event's other fields. Metrics are tracing events
//! with target [`METRIC_TARGET`] (so domain code stays free of I/O); in Lambda they become
//! CloudWatch Embedded Metric Format lines, which CloudWatch turns into metrics with no API
//! call. The filter comes from `RUST_LOG` in `Targets` syntax (`info`, `warn,viral_api=debug`),
//! default `info` (`Targets` needs no regex engine, which keeps Lambda binaries smaller).

use std::io::Write;
use std::sync::Mutex;

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

pub use viral_core::metrics::{METRIC_TARGET, NAMESPACE};

/// True inside a Lambda execution environment.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

fn filter() -> Targets {
    let base = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    // Metrics are never filtered out by the log level, nor is a panic.
    base.with_target(METRIC_TARGET, LevelFilter::INFO)
        .with_target(PANIC_TARGET, LevelFilter::ERROR)
}

/// The target of the line a panic leaves (see [`log_panics`]): always logged, whatever
/// `RUST_LOG` says.
const PANIC_TARGET: &str = "viral::panic";

/// The invocation being served: Lambda runs one at a time per execution environment.
#[derive(Clone, Debug, Default, PartialEq)]
struct Invocation {
    request_id: Option<String>,
    trace_id: Option<String>,
    /// Invocations begun so far in this environment.
    count: u64,
}

static INVOCATION: Mutex<Invocation> = Mutex::new(Invocation {
    request_id: None,
    trace_id: None,
    count: 0,
});

/// Marks the start of an invocation: its request id and X-Ray trace id go on every log line
/// until the next, and `cold_start` is true only during the first.
pub fn begin_invocation(request_id: &str, xray_trace_id: Option<&str>) {
    if let Ok(mut inv) = INVOCATION.lock() {
        inv.request_id = Some(request_id.to_owned());
        inv.trace_id = xray_trace_id.map(str::to_owned);
        inv.count += 1;
    }
}

fn invocation() -> Invocation {
    INVOCATION.lock().map(|i| i.clone()).unwrap_or_default()
}

/// Collects an event's or span's fields as JSON values.
#[derive(Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), json!(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
}

/// Span fields that are copied onto the lines logged inside the span.
const CARRIED: [&str; 2] = ["tenant_id", "job_id"];

/// The Lambda layer: Powertools-style JSON lines and EMF metrics, written by `make_writer`.
pub struct LambdaLayer<W> {
    service: String,
    make_writer: W,
}

impl<W: Fn() -> Box<dyn Write> + 'static> LambdaLayer<W> {
    pub fn new(service: impl Into<String>, make_writer: W) -> Self {
        Self {
            service: service.into(),
            make_writer,
        }
    }

    fn write(&self, line: Value) {
        let mut w = (self.make_writer)();
        let _ = writeln!(w, "{line}");
    }

    /// `metric`, `value`, `unit` and the event's other string fields (its dimensions) as one
    /// EMF line; `context` (tenant, job) rides along as properties, never as dimensions.
    fn metric(&self, mut fields: Map<String, Value>, context: Map<String, Value>) {
        let (Some(Value::String(name)), Some(value)) =
            (fields.remove("metric"), fields.remove("value"))
        else {
            return;
        };
        let unit = match fields.remove("unit") {
            Some(Value::String(u)) => u,
            _ => "Count".into(),
        };
        fields.remove("message");
        let mut dims: Vec<String> = vec!["service".into()];
        dims.extend(
            fields
                .iter()
                .filter(|(_, v)| v.is_string())
                .map(|(k, _)| k.clone()),
        );
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [dims],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }],
            }),
        );
        line.insert("service".into(), Value::from(self.service.clone()));
        for (k, v) in fields.into_iter().chain(context) {
            line.insert(k, v);
        }
        line.insert(name, value);
        self.write(Value::Object(line));
    }
}

impl<S, W> Layer<S> for LambdaLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: Fn() -> Box<dyn Write> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut ext = span.extensions_mut();
            if let Some(fields) = ext.get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut fields = fields.0;
        // The innermost span's tenant and job, unless the event names its own.
        let mut carried = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                if let Some(f) = span.extensions().get::<Fields>() {
                    for key in CARRIED {
                        if let (false, false, Some(v)) = (
                            fields.contains_key(key),
                            carried.contains_key(key),
                            f.0.get(key),
                        ) {
                            carried.insert(key.into(), v.clone());
                        }
                    }
                }
            }
        }
        if event.metadata().target() == METRIC_TARGET {
            self.metric(fields, carried);
            return;
        }
        fields.extend(carried);
        let inv = invocation();
        let mut line = Map::new();
        line.insert(
            "level".into(),
            Value::from(event.metadata().level().as_str()),
        );
        line.insert(
            "message".into(),
            fields.remove("message").unwrap_or(Value::from("")),
        );
        line.insert("service".into(), Value::from(self.service.clone()));
        line.insert("cold_start".into(), Value::from(inv.count <= 1));
        if let Some(r) = inv.request_id {
            line.insert("function_request_id".into(), Value::from(r));
        }
        if let Some(t) = inv.trace_id {
            line.insert("xray_trace_id".into(), Value::from(t));
        }
        line.insert("target".into(), Value::from(event.metadata().target()));
        for (k, v) in fields {
            line.entry(k).or_insert(v);
        }
        self.write(Value::Object(line));
    }
}

/// Colour codes only for a person at a terminal: never in a redirected log, never with
/// `NO_COLOR` set to anything (no-color.org).
fn colour_on_stderr() -> bool {
    use std::io::IsTerminal;
    colour_allowed(
        std::env::var_os("NO_COLOR").as_deref(),
        std::io::stderr().is_terminal(),
    )
}

fn colour_allowed(no_color: Option<&std::ffi::OsStr>, terminal: bool) -> bool {
    terminal && no_color.is_none_or(|v| v.is_empty())
}

/// Installs the global subscriber once; later calls do nothing. In Lambda it also logs
/// panics as JSON ([`log_panics`]).
pub fn init() {
    let registry = tracing_subscriber::registry().with(filter());
    let _ = if in_lambda() {
        let service = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "viral".into());
        log_panics();
        registry
            .with(LambdaLayer::new(service, || {
                Box::new(std::io::stdout()) as Box<dyn Write>
            }))
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(colour_on_stderr())
                    .with_writer(std::io::stderr)
                    .with_filter(tracing_subscriber::filter::filter_fn(|m| {
                        m.target() != METRIC_TARGET
                    })),
            )
            .try_init()
    };
}

/// Replaces the panic hook with one that logs the panic as an error event: in Lambda one JSON
/// line with the invocation's request id, like every other error. The Lambda build aborts on
/// panic (README *Panics*), so this line is the only trace a panic leaves; the default hook's
/// plain-text line would not be JSON.
fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("(no message)");
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(target: PANIC_TARGET, panic = message, location, "the function panicked");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn colour_only_on_a_terminal_and_never_with_no_color() {
        use std::ffi::OsStr;
        assert!(colour_allowed(None, true));
        assert!(!colour_allowed(None, false), "redirected");
        assert!(!colour_allowed(Some(OsStr::new("1")), true));
        // no-color.org: an empty NO_COLOR does not count.
        assert!(colour_allowed(Some(OsStr::new("")), true));
    }

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn lines(b: &Buffer) -> Vec<Value> {
        String::from_utf8(b.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    #[test]
    fn lines_carry_powertools_keys_and_metrics_are_emf() {
        let buf = Buffer::default();
        let out = buf.clone();
        let subscriber = tracing_subscriber::registry()
            .with(LambdaLayer::new("create-video", move || {
                Box::new(out.clone()) as Box<dyn Write>
            }));
        tracing::subscriber::with_default(subscriber, || {
            begin_invocation("req-1", Some("Root=1-abc"));
            let span = tracing::info_span!("request", tenant_id = "tn_1");
            let _in = span.enter();
            tracing::info!(job_id = "job_9", attempt = 2u64, "job accepted");
            viral_core::metrics::count("JobsStarted", None);
            viral_core::metrics::record(
                "ProviderLatency",
                12.5,
                viral_core::metrics::Unit::Seconds,
                Some(viral_core::metrics::Dimension::Provider("runway")),
            );
            begin_invocation("req-2", None);
            tracing::warn!("second");
        });
        let l = lines(&buf);
        assert_eq!(l.len(), 4, "{l:?}");
        let first = &l[0];
        assert_eq!(first["level"], "INFO");
        assert_eq!(first["message"], "job accepted");
        assert_eq!(first["service"], "create-video");
        assert_eq!(first["cold_start"], true);
        assert_eq!(first["function_request_id"], "req-1");
        assert_eq!(first["xray_trace_id"], "Root=1-abc");
        assert_eq!(first["tenant_id"], "tn_1");
        assert_eq!(first["job_id"], "job_9");
        assert_eq!(first["attempt"], 2);
        let emf = &l[1];
        assert_eq!(emf["JobsStarted"], 1.0);
        assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Namespace"], NAMESPACE);
        assert_eq!(
            emf["_aws"]["CloudWatchMetrics"][0]["Metrics"][0],
            json!({"Name": "JobsStarted", "Unit": "Count"})
        );
        assert_eq!(emf["tenant_id"], "tn_1", "span fields ride along");
        assert_eq!(
            emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["service"]]),
            "tenants are never a dimension"
        );
        let latency = &l[2];
        assert_eq!(latency["ProviderLatency"], 12.5);
        assert_eq!(latency["provider"], "runway");
        let dims = &latency["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0];
        assert!(
            dims.as_array().unwrap().contains(&json!("provider")),
            "{dims}"
        );
        let second = &l[3];
        assert_eq!(second["cold_start"], false);
        assert_eq!(second["function_request_id"], "req-2");
        assert!(second.get("xray_trace_id").is_none());
    }
}
