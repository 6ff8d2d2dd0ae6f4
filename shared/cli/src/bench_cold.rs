//! `viral bench cold-start`: Lambda cold-init time under a local Lambda Runtime API emulator.
//! Each run spawns the function's `bootstrap` with `AWS_LAMBDA_RUNTIME_API` pointing at the
//! emulator and measures spawn → its first `GET /runtime/invocation/next` (that is Lambda's
//! init phase: process start, configuration, clients), then hands it one event and checks the
//! answer, so a bootstrap that starts but cannot serve does not count. The baseline, measured
//! in the same run, is a Node.js function that loads `@aws-sdk/client-dynamodb` and `stripe`
//! and builds their clients, polling the same emulator.

use crate::failure::Failure;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Mutex, mpsc};

/// What the emulator saw of one process.
enum Seen {
    Next(Instant),
    Answer { ok: bool },
}

#[derive(Clone)]
struct Emulator {
    event: Arc<String>,
    seen: mpsc::UnboundedSender<Seen>,
    served: Arc<Mutex<u32>>,
}

async fn next(State(e): State<Emulator>) -> Response {
    let _ = e.seen.send(Seen::Next(Instant::now()));
    let mut n = e.served.lock().await;
    *n += 1;
    if *n > 1 {
        // One invocation per process: later polls wait until the process is killed.
        drop(n);
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut h = HeaderMap::new();
    let id = format!("bench-{}", rand_id());
    let put = |h: &mut HeaderMap, k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(k, v);
        }
    };
    put(&mut h, "lambda-runtime-aws-request-id", id);
    put(
        &mut h,
        "lambda-runtime-deadline-ms",
        (now_ms() + 30_000).to_string(),
    );
    put(
        &mut h,
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:bench".into(),
    );
    put(
        &mut h,
        "lambda-runtime-trace-id",
        "Root=1-6744151c-3d9f2a8b7c6e5d4f3a2b1c0d;Sampled=0".into(),
    );
    h.insert("content-type", HeaderValue::from_static("application/json"));
    (StatusCode::OK, h, e.event.as_str().to_owned()).into_response()
}

async fn response(State(e): State<Emulator>, Path(_id): Path<String>) -> StatusCode {
    let _ = e.seen.send(Seen::Answer { ok: true });
    StatusCode::ACCEPTED
}

async fn error(State(e): State<Emulator>) -> StatusCode {
    let _ = e.seen.send(Seen::Answer { ok: false });
    StatusCode::ACCEPTED
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

fn rand_id() -> String {
    viral_core::ids::new_id("r")
}

/// One process: spawn → first /next, and how it answered the event: `Some(true)` a response,
/// `Some(false)` an error report (a step given an API event; the loop works either way),
/// `None` no answer.
async fn one(
    command: &[String],
    env: &[(String, String)],
    event: &str,
) -> Result<(Duration, Option<bool>), String> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let emulator = Emulator {
        event: Arc::new(event.to_owned()),
        seen: tx,
        served: Arc::new(Mutex::new(0)),
    };
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
        .route("/2018-06-01/runtime/init/error", post(error))
        .with_state(emulator);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..])
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let started = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("{}: {e}", command[0]))?;
    let deadline = Duration::from_secs(20);
    let mut init = None;
    let mut answer = None;
    while let Ok(Some(seen)) = tokio::time::timeout(deadline, rx.recv()).await {
        match seen {
            Seen::Next(at) if init.is_none() => init = Some(at - started),
            Seen::Next(_) => {}
            Seen::Answer { ok } => {
                answer = Some(ok);
                break;
            }
        }
    }
    let _ = child.kill().await;
    server.abort();
    let init = init.ok_or_else(|| format!("{} never polled the Runtime API", command[0]))?;
    Ok((init, answer))
}

fn lambda_env(name: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_FUNCTION_NAME", name),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]bench"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDBENCH"),
        ("AWS_SECRET_ACCESS_KEY", "bench-secret"),
        ("AWS_SESSION_TOKEN", "bench-token"),
        ("VIRAL_BACKEND", "aws"),
        ("VIRAL_TABLE", "viral-bench"),
        ("VIRAL_BUCKET", "viral-bench-media"),
        // The provider worker follows renders on its own queue.
        (
            "VIRAL_RENDER_POLL_QUEUE_URL",
            "https://sqs.us-east-1.amazonaws.com/123456789012/viral-bench-render-polls",
        ),
        (
            "VIRAL_STATE_MACHINE_ARN",
            "arn:aws:states:us-east-1:123456789012:stateMachine:viral-bench",
        ),
        // As the template sets it (`NarrationVoice`): unset, a worker would look for an
        // offline voice, which no Lambda has (here it would load espeak-ng's libraries).
        ("VIRAL_VOICE", "polly"),
        ("RUST_LOG", "warn"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

fn pct(samples: &mut [Duration], p: f64) -> f64 {
    samples.sort();
    let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[i].as_secs_f64() * 1e3
}

/// The healthz request: every API function answers it with 404 `route_not_found` or 200, which
/// proves it served; it needs no table.
const EVENT: &str = r#"{"version":"2.0","routeKey":"GET /healthz","rawPath":"/healthz","rawQueryString":"","headers":{"host":"a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"},"requestContext":{"accountId":"123456789012","apiId":"a1b2c3d4e5","domainName":"a1b2c3d4e5.execute-api.us-east-1.amazonaws.com","domainPrefix":"a1b2c3d4e5","http":{"method":"GET","path":"/healthz","protocol":"HTTP/1.1","sourceIp":"203.0.113.7","userAgent":"bench"},"requestId":"bench","routeKey":"GET /healthz","stage":"$default","time":"25/Nov/2026:07:00:00 +0000","timeEpoch":1795590000000},"isBase64Encoded":false}"#;

pub async fn run(
    bootstraps: Vec<PathBuf>,
    node: Option<PathBuf>,
    runs: usize,
) -> Result<ExitCode, Failure> {
    let mut rows: Vec<(String, f64, f64, u64, bool)> = Vec::new();
    let measure = |name: String, command: Vec<String>, size: u64| {
        let env = lambda_env(&name);
        async move {
            let mut samples = Vec::new();
            let mut served = true;
            for _ in 0..runs {
                let (init, answer) = one(&command, &env, EVENT).await?;
                samples.push(init);
                served &= answer.is_some();
            }
            Ok::<_, String>((
                name,
                pct(&mut samples, 0.5),
                pct(&mut samples, 0.95),
                size,
                served,
            ))
        }
    };
    let baseline = match &node {
        Some(dir) => {
            let script = dir.join("index.mjs");
            let row = measure(
                "node (client-dynamodb + stripe)".into(),
                vec!["node".into(), script.display().to_string()],
                0,
            )
            .await?;
            Some(row.1)
        }
        None => None,
    };
    for b in &bootstraps {
        let name = b
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| b.display().to_string());
        let size = std::fs::metadata(b).map(|m| m.len()).unwrap_or(0);
        rows.push(measure(name, vec![b.display().to_string()], size).await?);
    }
    println!(
        "cold init under a Lambda Runtime API emulator: spawn → first /next, {runs} runs each"
    );
    if let Some(base) = baseline {
        println!(
            "{:<34} {:>8.1} ms p50   (baseline)",
            "node (client-dynamodb + stripe)", base
        );
    }
    for (name, p50, p95, size, served) in &rows {
        println!(
            "{name:<34} {p50:>8.1} ms p50 {p95:>8.1} ms p95  {:>10} B{}{}",
            size,
            baseline
                .map(|b| format!("  {:.0}× faster than node", b / p50))
                .unwrap_or_default(),
            if *served {
                ""
            } else {
                "  (did not answer the event)"
            }
        );
    }
    let worst = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    // The goal: a cold init of at most 5 ms, and at least 30× faster than Node.js measured in
    // the same run (when the baseline was measured).
    let ratio = baseline.map(|b| b / worst.max(f64::EPSILON));
    let claim = match ratio {
        Some(r) => format!(
            "every function's p50 ≤ 5 ms and ≥ 30× faster than node (worst {worst:.1} ms, {r:.0}×)"
        ),
        None => format!("every function's p50 ≤ 5 ms (worst {worst:.1} ms)"),
    };
    Ok(crate::bench::verdict(
        &claim,
        !rows.is_empty()
            && worst <= 5.0
            && ratio.is_none_or(|r| r >= 30.0)
            && rows.iter().all(|r| r.4),
    ))
}
