//! The provider worker follows a submitted clip on the render-poll queue: the message comes
//! back while the render runs or after a passing failure, the clip is fetched and the task
//! answered once it is done, and the clip is never submitted twice.

mod support;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use viral_core::domain::{JobSpec, Plan};
use viral_core::ports::{
    BlobKey, BlobStore, ProviderError, Queue, RenderRequest, RenderStatus, Submitted,
    TaskCallbacks, VideoProvider, WorkflowError,
};
use viral_core::service::{tenants, videos};
use viral_core::{Clock, SystemClock};
use viral_embedded::{Db, FsBlobStore, LocalQueue, SqliteItemStore, UrlSigner};
use viral_providers::Registry;
use viral_steps::Deps;
use viral_steps::steps::{self, PlanInput, SubmitLimits, SubmitMessage};
use viral_steps::worker::{FOLLOW_RETRIES, Handled, handle_message};

/// What the provider's polls answer, in order (the last one repeats).
type Script = Vec<Result<RenderStatus, ProviderError>>;

/// A provider whose renders take a while: it answers its polls from a script.
struct Slow {
    polls: Mutex<Script>,
    submits: AtomicU32,
    fetches: AtomicU32,
}

impl Slow {
    fn new(polls: Script) -> Self {
        Self {
            polls: Mutex::new(polls),
            submits: AtomicU32::new(0),
            fetches: AtomicU32::new(0),
        }
    }
}

#[async_trait]
impl VideoProvider for Slow {
    fn name(&self) -> &'static str {
        "slow"
    }
    fn model(&self) -> &'static str {
        "slow-1"
    }
    fn price_cents_per_second(&self) -> f64 {
        1.0
    }
    async fn submit(&self, _: &RenderRequest) -> Result<Submitted, ProviderError> {
        self.submits.fetch_add(1, Ordering::SeqCst);
        Ok(Submitted {
            task_id: "slow-task-1".into(),
            eta_s: 60,
        })
    }
    async fn poll(&self, _: &str) -> Result<RenderStatus, ProviderError> {
        let mut polls = self.polls.lock().unwrap();
        if polls.len() > 1 {
            polls.remove(0)
        } else {
            polls[0].clone()
        }
    }
    async fn fetch(&self, _: &str) -> Result<Vec<u8>, ProviderError> {
        self.fetches.fetch_add(1, Ordering::SeqCst);
        Ok(support::clip(1.0, 144, 256, "slow"))
    }
}

/// What the worker answered; `closed` makes every token read as closed.
#[derive(Default)]
struct Answers {
    answers: Mutex<Vec<Result<Value, String>>>,
    closed: std::sync::atomic::AtomicBool,
}

#[async_trait]
impl TaskCallbacks for Answers {
    async fn task_heartbeat(&self, _: &str) -> Result<bool, WorkflowError> {
        Ok(!self.closed.load(Ordering::SeqCst))
    }
    async fn task_succeeded(&self, _: &str, output: Value) -> Result<bool, WorkflowError> {
        self.answers.lock().unwrap().push(Ok(output));
        Ok(true)
    }
    async fn task_failed(&self, _: &str, error: &str, _: &str) -> Result<bool, WorkflowError> {
        self.answers.lock().unwrap().push(Err(error.to_owned()));
        Ok(true)
    }
}

struct World {
    deps: Deps,
    slow: Arc<Slow>,
    /// The render-poll queue.
    queue: Arc<dyn Queue>,
    answers: Answers,
    /// The first message, as the RenderClip state queues it.
    first: String,
    _dir: tempfile::TempDir,
}

async fn world(polls: Script) -> World {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = Db::open(&dir.path().join("viral.db")).unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(
        &dir.path().join("blobs"),
        UrlSigner::new(b"k", "http://127.0.0.1:3000", clock.clone()),
    ));
    let slow = Arc::new(Slow::new(polls));
    let deps = Deps {
        social: Default::default(),
        provider_captions: Default::default(),
        narrator: None,
        store: Arc::new(SqliteItemStore::new(db.clone())),
        providers: Registry::new(vec![slow.clone() as Arc<dyn VideoProvider>]),
        blobs,
        clock: clock.clone(),
    };
    let queue: Arc<dyn Queue> = Arc::new(LocalQueue::new(db, "render-polls", None, clock.clone()));
    let t = tenants::create_tenant(&*deps.store, &*clock, "Slow", Plan::Agency)
        .await
        .unwrap();
    let spec = JobSpec {
        prompt: "A slow render. It takes a while.".into(),
        concept_id: None,
        provider: "slow".into(),
        platforms: vec!["tiktok".into()],
        duration_s: 5.0,
        narration: None,
    };
    let job = videos::accept(
        &*deps.store,
        &*clock,
        &t.tenant,
        spec,
        None,
        &deps.providers.profiles(),
    )
    .await
    .unwrap()
    .job;
    let input = PlanInput {
        tenant_id: t.tenant.id.clone(),
        job_id: job.id.clone(),
        attempt: 1,
    };
    let plan = steps::plan_job(&deps, input).await.unwrap();
    let first = serde_json::to_string(&SubmitMessage {
        token: "token-1".into(),
        tenant_id: t.tenant.id.clone(),
        job_id: job.id.clone(),
        provider: "slow".into(),
        attempt: plan.attempt,
        clip: plan.clips[0].clone(),
        render: None,
    })
    .unwrap();
    World {
        deps,
        slow,
        queue,
        answers: Answers::default(),
        first,
        _dir: dir,
    }
}

impl World {
    /// Handles `body` as the worker does, with no waits between polls.
    async fn handle(&self, body: &str) -> Handled {
        let limits = SubmitLimits {
            wait_scale: 0.0,
            ..SubmitLimits::default()
        };
        handle_message(&self.deps, &self.answers, &*self.queue, body, &limits).await
    }

    /// The one message waiting on the provider's queue, taken off it.
    async fn next(&self) -> SubmitMessage {
        let got = self
            .queue
            .receive(10, Duration::from_secs(30), Duration::from_millis(100))
            .await
            .unwrap();
        assert_eq!(got.len(), 1, "one message back on the queue: {got:?}");
        self.queue.delete(&got[0].receipt).await.unwrap();
        serde_json::from_str(&got[0].body).unwrap()
    }

    fn answers(&self) -> Vec<Result<Value, String>> {
        self.answers.answers.lock().unwrap().clone()
    }
}

#[tokio::test]
async fn a_running_render_is_polled_on_the_queue_then_fetched_and_answered() {
    let w = world(vec![
        Ok(RenderStatus::Running { progress: 10 }),
        Err(ProviderError::Transient("502 from the provider".into())),
        Ok(RenderStatus::Done),
    ])
    .await;
    // The submit: the render takes a while, so the message goes back, now following it.
    assert_eq!(w.handle(&w.first).await, Handled::Done);
    assert!(w.answers().is_empty(), "nothing to answer yet");
    let submitted = w.next().await;
    let render = submitted
        .render
        .clone()
        .expect("the message follows the render");
    assert_eq!(
        (render.task_id.as_str(), render.failures),
        ("slow-task-1", 0)
    );
    // Running: back on the queue as it was.
    let body = serde_json::to_string(&submitted).unwrap();
    assert_eq!(w.handle(&body).await, Handled::Done);
    let running = w.next().await;
    assert_eq!(running.render, Some(render.clone()));
    // A passing failure: back on the queue, counted.
    assert_eq!(
        w.handle(&serde_json::to_string(&running).unwrap()).await,
        Handled::Done
    );
    let failed_once = w.next().await;
    assert_eq!(failed_once.render.as_ref().unwrap().failures, 1);
    // Done: fetched into the job's staging and answered with where it is.
    assert_eq!(
        w.handle(&serde_json::to_string(&failed_once).unwrap())
            .await,
        Handled::Done
    );
    let answers = w.answers();
    assert_eq!(answers.len(), 1, "{answers:?}");
    let out = answers[0].as_ref().unwrap();
    let key = BlobKey::parse(out["clip_key"].as_str().unwrap()).unwrap();
    assert!(w.deps.blobs.get(&key).await.unwrap().is_some(), "{out}");
    assert_eq!(w.queue.depth().await.unwrap(), 0, "nothing left to follow");
    assert_eq!(w.slow.submits.load(Ordering::SeqCst), 1, "submitted once");
    assert_eq!(w.slow.fetches.load(Ordering::SeqCst), 1);
    // The submit message delivered again (SQS is at least once) is answered from the
    // clip's record: followed again, never submitted again.
    assert_eq!(w.handle(&w.first).await, Handled::Done);
    assert_eq!(w.slow.submits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failed_render_fails_the_task_with_the_providers_reason() {
    let w = world(vec![Ok(RenderStatus::Failed {
        reason: "the model refused the frame".into(),
    })])
    .await;
    assert_eq!(w.handle(&w.first).await, Handled::Done);
    let submitted = w.next().await;
    assert_eq!(
        w.handle(&serde_json::to_string(&submitted).unwrap()).await,
        Handled::Done
    );
    assert_eq!(w.answers(), [Err("Provider.RenderFailed".to_owned())]);
    assert_eq!(w.queue.depth().await.unwrap(), 0);
    assert_eq!(w.slow.fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn passing_failures_in_a_row_end_the_task_after_the_retries() {
    let w = world(vec![Err(ProviderError::Transient("503".into()))]).await;
    assert_eq!(w.handle(&w.first).await, Handled::Done);
    let mut msg = w.next().await;
    for n in 1..=FOLLOW_RETRIES {
        assert_eq!(
            w.handle(&serde_json::to_string(&msg).unwrap()).await,
            Handled::Done
        );
        msg = w.next().await;
        assert_eq!(msg.render.as_ref().unwrap().failures, n);
        assert!(w.answers().is_empty());
    }
    assert_eq!(
        w.handle(&serde_json::to_string(&msg).unwrap()).await,
        Handled::Done
    );
    // Named for the follow, so the workflow retries it (followed again from the record) and
    // then refunds, never paying another provider while this render may still run.
    assert_eq!(w.answers(), [Err("Provider.FollowTransient".to_owned())]);
    assert_eq!(w.queue.depth().await.unwrap(), 0);
    assert_eq!(w.slow.submits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_provider_refusing_to_tell_of_a_submitted_render_fails_it_as_unfollowable() {
    let w = world(vec![Err(ProviderError::Permanent(
        "404 no such task".into(),
    ))])
    .await;
    assert_eq!(w.handle(&w.first).await, Handled::Done);
    let msg = w.next().await;
    assert_eq!(
        w.handle(&serde_json::to_string(&msg).unwrap()).await,
        Handled::Done
    );
    // Not `Provider.Permanent`, which the fallback would send to another provider.
    assert_eq!(w.answers(), [Err("Provider.FollowFailed".to_owned())]);
    assert_eq!(w.queue.depth().await.unwrap(), 0);
    assert_eq!(w.slow.submits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_render_still_running_past_its_deadline_fails_the_task() {
    let w = world(vec![Ok(RenderStatus::Running { progress: 90 })]).await;
    assert_eq!(w.handle(&w.first).await, Handled::Done);
    let mut msg = w.next().await;
    let render = msg.render.as_mut().unwrap();
    render.submitted_at -= i64::try_from(steps::RENDER_DEADLINE.as_millis()).unwrap() + 1_000;
    assert_eq!(
        w.handle(&serde_json::to_string(&msg).unwrap()).await,
        Handled::Done
    );
    assert_eq!(w.answers(), [Err("Provider.RenderTimeout".to_owned())]);
    assert_eq!(w.queue.depth().await.unwrap(), 0);
}

#[tokio::test]
async fn a_render_nobody_waits_for_is_not_fetched() {
    let w = world(vec![Ok(RenderStatus::Done)]).await;
    assert_eq!(w.handle(&w.first).await, Handled::Done);
    let msg = w.next().await;
    // The task timed out (or the attempt moved on) while the render ran.
    w.answers.closed.store(true, Ordering::SeqCst);
    assert_eq!(
        w.handle(&serde_json::to_string(&msg).unwrap()).await,
        Handled::Done
    );
    assert_eq!(w.slow.fetches.load(Ordering::SeqCst), 0, "nothing fetched");
    assert!(w.answers().is_empty());
    assert_eq!(w.queue.depth().await.unwrap(), 0, "and no more polls");
}
