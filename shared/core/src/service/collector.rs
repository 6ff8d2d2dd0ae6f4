//! The metrics collector: fetches the numbers of published posts on a decaying cadence, keeps
//! them as a time series per post, and teaches the learner from each observation — no human
//! typing feedback. Run on a schedule (a Lambda on AWS, the scheduler in `viral up`).
//!
//! Posts due are read from the front of the metrics index and grouped by account: one
//! account's (or platform's) trouble — a revoked grant, a rate limit, an outage, a store
//! error — is recorded on its posts and never stops the others.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::clock::{Clock, Timestamp};
use crate::domain::account::Account;
use crate::domain::keys;
use crate::domain::learner::PRIOR_MEAN;
use crate::domain::metrics::{
    self, Metrics, MetricsTarget, Observed, length_feature, maturity_weight, voice_feature,
};
use crate::domain::post::{METRICS_DUE, Post};
use crate::error::{Error, Result};
use crate::ports::{
    Cond, Item, ItemStore, PublishError, Publishers, Query, StoreError, TokenVault,
};
use crate::service::learning::{self, Lesson};
use crate::service::{accounts, concepts, posts, publishing, videos};

/// What the collector needs.
pub struct Collector<'a> {
    pub store: &'a dyn ItemStore,
    pub vault: &'a dyn TokenVault,
    pub clock: &'a dyn Clock,
    pub publishers: &'a Publishers,
}

/// Platform calls per account in one pass: Instagram allows 200 an hour per account, and a
/// pass runs every 15 minutes.
pub const MAX_CALLS_PER_ACCOUNT: usize = 45;
/// Failed fetches in a row after which a post is not asked about again.
pub const MAX_FAILURES: u32 = 10;

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Collected {
    /// Posts that were due.
    pub due: usize,
    /// Observations stored.
    pub observed: usize,
    /// Observations the learner took.
    pub learned: usize,
    /// Posts the platform no longer shows (deleted or private): collection ended.
    pub gone: usize,
    /// Posts with no numbers yet, or whose fetch failed: asked again later.
    pub deferred: usize,
    /// Accounts whose fetch failed, with why.
    pub problems: Vec<String>,
}

/// One stored observation of a post.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub observed_at: Timestamp,
    /// Seconds since the post went out.
    pub age_s: i64,
    pub metrics: Metrics,
    /// Engagement by the platform's measure, when there was anything to measure.
    pub score: Option<f64>,
    /// How much the learner counted it.
    pub weight: f64,
    /// `true` for the sandbox channel's simulated audience.
    pub simulated: bool,
}

/// One observation per post per cadence step, in step (so time) order.
fn observation_sk(post_id: &str, step: u32) -> String {
    format!("METRIC#{post_id}#{step:02}")
}

/// The learner's features of a post and what was predicted for it: its concept's kind (when
/// it came from one), platform, posting hour (in the tenant's zone), provider, length and the
/// narrating voice.
struct PostFacts {
    features: Vec<String>,
    kind: Vec<String>,
    predicted: f64,
    duration_s: f64,
    concept_id: Option<String>,
    /// Hours from its concept's trend coming out to the post going out, when known.
    trend_age_h: Option<f64>,
}

async fn facts(store: &dyn ItemStore, post: &Post) -> Result<PostFacts> {
    let job = videos::get(store, &post.tenant_id, &post.job_id).await?;
    let mut kind = Vec::new();
    let mut predicted = PRIOR_MEAN;
    let mut trend_at = None;
    if let Some(cid) = &job.spec.concept_id
        && let Ok(concept) = concepts::get(store, &post.tenant_id, cid).await
    {
        kind = concept.kind().features().to_vec();
        predicted = f64::from(concept.predicted_score) / 100.0 * 0.2;
        trend_at = concept
            .trends
            .first()
            .and_then(|t| t.published_at.as_deref())
            .and_then(Timestamp::parse_rfc3339);
    }
    let published = post.published_at.unwrap_or(post.created_at);
    let trend_age_h = trend_at.map(|at| (published.millis() - at.millis()) as f64 / 3_600_000.0);
    // Posting hours are the audience's: the tenant's zone (its autopilot's; UTC without one —
    // platforms do not say an account's zone).
    let zone = crate::service::autopilot::get(store, &post.tenant_id)
        .await?
        .and_then(|a| a.settings.zone().ok())
        .unwrap_or(jiff::tz::TimeZone::UTC);
    let mut features = kind.clone();
    features.push(format!("platform:{}", post.platform.as_str()));
    features.push(crate::domain::autopilot::hour_feature_in(published, &zone));
    features.push(format!(
        "provider:{}",
        job.provider
            .as_deref()
            .unwrap_or(job.spec.provider.as_str())
    ));
    features.push(length_feature(job.spec.duration_s));
    features.push(voice_feature(job.spec.narration.as_ref()));
    Ok(PostFacts {
        features,
        kind,
        predicted,
        duration_s: job.spec.duration_s,
        concept_id: job.spec.concept_id.clone(),
        trend_age_h,
    })
}

/// Posts whose numbers are due by `now`, oldest due first, at most `max`.
async fn due_posts(store: &dyn ItemStore, now: Timestamp, max: usize) -> Result<Vec<Post>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query_gsi1(Query::new(METRICS_DUE, "").limit(100).after(cursor))
            .await?;
        for item in &page.items {
            let Some(post) = item
                .pk
                .strip_prefix("T#")
                .and_then(|t| Post::from_item(t, item))
            else {
                tracing::warn!(pk = %item.pk, sk = %item.sk, "a post in the metrics index does not decode");
                continue;
            };
            if post.metrics_due.is_none_or(|d| d > now) || out.len() >= max {
                return Ok(out);
            }
            out.push(post);
        }
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok(out),
        }
    }
}

impl Collector<'_> {
    /// One pass: every post due now (at most `max`), by account.
    pub async fn collect(&self, max: usize) -> Result<Collected> {
        let due = due_posts(self.store, self.clock.now(), max).await?;
        self.observe(due).await
    }

    /// Fetches these published posts' numbers now, whatever their due time (`viral demo`
    /// observes its own post on a clock a day ahead, and nothing else).
    pub async fn observe(&self, due: Vec<Post>) -> Result<Collected> {
        let mut out = Collected {
            due: due.len(),
            ..Collected::default()
        };
        let mut by_account: BTreeMap<(String, String), Vec<Post>> = BTreeMap::new();
        for p in due {
            by_account
                .entry((p.tenant_id.clone(), p.account_id.clone()))
                .or_default()
                .push(p);
        }
        for ((tenant, account), group) in by_account {
            if let Err(e) = self
                .collect_account(&tenant, &account, group, &mut out)
                .await
            {
                // Isolated: the next account goes on; these posts stay due for the next pass.
                tracing::warn!(tenant_id = %tenant, account_id = %account, error = %e, "collecting an account's metrics failed");
                out.problems.push(format!("{account}: {e}"));
            }
        }
        crate::metrics::record(
            "MetricsObserved",
            out.observed as f64,
            crate::metrics::Unit::Count,
            None,
        );
        Ok(out)
    }

    async fn collect_account(
        &self,
        tenant: &str,
        account_id: &str,
        group: Vec<Post>,
        out: &mut Collected,
    ) -> Result<()> {
        let account = match accounts::get(self.store, tenant, account_id).await {
            Ok(a) => a,
            Err(Error::NotFound(_)) => {
                for p in group {
                    self.end(p, "the account was removed: collection ended", out)
                        .await?;
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let Some(publisher) = self.publishers.get(account.platform) else {
            for p in group {
                self.defer(p, "the platform is not configured here", out)
                    .await?;
            }
            return Ok(());
        };
        let batch = publisher.metrics_batch().max(1);
        let all: Vec<Vec<Post>> = group.chunks(batch).map(<[Post]>::to_vec).collect();
        let budget = all.len().min(MAX_CALLS_PER_ACCOUNT);
        let (now_chunks, later) = all.split_at(budget);
        // Past the account's calls for this pass, posts move back a pass: behind other
        // accounts' due posts in the index, so a backlog never starves them.
        let next_pass = self.clock.now().plus(Duration::from_secs(15 * 60));
        for p in later.iter().flatten() {
            self.wait_until(
                p.clone(),
                next_pass,
                "waiting its turn: this account's calls for the pass are spent",
                out,
            )
            .await?;
        }
        let mut chunks = now_chunks.iter().cloned();
        for chunk in chunks.by_ref() {
            let mut targets = Vec::new();
            let mut facts_of = Vec::new();
            let mut chunk_ok = Vec::new();
            for p in chunk {
                // A post whose job is gone cannot be described: it alone is deferred.
                let f = match facts(self.store, &p).await {
                    Ok(f) => f,
                    Err(e) => {
                        self.defer(p, &format!("its video could not be read: {e}"), out)
                            .await?;
                        continue;
                    }
                };
                targets.push(MetricsTarget {
                    platform_post_id: p.platform_post_id.clone().unwrap_or_default(),
                    published_at: p.published_at.unwrap_or(p.created_at),
                    duration_s: f.duration_s,
                    features: f.features.clone(),
                    trend_age_h: f.trend_age_h,
                });
                facts_of.push(f);
                chunk_ok.push(p);
            }
            let chunk = chunk_ok;
            if chunk.is_empty() {
                continue;
            }
            let now = self.clock.now();
            // The account's own call budget at its platform, shared with the publish steps
            // (Instagram's 200 calls an hour): spent, this account's posts wait for it.
            if let Some(wait) = publishing::call_budget(
                self.store,
                self.clock,
                &account,
                crate::domain::publish_limits::PlatformCall::Metrics,
            )
            .await?
            {
                let until = now.plus(Duration::from_secs(wait));
                out.problems.push(format!(
                    "{account_id}: the account's calls are used; retrying after {wait} s"
                ));
                for p in chunk.into_iter().chain(chunks.flatten()) {
                    self.wait_until(p, until, "the account's call budget is used", out)
                        .await?;
                }
                return Ok(());
            }
            let answer = publishing::call_with_token(
                self.store,
                self.vault,
                self.clock,
                &*publisher,
                &account,
                |access, account| {
                    let (publisher, targets) = (&publisher, &targets);
                    async move { publisher.metrics(&access, &account, targets, now).await }
                },
            )
            .await?;
            match answer {
                Ok(results) => {
                    let mut by_id: BTreeMap<String, Observed> = results.into_iter().collect();
                    for (p, f) in chunk.into_iter().zip(facts_of) {
                        let id = p.platform_post_id.clone().unwrap_or_default();
                        let observed = by_id.remove(&id).unwrap_or_else(|| {
                            Observed::Gone(
                                "the platform no longer returns it (deleted or private)".into(),
                            )
                        });
                        self.record(&account, p, &f, observed, out).await?;
                    }
                }
                Err(PublishError::Limited {
                    code,
                    retry_after_secs,
                    ..
                }) => {
                    // The platform's limit holds for the rest of this account's posts too.
                    let until = now.plus(Duration::from_secs(retry_after_secs.max(60)));
                    out.problems.push(format!(
                        "{account_id}: {code}; retrying after {retry_after_secs} s"
                    ));
                    for p in chunk.into_iter().chain(chunks.flatten()) {
                        self.wait_until(p, until, &format!("rate limited ({code})"), out)
                            .await?;
                    }
                    return Ok(());
                }
                // A dead grant: collection waits a day at a time, without counting it as the
                // post's failure, until the account is connected again.
                Err(e @ (PublishError::NeedsReconnect(_) | PublishError::Unauthorized(_))) => {
                    out.problems.push(format!("{account_id}: {}", e.code()));
                    let until = now.plus(Duration::from_secs(86_400));
                    for p in chunk.into_iter().chain(chunks.flatten()) {
                        self.wait_until(p, until, "the account needs reconnecting", out)
                            .await?;
                    }
                    return Ok(());
                }
                Err(e) => {
                    out.problems.push(format!("{account_id}: {}", e.code()));
                    for p in chunk {
                        self.defer(p, &format!("fetching failed: {}", e.code()), out)
                            .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn record(
        &self,
        account: &Account,
        mut post: Post,
        facts: &PostFacts,
        observed: Observed,
        out: &mut Collected,
    ) -> Result<()> {
        let m = match observed {
            Observed::Metrics(m) => m,
            Observed::Gone(why) => return self.end(post, &why, out).await,
            Observed::Unavailable(why) => return self.defer(post, &why, out).await,
        };
        let now = self.clock.now();
        let published = post.published_at.unwrap_or(post.created_at);
        let age = Duration::from_millis((now.millis() - published.millis()).max(0) as u64);
        let score = metrics::engagement(account.platform, &m, facts.duration_s);
        let weight = maturity_weight(age);
        let observation = Observation {
            observed_at: now,
            age_s: age.as_secs() as i64,
            metrics: m.clone(),
            score,
            weight,
            simulated: account.platform == crate::domain::account::Platform::Sandbox,
        };
        let pk = keys::tenant_pk(&post.tenant_id);
        // One observation per cadence step: a second pass at the same step (two collectors,
        // a retried invocation) stores and teaches nothing more.
        let step = metrics::next_step_after(published, now);
        let item = Item::new(&pk, observation_sk(&post.id, step)).with(
            "observation",
            serde_json::to_value(&observation).unwrap_or(Value::Null),
        );
        let first = match self.store.put(item, Cond::Absent).await {
            Ok(()) => true,
            Err(StoreError::ConditionFailed { .. }) => false,
            Err(e) => return Err(e.into()),
        };
        if first {
            out.observed += 1;
        }
        if let (true, Some(score)) = (first, score) {
            let lesson = Lesson {
                // The newest observation of a post replaces its earlier one.
                sk: format!(
                    "FB#{}#{}#{}",
                    facts.concept_id.as_deref().unwrap_or("-"),
                    post.platform.as_str(),
                    post.id
                ),
                features: facts.features.clone(),
                score,
                weight,
                predicted: facts.predicted,
                source: "collected",
                attrs: vec![
                    ("post_id".into(), Value::from(post.id.clone())),
                    ("account_id".into(), Value::from(post.account_id.clone())),
                    ("published_at".into(), Value::from(published.millis())),
                    ("simulated".into(), Value::from(observation.simulated)),
                    ("metrics".into(), json!(m)),
                ]
                .into_iter()
                .chain(
                    facts
                        .concept_id
                        .clone()
                        .map(|c| ("concept_id".to_owned(), Value::from(c))),
                )
                .collect(),
                // A person's report on this concept and platform stands for what is now
                // measured: counting both would count the post twice.
                replaces: facts
                    .concept_id
                    .as_deref()
                    .zip(crate::service::posts::validation_name(post.platform))
                    .map(|(cid, platform)| concepts::feedback_sk(cid, platform))
                    .into_iter()
                    .collect(),
            };
            // The observation is kept either way; a learner that kept changing learns from the
            // post's next one.
            match learning::learn(
                self.store,
                self.clock,
                &post.tenant_id,
                &lesson,
                &facts.kind,
            )
            .await
            {
                Ok(_) => out.learned += 1,
                Err(e) => {
                    tracing::warn!(post_id = %post.id, error = %e, "an observation did not reach the learner");
                }
            }
        }
        post.metrics_taken = step;
        post.metrics_due = metrics::next_due(published, post.metrics_taken);
        post.metrics_failures = 0;
        post.metrics_note = post
            .metrics_due
            .is_none()
            .then(|| "collection complete (28 days)".to_owned());
        self.save(post).await
    }

    /// Collection of this post ends (deleted, private, account removed).
    async fn end(&self, mut post: Post, why: &str, out: &mut Collected) -> Result<()> {
        out.gone += 1;
        post.metrics_due = None;
        post.metrics_note = Some(why.to_owned());
        self.save(post).await
    }

    /// No numbers this time: asked again after a growing pause, then given up.
    async fn defer(&self, mut post: Post, why: &str, out: &mut Collected) -> Result<()> {
        out.deferred += 1;
        post.metrics_failures += 1;
        if post.metrics_failures >= MAX_FAILURES {
            post.metrics_due = None;
            post.metrics_note = Some(format!("gave up after {MAX_FAILURES} tries: {why}"));
        } else {
            post.metrics_due = Some(
                self.clock
                    .now()
                    .plus(metrics::retry_after(post.metrics_failures - 1)),
            );
            post.metrics_note = Some(why.to_owned());
        }
        self.save(post).await
    }

    async fn wait_until(
        &self,
        mut post: Post,
        until: Timestamp,
        why: &str,
        out: &mut Collected,
    ) -> Result<()> {
        out.deferred += 1;
        post.metrics_due = Some(until);
        post.metrics_note = Some(why.to_owned());
        self.save(post).await
    }

    async fn save(&self, post: Post) -> Result<()> {
        match posts::save(self.store, self.clock, post).await {
            // Changed meanwhile (another pass took it): it is still in the index.
            Ok(_) | Err(Error::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// A post's observations, oldest first (the tenant's own: a wrong tenant's post is 404).
pub async fn series(
    store: &dyn ItemStore,
    tenant_id: &str,
    post_id: &str,
) -> Result<(Post, Vec<Observation>)> {
    let post = posts::get(store, tenant_id, post_id).await?;
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .query(
                Query::new(keys::tenant_pk(tenant_id), format!("METRIC#{post_id}#"))
                    .limit(100)
                    .after(cursor),
            )
            .await?;
        out.extend(Item::decode_all(&page.items, "observation", |i| {
            serde_json::from_value(i.attrs.get("observation")?.clone()).ok()
        }));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => return Ok((post, out)),
        }
    }
}

/// One scheduled pass: collect what is due, then fold the learners' new evidence into the
/// platform-wide prior.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Pass {
    pub collected: Collected,
    pub folded: learning::Folded,
}

/// Posts collected per pass at most (the rest stay due for the next).
pub const MAX_POSTS_PER_PASS: usize = 2_000;

impl Collector<'_> {
    /// Folds first, so a pass cut short by its time limit still moves the prior on.
    pub async fn pass(&self) -> Result<Pass> {
        let mut folded = learning::fold(self.store).await?;
        let collected = self.collect(MAX_POSTS_PER_PASS).await?;
        let after = learning::fold(self.store).await?;
        folded.tenants += after.tenants;
        folded.observations += after.observations;
        folded.deferred = after.deferred;
        Ok(Pass { collected, folded })
    }
}
