//! Monthly usage: one counter item per tenant per month, checked against the plan's limits.

use crate::clock::{Month, Timestamp};

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

#[derive(Clone, Debug, PartialEq)]
pub struct Usage {
    pub period: Month,
    pub plan: Plan,
    pub concepts: Counter,
    pub videos: Counter,
    pub resets_at: Timestamp,
}

impl Usage {
    pub fn new(period: Month, plan: Plan, concepts_used: i64, videos_used: i64) -> Self {
        Self {
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
            resets_at: period.next().start(),
        }
    }
}
