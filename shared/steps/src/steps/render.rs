//! Rendering: each clip of the plan is submitted, polled and fetched into our storage by the
//! provider worker (one workflow state per clip); then the clips are joined and trimmed to the
//! job's length. Every outcome feeds the provider's health, which routing reads.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::json;
use viral_core::domain::JobStatus;
use viral_core::ports::{Lookup, ProviderError, RenderRequest, RenderStatus, VideoProvider};
use viral_core::service::submits::{self, Claim, ClipRef};
use viral_core::service::{provider_health, videos};

use super::{
    CAPTION_FORMATS, Clip, JobRef, MAX_VIDEO_BYTES, captions_key, clip_key, polled_key, video_key,
};
use crate::{Deps, StepError};

/// The message the Submit state puts on the provider queue, one per clip.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SubmitMessage {
    pub token: String,
    pub tenant_id: String,
    pub job_id: String,
    pub provider: String,
    /// The attempt the clip belongs to (the plan's). Messages queued before attempts were
    /// carried are the first attempt's.
    #[serde(default = "first_attempt")]
    pub attempt: u32,
    pub clip: Clip,
    /// Set once the clip is submitted: the worker then polls its render (the message comes
    /// back on the queue, delayed, until the render is done) and fetches it. The Submit state
    /// never sets it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub render: Option<Following>,
}

/// A submitted clip's render, which the worker follows on the provider's queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Following {
    pub task_id: String,
    /// When the provider took the task (ms since the epoch).
    pub submitted_at: i64,
    /// Polls or fetches in a row that failed for a passing reason.
    #[serde(default)]
    pub failures: u32,
}

/// What the worker answers the Submit state with.
pub type SubmitAnswer = submits::Answer;

/// How the worker treats one provider call.
#[derive(Clone, Debug)]
pub struct SubmitLimits {
    /// Longest a provider may take to answer a submit (a hang is an unknown outcome).
    pub provider_timeout: Duration,
    /// How long a worker's claim on a clip lasts without renewal (renewed every third of
    /// it while the call runs): a worker that dies is taken over this long after.
    pub lease: Duration,
    /// Multiplies the waits between polls and their backoff (1.0 normally; small in tests
    /// and benchmarks, as the local engine's `time_scale`).
    pub wait_scale: f64,
}

impl Default for SubmitLimits {
    fn default() -> Self {
        Self {
            provider_timeout: Duration::from_secs(240),
            lease: Duration::from_secs(30),
            wait_scale: 1.0,
        }
    }
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

/// What became of one clip's submit.
#[derive(Debug)]
pub enum Submit {
    /// The answer for the workflow: the provider's task, or why there is none.
    Answered(Result<SubmitAnswer, StepError>),
    /// Another worker is submitting this clip right now: ask again later.
    Busy,
}

/// A clip's price at its provider, in cents (what is rendered is billed).
fn clip_cost(p: &dyn VideoProvider, seconds: f64) -> u32 {
    (p.price_cents_per_second() * seconds).ceil().max(0.0) as u32
}

/// Runs `work` while renewing the claim every third of the lease.
async fn renewing<T>(
    d: &Deps,
    clip: &ClipRef,
    claim_id: &str,
    lease: Duration,
    work: impl Future<Output = T>,
) -> T {
    let mut work = std::pin::pin!(work);
    let every = (lease / 3).max(Duration::from_millis(10));
    loop {
        tokio::select! {
            out = &mut work => return out,
            () = tokio::time::sleep(every) => {
                match submits::renew(&*d.store, &*d.clock, clip, claim_id, lease).await {
                    Ok(true) => {}
                    Ok(false) => tracing::warn!(job_id = %clip.job_id, "lost the claim on a clip mid-call"),
                    Err(e) => tracing::warn!(error = %e, "could not renew a clip's claim"),
                }
            }
        }
    }
}

fn first_attempt() -> u32 {
    1
}

/// The provider worker's work for one message: at most one paid submit per clip. The clip's
/// intent is recorded (and its estimate charged to the job's budget) before the call; a clip
/// already submitted is answered from the record; a submit whose outcome is unknown is never
/// repeated — the provider is asked where it can be, else the attempt fails as
/// `Provider.UnknownOutcome`.
pub async fn submit_clip(d: &Deps, msg: &SubmitMessage, limits: &SubmitLimits) -> Submit {
    match submit_clip_inner(d, msg, limits).await {
        Ok(Some(a)) => Submit::Answered(Ok(a)),
        Ok(None) => Submit::Busy,
        Err(e) => Submit::Answered(Err(e)),
    }
}

async fn submit_clip_inner(
    d: &Deps,
    msg: &SubmitMessage,
    limits: &SubmitLimits,
) -> Result<Option<SubmitAnswer>, StepError> {
    let job = videos::get(&*d.store, &msg.tenant_id, &msg.job_id).await?;
    if job.status.is_terminal() {
        return Err(super::deliver::ended(&job));
    }
    // A clip of an attempt the job has moved past (its message outlived the process that
    // queued it) is never paid for.
    if msg.attempt < job.attempts {
        return Err(StepError::new(
            "Job.Superseded",
            format!(
                "this clip belongs to attempt {} and the job is on attempt {}",
                msg.attempt, job.attempts
            ),
        ));
    }
    let provider = provider(d, &msg.provider)?;
    if !(msg.clip.duration_s.is_finite() && msg.clip.duration_s > 0.0) {
        return Err(StepError::new(
            "Step.BadInput",
            "a clip needs a positive duration",
        ));
    }
    let clip = ClipRef {
        tenant_id: msg.tenant_id.clone(),
        job_id: msg.job_id.clone(),
        attempt: msg.attempt,
        clip: msg.clip.index,
    };
    let req = RenderRequest {
        idempotency_key: clip.idempotency_key(),
        job_id: job.id.clone(),
        tenant_id: job.tenant_id.clone(),
        prompt: job.spec.prompt.clone(),
        duration_s: msg.clip.duration_s,
        width: 1080,
        height: 1920,
        fps: 30,
        narration: job.spec.narration.clone(),
    };
    // Before the claim: an error here leaves no intent pending (which would read as a
    // submit of unknown outcome once its lease lapsed).
    videos::advance(
        &*d.store,
        &*d.clock,
        &msg.tenant_id,
        &msg.job_id,
        JobStatus::Rendering,
        vec![],
    )
    .await?;
    let claim_id = viral_core::ids::new_id("claim");
    let cost = clip_cost(&*provider, msg.clip.duration_s);
    let claim = submits::claim(
        &*d.store,
        &*d.clock,
        &clip,
        &msg.provider,
        cost,
        &claim_id,
        limits.lease,
    )
    .await?;
    match claim {
        Claim::Go => {}
        Claim::Done(a) => return Ok(Some(a)),
        Claim::Busy => return Ok(None),
        Claim::Unknown(reason) => return Err(StepError::new("Provider.UnknownOutcome", reason)),
        Claim::OverBudget {
            spent,
            budget,
            cost,
        } => {
            return Err(StepError::new(
                "Job.OverBudget",
                format!("this clip costs {cost} cents; the job has spent {spent} of its {budget}"),
            ));
        }
        Claim::Orphan => match provider.lookup(&req).await {
            Ok(Lookup::Found(s)) => {
                let a = submits::Answer {
                    task_id: s.task_id,
                    eta_s: s.eta_s,
                    submitted_at: d.clock.now().millis(),
                };
                return Ok(Some(submits::submitted(&*d.store, &clip, &a).await?));
            }
            Ok(Lookup::Absent) => {}
            Ok(Lookup::Unsupported) | Err(_) => {
                let why = "the worker submitting this clip stopped mid-call and the provider cannot be asked whether it took it";
                submits::unknown(&*d.store, &clip, &claim_id, why).await?;
                return failed(
                    d,
                    &msg.provider,
                    StepError::new("Provider.UnknownOutcome", why),
                )
                .await;
            }
        },
    }
    let call = tokio::time::timeout(limits.provider_timeout, provider.submit(&req));
    let result = renewing(d, &clip, &claim_id, limits.lease, call).await;
    match result {
        Ok(Ok(s)) => {
            let a = submits::Answer {
                task_id: s.task_id,
                eta_s: s.eta_s,
                submitted_at: d.clock.now().millis(),
            };
            // The task exists and is paid for: record it (retried), and answer with it even
            // if the record cannot be written — the workflow carries it on.
            for wait in [50, 200, 800, 0] {
                match submits::submitted(&*d.store, &clip, &a).await {
                    Ok(on_record) => return Ok(Some(on_record)),
                    Err(e) if wait == 0 => {
                        tracing::error!(error = %e, job_id = %clip.job_id, task_id = %a.task_id, "could not record a submitted task")
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(wait)).await,
                }
            }
            Ok(Some(a))
        }
        Ok(Err(ProviderError::UnknownOutcome(m))) => {
            submits::unknown(&*d.store, &clip, &claim_id, &m).await?;
            failed(
                d,
                &msg.provider,
                StepError::new("Provider.UnknownOutcome", m),
            )
            .await
        }
        Err(_) => {
            let m = format!(
                "{} did not answer the submit within {} s",
                msg.provider,
                limits.provider_timeout.as_secs_f64()
            );
            submits::unknown(&*d.store, &clip, &claim_id, &m).await?;
            failed(
                d,
                &msg.provider,
                StepError::new("Provider.UnknownOutcome", m),
            )
            .await
        }
        Ok(Err(e)) => {
            // Not taken; but a provider that spent money on the attempt (the storyboard's
            // paid voice) keeps its estimate charged.
            let spent = provider.spent_on_failed_submit(&req).await;
            submits::rejected(&*d.store, &clip, &claim_id, spent).await?;
            failed(d, &msg.provider, from_provider(e)).await
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PollInput {
    pub tenant_id: String,
    pub job_id: String,
    pub provider: String,
    pub task_id: String,
    /// From the Submit answer (ms since the epoch); 0 when unknown.
    #[serde(default)]
    pub submitted_at: i64,
}

/// Longest a provider may keep a clip rendering. Waiting for the provider's queue does not
/// count (the clip is submitted when the worker takes it); a render stuck past this fails.
pub const RENDER_DEADLINE: Duration = Duration::from_secs(1800);

/// `running` or `done`; a failed render is the error `Provider.RenderFailed` with the
/// provider's reason, so it ends the clip (and the attempt) like any other failure, and a
/// render still running past [`RENDER_DEADLINE`] is `Provider.RenderTimeout`.
pub async fn poll_render(d: &Deps, input: PollInput) -> Result<RenderStatus, StepError> {
    let p = provider(d, &input.provider)?;
    let overdue = input.submitted_at > 0
        && d.clock.now().millis() - input.submitted_at
            > i64::try_from(RENDER_DEADLINE.as_millis()).unwrap_or(i64::MAX);
    let r = JobRef {
        tenant_id: input.tenant_id.clone(),
        job_id: input.job_id.clone(),
    };
    match p.poll_with_output(&input.task_id).await {
        Ok((RenderStatus::Done, Some(video))) => {
            // Kept for the fetch step, which then downloads nothing.
            d.blobs
                .put(&polled_key(&r, &input.task_id)?, video, "video/mp4")
                .await
                .map_err(|e| StepError::new("Blob.Unavailable", e.to_string()))?;
            Ok(RenderStatus::Done)
        }
        Ok((RenderStatus::Running { .. }, _)) if overdue => {
            let e = StepError::new(
                "Provider.RenderTimeout",
                format!(
                    "the render was still running {} min after submit",
                    RENDER_DEADLINE.as_secs() / 60
                ),
            );
            failed(d, &input.provider, e).await
        }
        Ok((RenderStatus::Failed { reason }, _)) => {
            failed(
                d,
                &input.provider,
                StepError::new("Provider.RenderFailed", reason),
            )
            .await
        }
        Ok((status, _)) => Ok(status),
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
    let blob_err =
        |e: viral_core::ports::BlobError| StepError::new("Blob.Unavailable", e.to_string());
    let r = JobRef {
        tenant_id: input.tenant_id.clone(),
        job_id: input.job_id.clone(),
    };
    let polled = polled_key(&r, &input.task_id)?;
    let bytes = match d.blobs.get(&polled).await.map_err(blob_err)? {
        Some((bytes, _)) => bytes,
        None => match p.fetch(&input.task_id).await {
            Ok(b) => b,
            Err(e) => return failed(d, &input.provider, from_provider(e)).await,
        },
    };
    if bytes.len() > MAX_VIDEO_BYTES {
        let e = StepError::new("Video.TooLarge", format!("{} bytes", bytes.len()));
        return failed(d, &input.provider, e).await;
    }
    if !viral_media::looks_like_mp4(&bytes) {
        let e = StepError::new("Video.NotMp4", "the provider's output is not an MP4");
        return failed(d, &input.provider, e).await;
    }
    let key = clip_key(&r, input.clip.index)?;
    let size_bytes = bytes.len();
    if input.clip.index == 0 {
        keep_storyboard_captions(d, &r, &input.provider, &input.task_id).await?;
    }
    d.blobs
        .put(&key, bytes, "video/mp4")
        .await
        .map_err(blob_err)?;
    d.blobs.delete(&polled).await.map_err(blob_err)?;
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

/// The storyboard stores word-timed captions beside its render: they go with the video. Any
/// other provider's clips come without (the join writes theirs), so captions an earlier
/// attempt left are dropped.
async fn keep_storyboard_captions(
    d: &Deps,
    r: &JobRef,
    provider: &str,
    task_id: &str,
) -> Result<(), StepError> {
    let blob_err =
        |e: viral_core::ports::BlobError| StepError::new("Blob.Unavailable", e.to_string());
    for (ext, content_type) in CAPTION_FORMATS {
        let made = (provider == "storyboard")
            .then(|| viral_providers::StoryboardProvider::captions_key(task_id, ext))
            .flatten();
        let Some(made) = made else {
            d.blobs
                .delete(&captions_key(r, false, ext)?)
                .await
                .map_err(blob_err)?;
            continue;
        };
        if let Some((text, _)) = d.blobs.get(&made).await.map_err(blob_err)? {
            d.blobs
                .put(&captions_key(r, false, ext)?, text, content_type)
                .await
                .map_err(blob_err)?;
        }
    }
    Ok(())
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct JoinInput {
    pub tenant_id: String,
    pub job_id: String,
    pub clips: Vec<Clip>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Joined {
    /// Where the video is stored, under its tenant.
    pub video_key: String,
    /// `copied` (no re-encoding) or `reencoded`; `already` when a re-run found it done.
    pub mode: String,
    pub size_bytes: usize,
    /// Whether this run ended the job (false when a run before it did).
    pub changed: bool,
}

/// One turn per core for the joins' decoding and encoding, shared by the process.
fn media_turn() -> &'static tokio::sync::Semaphore {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    TURNS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(1, usize::from))
    })
}

/// Joins the fetched clips, trims the result to the job's length, validates it against the
/// job's platforms (on the bytes it made: no second read), stores it under the tenant and
/// ends the job: one step, one Lambda, one state. Its clips are deleted once the job has
/// ended; a re-run that finds the job succeeded answers what is stored.
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
    if job.status == JobStatus::Succeeded {
        return already_stored(d, &r, &input.clips).await;
    }
    if job.status.is_terminal() {
        return Err(super::deliver::ended(&job));
    }
    // Decoding and encoding 1080×1920 holds a few hundred MB and a core: a process joins as
    // many videos at once as it has cores, and the others wait their turn before reading
    // their clips.
    let _turn = media_turn()
        .acquire()
        .await
        .map_err(|e| StepError::new("Video.JoinFailed", e.to_string()))?;
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
                return Err(StepError::new(
                    "Video.Missing",
                    format!("clip {} was never fetched", c.index),
                ));
            }
        }
    }
    let target = job.spec.duration_s;
    let seed = viral_media::seed_of(&job.id);
    // The storyboard renders one clip with its sound finished (voice over music): it keeps
    // it. Clips from elsewhere get the music bed.
    let own_sound = job.provider.as_deref() == Some("storyboard") && clips.len() == 1;
    // Provider clips come without our captions or voice: a free voice reads the script (the
    // captions follow its words), or without one the words come at reading pace; they are
    // burned in (encoding once) and stored as files beside the video like the storyboard's.
    let mut sb = (!own_sound)
        .then(|| viral_providers::storyboard::storyboard_from_prompt(&job.spec.prompt, seed));
    let speech = match (&d.narrator, sb.as_mut()) {
        (Some(voice), Some(sb)) => match viral_providers::storyboard::fitted_script(sb, target) {
            Some(script) => {
                viral_providers::storyboard::speak(
                    voice.as_ref(),
                    &script,
                    job.spec.narration.as_ref(),
                )
                .await
            }
            None => None,
        },
        _ => None,
    };
    let burn_captions = d.provider_captions == crate::ProviderCaptions::Burn;
    let job_id = job.id.clone();
    // The blocking task runs in the request's span, so a panic there is logged with the job.
    let span = tracing::Span::current();
    let joining = tokio::task::spawn_blocking(move || {
        let _in = span.enter();
        let parts: Vec<&[u8]> = clips.iter().map(Vec::as_slice).collect();
        let Some(sb) = sb else {
            // The storyboard's own sound (voice over music) and captions are in its clip.
            let audio = match viral_media::audio::track_of(parts[0]) {
                Some(track) => track,
                None => viral_media::audio::soundtrack(seed, target)?,
            };
            return viral_media::join(&parts, target, audio).map(|j| (j, None));
        };
        // Clips with a sound of their own (Veo's) keep it in place of the music bed.
        let own = viral_media::audio::clips_sound(&parts, target);
        let spoken = speech.as_ref().and_then(|s| {
            viral_media::spoken_captions(&sb, target, s, own.as_ref().map(|o| o.audio.clone()))
                .inspect_err(|e| tracing::warn!(job = %job_id, error = %e, "the narration could not be laid under the clips; captions at reading pace"))
                .ok()
        });
        let (cues, title_end, audio) = match spoken {
            Some(s) => s,
            None => {
                let (cues, title_end) = viral_media::reading_captions(&sb, target);
                let audio = match own {
                    Some(sound) => viral_media::audio::kept_or_mastered(&parts, sound, target)?,
                    None => viral_media::audio::soundtrack(seed, target)?,
                };
                (cues, title_end, audio)
            }
        };
        if !burn_captions {
            return viral_media::join(&parts, target, audio).map(|j| (j, Some(cues)));
        }
        let burn = viral_media::Burn {
            cues: &cues,
            title: Some((sb.hook.as_str(), title_end)),
        };
        let joined = match viral_media::join_captioned(&parts, target, audio.clone(), Some(burn)) {
            Ok(j) => j,
            // A stream our decoder cannot read is still a video: it is joined as it came
            // (copied when the clips match), with the captions as files only.
            Err(e) => {
                tracing::warn!(job = %job_id, error = %e, "captions could not be burned in; the clips are joined without them");
                viral_media::join(&parts, target, audio)?
            }
        };
        Ok((joined, Some(cues)))
    });
    let (joined, cues, probe) = async {
        let (joined, cues) = joining
            .await
            .map_err(|e| StepError::new("Video.JoinFailed", e.to_string()))?
            .map_err(|e| StepError::new("Video.Unsupported", e.to_string()))?;
        let span = tracing::Span::current();
        let probing = tokio::task::spawn_blocking(move || {
            let _in = span.enter();
            let probe = viral_media::probe(&joined.bytes);
            (joined, probe)
        });
        let (joined, probe) = probing
            .await
            .map_err(|e| StepError::new("Video.JoinFailed", e.to_string()))?;
        Ok::<_, StepError>((joined, cues, probe))
    }
    .await?;
    drop(_turn);
    let validation = super::deliver::validate(d, &job, probe).await?;
    let size_bytes = joined.bytes.len();
    let mode = json!(joined.mode).as_str().unwrap_or("copied").to_owned();
    let (key, changed) =
        super::deliver::store(d, &r, joined.bytes, cues.as_deref(), validation).await?;
    delete_clips(d, &r, &input.clips).await;
    Ok(Joined {
        video_key: key.to_string(),
        mode,
        size_bytes,
        changed,
    })
}

/// What a run of the join answers when a run before it stored the video and ended the job
/// (its answer lost, a Lambda retry): the clips that run left go too.
async fn already_stored(d: &Deps, r: &JobRef, clips: &[Clip]) -> Result<Joined, StepError> {
    let key = video_key(r)?;
    let size = d
        .blobs
        .head(&key)
        .await
        .map_err(|e| StepError::new("Blob.Unavailable", e.to_string()))?
        .map_or(0, |m| m.size as usize);
    delete_clips(d, r, clips).await;
    Ok(Joined {
        video_key: key.to_string(),
        mode: "already".into(),
        size_bytes: size,
        changed: false,
    })
}

/// Deletes the job's fetched clips once it has ended. Best effort: a clip left behind is
/// only storage, and the staging prefix's lifecycle rule expires it.
async fn delete_clips(d: &Deps, r: &JobRef, clips: &[Clip]) {
    for c in clips {
        let deleted = match clip_key(r, c.index) {
            Ok(key) => d.blobs.delete(&key).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(error) = deleted {
            tracing::warn!(job = %r.job_id, clip = c.index, %error, "a joined clip was not deleted");
        }
    }
}
