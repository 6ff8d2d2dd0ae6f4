//! `viral demo` and `viral video …`: video jobs run in this process on the local pipeline.

use crate::failure::Failure;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Subcommand;
use serde_json::{Value, json};
use viral_core::domain::concept::PLATFORMS;
use viral_core::domain::{Job, JobSpec, JobStatus, Plan, Tenant};
use viral_core::service::{tenants, videos};
use viral_local::Process;
use viral_runtime::Config;

use crate::concepts::{self, BriefArgs};
use viral_local::LocalPipeline;
use viral_steps::steps::JobRef;

#[derive(Subcommand)]
pub enum VideoCommand {
    /// Render a video from a prompt in this process, showing progress until it ends.
    Create {
        /// What the video shows: a sentence or a few (up to 2000 characters).
        #[arg(long)]
        prompt: String,
        /// The tenant to act for and charge (`tn_…`); without it, the local tenant `viral demo`
        /// uses (created on first use).
        #[arg(long)]
        tenant: Option<String>,
        /// `auto` (routing picks on cost, quality and health) or a provider's name, e.g.
        /// storyboard, runway, veo, sora.
        #[arg(long, default_value = "auto")]
        provider: String,
        /// Length of the video in seconds, 5 to 60.
        #[arg(long, default_value_t = 15.0)]
        duration: f64,
        /// The narrator's language, a lower-case tag like en-us (default) or es.
        #[arg(long)]
        language: Option<String>,
        /// The narrator's voice, as the engine names it (Joanna for Polly, en-gb for
        /// espeak-ng).
        #[arg(long)]
        voice: Option<String>,
        /// The narrator's pace, 0.5 to 2.0 (1.0 is normal).
        #[arg(long)]
        speed: Option<f64>,
        /// Print the final job as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show a job's status.
    Status {
        /// The job (`job_…`).
        id: String,
        /// The tenant to act for (`tn_…`); without it, the local tenant `viral demo` uses (created on first use).
        #[arg(long)]
        tenant: Option<String>,
    },
}

fn demo_file(services: &Process) -> PathBuf {
    services.config.data_dir.join("demo-tenant")
}

/// The local demo tenant, created on first use and remembered in the data directory.
async fn demo_tenant(services: &Process) -> Result<Tenant, Failure> {
    let path = demo_file(services);
    if let Ok(id) = std::fs::read_to_string(&path)
        && let Some(t) = tenants::get_tenant(&*services.store, id.trim()).await?
    {
        return Ok(t);
    }
    let created = tenants::create_tenant(
        &*services.store,
        &*services.clock,
        "Local demo",
        Plan::Agency,
    )
    .await?;
    std::fs::create_dir_all(&services.config.data_dir)?;
    std::fs::write(&path, &created.tenant.id)?;
    Ok(created.tenant)
}

pub(crate) async fn tenant_of(services: &Process, id: Option<String>) -> Result<Tenant, Failure> {
    match id {
        None => demo_tenant(services).await,
        Some(id) => tenants::get_tenant(&*services.store, &id)
            .await?
            .ok_or_else(|| Failure::from(viral_core::Error::NotFound("tenant"))),
    }
}

fn dollars(cents: u32) -> String {
    format!("${}.{:02}", cents / 100, cents % 100)
}

/// What accepting the job decided, at once: provider, clips, estimated cost against the
/// job's budget, why, and whether the plan's quality could not be served here.
fn print_accepted(job: &Job) {
    let Some(r) = job.routing() else {
        return;
    };
    let clips: Vec<String> = r.clips.iter().map(|c| format!("{c:.0} s")).collect();
    eprintln!(
        "job       {} accepted: {} ({}), {} ({}), estimated {} of a {} budget",
        job.id,
        r.provider,
        r.model,
        crate::text::counted(r.clips.len() as u64, "clip"),
        clips.join(" + "),
        dollars(r.estimated_cost_cents),
        dollars(job.budget_cents)
    );
    eprintln!("routing   {}", r.reason);
    if r.degraded {
        eprintln!(
            "degraded  this plan's quality tier cannot be served here; the video is a preview"
        );
    }
}

/// Accepts the job, runs it on the local pipeline and waits, printing each status change.
/// Other processes on the same data dir (`viral up`, other commands) share the work; when it
/// ends, this process hands back whatever else it had taken on.
async fn run(
    services: &Process,
    tenant: &Tenant,
    spec: JobSpec,
    quiet: bool,
) -> Result<Value, Failure> {
    let pipeline = services.local_pipeline(1.0)?;
    pipeline.run_background();
    let result = run_on(services, &pipeline, tenant, spec, quiet).await;
    pipeline.shutdown().await;
    result
}

async fn run_on(
    services: &Process,
    pipeline: &Arc<LocalPipeline>,
    tenant: &Tenant,
    spec: JobSpec,
    quiet: bool,
) -> Result<Value, Failure> {
    let accepted = videos::accept(
        &*services.store,
        &*services.clock,
        tenant,
        spec,
        None,
        &pipeline.profiles(),
    )
    .await?;
    if !quiet {
        print_accepted(&accepted.job);
    }
    let job_ref = JobRef {
        tenant_id: tenant.id.clone(),
        job_id: accepted.job.id.clone(),
    };
    pipeline.start(&job_ref).await?;
    let started = Instant::now();
    let mut last = None;
    let job = loop {
        let job = videos::get(&*services.store, &tenant.id, &job_ref.job_id).await?;
        if last != Some(job.status) && !quiet {
            eprintln!(
                "[{:>5.1}s] {:<10} {:>3}%  {}",
                started.elapsed().as_secs_f64(),
                job.status.as_str(),
                job.status.progress(),
                job.provider
                    .as_deref()
                    .map(|p| format!("provider {p}"))
                    .unwrap_or_default()
            );
            last = Some(job.status);
        }
        let exec = pipeline.describe(&tenant.id, &job_ref.job_id).await?;
        let running = exec.as_ref().is_some_and(|e| e["status"] == "RUNNING");
        if job.status.is_terminal() && !running {
            break job;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let local = |k: &String| {
        services
            .config
            .data_dir
            .join("blobs")
            .join("objects")
            .join(k)
    };
    let file = job.video_key.as_ref().map(local);
    let captions = job.captions_key.as_ref().map(local);
    let routing = job.routing();
    Ok(json!({
        "job_id": job.id,
        "tenant_id": tenant.id,
        "status": job.status.as_str(),
        "provider": job.provider,
        "model": job.model,
        "attempts": job.attempts,
        "cost_cents": job.spent_cents,
        "budget_cents": job.budget_cents,
        "degraded": routing.as_ref().is_some_and(|r| r.degraded),
        "routing": job.route,
        "file": file.map(|f| f.display().to_string()),
        "captions": captions.map(|f| f.display().to_string()),
        "voice": narrator(&services.config.providers, job.provider.as_deref(), job.spec.narration.as_ref()),
        "validation": job.validation,
        "failure": job.failure,
        "seconds": (started.elapsed().as_secs_f64() * 10.0).round() / 10.0,
    }))
}

/// The voice that narrated a storyboard video, by name; `None` when it has none.
fn narrator(
    cfg: &viral_runtime::provider_config::ProviderConfig,
    provider: Option<&str>,
    narration: Option<&viral_core::domain::Narration>,
) -> Option<&'static str> {
    if provider != Some("storyboard") {
        return None;
    }
    use viral_providers::voice::{Espeak, Offline, Piper, SpeechRequest};
    use viral_runtime::provider_config::VoiceChoice;
    match cfg.voice {
        VoiceChoice::None => None,
        VoiceChoice::ElevenLabs => Some("elevenlabs"),
        VoiceChoice::Polly => Some("polly"),
        VoiceChoice::Piper => cfg
            .piper_dir
            .as_deref()
            .and_then(Piper::load)
            .map(|_| "piper"),
        VoiceChoice::Espeak => Espeak::load().map(|_| "espeak"),
        VoiceChoice::Auto => {
            let mut ask = SpeechRequest::new("");
            if let Some(n) = narration {
                ask.language = n.language.clone().unwrap_or(ask.language);
                ask.voice = n.voice.clone();
            }
            Offline::load(cfg.piper_dir.as_deref())?.engine_for(&ask)
        }
    }
}

fn print_result(r: &Value) {
    println!(
        "job       {} ({})",
        r["job_id"].as_str().unwrap_or("?"),
        r["status"].as_str().unwrap_or("?")
    );
    if let Some(f) = r["file"].as_str() {
        println!("video     {f}");
    }
    if let Some(f) = r["captions"].as_str() {
        println!("captions  {f} (.srt beside it)");
    }
    if r["provider"] == "storyboard" {
        match r["voice"].as_str() {
            Some(v) => println!("sound     voice ({v}) over a music bed"),
            None => println!(
                "sound     music bed only: no voice here (tests/run installs the offline voices)"
            ),
        }
    }
    if let (Some(p), Some(spent), Some(budget)) = (
        r["provider"].as_str(),
        r["cost_cents"].as_u64(),
        r["budget_cents"].as_u64(),
    ) {
        let cents = |c: u64| dollars(u32::try_from(c).unwrap_or(u32::MAX));
        println!(
            "cost      {} in provider fees ({p}), of a {} budget",
            cents(spent),
            cents(budget)
        );
    }
    if r["degraded"] == true {
        println!(
            "degraded  {}",
            r["routing"]["reason"]
                .as_str()
                .unwrap_or("below the plan's quality tier")
        );
    }
    if let Some(p) = r["validation"]["probe"].as_object() {
        let audio = match p.get("audio").and_then(|a| a.as_object()) {
            Some(a) => format!(
                "{} {} Hz {} ch",
                a["codec"].as_str().unwrap_or("?"),
                a["sample_rate"],
                a["channels"]
            ),
            None => "no audio".to_owned(),
        };
        println!(
            "probe     {} {}x{} {:.2} s at {:.0} fps · {audio} · {} bytes",
            p["video_codec"].as_str().unwrap_or("?"),
            p["width"],
            p["height"],
            p["duration_s"].as_f64().unwrap_or(0.0),
            p["fps"].as_f64().unwrap_or(0.0),
            p["size_bytes"]
        );
    }
    for rep in r["validation"]["platforms"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let pass = rep["pass"].as_bool().unwrap_or(false);
        println!(
            "platform  {:<16} {}{}",
            rep["platform"].as_str().unwrap_or("?"),
            if pass { "pass" } else { "FAIL" },
            if pass {
                String::new()
            } else {
                format!(": {}", rep["reasons"])
            }
        );
    }
    if let Some(f) = r["failure"].as_str() {
        println!("failure   {f}");
    }
}

fn ended_ok(r: &Value) -> ExitCode {
    if r["status"] == JobStatus::Succeeded.as_str() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `viral demo`: the main job end to end on the embedded default: trends → five concepts →
/// the best → a video.
pub async fn demo(config: Config, brief: BriefArgs, publish: bool) -> Result<ExitCode, Failure> {
    let services = Process::connect(config).await?;
    let tenant = demo_tenant(&services).await?;
    eprintln!("viral demo: tenant {} ({})", tenant.id, tenant.name);
    let batch = concepts::generate(&services, &tenant, brief.request()).await?;
    println!();
    concepts::print_batch(&batch);
    // The best: the highest predicted score; the batch is already in the learner's order,
    // so ties go to its choice.
    let best = batch
        .concepts
        .iter()
        .enumerate()
        .max_by_key(|(i, c)| (c.predicted_score, std::cmp::Reverse(*i)))
        .map(|(_, c)| c.clone())
        .ok_or("the batch has no concepts")?;
    println!("\nchosen:");
    concepts::print_concept(&best);
    println!();
    let spec = JobSpec {
        prompt: best.video_prompt(),
        concept_id: Some(best.id.clone()),
        provider: "auto".into(),
        platforms: best.platforms.clone(),
        duration_s: best.duration_s,
        narration: None,
    };
    let r = run(&services, &tenant, spec, false).await?;
    println!();
    print_result(&r);
    if publish && r["status"] == JobStatus::Succeeded.as_str() {
        println!();
        let before = viral_core::service::learning::learner(&*services.store, &tenant.id).await?;
        let job = r["job_id"].as_str().unwrap_or_default();
        let posted = crate::publish::demo_publish(&services, &tenant, job).await?;
        match posted.first() {
            Some(p) if p.status == viral_core::domain::post::PostStatus::Published => {
                println!();
                crate::metrics::demo_loop(&services, &tenant.id, &best, p, &before).await?;
                return Ok(ended_ok(&r));
            }
            _ => return Ok(ExitCode::FAILURE),
        }
    }
    if r["status"] == JobStatus::Succeeded.as_str() {
        println!(
            "next      {} feedback {} --platform tiktok --views 1200 --likes 90 --completion-rate 0.4",
            crate::invocation::command(),
            best.id
        );
    }
    Ok(ended_ok(&r))
}

pub async fn run_command(config: Config, cmd: VideoCommand) -> Result<ExitCode, Failure> {
    let services = Process::connect(config).await?;
    match cmd {
        VideoCommand::Create {
            prompt,
            tenant,
            provider,
            duration,
            language,
            voice,
            speed,
            json,
        } => {
            // The API's rules and this deployment's providers, checked before anything runs.
            let narration = (language.is_some() || voice.is_some() || speed.is_some()).then_some(
                viral_core::domain::Narration {
                    language,
                    voice,
                    speed,
                },
            );
            let spec = JobSpec {
                prompt,
                concept_id: None,
                provider,
                platforms: PLATFORMS.map(str::to_owned).to_vec(),
                duration_s: duration,
                narration,
            }
            .checked()?;
            videos::check_spec(
                &spec,
                &viral_runtime::providers::profiles(&services.config.providers),
            )?;
            let tenant = tenant_of(&services, tenant).await?;
            let r = run(&services, &tenant, spec, json).await?;
            if json {
                println!("{r}");
            } else {
                print_result(&r);
            }
            Ok(ended_ok(&r))
        }
        VideoCommand::Status { id, tenant } => {
            let tenant = tenant_of(&services, tenant).await?;
            let job = videos::get(&*services.store, &tenant.id, &id).await?;
            println!(
                "{}",
                json!({
                    "job_id": job.id, "status": job.status.as_str(), "progress": job.status.progress(),
                    "provider": job.provider, "attempts": job.attempts, "video_key": job.video_key,
                    "failure": job.failure, "updated_at": job.updated_at.rfc3339(),
                })
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
