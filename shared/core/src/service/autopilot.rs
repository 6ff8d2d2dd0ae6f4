//! Autopilot: a tenant's channel run within its plan and a daily budget, with no one watching.
//!
//! A run, once per slot of the tenant's day (see [`crate::domain::autopilot`]):
//! 1. **start** — checks before spending anything: the account to post to can post, concepts
//!    and a video are left in the plan's quota, the video's estimate and the most writing its
//!    concepts can cost (a paid model) fit what is left of the day's budget. Then one
//!    conditional write claims the slot, reserves both (the job's budget is `min(plan cap,
//!    budget left)`) against the day's budget, and records the run — only if autopilot is
//!    still enabled. A refused check records a `skipped` run saying why.
//! 2. **concepts** from trends (under the same "still enabled" condition), the **pick** by
//!    Thompson sampling on the tenant's learner, then the **video** job with the run's id as
//!    its Idempotency-Key, its budget the reservation, again only while enabled.
//! 3. when the job ends the day's budget is **settled** to what the video cost plus the
//!    concepts' hold (a model's price is known only as an upper bound here), in the write
//!    that moves the run on; the video is placed on the next account of the pool at the hour
//!    the learner likes best, and posted — or waits for a person's approval.
//!
//! Every step is recorded before the next and is idempotent, so a tick that dies is resumed by
//! the next one without paying twice.

use std::hash::{Hash, Hasher};

use serde_json::{Value, json};

use crate::clock::{Clock, Timestamp};
use crate::domain::account::{AccountStatus, Platform};
use crate::domain::autopilot::{
    self, Approval, Ask, CONCEPTS_PER_RUN, Candidate, Picker, Placement, Run, RunStatus, Settings,
    Slot,
};
use crate::domain::concept::Concept;
use crate::domain::learner::Rng;
use crate::domain::publish_limits::PublishLimits;
use crate::domain::routing::ProviderProfile;
use crate::domain::{JobSpec, JobStatus, Tenant, keys};
use crate::error::{Error, Result};
use crate::ids::{is_valid_id, new_id};
use crate::ports::{
    ConceptWriter, Cond, Item, ItemStore, Query, TrendSource, Update, Workflow, Write,
};
use crate::service::concepts::{self, ConceptRequest};
use crate::service::{accounts, learning, posts, tenants, usage, videos, webhooks};

const SETTINGS_SK: &str = "AUTOPILOT";
const RUN_PREFIX: &str = "AUTORUN#";
/// How long a run waits on a step that cannot answer (a concept batch whose first write failed)
/// before it ends.
const GIVE_UP_MS: i64 = 10 * 60 * 1000;
/// Tenants whose autopilot is on, or still has runs under way.
const ACTIVE_GSI: &str = "AUTOPILOT#ACTIVE";

/// A stored item that does not read back: the store's fault, not the caller's.
fn corrupt(what: String) -> Error {
    Error::Store(crate::ports::StoreError::Backend(what))
}

fn run_sk(id: &str) -> String {
    format!("{RUN_PREFIX}{id}")
}

fn day_sk(day: &str) -> String {
    format!("AUTOPILOT#DAY#{day}")
}

fn slot_sk(slot: &str) -> String {
    format!("AUTOPILOT#SLOT#{slot}")
}

/// A tenant's settings as stored, with their state.
#[derive(Clone, Debug, PartialEq)]
pub struct Stored {
    pub settings: Settings,
    pub updated_at: Timestamp,
    pub paused_at: Option<Timestamp>,
    pub version: u64,
    /// In the index of tenants the scheduler ticks (on, or runs under way).
    pub active: bool,
}

/// Platforms whose terms want a person to confirm each post: TikTok's Content Posting
/// guidelines require the user's express consent to every upload, so its posts always wait
/// for review.
pub fn approval_for(settings: &Settings, platform: Platform) -> Approval {
    match platform {
        Platform::Tiktok => Approval::Review,
        _ => settings.approval,
    }
}

pub async fn get(store: &dyn ItemStore, tenant_id: &str) -> Result<Option<Stored>> {
    let Some(item) = store.get(&keys::tenant_pk(tenant_id), SETTINGS_SK).await? else {
        return Ok(None);
    };
    let settings: Settings =
        serde_json::from_value(item.attrs.get("settings").cloned().unwrap_or(Value::Null))
            .map_err(|e| corrupt(format!("autopilot settings do not decode: {e}")))?;
    Ok(Some(Stored {
        settings,
        updated_at: Timestamp(item.int("updated_at").unwrap_or(0)),
        paused_at: item.int("paused_at").map(Timestamp),
        version: item.version,
        active: item.gsi1.is_some(),
    }))
}

fn settings_item(tenant_id: &str, s: &Stored, active: bool) -> Item {
    let mut item = Item::new(keys::tenant_pk(tenant_id), SETTINGS_SK)
        .with(
            "settings",
            serde_json::to_value(&s.settings).unwrap_or(Value::Null),
        )
        .with("enabled", s.settings.enabled)
        .with("updated_at", s.updated_at.millis());
    if let Some(p) = s.paused_at {
        item = item.with("paused_at", p.millis());
    }
    if active {
        item = item.with_gsi1(ACTIVE_GSI, tenant_id);
    }
    item.version = s.version;
    item
}

async fn save_settings(
    store: &dyn ItemStore,
    tenant_id: &str,
    prev: Option<u64>,
    mut next: Stored,
    active: bool,
) -> Result<Stored> {
    next.version = prev.map_or(1, |v| v + 1);
    next.active = active;
    let cond = prev.map_or(Cond::Absent, Cond::VersionIs);
    match store
        .put(settings_item(tenant_id, &next, active), cond)
        .await
    {
        Ok(()) => Ok(next),
        Err(crate::ports::StoreError::ConditionFailed { .. }) => Err(Error::Conflict(
            "autopilot's settings changed meanwhile; read them and retry".into(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// Sets the tenant's autopilot. Every target must be one of its connected accounts.
pub async fn put(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    settings: Settings,
) -> Result<Stored> {
    settings.check()?;
    for id in &settings.targets {
        match accounts::get(store, tenant_id, id).await {
            Ok(_) => {}
            Err(Error::NotFound(_)) => {
                return Err(Error::Invalid(format!(
                    "targets: {id} is not one of this tenant's connected accounts"
                )));
            }
            Err(e) => return Err(e),
        }
    }
    let prev = get(store, tenant_id).await?;
    let now = clock.now();
    let paused_at = match (&prev, settings.enabled) {
        (_, true) => None,
        (Some(p), false) => p.paused_at.or(Some(now)),
        (None, false) => None,
    };
    let enabled = settings.enabled;
    let next = Stored {
        settings,
        updated_at: now,
        paused_at,
        version: 0,
        active: false,
    };
    let active = enabled || !open_runs(store, tenant_id).await?.is_empty();
    save_settings(store, tenant_id, prev.map(|p| p.version), next, active).await
}

/// Makes the tenant's schedule match its settings: at its run hours while enabled or while
/// runs are still under way (`open`: they must be moved on to their end; the tick removes the
/// schedule once a paused tenant has none), none otherwise. Called after every change of the
/// settings (a failure is the caller's 503: the settings are saved, sending them again
/// repairs the schedule).
pub async fn sync_schedule(
    schedules: &dyn crate::ports::AutopilotSchedules,
    tenant_id: &str,
    stored: &Stored,
    open: bool,
) -> Result<()> {
    let s = &stored.settings;
    if s.enabled || open {
        schedules
            .ensure(tenant_id, &s.slot_hours(), &s.timezone)
            .await?;
    } else {
        schedules.remove(tenant_id).await?;
    }
    Ok(())
}

/// What pausing did.
#[derive(Debug)]
pub struct Paused {
    pub stored: Stored,
    /// Scheduled autopilot posts taken back.
    pub cancelled_posts: Vec<String>,
    /// Runs ended at once (waiting for review); runs mid-way stop at their next step.
    pub stopped_runs: Vec<String>,
    /// Runs still under way (a video rendering): ticks must go on until they end.
    pub still_open: usize,
}

/// The kill switch: effective for every paid step from now on (each is written under the
/// condition that autopilot is enabled), takes back autopilot's scheduled posts, and ends runs
/// that wait for review.
pub async fn pause(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    limits: &PublishLimits,
    tenant_id: &str,
) -> Result<Paused> {
    let Some(prev) = get(store, tenant_id).await? else {
        return Err(Error::NotFound("autopilot"));
    };
    let now = clock.now();
    let mut next = prev.clone();
    next.settings.enabled = false;
    next.paused_at = prev.paused_at.or(Some(now));
    next.updated_at = now;
    let open = open_runs(store, tenant_id).await?;
    let stored =
        save_settings(store, tenant_id, Some(prev.version), next, !open.is_empty()).await?;
    let mut stopped_runs = Vec::new();
    for (run, version) in open {
        if run.status == RunStatus::AwaitingReview {
            let mut r = run.clone();
            r.status = RunStatus::Stopped;
            r.reason = Some("autopilot was paused; the video is kept, not posted".into());
            if save_run(store, clock, None, tenant_id, r, version, None)
                .await
                .is_ok()
            {
                stopped_runs.push(run.id);
            }
        }
    }
    let mut cancelled_posts = Vec::new();
    let (recent, _) = list_runs(store, tenant_id, 100, None).await?;
    for run in recent.iter().filter(|r| r.status == RunStatus::Posted) {
        for id in &run.posts {
            let Ok(post) = posts::get(store, tenant_id, id).await else {
                continue;
            };
            if post.status == crate::domain::post::PostStatus::Scheduled
                && posts::cancel(store, clock, limits, tenant_id, id)
                    .await
                    .is_ok()
            {
                cancelled_posts.push(id.clone());
            }
        }
    }
    let still_open = open_runs(store, tenant_id)
        .await?
        .iter()
        .filter(|(r, _)| r.status != RunStatus::AwaitingReview)
        .count();
    Ok(Paused {
        stored,
        cancelled_posts,
        stopped_runs,
        still_open,
    })
}

fn decode_run(item: &Item) -> Option<Run> {
    serde_json::from_value(item.attrs.get("run")?.clone()).ok()
}

/// The audit feed: the tenant's runs, newest first.
pub async fn list_runs(
    store: &dyn ItemStore,
    tenant_id: &str,
    limit: usize,
    cursor: Option<String>,
) -> Result<(Vec<Run>, Option<String>)> {
    let page = store
        .query(
            Query::new(keys::tenant_pk(tenant_id), RUN_PREFIX)
                .descending()
                .limit(limit)
                .after(cursor),
        )
        .await?;
    let runs = Item::decode_all(&page.items, "autopilot run", decode_run);
    Ok((runs, page.next_cursor))
}

async fn get_run_versioned(store: &dyn ItemStore, tenant_id: &str, id: &str) -> Result<(Run, u64)> {
    if !is_valid_id("run", id) {
        return Err(Error::NotFound("autopilot run"));
    }
    let item = store
        .get(&keys::tenant_pk(tenant_id), &run_sk(id))
        .await?
        .ok_or(Error::NotFound("autopilot run"))?;
    let run =
        decode_run(&item).ok_or_else(|| corrupt(format!("autopilot run {id} does not decode")))?;
    Ok((run, item.version))
}

pub async fn get_run(store: &dyn ItemStore, tenant_id: &str, id: &str) -> Result<Run> {
    Ok(get_run_versioned(store, tenant_id, id).await?.0)
}

/// Runs not yet ended, with their versions (the newest 50 are looked at: a tenant has at most
/// a day's slots under way).
async fn open_runs(store: &dyn ItemStore, tenant_id: &str) -> Result<Vec<(Run, u64)>> {
    let page = store
        .query(
            Query::new(keys::tenant_pk(tenant_id), RUN_PREFIX)
                .descending()
                .limit(50),
        )
        .await?;
    Ok(page
        .items
        .iter()
        .filter_map(|i| decode_run(i).map(|r| (r, i.version)))
        .filter(|(r, _)| !r.status.is_terminal())
        .collect())
}

fn run_item(tenant_id: &str, run: &Run, version: u64) -> Item {
    let mut item = Item::new(keys::tenant_pk(tenant_id), run_sk(&run.id))
        .with("run", serde_json::to_value(run).unwrap_or(Value::Null))
        .with("status", run.status.as_str());
    item.version = version;
    item
}

/// Writes `run` over `version` (with `also` in the same transaction), and tells the tenant's
/// webhooks when it ended or waits for a person (linking the dashboard's review page when
/// `dashboard_url` is known: a run only comes to wait for review under a [`Runner`]).
async fn save_run(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    dashboard_url: Option<&str>,
    tenant_id: &str,
    mut run: Run,
    version: u64,
    also: Option<Write>,
) -> Result<(Run, u64)> {
    run.updated_at = clock.now().rfc3339();
    let mut writes = vec![Write::Put(
        run_item(tenant_id, &run, version + 1),
        Cond::VersionIs(version),
    )];
    writes.extend(also);
    match store.transact(writes).await {
        Ok(()) => {}
        Err(crate::ports::StoreError::ConditionFailed { .. }) => {
            return Err(Error::Conflict("the run changed meanwhile".into()));
        }
        Err(e) => return Err(e.into()),
    }
    if run.status.is_terminal() || run.status == RunStatus::AwaitingReview {
        webhooks::emit(
            store,
            clock,
            tenant_id,
            "autopilot.run_finished",
            json!({
                "run_id": run.id,
                "status": run.status.as_str(),
                "reason": run.reason,
                "job_id": run.job_id,
                "posts": run.posts,
                "cost_cents": run.cost_cents,
                "approve": (run.status == RunStatus::AwaitingReview)
                    .then(|| format!("POST /v1/autopilot/runs/{}/approve", run.id)),
                // The dashboard page with the run's one-click approve: the link a person
                // follows from the webhook's receiver (a chat message, an email).
                "review_page": (run.status == RunStatus::AwaitingReview).then(|| {
                    format!(
                        "{}/autopilot?run={}",
                        dashboard_url.unwrap_or_default().trim_end_matches('/'),
                        run.id
                    )
                }),
            }),
        )
        .await;
    }
    Ok((run, version + 1))
}

/// Gives back what a run holds of its day's budget beyond `spent`.
fn settle(tenant_id: &str, run: &Run, spent: u32) -> Option<Write> {
    let day = run.slot.split('#').next().unwrap_or_default();
    let delta = i64::from(spent) - i64::from(run.reserved_cents);
    (delta != 0).then(|| {
        Write::Update(
            Update::new(keys::tenant_pk(tenant_id), day_sk(day)).add("committed_cents", delta),
        )
    })
}

/// The condition every paid step is written under: autopilot is still on.
fn still_enabled(tenant_id: &str) -> Write {
    Write::Check {
        pk: keys::tenant_pk(tenant_id),
        sk: SETTINGS_SK.into(),
        cond: Cond::AttrEquals("enabled".into(), Value::Bool(true)),
    }
}

/// A person approves a run waiting for review: its video is posted. `privacy` is the
/// person's choice where the platform wants one (TikTok offers no default). Approving a run
/// whose approval is being posted carries on with it (the answer to a retried request).
pub async fn approve(
    runner: &Runner<'_>,
    tenant_id: &str,
    id: &str,
    privacy: Option<String>,
) -> Result<Run> {
    let (mut run, version) = get_run_versioned(runner.store, tenant_id, id).await?;
    if run.status == RunStatus::Posting && run.approved {
        return runner.post(tenant_id, run, version).await;
    }
    if run.status != RunStatus::AwaitingReview {
        return Err(review_state(&run));
    }
    let Some(placement) = run.placement.as_mut() else {
        return Err(corrupt(format!("run {id} has no placement")));
    };
    // The platform's privacy rules, checked before anything changes (a refusal is a 422 and
    // the run keeps waiting).
    let platform = crate::domain::account::Platform::parse(&placement.platform)
        .ok_or_else(|| corrupt(format!("run {id} names no platform")))?;
    let rules = crate::domain::post::limits(platform);
    match (privacy.as_deref(), rules.default_privacy) {
        (Some(p), _) if !rules.privacy.contains(&p) => {
            return Err(Error::Invalid(format!(
                "privacy {p:?} is not one of {}'s: {}",
                platform.as_str(),
                rules.privacy.join(", ")
            )));
        }
        (None, None) => {
            return Err(Error::Invalid(format!(
                "privacy is required for {}: choose one of the creator's options ({})",
                platform.as_str(),
                rules.privacy.join(", ")
            )));
        }
        _ => {}
    }
    placement.privacy = privacy;
    // Approved late: a time that has passed means now. Fixed here, so that a retried post
    // sends exactly the same request.
    let now = runner.clock.now();
    if placement
        .schedule_at
        .as_deref()
        .and_then(Timestamp::parse_rfc3339)
        .is_some_and(|at| at <= now)
    {
        placement.schedule_at = None;
    }
    run.status = RunStatus::Posting;
    run.approved = true;
    run.reason = Some("approved".into());
    let (run, version) = runner.save(tenant_id, run, version, None).await?;
    runner.post(tenant_id, run, version).await
}

/// A person rejects a run waiting for review: nothing is posted; the video is kept.
pub async fn reject(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    id: &str,
) -> Result<Run> {
    let (mut run, version) = get_run_versioned(store, tenant_id, id).await?;
    if run.status != RunStatus::AwaitingReview {
        return Err(review_state(&run));
    }
    run.status = RunStatus::Rejected;
    run.reason = Some("rejected by a person; the video is kept, not posted".into());
    Ok(save_run(store, clock, None, tenant_id, run, version, None)
        .await?
        .0)
}

fn review_state(run: &Run) -> Error {
    Error::State {
        code: "run_not_awaiting_review",
        message: format!(
            "this run is {}; only a run awaiting review can be approved or rejected",
            run.status.as_str()
        ),
    }
}

/// What one tick did for one tenant.
#[derive(Debug, Default)]
pub struct Ticked {
    pub started: Option<Run>,
    pub advanced: usize,
    /// Runs still under way after the tick that a later tick moves on (not those waiting for
    /// a person).
    pub open: usize,
    /// Whether autopilot is on (a paused tenant with nothing under way needs no schedule).
    pub enabled: bool,
}

/// What runs autopilot: the ports a run uses, and how it picks.
pub struct Runner<'a> {
    pub store: &'a dyn ItemStore,
    pub clock: &'a dyn Clock,
    pub trends: &'a dyn TrendSource,
    pub writer: &'a dyn ConceptWriter,
    pub workflow: &'a dyn Workflow,
    pub profiles: &'a [ProviderProfile],
    /// Platforms this deployment can post to.
    pub platforms: &'a [Platform],
    pub picker: Picker,
    /// Fixed seed for reproducible picks (`viral simulate`); random otherwise.
    pub seed: Option<u64>,
    /// The dashboard's base URL (`VIRAL_PUBLIC_URL`): webhooks link a run's review page under it.
    pub dashboard_url: &'a str,
}

fn hash64(seed: u64, s: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    s.hash(&mut h);
    h.finish()
}

/// Whole days since 1970 of a `YYYY-MM-DD` day, for taking accounts in turn.
fn day_number(day: &str) -> usize {
    day.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| d.since(jiff::civil::date(1970, 1, 1)).ok())
        .map_or(0, |span| span.get_days().max(0) as usize)
}

impl Runner<'_> {
    /// [`save_run`] with this runner's store, clock and dashboard.
    async fn save(
        &self,
        tenant_id: &str,
        run: Run,
        version: u64,
        also: Option<Write>,
    ) -> Result<(Run, u64)> {
        save_run(
            self.store,
            self.clock,
            Some(self.dashboard_url),
            tenant_id,
            run,
            version,
            also,
        )
        .await
    }

    /// A run's random draws: from the OS, or from the fixed seed and the run's slot.
    fn rng(&self, slot: &str, what: &str) -> Rng {
        let seed = self
            .seed
            .unwrap_or_else(|| u64::from_le_bytes(crate::ids::random_bytes::<8>()));
        Rng::new(hash64(seed, &format!("{slot}/{what}")))
    }

    /// Every tenant whose autopilot is on or has runs under way, one tick each; one tenant's
    /// failure is logged and does not stop the others.
    pub async fn tick_all(&self) -> Result<usize> {
        let mut cursor = None;
        let mut ticked = 0;
        loop {
            let page = self
                .store
                .query_gsi1(Query::new(ACTIVE_GSI, "").limit(100).after(cursor))
                .await?;
            for item in &page.items {
                let Some((_, tenant_id)) = &item.gsi1 else {
                    continue;
                };
                match self.tick(tenant_id).await {
                    Ok(_) => ticked += 1,
                    Err(e) => tracing::warn!(tenant_id, error = %e, "autopilot tick failed"),
                }
            }
            if page.next_cursor.is_none() {
                return Ok(ticked);
            }
            cursor = page.next_cursor;
        }
    }

    /// One tick of one tenant: moves its runs under way on, then starts the run of a due slot.
    pub async fn tick(&self, tenant_id: &str) -> Result<Ticked> {
        let mut out = Ticked::default();
        let Some(stored) = get(self.store, tenant_id).await? else {
            return Ok(out);
        };
        out.enabled = stored.settings.enabled;
        for (run, version) in open_runs(self.store, tenant_id).await? {
            if run.status != RunStatus::AwaitingReview {
                // Another tick moving the same run on is not a failure: it did the step. A run
                // that cannot move now is logged and tried again next tick; it holds back
                // neither the tenant's other runs nor its next slot.
                let id = run.id.clone();
                match self.advance(tenant_id, &stored, run, version).await {
                    Ok(_) => out.advanced += 1,
                    Err(Error::Conflict(_)) => {}
                    Err(e) => {
                        tracing::warn!(tenant_id, run_id = %id, error = %e, "an autopilot run could not move on");
                    }
                }
            }
        }
        if stored.settings.enabled {
            let now = self.clock.now();
            for slot in autopilot::due_slots(&stored.settings, now) {
                let claimed = self
                    .store
                    .get(&keys::tenant_pk(tenant_id), &slot_sk(&slot.key()))
                    .await?
                    .is_some();
                if !claimed {
                    out.started = self.start(tenant_id, &stored, slot).await?;
                    break;
                }
            }
        } else if stored.active && open_runs(self.store, tenant_id).await?.is_empty() {
            // Paused and nothing under way: out of the active index (put refuses if it changed).
            let _ = save_settings(
                self.store,
                tenant_id,
                Some(stored.version),
                stored.clone(),
                false,
            )
            .await;
        }
        out.open = open_runs(self.store, tenant_id)
            .await?
            .iter()
            .filter(|(r, _)| r.status != RunStatus::AwaitingReview)
            .count();
        Ok(out)
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Tenant> {
        tenants::get_tenant(self.store, tenant_id)
            .await?
            .ok_or(Error::NotFound("tenant"))
    }

    /// Claims `slot` and reserves its budget, or records why it is skipped; then goes on.
    async fn start(&self, tenant_id: &str, stored: &Stored, slot: Slot) -> Result<Option<Run>> {
        let s = &stored.settings;
        let now = self.clock.now();
        let tenant = self.tenant(tenant_id).await?;
        let pk = keys::tenant_pk(tenant_id);
        let account_id = s.targets
            [(day_number(&slot.day) * s.slot_hours().len() + slot.index) % s.targets.len()]
        .clone();
        let mut run = Run {
            id: new_id("run"),
            slot: slot.key(),
            status: RunStatus::Started,
            picker: self.picker.name().into(),
            started_at: now.rfc3339(),
            updated_at: now.rfc3339(),
            reason: None,
            reserved_cents: 0,
            writing_cents: 0,
            cost_cents: None,
            trend_source: None,
            trends: vec![],
            concepts: vec![],
            pick: None,
            why: None,
            job_id: None,
            placement: None,
            posts: vec![],
            ask: None,
            approved: false,
        };
        let committed = self
            .store
            .get(&pk, &day_sk(&slot.day))
            .await?
            .and_then(|i| i.int("committed_cents"))
            .unwrap_or(0)
            .max(0) as u32;
        let left = s.daily_budget_cents.saturating_sub(committed);
        let probe = JobSpec {
            prompt: "autopilot estimate".into(),
            concept_id: None,
            provider: "auto".into(),
            platforms: crate::domain::concept::PLATFORMS
                .map(str::to_owned)
                .to_vec(),
            duration_s: s.duration_s,
            narration: None,
        };
        let skip = match self.blocker(&tenant, &account_id).await? {
            Some(why) => Some(why),
            None => match videos::estimate(self.store, self.clock, &tenant, &probe, self.profiles)
                .await?
            {
                videos::Estimate {
                    decision: Err(e), ..
                } => Some(e.to_string()),
                videos::Estimate {
                    decision: Ok(route),
                    budget_cents,
                    ..
                } => {
                    // A paid concept writer is spent before the video: both must fit.
                    let writing = self.writer.max_cost_cents(CONCEPTS_PER_RUN);
                    if route.estimated_cost_cents.saturating_add(writing) > left {
                        Some(if writing == 0 {
                            format!(
                                "daily budget: ${:.2} left today, the video is estimated at ${:.2}",
                                f64::from(left) / 100.0,
                                f64::from(route.estimated_cost_cents) / 100.0
                            )
                        } else {
                            format!(
                                "daily budget: ${:.2} left today, the video is estimated at ${:.2} \
                                 and writing its concepts at up to ${:.2}",
                                f64::from(left) / 100.0,
                                f64::from(route.estimated_cost_cents) / 100.0,
                                f64::from(writing) / 100.0
                            )
                        })
                    } else {
                        run.writing_cents = writing;
                        run.reserved_cents = writing + budget_cents.min(left - writing);
                        None
                    }
                }
            },
        };
        let mut claim_item = Item::new(&pk, slot_sk(&slot.key())).with("run_id", run.id.as_str());
        claim_item.expires_at = Some(slot.at.secs() + 40 * 86_400);
        let claim = Write::Put(claim_item, Cond::Absent);
        if let Some(why) = skip {
            run.status = RunStatus::Skipped;
            run.reason = Some(why);
            let writes = vec![
                claim,
                Write::Put(run_item(tenant_id, &run, 1), Cond::Absent),
            ];
            return match self.store.transact(writes).await {
                Ok(()) => {
                    self.finished(tenant_id, &run).await;
                    Ok(Some(run))
                }
                Err(crate::ports::StoreError::ConditionFailed { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            };
        }
        // One write: the settings unchanged, the slot not yet run, the reservation within the
        // day's budget.
        let budget = i64::from(s.daily_budget_cents);
        let reserve = i64::from(run.reserved_cents);
        let writes = vec![
            // The settings this decision was made on, unchanged (enabled, the same budget).
            Write::Check {
                pk: pk.clone(),
                sk: SETTINGS_SK.into(),
                cond: Cond::VersionIs(stored.version),
            },
            claim,
            Write::Update(
                Update::new(&pk, day_sk(&slot.day))
                    .add("committed_cents", reserve)
                    .add("runs", 1)
                    .expires_at(slot.at.secs() + 40 * 86_400)
                    .when(Cond::below("committed_cents", budget - reserve + 1)),
            ),
            Write::Put(run_item(tenant_id, &run, 1), Cond::Absent),
        ];
        match self.store.transact(writes).await {
            Ok(()) => {}
            // Paused, run by another tick, or spent meanwhile: the next tick sees which.
            Err(crate::ports::StoreError::ConditionFailed { .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        match self
            .proceed(tenant_id, &tenant, stored, run.clone(), 1)
            .await
        {
            Ok(run) => Ok(Some(run)),
            // Another tick took the new run on (every step is idempotent).
            Err(Error::Conflict(_)) => Ok(Some(run)),
            Err(e) => Err(e),
        }
    }

    async fn finished(&self, tenant_id: &str, run: &Run) {
        webhooks::emit(
            self.store,
            self.clock,
            tenant_id,
            "autopilot.run_finished",
            json!({"run_id": run.id, "status": run.status.as_str(), "reason": run.reason}),
        )
        .await;
    }

    /// What stops a run before it spends: the account, or the plan's quotas.
    async fn blocker(&self, tenant: &Tenant, account_id: &str) -> Result<Option<String>> {
        match accounts::get(self.store, &tenant.id, account_id).await {
            Err(Error::NotFound(_)) => {
                return Ok(Some(format!(
                    "account {account_id} was removed; choose targets again"
                )));
            }
            Err(e) => return Err(e),
            Ok(a) if a.status == AccountStatus::NeedsReconnect => {
                return Ok(Some(format!(
                    "account {account_id} ({}) must be connected again",
                    a.platform.as_str()
                )));
            }
            Ok(a) if !self.platforms.contains(&a.platform) => {
                return Ok(Some(format!(
                    "this deployment cannot post to {}",
                    a.platform.as_str()
                )));
            }
            Ok(_) => {}
        }
        let u = usage::current_usage(self.store, self.clock, tenant).await?;
        if u.concepts.remaining() < 1 {
            return Ok(Some(format!(
                "concept quota spent for this period ({} of {}); it resets {}",
                u.concepts.used,
                u.concepts.limit,
                u.resets_at.rfc3339()
            )));
        }
        Ok(None)
    }

    /// Moves a run that is under way one step on.
    async fn advance(
        &self,
        tenant_id: &str,
        stored: &Stored,
        run: Run,
        version: u64,
    ) -> Result<Run> {
        match run.status {
            RunStatus::Started => {
                let tenant = self.tenant(tenant_id).await?;
                self.proceed(tenant_id, &tenant, stored, run, version).await
            }
            RunStatus::Rendering => self.rendered(tenant_id, stored, run, version).await,
            RunStatus::Posting => self.post(tenant_id, run, version).await,
            _ => Ok(run),
        }
    }

    /// Ends a run before its video, giving back what it reserved beyond `spent` (what writing
    /// its concepts may have cost, once the writer was asked).
    async fn end_unspent(
        &self,
        tenant_id: &str,
        mut run: Run,
        version: u64,
        status: RunStatus,
        why: String,
        spent: u32,
    ) -> Result<Run> {
        let also = settle(tenant_id, &run, spent);
        run.status = status;
        run.reason = Some(why);
        run.cost_cents = Some(spent);
        Ok(self.save(tenant_id, run, version, also).await?.0)
    }

    /// Concepts, the pick, the video: from a started run to a rendering one.
    async fn proceed(
        &self,
        tenant_id: &str,
        tenant: &Tenant,
        stored: &Stored,
        mut run: Run,
        version: u64,
    ) -> Result<Run> {
        let s = &stored.settings;
        // 1. What to ask the writer, recorded first: a resumed run asks the same.
        let (mut run, mut version) = match run.ask {
            Some(_) => (run, version),
            None => {
                let u = usage::current_usage(self.store, self.clock, tenant).await?;
                run.ask = Some(Ask {
                    category: if s.categories.is_empty() {
                        None
                    } else {
                        let mut rng = self.rng(&run.slot, "category");
                        Some(s.categories[rng.below(s.categories.len())].clone())
                    },
                    region: s.regions.first().cloned(),
                    count: CONCEPTS_PER_RUN.min(u.concepts.remaining().max(1) as usize),
                    duration_s: s.duration_s,
                    niche: s.niche.clone(),
                });
                self.save(tenant_id, run, version, None).await?
            }
        };
        // 2. The concepts and the pick, unless the pick is recorded already.
        let chosen: Concept = match run.pick.clone() {
            Some(id) => concepts::get(self.store, tenant_id, &id).await?,
            None => {
                let ask = run.ask.clone().unwrap_or(Ask {
                    category: None,
                    region: None,
                    count: CONCEPTS_PER_RUN,
                    duration_s: s.duration_s,
                    niche: None,
                });
                let request = ConceptRequest {
                    topics: vec![],
                    region: ask.region,
                    category: ask.category,
                    count: ask.count,
                    duration_s: ask.duration_s,
                    niche: ask.niche,
                };
                let batch = match concepts::generate_guarded(
                    self.store,
                    self.clock,
                    tenant,
                    request,
                    Some(&run.id),
                    self.trends,
                    self.writer,
                    Some(still_enabled(tenant_id)),
                )
                .await
                {
                    Ok(g) => g.batch,
                    Err(Error::State {
                        code: "precondition_failed",
                        ..
                    }) => {
                        let why = "autopilot was paused before anything was spent".to_owned();
                        return self
                            .end_unspent(tenant_id, run, version, RunStatus::Stopped, why, 0)
                            .await;
                    }
                    Err(e @ (Error::QuotaExceeded { .. } | Error::Invalid(_))) => {
                        let why = format!("no concepts: {e}");
                        return self
                            .end_unspent(tenant_id, run, version, RunStatus::Skipped, why, 0)
                            .await;
                    }
                    // The writer may have been paid before its answer proved unusable.
                    Err(e @ Error::Source(_)) => {
                        let why = format!("no concepts: {e}");
                        let spent = run.writing_cents;
                        return self
                            .end_unspent(tenant_id, run, version, RunStatus::Skipped, why, spent)
                            .await;
                    }
                    // A first attempt whose batch failed to be written (and was refunded)
                    // keeps its key: after a while the run ends instead of waiting on it.
                    Err(Error::Conflict(why)) => {
                        let started =
                            Timestamp::parse_rfc3339(&run.started_at).unwrap_or(self.clock.now());
                        if self.clock.now().millis() - started.millis() < GIVE_UP_MS {
                            return Ok(run);
                        }
                        let why = format!("no concepts: {why}");
                        let spent = run.writing_cents;
                        return self
                            .end_unspent(tenant_id, run, version, RunStatus::Skipped, why, spent)
                            .await;
                    }
                    Err(e) => return Err(e),
                };
                let learner = learning::learner(self.store, tenant_id).await?;
                let options: Vec<Vec<String>> = batch
                    .concepts
                    .iter()
                    .map(|c| c.kind().features().to_vec())
                    .collect();
                let mut rng = self.rng(&run.slot, "concept");
                let (best, scored) = autopilot::pick(self.picker, &learner, &options, &mut rng);
                let chosen = batch.concepts[best].clone();
                run.trend_source = Some(batch.trend_source.clone());
                run.trends = batch
                    .concepts
                    .iter()
                    .flat_map(|c| c.trends.iter().map(|t| t.title.clone()))
                    .fold(Vec::new(), |mut v, t| {
                        if !v.contains(&t) {
                            v.push(t);
                        }
                        v
                    });
                run.concepts = batch
                    .concepts
                    .iter()
                    .zip(scored)
                    .map(|(c, scores)| Candidate {
                        concept_id: c.id.clone(),
                        title: c.title.clone(),
                        category: c.category.clone(),
                        format: c.format.clone(),
                        hook_style: c.hook_style.clone(),
                        scores,
                    })
                    .collect();
                let sc = &run.concepts[best].scores;
                run.why = Some(match self.picker {
                    Picker::Thompson => format!(
                        "highest Thompson draw {:.3} of {}: expected engagement {:.3} ± {:.3} — it looks best or is still worth trying",
                        sc.draw,
                        run.concepts.len(),
                        sc.expected,
                        sc.sd
                    ),
                    Picker::Random => "picked at random (simulation baseline)".into(),
                    Picker::Oracle(_) => format!(
                        "the simulated audience's true best ({:.3}; simulation ceiling)",
                        sc.draw
                    ),
                });
                run.pick = Some(chosen.id.clone());
                // The intent, recorded before the paid call.
                (run, version) = self.save(tenant_id, run, version, None).await?;
                chosen
            }
        };
        let spec = JobSpec {
            prompt: chosen.video_prompt(),
            concept_id: Some(chosen.id.clone()),
            provider: "auto".into(),
            platforms: chosen.platforms.clone(),
            duration_s: run.ask.as_ref().map_or(s.duration_s, |a| a.duration_s),
            narration: None,
        };
        let accepted = videos::accept_within(
            self.store,
            self.clock,
            tenant,
            spec,
            Some(&run.id),
            self.profiles,
            videos::Within {
                budget_cents: Some(run.reserved_cents.saturating_sub(run.writing_cents)),
                guard: Some(still_enabled(tenant_id)),
            },
        )
        .await;
        let job = match accepted {
            Ok(a) => a.job,
            Err(Error::State {
                code: "precondition_failed",
                ..
            }) => {
                let why = "autopilot was paused before the video was started".to_owned();
                let spent = run.writing_cents;
                return self
                    .end_unspent(tenant_id, run, version, RunStatus::Stopped, why, spent)
                    .await;
            }
            Err(
                e @ (Error::QuotaExceeded { .. }
                | Error::CostCapExceeded(_)
                | Error::ProviderNotInPlan(_)
                | Error::Invalid(_)),
            ) => {
                let why = format!("no video: {e}");
                let spent = run.writing_cents;
                return self
                    .end_unspent(tenant_id, run, version, RunStatus::Skipped, why, spent)
                    .await;
            }
            Err(e) => return Err(e),
        };
        run.job_id = Some(job.id.clone());
        run.status = RunStatus::Rendering;
        let (run, _) = self.save(tenant_id, run, version, None).await?;
        // Idempotent: the execution is named after the job.
        self.workflow.start_job(tenant_id, &job.id).await?;
        Ok(run)
    }

    /// A rendering run whose job ended: the budget settled to the video's cost, and the video
    /// placed (posted, or waiting for review), or the run ended.
    async fn rendered(
        &self,
        tenant_id: &str,
        stored: &Stored,
        mut run: Run,
        version: u64,
    ) -> Result<Run> {
        let job_id = run.job_id.clone().unwrap_or_default();
        let job = videos::get(self.store, tenant_id, &job_id).await?;
        if !job.status.is_terminal() {
            // A start lost after the job was accepted: starting is idempotent (the execution
            // is named after the job), so the run never waits on a job nobody runs.
            self.workflow.start_job(tenant_id, &job_id).await?;
            return Ok(run);
        }
        let spent = job.spent_cents.saturating_add(run.writing_cents);
        let also = settle(tenant_id, &run, spent);
        run.cost_cents = Some(spent);
        if job.status != JobStatus::Succeeded {
            run.status = RunStatus::Failed;
            run.reason = Some(format!(
                "the video failed: {}",
                job.failure.as_deref().unwrap_or("no reason given")
            ));
            return Ok(self.save(tenant_id, run, version, also).await?.0);
        }
        if !stored.settings.enabled {
            run.status = RunStatus::Stopped;
            run.reason = Some("autopilot was paused; the video is kept, not posted".into());
            return Ok(self.save(tenant_id, run, version, also).await?.0);
        }
        let placement = match self.place(tenant_id, stored, &run).await {
            Ok(p) => p,
            Err(Error::NotFound(_)) => {
                run.status = RunStatus::Failed;
                run.reason = Some(
                    "the account to post to was removed while the video was made; the video is kept"
                        .into(),
                );
                return Ok(self.save(tenant_id, run, version, also).await?.0);
            }
            Err(e) => return Err(e),
        };
        run.status = match placement.approval {
            Approval::Review => RunStatus::AwaitingReview,
            Approval::Auto => RunStatus::Posting,
        };
        run.reason = (placement.approval == Approval::Review).then(|| {
            format!(
                "waiting for a person to approve ({}): POST /v1/autopilot/runs/{}/approve",
                if placement.platform == "tiktok" {
                    "TikTok requires the creator's consent to each post"
                } else {
                    "approval is set to review"
                },
                run.id
            )
        });
        run.placement = Some(placement);
        let (run, version) = self.save(tenant_id, run, version, also).await?;
        if run.status == RunStatus::Posting {
            return self.post(tenant_id, run, version).await;
        }
        Ok(run)
    }

    /// The account (the slot's turn in the pool) and the hour (the learner's pick among the
    /// waking hours of the next day).
    async fn place(&self, tenant_id: &str, stored: &Stored, run: &Run) -> Result<Placement> {
        let s = &stored.settings;
        let slot = run.slot.split('#').collect::<Vec<_>>();
        let (day, index) = (
            slot.first().copied().unwrap_or_default(),
            slot.get(1)
                .and_then(|i| i.parse::<usize>().ok())
                .unwrap_or(0),
        );
        let account_id =
            s.targets[(day_number(day) * s.slot_hours().len() + index) % s.targets.len()].clone();
        let account = accounts::get(self.store, tenant_id, &account_id).await?;
        let now = self.clock.now();
        let times = autopilot::posting_times(s, now);
        let learner = learning::learner(self.store, tenant_id).await?;
        let mut features: Vec<String> = run
            .concepts
            .iter()
            .find(|c| Some(&c.concept_id) == run.pick.as_ref())
            .map(|c| {
                vec![
                    format!("category:{}", c.category),
                    format!("format:{}", c.format),
                    format!("hook:{}", c.hook_style),
                ]
            })
            .unwrap_or_default();
        features.push(format!("platform:{}", account.platform.as_str()));
        let options: Vec<Vec<String>> = times
            .iter()
            .map(|(_, hour)| {
                let mut f = features.clone();
                f.push(hour.clone());
                f
            })
            .collect();
        let mut rng = self.rng(&run.slot, "hour");
        let (best, scored) = autopilot::pick(self.picker, &learner, &options, &mut rng);
        let (at, hour) = times[best].clone();
        Ok(Placement {
            account_id,
            platform: account.platform.as_str().into(),
            schedule_at: (at > now).then(|| at.rfc3339()),
            hour: hour.clone(),
            approval: approval_for(s, account.platform),
            privacy: None,
            why: format!(
                "{hour} ({}): best of {} posting-hour blocks (score {:.3}, expected {:.3} ± {:.3})",
                s.timezone,
                times.len(),
                scored[best].draw,
                scored[best].expected,
                scored[best].sd
            ),
        })
    }

    /// Posts a run's video to its placement; the run's id is the Idempotency-Key, so a second
    /// try after a crash finds the same posts.
    async fn post(&self, tenant_id: &str, mut run: Run, version: u64) -> Result<Run> {
        let Some(placement) = run.placement.clone() else {
            return Err(corrupt(format!("run {} has no placement", run.id)));
        };
        // The kill switch stops what no person approved.
        if !run.approved
            && !get(self.store, tenant_id)
                .await?
                .is_some_and(|s| s.settings.enabled)
        {
            run.status = RunStatus::Stopped;
            run.reason = Some("autopilot was paused; the video is kept, not posted".into());
            return Ok(self.save(tenant_id, run, version, None).await?.0);
        }
        // Exactly the placement recorded (a retry sends the same request, so its
        // Idempotency-Key finds the first answer).
        let schedule_at = placement.schedule_at.clone();
        let target = posts::Target {
            account_id: placement.account_id.clone(),
            privacy: placement.privacy.clone(),
            schedule_at,
            ..Default::default()
        };
        let job_id = run.job_id.clone().unwrap_or_default();
        let created = match posts::create(
            self.store,
            self.clock,
            tenant_id,
            &job_id,
            vec![target],
            Some(&run.id),
            self.platforms,
        )
        .await
        {
            Ok(c) => c,
            // A first try that never went through, retried after its hour: no request with
            // this key was recorded (it would have been replayed), so the time may change.
            Err(Error::Invalid(_))
                if placement
                    .schedule_at
                    .as_deref()
                    .and_then(Timestamp::parse_rfc3339)
                    .is_some_and(|at| at <= self.clock.now()) =>
            {
                if let Some(p) = run.placement.as_mut() {
                    p.schedule_at = None;
                }
                let (run, version) = self.save(tenant_id, run, version, None).await?;
                return Box::pin(self.post(tenant_id, run, version)).await;
            }
            Err(e @ (Error::Invalid(_) | Error::NotFound(_) | Error::State { .. })) => {
                run.status = RunStatus::Failed;
                run.reason = Some(format!("could not post: {e}"));
                return Ok(self.save(tenant_id, run, version, None).await?.0);
            }
            Err(e) => return Err(e),
        };
        for post in &created.posts {
            if !post.status.is_terminal() {
                self.workflow.start_post(tenant_id, &post.id).await?;
            }
        }
        run.posts = created.posts.iter().map(|p| p.id.clone()).collect();
        run.status = RunStatus::Posted;
        run.reason = None;
        Ok(self.save(tenant_id, run, version, None).await?.0)
    }
}
