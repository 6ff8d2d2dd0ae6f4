//! Keeping the learner: every observation of a video's performance — typed in by the tenant or
//! collected from the platform — goes through [`learn`], which replaces the earlier
//! observation of the same thing rather than adding to it.
//!
//! The platform-wide prior is not written on each observation (it would be one hot item
//! rewritten by every tenant). A tenant's learner item keeps its evidence and the part of it
//! not yet folded into the prior (`pending`); a marker in a sharded dirty index says so, and
//! [`fold`], run on a schedule, adds the pending evidence of many tenants to the prior in one
//! write. A tenant's model is its own evidence plus the prior *without its own share*
//! (`prior − (mine − pending)`) at [`GLOBAL_WEIGHT`]: nothing is counted twice.

use std::hash::{Hash, Hasher};

use serde_json::Value;

use crate::clock::Clock;
use crate::domain::keys;
use crate::domain::learner::{Evidence, GLOBAL_WEIGHT, Posterior};
use crate::error::{Error, Result};
use crate::ports::{Cond, Item, ItemStore, Query, StoreError, Write};

pub const LEARNER_SK: &str = "LEARNER";
const GLOBAL_PK: &str = "LEARNER";
const GLOBAL_SK: &str = "GLOBAL";
/// Shards of the dirty index: markers spread over several partitions.
pub const DIRTY_SHARDS: u64 = 8;
/// Tenants folded per transaction: the prior, their learners and their markers (≤ 100 writes).
const FOLD_BATCH: usize = 30;
/// Attempts of one observation against concurrent ones on the same tenant.
const ATTEMPTS: usize = 40;

fn dirty_pk(tenant_id: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    tenant_id.hash(&mut h);
    format!("LEARNER#DIRTY#{}", h.finish() % DIRTY_SHARDS)
}

fn decode(item: Option<&Item>, attr: &str) -> Evidence {
    item.and_then(|i| i.attrs.get(attr))
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

fn put(pk: &str, sk: &str, attrs: &[(&str, &Evidence)], read: Option<u64>) -> Write {
    let mut it = Item::new(pk, sk);
    for (name, e) in attrs {
        it = it.with(name, serde_json::to_value(e).unwrap_or(Value::Null));
    }
    it.version = read.map_or(1, |v| v + 1);
    Write::Put(it, read.map_or(Cond::Absent, Cond::VersionIs))
}

/// The tenant's learner: its own evidence plus everyone else's, down-weighted.
pub async fn learner(store: &dyn ItemStore, tenant_id: &str) -> Result<Posterior> {
    let (mine, others) = evidence(store, tenant_id).await?;
    Ok(Posterior::of(&mine.merged(&others, GLOBAL_WEIGHT)))
}

/// The tenant's own evidence, and the prior's evidence from every other tenant.
pub async fn evidence(store: &dyn ItemStore, tenant_id: &str) -> Result<(Evidence, Evidence)> {
    let pk = keys::tenant_pk(tenant_id);
    // The tenant's item is read on both sides of the prior: a fold between two reads would
    // move its pending evidence into the prior unseen (counted twice or not at all).
    let mut tenant = store.get(&pk, LEARNER_SK).await?;
    let mut global = store.get(GLOBAL_PK, GLOBAL_SK).await?;
    for _ in 0..5 {
        let again = store.get(&pk, LEARNER_SK).await?;
        if again.as_ref().map(|i| i.version) == tenant.as_ref().map(|i| i.version) {
            break;
        }
        tenant = again;
        global = store.get(GLOBAL_PK, GLOBAL_SK).await?;
    }
    let mine = decode(tenant.as_ref(), "evidence");
    let pending = decode(tenant.as_ref(), "pending");
    // The prior holds what was folded of this tenant: its evidence less what is pending.
    let others = decode(global.as_ref(), "evidence")
        .merged(&mine, -1.0)
        .merged(&pending, 1.0);
    Ok((mine, others))
}

/// One observation for the learner.
#[derive(Clone, Debug, PartialEq)]
pub struct Lesson {
    /// The observation's item in the tenant's partition (`FB#…`): a second lesson there
    /// replaces the first.
    pub sk: String,
    pub features: Vec<String>,
    /// Engagement, 0–1.
    pub score: f64,
    /// How much it counts (manual feedback 1; young collected observations less).
    pub weight: f64,
    /// What the learner expected, 0–1 (kept for calibration).
    pub predicted: f64,
    /// `manual` or `collected`.
    pub source: &'static str,
    /// Kept on the observation's item as they are.
    pub attrs: Vec<(String, Value)>,
    /// Other lessons this one stands in for (a person's report on the post this one
    /// measures): taken out of the evidence in the same write, and their items turned into a
    /// `measured_by` marker that no lesson may be recorded over (a report arriving after the
    /// check that looked for measurements still meets it). What they said is kept on this
    /// one's item as `replaced`.
    pub replaces: Vec<String>,
}

/// A person's report refused: the collector measures the concept's post on `platform`.
pub(crate) fn measured(platform: &str) -> Error {
    Error::State {
        code: "feedback_measured",
        message: format!(
            "this concept's post on {platform} is measured by the metrics collector, which \
             already teaches the learner; manual feedback would count it twice"
        ),
    }
}

/// Versions `item` to replace `previous` (or to be the first), and the condition that says so.
fn over(item: &mut Item, previous: Option<&Item>) -> Cond {
    match previous {
        Some(p) => {
            item.version = p.version + 1;
            Cond::VersionIs(p.version)
        }
        None => {
            item.version = 1;
            Cond::Absent
        }
    }
}

/// The evidence an observation's item holds: its features, score and weight (`None` once
/// it no longer counts). `fallback` are the features of items stored before they were kept.
fn counted(item: &Item, fallback: &[String]) -> Option<(Vec<String>, f64, f64)> {
    let score = item.attrs.get("score").and_then(Value::as_f64)?;
    let features: Vec<String> = item
        .attrs
        .get("features")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_else(|| fallback.to_vec());
    let weight = item
        .attrs
        .get("weight")
        .and_then(Value::as_f64)
        .unwrap_or(1.0);
    Some((features, score, weight))
}

/// Records a lesson: the earlier one at the same item (if any) is taken out of the evidence
/// first. `fallback` are the features of an earlier lesson stored before features were kept.
/// Returns whether it was the first at that item.
pub async fn learn(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    lesson: &Lesson,
    fallback: &[String],
) -> Result<bool> {
    let pk = keys::tenant_pk(tenant_id);
    for _ in 0..ATTEMPTS {
        let previous = store.get(&pk, &lesson.sk).await?;
        if previous
            .as_ref()
            .is_some_and(|p| p.attrs.contains_key("measured_by"))
        {
            return Err(measured("this platform"));
        }
        let learner = store.get(&pk, LEARNER_SK).await?;
        let mut mine = decode(learner.as_ref(), "evidence");
        let mut pending = decode(learner.as_ref(), "pending");
        if let Some((features, old, w)) = previous.as_ref().and_then(|p| counted(p, fallback)) {
            mine.observe_features(&features, old, -w);
            pending.observe_features(&features, old, -w);
        }
        let mut removed = Vec::new();
        let mut replaced = previous
            .as_ref()
            .and_then(|p| p.attrs.get("replaced").cloned());
        for sk in &lesson.replaces {
            let other = store.get(&pk, sk).await?;
            if other
                .as_ref()
                .is_some_and(|o| o.attrs.contains_key("measured_by"))
            {
                continue;
            }
            if let Some(o) = &other
                && let Some((features, old, w)) = counted(o, fallback)
            {
                mine.observe_features(&features, old, -w);
                pending.observe_features(&features, old, -w);
                replaced = Some(Value::Object(o.attrs.clone()));
            }
            let mut marker = Item::new(&pk, sk)
                .with("measured_by", lesson.sk.as_str())
                .with("updated_at", clock.now().millis());
            let cond = over(&mut marker, other.as_ref());
            removed.push(Write::Put(marker, cond));
        }
        mine.observe_features(&lesson.features, lesson.score, lesson.weight);
        pending.observe_features(&lesson.features, lesson.score, lesson.weight);
        let mut item = Item::new(&pk, &lesson.sk)
            .with("score", lesson.score)
            .with("weight", lesson.weight)
            .with("predicted", lesson.predicted)
            .with("features", serde_json::json!(lesson.features))
            .with("source", lesson.source)
            .with("updated_at", clock.now().millis());
        for (k, v) in &lesson.attrs {
            item = item.with(k, v.clone());
        }
        if let Some(r) = replaced {
            item = item.with("replaced", r);
        }
        let item_cond = over(&mut item, previous.as_ref());
        let mut writes = removed;
        writes.extend([
            Write::Put(item, item_cond),
            put(
                &pk,
                LEARNER_SK,
                &[("evidence", &mine), ("pending", &pending)],
                learner.as_ref().map(|l| l.version),
            ),
            Write::Put(
                Item::new(dirty_pk(tenant_id), tenant_id).with("since", clock.now().millis()),
                Cond::None,
            ),
        ]);
        match store.transact(writes).await {
            Ok(()) => return Ok(previous.is_none()),
            // Another observation of this tenant won: read again. One contender always
            // wins, so each attempt makes progress.
            Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Conflict("the learner kept changing; retry".into()))
}

/// What a fold pass did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Folded {
    pub tenants: usize,
    /// Observations (by weight) added to the prior.
    pub observations: f64,
    /// Tenants left for the next pass (they changed while being folded).
    pub deferred: usize,
}

/// Folds every dirty tenant's pending evidence into the platform-wide prior, many tenants per
/// write of the prior.
pub async fn fold(store: &dyn ItemStore) -> Result<Folded> {
    let mut out = Folded::default();
    for shard in 0..DIRTY_SHARDS {
        let pk = format!("LEARNER#DIRTY#{shard}");
        let mut cursor = None;
        loop {
            let page = store
                .query(Query::new(&pk, "").limit(FOLD_BATCH).after(cursor))
                .await?;
            let tenants: Vec<String> = page.items.iter().map(|i| i.sk.clone()).collect();
            if !tenants.is_empty() && !fold_batch(store, &pk, &tenants, &mut out).await? {
                // A busy tenant kept the batch from landing: the others go one by one, so
                // only the busy one waits for the next pass.
                for t in &tenants {
                    if !fold_batch(store, &pk, std::slice::from_ref(t), &mut out).await? {
                        out.deferred += 1;
                    }
                }
            }
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
    }
    Ok(out)
}

async fn fold_batch(
    store: &dyn ItemStore,
    dirty_pk: &str,
    tenants: &[String],
    out: &mut Folded,
) -> Result<bool> {
    for _ in 0..3 {
        let global = store.get(GLOBAL_PK, GLOBAL_SK).await?;
        let mut prior = decode(global.as_ref(), "evidence");
        let mut writes = Vec::with_capacity(1 + 2 * tenants.len());
        let mut added = 0.0;
        for t in tenants {
            let pk = keys::tenant_pk(t);
            let learner = store.get(&pk, LEARNER_SK).await?;
            if let Some(l) = &learner {
                let mine = decode(Some(l), "evidence");
                let pending = decode(Some(l), "pending");
                prior = prior.merged(&pending, 1.0);
                added += pending.n;
                writes.push(put(
                    &pk,
                    LEARNER_SK,
                    &[("evidence", &mine), ("pending", &Evidence::default())],
                    Some(l.version),
                ));
            }
            writes.push(Write::Delete {
                pk: dirty_pk.to_owned(),
                sk: t.clone(),
                cond: Cond::None,
            });
        }
        writes.insert(
            0,
            put(
                GLOBAL_PK,
                GLOBAL_SK,
                &[("evidence", &prior)],
                global.as_ref().map(|g| g.version),
            ),
        );
        match store.transact(writes).await {
            Ok(()) => {
                out.tenants += tenants.len();
                out.observations += added;
                return Ok(true);
            }
            Err(StoreError::ConditionFailed { .. } | StoreError::Conflict) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(false)
}
