//! Rendering: each clip of the plan is submitted (by the provider worker), polled and fetched
//! into our storage; then the clips are joined and trimmed to the job's length. Every outcome
//! feeds the provider's health, which routing reads.

use serde::{Deserialize, Serialize};
use serde_json::json;
use viral_core::domain::JobStatus;
use viral_core::ports::{ProviderError, RenderRequest, RenderStatus, VideoProvider};
use viral_core::service::{provider_health, videos};

use super::{Clip, JobRef, MAX_VIDEO_BYTES, clip_key, staging_key};
use crate::{Deps, StepError};

/// The message the Submit state puts on the provider queue, one per clip.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubmitMessage {
    pub token: String,
    pub tenant_id: String,
    pub job_id: String,
    pub provider: String,
    pub clip: Clip,
}

/// What the worker answers the Submit state with.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubmitAnswer {
    pub task_id: String,
    /// Seconds until a poll is worth making.
    pub eta_s: u64,
    /// When the provider took the task (ms since the epoch): render latency for health.
    pub submitted_at: i64,
}

/// A provider the job named; an unknown one cannot succeed on retry.
fn provider(d: &Deps, name: &str) -> Result<std::sync::Arc<dyn VideoProvider>, StepError> {
    d.providers
        .get(name)
        .ok_or_else(|| StepError::new("Provider.Permanent", format!("unknown provider {name:?}")))
}

/// Records a provider failure for routing, then returns the error. A health write that fails
/// is logged, never allowed to change the step's outcome.
async fn failed<T>(d: &Deps, name: &str, e: StepError) -> Result<T, StepError> {
    if let Err(err) = provider_health::record(&*d.store, &*d.clock, name, false, 0.0).await {
        tracing::warn!(error = %err, provider = name, "could not record provider health");
    }
    Err(e)
}

fn from_provider(e: ProviderError) -> StepError {
    e.into()
}

/// The provider worker's work for one message: submit the clip's render.
pub async fn submit_render(d: &Deps, msg: &SubmitMessage) -> Result<SubmitAnswer, StepError> {
    let job = videos::get(&*d.store, &msg.tenant_id, &msg.job_id).await?;
    let provider = provider(d, &msg.provider)?;
    if !(msg.clip.duration_s.is_finite() && msg.clip.duration_s > 0.0) {
        return Err(StepError::new(
            "Step.BadInput",
            "a clip needs a positive duration",
        ));
    }
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
        duration_s: msg.clip.duration_s,
        width: 1080,
        height: 1920,
        fps: 30,
    };
    match provider.submit(&req).await {
        Ok(s) => Ok(SubmitAnswer {
            task_id: s.task_id,
            eta_s: s.eta_s,
            submitted_at: d.clock.now().millis(),
        }),
        Err(e) => failed(d, &msg.provider, from_provider(e)).await,
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PollInput {
    pub tenant_id: String,
    pub job_id: String,
    pub provider: String,
    pub task_id: String,
}

/// `running` or `done`; a failed render is the error `Provider.RenderFailed` with the
/// provider's reason, so it ends the clip (and the attempt) like any other failure.
pub async fn poll_render(d: &Deps, input: PollInput) -> Result<RenderStatus, StepError> {
    let p = provider(d, &input.provider)?;
    match p.poll(&input.task_id).await {
        Ok(RenderStatus::Failed { reason }) => {
            failed(
                d,
                &input.provider,
                StepError::new("Provider.RenderFailed", reason),
            )
            .await
        }
        Ok(status) => Ok(status),
        Err(e) => failed(d, &input.provider, from_provider(e)).await,
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FetchInput {
    pub tenant_id: String,
    pub job_id: String,
    pub provider: String,
    pub task_id: String,
    pub clip: Clip,
    /// From the Submit answer; 0 when unknown.
    #[serde(default)]
    pub submitted_at: i64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Fetched {
    pub clip_key: String,
    pub size_bytes: usize,
}

/// Copies one clip into our storage at once (provider URLs expire), refusing anything
/// oversized or that is not an MP4.
pub async fn fetch_video(d: &Deps, input: FetchInput) -> Result<Fetched, StepError> {
    let p = provider(d, &input.provider)?;
    let bytes = match p.fetch(&input.task_id).await {
        Ok(b) => b,
        Err(e) => return failed(d, &input.provider, from_provider(e)).await,
    };
    if bytes.len() > MAX_VIDEO_BYTES {
        let e = StepError::new("Video.TooLarge", format!("{} bytes", bytes.len()));
        return failed(d, &input.provider, e).await;
    }
    if !viral_media::looks_like_mp4(&bytes) {
        let e = StepError::new("Video.NotMp4", "the provider's output is not an MP4");
        return failed(d, &input.provider, e).await;
    }
    let r = JobRef {
        tenant_id: input.tenant_id,
        job_id: input.job_id,
    };
    let key = clip_key(&r, input.clip.index)?;
    let size_bytes = bytes.len();
    d.blobs
        .put(&key, bytes, "video/mp4")
        .await
        .map_err(|e| StepError::new("Blob.Unavailable", e.to_string()))?;
    let latency_s = if input.submitted_at > 0 {
        (d.clock.now().millis() - input.submitted_at).max(0) as f64 / 1000.0
    } else {
        0.0
    };
    if let Err(e) =
        provider_health::record(&*d.store, &*d.clock, &input.provider, true, latency_s).await
    {
        tracing::warn!(error = %e, "could not record provider health");
    }
    Ok(Fetched {
        clip_key: key.to_string(),
        size_bytes,
    })
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JoinInput {
    pub tenant_id: String,
    pub job_id: String,
    pub clips: Vec<Clip>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Joined {
    pub staging_key: String,
    /// `copied` (no re-encoding) or `reencoded`; `already` when a re-run found it done.
    pub mode: String,
    pub size_bytes: usize,
}

/// Joins the fetched clips and trims the result to the job's length, into the staging key
/// that validation reads. The clips are deleted once the joined video is stored; a re-run
/// that finds them gone and the joined video there has nothing left to do.
pub async fn join_video(d: &Deps, input: JoinInput) -> Result<Joined, StepError> {
    let r = JobRef {
        tenant_id: input.tenant_id.clone(),
        job_id: input.job_id.clone(),
    };
    let job = videos::get(&*d.store, &r.tenant_id, &r.job_id).await?;
    let blob_err =
        |e: viral_core::ports::BlobError| StepError::new("Blob.Unavailable", e.to_string());
    if input.clips.is_empty() {
        return Err(StepError::new("Step.BadInput", "no clips to join"));
    }
    let staging = staging_key(&r)?;
    let mut clips = Vec::with_capacity(input.clips.len());
    for c in &input.clips {
        match d
            .blobs
            .get(&clip_key(&r, c.index)?)
            .await
            .map_err(blob_err)?
        {
            Some((bytes, _)) => clips.push(bytes),
            None => {
                if let Some(meta) = d.blobs.head(&staging).await.map_err(blob_err)? {
                    return Ok(Joined {
                        staging_key: staging.to_string(),
                        mode: "already".into(),
                        size_bytes: meta.size as usize,
                    });
                }
                return Err(StepError::new(
                    "Video.Missing",
                    format!("clip {} was never fetched", c.index),
                ));
            }
        }
    }
    let target = job.spec.duration_s;
    let joined = tokio::task::spawn_blocking(move || {
        let parts: Vec<&[u8]> = clips.iter().map(Vec::as_slice).collect();
        viral_media::join(&parts, target)
    })
    .await
    .map_err(|e| StepError::new("Video.JoinFailed", e.to_string()))?
    .map_err(|e| StepError::new("Video.Unsupported", e.to_string()))?;
    let size_bytes = joined.bytes.len();
    d.blobs
        .put(&staging, joined.bytes, "video/mp4")
        .await
        .map_err(blob_err)?;
    for c in &input.clips {
        d.blobs
            .delete(&clip_key(&r, c.index)?)
            .await
            .map_err(blob_err)?;
    }
    Ok(Joined {
        staging_key: staging.to_string(),
        mode: json!(joined.mode).as_str().unwrap_or("copied").to_owned(),
        size_bytes,
    })
}
