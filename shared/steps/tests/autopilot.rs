//! Autopilot spends tenants' money with no one watching: a run goes from trends to a post and
//! says why at each step; each slot runs once however many ticks race; the day's budget is
//! never exceeded and is settled to what videos cost; nothing paid starts after the kill
//! switch, which also takes back scheduled posts; quotas and accounts stop a run before it
//! spends; TikTok posts wait for a person.

mod world;

use std::time::Duration;

use viral_core::domain::Plan;
use viral_core::domain::account::Platform;
use viral_core::domain::autopilot::{Approval, Picker, QuietHours, RunStatus, Settings};
use viral_core::domain::post::PostStatus;
use viral_core::domain::routing::{ProviderInfo, ProviderProfile};
use viral_core::ports::{RuleWriter, SampleTrends};
use viral_core::service::autopilot::{self, Runner};
use viral_core::service::{connect, videos, webhooks};
use viral_core::{Clock, Error};
use viral_steps::simulated::InstantWorkflow;
use world::World;

const HOUR: Duration = Duration::from_secs(3600);

fn settings(target: &str) -> Settings {
    Settings {
        enabled: true,
        niche: None,
        categories: vec![],
        regions: vec![],
        targets: vec![target.to_owned()],
        posts_per_day: 1,
        daily_budget_cents: 500,
        quiet_hours: QuietHours { start: 0, end: 0 },
        timezone: "UTC".into(),
        approval: Approval::Auto,
        duration_s: 15.0,
    }
}

/// A provider at 10 ¢/s: 150 ¢ for 15 s.
fn paid() -> ProviderProfile {
    ProviderProfile {
        name: "paid".into(),
        model: "m".into(),
        cents_per_second: 10.0,
        clip_durations: vec![],
        max_clip_s: 60,
        quality: 5,
    }
}

struct Setup {
    profiles: Vec<ProviderProfile>,
    platforms: Vec<Platform>,
}

impl Setup {
    fn free() -> Self {
        Self {
            profiles: vec![ProviderInfo::storyboard().profile],
            platforms: vec![Platform::Sandbox, Platform::Tiktok],
        }
    }

    fn paid() -> Self {
        Self {
            profiles: vec![paid()],
            platforms: vec![Platform::Sandbox],
        }
    }

    fn runner<'a>(&'a self, w: &'a World, flow: &'a InstantWorkflow<'a>) -> Runner<'a> {
        Runner {
            store: &*w.store,
            clock: &*w.clock,
            trends: &SampleTrends,
            writer: &RuleWriter,
            workflow: flow,
            profiles: &self.profiles,
            platforms: &self.platforms,
            picker: Picker::Thompson,
            seed: Some(7),
            dashboard_url: "https://app.example.com",
        }
    }
}

async fn channel(w: &World, tenant: &str) -> String {
    connect::sandbox(&*w.store, &*w.vault, &*w.clock, tenant, "Channel")
        .await
        .unwrap()
        .id
}

async fn committed(w: &World, tenant: &str, day: &str) -> i64 {
    w.store
        .get(&format!("T#{tenant}"), &format!("AUTOPILOT#DAY#{day}"))
        .await
        .unwrap()
        .and_then(|i| i.int("committed_cents"))
        .unwrap_or(0)
}

#[tokio::test]
async fn a_run_goes_from_trends_to_a_post_and_says_why() {
    let w = World::new(vec![]);
    let tenant = w.tenant(Plan::Agency).await;
    let account = channel(&w, &tenant).await;
    autopilot::put(&*w.store, &*w.clock, &tenant, settings(&account))
        .await
        .unwrap();
    let setup = Setup::free();
    let flow = InstantWorkflow::new(w.ctx());
    let runner = setup.runner(&w, &flow);
    let first = runner.tick(&tenant).await.unwrap();
    let run = first.started.expect("the day's slot is due");
    assert_eq!(run.status, RunStatus::Rendering);
    assert_eq!(run.concepts.len(), 5);
    assert!(run.why.as_deref().unwrap().contains("Thompson"));
    assert!(!run.trends.is_empty());
    // The job finished at once; the next tick places and posts it.
    let ticked = runner.tick(&tenant).await.unwrap();
    assert!(ticked.started.is_none(), "one run per slot");
    let run = autopilot::get_run(&*w.store, &tenant, &run.id)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Posted, "{:?}", run.reason);
    assert_eq!(run.posts.len(), 1);
    assert_eq!(run.cost_cents, Some(0));
    let placement = run.placement.clone().unwrap();
    assert_eq!(placement.account_id, account);
    assert!(placement.why.contains("posting-hour"));
    let job = videos::get(&*w.store, &tenant, run.job_id.as_ref().unwrap())
        .await
        .unwrap();
    assert_eq!(job.spec.concept_id, run.pick);
    // Published when its hour came.
    w.clock.advance(24 * HOUR);
    flow.drive().await.unwrap();
    assert_eq!(
        w.get(&tenant, &run.posts[0]).await.status,
        PostStatus::Published
    );
    // Another tenant sees none of it.
    let other = w.tenant(Plan::Agency).await;
    assert!(matches!(
        autopilot::get_run(&*w.store, &other, &run.id).await,
        Err(Error::NotFound(_))
    ));
    let (listed, _) = autopilot::list_runs(&*w.store, &other, 10, None)
        .await
        .unwrap();
    assert!(listed.is_empty());
}

#[tokio::test]
async fn racing_ticks_run_each_slot_once_within_the_daily_budget() {
    let w = World::new(vec![]);
    let tenant = w.tenant(Plan::Agency).await;
    let account = channel(&w, &tenant).await;
    let mut s = settings(&account);
    // Six slots, all due by 23:00; 450 ¢ a day fits three 150 ¢ videos at most.
    s.posts_per_day = 6;
    s.daily_budget_cents = 450;
    autopilot::put(&*w.store, &*w.clock, &tenant, s)
        .await
        .unwrap();
    w.clock.advance(13 * HOUR);
    let setup = Setup::paid();
    let flow = InstantWorkflow::new(w.ctx());
    let runner = setup.runner(&w, &flow);
    for _ in 0..8 {
        let ticks: Vec<_> = (0..6).map(|_| runner.tick(&tenant)).collect();
        for t in futures_util::future::join_all(ticks).await {
            t.unwrap();
        }
        assert!(committed(&w, &tenant, "2026-12-04").await <= 450);
    }
    let (runs, _) = autopilot::list_runs(&*w.store, &tenant, 100, None)
        .await
        .unwrap();
    let mut slots: Vec<&str> = runs.iter().map(|r| r.slot.as_str()).collect();
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), runs.len(), "a slot ran twice");
    assert_eq!(runs.len(), 6);
    let spent: u32 = runs.iter().filter_map(|r| r.cost_cents).sum();
    let posted = runs
        .iter()
        .filter(|r| r.status == RunStatus::Posted)
        .count();
    assert!(posted >= 1);
    assert!(spent <= 450, "spent {spent}");
    assert_eq!(spent, 150 * posted as u32);
    // Settled: what is committed is what was spent.
    assert_eq!(committed(&w, &tenant, "2026-12-04").await, i64::from(spent));
    let skipped: Vec<&str> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Skipped)
        .filter_map(|r| r.reason.as_deref())
        .collect();
    assert!(!skipped.is_empty());
    assert!(
        skipped.iter().all(|r| r.contains("daily budget")),
        "{skipped:?}"
    );
}

/// The rule writer, priced like a paid model: at most 40 ¢ a batch.
struct PaidWriter;

#[async_trait::async_trait]
impl viral_core::ports::ConceptWriter for PaidWriter {
    fn name(&self) -> &str {
        "paid-model"
    }

    fn max_cost_cents(&self, _count: usize) -> u32 {
        40
    }

    async fn write(
        &self,
        trends: &[viral_core::domain::concept::Trend],
        brief: &viral_core::domain::concept::Brief,
        learner: &viral_core::domain::learner::Posterior,
        seed: u64,
    ) -> Result<Vec<viral_core::domain::concept::Concept>, viral_core::ports::SourceError> {
        RuleWriter.write(trends, brief, learner, seed).await
    }
}

#[tokio::test]
async fn a_paid_concept_writer_is_held_and_counted_within_the_budget() {
    let w = World::new(vec![]);
    let tenant = w.tenant(Plan::Agency).await;
    let account = channel(&w, &tenant).await;
    let mut s = settings(&account);
    // Three slots, all due by 23:00; each run is a 150 ¢ video and up to 40 ¢ of concepts,
    // so 470 ¢ fits two runs, not three (three videos alone would fit).
    s.posts_per_day = 3;
    s.daily_budget_cents = 470;
    autopilot::put(&*w.store, &*w.clock, &tenant, s)
        .await
        .unwrap();
    w.clock.advance(13 * HOUR);
    let setup = Setup::paid();
    let flow = InstantWorkflow::new(w.ctx());
    let runner = Runner {
        writer: &PaidWriter,
        ..setup.runner(&w, &flow)
    };
    let first = runner.tick(&tenant).await.unwrap().started.unwrap();
    let job = videos::get(&*w.store, &tenant, first.job_id.as_ref().unwrap())
        .await
        .unwrap();
    // The hold covers the concepts and the video; the video's budget leaves the concepts out.
    assert_eq!(first.writing_cents, 40);
    assert_eq!(first.reserved_cents, 40 + job.budget_cents);
    assert!(
        (150..=430).contains(&job.budget_cents),
        "{}",
        job.budget_cents
    );
    for _ in 0..4 {
        runner.tick(&tenant).await.unwrap();
    }
    let (runs, _) = autopilot::list_runs(&*w.store, &tenant, 100, None)
        .await
        .unwrap();
    let posted: Vec<_> = runs
        .iter()
        .filter(|r| r.status == RunStatus::Posted)
        .collect();
    assert_eq!(posted.len(), 2, "{runs:?}");
    assert!(posted.iter().all(|r| r.cost_cents == Some(190)));
    let skipped = runs
        .iter()
        .find(|r| r.status == RunStatus::Skipped)
        .unwrap();
    assert!(
        skipped
            .reason
            .as_deref()
            .unwrap()
            .contains("$0.90 left today, the video is estimated at $1.50 and writing its concepts at up to $0.40"),
        "{:?}",
        skipped.reason
    );
    assert_eq!(committed(&w, &tenant, "2026-12-04").await, 380);
}

#[tokio::test]
async fn the_kill_switch_stops_paid_steps_and_takes_back_scheduled_posts() {
    let w = World::new(vec![]);
    let tenant = w.tenant(Plan::Agency).await;
    let account = channel(&w, &tenant).await;
    let mut s = settings(&account);
    // 10:00 UTC: the 05:00 slot is due; 11–23 is quiet, so the post waits for 23:00 or later.
    s.posts_per_day = 2;
    s.quiet_hours = QuietHours { start: 11, end: 23 };
    autopilot::put(&*w.store, &*w.clock, &tenant, s)
        .await
        .unwrap();
    let setup = Setup::free();
    let flow = InstantWorkflow::new(w.ctx());
    let runner = setup.runner(&w, &flow);
    let run = runner.tick(&tenant).await.unwrap().started.unwrap();
    w.clock.advance(2 * HOUR);
    runner.tick(&tenant).await.unwrap();
    let run = autopilot::get_run(&*w.store, &tenant, &run.id)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Posted);
    let post = &run.posts[0];
    assert_eq!(w.get(&tenant, post).await.status, PostStatus::Scheduled);
    let jobs_before = videos::list(&*w.store, &tenant, 100, None)
        .await
        .unwrap()
        .0
        .len();
    let paused = autopilot::pause(&*w.store, &*w.clock, &w.limits, &tenant)
        .await
        .unwrap();
    assert_eq!(paused.cancelled_posts, vec![post.clone()]);
    assert_eq!(w.get(&tenant, post).await.status, PostStatus::Cancelled);
    // Days go by: no run starts, nothing is spent.
    for _ in 0..6 {
        w.clock.advance(8 * HOUR);
        let t = runner.tick(&tenant).await.unwrap();
        assert!(t.started.is_none());
    }
    let jobs_after = videos::list(&*w.store, &tenant, 100, None)
        .await
        .unwrap()
        .0
        .len();
    assert_eq!(jobs_before, jobs_after);
    // Turned on again, it runs again.
    let mut s = autopilot::get(&*w.store, &tenant)
        .await
        .unwrap()
        .unwrap()
        .settings;
    s.enabled = true;
    autopilot::put(&*w.store, &*w.clock, &tenant, s)
        .await
        .unwrap();
    assert!(runner.tick(&tenant).await.unwrap().started.is_some());
}

#[tokio::test]
async fn a_pause_between_steps_spends_nothing_more() {
    let w = World::new(vec![]);
    let tenant = w.tenant(Plan::Agency).await;
    let account = channel(&w, &tenant).await;
    let mut s = settings(&account);
    s.approval = Approval::Review;
    autopilot::put(&*w.store, &*w.clock, &tenant, s)
        .await
        .unwrap();
    let setup = Setup::paid();
    let flow = InstantWorkflow::new(w.ctx());
    let runner = setup.runner(&w, &flow);
    let run = runner.tick(&tenant).await.unwrap().started.unwrap();
    runner.tick(&tenant).await.unwrap();
    let waiting = autopilot::get_run(&*w.store, &tenant, &run.id)
        .await
        .unwrap();
    assert_eq!(waiting.status, RunStatus::AwaitingReview);
    assert!(waiting.reason.as_deref().unwrap().contains("approve"));
    let paused = autopilot::pause(&*w.store, &*w.clock, &w.limits, &tenant)
        .await
        .unwrap();
    assert_eq!(paused.stopped_runs, vec![run.id.clone()]);
    let stopped = autopilot::get_run(&*w.store, &tenant, &run.id)
        .await
        .unwrap();
    assert_eq!(stopped.status, RunStatus::Stopped);
    assert!(stopped.posts.is_empty());
    // A stopped run cannot be approved any more.
    let err = autopilot::approve(&runner, &tenant, &run.id, None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::State {
            code: "run_not_awaiting_review",
            ..
        }
    ));
}

#[tokio::test]
async fn review_waits_for_a_person_and_tiktok_always_does() {
    let w = World::new(vec![]);
    let tenant = w.tenant(Plan::Agency).await;
    let sandbox = channel(&w, &tenant).await;
    let tiktok = w.account(&tenant, Platform::Tiktok, None).await;
    let hook = webhooks::create(
        &*w.store,
        &*w.vault,
        &*w.clock,
        &tenant,
        "https://hooks.example.com/viral",
        &["autopilot.run_finished".into()],
        false,
    )
    .await
    .unwrap();
    // Auto approval, but the TikTok account's posts wait all the same.
    autopilot::put(&*w.store, &*w.clock, &tenant, settings(&tiktok))
        .await
        .unwrap();
    let setup = Setup::free();
    let flow = InstantWorkflow::new(w.ctx());
    let runner = setup.runner(&w, &flow);
    let run = runner.tick(&tenant).await.unwrap().started.unwrap();
    runner.tick(&tenant).await.unwrap();
    let run = autopilot::get_run(&*w.store, &tenant, &run.id)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::AwaitingReview);
    assert!(run.reason.as_deref().unwrap().contains("TikTok"));
    // The webhook says so, with a link a person can follow to the one-click approve.
    let (ds, _) = webhooks::deliveries(&*w.store, &tenant, &hook.webhook.id, 10, None)
        .await
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(&ds[0].body).unwrap();
    assert_eq!(event["data"]["status"], "awaiting_review");
    assert_eq!(
        event["data"]["review_page"],
        format!("https://app.example.com/autopilot?run={}", run.id)
    );
    assert_eq!(
        event["data"]["approve"],
        format!("POST /v1/autopilot/runs/{}/approve", run.id)
    );
    let rejected = autopilot::reject(&*w.store, &*w.clock, &tenant, &run.id)
        .await
        .unwrap();
    assert_eq!(rejected.status, RunStatus::Rejected);
    // On the sandbox with review: approved, it is posted.
    let mut s = settings(&sandbox);
    s.approval = Approval::Review;
    autopilot::put(&*w.store, &*w.clock, &tenant, s)
        .await
        .unwrap();
    w.clock.advance(24 * HOUR);
    let run = runner.tick(&tenant).await.unwrap().started.unwrap();
    runner.tick(&tenant).await.unwrap();
    let approved = autopilot::approve(&runner, &tenant, &run.id, None)
        .await
        .unwrap();
    assert_eq!(approved.status, RunStatus::Posted);
    assert_eq!(approved.posts.len(), 1);
}

#[tokio::test]
async fn quotas_and_accounts_stop_a_run_before_it_spends() {
    let w = World::new(vec![]);
    // Free: one video a month.
    let tenant = w.tenant(Plan::Free).await;
    let account = channel(&w, &tenant).await;
    autopilot::put(&*w.store, &*w.clock, &tenant, settings(&account))
        .await
        .unwrap();
    let setup = Setup::free();
    let flow = InstantWorkflow::new(w.ctx());
    let runner = setup.runner(&w, &flow);
    let first = runner.tick(&tenant).await.unwrap().started.unwrap();
    assert_eq!(first.status, RunStatus::Rendering);
    w.clock.advance(24 * HOUR);
    let second = runner.tick(&tenant).await.unwrap().started.unwrap();
    assert_eq!(second.status, RunStatus::Skipped);
    let why = second.reason.unwrap();
    assert!(why.contains("quota"), "{why}");
    assert_eq!(committed(&w, &tenant, "2026-12-05").await, 0);
    // An account that must be reconnected stops the next day's run.
    let t2 = w.tenant(Plan::Agency).await;
    let acct = channel(&w, &t2).await;
    autopilot::put(&*w.store, &*w.clock, &t2, settings(&acct))
        .await
        .unwrap();
    let a = viral_core::service::accounts::get(&*w.store, &t2, &acct)
        .await
        .unwrap();
    viral_core::service::accounts::mark_needs_reconnect(&*w.store, &*w.clock, &a, "revoked")
        .await
        .unwrap();
    let run = runner.tick(&t2).await.unwrap().started.unwrap();
    assert_eq!(run.status, RunStatus::Skipped);
    assert!(run.reason.unwrap().contains("connected again"));
    assert_eq!(w.clock.now().rfc3339(), "2026-12-05T10:00:00Z");
}

/// Jobs are accepted but not run until `finish` is called; the first start of a job is lost,
/// as a Step Functions outage after the job was accepted would lose it.
struct Held<'a> {
    inner: &'a InstantWorkflow<'a>,
    started: std::sync::Mutex<Vec<String>>,
    lose_first: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl viral_core::ports::Workflow for Held<'_> {
    async fn start_job(
        &self,
        _: &str,
        job_id: &str,
    ) -> Result<bool, viral_core::ports::WorkflowError> {
        if self
            .lose_first
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(viral_core::ports::WorkflowError::Unavailable(
                "states is down".into(),
            ));
        }
        self.started.lock().unwrap().push(job_id.to_owned());
        Ok(true)
    }
    async fn start_post(
        &self,
        tenant_id: &str,
        post_id: &str,
    ) -> Result<bool, viral_core::ports::WorkflowError> {
        self.inner.start_post(tenant_id, post_id).await
    }
    async fn job_history(
        &self,
        _: &str,
        _: &str,
    ) -> Result<Option<serde_json::Value>, viral_core::ports::WorkflowError> {
        Ok(None)
    }
}

#[tokio::test]
async fn a_lost_start_is_started_again_and_a_pause_mid_render_posts_nothing() {
    use viral_core::ports::Workflow;
    let w = World::new(vec![]);
    let tenant = w.tenant(Plan::Agency).await;
    let account = channel(&w, &tenant).await;
    let mut s = settings(&account);
    s.posts_per_day = 2;
    autopilot::put(&*w.store, &*w.clock, &tenant, s)
        .await
        .unwrap();
    let setup = Setup::paid();
    let flow = InstantWorkflow::new(w.ctx());
    let held = Held {
        inner: &flow,
        started: Default::default(),
        lose_first: true.into(),
    };
    let mut runner = setup.runner(&w, &flow);
    runner.workflow = &held;
    // The job is accepted, its start lost: the tick says so, the run is rendering.
    let run = runner.tick(&tenant).await;
    assert!(run.is_err(), "the lost start is an error of this tick");
    let (runs, _) = autopilot::list_runs(&*w.store, &tenant, 10, None)
        .await
        .unwrap();
    assert_eq!(runs[0].status, RunStatus::Rendering);
    let job = runs[0].job_id.clone().unwrap();
    assert!(held.started.lock().unwrap().is_empty());
    // The next tick starts it (once more, idempotently); no second job, no second batch.
    runner.tick(&tenant).await.unwrap();
    assert_eq!(held.started.lock().unwrap().clone(), vec![job.clone()]);
    assert_eq!(
        videos::list(&*w.store, &tenant, 10, None)
            .await
            .unwrap()
            .0
            .len(),
        1
    );
    // Paused while it renders: the video finishes, is settled at its cost, and is not posted.
    autopilot::pause(&*w.store, &*w.clock, &w.limits, &tenant)
        .await
        .unwrap();
    flow.start_job(&tenant, &job).await.unwrap();
    runner.tick(&tenant).await.unwrap();
    let run = autopilot::get_run(&*w.store, &tenant, &runs[0].id)
        .await
        .unwrap();
    assert_eq!(run.status, RunStatus::Stopped, "{:?}", run.reason);
    assert!(run.posts.is_empty());
    assert_eq!(run.cost_cents, Some(150));
    assert_eq!(committed(&w, &tenant, "2026-12-04").await, 150);
}

#[tokio::test]
async fn tiktok_approval_without_a_privacy_is_refused_and_the_run_keeps_waiting() {
    let w = World::new(vec![]);
    let tenant = w.tenant(Plan::Agency).await;
    let tiktok = w.account(&tenant, Platform::Tiktok, None).await;
    autopilot::put(&*w.store, &*w.clock, &tenant, settings(&tiktok))
        .await
        .unwrap();
    let setup = Setup::free();
    let flow = InstantWorkflow::new(w.ctx());
    let runner = setup.runner(&w, &flow);
    let run = runner.tick(&tenant).await.unwrap().started.unwrap();
    runner.tick(&tenant).await.unwrap();
    for privacy in [None, Some("EVERYONE_PLEASE".to_owned())] {
        let err = autopilot::approve(&runner, &tenant, &run.id, privacy)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    }
    let still = autopilot::get_run(&*w.store, &tenant, &run.id)
        .await
        .unwrap();
    assert_eq!(still.status, RunStatus::AwaitingReview);
}
