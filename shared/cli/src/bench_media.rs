//! `viral bench render` and `viral bench pipeline`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use viral_core::domain::{JobSpec, Plan};
use viral_core::ports::{
    BlobStore, ProviderError, RenderRequest, RenderStatus, Submitted, VideoProvider,
};
use viral_core::service::{tenants, videos};
use viral_core::{Clock, SystemClock};
use viral_embedded::{Db, FsBlobStore, LocalQueue, SqliteItemStore, UrlSigner};
use viral_media::{RenderSpec, Storyboard};
use viral_providers::Registry;
use viral_providers::storyboard::storyboard_from_prompt;
use viral_steps::Deps;
use viral_steps::local::LocalPipeline;
use viral_steps::steps::JobRef;

const CARDS: &str = "Nobody tells you this about cold brew. Steep it 18 hours, not 12. \
Filter twice, paper then cloth. Follow for part two.";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The same cards as an ffmpeg filter graph: gradient-coloured backgrounds and drawtext.
fn ffmpeg_args(sb: &Storyboard, out: &str) -> Vec<String> {
    let font = "DejaVu Sans";
    let mut texts = vec![sb.hook.clone()];
    texts.extend(sb.beats.iter().map(|b| b.text.clone()));
    let per = 15.0 / texts.len() as f64;
    let mut filters = vec!["[0:v]format=yuv420p".to_owned()];
    for (i, t) in texts.iter().enumerate() {
        let safe = t
            .replace(['\\', '\''], "")
            .replace(':', "\\:")
            .replace(',', "\\,");
        filters.push(format!(
            "drawtext=font='{font}':text='{safe}':fontsize=80:fontcolor=white:shadowx=6:shadowy=6:\
             x=(w-text_w)/2:y=(h-text_h)/2:enable='between(t,{:.2},{:.2})'",
            i as f64 * per,
            (i + 1) as f64 * per
        ));
    }
    let graph = filters.join(",");
    [
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "gradients=s=1080x1920:r=30:d=15:speed=0.02:c0=0x3a1f8a:c1=0x8a1f3a",
        "-vf",
        &graph,
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-threads",
        "1",
        "-pix_fmt",
        "yuv420p",
        out,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub fn render(runs: usize, ffmpeg: Option<String>) -> Result<ExitCode, String> {
    let sb = storyboard_from_prompt(CARDS, 1);
    let spec = RenderSpec::vertical(15.0);
    let mut ours = Vec::new();
    for _ in 0..runs.max(1) {
        let t = Instant::now();
        let bytes = viral_media::render(&sb, &spec).map_err(|e| e.to_string())?;
        ours.push(t.elapsed().as_secs_f64());
        viral_media::probe(&bytes).map_err(|e| e.to_string())?;
    }
    let ours = median(ours);
    println!(
        "viral bench render: 15 s of 1080x1920 30 fps H.264, one encoder thread, median of {runs}"
    );
    println!("{:<34} {:>8} {:>14}", "renderer", "seconds", "x real time");
    println!(
        "{:<34} {:>8.2} {:>14.1}",
        "storyboard (openh264 + muxide)",
        ours,
        15.0 / ours
    );
    match ffmpeg {
        None => println!(
            "ffmpeg: not found (pass --ffmpeg PATH or set VIRAL_FFMPEG) — no baseline this run"
        ),
        Some(ff) => {
            let out = std::env::temp_dir().join(format!("viral-bench-{}.mp4", std::process::id()));
            let args = ffmpeg_args(&sb, &out.display().to_string());
            let mut times = Vec::new();
            for _ in 0..runs.max(1) {
                let t = Instant::now();
                let st = std::process::Command::new(&ff)
                    .args(&args)
                    .status()
                    .map_err(|e| format!("{ff}: {e}"))?;
                if !st.success() {
                    return Err(format!("ffmpeg failed ({st})"));
                }
                times.push(t.elapsed().as_secs_f64());
            }
            let theirs = median(times);
            let _ = std::fs::remove_file(out);
            println!(
                "{:<34} {:>8.2} {:>14.1}",
                "ffmpeg libx264 ultrafast + drawtext",
                theirs,
                15.0 / theirs
            );
            println!("storyboard time / ffmpeg time = {:.2}", ours / theirs);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Hands out one prebuilt video at once: measures the pipeline, not a provider.
struct InstantProvider {
    video: Vec<u8>,
}

#[async_trait]
impl VideoProvider for InstantProvider {
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
        Ok(Submitted {
            task_id: req.job_id.clone(),
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

pub async fn pipeline(jobs: usize, tenants_n: usize) -> Result<ExitCode, String> {
    let dir = std::env::temp_dir().join(format!("viral-bench-pipeline-{}", std::process::id()));
    let db = Db::open(&dir.join("viral.db"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(
        &dir.join("blobs"),
        UrlSigner::new(b"bench", "http://127.0.0.1", clock.clone()),
    ));
    let sb = storyboard_from_prompt(CARDS, 1);
    let video = viral_media::render(&sb, &RenderSpec::vertical(15.0)).map_err(|e| e.to_string())?;
    let video_mb = video.len() as f64 / 1e6;
    let deps = Deps {
        store: Arc::new(SqliteItemStore::new(db.clone())),
        blobs,
        clock: clock.clone(),
        providers: Registry::new(vec![Arc::new(InstantProvider { video })]),
    };
    let queue = Arc::new(LocalQueue::new(db, "provider-jobs", None, clock.clone()));
    let pipeline = LocalPipeline::new(deps.clone(), queue, 0.01)?;
    pipeline.spawn_worker();
    let mut refs = Vec::with_capacity(jobs);
    let mut tenant_list = Vec::new();
    for t in 0..tenants_n.max(1) {
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
    let started = Instant::now();
    for i in 0..jobs {
        let tenant = &tenant_list[i % tenant_list.len()];
        let spec = JobSpec {
            prompt: format!("bench {i}"),
            concept_id: None,
            provider: "instant".into(),
            platforms: vec!["tiktok".into()],
            duration_s: 15.0,
        };
        let job = videos::accept(&*deps.store, &*deps.clock, tenant, spec, None)
            .await
            .map_err(|e| e.to_string())?
            .job;
        let r = JobRef {
            tenant_id: tenant.id.clone(),
            job_id: job.id,
        };
        pipeline.start(&r).await.map_err(|e| e.to_string())?;
        refs.push(r);
    }
    let mut succeeded = 0;
    for r in &refs {
        loop {
            let exec = pipeline
                .describe(&r.tenant_id, &r.job_id)
                .await
                .map_err(|e| e.to_string())?;
            match exec.as_ref().and_then(|e| e["status"].as_str()) {
                Some("RUNNING") | None => tokio::time::sleep(Duration::from_millis(5)).await,
                Some(s) => {
                    succeeded += usize::from(s == "SUCCEEDED");
                    break;
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "viral bench pipeline: {jobs} jobs across {} tenants, instant provider, embedded store\n\
         {succeeded} succeeded in {secs:.2} s = {:.1} jobs/s (each job runs the full workflow and copies its {video_mb:.1} MB video twice)",
        tenant_list.len(),
        jobs as f64 / secs
    );
    Ok(if succeeded == jobs {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
