//! One function per workflow step: planning (routing), rendering the clips, joining them,
//! and delivering the result.

mod deliver;
mod plan;
mod publish;
mod render;

use serde::{Deserialize, Serialize};
use viral_core::domain::job::{StagedClip, staged_clip_blob};
use viral_core::ports::BlobKey;

pub use deliver::{RefundInput, refund_job};
pub use plan::{Clip, Plan, PlanInput, plan_job};
pub use publish::{FailPostInput, PostRef, check_post, fail_post, poll_post, upload_post};
pub use render::{
    FetchInput, Fetched, Following, JoinInput, Joined, PollInput, RENDER_DEADLINE, Submit,
    SubmitAnswer, SubmitLimits, SubmitMessage, fetch_video, join_video, poll_render, submit_clip,
};

/// Largest provider output we accept (a 15 s vertical video is a few MB).
pub const MAX_VIDEO_BYTES: usize = 200 * 1024 * 1024;
pub use viral_core::service::videos::MAX_ATTEMPTS;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JobRef {
    pub tenant_id: String,
    pub job_id: String,
}

fn blob_key(key: String) -> Result<BlobKey, crate::StepError> {
    BlobKey::parse(&key).map_err(|_| crate::StepError::new("Job.Invalid", "bad tenant or job id"))
}

/// `tenants/<tenant>/<folder>/<job>.mp4`: every object of a job lives under its tenant.
fn job_object(r: &JobRef, folder: &str) -> Result<BlobKey, crate::StepError> {
    blob_key(format!("tenants/{}/{folder}/{}.mp4", r.tenant_id, r.job_id))
}

/// Intermediate objects live under `staging/tenants/<tenant>/`: still per tenant, and one
/// prefix a bucket lifecycle rule can expire.
const STAGING: &str = "staging/tenants";

/// One rendered clip, before the join.
fn clip_key(r: &JobRef, index: u32) -> Result<BlobKey, crate::StepError> {
    blob_key(staged_clip_blob(
        &r.tenant_id,
        &r.job_id,
        StagedClip::Fetched(index),
    ))
}

/// A clip the provider handed over with its poll answer, until the fetch step takes it.
fn polled_key(r: &JobRef, task_id: &str) -> Result<BlobKey, crate::StepError> {
    blob_key(staged_clip_blob(
        &r.tenant_id,
        &r.job_id,
        StagedClip::Polled(task_id),
    ))
}

fn video_key(r: &JobRef) -> Result<BlobKey, crate::StepError> {
    job_object(r, "videos")
}

/// The captions made with a video (`srt` or `vtt`): staged with the storyboard's clip until
/// the join, then under the tenant's `captions/`.
fn captions_key(r: &JobRef, stored: bool, ext: &str) -> Result<BlobKey, crate::StepError> {
    if stored {
        blob_key(format!(
            "tenants/{}/captions/{}.{ext}",
            r.tenant_id, r.job_id
        ))
    } else {
        blob_key(format!("{STAGING}/{}/{}.{ext}", r.tenant_id, r.job_id))
    }
}

/// The caption formats kept with a video, and their content types.
const CAPTION_FORMATS: [(&str, &str); 2] = [("vtt", "text/vtt"), ("srt", "application/x-subrip")];
