//! What the publish workflow's steps decide (`statemachines/publish.asl.json`): check a post's
//! account and limits, begin and upload it at the platform, poll until the platform says it
//! is published, and fail it with a stable code. Each platform call that creates something
//! is preceded by a recorded intent and followed by the recorded handle, so a step run again
//! after a crash or a timeout reconciles instead of posting twice.

use std::future::Future;
use std::time::Duration;

use serde_json::json;

use crate::clock::{Clock, Timestamp};
use crate::domain::account::{Account, AccountStatus};
use crate::domain::keys;
use crate::domain::post::{Post, PostError, PostStatus};
use crate::domain::publish_limits::{
    PlatformCall, PublishLimits, account_quota_sk, app_quota_pk, call_rate, day_sk, platform_day,
    platform_next_day, tenant_quota_sk,
};
use crate::error::{Error, Result};
use crate::ports::{
    BlobKey, BlobStore, Cond, ItemStore, Media, Progress, PublishError, Published, Publisher,
    Publishers, SecretString, TokenVault, Transaction, TxError, Update, Write,
};
use crate::service::{accounts, posts, tenants, videos};

/// What the publish steps need.
pub struct Ctx<'a> {
    pub store: &'a dyn ItemStore,
    pub blobs: &'a dyn BlobStore,
    pub vault: &'a dyn TokenVault,
    pub clock: &'a dyn Clock,
    pub publishers: &'a Publishers,
    pub limits: &'a PublishLimits,
}

/// What the workflow does next with a post.
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// Wait until then and check again (its schedule, or a limit's reset).
    Wait(Timestamp),
    /// Go on to the platform.
    Upload,
    /// Poll the platform after this many seconds.
    Poll(u64),
    /// Nothing more: the post ended (published, failed or cancelled).
    Done,
}

/// The first poll after an upload: a 15 s video is processed in seconds.
const FIRST_POLL_S: u64 = 5;
/// A post still processing this long after it began is failed (TikTok's moderation of a
/// public post takes minutes, at worst hours).
const PROCESSING_LIMIT_S: i64 = 24 * 3600;

/// Polls slow down as processing takes longer, to stay inside each platform's rate limits
/// (TikTok allows 30 status reads a minute per user).
pub fn poll_interval_s(elapsed_s: i64) -> u64 {
    match elapsed_s {
        ..120 => 5,
        120..1800 => 30,
        _ => 300,
    }
}

/// How long a signed media URL handed to a pulling platform lives.
const PULL_URL_TTL: Duration = Duration::from_secs(3600);

async fn post_and_account(
    ctx: &Ctx<'_>,
    tenant_id: &str,
    post_id: &str,
) -> Result<(Post, Option<Account>)> {
    let post = posts::get(ctx.store, tenant_id, post_id).await?;
    let account = match accounts::get(ctx.store, tenant_id, &post.account_id).await {
        Ok(a) => Some(a),
        Err(Error::NotFound(_)) => None,
        Err(e) => return Err(e),
    };
    Ok((post, account))
}

/// Ends a post failed (if it has not ended), releasing its limit slot when it never reached the
/// platform. Returns the post as stored.
pub async fn fail(
    ctx: &Ctx<'_>,
    tenant_id: &str,
    post_id: &str,
    code: &str,
    message: &str,
) -> Result<Post> {
    fail_post(
        ctx.store, ctx.clock, ctx.limits, tenant_id, post_id, code, message,
    )
    .await
}

/// [`fail`] with only what it needs (the API and the reconciler have no publishers).
pub async fn fail_post(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    limits: &PublishLimits,
    tenant_id: &str,
    post_id: &str,
    code: &str,
    message: &str,
) -> Result<Post> {
    for _ in 0..5 {
        let post = posts::get(store, tenant_id, post_id).await?;
        if post.status.is_terminal() {
            return Ok(post);
        }
        let release = post
            .begun_at
            .is_none()
            .then(|| post.quota_day.clone())
            .flatten();
        let mut next = post.clone();
        next.status = PostStatus::Failed;
        if release.is_some() {
            next.quota_day = None;
        }
        next.error = Some(PostError {
            code: code.to_owned(),
            message: message.chars().take(1000).collect(),
        });
        match posts::save(store, clock, next).await {
            Ok(saved) => {
                if let Some(day) = release {
                    release_slot(store, limits, &saved, &day).await;
                }
                tracing::info!(post_id, code, "post failed");
                crate::service::webhooks::emit(
                    store,
                    clock,
                    tenant_id,
                    "post.failed",
                    json!({
                        "post_id": saved.id, "video_id": saved.job_id,
                        "account_id": saved.account_id, "platform": saved.platform.as_str(),
                        "error": {"code": code, "message": saved.error.as_ref().map(|e| e.message.clone())},
                    }),
                )
                .await;
                return Ok(saved);
            }
            Err(Error::Conflict(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict("the post kept changing; retry".into()))
}

/// When a post still open after it was due is stuck: past a day of processing and the
/// workflow's retries, with a margin.
pub const STUCK_POST_AFTER: Duration = Duration::from_secs(3 * 86_400);

/// Starts the executions of posts accepted recently whose start may have been lost (the
/// process died, or the workflow service failed, between saving them and starting them).
/// Starting is idempotent, so a post whose execution runs is left alone. Returns how many
/// executions it started.
pub async fn start_recent(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    workflow: &dyn crate::ports::Workflow,
) -> Result<usize> {
    let now = clock.now().millis();
    let (newest, oldest) = (now - 2 * 60_000, now - 3_600_000);
    let mut started = 0;
    let mut cursor = None;
    loop {
        let (page, next) = posts::open_posts(store, cursor).await?;
        for post in page {
            let created = post.created_at.millis();
            if created > newest || created < oldest || post.begun_at.is_some() {
                continue;
            }
            match workflow.start_post(&post.tenant_id, &post.id).await {
                Ok(true) => {
                    tracing::warn!(post_id = %post.id, "started a post whose start was lost");
                    started += 1;
                }
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, post_id = %post.id, "could not start a post"),
            }
        }
        match next {
            Some(c) => cursor = Some(c),
            None => return Ok(started),
        }
    }
}

/// What a reconciler pass over posts did.
#[derive(Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StuckPosts {
    pub ended: usize,
    pub errors: usize,
}

/// Ends posts still open `older_than` after they were due (their execution was lost, timed
/// out or never started): failed, their slot given back if they never reached the platform.
/// A post that had begun says so, and is never begun again.
pub async fn end_stuck(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    limits: &PublishLimits,
    older_than: Duration,
) -> Result<StuckPosts> {
    let cutoff = clock.now().millis() - i64::try_from(older_than.as_millis()).unwrap_or(i64::MAX);
    let mut done = StuckPosts::default();
    let (page, _) = posts::open_posts(store, None).await?;
    for post in page {
        let tenant_id = post.tenant_id.as_str();
        // Sorted by when each post was due: the rest are younger.
        if post.not_before.unwrap_or(post.created_at).millis() > cutoff {
            break;
        }
        let message = if post.begun_at.is_some() {
            "the publish workflow ended without finishing this post after it reached the platform; check the account before publishing this video again"
        } else {
            "the publish workflow ended before this post reached the platform"
        };
        match fail_post(
            store,
            clock,
            limits,
            tenant_id,
            &post.id,
            "publish_stuck",
            message,
        )
        .await
        {
            Ok(_) => done.ended += 1,
            Err(e) => {
                tracing::warn!(error = %e, post_id = %post.id, "could not end a stuck post");
                done.errors += 1;
            }
        }
    }
    Ok(done)
}

/// Saves `post`, or reports that someone else changed it (the caller re-reads).
async fn save(ctx: &Ctx<'_>, post: Post) -> Result<Post> {
    posts::save(ctx.store, ctx.clock, post).await
}

/// Whether the post may go now: its time has come, its account can post, and a slot of the
/// day's limits (app, tenant share, account) is taken for it. Otherwise when to look again.
pub async fn check(ctx: &Ctx<'_>, tenant_id: &str, post_id: &str) -> Result<Next> {
    let now = ctx.clock.now();
    let (post, account) = post_and_account(ctx, tenant_id, post_id).await?;
    if post.status.is_terminal() {
        return Ok(Next::Done);
    }
    if let Some(at) = post.not_before
        && at > now
    {
        return Ok(Next::Wait(at));
    }
    let Some(account) = account else {
        fail(
            ctx,
            tenant_id,
            post_id,
            "account_removed",
            "the account this post was for was removed",
        )
        .await?;
        return Ok(Next::Done);
    };
    if account.status == AccountStatus::NeedsReconnect {
        let why = account
            .status_reason
            .clone()
            .unwrap_or_else(|| "the account must be connected again".into());
        fail(ctx, tenant_id, post_id, "account_needs_reconnect", &why).await?;
        return Ok(Next::Done);
    }
    if post.quota_day.is_some() || post.begun_at.is_some() {
        return Ok(Next::Upload);
    }
    let day = platform_day(post.platform, now);
    match take_slot(ctx, &post, &day).await? {
        Ok(()) => {
            let mut next = post.clone();
            next.quota_day = Some(day.clone());
            next.status = PostStatus::Queued;
            match save(ctx, next).await {
                Ok(_) => Ok(Next::Upload),
                Err(e) => {
                    release_slot(ctx.store, ctx.limits, &post, &day).await;
                    Err(e)
                }
            }
        }
        Err(why) => {
            let until = platform_next_day(post.platform, now);
            let mut next = post;
            next.status = PostStatus::Scheduled;
            next.not_before = Some(until);
            next.warn(format!("{why}; rescheduled to {}", until.rfc3339()));
            save(ctx, next).await?;
            Ok(Next::Wait(until))
        }
    }
}

/// Takes one slot of the day's limits for `post`, all three or none; `Err(why)` when one is
/// full.
async fn take_slot(ctx: &Ctx<'_>, post: &Post, day: &str) -> Result<Result<(), String>> {
    #[derive(Clone, Copy)]
    enum Full {
        App,
        Tenant,
        Account,
    }
    let platform = post.platform;
    let plan = tenants::get_tenant(ctx.store, &post.tenant_id)
        .await?
        .map(|t| t.plan_at(ctx.clock.now()))
        .unwrap_or(crate::domain::Plan::Free);
    let expires = platform_next_day(platform, ctx.clock.now()).secs() + 2 * 86_400;
    let pk = keys::tenant_pk(&post.tenant_id);
    let mut tx = Transaction::new();
    let account_cap = i64::from(ctx.limits.account_daily(platform));
    tx.guarded(
        Full::Account,
        Write::Update(
            Update::new(&pk, account_quota_sk(&post.account_id, day))
                .add("used", 1)
                .expires_at(expires)
                .when(Cond::below("used", account_cap)),
        ),
    );
    if let Some(app_cap) = ctx.limits.app_daily.get(&platform) {
        let tenant_cap = ctx.limits.tenant_daily(platform, plan).unwrap_or(*app_cap);
        tx.guarded(
            Full::Tenant,
            Write::Update(
                Update::new(&pk, tenant_quota_sk(platform, day))
                    .add("used", 1)
                    .expires_at(expires)
                    .when(Cond::below("used", i64::from(tenant_cap))),
            ),
        )
        .guarded(
            Full::App,
            Write::Update(
                Update::new(app_quota_pk(platform), day_sk(day))
                    .add("used", 1)
                    .expires_at(expires)
                    .when(Cond::below("used", i64::from(*app_cap))),
            ),
        );
    }
    match tx.commit(ctx.store).await {
        Ok(()) => Ok(Ok(())),
        Err(TxError::Refused(full)) => Ok(Err(match full {
            Full::Account => format!(
                "this account reached its {account_cap} posts for the day on {}",
                platform.as_str()
            ),
            Full::Tenant => format!(
                "this workspace used its share of the app's daily {} posts",
                platform.as_str()
            ),
            Full::App => format!(
                "the app's daily {} upload quota is used up",
                platform.as_str()
            ),
        })),
        Err(e) => Err(e.into()),
    }
}

/// Gives back a slot taken for a post that never reached its platform (best effort: a slot
/// left taken only makes the day's limit stricter).
pub async fn release_slot(store: &dyn ItemStore, limits: &PublishLimits, post: &Post, day: &str) {
    let pk = keys::tenant_pk(&post.tenant_id);
    let mut writes = vec![Write::Update(
        Update::new(&pk, account_quota_sk(&post.account_id, day)).add("used", -1),
    )];
    if limits.app_daily.contains_key(&post.platform) {
        writes.push(Write::Update(
            Update::new(&pk, tenant_quota_sk(post.platform, day)).add("used", -1),
        ));
        writes.push(Write::Update(
            Update::new(app_quota_pk(post.platform), day_sk(day)).add("used", -1),
        ));
    }
    if let Err(e) = store.transact(writes).await {
        tracing::warn!(error = %e, post_id = %post.id, "could not release a posting slot");
    }
}

/// How many posts an account made today and may make, and its tenant's share of the app's.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Allowance {
    pub account_used: i64,
    pub account_limit: u32,
    pub tenant_used: Option<i64>,
    pub tenant_limit: Option<u32>,
    pub resets_at: Timestamp,
}

pub async fn allowance(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    limits: &PublishLimits,
    account: &Account,
    plan: crate::domain::Plan,
) -> Result<Allowance> {
    let now = clock.now();
    let day = platform_day(account.platform, now);
    let pk = keys::tenant_pk(&account.tenant_id);
    let used = |item: Option<crate::ports::Item>| item.and_then(|i| i.int("used")).unwrap_or(0);
    let account_used = used(store.get(&pk, &account_quota_sk(&account.id, &day)).await?);
    let tenant_limit = limits.tenant_daily(account.platform, plan);
    let tenant_used = match tenant_limit {
        Some(_) => Some(used(
            store
                .get(&pk, &tenant_quota_sk(account.platform, &day))
                .await?,
        )),
        None => None,
    };
    Ok(Allowance {
        account_used,
        account_limit: limits.account_daily(account.platform),
        tenant_used,
        tenant_limit,
        resets_at: platform_next_day(account.platform, now),
    })
}

/// Takes one of the account's calls of `call` at its platform's per-user rate (counted in the
/// item store, so it holds across Lambdas); `Some(seconds)` to wait when the window's budget
/// is spent.
pub async fn call_budget(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    account: &Account,
    call: PlatformCall,
) -> Result<Option<u64>> {
    let Some(limit) = call_rate(account.platform, call) else {
        return Ok(None);
    };
    let principal = format!("ACCOUNT:{}:{}", account.id, call.bucket(account.platform));
    match crate::service::rate_limit::hit(store, clock, limit, &principal).await {
        Ok(()) => Ok(None),
        Err(Error::RateLimited { retry_after_secs }) => Ok(Some(retry_after_secs.max(1))),
        Err(e) => Err(e),
    }
}

/// Calls the platform with a fresh token; when the platform refuses the token, refreshes it
/// and tries once more.
async fn with_token<T, F, Fut>(
    ctx: &Ctx<'_>,
    publisher: &dyn Publisher,
    account: &Account,
    call: F,
) -> Result<std::result::Result<T, PublishError>>
where
    F: Fn(SecretString, Account) -> Fut,
    Fut: Future<Output = std::result::Result<T, PublishError>>,
{
    call_with_token(ctx.store, ctx.vault, ctx.clock, publisher, account, call).await
}

/// [`with_token`] for callers outside the publish steps (the metrics collector). The outer
/// error is ours (the store); the inner one is the platform's answer, a refused refresh
/// included.
pub(crate) async fn call_with_token<T, F, Fut>(
    store: &dyn crate::ports::ItemStore,
    vault: &dyn TokenVault,
    clock: &dyn Clock,
    publisher: &dyn Publisher,
    account: &Account,
    call: F,
) -> Result<std::result::Result<T, PublishError>>
where
    F: Fn(SecretString, Account) -> Fut,
    Fut: Future<Output = std::result::Result<T, PublishError>>,
{
    let token = |account: Account, force: bool| async move {
        match accounts::access_token(store, vault, clock, publisher, &account, force).await {
            Ok(x) => Ok(Ok(x)),
            Err(Error::Platform(e)) => Ok(Err(e)),
            Err(e) => Err(e),
        }
    };
    let (account, access) = match token(account.clone(), false).await? {
        Ok(x) => x,
        Err(e) => return Ok(Err(e)),
    };
    match call(access, account.clone()).await {
        Err(PublishError::Unauthorized(_)) => match token(account, true).await? {
            Ok((account, access)) => Ok(call(access, account).await),
            Err(e) => Ok(Err(e)),
        },
        other => Ok(other),
    }
}

async fn media_of(ctx: &Ctx<'_>, post: &Post) -> Result<Media> {
    let job = videos::get(ctx.store, &post.tenant_id, &post.job_id).await?;
    let key = job
        .video_key
        .as_deref()
        .ok_or_else(|| Error::Invalid("the video has no stored file".into()))?;
    let key = BlobKey::parse(key).map_err(|_| Error::Invalid("bad video key".into()))?;
    let (bytes, _) = ctx
        .blobs
        .get(&key)
        .await?
        .ok_or_else(|| Error::Invalid("the video's file is gone".into()))?;
    let url = match ctx.blobs.signed_url(&key, PULL_URL_TTL).await {
        Ok(u) => Some(u),
        Err(e) => {
            tracing::warn!(error = %e, "no signed URL for a pulling platform");
            None
        }
    };
    Ok(Media {
        bytes,
        url,
        duration_s: job.spec.duration_s,
    })
}

/// Turns a platform's refusal into the post's end or a later try: a limit reschedules, a
/// refusal or a lost account fails the post, anything else is for the workflow to retry.
async fn settle(ctx: &Ctx<'_>, post: &Post, e: PublishError) -> Result<Next> {
    match &e {
        PublishError::Limited {
            retry_after_secs, ..
        } => {
            let until = ctx
                .clock
                .now()
                .plus(Duration::from_secs((*retry_after_secs).max(60)));
            let mut next = post.clone();
            next.status = PostStatus::Scheduled;
            next.not_before = Some(until);
            next.warn(format!("{e}; rescheduled to {}", until.rfc3339()));
            // Not begun at the platform: its slot goes back, and it takes one on its new day.
            let release = match (&post.begun_at, &post.quota_day) {
                (None, Some(day)) => Some(day.clone()),
                _ => None,
            };
            if release.is_some() {
                next.quota_day = None;
            }
            let saved = save(ctx, next).await?;
            if let Some(day) = release {
                release_slot(ctx.store, ctx.limits, &saved, &day).await;
            }
            Ok(Next::Wait(until))
        }
        PublishError::Rejected { .. }
        | PublishError::NeedsReconnect(_)
        | PublishError::Unauthorized(_)
        | PublishError::NotConfigured(_) => {
            fail(ctx, &post.tenant_id, &post.id, &e.code(), &e.to_string()).await?;
            Ok(Next::Done)
        }
        PublishError::Transient(_) | PublishError::Unknown(_) => Err(e.into()),
    }
}

fn publisher_of(ctx: &Ctx<'_>, post: &Post) -> Option<std::sync::Arc<dyn Publisher>> {
    ctx.publishers.get(post.platform)
}

/// Begins the post at its platform (once: the intent is recorded first) and sends its bytes
/// (again after a failure: uploads resume).
pub async fn upload(ctx: &Ctx<'_>, tenant_id: &str, post_id: &str) -> Result<Next> {
    let (mut post, account) = post_and_account(ctx, tenant_id, post_id).await?;
    if post.status.is_terminal() {
        return Ok(Next::Done);
    }
    if post.uploaded {
        return Ok(Next::Poll(FIRST_POLL_S));
    }
    let Some(account) = account else {
        fail(
            ctx,
            tenant_id,
            post_id,
            "account_removed",
            "the account this post was for was removed",
        )
        .await?;
        return Ok(Next::Done);
    };
    let Some(publisher) = publisher_of(ctx, &post) else {
        let msg = format!(
            "{} publishing is not configured here",
            post.platform.as_str()
        );
        fail(ctx, tenant_id, post_id, "platform_not_configured", &msg).await?;
        return Ok(Next::Done);
    };
    let media = media_of(ctx, &post).await?;
    if post.handle.is_none() {
        if post.begun_at.is_some() {
            // The platform may have taken the post: never begin it again blindly.
            fail(
                ctx,
                tenant_id,
                post_id,
                "publish_outcome_unknown",
                "an earlier attempt may have reached the platform and its answer was lost; \
                 check the account before publishing this video again",
            )
            .await?;
            return Ok(Next::Done);
        }
        // Per-user rates: TikTok's `begin` asks creator_info, then init; Instagram's calls
        // share the account's hourly budget.
        for call in [PlatformCall::CreatorInfo, PlatformCall::Begin] {
            if let Some(wait) = call_budget(ctx.store, ctx.clock, &account, call).await? {
                let limited = PublishError::Limited {
                    code: "rate_limit_exceeded".into(),
                    message: format!(
                        "this account's {} calls at {} are used for now",
                        call.as_str(),
                        account.platform.as_str()
                    ),
                    retry_after_secs: wait,
                };
                return settle(ctx, &post, limited).await;
            }
        }
        let mut intent = post.clone();
        intent.begun_at = Some(ctx.clock.now());
        intent.status = PostStatus::Uploading;
        intent.attempts += 1;
        post = save(ctx, intent).await?;
        let content = post.content.clone();
        let begun = with_token(ctx, &*publisher, &account, |access, account| {
            let (publisher, content, media) = (&publisher, &content, &media);
            async move { publisher.begin(&access, &account, content, media).await }
        })
        .await;
        let begun = match begun {
            Ok(b) => b,
            Err(e) => {
                // No token (the vault or the store failed): `begin` was never called, so the
                // intent is cleared and the workflow's retry may begin it.
                clear_intent(ctx, tenant_id, post_id).await;
                return Err(e);
            }
        };
        match begun {
            Ok(handle) => {
                post = record_handle(ctx, tenant_id, post_id, handle).await?;
            }
            Err(e @ PublishError::Unknown(_)) => {
                tracing::warn!(post_id, error = %e, "the platform's answer to begin was lost");
                return Err(e.into());
            }
            Err(e) => {
                // The platform did not take it: clear the intent, so a retry may begin again.
                let mut next = post.clone();
                next.begun_at = None;
                post = save(ctx, next).await?;
                return settle(ctx, &post, e).await;
            }
        }
    }
    let handle = post.handle.clone().unwrap_or_default();
    let sent = with_token(ctx, &*publisher, &account, |access, account| {
        let (publisher, handle, media) = (&publisher, &handle, &media);
        async move { publisher.upload(&access, &account, handle, media).await }
    })
    .await?;
    match sent {
        Ok(handle) => {
            let mut next = post;
            next.handle = Some(handle);
            next.uploaded = true;
            next.status = PostStatus::Processing;
            save(ctx, next).await?;
            Ok(Next::Poll(FIRST_POLL_S))
        }
        Err(e) => settle(ctx, &post, e).await,
    }
}

/// Clears a recorded intent whose call never happened (best effort: left set, the post ends
/// `publish_outcome_unknown`, never posted twice).
async fn clear_intent(ctx: &Ctx<'_>, tenant_id: &str, post_id: &str) {
    for _ in 0..3 {
        let Ok(post) = posts::get(ctx.store, tenant_id, post_id).await else {
            return;
        };
        if post.handle.is_some() || post.begun_at.is_none() {
            return;
        }
        let mut next = post;
        next.begun_at = None;
        match save(ctx, next).await {
            Err(Error::Conflict(_)) => continue,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(error = %e, post_id, "could not clear a publish intent");
                return;
            }
        }
    }
}

/// Records the platform's handle of a begun post, re-reading it on a version race: the handle
/// is what lets a retry go on instead of calling the outcome unknown.
async fn record_handle(
    ctx: &Ctx<'_>,
    tenant_id: &str,
    post_id: &str,
    handle: String,
) -> Result<Post> {
    let mut last = None;
    for _ in 0..5 {
        let mut next = posts::get(ctx.store, tenant_id, post_id).await?;
        next.handle = Some(handle.clone());
        match save(ctx, next).await {
            Ok(p) => return Ok(p),
            Err(e @ Error::Conflict(_)) => last = Some(e),
            Err(e) => {
                tracing::error!(error = %e, post_id, "a begun post's handle could not be recorded");
                return Err(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::Conflict("the post kept changing".into())))
}

async fn record_published(ctx: &Ctx<'_>, post: Post, p: Published) -> Result<Next> {
    let mut next = post;
    next.status = PostStatus::Published;
    next.platform_post_id = p.post_id;
    next.url = p.url;
    next.privacy_applied = p.privacy.or_else(|| Some(next.content.privacy.clone()));
    let now = ctx.clock.now();
    next.published_at = Some(now);
    // Its numbers are collected from now on, when the platform named the post (a private
    // TikTok post may have no id, and no numbers either).
    if next.platform_post_id.is_some() {
        next.metrics_due = crate::domain::metrics::next_due(now, 0);
    } else {
        next.metrics_note = Some("the platform gave no post id: no numbers to collect".into());
    }
    if next.privacy_applied.as_deref() != Some(next.content.privacy.as_str()) {
        let w = format!(
            "asked for {} but the platform applied {}",
            next.content.privacy,
            next.privacy_applied.clone().unwrap_or_default()
        );
        next.warn(w);
    }
    let saved = save(ctx, next).await?;
    tracing::info!(post_id = %saved.id, platform = saved.platform.as_str(), "post published");
    crate::service::webhooks::emit(
        ctx.store,
        ctx.clock,
        &saved.tenant_id,
        "post.published",
        json!({
            "post_id": saved.id, "video_id": saved.job_id, "account_id": saved.account_id,
            "platform": saved.platform.as_str(), "platform_post_id": saved.platform_post_id,
            "url": saved.url,
        }),
    )
    .await;
    crate::metrics::count("PostsPublished", None);
    Ok(Next::Done)
}

/// Reads where the post is at its platform, and publishes it when the platform waits for that
/// (Instagram). `Next::Poll` while it is still processing.
pub async fn poll(ctx: &Ctx<'_>, tenant_id: &str, post_id: &str) -> Result<Next> {
    let (post, account) = post_and_account(ctx, tenant_id, post_id).await?;
    if post.status.is_terminal() {
        return Ok(Next::Done);
    }
    if !post.uploaded {
        return Ok(Next::Upload);
    }
    let (Some(account), Some(publisher)) = (account, publisher_of(ctx, &post)) else {
        fail(
            ctx,
            tenant_id,
            post_id,
            "account_removed",
            "the account or its platform is gone",
        )
        .await?;
        return Ok(Next::Done);
    };
    if let Some(wait) = call_budget(ctx.store, ctx.clock, &account, PlatformCall::Poll).await? {
        return Ok(Next::Poll(wait));
    }
    let handle = post.handle.clone().unwrap_or_default();
    let progress = with_token(ctx, &*publisher, &account, |access, account| {
        let (publisher, handle) = (&publisher, &handle);
        async move { publisher.poll(&access, &account, handle).await }
    })
    .await?;
    match progress {
        Ok(Progress::Processing(detail)) => {
            let since = post.begun_at.unwrap_or(post.created_at);
            let elapsed_s = (ctx.clock.now().millis() - since.millis()).max(0) / 1000;
            if elapsed_s > PROCESSING_LIMIT_S {
                let msg = format!(
                    "the platform was still processing the post after {} h ({}); check the account",
                    PROCESSING_LIMIT_S / 3600,
                    detail.unwrap_or_else(|| "no detail".into())
                );
                fail(ctx, tenant_id, post_id, "platform_processing_timeout", &msg).await?;
                return Ok(Next::Done);
            }
            Ok(Next::Poll(poll_interval_s(elapsed_s)))
        }
        Ok(Progress::Published(p)) => record_published(ctx, post, p).await,
        Ok(Progress::Failed { code, message }) => {
            fail(ctx, tenant_id, post_id, &code, &message).await?;
            Ok(Next::Done)
        }
        Ok(Progress::Ready) => {
            if post.publish_requested_at.is_some() {
                // An earlier publish call's answer was lost: ask the platform what it did.
                let found = with_token(ctx, &*publisher, &account, |access, account| {
                    let (publisher, handle) = (&publisher, &handle);
                    async move { publisher.find_published(&access, &account, handle).await }
                })
                .await?;
                match found {
                    Ok(Some(p)) => return record_published(ctx, post, p).await,
                    // Reconciled: it was not made, so asking again is not a blind resubmit.
                    Ok(None) => {}
                    Err(e) => return settle(ctx, &post, e).await,
                }
            }
            let mut intent = post.clone();
            intent.publish_requested_at = Some(ctx.clock.now());
            let post = save(ctx, intent).await?;
            let published = with_token(ctx, &*publisher, &account, |access, account| {
                let (publisher, handle) = (&publisher, &handle);
                async move { publisher.publish(&access, &account, handle).await }
            })
            .await?;
            match published {
                Ok(p) => record_published(ctx, post, p).await,
                Err(e @ (PublishError::Unknown(_) | PublishError::Transient(_))) => Err(e.into()),
                Err(e) => settle(ctx, &post, e).await,
            }
        }
        Err(e) => settle(ctx, &post, e).await,
    }
}

/// The workflow's answer for a step, as JSON the state machine's Choice reads.
pub fn next_json(next: &Next) -> serde_json::Value {
    match next {
        Next::Wait(at) => json!({"action": "wait", "until": at.rfc3339()}),
        Next::Upload => json!({"action": "upload"}),
        Next::Poll(after_s) => json!({"action": "poll", "after_s": after_s}),
        Next::Done => json!({"action": "done"}),
    }
}
