//! After the render, in the join's own step: validate the joined video on the bytes it made,
//! store it under the tenant and end the job (consume the reservation); or, on failure,
//! refund it.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use viral_core::domain::{Job, JobStatus};
use viral_core::ports::BlobKey;
use viral_core::service::videos;
use viral_media::Platform;

use super::{CAPTION_FORMATS, JobRef, captions_key, video_key};
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

/// Puts the validated video, and the captions made with it, in their place under the
/// tenant, then ends the job succeeded and consumes its reservation (once, however often it
/// runs). What it cost is what its clips committed (the job's `spent_cents`). `cues`: the
/// captions the join made; without them, the ones the storyboard's fetch staged are moved.
/// Whether this run ended the job (false when a run before it did).
pub(super) async fn store(
    d: &Deps,
    r: &JobRef,
    video: Vec<u8>,
    cues: Option<&[viral_media::captions::Cue]>,
    validation: Value,
) -> Result<(BlobKey, bool), StepError> {
    let captions = match cues {
        Some(cues) => Some(put_captions(d, r, cues).await?),
        None => move_captions(d, r).await?,
    };
    let job = videos::advance(
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
    // Ended meanwhile (the reconciler): nothing is delivered.
    if job.status.is_terminal() && job.status != JobStatus::Succeeded {
        drop_undelivered(d, r).await;
        return Err(ended(&job));
    }
    let key = video_key(r)?;
    d.blobs
        .put(&key, video, "video/mp4")
        .await
        .map_err(blob_err)?;
    let changed = videos::finish_succeeded(
        &*d.store,
        &*d.clock,
        &r.tenant_id,
        &r.job_id,
        vec![
            ("video_key", json!(key.to_string())),
            ("validation", validation),
        ],
    )
    .await?;
    if !changed {
        let job = videos::get(&*d.store, &r.tenant_id, &r.job_id).await?;
        if job.status != JobStatus::Succeeded {
            drop_undelivered(d, r).await;
            return Err(ended(&job));
        }
    }
    Ok((key, changed))
}

/// What a step answers for a job that has already ended.
pub(super) fn ended(job: &Job) -> StepError {
    StepError::new(
        "Job.Ended",
        format!("job is already {}", job.status.as_str()),
    )
}

/// Deletes what a join wrote under the tenant for a job that did not succeed. Best effort:
/// a leftover is only storage, and deleting the tenant removes it.
async fn drop_undelivered(d: &Deps, r: &JobRef) {
    let keys = [
        video_key(r),
        captions_key(r, true, "vtt"),
        captions_key(r, true, "srt"),
    ];
    for key in keys.into_iter().flatten() {
        if let Err(error) = d.blobs.delete(&key).await {
            tracing::warn!(job = %r.job_id, %key, %error, "an undelivered object was not deleted");
        }
    }
}

fn blob_err(e: viral_core::ports::BlobError) -> StepError {
    StepError::new("Blob.Unavailable", e.to_string())
}

/// Writes the join's captions as WebVTT and SubRip under the tenant's `captions/`; the
/// WebVTT key.
async fn put_captions(
    d: &Deps,
    r: &JobRef,
    cues: &[viral_media::captions::Cue],
) -> Result<BlobKey, StepError> {
    let files = [
        viral_media::captions::vtt(cues),
        viral_media::captions::srt(cues),
    ];
    for ((ext, content_type), text) in CAPTION_FORMATS.into_iter().zip(files) {
        d.blobs
            .put(
                &captions_key(r, true, ext)?,
                text.into_bytes(),
                content_type,
            )
            .await
            .map_err(blob_err)?;
    }
    captions_key(r, true, "vtt")
}

/// Moves the staged captions (the storyboard's, staged with its clip) to the tenant's
/// `captions/`; the stored WebVTT key. A re-run finds them moved already.
async fn move_captions(d: &Deps, r: &JobRef) -> Result<Option<BlobKey>, StepError> {
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

/// The job's failure as it is kept: the error's name and cause (a provider's text among
/// them), at most 1,000 characters, cut between characters.
fn failure_reason(error: &Value) -> String {
    let name = error
        .get("Error")
        .and_then(Value::as_str)
        .unwrap_or("Job.Failed");
    let cause = error.get("Cause").and_then(Value::as_str).unwrap_or("");
    format!("{name}: {cause}").chars().take(1000).collect()
}

/// Marks the job failed and refunds its reservation exactly once.
pub async fn refund_job(d: &Deps, input: RefundInput) -> Result<Value, StepError> {
    let reason = failure_reason(&input.error);
    let ended = videos::finish_failed(
        &*d.store,
        &*d.clock,
        &input.tenant_id,
        &input.job_id,
        &reason,
    )
    .await?;
    if ended {
        let r = JobRef {
            tenant_id: input.tenant_id.clone(),
            job_id: input.job_id.clone(),
        };
        drop_undelivered(d, &r).await;
    }
    Ok(json!({"status": "failed", "refunded": ended}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_cause_is_cut_between_characters() {
        // "Provider.Permanent: x" is 21 bytes: byte 1,000 falls inside an "é".
        let cause = format!("x{}", "é".repeat(1200));
        let error = serde_json::json!({"Error": "Provider.Permanent", "Cause": cause});
        assert!(!format!("Provider.Permanent: {cause}").is_char_boundary(1000));
        let reason = failure_reason(&error);
        assert_eq!(reason.chars().count(), 1000);
        assert!(reason.starts_with("Provider.Permanent: xé"));
        let none = failure_reason(&serde_json::json!({}));
        assert_eq!(none, "Job.Failed: ");
    }
}
