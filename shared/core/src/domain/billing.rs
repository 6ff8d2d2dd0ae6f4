//! A tenant's subscriptions as Stripe's webhooks describe them, and the plan and usage period
//! they give.
//!
//! Stripe delivers events more than once and in any order. Each subscription's fields are
//! therefore last-writer-wins registers stamped with the event that wrote them (its `created`
//! second, then its id to break ties), and `canceled` is final for a subscription (Stripe
//! never revives one). Applying the same events in any order, any number of times, gives the
//! same state — the state in-order delivery gives.
//!
//! The plan follows from the state, not from when events arrived: `active` and `trialing`
//! give the subscription's plan; `past_due` keeps it for [`PAST_DUE_GRACE`] after the unpaid
//! period began (Stripe's retries run meanwhile); `unpaid`, `canceled`, `incomplete`,
//! `incomplete_expired` and `paused` give nothing, and neither does a subscription set to
//! cancel once its period is over. With several subscriptions the best plan wins; with
//! subscriptions but none giving access, the tenant is on the free plan; with none at all,
//! the plan an operator set stays.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::plan::Plan;

/// Stripe's API, where `STRIPE_BASE_URL` points by default.
pub const STRIPE_API: &str = "https://api.stripe.com";
/// How long `past_due` keeps a plan, from the start of the period that went unpaid.
pub const PAST_DUE_GRACE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Subscriptions kept per tenant (the oldest ended ones are dropped beyond this).
const MAX_SUBSCRIPTIONS: usize = 16;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Unpaid,
    Paused,
    Canceled,
}

impl SubscriptionStatus {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "incomplete" => Self::Incomplete,
            "incomplete_expired" => Self::IncompleteExpired,
            "trialing" => Self::Trialing,
            "active" => Self::Active,
            "past_due" => Self::PastDue,
            "unpaid" => Self::Unpaid,
            "paused" => Self::Paused,
            "canceled" => Self::Canceled,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Incomplete => "incomplete",
            Self::IncompleteExpired => "incomplete_expired",
            Self::Trialing => "trialing",
            Self::Active => "active",
            Self::PastDue => "past_due",
            Self::Unpaid => "unpaid",
            Self::Paused => "paused",
            Self::Canceled => "canceled",
        }
    }

    /// Stripe never moves a subscription out of these.
    fn is_final(self) -> bool {
        matches!(self, Self::Canceled | Self::IncompleteExpired)
    }
}

/// Which event wrote a value: its `created` second, then its id.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Stamp {
    pub at: i64,
    pub event: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stamped<T> {
    pub value: T,
    pub stamp: Stamp,
}

/// Writes `value` unless the register holds a value from a later (or the same) event.
fn write<T: Clone + PartialEq>(
    reg: &mut Option<Stamped<T>>,
    value: &Option<T>,
    stamp: &Stamp,
) -> bool {
    let Some(value) = value else { return false };
    match reg {
        Some(cur) if cur.stamp >= *stamp => false,
        _ => {
            *reg = Some(Stamped {
                value: value.clone(),
                stamp: stamp.clone(),
            });
            true
        }
    }
}

/// The billing period, in seconds since the epoch: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub start: i64,
    pub end: i64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Subscription {
    pub plan: Option<Stamped<Plan>>,
    pub status: Option<Stamped<SubscriptionStatus>>,
    pub period: Option<Stamped<Period>>,
    pub cancel_at_period_end: Option<Stamped<bool>>,
}

/// What one event says about one subscription.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub subscription_id: String,
    pub stamp: Stamp,
    pub plan: Option<Plan>,
    pub status: Option<SubscriptionStatus>,
    pub period: Option<Period>,
    pub cancel_at_period_end: Option<bool>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Billing {
    /// The tenant's Stripe customer, once one exists.
    #[serde(default)]
    pub customer_id: Option<String>,
    /// By subscription id.
    #[serde(default)]
    pub subscriptions: BTreeMap<String, Subscription>,
}

/// What a tenant's subscriptions give right now.
#[derive(Clone, Debug, PartialEq)]
pub struct Standing {
    pub plan: Plan,
    /// The subscription giving the plan, with its state.
    pub subscription_id: Option<String>,
    pub status: Option<SubscriptionStatus>,
    pub period: Option<Period>,
    pub cancel_at_period_end: bool,
}

impl Subscription {
    fn status(&self) -> Option<SubscriptionStatus> {
        self.status.as_ref().map(|s| s.value)
    }

    /// The plan this subscription gives at `now`, if any.
    fn gives(&self, now: Timestamp) -> Option<Plan> {
        let plan = self.plan.as_ref()?.value;
        let period = self.period.as_ref().map(|p| p.value);
        let ending = self.cancel_at_period_end.as_ref().is_some_and(|c| c.value);
        if ending && period.is_some_and(|p| now.secs() >= p.end) {
            return None;
        }
        match self.status()? {
            SubscriptionStatus::Active | SubscriptionStatus::Trialing => Some(plan),
            SubscriptionStatus::PastDue => {
                let since = match period {
                    Some(p) => p.start,
                    None => self.status.as_ref()?.stamp.at,
                };
                (now.secs() < since + PAST_DUE_GRACE.as_secs() as i64).then_some(plan)
            }
            _ => None,
        }
    }
}

fn plan_rank(p: Plan) -> usize {
    Plan::ALL.iter().position(|x| *x == p).unwrap_or(0)
}

impl Billing {
    /// Applies one event's change; true when anything changed.
    pub fn apply(&mut self, c: &Change) -> bool {
        let sub = self
            .subscriptions
            .entry(c.subscription_id.clone())
            .or_default();
        let mut changed = false;
        if sub.status().is_some_and(SubscriptionStatus::is_final) {
            // Canceled is final: only a later-or-equal final status could replace it, and
            // only to make the register independent of the order the final events came in.
            if let Some(s) = c.status.filter(|s| s.is_final()) {
                changed |= write(&mut sub.status, &Some(s), &c.stamp);
            }
        } else if c.status.is_some_and(SubscriptionStatus::is_final) {
            sub.status = Some(Stamped {
                value: c.status.unwrap_or(SubscriptionStatus::Canceled),
                stamp: c.stamp.clone(),
            });
            changed = true;
        } else {
            changed |= write(&mut sub.status, &c.status, &c.stamp);
        }
        changed |= write(&mut sub.plan, &c.plan, &c.stamp);
        changed |= write(&mut sub.period, &c.period, &c.stamp);
        changed |= write(
            &mut sub.cancel_at_period_end,
            &c.cancel_at_period_end,
            &c.stamp,
        );
        self.prune();
        changed
    }

    /// Keeps the map bounded: drops the oldest ended subscriptions first.
    fn prune(&mut self) {
        while self.subscriptions.len() > MAX_SUBSCRIPTIONS {
            let oldest_ended = self
                .subscriptions
                .iter()
                .filter(|(_, s)| s.status().is_some_and(SubscriptionStatus::is_final))
                .min_by_key(|(_, s)| s.status.as_ref().map(|x| x.stamp.clone()))
                .map(|(id, _)| id.clone());
            match oldest_ended {
                Some(id) => {
                    self.subscriptions.remove(&id);
                }
                None => break,
            }
        }
    }

    /// The plan the subscriptions give at `now` (`base` when there are none).
    pub fn standing(&self, base: Plan, now: Timestamp) -> Standing {
        let best = self
            .subscriptions
            .iter()
            .filter_map(|(id, s)| s.gives(now).map(|p| (p, id, s)))
            .max_by_key(|(p, id, _)| (plan_rank(*p), std::cmp::Reverse((*id).clone())));
        match best {
            Some((plan, id, s)) => Standing {
                plan,
                subscription_id: Some(id.clone()),
                status: s.status(),
                period: s.period.as_ref().map(|p| p.value),
                cancel_at_period_end: s.cancel_at_period_end.as_ref().is_some_and(|c| c.value),
            },
            None if self.subscriptions.is_empty() => Standing {
                plan: base,
                subscription_id: None,
                status: None,
                period: None,
                cancel_at_period_end: false,
            },
            None => {
                // The most recently changed subscription says why there is no access.
                let latest = self
                    .subscriptions
                    .iter()
                    .max_by_key(|(_, s)| s.status.as_ref().map(|x| x.stamp.clone()));
                Standing {
                    plan: Plan::Free,
                    subscription_id: latest.map(|(id, _)| id.clone()),
                    status: latest.and_then(|(_, s)| s.status()),
                    period: latest.and_then(|(_, s)| s.period.as_ref().map(|p| p.value)),
                    cancel_at_period_end: latest.is_some_and(|(_, s)| {
                        s.cancel_at_period_end.as_ref().is_some_and(|c| c.value)
                    }),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(sub: &str, at: i64, id: &str) -> Change {
        Change {
            subscription_id: sub.into(),
            stamp: Stamp {
                at,
                event: id.into(),
            },
            plan: None,
            status: None,
            period: None,
            cancel_at_period_end: None,
        }
    }

    const DAY: i64 = 24 * 3600;

    fn active(sub: &str, at: i64, plan: Plan) -> Change {
        Change {
            plan: Some(plan),
            status: Some(SubscriptionStatus::Active),
            period: Some(Period {
                start: at,
                end: at + 30 * DAY,
            }),
            cancel_at_period_end: Some(false),
            ..change(sub, at, &format!("evt_{at}"))
        }
    }

    #[test]
    fn the_latest_event_wins_whatever_the_order() {
        let a = active("sub_1", 100, Plan::Starter);
        let b = Change {
            plan: Some(Plan::Pro),
            ..change("sub_1", 200, "evt_b")
        };
        let mut x = Billing::default();
        x.apply(&a);
        x.apply(&b);
        let mut y = Billing::default();
        y.apply(&b);
        y.apply(&a);
        y.apply(&b);
        assert_eq!(x, y);
        assert_eq!(
            x.standing(Plan::Free, Timestamp::from_secs(300)).plan,
            Plan::Pro
        );
    }

    #[test]
    fn canceled_is_final() {
        let mut b = Billing::default();
        b.apply(&Change {
            status: Some(SubscriptionStatus::Canceled),
            ..change("sub_1", 100, "evt_cancel")
        });
        // An older or newer "active" cannot revive it.
        b.apply(&active("sub_1", 50, Plan::Pro));
        b.apply(&active("sub_1", 150, Plan::Pro));
        let s = b.standing(Plan::Agency, Timestamp::from_secs(200));
        assert_eq!(
            (s.plan, s.status),
            (Plan::Free, Some(SubscriptionStatus::Canceled))
        );
    }

    #[test]
    fn past_due_keeps_the_plan_for_the_grace_period() {
        let mut b = Billing::default();
        b.apply(&active("sub_1", 0, Plan::Pro));
        b.apply(&Change {
            status: Some(SubscriptionStatus::PastDue),
            period: Some(Period {
                start: 30 * DAY,
                end: 60 * DAY,
            }),
            ..change("sub_1", 30 * DAY, "evt_failed")
        });
        assert_eq!(
            b.standing(Plan::Free, Timestamp::from_secs(36 * DAY)).plan,
            Plan::Pro
        );
        assert_eq!(
            b.standing(Plan::Free, Timestamp::from_secs(38 * DAY)).plan,
            Plan::Free
        );
        b.apply(&Change {
            status: Some(SubscriptionStatus::Unpaid),
            ..change("sub_1", 31 * DAY, "evt_unpaid")
        });
        assert_eq!(
            b.standing(Plan::Free, Timestamp::from_secs(31 * DAY + 1))
                .plan,
            Plan::Free
        );
    }

    #[test]
    fn cancellation_at_period_end_keeps_the_plan_until_then() {
        let mut b = Billing::default();
        b.apply(&active("sub_1", 0, Plan::Agency));
        b.apply(&Change {
            cancel_at_period_end: Some(true),
            ..change("sub_1", 10 * DAY, "evt_cancel_later")
        });
        let s = b.standing(Plan::Free, Timestamp::from_secs(20 * DAY));
        assert_eq!((s.plan, s.cancel_at_period_end), (Plan::Agency, true));
        assert_eq!(
            b.standing(Plan::Free, Timestamp::from_secs(30 * DAY)).plan,
            Plan::Free
        );
    }

    #[test]
    fn no_subscription_keeps_the_operators_plan_and_the_best_one_wins() {
        let b = Billing::default();
        assert_eq!(
            b.standing(Plan::Pro, Timestamp::from_secs(1)).plan,
            Plan::Pro
        );
        let mut b = Billing::default();
        b.apply(&active("sub_old", 0, Plan::Starter));
        b.apply(&active("sub_new", 5, Plan::Agency));
        let s = b.standing(Plan::Free, Timestamp::from_secs(10));
        assert_eq!(
            (s.plan, s.subscription_id.as_deref()),
            (Plan::Agency, Some("sub_new"))
        );
    }
}
