//! Plans and their monthly limits: the one table in code that quotas come from.

use serde::{Deserialize, Serialize};

use crate::domain::routing::QualityTier;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    /// Trial: enough to see the product work.
    Free,
    Starter,
    Pro,
    Agency,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PlanLimits {
    /// Price in US cents per month.
    pub price_cents: u32,
    /// Concepts generated per month.
    pub concepts: i64,
    /// Videos generated per month.
    pub videos: i64,
    /// What routing aims for on this plan.
    pub tier: QualityTier,
    /// Most one video may cost in provider fees, in US cents: videos × this stays under the
    /// plan's price.
    pub max_video_cost_cents: u32,
}

impl Plan {
    pub const ALL: [Plan; 4] = [Plan::Free, Plan::Starter, Plan::Pro, Plan::Agency];

    /// Concept limits follow the seed (10 / 50 / 500). Video limits keep the provider cost of a
    /// month's videos (about $1.80 for 15 s at $0.12/s) well under the plan's price.
    pub fn limits(self) -> PlanLimits {
        match self {
            Plan::Free => PlanLimits {
                price_cents: 0,
                concepts: 3,
                videos: 1,
                tier: QualityTier::Preview,
                max_video_cost_cents: 0,
            },
            Plan::Starter => PlanLimits {
                price_cents: 4_900,
                concepts: 10,
                videos: 10,
                tier: QualityTier::Standard,
                max_video_cost_cents: 300,
            },
            Plan::Pro => PlanLimits {
                price_cents: 14_900,
                concepts: 50,
                videos: 40,
                tier: QualityTier::Standard,
                max_video_cost_cents: 300,
            },
            Plan::Agency => PlanLimits {
                price_cents: 49_900,
                concepts: 500,
                videos: 150,
                tier: QualityTier::Premium,
                max_video_cost_cents: 300,
            },
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Starter => "starter",
            Plan::Pro => "pro",
            Plan::Agency => "agency",
        }
    }

    pub fn parse(s: &str) -> Option<Plan> {
        Plan::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_parse_and_grow() {
        for p in Plan::ALL {
            assert_eq!(Plan::parse(p.as_str()), Some(p));
        }
        assert_eq!(Plan::parse("gold"), None);
        for p in Plan::ALL {
            let l = p.limits();
            assert!(
                l.videos * i64::from(l.max_video_cost_cents) < i64::from(l.price_cents.max(1)),
                "{p:?} could cost more than it earns"
            );
        }
        assert_eq!(Plan::Starter.limits().concepts, 10);
        assert_eq!(Plan::Pro.limits().concepts, 50);
        assert_eq!(Plan::Agency.limits().concepts, 500);
        let w = Plan::ALL.windows(2);
        for pair in w {
            assert!(pair[0].limits().videos < pair[1].limits().videos);
            assert!(pair[0].limits().concepts < pair[1].limits().concepts);
        }
    }
}
