//! Where trends come from and who writes concepts from them. The offline implementations —
//! the dated sample trends and the rule-based writer — need no key and do no I/O; the live
//! ones (YouTube, GNews, Anthropic) are HTTP clients behind the same traits.

use async_trait::async_trait;

use crate::domain::concept::{self, Brief, Concept, Trend};
use crate::domain::learner::Posterior;

/// Why a source or writer failed, classified like provider errors.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// 429, 5xx, timeouts: worth retrying later.
    #[error("{0} is temporarily unavailable")]
    Transient(String),
    /// A bad request or an answer we cannot use: an operator must act.
    #[error("{0}")]
    Permanent(String),
    /// The key was refused (missing, invalid, revoked).
    #[error("{0}")]
    Credentials(String),
    /// The source's quota for the day is spent; it resets on the source's schedule.
    #[error("{0}")]
    QuotaExhausted(String),
    /// The model declined, or its answer was unusable after a repair.
    #[error("{0}")]
    Unusable(String),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrendQuery {
    /// ISO 3166 country, e.g. `US`.
    pub region: Option<String>,
    pub category: Option<String>,
    pub max: usize,
}

#[async_trait]
pub trait TrendSource: Send + Sync {
    /// `sample`, `youtube`, `gnews` (`youtube+gnews` when merged): shown to users so they
    /// know what is live.
    fn name(&self) -> &str;
    async fn trends(&self, q: &TrendQuery) -> Result<Vec<Trend>, SourceError>;
}

#[async_trait]
pub trait ConceptWriter: Send + Sync {
    /// `rules` or the model's name.
    fn name(&self) -> &str;
    /// The most one batch of `count` concepts can cost, in US cents (0 for a free writer):
    /// autopilot holds it from the day's budget before it asks.
    fn max_cost_cents(&self, _count: usize) -> u32 {
        0
    }
    /// `brief.count` concepts from the trends, steered by what the learner believes.
    async fn write(
        &self,
        trends: &[Trend],
        brief: &Brief,
        learner: &Posterior,
        seed: u64,
    ) -> Result<Vec<Concept>, SourceError>;
}

/// The dated sample trends shipped with the project, filtered by category when asked.
pub struct SampleTrends;

#[async_trait]
impl TrendSource for SampleTrends {
    fn name(&self) -> &str {
        "sample"
    }

    async fn trends(&self, q: &TrendQuery) -> Result<Vec<Trend>, SourceError> {
        let all = concept::sample_trends();
        let wanted: Vec<Trend> = match &q.category {
            Some(c) => all.iter().filter(|t| &t.category == c).cloned().collect(),
            None => all.clone(),
        };
        let mut out = if wanted.is_empty() { all } else { wanted };
        out.truncate(q.max.max(1));
        Ok(out)
    }
}

/// The offline writer: templates steered by the learner (see `concept::write_offline`).
pub struct RuleWriter;

#[async_trait]
impl ConceptWriter for RuleWriter {
    fn name(&self) -> &str {
        "rules"
    }

    async fn write(
        &self,
        trends: &[Trend],
        brief: &Brief,
        learner: &Posterior,
        seed: u64,
    ) -> Result<Vec<Concept>, SourceError> {
        let out = concept::write_offline(trends, brief, learner, seed, &mut || {
            crate::ids::new_id("cn")
        });
        if out.is_empty() {
            return Err(SourceError::Unusable("no trends to write from".into()));
        }
        Ok(out)
    }
}
