//! The real workflow definition on the local engine, end to end: a storyboard render that
//! succeeds, and a provider that always fails and gets refunded.

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use support::Env;
use viral_core::SystemClock;
use viral_core::domain::job::ledger_sk;
use viral_core::domain::{JobSpec, JobStatus, Plan, keys};
use viral_core::ports::{
    BlobKey, BlobStore, ProviderError, RenderRequest, RenderStatus, Submitted, VideoProvider,
};
use viral_core::service::{submits, tenants, usage, videos};
use viral_embedded::{FsBlobStore, UrlSigner};
use viral_providers::StoryboardProvider;
use viral_steps::steps::JobRef;

/// A provider whose every submit fails with the same error: `broken` (a bad key) or
/// `prude` (its content policy refuses every prompt).
struct Fails(&'static str, ProviderError);

fn broken() -> Fails {
    Fails("broken", ProviderError::Permanent("invalid API key".into()))
}

/// A job whose input no provider can render (accept's checks should have refused it).
fn unrenderable() -> Fails {
    Fails(
        "unrenderable",
        ProviderError::InvalidInput("the hook must be 1 to 300 characters".into()),
    )
}

fn prude() -> Fails {
    Fails(
        "prude",
        ProviderError::ContentRejected("SAFETY.INPUT.TEXT".into()),
    )
}

#[async_trait]
impl VideoProvider for Fails {
    fn name(&self) -> &'static str {
        self.0
    }
    fn model(&self) -> &'static str {
        "none"
    }
    fn price_cents_per_second(&self) -> f64 {
        10.0
    }
    async fn submit(&self, _: &RenderRequest) -> Result<Submitted, ProviderError> {
        Err(self.1.clone())
    }
    async fn poll(&self, _: &str) -> Result<RenderStatus, ProviderError> {
        unreachable!()
    }
    async fn fetch(&self, _: &str) -> Result<Vec<u8>, ProviderError> {
        unreachable!()
    }
}

/// The storyboard renderer posing as a generative provider that renders only 4, 6 or 8 s
/// clips, as Veo does: a 15 s job takes two clips, joined and trimmed.
struct ShortClips(StoryboardProvider);

#[async_trait]
impl VideoProvider for ShortClips {
    fn name(&self) -> &'static str {
        "shortclips"
    }
    fn model(&self) -> &'static str {
        "cards-8s"
    }
    fn price_cents_per_second(&self) -> f64 {
        1.0
    }
    fn clip_durations(&self) -> &'static [u32] {
        &[4, 6, 8]
    }
    fn max_clip_s(&self) -> u32 {
        8
    }
    fn quality(&self) -> u8 {
        4
    }
    async fn submit(&self, req: &RenderRequest) -> Result<Submitted, ProviderError> {
        assert!(
            [4.0, 6.0, 8.0].contains(&req.duration_s),
            "{}",
            req.duration_s
        );
        self.0.submit(req).await
    }
    async fn poll(&self, task: &str) -> Result<RenderStatus, ProviderError> {
        self.0.poll(task).await
    }
    async fn fetch(&self, task: &str) -> Result<Vec<u8>, ProviderError> {
        self.0.fetch(task).await
    }
}

/// The pipeline with `extra` providers before the storyboard renderer. Workflow time runs
/// 10× faster; renders do not, so heartbeats (600 s → 60 s) stay generous.
fn env(extra: Vec<Arc<dyn VideoProvider>>) -> Env {
    support::env(
        |blobs| {
            let mut providers = extra;
            providers.push(Arc::new(StoryboardProvider::new(blobs)));
            providers
        },
        0.1,
    )
}

async fn run_job(e: &Env, provider: &str) -> (String, String) {
    let t = tenants::create_tenant(&*e.deps.store, &*e.deps.clock, "Acme", Plan::Starter)
        .await
        .unwrap();
    let spec = JobSpec {
        prompt: "Cold brew secrets! Steep it 18 hours. Filter twice.".into(),
        concept_id: None,
        provider: provider.into(),
        platforms: vec![
            "tiktok".into(),
            "youtube_shorts".into(),
            "instagram_reels".into(),
        ],
        duration_s: 15.0,
        narration: None,
    };
    let accepted = videos::accept(
        &*e.deps.store,
        &*e.deps.clock,
        &t.tenant,
        spec,
        Some("k1"),
        &e.deps.providers.profiles(),
    )
    .await
    .unwrap();
    let r = JobRef {
        tenant_id: t.tenant.id.clone(),
        job_id: accepted.job.id.clone(),
    };
    assert!(e.pipeline.start(&r).await.unwrap());
    assert!(
        !e.pipeline.start(&r).await.unwrap(),
        "a second start is a no-op"
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let job = videos::get(&*e.deps.store, &r.tenant_id, &r.job_id)
            .await
            .unwrap();
        let exec = e
            .pipeline
            .describe(&r.tenant_id, &r.job_id)
            .await
            .unwrap()
            .unwrap();
        if job.status.is_terminal() && exec["status"] != "RUNNING" {
            return (r.tenant_id, r.job_id);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job did not end: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ledger_state(e: &Env, tenant: &str, job: &str) -> String {
    let item = e
        .deps
        .store
        .get(&keys::tenant_pk(tenant), &ledger_sk(job))
        .await
        .unwrap()
        .unwrap();
    item.str("state").unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storyboard_job_succeeds_with_a_valid_video() {
    let e = env(vec![]);
    let (tenant, job_id) = run_job(&e, "auto").await;
    let job = videos::get(&*e.deps.store, &tenant, &job_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    assert_eq!(job.provider.as_deref(), Some("storyboard"));
    let key = BlobKey::parse(job.video_key.as_deref().unwrap()).unwrap();
    assert_eq!(
        key.as_str(),
        format!("tenants/{tenant}/videos/{job_id}.mp4")
    );
    let (bytes, _) = e.deps.blobs.get(&key).await.unwrap().unwrap();
    let p = viral_media::probe(&bytes).unwrap();
    assert_eq!(
        (p.width, p.height, p.video_codec.as_str()),
        (1080, 1920, "h264")
    );
    assert!((p.duration_s - 15.0).abs() <= 0.5);
    // The captions burned into the video are stored beside it, and nothing is left staged.
    let vtt = job.captions_key.as_deref().expect("captions stored");
    assert_eq!(vtt, format!("tenants/{tenant}/captions/{job_id}.vtt"));
    for (key, head) in [
        (vtt.to_owned(), "WEBVTT\n\n00:00:00"),
        (vtt.replace(".vtt", ".srt"), "1\n00:00:00"),
    ] {
        let (text, _) = e
            .deps
            .blobs
            .get(&BlobKey::parse(&key).unwrap())
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8(text).unwrap();
        assert!(text.starts_with(head), "{key}: {text}");
    }
    for staged in ["vtt", "srt"] {
        let k = BlobKey::parse(&format!("staging/tenants/{tenant}/{job_id}.{staged}")).unwrap();
        assert!(e.deps.blobs.head(&k).await.unwrap().is_none());
    }
    let report = job.validation.unwrap();
    assert!(
        report["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["pass"] == Value::Bool(true))
    );
    assert_eq!(ledger_state(&e, &tenant, &job_id).await, "CONSUMED");
    let t = tenants::get_tenant(&*e.deps.store, &tenant)
        .await
        .unwrap()
        .unwrap();
    let u = usage::current_usage(&*e.deps.store, &*e.deps.clock, &t)
        .await
        .unwrap();
    assert_eq!(u.videos.used, 1);
    let exec = e
        .pipeline
        .describe(&tenant, &job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(exec["status"], "SUCCEEDED");
    let kinds: Vec<&str> = exec["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.first(), Some(&"ExecutionStarted"));
    assert_eq!(kinds.last(), Some(&"ExecutionSucceeded"));
    assert!(kinds.contains(&"TaskSucceeded"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_provider_falls_back_and_is_refunded_once() {
    let e = env(vec![Arc::new(broken())]);
    // Asking for the broken provider by name: no fallback to another one, refund.
    let (tenant, job_id) = run_job(&e, "broken").await;
    let job = videos::get(&*e.deps.store, &tenant, &job_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert!(
        job.failure
            .as_deref()
            .unwrap()
            .contains("Provider.Permanent"),
        "{job:?}"
    );
    assert_eq!(job.attempts, 2, "one fallback attempt");
    assert_eq!(ledger_state(&e, &tenant, &job_id).await, "REFUNDED");
    let t = tenants::get_tenant(&*e.deps.store, &tenant)
        .await
        .unwrap()
        .unwrap();
    let u = usage::current_usage(&*e.deps.store, &*e.deps.clock, &t)
        .await
        .unwrap();
    assert_eq!(u.videos.used, 0, "the reservation was refunded");
    // Refunding again changes nothing.
    let again = viral_steps::steps::refund_job(
        &e.deps,
        viral_steps::steps::RefundInput {
            tenant_id: tenant.clone(),
            job_id: job_id.clone(),
            error: Value::Null,
        },
    )
    .await
    .unwrap();
    assert_eq!(again["refunded"], false);
    let u = usage::current_usage(&*e.deps.store, &*e.deps.clock, &t)
        .await
        .unwrap();
    assert_eq!(u.videos.used, 0);

    // With `auto`, the broken provider's failure falls back to the storyboard.
    let (tenant, job_id) = run_job(&e, "auto").await;
    let job = videos::get(&*e.deps.store, &tenant, &job_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    assert_eq!(job.provider.as_deref(), Some("storyboard"));
    assert_eq!(job.attempts, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_15_second_video_is_joined_from_two_8_second_clips() {
    let dir = tempfile::tempdir().unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(
        &dir.path().join("clips"),
        UrlSigner::new(b"k", "http://127.0.0.1:3000", Arc::new(SystemClock)),
    ));
    let e = env(vec![Arc::new(ShortClips(StoryboardProvider::new(blobs)))]);
    let (tenant, job_id) = run_job(&e, "auto").await;
    let job = videos::get(&*e.deps.store, &tenant, &job_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    assert_eq!(
        job.provider.as_deref(),
        Some("shortclips"),
        "routing prefers generative video"
    );
    let route = job.route.clone().unwrap();
    assert_eq!(route["clips"], serde_json::json!([8.0, 8.0]), "{route}");
    assert_eq!(route["estimated_cost_cents"], 16);
    let key = BlobKey::parse(job.video_key.as_deref().unwrap()).unwrap();
    let (bytes, _) = e.deps.blobs.get(&key).await.unwrap().unwrap();
    let p = viral_media::probe(&bytes).unwrap();
    assert!((p.duration_s - 15.0).abs() <= 0.1, "{}", p.duration_s);
    assert_eq!(p.frames, 450);
    // Both clips fed the provider's health; the clips are gone from staging.
    let health = viral_core::service::provider_health::get_all(&*e.deps.store, &["shortclips"])
        .await
        .unwrap();
    assert_eq!(health["shortclips"].successes, 2);
    let clip = BlobKey::parse(&format!("staging/tenants/{tenant}/{job_id}/clip-0.mp4")).unwrap();
    assert!(e.deps.blobs.head(&clip).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_content_rejection_is_not_tried_elsewhere() {
    // `auto` would fall back to the storyboard; a refused prompt ends the job instead.
    let e = env(vec![Arc::new(prude())]);
    let (tenant, job_id) = run_job(&e, "auto").await;
    let job = videos::get(&*e.deps.store, &tenant, &job_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts, 1, "no fallback after a content rejection");
    assert!(
        job.failure.as_deref().unwrap().contains("ContentRejected"),
        "{job:?}"
    );
    assert_eq!(ledger_state(&e, &tenant, &job_id).await, "REFUNDED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_no_provider_can_render_is_not_tried_again() {
    // `auto` would fall back to the storyboard; the same input would fail there too.
    let e = env(vec![Arc::new(unrenderable())]);
    let (tenant, job_id) = run_job(&e, "auto").await;
    let job = videos::get(&*e.deps.store, &tenant, &job_id).await.unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(
        job.attempts, 1,
        "no second attempt for a permanent input error"
    );
    assert!(
        job.failure.as_deref().unwrap().contains("InvalidInput"),
        "{job:?}"
    );
    assert_eq!(ledger_state(&e, &tenant, &job_id).await, "REFUNDED");
}

struct Hangs;

#[async_trait]
impl VideoProvider for Hangs {
    fn name(&self) -> &'static str {
        "hangs"
    }
    fn model(&self) -> &'static str {
        "none"
    }
    fn price_cents_per_second(&self) -> f64 {
        1.0
    }
    async fn submit(&self, _: &RenderRequest) -> Result<Submitted, ProviderError> {
        std::future::pending().await
    }
    async fn poll(&self, _: &str) -> Result<RenderStatus, ProviderError> {
        std::future::pending().await
    }
    async fn fetch(&self, _: &str) -> Result<Vec<u8>, ProviderError> {
        std::future::pending().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_ends_stuck_executions_and_refunds_once() {
    let e = env(vec![Arc::new(Hangs)]);
    let t = tenants::create_tenant(&*e.deps.store, &*e.deps.clock, "Acme", Plan::Starter)
        .await
        .unwrap();
    let spec = JobSpec {
        prompt: "Stuck forever.".into(),
        concept_id: None,
        provider: "hangs".into(),
        platforms: vec!["tiktok".into()],
        duration_s: 15.0,
        narration: None,
    };
    let job = videos::accept(
        &*e.deps.store,
        &*e.deps.clock,
        &t.tenant,
        spec,
        None,
        &e.deps.providers.profiles(),
    )
    .await
    .unwrap()
    .job;
    let r = JobRef {
        tenant_id: t.tenant.id.clone(),
        job_id: job.id.clone(),
    };
    e.pipeline.start(&r).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The history is readable while the execution runs.
    let live = e
        .pipeline
        .describe(&r.tenant_id, &r.job_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live["status"], "RUNNING");
    let kinds: Vec<&str> = live["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["type"].as_str())
        .collect();
    assert_eq!(kinds.first(), Some(&"ExecutionStarted"));
    assert!(kinds.contains(&"TaskScheduled"), "{kinds:?}");
    // Not yet past the deadline: nothing happens.
    assert_eq!(
        e.pipeline
            .reconcile(Duration::from_secs(3600))
            .await
            .unwrap(),
        0
    );
    assert_eq!(e.pipeline.reconcile(Duration::ZERO).await.unwrap(), 1);
    let job = videos::get(&*e.deps.store, &r.tenant_id, &r.job_id)
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert!(job.failure.unwrap().contains("Job.Stuck"));
    assert_eq!(ledger_state(&e, &r.tenant_id, &r.job_id).await, "REFUNDED");
    assert_eq!(
        e.pipeline.reconcile(Duration::ZERO).await.unwrap(),
        0,
        "ended once"
    );
    let u = usage::current_usage(&*e.deps.store, &*e.deps.clock, &t.tenant)
        .await
        .unwrap();
    assert_eq!(u.videos.used, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_step_can_run_again_after_its_side_effect() {
    // A step that crashes after its side effect is delivered again; running each step twice
    // must leave the same job, the same stored video and the same charge.
    use viral_steps::steps::{self, FetchInput, JoinInput, PlanInput, RefundInput};
    let e = env(vec![]);
    let d = &e.deps;
    let (t, job) = starter_job(d, "Twice is once. Really.").await;
    let r = JobRef {
        tenant_id: t.tenant.id.clone(),
        job_id: job.id.clone(),
    };
    let first_attempt = PlanInput {
        tenant_id: r.tenant_id.clone(),
        job_id: r.job_id.clone(),
        attempt: 1,
    };
    let plan = steps::plan_job(d, first_attempt.clone()).await.unwrap();
    let again = steps::plan_job(d, first_attempt).await.unwrap();
    assert_eq!(
        (plan.attempt, again.attempt, &plan.provider),
        (1, 1, &again.provider),
        "planning an attempt twice counts it once"
    );
    let job = videos::get(&*d.store, &r.tenant_id, &r.job_id)
        .await
        .unwrap();
    assert_eq!(job.attempts, 1);
    let beyond = PlanInput {
        tenant_id: r.tenant_id.clone(),
        job_id: r.job_id.clone(),
        attempt: steps::MAX_ATTEMPTS + 1,
    };
    assert_eq!(
        steps::plan_job(d, beyond).await.unwrap_err().name,
        "Step.BadInput"
    );
    assert_eq!(
        plan.clips.len(),
        1,
        "the storyboard renders any length in one clip"
    );
    let msg = steps::SubmitMessage {
        token: "t".into(),
        tenant_id: r.tenant_id.clone(),
        job_id: r.job_id.clone(),
        provider: plan.provider.clone(),
        attempt: plan.attempt,
        clip: plan.clips[0].clone(),
        render: None,
    };
    let submit = || async {
        match steps::submit_clip(d, &msg, &steps::SubmitLimits::default()).await {
            steps::Submit::Answered(a) => a.unwrap(),
            steps::Submit::Busy => panic!("nobody else submits this clip"),
        }
    };
    let submitted = submit().await;
    assert_eq!(
        submit().await,
        submitted,
        "a clip submitted again is answered from its record"
    );
    let fetch = FetchInput {
        tenant_id: r.tenant_id.clone(),
        job_id: r.job_id.clone(),
        provider: plan.provider.clone(),
        task_id: submitted.task_id.clone(),
        clip: plan.clips[0].clone(),
        submitted_at: submitted.submitted_at,
    };
    for _ in 0..2 {
        steps::fetch_video(d, fetch.clone()).await.unwrap();
    }
    let join = JoinInput {
        tenant_id: r.tenant_id.clone(),
        job_id: r.job_id.clone(),
        clips: plan.clips.clone(),
    };
    let first = steps::join_video(d, join.clone()).await.unwrap();
    let second = steps::join_video(d, join).await.unwrap();
    assert_eq!(
        (first.mode.as_str(), second.mode.as_str()),
        ("copied", "already")
    );
    assert_eq!(first.video_key, second.video_key);
    assert_eq!(first.size_bytes, second.size_bytes);
    assert_eq!(
        (first.changed, second.changed),
        (true, false),
        "the job ends once"
    );
    // A late refund (a Catch after a lost JoinVideo answer) changes nothing either.
    let late = steps::refund_job(
        d,
        RefundInput {
            tenant_id: r.tenant_id.clone(),
            job_id: r.job_id.clone(),
            error: Value::Null,
        },
    )
    .await
    .unwrap();
    assert_eq!(late["refunded"], false);
    let job = videos::get(&*d.store, &r.tenant_id, &r.job_id)
        .await
        .unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(ledger_state(&e, &r.tenant_id, &r.job_id).await, "CONSUMED");
    let u = usage::current_usage(&*d.store, &*d.clock, &t.tenant)
        .await
        .unwrap();
    assert_eq!(u.videos.used, 1);
    let key = BlobKey::parse(&first.video_key).unwrap();
    assert!(d.blobs.head(&key).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clip_of_an_attempt_the_job_moved_past_is_never_submitted() {
    // A message queued by a process that died can outlive its attempt: once the job is on
    // the next attempt, that clip must not cost anything.
    use viral_steps::steps::{self, PlanInput};
    let e = env(vec![]);
    let d = &e.deps;
    let (t, job) = starter_job(d, "Old news. Stays old.").await;
    let attempt = |n| PlanInput {
        tenant_id: t.tenant.id.clone(),
        job_id: job.id.clone(),
        attempt: n,
    };
    let first = steps::plan_job(d, attempt(1)).await.unwrap();
    steps::plan_job(d, attempt(2)).await.unwrap();
    let stale = steps::SubmitMessage {
        token: "t".into(),
        tenant_id: t.tenant.id.clone(),
        job_id: job.id.clone(),
        provider: first.provider.clone(),
        attempt: 1,
        clip: first.clips[0].clone(),
        render: None,
    };
    match steps::submit_clip(d, &stale, &steps::SubmitLimits::default()).await {
        steps::Submit::Answered(Err(e)) => assert_eq!(e.name, "Job.Superseded", "{e:?}"),
        other => panic!("a superseded clip was handled: {other:?}"),
    }
    let intents = submits::of_job(&*d.store, &t.tenant.id, &job.id)
        .await
        .unwrap();
    assert!(intents.is_empty(), "no intent, no charge: {intents:?}");
    let job = videos::get(&*d.store, &t.tenant.id, &job.id).await.unwrap();
    assert_eq!(job.spent_cents, 0);
}

/// A starter tenant and one accepted 15 s storyboard job of `prompt`.
async fn starter_job(
    d: &viral_steps::Deps,
    prompt: &str,
) -> (tenants::NewTenant, viral_core::domain::Job) {
    let t = tenants::create_tenant(&*d.store, &*d.clock, "Acme", Plan::Starter)
        .await
        .unwrap();
    let spec = JobSpec {
        prompt: prompt.into(),
        concept_id: None,
        provider: "storyboard".into(),
        platforms: vec!["tiktok".into()],
        duration_s: 15.0,
        narration: None,
    };
    let job = videos::accept(
        &*d.store,
        &*d.clock,
        &t.tenant,
        spec,
        None,
        &d.providers.profiles(),
    )
    .await
    .unwrap()
    .job;
    (t, job)
}

/// A paid voice (30 cents per 1,000 characters) that counts its calls and times each word
/// 0.3 s apart.
#[derive(Default)]
struct PaidVoice {
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl viral_providers::voice::Voice for PaidVoice {
    fn name(&self) -> &'static str {
        "paid"
    }
    fn price_cents_per_1k_chars(&self) -> f64 {
        30.0
    }
    async fn speak(
        &self,
        req: &viral_providers::voice::SpeechRequest,
    ) -> Result<viral_media::Speech, ProviderError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let words: Vec<viral_media::Word> = req
            .text
            .split_whitespace()
            .enumerate()
            .map(|(i, w)| viral_media::Word {
                text: w.into(),
                start_s: i as f64 * 0.3,
                end_s: i as f64 * 0.3 + 0.25,
            })
            .collect();
        Ok(viral_media::Speech {
            sample_rate: 16_000,
            samples: vec![0.1; 16_000 * (words.len() / 3 + 1)],
            words,
        })
    }
}

/// Blobs whose first put of an MP4 fails (the render is lost after the voice answered).
struct LosesFirstVideo {
    inner: Arc<dyn BlobStore>,
    lost: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl BlobStore for LosesFirstVideo {
    async fn put(
        &self,
        key: &BlobKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), viral_core::ports::BlobError> {
        if key.as_str().ends_with(".mp4")
            && !self.lost.swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(viral_core::ports::BlobError::Backend(
                "connection reset".into(),
            ));
        }
        self.inner.put(key, bytes, content_type).await
    }
    async fn get(
        &self,
        key: &BlobKey,
    ) -> Result<Option<(Vec<u8>, viral_core::ports::BlobMeta)>, viral_core::ports::BlobError> {
        self.inner.get(key).await
    }
    async fn head(
        &self,
        key: &BlobKey,
    ) -> Result<Option<viral_core::ports::BlobMeta>, viral_core::ports::BlobError> {
        self.inner.head(key).await
    }
    async fn delete(&self, key: &BlobKey) -> Result<(), viral_core::ports::BlobError> {
        self.inner.delete(key).await
    }
    async fn signed_url(
        &self,
        key: &BlobKey,
        ttl: Duration,
    ) -> Result<String, viral_core::ports::BlobError> {
        self.inner.signed_url(key, ttl).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_render_lost_after_its_paid_voice_answered_stays_charged_and_is_not_charged_again() {
    // The storyboard's paid voice answers, then storing the render fails: the provider did
    // not take the task (a retry may render it again), but the voice was paid, so the
    // clip's estimate stays charged. The retry reuses the voice's answer and is charged
    // nothing more.
    use viral_steps::steps::{self, PlanInput};
    let voice = Arc::new(PaidVoice::default());
    let v = voice.clone();
    let e = support::env(
        move |blobs| {
            let lossy: Arc<dyn BlobStore> = Arc::new(LosesFirstVideo {
                inner: blobs,
                lost: Default::default(),
            });
            vec![Arc::new(StoryboardProvider::new(lossy).with_voice(v)) as Arc<dyn VideoProvider>]
        },
        0.1,
    );
    let d = &e.deps;
    let (t, job) = starter_job(d, "Night trains are back. Sleep in Paris, wake in Rome.").await;
    let plan = steps::plan_job(
        d,
        PlanInput {
            tenant_id: t.tenant.id.clone(),
            job_id: job.id.clone(),
            attempt: 1,
        },
    )
    .await
    .unwrap();
    let clip = plan.clips[0].clone();
    // 30 cents per 1,000 characters at most 18 characters a second: 0.54 cents a second.
    let estimate = (0.54 * clip.duration_s).ceil() as u32;
    assert!(estimate > 0);
    let msg = steps::SubmitMessage {
        token: "t".into(),
        tenant_id: t.tenant.id.clone(),
        job_id: job.id.clone(),
        provider: plan.provider.clone(),
        attempt: 1,
        clip,
        render: None,
    };
    let spent = || async {
        videos::get(&*d.store, &t.tenant.id, &job.id)
            .await
            .unwrap()
            .spent_cents
    };
    let limits = steps::SubmitLimits::default();
    match steps::submit_clip(d, &msg, &limits).await {
        steps::Submit::Answered(Err(e)) => assert_eq!(e.name, "Provider.Transient", "{e:?}"),
        other => panic!("the lost render was answered: {other:?}"),
    }
    assert_eq!(voice.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(spent().await, estimate, "the paid voice stays charged");
    match steps::submit_clip(d, &msg, &limits).await {
        steps::Submit::Answered(Ok(_)) => {}
        other => panic!("the retry did not render: {other:?}"),
    }
    assert_eq!(
        voice.calls.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the retry reused the voice's answer"
    );
    assert_eq!(spent().await, estimate, "charged once for one paid call");
    let intents = submits::of_job(&*d.store, &t.tenant.id, &job.id)
        .await
        .unwrap();
    assert_eq!(intents.len(), 1, "{intents:?}");
    assert_eq!(intents[0].2, "submitted");
}

#[tokio::test]
async fn a_kept_charge_discounts_only_retries_at_the_provider_that_spent_it() {
    use submits::{Claim, ClipRef};
    let e = env(vec![]);
    let d = &e.deps;
    let (t, job) = starter_job(d, "Paid once. Counted once.").await;
    let clip = ClipRef {
        tenant_id: t.tenant.id.clone(),
        job_id: job.id.clone(),
        attempt: 1,
        clip: 0,
    };
    let lease = Duration::from_secs(30);
    let spent = || async {
        videos::get(&*d.store, &t.tenant.id, &job.id)
            .await
            .unwrap()
            .spent_cents
    };
    let claim = |provider: &'static str, cost: u32, id: &'static str| {
        let clip = clip.clone();
        async move {
            submits::claim(&*d.store, &*d.clock, &clip, provider, cost, id, lease)
                .await
                .unwrap()
        }
    };
    assert_eq!(claim("storyboard", 9, "c1").await, Claim::Go);
    submits::rejected(&*d.store, &clip, "c1", true)
        .await
        .unwrap();
    assert_eq!(spent().await, 9, "spent, and kept");
    // The estimate went up: the retry is charged the difference only, and a retry that
    // spends nothing gives back only that.
    assert_eq!(claim("storyboard", 12, "c2").await, Claim::Go);
    assert_eq!(spent().await, 12);
    submits::rejected(&*d.store, &clip, "c2", false)
        .await
        .unwrap();
    assert_eq!(spent().await, 9);
    // Another provider's claim owes the whole estimate, and gives it all back.
    assert_eq!(claim("veo", 5, "c3").await, Claim::Go);
    assert_eq!(spent().await, 14);
    submits::rejected(&*d.store, &clip, "c3", false)
        .await
        .unwrap();
    assert_eq!(spent().await, 9);
    // Back at the storyboard after the other provider: still discounted.
    assert_eq!(claim("storyboard", 9, "c4").await, Claim::Go);
    assert_eq!(spent().await, 9);
    submits::rejected(&*d.store, &clip, "c4", true)
        .await
        .unwrap();
    assert_eq!(
        spent().await,
        9,
        "a retry that spent nothing more adds nothing"
    );
    // Over the budget: the refusal names what the claim would have charged.
    let budget = job.budget_cents;
    match claim("storyboard", budget + 9, "c5").await {
        Claim::OverBudget { cost, spent, .. } => {
            assert_eq!((cost, spent), (budget, 9));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(spent().await, 9);
}
