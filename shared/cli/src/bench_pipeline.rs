//! `viral bench pipeline`: a burst of jobs through the real local workflow with a stand-in
//! provider that answers at once (or after `--render-ms`), optionally refusing more than
//! `--provider-limit` renders at a time. Every job must succeed: a burst queues, it does not
//! fail. The baseline in the same run is one job alone.

use crate::failure::Failure;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use viral_core::domain::{JobSpec, Plan, Tenant};
use viral_core::ports::{
    BlobStore, ProviderError, RenderRequest, RenderStatus, Submitted, VideoProvider,
};
use viral_core::service::{tenants, videos};
use viral_core::{Clock, SystemClock};
use viral_embedded::{Db, FsBlobStore, SqliteItemStore, UrlSigner};
use viral_local::{LocalPipeline, Options};
use viral_media::RenderSpec;
use viral_providers::Registry;
use viral_providers::storyboard::storyboard_from_prompt;
use viral_steps::Deps;
use viral_steps::steps::JobRef;

/// What the run is asked to do.
#[derive(Clone, Debug)]
pub struct PipelineBench {
    pub jobs: usize,
    pub tenants: usize,
    /// Submits the local worker runs at once for the provider.
    pub concurrency: usize,
    /// The provider refuses (429) a render beyond this many at once.
    pub provider_limit: Option<usize>,
    /// How long each submit takes at the provider.
    pub render: Duration,
}

/// Hands out one prebuilt video: measures the pipeline, not a provider. Counts what it is
/// asked, and refuses renders past its limit as a rate-limited provider would.
struct BenchProvider {
    video: Vec<u8>,
    render: Duration,
    limit: Option<usize>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    refused: AtomicUsize,
    submits: AtomicUsize,
}

#[async_trait]
impl VideoProvider for BenchProvider {
    fn name(&self) -> &'static str {
        "instant"
    }
    fn model(&self) -> &'static str {
        "prebuilt"
    }
    fn price_cents_per_second(&self) -> f64 {
        0.0
    }
    async fn submit(&self, req: &RenderRequest) -> Result<Submitted, ProviderError> {
        self.submits.fetch_add(1, Ordering::SeqCst);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        if self.limit.is_some_and(|l| now > l) {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            self.refused.fetch_add(1, Ordering::SeqCst);
            return Err(ProviderError::Transient(
                "429: too many concurrent renders".into(),
            ));
        }
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(self.render).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        Ok(Submitted {
            task_id: req.idempotency_key.clone(),
            eta_s: 0,
        })
    }
    async fn poll(&self, _: &str) -> Result<RenderStatus, ProviderError> {
        Ok(RenderStatus::Done)
    }
    async fn fetch(&self, _: &str) -> Result<Vec<u8>, ProviderError> {
        Ok(self.video.clone())
    }
}

/// A provider that hands out `video` at once, with no limit (for `viral bench cost`).
pub(crate) fn instant_provider(video: Vec<u8>) -> Arc<dyn VideoProvider> {
    Arc::new(BenchProvider {
        video,
        render: Duration::ZERO,
        limit: None,
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
        submits: AtomicUsize::new(0),
    })
}

struct Bench {
    deps: Deps,
    pipeline: Arc<LocalPipeline>,
    provider: Arc<BenchProvider>,
    tenants: Vec<Tenant>,
}

async fn setup(dir: &std::path::Path, b: &PipelineBench, video: Vec<u8>) -> Result<Bench, String> {
    let db = Db::open(&dir.join("viral.db"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(
        &dir.join("blobs"),
        UrlSigner::new(b"bench", "http://127.0.0.1", clock.clone()),
    ));
    let provider = Arc::new(BenchProvider {
        video,
        render: b.render,
        limit: b.provider_limit,
        in_flight: AtomicUsize::new(0),
        max_in_flight: AtomicUsize::new(0),
        refused: AtomicUsize::new(0),
        submits: AtomicUsize::new(0),
    });
    let deps = Deps {
        social: Default::default(),
        // This measures the workflow, not the media work: captions are stored as files and the
        // clips copied (`viral bench render` measures burning them in).
        provider_captions: viral_steps::ProviderCaptions::Files,
        narrator: None,
        store: Arc::new(SqliteItemStore::new(db.clone())),
        blobs,
        clock: clock.clone(),
        providers: Registry::new(vec![provider.clone()]),
    };
    let queue_for = viral_local::embedded_queues(db, clock.clone(), None);
    let mut options = Options::default().time_scale(0.01);
    options.concurrency.insert("instant".into(), b.concurrency);
    let pipeline = LocalPipeline::new(deps.clone(), queue_for, options)?;
    pipeline.run_background();
    let mut tenant_list = Vec::new();
    for t in 0..b.tenants.max(1) {
        tenant_list.push(
            tenants::create_tenant(
                &*deps.store,
                &*deps.clock,
                &format!("bench {t}"),
                Plan::Agency,
            )
            .await
            .map_err(|e| e.to_string())?
            .tenant,
        );
    }
    Ok(Bench {
        deps,
        pipeline,
        provider,
        tenants: tenant_list,
    })
}

/// Accepts and starts `n` jobs round-robin over the tenants, waits for all, and returns
/// how long it took and how each ended (status → count, failures by reason).
async fn burst(
    bench: &Bench,
    n: usize,
    offset: usize,
) -> Result<(Duration, BTreeMap<String, usize>), String> {
    let started = Instant::now();
    let profiles = bench.pipeline.profiles();
    let mut refs = Vec::with_capacity(n);
    for i in 0..n {
        let tenant = &bench.tenants[(offset + i) % bench.tenants.len()];
        let spec = JobSpec {
            prompt: format!("bench {}", offset + i),
            concept_id: None,
            provider: "instant".into(),
            platforms: vec!["tiktok".into()],
            duration_s: 15.0,
            narration: None,
        };
        let job = videos::accept(
            &*bench.deps.store,
            &*bench.deps.clock,
            tenant,
            spec,
            None,
            &profiles,
        )
        .await
        .map_err(|e| e.to_string())?
        .job;
        let r = JobRef {
            tenant_id: tenant.id.clone(),
            job_id: job.id,
        };
        bench.pipeline.start(&r).await.map_err(|e| e.to_string())?;
        refs.push(r);
    }
    let mut ended: BTreeMap<String, usize> = BTreeMap::new();
    for r in &refs {
        loop {
            let exec = bench
                .pipeline
                .describe(&r.tenant_id, &r.job_id)
                .await
                .map_err(|e| e.to_string())?;
            match exec.as_ref().and_then(|e| e["status"].as_str()) {
                Some("RUNNING") | None => tokio::time::sleep(Duration::from_millis(5)).await,
                Some("SUCCEEDED") => {
                    *ended.entry("succeeded".into()).or_default() += 1;
                    break;
                }
                Some(other) => {
                    let job = videos::get(&*bench.deps.store, &r.tenant_id, &r.job_id)
                        .await
                        .map_err(|e| e.to_string())?;
                    let reason = job.failure.unwrap_or_else(|| other.to_owned());
                    let head = reason.split(':').next().unwrap_or("").to_owned();
                    *ended.entry(format!("failed ({head})")).or_default() += 1;
                    break;
                }
            }
        }
    }
    Ok((started.elapsed(), ended))
}

pub async fn run(b: PipelineBench) -> Result<ExitCode, Failure> {
    let dir = std::env::temp_dir().join(format!("viral-bench-pipeline-{}", std::process::id()));
    let sb = storyboard_from_prompt(crate::bench_media::CARDS, 1);
    let video = viral_media::render(&sb, &RenderSpec::vertical(15.0)).map_err(|e| e.to_string())?;
    let video_mb = video.len() as f64 / 1e6;
    let bench = setup(&dir, &b, video).await?;
    // The baseline: one job alone, same pipeline, same run.
    let (alone, _) = burst(&bench, 1, 0).await?;
    let (took, ended) = burst(&bench, b.jobs, 1).await?;
    bench.pipeline.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
    let succeeded = ended.get("succeeded").copied().unwrap_or(0);
    let secs = took.as_secs_f64();
    println!(
        "viral bench pipeline: {} jobs across {} tenants, embedded store; the provider rendered up to {} at once (worker concurrency {}{}), {} ms per submit; each job runs the full workflow and copies its {video_mb:.1} MB video twice",
        b.jobs,
        bench.tenants.len(),
        bench.provider.max_in_flight.load(Ordering::SeqCst),
        b.concurrency,
        b.provider_limit
            .map(|l| format!(", provider limit {l}"))
            .unwrap_or_default(),
        b.render.as_millis()
    );
    println!(
        "{succeeded}/{} succeeded in {secs:.2} s = {:.1} jobs/s; one job alone took {:.2} s (burst per job / alone = {:.2})",
        b.jobs,
        b.jobs as f64 / secs,
        alone.as_secs_f64(),
        secs / b.jobs.max(1) as f64 / alone.as_secs_f64().max(1e-9),
    );
    println!(
        "provider: {} submits, {} refused over its limit",
        bench.provider.submits.load(Ordering::SeqCst),
        bench.provider.refused.load(Ordering::SeqCst)
    );
    if succeeded == b.jobs {
        Ok(ExitCode::SUCCESS)
    } else {
        let others: Vec<String> = ended
            .iter()
            .filter(|(k, _)| *k != "succeeded")
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        eprintln!(
            "viral bench pipeline: NOT all jobs succeeded: {}",
            others.join(", ")
        );
        Ok(ExitCode::FAILURE)
    }
}
