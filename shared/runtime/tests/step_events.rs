//! The Step Functions task inputs in `events/*.sfn.json` (what the ASL's `Parameters` hand each
//! step Lambda) and the reconciler's scheduled event, fed to their handlers on the embedded
//! adapters: one job through every step with the built-in storyboard provider — plan, (the
//! worker's submit, poll and fetch), join and validate, store and finalize — a second job
//! refunded, and a stuck third one ended by the reconciler. Placeholders (`tn_`, `job_`, `task_REPLACED_BY_
//! TEST`) are the ids the run creates.

mod support;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use viral_core::domain::account::Platform;
use viral_core::domain::post::PostStatus;
use viral_core::domain::routing::ProviderInfo;
use viral_core::domain::{JobSpec, JobStatus, Plan, Tenant};
use viral_core::ports::RenderStatus;
use viral_core::service::{connect, posts};
use viral_core::service::{tenants, videos};
use viral_core::{Clock, ManualClock, Timestamp};
use viral_local::Process;
use viral_providers::Registry;
use viral_runtime::Config;
use viral_runtime::providers;
use viral_steps::steps::{
    FetchInput, PollInput, Submit, SubmitLimits, SubmitMessage, fetch_video, poll_render,
    submit_clip,
};
use viral_steps::{Deps, ProviderNeeds, Step};

const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");

fn event(name: &str, tenant: &str, job: &str, task: &str) -> Value {
    let path = format!("{EVENTS}/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(
        &text
            .replace("tn_REPLACED_BY_TEST", tenant)
            .replace("job_REPLACED_BY_TEST", job)
            .replace("task_REPLACED_BY_TEST", task),
    )
    .unwrap()
}

async fn accept(store: &dyn viral_core::ports::ItemStore, clock: &dyn Clock, t: &Tenant) -> String {
    let spec = JobSpec {
        prompt: "Three facts about octopuses.\nThey have three hearts.\nTheir blood is blue."
            .into(),
        concept_id: None,
        provider: "auto".into(),
        platforms: vec!["tiktok".into(), "youtube_shorts".into()],
        duration_s: 15.0,
        narration: None,
    };
    videos::accept(
        store,
        clock,
        t,
        spec,
        None,
        &[ProviderInfo::storyboard().profile],
    )
    .await
    .unwrap()
    .job
    .id
}

#[tokio::test]
async fn every_step_event_drives_its_handler() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let config =
        Config::from_lookup(|k| (k == "VIRAL_DATA_DIR").then(|| data_dir.clone())).unwrap();
    let services = Process::connect(config).await.unwrap();
    let clock = Arc::new(ManualClock::new(Timestamp(1_795_589_400_000)));
    let template = support::template();
    let recording = Arc::new(support::Recording::new(services.store.clone()));
    let deps = Deps {
        social: services.social(),
        store: recording.clone(),
        blobs: services.blobs.clone(),
        clock: clock.clone(),
        providers: services.providers().unwrap(),
        provider_captions: Default::default(),
        narrator: None,
    };
    let store = &*deps.store;
    let tenant = tenants::create_tenant(store, &*clock, "Steps", Plan::Pro)
        .await
        .unwrap()
        .tenant;
    let t = tenant.id.as_str();
    let job = accept(store, &*clock, &tenant).await;
    // Each step runs with the providers its Lambda builds (none, or profiles), through the
    // entry point its Lambda calls.
    let cfg = &services.config.providers;
    let providers_for = |needs: ProviderNeeds| match needs {
        ProviderNeeds::Nothing => Registry::default(),
        ProviderNeeds::Profiles => Registry::profiles_only(providers::profiles(cfg)),
    };
    let step = |s: Step, v: Value| {
        let entry = s.entry();
        let deps = Deps {
            providers: providers_for(entry.needs),
            ..deps.clone()
        };
        let (recording, template) = (recording.clone(), &template);
        async move {
            recording.take();
            let out = entry
                .run(&deps, v)
                .await
                .unwrap_or_else(|e| panic!("{}: {} {}", s.function_name(), e.name, e.cause));
            // The partitions it touched are ones its role may touch.
            support::assert_allowed(template, s.function_name(), &recording.take());
            out
        }
    };

    let plan = step(Step::PlanJob, event("plan-job.sfn.json", t, &job, "")).await;
    assert_eq!(plan["provider"], "storyboard");
    assert_eq!(plan["clips"], json!([{"index": 0, "duration_s": 15.0}]));
    // What the provider worker does with the RenderClip message (its SQS event has its own
    // test): submit, poll, fetch.
    recording.take();
    let Submit::Answered(submitted) = submit_clip(
        &deps,
        &SubmitMessage {
            token: "token".into(),
            tenant_id: t.into(),
            job_id: job.clone(),
            provider: "storyboard".into(),
            attempt: 1,
            clip: serde_json::from_value(plan["clips"][0].clone()).unwrap(),
            render: None,
        },
        &SubmitLimits::default(),
    )
    .await
    else {
        panic!("nobody else submits this clip");
    };
    let submitted = submitted.unwrap();
    let task = submitted.task_id.as_str();
    let poll = PollInput {
        tenant_id: t.into(),
        job_id: job.clone(),
        provider: "storyboard".into(),
        task_id: task.into(),
        submitted_at: submitted.submitted_at,
    };
    assert_eq!(poll_render(&deps, poll).await.unwrap(), RenderStatus::Done);
    let fetch = FetchInput {
        tenant_id: t.into(),
        job_id: job.clone(),
        provider: "storyboard".into(),
        task_id: task.into(),
        clip: serde_json::from_value(plan["clips"][0].clone()).unwrap(),
        submitted_at: submitted.submitted_at,
    };
    let fetched = fetch_video(&deps, fetch).await.unwrap();
    assert!(fetched.clip_key.contains(t), "{fetched:?}");
    support::assert_allowed(&template, "provider-worker", &recording.take());
    let joined = step(Step::JoinVideo, event("join-video.sfn.json", t, &job, task)).await;
    assert_eq!(
        joined["video_key"],
        format!("tenants/{t}/videos/{job}.mp4"),
        "{joined}"
    );
    assert_eq!(joined["changed"], true, "the join ended the job");
    assert_eq!(
        videos::get(store, t, &job).await.unwrap().status,
        JobStatus::Succeeded
    );

    // The finished video goes to a sandbox channel through the publish workflow's steps.
    let vault = services.vault.clone().unwrap();
    let channel = connect::sandbox(store, &*vault, &*clock, t, "Steps channel")
        .await
        .unwrap();
    let target = |caption: &str| posts::Target {
        account_id: channel.id.clone(),
        caption: Some(caption.into()),
        ..Default::default()
    };
    let made = posts::create(
        store,
        &*clock,
        t,
        &job,
        vec![target("Octopuses")],
        None,
        &[Platform::Sandbox],
    )
    .await
    .unwrap();
    let post = made.posts[0].id.clone();
    let post_event = |name: &str| {
        let path = format!("{EVENTS}/{name}");
        let text = std::fs::read_to_string(&path).unwrap();
        serde_json::from_str::<Value>(
            &text
                .replace("tn_REPLACED_BY_TEST", t)
                .replace("post_REPLACED_BY_TEST", &post),
        )
        .unwrap()
    };
    let next = step(Step::CheckPost, post_event("check-post.sfn.json")).await;
    assert_eq!(next["action"], "upload", "{next}");
    let next = step(Step::UploadPost, post_event("upload-post.sfn.json")).await;
    assert_eq!(next["action"], "poll", "{next}");
    let next = step(Step::PollPost, post_event("poll-post.sfn.json")).await;
    assert_eq!(next["action"], "done", "{next}");
    let published = posts::get(store, t, &post).await.unwrap();
    assert_eq!(published.status, PostStatus::Published);
    assert!(published.platform_post_id.unwrap().starts_with("sbxpost_"));
    // Another post fails as the catcher says; its posting slot is given back.
    let other = posts::create(
        store,
        &*clock,
        t,
        &job,
        vec![target("Again")],
        None,
        &[Platform::Sandbox],
    )
    .await
    .unwrap()
    .posts[0]
        .id
        .clone();
    let text = std::fs::read_to_string(format!("{EVENTS}/fail-post.sfn.json")).unwrap();
    let failing: Value = serde_json::from_str(
        &text
            .replace("tn_REPLACED_BY_TEST", t)
            .replace("post_REPLACED_BY_TEST", &other),
    )
    .unwrap();
    step(Step::FailPost, failing).await;
    let failed = posts::get(store, t, &other).await.unwrap();
    assert_eq!(failed.status, PostStatus::Failed);
    assert_eq!(failed.error.unwrap().code, "platform_unavailable");

    let failing = accept(store, &*clock, &tenant).await;
    step(
        Step::RefundJob,
        event("refund-job.sfn.json", t, &failing, ""),
    )
    .await;
    let failed = videos::get(store, t, &failing).await.unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert!(failed.failure.unwrap_or_default().contains("moderation"));

    // The token keeper's scheduled pass: nothing is due (the sandbox has no grant to keep).
    let schedule: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{EVENTS}/refresh-tokens.schedule.json")).unwrap(),
    )
    .unwrap();
    let publishers = services.publishers();
    let kept = viral_runtime::lambda::keep_alive(store, &*vault, &*clock, &publishers, &schedule)
        .await
        .unwrap();
    assert_eq!(
        kept,
        json!({"refreshed": 0, "needs_reconnect": 0, "errors": 0})
    );

    // The metrics collector's scheduled pass: no post is published here, nothing is due.
    let schedule: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{EVENTS}/collect-metrics.schedule.json")).unwrap(),
    )
    .unwrap();
    let pass =
        viral_runtime::lambda::collect_metrics(store, &*vault, &*clock, &publishers, &schedule)
            .await
            .unwrap();
    assert_eq!(pass["collected"]["due"], 0);
    assert_eq!(pass["folded"]["deferred"], 0);

    // A job whose workflow never ran, past the deadline: the scheduled pass ends it.
    let stuck = accept(store, &*clock, &tenant).await;
    clock.advance(viral_runtime::lambda::STUCK_AFTER + Duration::from_secs(60));
    let schedule: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{EVENTS}/reconcile-jobs.schedule.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(schedule["detail-type"], "Scheduled Event");
    let answer = viral_runtime::lambda::reconcile(store, &*clock, None, &schedule)
        .await
        .unwrap();
    assert_eq!(
        answer,
        json!({"ended": 1, "errors": 0, "posts_ended": 0, "post_errors": 0, "posts_started": 0})
    );
    assert_eq!(
        videos::get(store, t, &stuck).await.unwrap().status,
        JobStatus::Failed
    );
}

#[test]
fn every_function_has_an_event() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let events: Vec<String> = std::fs::read_dir(root.join("events"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    for f in std::fs::read_dir(root.join("functions")).unwrap() {
        let name = f.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            events
                .iter()
                .any(|e| e.split('.').next() == Some(name.as_str())),
            "functions/{name} has no event in events/"
        );
    }
    for e in &events {
        let text = std::fs::read_to_string(root.join("events").join(e)).unwrap();
        assert!(
            serde_json::from_str::<Value>(&text).is_ok(),
            "{e} is not JSON"
        );
    }
}
