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

    /// One of it, in messages.
    pub fn unit(self) -> &'static str {
        match self {
            Resource::Concepts => "concept",
            Resource::Videos => "video",
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

    /// The billing period holding `now`: `p` itself, or — when `now` is past its end and
    /// Stripe has not reported the next one yet (a late or lost webhook) — the one Stripe
    /// starts: at `p`'s end, as long as `p` in whole months (at least one: a trial is
    /// followed by a month), its boundaries on the anchor's day of the month (clamped to
    /// shorter months, as Stripe bills). Its key is the one the reported period will have, so
    /// usage does not move when the webhook lands.
    pub fn billing_at(p: Period, now: Timestamp) -> Self {
        if now.secs() < p.end {
            return Self::billing(p);
        }
        let months = ((p.end - p.start) as f64 / (30.44 * 86_400.0))
            .round()
            .max(1.0) as i32;
        // A clamped boundary (Feb 28 for an anchor on the 31st) has the smaller day: the
        // other one carries the anchor's day.
        let anchor = if day_of_month(p.end) >= day_of_month(p.start) {
            p.end
        } else {
            p.start
        };
        let mut start = p.end;
        for j in 0..2400 {
            let boundary = add_months(anchor, j * months);
            if boundary <= start {
                continue;
            }
            if now.secs() < boundary {
                return Self::billing(Period {
                    start,
                    end: boundary,
                });
            }
            start = boundary;
        }
        Self::billing(Period {
            start,
            end: add_months(start, months),
        })
    }
}

fn day_of_month(secs: i64) -> u8 {
    time::OffsetDateTime::from_unix_timestamp(secs).map_or(1, |t| t.day())
}

/// `months` calendar months after `secs`, the day of the month kept where the month has it
/// and clamped to its last day where it does not (Jan 31 + 1 month = Feb 28).
fn add_months(secs: i64, months: i32) -> i64 {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs) else {
        return secs;
    };
    let total = t.year() * 12 + i32::from(u8::from(t.month())) - 1 + months;
    let (year, month0) = (total.div_euclid(12), total.rem_euclid(12));
    let Ok(month) = time::Month::try_from(u8::try_from(month0 + 1).unwrap_or(1)) else {
        return secs;
    };
    let day = t.day().min(month.length(year));
    time::Date::from_calendar_date(year, month, day)
        .map(|d| t.replace_date(d).unix_timestamp())
        .unwrap_or(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        Timestamp::parse_rfc3339(s).unwrap().secs()
    }

    #[test]
    fn a_billing_period_rolls_over_when_its_next_one_is_late() {
        let p = Period {
            start: at("2026-01-31T10:00:00Z"),
            end: at("2026-02-28T10:00:00Z"),
        };
        // Inside it: itself.
        let inside = UsagePeriod::billing_at(p, Timestamp::from_secs(at("2026-02-10T00:00:00Z")));
        assert_eq!(inside, UsagePeriod::billing(p));
        // Past its end with no new period reported: the one Stripe starts next.
        let late = UsagePeriod::billing_at(p, Timestamp::from_secs(at("2026-03-05T00:00:00Z")));
        assert_eq!(late.start, Timestamp::from_secs(at("2026-02-28T10:00:00Z")));
        assert_eq!(late.end, Timestamp::from_secs(at("2026-03-31T10:00:00Z")));
        assert_eq!(late.key, late.start.rfc3339());
        // Months later still: counted from the anchor, the day of the month kept.
        let later = UsagePeriod::billing_at(p, Timestamp::from_secs(at("2026-05-01T00:00:00Z")));
        assert_eq!(
            later.start,
            Timestamp::from_secs(at("2026-04-30T10:00:00Z"))
        );
        // Anchored on the 31st, a period that ended on a clamped day: the next one starts
        // where Stripe starts it (at the end) and ends on the 31st.
        let clamped = Period {
            start: at("2026-02-28T10:00:00Z"),
            end: at("2026-03-31T10:00:00Z"),
        };
        let late =
            UsagePeriod::billing_at(clamped, Timestamp::from_secs(at("2026-04-02T00:00:00Z")));
        assert_eq!(late.start, Timestamp::from_secs(at("2026-03-31T10:00:00Z")));
        assert_eq!(late.end, Timestamp::from_secs(at("2026-04-30T10:00:00Z")));
        let after =
            UsagePeriod::billing_at(clamped, Timestamp::from_secs(at("2026-05-02T00:00:00Z")));
        assert_eq!(
            after.start,
            Timestamp::from_secs(at("2026-04-30T10:00:00Z"))
        );
        assert_eq!(after.end, Timestamp::from_secs(at("2026-05-31T10:00:00Z")));
        // A seven-day trial is followed by a month from its end, never a period ahead of now.
        let trial = Period {
            start: at("2026-03-01T00:00:00Z"),
            end: at("2026-03-08T00:00:00Z"),
        };
        let now = Timestamp::from_secs(at("2026-03-09T00:00:00Z"));
        let paid = UsagePeriod::billing_at(trial, now);
        assert_eq!(paid.start, Timestamp::from_secs(at("2026-03-08T00:00:00Z")));
        assert_eq!(paid.end, Timestamp::from_secs(at("2026-04-08T00:00:00Z")));
        assert!(paid.start <= now && now < paid.end);
        // A yearly period rolls by years.
        let year = Period {
            start: at("2026-03-01T00:00:00Z"),
            end: at("2027-03-01T00:00:00Z"),
        };
        let next = UsagePeriod::billing_at(year, Timestamp::from_secs(at("2027-06-01T00:00:00Z")));
        assert_eq!(next.start, Timestamp::from_secs(at("2027-03-01T00:00:00Z")));
        assert_eq!(next.end, Timestamp::from_secs(at("2028-03-01T00:00:00Z")));
    }

    #[test]
    fn calendar_months_roll_over() {
        let dec = UsagePeriod::month(Timestamp::from_secs(at("2026-12-31T23:59:59Z")));
        let jan = UsagePeriod::month(Timestamp::from_secs(at("2027-01-01T00:00:00Z")));
        assert_eq!((dec.key.as_str(), jan.key.as_str()), ("2026-12", "2027-01"));
        assert_eq!(dec.end, jan.start);
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
