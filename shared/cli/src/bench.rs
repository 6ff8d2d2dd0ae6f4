//! `viral bench api`: warm, in-process latency of API routes on the embedded store, reported
//! beside `GET /healthz` (no store, no auth) measured in the same run as the baseline.

use crate::failure::Failure;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use clap::Subcommand;
use tower::ServiceExt;
use viral_api::AppState;
use viral_core::domain::{Plan, RateLimit};
use viral_core::service::tenants;
use viral_core::{Clock, SystemClock};
use viral_embedded::SqliteItemStore;

#[derive(Subcommand)]
pub enum BenchCommand {
    /// Latency of GET /v1/me and GET /v1/usage against GET /healthz.
    Api {
        /// Requests per route, after a warm-up.
        #[arg(long, default_value_t = 5000)]
        requests: usize,
    },
    /// A 15 s narrated, captioned storyboard, beside ffmpeg (libx264 + libass + aac) doing the
    /// same job.
    Render {
        /// Renders of each kind; the median is reported.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// An ffmpeg binary for the baseline (default: $VIRAL_FFMPEG, then `ffmpeg` on PATH).
        #[arg(long, env = "VIRAL_FFMPEG")]
        ffmpeg: Option<String>,
    },
    /// A simulated day of routing decisions against degrading providers: success rate and
    /// cost per successful video, routed vs always-cheapest vs always-best.
    Routing {
        /// Jobs in the simulated day.
        #[arg(long, default_value_t = 20_000)]
        jobs: u32,
        /// Seed of the simulation: the same seed gives the same day.
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// The learner against a synthetic audience: cumulative reward as a share of an oracle's,
    /// beside random, over 200 and 1,000 rounds.
    Learner {
        /// Synthetic audiences (one per seed); figures are their mean.
        #[arg(long, default_value_t = 20)]
        seeds: u64,
    },
    /// Lambda cold init (spawn → first Runtime API poll) of built bootstraps under a local
    /// Runtime API emulator, beside a Node.js function with the AWS SDK's DynamoDB client and
    /// Stripe's. Build them first: see the README's "Lambda sizes and cold starts".
    ColdStart {
        /// Paths of `bootstrap` binaries (named by their parent directory).
        bootstraps: Vec<std::path::PathBuf>,
        /// A directory holding `index.mjs` and its `node_modules` (the baseline).
        #[arg(long)]
        node: Option<std::path::PathBuf>,
        /// Cold starts of each function; p50 and p99 are reported.
        #[arg(long, default_value_t = 20)]
        runs: usize,
    },
    /// What one video costs on AWS: the API's and the pipeline's calls counted against an
    /// AWS-compatible server (moto), priced at list prices. Fails unless every API call makes
    /// at most 2 DynamoDB round trips and a video costs at most $0.0005 (provider aside).
    Cost {
        /// The server's URL, e.g. `http://127.0.0.1:5055` for `moto_server -p 5055`.
        #[arg(long, env = "AWS_ENDPOINT_URL")]
        endpoint: String,
        /// Print the breakdown as JSON (stable keys: `goals`, `api`, `jobs`); the exit code still
        /// says whether both goals were met.
        #[arg(long)]
        json: bool,
    },
    /// A burst of jobs through the local workflow with a stand-in provider; fails unless
    /// every job succeeds. Reports jobs per second beside one job alone.
    Pipeline {
        /// Jobs in the burst.
        #[arg(long, default_value_t = 1000)]
        jobs: usize,
        /// Tenants the jobs are spread over.
        #[arg(long, default_value_t = 50)]
        tenants: usize,
        /// Submits the local worker runs at once for the provider.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
        /// The provider refuses (429) renders beyond this many at once.
        #[arg(long)]
        provider_limit: Option<usize>,
        /// Milliseconds each submit takes at the provider.
        #[arg(long, default_value_t = 0)]
        render_ms: u64,
    },
}

struct Stats {
    p50: Duration,
    p99: Duration,
    mean: Duration,
}

fn stats(mut samples: Vec<Duration>) -> Stats {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let total: Duration = samples.iter().sum();
    Stats {
        p50: at(0.50),
        p99: at(0.99),
        mean: total / samples.len() as u32,
    }
}

async fn measure(app: &axum::Router, path: &str, key: &str, n: usize) -> Result<Stats, String> {
    let one = || {
        Request::get(path)
            .header("authorization", format!("Bearer {key}"))
            .body(Body::empty())
            .map_err(|e| e.to_string())
    };
    for _ in 0..n.min(500) {
        app.clone()
            .oneshot(one()?)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let req = one()?;
        let t = Instant::now();
        let resp = app.clone().oneshot(req).await.map_err(|e| e.to_string())?;
        samples.push(t.elapsed());
        if resp.status() != StatusCode::OK {
            return Err(format!("{path} answered {}", resp.status()));
        }
    }
    Ok(stats(samples))
}

/// Prints whether a benchmark met its goal; the exit code says the same.
pub(crate) fn verdict(goal: &str, met: bool) -> ExitCode {
    println!("{goal}: {}", if met { "met" } else { "NOT met" });
    if met {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

pub async fn run(cmd: BenchCommand) -> Result<ExitCode, Failure> {
    let requests = match cmd {
        BenchCommand::Api { requests } => requests,
        BenchCommand::Render { runs, ffmpeg } => {
            let ffmpeg = ffmpeg.or_else(|| {
                std::process::Command::new("ffmpeg")
                    .arg("-version")
                    .output()
                    .ok()
                    .map(|_| "ffmpeg".to_owned())
            });
            let piper_dir = viral_runtime::provider_config::ProviderConfig::from_lookup(
                &|k| std::env::var(k).ok(),
                viral_runtime::Backend::Local,
            )
            .ok()
            .and_then(|c| c.piper_dir);
            return crate::bench_media::render(runs, ffmpeg, piper_dir.as_deref()).await;
        }
        BenchCommand::Cost { endpoint, json } => {
            return crate::bench_cost::run(endpoint, json).await;
        }
        BenchCommand::Routing { jobs, seed } => return crate::bench_routing::run(jobs, seed),
        BenchCommand::Learner { seeds } => return crate::bench_learner::run(seeds),
        BenchCommand::ColdStart {
            bootstraps,
            node,
            runs,
        } => return crate::bench_cold::run(bootstraps, node, runs.max(1)).await,
        BenchCommand::Pipeline {
            jobs,
            tenants,
            concurrency,
            provider_limit,
            render_ms,
        } => {
            return crate::bench_pipeline::run(crate::bench_pipeline::PipelineBench {
                jobs: jobs.max(1),
                tenants,
                concurrency: concurrency.max(1),
                provider_limit,
                render: std::time::Duration::from_millis(render_ms),
            })
            .await;
        }
    };
    let requests = requests.max(100);
    let dir = std::env::temp_dir().join(format!("viral-bench-{}", std::process::id()));
    let store = Arc::new(SqliteItemStore::open(&dir.join("viral.db")).map_err(|e| e.to_string())?);
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let created = tenants::create_tenant(&*store, &*clock, "bench", Plan::Pro)
        .await
        .map_err(|e| e.to_string())?;
    let mut state = AppState::new(store, clock);
    // The limiter still runs (its write is part of every authenticated request); it just
    // never refuses here.
    state.rate_limit = RateLimit {
        max: u32::MAX,
        window: Duration::from_secs(10),
    };
    let app = viral_api::router(state);
    let key = created.key.token.expose().to_owned();

    let base = measure(&app, "/healthz", &key, requests).await?;
    println!(
        "viral bench api: {requests} warm in-process requests per route, embedded SQLite store\n\
         {:<12} {:>9} {:>9} {:>9} {:>12}",
        "route", "p50 ms", "p99 ms", "mean ms", "p99/baseline"
    );
    println!(
        "{:<12} {:>9.3} {:>9.3} {:>9.3} {:>12}",
        "/healthz",
        ms(base.p50),
        ms(base.p99),
        ms(base.mean),
        "1.0 (base)"
    );
    for path in ["/v1/me", "/v1/usage"] {
        let s = measure(&app, path, &key, requests).await?;
        println!(
            "{:<12} {:>9.3} {:>9.3} {:>9.3} {:>12.1}",
            path,
            ms(s.p50),
            ms(s.p99),
            ms(s.mean),
            s.p99.as_secs_f64() / base.p99.as_secs_f64().max(1e-9)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExitCode::SUCCESS)
}
