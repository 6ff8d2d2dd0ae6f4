//! `statemachines/autopilot.asl.json` as the tenant's schedule starts it, on the local ASL
//! engine, each Task running the autopilot-tick Lambda's handler: the first tick starts the
//! day's run, the machine waits while its video renders, the next tick posts it, and the
//! execution ends; an event that names no tenant ends in `Autopilot.TickFailed`.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Value, json};
use viral_core::domain::Plan;
use viral_core::domain::account::Platform;
use viral_core::domain::autopilot::{Approval, Picker, QuietHours, RunStatus, Settings};
use viral_core::domain::publish_limits::PublishLimits;
use viral_core::domain::routing::{ProviderInfo, ProviderProfile};
use viral_core::ports::{BlobStore, ItemStore, Publishers, RuleWriter, SampleTrends, TokenVault};
use viral_core::service::autopilot::{self, Runner};
use viral_core::service::publishing::Ctx;
use viral_core::service::{connect, tenants};
use viral_core::{ManualClock, Timestamp};
use viral_embedded::{FileTokenVault, FsBlobStore, SqliteItemStore, UrlSigner};
use viral_steps::simulated::InstantWorkflow;
use viral_workflow::{Engine, Failure, Outcome, TaskCall, TaskRunner, load};

/// The tick Lambda's handler over a store, as the function runs it.
struct Tick {
    runner: Runner<'static>,
}

#[async_trait]
impl TaskRunner for Tick {
    async fn run(&self, call: TaskCall) -> Result<Value, Failure> {
        assert_eq!(call.resource, "viral:autopilot-tick");
        viral_runtime::lambda::autopilot_tick(&self.runner, &call.input)
            .await
            .map_err(|d| Failure::new(d.error_type, d.error_message))
    }
}

fn leak<T>(t: T) -> &'static T {
    Box::leak(Box::new(t))
}

#[tokio::test]
async fn a_scheduled_execution_runs_the_day_s_slot_to_a_post_and_ends() {
    let dir = leak(tempfile::tempdir().unwrap());
    // 2026-12-04T10:00:00Z: the day's slot (00:00 UTC) is due. The services' clock stands
    // still; the engine's own clock only times its waits.
    let now = Timestamp(1_796_378_400_000);
    let clock = Arc::new(ManualClock::new(now));
    let store: &'static dyn ItemStore =
        leak(SqliteItemStore::open(&dir.path().join("viral.db")).unwrap());
    let blobs: &'static dyn BlobStore = leak(FsBlobStore::new(
        &dir.path().join("blobs"),
        UrlSigner::new(b"k", "http://127.0.0.1:3000", clock.clone()),
    ));
    let vault: &'static dyn TokenVault =
        leak(FileTokenVault::from_key_file(&dir.path().join("vault.key")).unwrap());
    let publishers =
        leak(Publishers::default().with(Arc::new(viral_social::SandboxPublisher::default())));
    let clock_ref: &'static ManualClock = leak(ManualClock::new(now));
    let limits = leak(PublishLimits::default());
    let flow = leak(InstantWorkflow::new(Ctx {
        store,
        blobs,
        vault,
        clock: clock_ref,
        publishers,
        limits,
    }));
    let tenant = tenants::create_tenant(store, clock_ref, "Autopilot", Plan::Pro)
        .await
        .unwrap()
        .tenant;
    let account = connect::sandbox(store, vault, clock_ref, &tenant.id, "Channel")
        .await
        .unwrap();
    autopilot::put(
        store,
        clock_ref,
        &tenant.id,
        Settings {
            enabled: true,
            niche: None,
            categories: vec![],
            regions: vec![],
            targets: vec![account.id.clone()],
            posts_per_day: 1,
            daily_budget_cents: 300,
            quiet_hours: QuietHours { start: 0, end: 0 },
            timezone: "UTC".into(),
            approval: Approval::Auto,
            duration_s: 15.0,
        },
    )
    .await
    .unwrap();
    let profiles: &'static [ProviderProfile] = leak(vec![ProviderInfo::storyboard().profile]);
    let platforms: &'static [Platform] = leak([Platform::Sandbox]);
    let tick = Arc::new(Tick {
        runner: Runner {
            store,
            clock: clock_ref,
            trends: leak(SampleTrends),
            writer: leak(RuleWriter),
            workflow: flow,
            profiles,
            platforms,
            picker: Picker::Thompson,
            seed: Some(3),
            dashboard_url: "https://app.example.com",
        },
    });
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let asl = std::fs::read_to_string(root.join("statemachines/autopilot.asl.json")).unwrap();
    let asl = viral_local::substitute(
        &asl,
        &[("AutopilotTickFunctionArn", "viral:autopilot-tick".into())],
    )
    .unwrap();
    let machine = load(&asl).unwrap();
    // Waits a thousand times shorter; task timeouts as written.
    let engine = Engine::new(tick.clone(), clock.clone(), 0.001).with_timeout_scale(1.0);
    let done = engine
        .execute(
            &machine,
            "autopilot",
            "scheduled-1",
            json!({"tenant_id": tenant.id}),
        )
        .await;
    assert!(
        matches!(done.outcome, Outcome::Succeeded(_)),
        "{:?}",
        done.outcome
    );
    let ticks = done
        .history
        .iter()
        .filter(|e| e.kind == "TaskStateEntered" && e.state.as_deref() == Some("Tick"))
        .count();
    assert!(ticks >= 2, "it waited for the video and ticked again");
    let (runs, _) = autopilot::list_runs(store, &tenant.id, 10, None)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, RunStatus::Posted, "{:?}", runs[0].reason);
    // A second execution the same day (the schedule fired twice) starts nothing more.
    let again = engine
        .execute(
            &machine,
            "autopilot",
            "scheduled-2",
            json!({"tenant_id": tenant.id}),
        )
        .await;
    assert!(matches!(again.outcome, Outcome::Succeeded(_)));
    let (runs, _) = autopilot::list_runs(store, &tenant.id, 10, None)
        .await
        .unwrap();
    assert_eq!(runs.len(), 1);
    // The function's sample event, as the machine passes it.
    let event = std::fs::read_to_string(root.join("events/autopilot-tick.sfn.json"))
        .unwrap()
        .replace("tn_REPLACED_BY_TEST", &tenant.id);
    let event: Value = serde_json::from_str(&event).unwrap();
    let answer = viral_runtime::lambda::autopilot_tick(&tick.runner, &event)
        .await
        .unwrap();
    assert_eq!(answer["open"], 0);
    // An event that names no tenant fails the execution, not the schedule.
    let bad = engine
        .execute(&machine, "autopilot", "bad", json!({"tenant_id": "nope"}))
        .await;
    match bad.outcome {
        Outcome::Failed(f) => assert_eq!(f.error, "Autopilot.TickFailed"),
        other => panic!("{other:?}"),
    }
}
