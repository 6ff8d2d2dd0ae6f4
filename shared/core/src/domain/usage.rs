//! Monthly usage: one counter item per tenant per month, checked against the plan's limits.

use crate::clock::Timestamp;
use crate::domain::billing::Period;

use super::plan::Plan;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    Concepts,
    Videos,
}

impl Resource {
    /// The counter attribute on the quota item.
    pub fn counter(self) -> &'static str {
        match self {
            Resource::Concepts => "concepts_used",
            Resource::Videos => "videos_used",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Resource::Concepts => "concepts",
            Resource::Videos => "videos",
        }
    }

    pub fn limit(self, plan: Plan) -> i64 {
        match self {
            Resource::Concepts => plan.limits().concepts,
            Resource::Videos => plan.limits().videos,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Counter {
    pub used: i64,
    pub limit: i64,
}

impl Counter {
    pub fn remaining(&self) -> i64 {
        (self.limit - self.used).max(0)
    }
}

/// The period usage is counted in: a calendar month (UTC), or a subscription's billing period.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsagePeriod {
    /// Names the counter item: `YYYY-MM` for a month, the start (RFC 3339) for a billing
    /// period.
    pub key: String,
    pub start: Timestamp,
    pub end: Timestamp,
}

impl UsagePeriod {
    pub fn month(now: Timestamp) -> Self {
        let m = now.month();
        Self {
            key: m.key(),
            start: m.start(),
            end: m.next().start(),
        }
    }

    pub fn billing(p: Period) -> Self {
        let start = Timestamp::from_secs(p.start);
        Self {
            key: start.rfc3339(),
            start,
            end: Timestamp::from_secs(p.end),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Usage {
    pub period: UsagePeriod,
    pub plan: Plan,
    pub concepts: Counter,
    pub videos: Counter,
    pub resets_at: Timestamp,
}

impl Usage {
    pub fn new(period: UsagePeriod, plan: Plan, concepts_used: i64, videos_used: i64) -> Self {
        Self {
            resets_at: period.end,
            period,
            plan,
            concepts: Counter {
                used: concepts_used,
                limit: Resource::Concepts.limit(plan),
            },
            videos: Counter {
                used: videos_used,
                limit: Resource::Videos.limit(plan),
            },
        }
    }
}
