//! One function per workflow step.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use viral_core::domain::JobStatus;
use viral_core::ports::{BlobKey, RenderRequest, RenderStatus, Submitted};
use viral_core::service::videos;
use viral_media::Platform;

use crate::{Deps, StepError};

/// Largest provider output we accept (a 15 s vertical video is a few MB).
pub const MAX_VIDEO_BYTES: usize = 200 * 1024 * 1024;
/// Provider attempts per job, fallbacks included.
pub const MAX_ATTEMPTS: u32 = 2;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobRef {
    pub tenant_id: String,
    pub job_id: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    pub provider: String,
    pub model: String,
    pub attempt: u32,
    pub max_attempts: u32,
    pub estimated_cost_cents: u32,
}

/// PlanJob's input: which attempt the workflow is planning (1, then 2 on the fallback path).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PlanInput {
    pub tenant_id: String,
    pub job_id: String,
    pub attempt: u32,
}

/// Picks the provider for this attempt and records the decision on the job. Idempotent per
/// attempt: run again (a Lambda retry, a resumed execution) it returns the recorded plan
/// instead of counting another attempt.
pub async fn plan_job(d: &Deps, input: PlanInput) -> Result<Plan, StepError> {
    if input.attempt == 0 || input.attempt > MAX_ATTEMPTS {
        return Err(StepError::new(
            "Step.BadInput",
            format!("attempt {} is outside 1..={MAX_ATTEMPTS}", input.attempt),
        ));
    }
    let job = videos::get(&*d.store, &input.tenant_id, &input.job_id).await?;
    let ended = |job: &viral_core::domain::Job| {
        StepError::new(
            "Job.Ended",
            format!("job is already {}", job.status.as_str()),
        )
    };
    if job.status.is_terminal() {
        return Err(ended(&job));
    }
    let choice = d.providers.choose(&job.spec.provider, input.attempt);
    let job = match &choice {
        Some(p) if job.attempts < input.attempt => {
            videos::advance_if(
                &*d.store,
                &*d.clock,
                &input.tenant_id,
                &input.job_id,
                JobStatus::Planning,
                vec![
                    ("provider", json!(p.name())),
                    ("model", json!(p.model())),
                    ("attempts", json!(input.attempt)),
                    ("estimated_cost_cents", json!(cost_cents(&**p, &job))),
                ],
                |j| j.attempts < input.attempt,
            )
            .await?
        }
        _ => job,
    };
    if job.status.is_terminal() {
        return Err(ended(&job));
    }
    // The plan as recorded: ours, or the one an earlier run of this attempt made.
    let recorded = job
        .provider
        .as_deref()
        .filter(|_| job.attempts >= input.attempt)
        .and_then(|name| d.providers.get(name));
    let provider = recorded.ok_or_else(|| {
        StepError::new(
            "Job.NoProvider",
            format!("provider {:?} is not available", job.spec.provider),
        )
    })?;
    Ok(Plan {
        provider: provider.name().to_owned(),
        model: provider.model().to_owned(),
        attempt: job.attempts,
        max_attempts: MAX_ATTEMPTS,
        estimated_cost_cents: cost_cents(&*provider, &job),
    })
}

fn cost_cents(p: &dyn viral_core::ports::VideoProvider, job: &viral_core::domain::Job) -> u32 {
    (p.price_cents_per_second() * job.spec.duration_s).ceil() as u32
}

/// The message the Submit state puts on the provider queue.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubmitMessage {
    pub token: String,
    pub tenant_id: String,
    pub job_id: String,
    pub provider: String,
}

/// The provider worker's work for one message: submit the render.
pub async fn submit_render(d: &Deps, msg: &SubmitMessage) -> Result<Submitted, StepError> {
    let job = videos::get(&*d.store, &msg.tenant_id, &msg.job_id).await?;
    let provider = d.providers.get(&msg.provider).ok_or_else(|| {
        StepError::new(
            "Provider.Permanent",
            format!("unknown provider {:?}", msg.provider),
        )
    })?;
    videos::advance(
        &*d.store,
        &*d.clock,
        &msg.tenant_id,
        &msg.job_id,
        JobStatus::Rendering,
        vec![],
    )
    .await?;
    let req = RenderRequest {
        job_id: job.id.clone(),
        tenant_id: job.tenant_id.clone(),
        prompt: job.spec.prompt.clone(),
        duration_s: job.spec.duration_s,
        width: 1080,
        height: 1920,
        fps: 30,
    };
    Ok(provider.submit(&req).await?)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PollInput {
    pub tenant_id: String,
    pub job_id: String,
    pub provider: String,
    pub task_id: String,
}

pub async fn poll_render(d: &Deps, input: PollInput) -> Result<RenderStatus, StepError> {
    let provider = provider(d, &input.provider)?;
    Ok(provider.poll(&input.task_id).await?)
}

/// A provider the job named; an unknown one cannot succeed on retry.
fn provider(
    d: &Deps,
    name: &str,
) -> Result<std::sync::Arc<dyn viral_core::ports::VideoProvider>, StepError> {
    d.providers
        .get(name)
        .ok_or_else(|| StepError::new("Provider.Permanent", format!("unknown provider {name:?}")))
}

/// `tenants/<tenant>/<folder>/<job>.mp4`: every object of a job lives under its tenant.
fn job_object(r: &JobRef, folder: &str) -> Result<BlobKey, StepError> {
    BlobKey::parse(&format!(
        "tenants/{}/{folder}/{}.mp4",
        r.tenant_id, r.job_id
    ))
    .map_err(|_| StepError::new("Job.Invalid", "bad tenant or job id"))
}

fn staging_key(r: &JobRef) -> Result<BlobKey, StepError> {
    job_object(r, "staging")
}

fn video_key(r: &JobRef) -> Result<BlobKey, StepError> {
    job_object(r, "videos")
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fetched {
    pub staging_key: String,
    pub size_bytes: usize,
}

/// Copies the provider's output into our storage at once (provider URLs expire), refusing
/// anything oversized or that is not an MP4.
pub async fn fetch_video(d: &Deps, input: PollInput) -> Result<Fetched, StepError> {
    let provider = provider(d, &input.provider)?;
    let bytes = provider.fetch(&input.task_id).await?;
    if bytes.len() > MAX_VIDEO_BYTES {
        return Err(StepError::new(
            "Video.TooLarge",
            format!("{} bytes", bytes.len()),
        ));
    }
    if !viral_media::probe::looks_like_mp4(&bytes) {
        return Err(StepError::new(
            "Video.NotMp4",
            "the provider's output is not an MP4",
        ));
    }
    let r = JobRef {
        tenant_id: input.tenant_id,
        job_id: input.job_id,
    };
    let key = staging_key(&r)?;
    let size_bytes = bytes.len();
    d.blobs
        .put(&key, bytes, "video/mp4")
        .await
        .map_err(|e| StepError::new("Blob.Unavailable", e.to_string()))?;
    Ok(Fetched {
        staging_key: key.to_string(),
        size_bytes,
    })
}

/// Parses the MP4 and checks it against the job's platforms; a reject goes to the fallback.
pub async fn validate_video(d: &Deps, input: JobRef) -> Result<Value, StepError> {
    let job = videos::get(&*d.store, &input.tenant_id, &input.job_id).await?;
    videos::advance(
        &*d.store,
        &*d.clock,
        &input.tenant_id,
        &input.job_id,
        JobStatus::Validating,
        vec![],
    )
    .await?;
    let (bytes, _) = d
        .blobs
        .get(&staging_key(&input)?)
        .await
        .map_err(|e| StepError::new("Blob.Unavailable", e.to_string()))?
        .ok_or_else(|| StepError::new("Video.Missing", "no fetched video to validate"))?;
    let probe =
        viral_media::probe(&bytes).map_err(|e| StepError::new("Video.NotMp4", e.to_string()))?;
    let platforms: Vec<Platform> = job
        .spec
        .platforms
        .iter()
        .filter_map(|p| Platform::parse(p))
        .collect();
    let reports = viral_media::validate(&probe, &platforms);
    let within = (probe.duration_s - job.spec.duration_s).abs() <= 0.5;
    let report = json!({"probe": probe, "platforms": reports, "duration_matches": within});
    if !within || reports.iter().any(|r| !r.pass) {
        return Err(StepError::new("Video.Invalid", report.to_string()));
    }
    Ok(report)
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stored {
    pub video_key: String,
}

/// Moves the validated video to its place under the tenant.
pub async fn store_video(d: &Deps, input: JobRef) -> Result<Stored, StepError> {
    videos::advance(
        &*d.store,
        &*d.clock,
        &input.tenant_id,
        &input.job_id,
        JobStatus::Storing,
        vec![],
    )
    .await?;
    let blob_err =
        |e: viral_core::ports::BlobError| StepError::new("Blob.Unavailable", e.to_string());
    let staging = staging_key(&input)?;
    let key = video_key(&input)?;
    if d.blobs.head(&key).await.map_err(blob_err)?.is_none() {
        let (bytes, meta) = d
            .blobs
            .get(&staging)
            .await
            .map_err(blob_err)?
            .ok_or_else(|| StepError::new("Video.Missing", "no validated video to store"))?;
        d.blobs
            .put(&key, bytes, &meta.content_type)
            .await
            .map_err(blob_err)?;
    }
    d.blobs.delete(&staging).await.map_err(blob_err)?;
    Ok(Stored {
        video_key: key.to_string(),
    })
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FinalizeInput {
    pub tenant_id: String,
    pub job_id: String,
    pub video_key: String,
    pub validation: Value,
    pub cost_cents: u32,
}

/// Marks the job succeeded and consumes its reservation (once, however often it runs).
pub async fn finalize_job(d: &Deps, input: FinalizeInput) -> Result<Value, StepError> {
    let ended = videos::finish_succeeded(
        &*d.store,
        &*d.clock,
        &input.tenant_id,
        &input.job_id,
        vec![
            ("video_key", json!(input.video_key)),
            ("validation", input.validation),
            ("cost_cents", json!(input.cost_cents)),
        ],
    )
    .await?;
    Ok(json!({"status": "succeeded", "changed": ended}))
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RefundInput {
    pub tenant_id: String,
    pub job_id: String,
    /// `{"Error", "Cause"}` from the catcher.
    #[serde(default)]
    pub error: Value,
}

/// Marks the job failed and refunds its reservation exactly once.
pub async fn refund_job(d: &Deps, input: RefundInput) -> Result<Value, StepError> {
    let name = input
        .error
        .get("Error")
        .and_then(Value::as_str)
        .unwrap_or("Job.Failed");
    let cause = input
        .error
        .get("Cause")
        .and_then(Value::as_str)
        .unwrap_or("");
    let mut reason = format!("{name}: {cause}");
    reason.truncate(1000);
    let ended = videos::finish_failed(
        &*d.store,
        &*d.clock,
        &input.tenant_id,
        &input.job_id,
        &reason,
    )
    .await?;
    Ok(json!({"status": "failed", "refunded": ended}))
}
