//! Submit intents: at most one paid provider call per clip.
//!
//! Before a worker calls a provider for one clip of one attempt of a job, it records its
//! intent (the clip's key, the provider, the estimated cost, its claim and a lease) and
//! charges the estimate to the job's budget, in one transaction whose condition keeps the job
//! within its budget. What happens next is recorded on the intent:
//!
//! - `submitted`: the provider took the task; its id is kept, and any later delivery of the
//!   same clip reports it instead of calling again;
//! - `rejected`: the provider answered that it did not take it (an error status); the
//!   estimate goes back to the budget and a retry may claim the clip again. When the failed
//!   attempt spent money all the same (the storyboard's paid voice answered before its render
//!   failed), the estimate stays charged as `paid_cents`, and a retry at the same provider is
//!   charged only what that does not already cover;
//! - `unknown`: the request may have been taken (no answer, a cut connection, an answer we
//!   could not read) and the provider cannot be asked: the clip is never submitted again.
//!
//! A `pending` intent whose lease ran out belongs to a worker that died mid-call: the next
//! worker takes it over and asks the provider (where it can) before anything else. Every
//! change is a compare-and-set on the intent's version.

use std::time::Duration;

use crate::clock::Clock;
use crate::domain::job::{job_sk, submit_sk};
use crate::domain::keys;
use crate::error::{Error, Result};
use crate::ports::{Cond, Item, ItemStore, StoreError, Transaction, TxError, Update, Write};

/// One clip of one attempt of a job.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClipRef {
    pub tenant_id: String,
    pub job_id: String,
    pub attempt: u32,
    pub clip: u32,
}

impl ClipRef {
    /// The key a provider may use to recognise a repeat of this submit (and the storyboard
    /// its task id): unique per clip of an attempt.
    pub fn idempotency_key(&self) -> String {
        format!("{}-a{}-c{}", self.job_id, self.attempt, self.clip)
    }

    fn pk(&self) -> String {
        keys::tenant_pk(&self.tenant_id)
    }

    fn sk(&self) -> String {
        submit_sk(&self.job_id, self.attempt, self.clip)
    }
}

/// What a provider answered a submit with, as the workflow is told.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Answer {
    pub task_id: String,
    /// Seconds until a poll is worth making.
    pub eta_s: u64,
    /// When the provider took the task (ms since the epoch).
    pub submitted_at: i64,
}

const PENDING: &str = "pending";
const SUBMITTED: &str = "submitted";
const REJECTED: &str = "rejected";
const UNKNOWN: &str = "unknown";

/// What a worker may do with a clip.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// Call the provider: the intent is pending under this worker's claim and the estimate is
    /// charged to the job's budget.
    Go,
    /// The provider already took this clip: report this, call nothing.
    Done(Answer),
    /// Another worker holds the clip and is alive: try again later.
    Busy,
    /// A worker died mid-call; this one took the intent over. Ask the provider whether the
    /// task exists before calling (`found`, `absent` or `unknown` next).
    Orphan,
    /// The clip's submit has an unknown outcome: it is never submitted again.
    Unknown(String),
    /// The job's budget cannot pay for this clip.
    OverBudget { spent: u32, budget: u32, cost: u32 },
}

/// Its state, claim and lease, as read.
struct Seen {
    item: Item,
}

impl Seen {
    fn state(&self) -> &str {
        self.item.str("state").unwrap_or(PENDING)
    }

    fn claim(&self) -> &str {
        self.item.str("claim").unwrap_or("")
    }

    fn lease_until(&self) -> i64 {
        self.item.int("lease_until").unwrap_or(0)
    }

    /// What the live claim charged to the job's budget.
    fn cost(&self) -> u32 {
        u32::try_from(self.item.int("cost_cents").unwrap_or(0)).unwrap_or(0)
    }

    /// What earlier, failed attempts at this clip spent and left charged.
    fn paid(&self) -> u32 {
        u32::try_from(self.item.int("paid_cents").unwrap_or(0)).unwrap_or(0)
    }

    fn answer(&self) -> Option<Answer> {
        Some(Answer {
            task_id: self.item.str("task_id")?.to_owned(),
            eta_s: u64::try_from(self.item.int("eta_s").unwrap_or(0)).unwrap_or(0),
            submitted_at: self.item.int("submitted_at").unwrap_or(0),
        })
    }

    /// A compare-and-set on this version.
    fn next(&self, clip: &ClipRef) -> Update {
        Update::new(clip.pk(), clip.sk())
            .version(self.item.version + 1)
            .when(Cond::VersionIs(self.item.version))
    }
}

async fn read(store: &dyn ItemStore, clip: &ClipRef) -> Result<Option<Seen>> {
    Ok(store
        .get(&clip.pk(), &clip.sk())
        .await?
        .map(|item| Seen { item }))
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Charges `cost` to the job's budget, on the condition that it stays within it.
fn charge(clip: &ClipRef, cost: u32, budget: u32) -> Write {
    Write::Update(
        Update::new(clip.pk(), job_sk(&clip.job_id))
            .add("spent_cents", i64::from(cost))
            .when(Cond::below(
                "spent_cents",
                i64::from(budget) - i64::from(cost) + 1,
            )),
    )
}

/// Gives `cost` back to the job's budget.
fn uncharge(clip: &ClipRef, cost: u32) -> Write {
    Write::Update(
        Update::new(clip.pk(), job_sk(&clip.job_id))
            .add("spent_cents", -i64::from(cost))
            .when(Cond::at_least("spent_cents", i64::from(cost))),
    )
}

/// Takes the clip for a submit by `claim_id`, or says why not. `cost_cents` is the clip's
/// estimated price, checked against (and charged to) the job's budget before any call.
pub async fn claim(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    clip: &ClipRef,
    provider: &str,
    cost_cents: u32,
    claim_id: &str,
    lease: Duration,
) -> Result<Claim> {
    let job = crate::service::videos::get(store, &clip.tenant_id, &clip.job_id).await?;
    // `cost`: what the claim would have charged.
    let over = |spent: u32, cost: u32| Claim::OverBudget {
        spent,
        budget: job.budget_cents,
        cost,
    };
    for _ in 0..8 {
        let now = clock.now().millis();
        let seen = read(store, clip).await?;
        /// What a failed claim means: the intent changed under us (look again), or the
        /// job's budget cannot take the clip's estimate.
        #[derive(Clone, Copy)]
        enum Lost {
            Intent,
            Budget,
        }
        let mut writes = Transaction::new();
        // What this claim charges: the estimate, less what failed attempts at the same
        // provider already spent on the clip (a retry of the storyboard reuses its paid
        // voice's answer).
        let mut charged = cost_cents;
        match &seen {
            None => {
                let mut item = Item::new(clip.pk(), clip.sk())
                    .with("state", PENDING)
                    .with("provider", provider)
                    .with("cost_cents", cost_cents)
                    .with("claim", claim_id)
                    .with("lease_until", now + ms(lease))
                    .with("created_at", now);
                item.version = 1;
                writes.guarded(Lost::Intent, Write::Put(item, Cond::Absent));
            }
            Some(s) => match s.state() {
                SUBMITTED => {
                    if let Some(a) = s.answer() {
                        return Ok(Claim::Done(a));
                    }
                    return Err(Error::Conflict("a submitted intent without a task".into()));
                }
                UNKNOWN => {
                    return Ok(Claim::Unknown(
                        s.item.str("reason").unwrap_or("unknown").to_owned(),
                    ));
                }
                REJECTED => {
                    if s.item.str("paid_provider") == Some(provider) {
                        charged = cost_cents.saturating_sub(s.paid());
                    }
                    writes.guarded(
                        Lost::Intent,
                        Write::Update(
                            s.next(clip)
                                .set("state", PENDING)
                                .set("provider", provider)
                                .set("cost_cents", charged)
                                .set("claim", claim_id)
                                .set("lease_until", now + ms(lease)),
                        ),
                    );
                }
                _ if s.lease_until() > now => return Ok(Claim::Busy),
                _ => {
                    // Its worker died mid-call (the estimate stays charged: it may be paid).
                    let take = s
                        .next(clip)
                        .set("claim", claim_id)
                        .set("lease_until", now + ms(lease));
                    return match store.update(take).await {
                        Ok(_) => Ok(Claim::Orphan),
                        Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => {
                            Ok(Claim::Busy)
                        }
                        Err(e) => Err(e.into()),
                    };
                }
            },
        }
        if charged > job.budget_cents {
            return Ok(over(job.spent_cents, charged));
        }
        if charged > 0 {
            writes.guarded(Lost::Budget, charge(clip, charged, job.budget_cents));
        }
        match writes.commit(store).await {
            Ok(()) => return Ok(Claim::Go),
            Err(TxError::Refused(Lost::Budget)) => {
                let now_spent = crate::service::videos::get(store, &clip.tenant_id, &clip.job_id)
                    .await?
                    .spent_cents;
                return Ok(over(now_spent, charged));
            }
            Err(TxError::Refused(Lost::Intent) | TxError::Store(StoreError::Conflict)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict("the clip's intent kept changing".into()))
}

/// Extends the lease of a pending intent this worker still holds. False when it lost it.
pub async fn renew(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    clip: &ClipRef,
    claim_id: &str,
    lease: Duration,
) -> Result<bool> {
    let Some(s) = read(store, clip).await? else {
        return Ok(false);
    };
    if s.state() != PENDING || s.claim() != claim_id {
        return Ok(false);
    }
    let upd = s
        .next(clip)
        .set("lease_until", clock.now().millis() + ms(lease));
    match store.update(upd).await {
        Ok(_) => Ok(true),
        Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Records the provider's task: from now on the clip is never submitted again. Whoever
/// knows the task id records it, even over an intent another worker gave up as unknown.
/// Returns the answer on record (an earlier one if the task was already recorded).
pub async fn submitted(store: &dyn ItemStore, clip: &ClipRef, answer: &Answer) -> Result<Answer> {
    for _ in 0..8 {
        let Some(s) = read(store, clip).await? else {
            return Err(Error::NotFound("submit intent"));
        };
        if s.state() == SUBMITTED {
            return s
                .answer()
                .ok_or_else(|| Error::Conflict("a submitted intent without a task".into()));
        }
        let upd = s
            .next(clip)
            .set("state", SUBMITTED)
            .set("task_id", answer.task_id.as_str())
            .set("eta_s", answer.eta_s)
            .set("submitted_at", answer.submitted_at)
            .remove("lease_until");
        match store.update(upd).await {
            Ok(_) => return Ok(answer.clone()),
            Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict("the clip's intent kept changing".into()))
}

/// The provider answered that it did not take the task: the estimate goes back to the
/// budget and a retry may claim the clip. `spent`: the failed attempt spent money all the
/// same (see `VideoProvider::spent_on_failed_submit`), so the estimate stays charged, added
/// to the clip's `paid_cents`. Only the worker holding the claim may say so.
pub async fn rejected(
    store: &dyn ItemStore,
    clip: &ClipRef,
    claim_id: &str,
    spent: bool,
) -> Result<()> {
    for _ in 0..8 {
        let Some(s) = read(store, clip).await? else {
            return Ok(());
        };
        if s.state() != PENDING || s.claim() != claim_id {
            return Ok(());
        }
        /// The intent changed since it was read: look again.
        #[derive(Clone, Copy)]
        struct Changed;
        let mut tx = Transaction::new();
        let update = s.next(clip).set("state", REJECTED).remove("lease_until");
        if spent {
            tx.guarded(
                Changed,
                Write::Update(
                    update
                        .set("paid_cents", s.paid().saturating_add(s.cost()))
                        .set("paid_provider", s.item.str("provider").unwrap_or_default())
                        .set("cost_cents", 0),
                ),
            );
        } else {
            tx.guarded(Changed, Write::Update(update));
            if s.cost() > 0 {
                tx.write(uncharge(clip, s.cost()));
            }
        }
        match tx.commit(store).await {
            Ok(()) => return Ok(()),
            Err(TxError::Refused(Changed) | TxError::Store(StoreError::Conflict)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict("the clip's intent kept changing".into()))
}

/// The submit's outcome cannot be known: the clip is never submitted again, and its
/// estimate stays charged (it may have been paid). Only the claim holder may say so.
pub async fn unknown(
    store: &dyn ItemStore,
    clip: &ClipRef,
    claim_id: &str,
    reason: &str,
) -> Result<()> {
    for _ in 0..8 {
        let Some(s) = read(store, clip).await? else {
            return Ok(());
        };
        if s.state() != PENDING || s.claim() != claim_id {
            return Ok(());
        }
        let upd = s
            .next(clip)
            .set("state", UNKNOWN)
            .set("reason", reason)
            .remove("lease_until");
        match store.update(upd).await {
            Ok(_) => return Ok(()),
            Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict("the clip's intent kept changing".into()))
}

/// Every intent of a job, for tests and support: `(attempt, clip, state, task_id)`.
pub async fn of_job(
    store: &dyn ItemStore,
    tenant_id: &str,
    job_id: &str,
) -> Result<Vec<(u32, u32, String, Option<String>)>> {
    let page = store
        .query(
            crate::ports::Query::new(keys::tenant_pk(tenant_id), format!("SUBMIT#{job_id}#"))
                .limit(100),
        )
        .await?;
    Ok(page
        .items
        .iter()
        .filter_map(|i| {
            let mut parts = i.sk.rsplit('#');
            let clip = parts.next()?.parse().ok()?;
            let attempt = parts.next()?.parse().ok()?;
            Some((
                attempt,
                clip,
                i.str("state").unwrap_or(PENDING).to_owned(),
                i.str("task_id").map(str::to_owned),
            ))
        })
        .collect())
}
