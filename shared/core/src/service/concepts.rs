//! Concept batches: reserving concept quota, writing the batch from trends with what the
//! learner believes, and keeping it — or refunding the reservation when writing fails.
//! Feedback on a concept updates the learner (the tenant's and the platform's), replacing an
//! earlier observation of the same concept on the same platform rather than adding to it.

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::clock::{Clock, Timestamp};
use crate::domain::concept::{Brief, Concept, Trend, topic_trend};
use crate::domain::job::{CONSUMED, REFUNDED, RESERVED, ledger_sk};
use crate::domain::learner::{GLOBAL_WEIGHT, Posterior, engagement_score};
use crate::domain::usage::UsagePeriod;
use crate::domain::{Resource, Tenant, keys};
use crate::error::{Error, Result};
use crate::ids::{is_valid_id, new_id};
use crate::ports::{
    ConceptWriter, Cond, Item, ItemStore, Query, Transaction, TrendQuery, TrendSource, TxError,
    Update, Write,
};
use crate::service::quota::{self, Refusal, Reservation, Settled};
use crate::service::{idempotency, learning};

fn concept_sk(id: &str) -> String {
    format!("CONCEPT#{id}")
}

fn batch_sk(id: &str) -> String {
    format!("CBATCH#{id}")
}

/// Idempotency-Key scope of concept batches.
const IDEMPOTENCY_SCOPE: &str = "concepts";

/// A person's feedback on a concept for a platform (`tiktok`, `youtube_shorts`,
/// `instagram_reels`); collected observations add the post (`FB#concept#youtube#post`).
pub(crate) fn feedback_sk(concept_id: &str, platform: &str) -> String {
    format!("FB#{concept_id}#{platform}")
}

/// What a batch is asked for, as the API received it (validated by [`ConceptRequest::check`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ConceptRequest {
    pub topics: Vec<String>,
    pub region: Option<String>,
    pub category: Option<String>,
    pub count: usize,
    pub duration_s: f64,
    pub niche: Option<String>,
}

impl ConceptRequest {
    pub fn check(&self) -> Result<()> {
        if !(1..=10).contains(&self.count) {
            return Err(Error::Invalid("count must be 1 to 10".into()));
        }
        if !(5.0..=60.0).contains(&self.duration_s) {
            return Err(Error::Invalid("duration_s must be 5 to 60".into()));
        }
        if self.topics.len() > 5
            || self.topics.iter().any(|t| {
                t.trim().is_empty() || t.chars().count() > 200 || t.chars().any(char::is_control)
            })
        {
            return Err(Error::Invalid(
                "topics: at most 5, each 1 to 200 characters".into(),
            ));
        }
        if let Some(r) = &self.region
            && !(r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return Err(Error::Invalid(
                "region is a two-letter country code, e.g. US".into(),
            ));
        }
        if let Some(n) = &self.niche
            && (n.chars().count() > 200 || n.chars().any(char::is_control))
        {
            return Err(Error::Invalid(
                "niche: at most 200 characters, no control characters".into(),
            ));
        }
        if let Some(c) = &self.category
            && (c.is_empty()
                || c.len() > 40
                || !c.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'))
        {
            return Err(Error::Invalid(
                "category is a lowercase word, e.g. science".into(),
            ));
        }
        Ok(())
    }

    fn hash(&self) -> String {
        hex::encode(Sha256::digest(serde_json::to_vec(self).unwrap_or_default()))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Batch {
    pub id: String,
    pub concepts: Vec<Concept>,
    /// Where the trends came from (`sample`, `topic`, `youtube`, `gnews`).
    pub trend_source: String,
    /// Who wrote the concepts (`rules` or a model).
    pub writer: String,
    pub created_at: String,
}

#[derive(Debug)]
pub struct Generated {
    pub batch: Batch,
    pub replayed: bool,
}

/// Reserves `count` concepts of this period's quota, writes the batch, keeps it. A failure to
/// write refunds the reservation; a replay with the same Idempotency-Key returns the batch.
/// The batch an earlier request with the same key created.
async fn replay(store: &dyn ItemStore, tenant_id: &str, batch_id: &str) -> Result<Generated> {
    match get_batch(store, tenant_id, batch_id).await {
        Ok(batch) => Ok(Generated {
            batch,
            replayed: true,
        }),
        Err(Error::NotFound(_)) => Err(Error::Conflict(
            "a request with this Idempotency-Key is still being written, or failed; retry with a new key if it failed".into(),
        )),
        Err(e) => Err(e),
    }
}

pub async fn generate(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant: &Tenant,
    request: ConceptRequest,
    idempotency_key: Option<&str>,
    trends: &dyn TrendSource,
    writer: &dyn ConceptWriter,
) -> Result<Generated> {
    generate_guarded(
        store,
        clock,
        tenant,
        request,
        idempotency_key,
        trends,
        writer,
        None,
    )
    .await
}

/// [`generate`] under a caller's condition, written in the transaction that reserves: when it
/// fails nothing is reserved or written and the answer is [`Error::State`]
/// `precondition_failed`.
#[allow(clippy::too_many_arguments)]
pub async fn generate_guarded(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant: &Tenant,
    request: ConceptRequest,
    idempotency_key: Option<&str>,
    trends: &dyn TrendSource,
    writer: &dyn ConceptWriter,
    guard: Option<Write>,
) -> Result<Generated> {
    request.check()?;
    let now = clock.now();
    let pk = keys::tenant_pk(&tenant.id);
    let hash = request.hash();
    if let Some(k) = idempotency_key {
        idempotency::validate_key(k)?;
        if let Some(id) = idempotency::earlier(store, &pk, IDEMPOTENCY_SCOPE, k, &hash).await? {
            return replay(store, &tenant.id, &id).await;
        }
    }
    let period = tenant.usage_period(now);
    let count = request.count as i64;
    let reservation = Reservation {
        tenant_id: &tenant.id,
        period: &period,
        resource: Resource::Concepts,
        amount: count,
        limit: Resource::Concepts.limit(tenant.plan_at(now)),
    };
    let batch_id = new_id("cb");
    let ledger = Item::new(&pk, ledger_sk(&batch_id))
        .with("state", RESERVED)
        .with("resource", Resource::Concepts.name())
        .with("amount", count)
        .with("period", period.key.as_str())
        .with("created_at", now.millis());
    let reserve_with = |reserve: Write| {
        let mut tx = Transaction::new();
        tx.guarded(Refusal::QuotaSpent, reserve)
            .write(Write::Put(ledger.clone(), Cond::Absent));
        if let Some(k) = idempotency_key {
            let record = idempotency::record(&pk, IDEMPOTENCY_SCOPE, k, &hash, &batch_id, now);
            tx.guarded(Refusal::KeyTaken, Write::Put(record, Cond::Absent));
        }
        if let Some(guard) = &guard {
            tx.guarded(Refusal::Guard, guard.clone());
        }
        tx
    };
    match reservation.commit(store, clock, reserve_with).await? {
        Ok(()) => {}
        Err(TxError::Refused(Refusal::Guard)) => {
            return Err(Error::State {
                code: "precondition_failed",
                message: "no concepts were written: the caller's condition no longer holds".into(),
            });
        }
        Err(TxError::Refused(Refusal::QuotaSpent)) => {
            // A concurrent first request with this key may have taken what remained.
            if let Some(k) = idempotency_key
                && let Some(id) =
                    idempotency::earlier(store, &pk, IDEMPOTENCY_SCOPE, k, &hash).await?
            {
                return replay(store, &tenant.id, &id).await;
            }
            return Err(reservation.refused(store).await);
        }
        Err(TxError::Refused(Refusal::KeyTaken)) => {
            let k = idempotency_key.unwrap_or_default();
            let id = idempotency::replayed_id(store, &pk, IDEMPOTENCY_SCOPE, k, &hash).await?;
            return replay(store, &tenant.id, &id).await;
        }
        Err(e) => return Err(e.into()),
    }
    match write_batch(
        store, clock, tenant, &request, &batch_id, &period, trends, writer,
    )
    .await
    {
        Ok(batch) => Ok(Generated {
            batch,
            replayed: false,
        }),
        Err(e) => {
            refund(store, clock, &tenant.id, &batch_id).await?;
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn write_batch(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant: &Tenant,
    request: &ConceptRequest,
    batch_id: &str,
    period: &UsagePeriod,
    source: &dyn TrendSource,
    writer: &dyn ConceptWriter,
) -> Result<Batch> {
    let (trends, trend_source): (Vec<Trend>, String) = if request.topics.is_empty() {
        let q = TrendQuery {
            region: request.region.clone(),
            category: request.category.clone(),
            max: 20,
        };
        let t = source.trends(&q).await?;
        (t, source.name().to_owned())
    } else {
        (
            request.topics.iter().map(|t| topic_trend(t)).collect(),
            "topic".into(),
        )
    };
    let posterior = learning::learner(store, &tenant.id).await?;
    let brief = Brief {
        count: request.count,
        duration_s: request.duration_s,
        niche: request.niche.clone(),
    };
    let seed = u64::from_le_bytes(crate::ids::random_bytes::<8>());
    let mut concepts = writer.write(&trends, &brief, &posterior, seed).await?;
    concepts.truncate(request.count);
    if concepts.is_empty() {
        return Err(Error::Source(crate::ports::SourceError::Unusable(
            "the writer returned no concepts".into(),
        )));
    }
    let pk = keys::tenant_pk(&tenant.id);
    let now = clock.now();
    let batch = Batch {
        id: batch_id.to_owned(),
        concepts,
        trend_source,
        writer: writer.name().to_owned(),
        created_at: now.rfc3339(),
    };
    // Charged for what was delivered: a short batch gives the rest back in the same
    // transaction that keeps it.
    let delivered = batch.concepts.len() as i64;
    let reserved = request.count as i64;
    let mut writes = vec![Write::Update(
        Update::new(&pk, ledger_sk(batch_id))
            .set("state", CONSUMED)
            .set("amount", delivered)
            .set("reserved", reserved)
            .set("ended_at", now.millis())
            .when(Cond::AttrEquals("state".into(), Value::from(RESERVED))),
    )];
    if delivered < reserved {
        writes.push(quota::release(
            &tenant.id,
            &period.key,
            Resource::Concepts,
            reserved - delivered,
        ));
    }
    writes.push(Write::Put(
        Item::new(&pk, batch_sk(batch_id))
            .with("batch", serde_json::to_value(&batch).unwrap_or(Value::Null))
            .with("created_at", now.millis()),
        Cond::Absent,
    ));
    for c in &batch.concepts {
        writes.push(Write::Put(
            Item::new(&pk, concept_sk(&c.id))
                .with("concept", serde_json::to_value(c).unwrap_or(Value::Null))
                .with("batch_id", batch_id)
                .with("created_at", now.millis()),
            Cond::Absent,
        ));
    }
    store.transact(writes).await?;
    Ok(batch)
}

/// Returns a batch's reserved concepts to its period's quota, once.
async fn refund(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    batch_id: &str,
) -> Result<()> {
    let pk = keys::tenant_pk(tenant_id);
    let Some(ledger) = store.get(&pk, &ledger_sk(batch_id)).await? else {
        return Ok(());
    };
    let amount = ledger.int("amount").unwrap_or(0);
    let period = ledger.str("period").unwrap_or_default().to_owned();
    let mut tx = Transaction::new();
    tx.guarded(
        Settled,
        Write::Update(
            Update::new(&pk, ledger_sk(batch_id))
                .set("state", REFUNDED)
                .set("ended_at", clock.now().millis())
                .when(Cond::AttrEquals("state".into(), Value::from(RESERVED))),
        ),
    )
    .write(quota::release(
        tenant_id,
        &period,
        Resource::Concepts,
        amount,
    ));
    match tx.commit(store).await {
        Ok(()) | Err(TxError::Refused(Settled)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub async fn get_batch(store: &dyn ItemStore, tenant_id: &str, batch_id: &str) -> Result<Batch> {
    if !is_valid_id("cb", batch_id) {
        return Err(Error::NotFound("concept batch"));
    }
    let item = store
        .get(&keys::tenant_pk(tenant_id), &batch_sk(batch_id))
        .await?
        .ok_or(Error::NotFound("concept batch"))?;
    item.attrs
        .get("batch")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or(Error::NotFound("concept batch"))
}

/// One of the tenant's concepts; another tenant's id is "not found".
pub async fn get(store: &dyn ItemStore, tenant_id: &str, concept_id: &str) -> Result<Concept> {
    if !is_valid_id("cn", concept_id) {
        return Err(Error::NotFound("concept"));
    }
    let item = store
        .get(&keys::tenant_pk(tenant_id), &concept_sk(concept_id))
        .await?
        .ok_or(Error::NotFound("concept"))?;
    item.attrs
        .get("concept")
        .cloned()
        .and_then(|v| serde_json::from_value(v).ok())
        .ok_or(Error::NotFound("concept"))
}

/// The tenant's concepts, newest first.
pub async fn list(
    store: &dyn ItemStore,
    tenant_id: &str,
    limit: usize,
    cursor: Option<String>,
) -> Result<(Vec<Concept>, Option<String>)> {
    let page = store
        .query(
            Query::new(keys::tenant_pk(tenant_id), "CONCEPT#")
                .limit(limit)
                .descending()
                .after(cursor),
        )
        .await?;
    let concepts = Item::decode_all(&page.items, "concept", |i| {
        serde_json::from_value(i.attrs.get("concept")?.clone()).ok()
    });
    Ok((concepts, page.next_cursor))
}

/// How a published concept performed on one platform, as of `observed_at`.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Feedback {
    pub platform: String,
    pub views: u64,
    #[serde(default)]
    pub likes: u64,
    #[serde(default)]
    pub comments: u64,
    #[serde(default)]
    pub shares: u64,
    #[serde(default)]
    pub saves: u64,
    /// Share of viewers who watched to the end, 0–1.
    #[serde(default)]
    pub completion_rate: Option<f64>,
    /// Mean seconds watched.
    #[serde(default)]
    pub watch_time_s: Option<f64>,
    /// RFC 3339; defaults to now.
    #[serde(default)]
    pub observed_at: Option<String>,
}

impl Feedback {
    /// `now` bounds `observed_at`: not before 2005 (no platform had short video), not more
    /// than a day ahead (clocks differ, the future does not report).
    pub fn check(&self, now: crate::clock::Timestamp) -> Result<()> {
        let bad = |m: &str| Err(Error::Invalid(m.into()));
        if !crate::domain::concept::PLATFORMS.contains(&self.platform.as_str()) {
            return bad("platform must be tiktok, youtube_shorts or instagram_reels");
        }
        const MAX: u64 = 100_000_000_000;
        if [
            self.views,
            self.likes,
            self.comments,
            self.shares,
            self.saves,
        ]
        .iter()
        .any(|n| *n > MAX)
        {
            return bad("counts must be below 10^11");
        }
        if self.likes + self.comments + self.shares + self.saves > self.views.saturating_mul(10) {
            return bad("more interactions than ten per view: check the numbers");
        }
        if self
            .completion_rate
            .is_some_and(|c| !(0.0..=1.0).contains(&c) || c.is_nan())
        {
            return bad("completion_rate is a share, 0 to 1");
        }
        if self
            .watch_time_s
            .is_some_and(|w| !(0.0..=3600.0).contains(&w) || w.is_nan())
        {
            return bad("watch_time_s must be 0 to 3600");
        }
        if let Some(t) = &self.observed_at {
            let Some(at) = crate::clock::Timestamp::parse_rfc3339(t) else {
                return bad("observed_at must be an RFC 3339 timestamp");
            };
            let earliest = crate::clock::Timestamp::from_secs(1_104_537_600); // 2005-01-01
            if at < earliest || at > now.plus(std::time::Duration::from_secs(86_400)) {
                return bad("observed_at must be between 2005 and now");
            }
        }
        Ok(())
    }

    pub fn score(&self) -> f64 {
        engagement_score(
            self.views,
            self.likes,
            self.comments,
            self.shares,
            self.saves,
            self.completion_rate,
        )
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recorded {
    pub concept_id: String,
    pub platform: String,
    pub score: f64,
    /// The score the learner expected when the concept was written (0–1).
    pub predicted: f64,
    /// False when this replaced an earlier observation of the same concept and platform.
    pub first: bool,
}

/// Records feedback on a concept: the latest observation per platform counts, once.
pub async fn record_feedback(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    tenant_id: &str,
    concept_id: &str,
    fb: Feedback,
) -> Result<Recorded> {
    fb.check(clock.now())?;
    let concept = get(store, tenant_id, concept_id).await?;
    // A post of this concept on this platform whose numbers the collector fetches already
    // teaches the learner: a person's report of the same post would count it twice.
    let platform = platform_feature(&fb.platform);
    let measured = store
        .query(
            Query::new(
                keys::tenant_pk(tenant_id),
                format!(
                    "FB#{concept_id}#{}#",
                    platform.trim_start_matches("platform:")
                ),
            )
            .limit(1),
        )
        .await?;
    if !measured.items.is_empty() {
        return Err(learning::measured(&fb.platform));
    }
    let score = fb.score();
    let predicted = f64::from(concept.predicted_score) / 100.0 * 0.2;
    let kind = concept.kind().features().to_vec();
    let mut features = kind.clone();
    features.push(platform_feature(&fb.platform));
    let lesson = learning::Lesson {
        sk: feedback_sk(concept_id, &fb.platform),
        features,
        score,
        weight: 1.0,
        predicted,
        source: "manual",
        attrs: vec![
            (
                "feedback".into(),
                serde_json::to_value(&fb).unwrap_or(Value::Null),
            ),
            ("concept_id".into(), Value::from(concept_id)),
        ],
        replaces: vec![],
    };
    // Feedback stored before features were kept named the concept's kind only.
    let first = learning::learn(store, clock, tenant_id, &lesson, &kind).await?;
    Ok(Recorded {
        concept_id: concept_id.to_owned(),
        platform: fb.platform.clone(),
        score: shown(score),
        predicted: shown(predicted),
        first,
    })
}

/// The learner's platform feature of a feedback platform name (`youtube_shorts` is YouTube).
pub fn platform_feature(platform: &str) -> String {
    let p = match platform {
        "youtube_shorts" => "youtube",
        "instagram_reels" => "instagram",
        other => other,
    };
    format!("platform:{p}")
}

/// A learned figure as people and programs see it: four decimals, not float noise
/// (`0.30000000000000004`). The learner keeps the exact values.
fn shown(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Effect {
    pub feature: String,
    /// Change in engagement score against the baseline.
    pub effect: f64,
    pub sd: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Insights {
    /// Feature effects, strongest first.
    pub effects: Vec<Effect>,
    /// Observations behind the tenant's own evidence.
    pub observations: f64,
    /// Mean absolute error of predictions against outcomes, by month (`YYYY-MM`), oldest first.
    pub calibration: Vec<(String, f64, u32)>,
}

/// What the learner believes for the tenant, and how its predictions have fared.
pub async fn insights(store: &dyn ItemStore, tenant_id: &str) -> Result<Insights> {
    let (mine, others) = learning::evidence(store, tenant_id).await?;
    let post = Posterior::of(&mine.merged(&others, GLOBAL_WEIGHT));
    let mut effects: Vec<Effect> = post
        .features
        .iter()
        .filter_map(|f| {
            post.effect(f).map(|(effect, sd)| Effect {
                feature: f.clone(),
                effect: shown(effect),
                sd: shown(sd),
            })
        })
        .collect();
    effects.sort_by(|a, b| b.effect.total_cmp(&a.effect));
    let mut buckets: std::collections::BTreeMap<String, (f64, u32)> = Default::default();
    let mut cursor = None;
    for _ in 0..10 {
        let page = store
            .query(
                Query::new(keys::tenant_pk(tenant_id), "FB#")
                    .limit(500)
                    .after(cursor),
            )
            .await?;
        for i in &page.items {
            let (Some(s), Some(p), Some(t)) = (
                i.attrs.get("score").and_then(Value::as_f64),
                i.attrs.get("predicted").and_then(Value::as_f64),
                i.int("updated_at"),
            ) else {
                continue;
            };
            let b = buckets.entry(Timestamp(t).month().key()).or_default();
            b.0 += (s - p).abs();
            b.1 += 1;
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    Ok(Insights {
        effects,
        observations: mine.n,
        calibration: buckets
            .into_iter()
            .map(|(m, (sum, n))| (m, shown(sum / f64::from(n.max(1))), n))
            .collect(),
    })
}
