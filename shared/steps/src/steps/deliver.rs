//! After the render: validate the joined video (in the join's own step, on the bytes it made),
//! store it under the tenant and end the job (consume the reservation on success, refund it
//! on failure).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use viral_core::domain::{Job, JobStatus};
use viral_core::ports::BlobKey;
use viral_core::service::videos;
use viral_media::Platform;

use super::{CAPTION_FORMATS, JobRef, captions_key, staging_key, video_key};
use crate::{Deps, StepError};

/// Checks the joined video against the job's platforms and length; a reject goes to the
/// fallback. `probe` is what the MP4 parse found (made off the async runtime by the caller).
pub(super) async fn validate(
    d: &Deps,
    job: &Job,
    probe: Result<viral_media::Probe, viral_media::MediaError>,
) -> Result<Value, StepError> {
    videos::advance(
        &*d.store,
        &*d.clock,
        &job.tenant_id,
        &job.id,
        JobStatus::Validating,
        vec![],
    )
    .await?;
    let probe = probe.map_err(|e| StepError::new("Video.NotMp4", e.to_string()))?;
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

/// [`validate`] on the staged video (a join run again after it stored it).
pub(super) async fn validate_staged(d: &Deps, job: &Job, r: &JobRef) -> Result<Value, StepError> {
    let (bytes, _) = d
        .blobs
        .get(&staging_key(r)?)
        .await
        .map_err(|e| StepError::new("Blob.Unavailable", e.to_string()))?
        .ok_or_else(|| StepError::new("Video.Missing", "no joined video to validate"))?;
    let probe = tokio::task::spawn_blocking(move || viral_media::probe(&bytes))
        .await
        .map_err(|e| StepError::new("Video.JoinFailed", e.to_string()))?;
    validate(d, job, probe).await
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StoreInput {
    pub tenant_id: String,
    pub job_id: String,
    /// The join's validation report, kept with the job.
    pub validation: Value,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Stored {
    pub video_key: String,
    /// `succeeded`.
    pub status: String,
    /// Whether this run ended the job (false when a run before it did).
    pub changed: bool,
}

/// Moves the validated video, and the captions made with it, to their place under the
/// tenant, then ends the job succeeded and consumes its reservation (once, however often it
/// runs). What it cost is what its clips committed (the job's `spent_cents`).
pub async fn store_video(d: &Deps, input: StoreInput) -> Result<Stored, StepError> {
    let r = JobRef {
        tenant_id: input.tenant_id.clone(),
        job_id: input.job_id.clone(),
    };
    let blob_err =
        |e: viral_core::ports::BlobError| StepError::new("Blob.Unavailable", e.to_string());
    let captions = move_captions(d, &r).await?;
    videos::advance(
        &*d.store,
        &*d.clock,
        &r.tenant_id,
        &r.job_id,
        JobStatus::Storing,
        captions
            .map(|k| vec![("captions_key", json!(k.to_string()))])
            .unwrap_or_default(),
    )
    .await?;
    let staging = staging_key(&r)?;
    let key = video_key(&r)?;
    // Copied in place (on S3 the bytes never pass through this function); a re-run after
    // the staged copy was deleted finds the video stored already.
    if !d.blobs.copy(&staging, &key).await.map_err(blob_err)?
        && d.blobs.head(&key).await.map_err(blob_err)?.is_none()
    {
        return Err(StepError::new(
            "Video.Missing",
            "no validated video to store",
        ));
    }
    d.blobs.delete(&staging).await.map_err(blob_err)?;
    let changed = videos::finish_succeeded(
        &*d.store,
        &*d.clock,
        &r.tenant_id,
        &r.job_id,
        vec![
            ("video_key", json!(key.to_string())),
            ("validation", input.validation),
        ],
    )
    .await?;
    Ok(Stored {
        video_key: key.to_string(),
        status: "succeeded".into(),
        changed,
    })
}

/// Moves the staged captions (if the video came with any) to the tenant's `captions/`; the
/// stored WebVTT key. A re-run finds them moved already.
async fn move_captions(d: &Deps, r: &JobRef) -> Result<Option<BlobKey>, StepError> {
    let blob_err =
        |e: viral_core::ports::BlobError| StepError::new("Blob.Unavailable", e.to_string());
    let mut stored_vtt = None;
    for (ext, _) in CAPTION_FORMATS {
        let (staged, stored) = (captions_key(r, false, ext)?, captions_key(r, true, ext)?);
        // Staged with their content type (see render.rs); the copy keeps it.
        if d.blobs.copy(&staged, &stored).await.map_err(blob_err)? {
            d.blobs.delete(&staged).await.map_err(blob_err)?;
        }
        if ext == "vtt" && d.blobs.head(&stored).await.map_err(blob_err)?.is_some() {
            stored_vtt = Some(stored);
        }
    }
    Ok(stored_vtt)
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
