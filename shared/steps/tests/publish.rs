//! The publish workflow: a sandbox post through `statemachines/publish.asl.json` on the local
//! engine, and the decisions of its steps against a scripted platform — a lost answer to
//! `begin` is never resubmitted, a failure before the platform acted is retried, an expired
//! token is refreshed once (and the rotated refresh token kept), a dead one marks the account,
//! limits reschedule instead of failing (per account, per tenant's share of the app's quota),
//! and Instagram's `media_publish` is reconciled after a lost answer.

mod support;
mod world;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use viral_core::domain::Plan;
use viral_core::domain::account::{AccountStatus, Platform, PlatformProfile};
use viral_core::domain::post::PostStatus;
use viral_core::domain::publish_limits::PublishLimits;
use viral_core::ports::{
    Cond, Progress, PublishError, Published, Publishers, SecretString, TokenVault, Tokens,
};
use viral_core::service::publishing::{self, Next};
use viral_core::service::{accounts, connect, posts, tenants};
use viral_core::{Clock, SystemClock, Timestamp};
use viral_embedded::{FileTokenVault, FsBlobStore, SqliteItemStore, UrlSigner};
use viral_testkit::publisher::{Call, Scripted, ScriptedPublisher};
use world::{NOW, World, stored_video};

#[tokio::test]
async fn a_sandbox_post_goes_through_the_publish_workflow_on_the_local_engine() {
    let dir = tempfile::tempdir().unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let db = viral_embedded::Db::open(&dir.path().join("viral.db")).unwrap();
    let vault: Arc<dyn TokenVault> =
        Arc::new(FileTokenVault::from_key_file(&dir.path().join("vault.key")).unwrap());
    let deps = viral_steps::Deps {
        store: Arc::new(SqliteItemStore::new(db.clone())),
        blobs: Arc::new(FsBlobStore::new(
            &dir.path().join("blobs"),
            UrlSigner::new(b"k", "http://127.0.0.1:3000", clock.clone()),
        )),
        clock: clock.clone(),
        providers: viral_providers::Registry::new(vec![]),
        social: viral_steps::Social {
            publishers: Publishers::default()
                .with(Arc::new(viral_social::SandboxPublisher::default())),
            vault: Some(vault.clone()),
            limits: PublishLimits::default(),
        },
        provider_captions: Default::default(),
        narrator: None,
    };
    let pipeline = viral_local::LocalPipeline::new(
        deps.clone(),
        support::queues(db, clock.clone()),
        viral_local::Options::default().time_scale(0.01),
    )
    .unwrap();
    let store = &*deps.store;
    let tenant = tenants::create_tenant(store, &*clock, "Local", Plan::Pro)
        .await
        .unwrap()
        .tenant
        .id;
    let job = stored_video(store, &*deps.blobs, &tenant).await;
    let channel = connect::sandbox(store, &*vault, &*clock, &tenant, "Local channel")
        .await
        .unwrap();
    let target = posts::Target {
        account_id: channel.id.clone(),
        ..Default::default()
    };
    let post = posts::create(
        store,
        &*clock,
        &tenant,
        &job,
        vec![target],
        None,
        &[Platform::Sandbox],
    )
    .await
    .unwrap()
    .posts[0]
        .id
        .clone();
    assert!(pipeline.start_post(&tenant, &post).await.unwrap());
    assert!(
        !pipeline.start_post(&tenant, &post).await.unwrap(),
        "started once"
    );
    let mut last = None;
    for _ in 0..200 {
        let p = posts::get(store, &tenant, &post).await.unwrap();
        if p.status.is_terminal() {
            last = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let p = last.expect("the post ended within 10 s");
    assert_eq!(p.status, PostStatus::Published, "{:?}", p.error);
    assert!(p.platform_post_id.unwrap().starts_with("sbxpost_"));
    assert_eq!(p.privacy_applied.as_deref(), Some("public"));
    assert_eq!(p.url, None, "a sandbox post has no public URL");
    let mut history = serde_json::Value::Null;
    for _ in 0..100 {
        history = pipeline.describe(&tenant, &post).await.unwrap().unwrap();
        if history["status"] == "SUCCEEDED" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(history["status"], "SUCCEEDED");
    let states: Vec<String> = history["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["state"].as_str().map(str::to_owned))
        .collect();
    for s in ["CheckPost", "UploadPost", "PollPost"] {
        assert!(states.iter().any(|x| x == s), "{s} ran: {states:?}");
    }
}

#[tokio::test]
async fn a_lost_answer_to_begin_is_never_resubmitted() {
    let tiktok = Arc::new(ScriptedPublisher::new(Platform::Tiktok));
    tiktok.then(
        Call::Begin,
        Scripted::Fail(PublishError::Unknown("timed out after sending".into())),
    );
    let w = World::new(vec![tiktok.clone()]);
    let t = w.tenant(Plan::Pro).await;
    let job = w.video(&t).await;
    let acc = w.account(&t, Platform::Tiktok, None).await;
    let post = w.post(&t, &job, &acc, "SELF_ONLY").await;
    let ctx = w.ctx();
    assert_eq!(
        publishing::check(&ctx, &t, &post).await.unwrap(),
        Next::Upload
    );
    let err = publishing::upload(&ctx, &t, &post).await.unwrap_err();
    assert!(err.to_string().contains("unknown"), "{err}");
    assert_eq!(w.get(&t, &post).await.status, PostStatus::Uploading);
    // The workflow retries the step: it ends the post instead of beginning it again.
    assert_eq!(
        publishing::upload(&ctx, &t, &post).await.unwrap(),
        Next::Done
    );
    let p = w.get(&t, &post).await;
    assert_eq!(p.status, PostStatus::Failed);
    assert_eq!(p.error.unwrap().code, "publish_outcome_unknown");
    assert_eq!(tiktok.count(Call::Begin), 1, "begun once");
}

#[tokio::test]
async fn a_failure_before_the_platform_acted_is_retried_and_the_applied_privacy_recorded() {
    let tiktok = Arc::new(ScriptedPublisher::new(Platform::Tiktok));
    tiktok.then(
        Call::Begin,
        Scripted::Fail(PublishError::Transient("connection refused".into())),
    );
    tiktok.then(
        Call::Poll,
        Scripted::Progress(Progress::Processing(Some("PROCESSING_UPLOAD".into()))),
    );
    let w = World::new(vec![tiktok.clone()]);
    let t = w.tenant(Plan::Pro).await;
    let job = w.video(&t).await;
    let acc = w.account(&t, Platform::Tiktok, None).await;
    let post = w.post(&t, &job, &acc, "PUBLIC_TO_EVERYONE").await;
    let ctx = w.ctx();
    publishing::check(&ctx, &t, &post).await.unwrap();
    assert!(publishing::upload(&ctx, &t, &post).await.is_err());
    assert_eq!(
        w.get(&t, &post).await.begun_at,
        None,
        "the intent is cleared"
    );
    assert_eq!(
        publishing::upload(&ctx, &t, &post).await.unwrap(),
        Next::Poll(5)
    );
    assert_eq!(
        publishing::poll(&ctx, &t, &post).await.unwrap(),
        Next::Poll(5)
    );
    assert_eq!(publishing::poll(&ctx, &t, &post).await.unwrap(), Next::Done);
    let p = w.get(&t, &post).await;
    assert_eq!(p.status, PostStatus::Published);
    assert_eq!(p.platform_post_id.as_deref(), Some("post-of-handle-1"));
    assert_eq!(p.privacy_applied.as_deref(), Some("SELF_ONLY"));
    assert!(
        p.warnings.iter().any(|w| w.contains("applied SELF_ONLY")),
        "{:?}",
        p.warnings
    );
    // What the platform received: the AI label, the privacy as asked.
    let begun = tiktok.begun.lock().unwrap().clone();
    assert_eq!(begun.len(), 1);
    assert!(begun[0].ai_generated);
    assert_eq!(begun[0].privacy, "PUBLIC_TO_EVERYONE");
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_rotated_refresh_token_kept() {
    let tiktok = Arc::new(ScriptedPublisher::new(Platform::Tiktok));
    tiktok.then(
        Call::Begin,
        Scripted::Fail(PublishError::Unauthorized("access_token_invalid".into())),
    );
    let w = World::new(vec![tiktok.clone()]);
    let t = w.tenant(Plan::Pro).await;
    let job = w.video(&t).await;
    let acc = w
        .account(
            &t,
            Platform::Tiktok,
            Some(NOW.plus(Duration::from_secs(7200))),
        )
        .await;
    let post = w.post(&t, &job, &acc, "SELF_ONLY").await;
    let ctx = w.ctx();
    publishing::check(&ctx, &t, &post).await.unwrap();
    assert_eq!(
        publishing::upload(&ctx, &t, &post).await.unwrap(),
        Next::Poll(5)
    );
    assert_eq!(tiktok.tokens_used(Call::Refresh), vec!["refresh-0"]);
    assert_eq!(
        tiktok.tokens_used(Call::Begin),
        vec!["access-0", "access-1"]
    );
    let account = accounts::get(&*w.store, &t, &acc).await.unwrap();
    let open = accounts::open_tokens(&*w.vault, &account).await.unwrap();
    assert_eq!(
        open.refresh.unwrap().expose(),
        "refresh-2",
        "the rotated one is kept"
    );
    // A token near its expiry is refreshed before the call, not after a refusal.
    w.clock.set(NOW.plus(Duration::from_secs(3 * 3600)));
    let account = accounts::get(&*w.store, &t, &acc).await.unwrap();
    let mut expiring = account.clone();
    expiring.access_expires_at = Some(w.clock.now().plus(Duration::from_secs(60)));
    w.store
        .put(expiring.to_item(), Cond::VersionIs(account.version))
        .await
        .unwrap();
    let expiring = accounts::get(&*w.store, &t, &acc).await.unwrap();
    let (_, access) =
        accounts::access_token(&*w.store, &*w.vault, &*w.clock, &*tiktok, &expiring, false)
            .await
            .unwrap();
    assert_eq!(
        tiktok.count(Call::Refresh),
        2,
        "refreshed ahead of its expiry"
    );
    assert_eq!(tiktok.tokens_used(Call::Refresh)[1], "refresh-2");
    assert!(access.expose().starts_with("access-") && access.expose() != "access-1");
}

#[tokio::test]
async fn a_dead_refresh_token_marks_the_account_and_fails_its_posts() {
    let tiktok = Arc::new(ScriptedPublisher::new(Platform::Tiktok));
    tiktok
        .then(
            Call::Begin,
            Scripted::Fail(PublishError::Unauthorized("access_token_invalid".into())),
        )
        .then(
            Call::Refresh,
            Scripted::Fail(PublishError::NeedsReconnect("invalid_grant".into())),
        );
    let w = World::new(vec![tiktok.clone()]);
    let t = w.tenant(Plan::Pro).await;
    let job = w.video(&t).await;
    let acc = w.account(&t, Platform::Tiktok, None).await;
    let first = w.post(&t, &job, &acc, "SELF_ONLY").await;
    let ctx = w.ctx();
    publishing::check(&ctx, &t, &first).await.unwrap();
    assert_eq!(
        publishing::upload(&ctx, &t, &first).await.unwrap(),
        Next::Done
    );
    let p = w.get(&t, &first).await;
    assert_eq!(p.status, PostStatus::Failed);
    assert_eq!(p.error.unwrap().code, "account_needs_reconnect");
    let account = accounts::get(&*w.store, &t, &acc).await.unwrap();
    assert_eq!(account.status, AccountStatus::NeedsReconnect);
    assert!(account.status_reason.unwrap().contains("invalid_grant"));
    // A post created before the account broke fails at its check, without a call.
    let calls = tiktok.calls.lock().unwrap().len();
    let mut stale = w.get(&t, &first).await;
    stale.id = viral_core::ids::new_id("post");
    stale.status = PostStatus::Queued;
    stale.error = None;
    stale.begun_at = None;
    stale.quota_day = None;
    stale.version = 0;
    w.store
        .put(stale.to_item().unwrap(), Cond::Absent)
        .await
        .unwrap();
    assert_eq!(
        publishing::check(&ctx, &t, &stale.id).await.unwrap(),
        Next::Done
    );
    assert_eq!(
        w.get(&t, &stale.id).await.error.unwrap().code,
        "account_needs_reconnect"
    );
    assert_eq!(tiktok.calls.lock().unwrap().len(), calls);
}

#[tokio::test]
async fn limits_reschedule_posts_instead_of_failing_them() {
    let youtube = Arc::new(ScriptedPublisher::new(Platform::Youtube));
    youtube.then(
        Call::Begin,
        Scripted::Fail(PublishError::Limited {
            code: "uploadLimitExceeded".into(),
            message: "the channel reached its daily upload limit".into(),
            retry_after_secs: 3600,
        }),
    );
    let mut w = World::new(vec![youtube.clone()]);
    w.limits = PublishLimits {
        app_daily: HashMap::from([(Platform::Youtube, 20)]),
        account_daily: HashMap::from([(Platform::Youtube, 2)]),
    };
    let ctx = w.ctx();
    let free = w.tenant(Plan::Free).await;
    let agency = w.tenant(Plan::Agency).await;
    let (free_job, agency_job) = (w.video(&free).await, w.video(&agency).await);
    let free_acc = w.account(&free, Platform::Youtube, None).await;
    let agency_acc = w.account(&agency, Platform::Youtube, None).await;
    // The free workspace's share of the app's 20 daily uploads is 1 (5 %); the agency's is 8.
    let f1 = w.post(&free, &free_job, &free_acc, "public").await;
    let f2 = w.post(&free, &free_job, &free_acc, "public").await;
    assert_eq!(
        publishing::check(&ctx, &free, &f1).await.unwrap(),
        Next::Upload
    );
    // YouTube's quota day turns at midnight Pacific (08:00 UTC).
    let tomorrow = Timestamp::parse_rfc3339("2026-12-05T08:00:00Z").unwrap();
    assert_eq!(
        publishing::check(&ctx, &free, &f2).await.unwrap(),
        Next::Wait(tomorrow)
    );
    let waiting = w.get(&free, &f2).await;
    assert_eq!(waiting.status, PostStatus::Scheduled);
    assert!(
        waiting.warnings[0].contains("share of the app's daily youtube posts"),
        "{:?}",
        waiting.warnings
    );
    // The agency is not held back by the free workspace; its account's own cap of 2 is.
    let posts: Vec<String> = posts_of(&w, &agency, &agency_job, &agency_acc, 3).await;
    assert_eq!(
        publishing::check(&ctx, &agency, &posts[0]).await.unwrap(),
        Next::Upload
    );
    assert_eq!(
        publishing::check(&ctx, &agency, &posts[1]).await.unwrap(),
        Next::Upload
    );
    assert_eq!(
        publishing::check(&ctx, &agency, &posts[2]).await.unwrap(),
        Next::Wait(tomorrow)
    );
    assert!(
        w.get(&agency, &posts[2]).await.warnings[0].contains("this account reached its 2 posts")
    );
    // The platform's own limit, met at begin: rescheduled, its slot given back, nothing posted.
    let next = publishing::upload(&ctx, &agency, &posts[0]).await.unwrap();
    assert_eq!(next, Next::Wait(NOW.plus(Duration::from_secs(3600))));
    let p = w.get(&agency, &posts[0]).await;
    assert_eq!(
        (p.status, p.begun_at, p.quota_day.clone()),
        (PostStatus::Scheduled, None, None)
    );
    let acct = accounts::get(&*w.store, &agency, &agency_acc)
        .await
        .unwrap();
    let allowance = publishing::allowance(&*w.store, &*w.clock, &w.limits, &acct, Plan::Agency)
        .await
        .unwrap();
    assert_eq!(
        allowance.account_used, 1,
        "the rescheduled post's slot came back"
    );
    assert_eq!(allowance.tenant_limit, Some(8));
    // The next day the waiting post goes.
    w.clock.set(tomorrow);
    assert_eq!(
        publishing::check(&ctx, &free, &f2).await.unwrap(),
        Next::Upload
    );
}

async fn posts_of(w: &World, t: &str, job: &str, acc: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(w.post(t, job, acc, "public").await);
    }
    out
}

#[tokio::test]
async fn instagram_publish_is_reconciled_after_a_lost_answer() {
    let ig = Arc::new(ScriptedPublisher::new(Platform::Instagram));
    ig.then(Call::Poll, Scripted::Progress(Progress::Ready))
        .then(Call::Poll, Scripted::Progress(Progress::Ready))
        .then(
            Call::Publish,
            Scripted::Fail(PublishError::Unknown("connection reset".into())),
        )
        .then(
            Call::FindPublished,
            Scripted::Fail(PublishError::Transient("retry".into())),
        );
    let w = World::new(vec![ig.clone()]);
    let t = w.tenant(Plan::Pro).await;
    let job = w.video(&t).await;
    let acc = w.account(&t, Platform::Instagram, None).await;
    let post = w.post(&t, &job, &acc, "public").await;
    let ctx = w.ctx();
    publishing::check(&ctx, &t, &post).await.unwrap();
    publishing::upload(&ctx, &t, &post).await.unwrap();
    assert!(
        publishing::poll(&ctx, &t, &post).await.is_err(),
        "publish's answer lost"
    );
    assert!(w.get(&t, &post).await.publish_requested_at.is_some());
    // Asking what happened failed: try again later, still no second publish.
    assert!(publishing::poll(&ctx, &t, &post).await.is_err());
    assert_eq!(ig.count(Call::Publish), 1);
    // The platform says it was never made: asking again is not a blind resubmit.
    ig.then(Call::Poll, Scripted::Progress(Progress::Ready));
    assert_eq!(publishing::poll(&ctx, &t, &post).await.unwrap(), Next::Done);
    assert_eq!(ig.count(Call::Publish), 2);
    assert_eq!(ig.count(Call::FindPublished), 2);
    assert_eq!(w.get(&t, &post).await.status, PostStatus::Published);
    // Had it been made, the reconcile records it without publishing again.
    let second = w.post(&t, &job, &acc, "public").await;
    ig.then(Call::Poll, Scripted::Progress(Progress::Ready))
        .then(
            Call::Publish,
            Scripted::Fail(PublishError::Unknown("timeout".into())),
        );
    publishing::check(&ctx, &t, &second).await.unwrap();
    publishing::upload(&ctx, &t, &second).await.unwrap();
    assert!(publishing::poll(&ctx, &t, &second).await.is_err());
    let publishes = ig.count(Call::Publish);
    ig.then(Call::Poll, Scripted::Progress(Progress::Ready))
        .then(
            Call::FindPublished,
            Scripted::Found(Published {
                post_id: Some("media-9".into()),
                url: Some("https://www.instagram.com/reel/abc/".into()),
                privacy: None,
            }),
        );
    assert_eq!(
        publishing::poll(&ctx, &t, &second).await.unwrap(),
        Next::Done
    );
    assert_eq!(ig.count(Call::Publish), publishes, "not published twice");
    let p = w.get(&t, &second).await;
    assert_eq!(p.platform_post_id.as_deref(), Some("media-9"));
}

#[tokio::test]
async fn grants_are_kept_alive_before_they_die_and_dead_ones_marked() {
    let tiktok = Arc::new(ScriptedPublisher::new(Platform::Tiktok));
    let w = World::new(vec![tiktok.clone()]);
    let t = w.tenant(Plan::Pro).await;
    let connect = |user: &'static str, refresh_days: u64| {
        let w = &w;
        let t = t.clone();
        async move {
            accounts::connect(
                &*w.store,
                &*w.vault,
                &*w.clock,
                &t,
                Platform::Tiktok,
                PlatformProfile {
                    user_id: user.into(),
                    display_name: user.into(),
                    avatar_url: None,
                },
                Tokens {
                    access: SecretString::new(format!("access-{user}")),
                    refresh: Some(SecretString::new(format!("refresh-{user}"))),
                    access_expires_at: Some(NOW.plus(Duration::from_secs(7200))),
                    refresh_expires_at: Some(NOW.plus(Duration::from_secs(refresh_days * 86_400))),
                    scopes: vec![],
                },
            )
            .await
            .unwrap()
        }
    };
    // Two due (their 180-day refresh tokens end in 20 and 25 days), one not.
    let refused = connect("refused", 20).await;
    let kept = connect("kept", 25).await;
    let fresh = connect("fresh", 170).await;
    // The index is in due order: the first refresh is refused (the user revoked the app).
    tiktok.then(
        Call::Refresh,
        Scripted::Fail(PublishError::NeedsReconnect("invalid_grant".into())),
    );
    let publishers = Publishers::default().with(tiktok.clone());
    let done = accounts::keep_alive(&*w.store, &*w.vault, &*w.clock, &publishers)
        .await
        .unwrap();
    assert_eq!(
        (done.refreshed, done.needs_reconnect, done.errors),
        (1, 1, 0)
    );
    let after = |id: String| {
        let w = &w;
        let t = t.clone();
        async move { accounts::get(&*w.store, &t, &id).await.unwrap() }
    };
    assert_eq!(
        after(refused.id.clone()).await.status,
        AccountStatus::NeedsReconnect
    );
    let refreshed = after(kept.id.clone()).await;
    assert_eq!(refreshed.status, AccountStatus::Active);
    assert!(refreshed.version > kept.version);
    let untouched = after(fresh.id.clone()).await;
    assert_eq!(untouched.version, fresh.version, "not due: left alone");
    assert_eq!(
        tiktok.tokens_used(Call::Refresh),
        vec!["refresh-refused", "refresh-kept"]
    );
    // A second pass has nothing due.
    let again = accounts::keep_alive(&*w.store, &*w.vault, &*w.clock, &publishers)
        .await
        .unwrap();
    assert_eq!((again.refreshed, again.needs_reconnect), (0, 0));
}

#[tokio::test]
async fn cancelled_and_stuck_posts_give_their_slot_back() {
    let w = World::new(vec![]);
    let t = w.tenant(Plan::Pro).await;
    let job = w.video(&t).await;
    let acc = w.account(&t, Platform::Sandbox, None).await;
    let ctx = w.ctx();
    let used = || async {
        let a = accounts::get(&*w.store, &t, &acc).await.unwrap();
        publishing::allowance(&*w.store, &*w.clock, &w.limits, &a, Plan::Pro)
            .await
            .unwrap()
            .account_used
    };
    let first = w.post(&t, &job, &acc, "public").await;
    assert_eq!(
        publishing::check(&ctx, &t, &first).await.unwrap(),
        Next::Upload
    );
    assert_eq!(used().await, 1);
    let cancelled = posts::cancel(&*w.store, &*w.clock, &w.limits, &t, &first)
        .await
        .unwrap();
    assert_eq!(cancelled.status, PostStatus::Cancelled);
    assert_eq!(used().await, 0, "the cancelled post's slot came back");
    // A post whose workflow died: the reconciler ends it after STUCK_POST_AFTER, and gives
    // its slot back since it never reached the platform.
    let second = w.post(&t, &job, &acc, "public").await;
    assert_eq!(
        publishing::check(&ctx, &t, &second).await.unwrap(),
        Next::Upload
    );
    let early = publishing::end_stuck(
        &*w.store,
        &*w.clock,
        &w.limits,
        publishing::STUCK_POST_AFTER,
    )
    .await
    .unwrap();
    assert_eq!(early.ended, 0, "not yet");
    w.clock
        .advance(publishing::STUCK_POST_AFTER + Duration::from_secs(60));
    let done = publishing::end_stuck(
        &*w.store,
        &*w.clock,
        &w.limits,
        publishing::STUCK_POST_AFTER,
    )
    .await
    .unwrap();
    assert_eq!(done.ended, 1);
    let p = w.get(&t, &second).await;
    assert_eq!(
        (p.status, p.error.unwrap().code.as_str()),
        (PostStatus::Failed, "publish_stuck")
    );
    w.clock.set(NOW);
    assert_eq!(used().await, 0);
}

#[tokio::test]
async fn a_refresh_that_lost_the_race_uses_the_winners_tokens() {
    let tiktok = Arc::new(ScriptedPublisher::new(Platform::Tiktok));
    let w = World::new(vec![tiktok.clone()]);
    let t = w.tenant(Plan::Pro).await;
    let acc = w.account(&t, Platform::Tiktok, Some(NOW)).await;
    // Two callers read the account at the same version; the first refreshes and stores the
    // rotated tokens; the second's refresh token is then spent, and TikTok refuses it.
    let stale = accounts::get(&*w.store, &t, &acc).await.unwrap();
    let (winner, access) =
        accounts::access_token(&*w.store, &*w.vault, &*w.clock, &*tiktok, &stale, false)
            .await
            .unwrap();
    tiktok.then(
        Call::Refresh,
        Scripted::Fail(PublishError::NeedsReconnect("invalid_grant".into())),
    );
    let (after, second) =
        accounts::access_token(&*w.store, &*w.vault, &*w.clock, &*tiktok, &stale, false)
            .await
            .unwrap();
    assert_eq!(second.expose(), access.expose(), "the winner's token");
    assert_eq!(after.version, winner.version);
    assert_eq!(
        after.status,
        AccountStatus::Active,
        "not marked for a lost race"
    );
}

#[tokio::test]
async fn tiktoks_per_user_rates_are_kept_across_posts() {
    let tiktok = Arc::new(ScriptedPublisher::new(Platform::Tiktok));
    let w = World::new(vec![tiktok.clone()]);
    let t = w.tenant(Plan::Agency).await;
    let job = w.video(&t).await;
    let acc = w.account(&t, Platform::Tiktok, None).await;
    let ctx = w.ctx();
    let mut outcomes = Vec::new();
    for _ in 0..7 {
        let post = w.post(&t, &job, &acc, "SELF_ONLY").await;
        assert_eq!(
            publishing::check(&ctx, &t, &post).await.unwrap(),
            Next::Upload
        );
        outcomes.push((
            post.clone(),
            publishing::upload(&ctx, &t, &post).await.unwrap(),
        ));
    }
    // `video/init` allows 6 a minute per user: the seventh waits for the next minute.
    assert_eq!(tiktok.count(Call::Begin), 6);
    let (last, next) = outcomes.last().unwrap();
    let Next::Wait(until) = next else {
        panic!("{next:?}")
    };
    assert!(*until > NOW && *until <= NOW.plus(Duration::from_secs(61)));
    let p = w.get(&t, last).await;
    assert_eq!(p.status, PostStatus::Scheduled);
    assert!(
        p.warnings.iter().any(|x| x.contains("rate_limit_exceeded")),
        "{:?}",
        p.warnings
    );
    // Status reads have their own budget (30 a minute).
    for (post, _) in &outcomes[..6] {
        assert_eq!(publishing::poll(&ctx, &t, post).await.unwrap(), Next::Done);
    }
}

#[tokio::test]
async fn the_reconciler_starts_posts_whose_start_was_lost() {
    #[derive(Default)]
    struct Starts(std::sync::Mutex<Vec<String>>);
    #[async_trait::async_trait]
    impl viral_core::ports::Workflow for Starts {
        async fn start_job(
            &self,
            _: &str,
            _: &str,
        ) -> Result<bool, viral_core::ports::WorkflowError> {
            Ok(false)
        }
        async fn start_post(
            &self,
            _: &str,
            post: &str,
        ) -> Result<bool, viral_core::ports::WorkflowError> {
            let mut v = self.0.lock().unwrap();
            let first = !v.iter().any(|p| p == post);
            v.push(post.to_owned());
            Ok(first)
        }
        async fn job_history(
            &self,
            _: &str,
            _: &str,
        ) -> Result<Option<serde_json::Value>, viral_core::ports::WorkflowError> {
            Ok(None)
        }
    }
    let w = World::new(vec![]);
    let t = w.tenant(Plan::Pro).await;
    let job = w.video(&t).await;
    let acc = w.account(&t, Platform::Sandbox, None).await;
    let post = w.post(&t, &job, &acc, "public").await;
    let starts = Starts::default();
    // Just accepted: its own start is still on its way.
    assert_eq!(
        publishing::start_recent(&*w.store, &*w.clock, &starts)
            .await
            .unwrap(),
        0
    );
    w.clock.advance(Duration::from_secs(5 * 60));
    assert_eq!(
        publishing::start_recent(&*w.store, &*w.clock, &starts)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        publishing::start_recent(&*w.store, &*w.clock, &starts)
            .await
            .unwrap(),
        0,
        "started once"
    );
    assert_eq!(*starts.0.lock().unwrap(), vec![post.clone(), post]);
    // An hour on, it is the stuck-post reconciler's.
    w.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        publishing::start_recent(&*w.store, &*w.clock, &starts)
            .await
            .unwrap(),
        0
    );
    assert_eq!(starts.0.lock().unwrap().len(), 2);
}
