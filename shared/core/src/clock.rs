//! Time as the domain sees it: milliseconds since the Unix epoch, from an injectable clock.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch (UTC).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    pub fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn plus(self, d: Duration) -> Self {
        Self(
            self.0
                .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        )
    }

    fn datetime(self) -> OffsetDateTime {
        let nanos = i128::from(self.0) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// RFC 3339 in UTC, e.g. `2026-11-25T01:12:33.000Z`.
    pub fn rfc3339(self) -> String {
        self.datetime()
            .format(&Rfc3339)
            .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
    }

    /// Parses RFC 3339 (`2026-11-20T08:00:00Z`, offsets and fractions too).
    pub fn parse_rfc3339(s: &str) -> Option<Self> {
        let dt = OffsetDateTime::parse(s.trim(), &Rfc3339).ok()?;
        i64::try_from(dt.unix_timestamp_nanos() / 1_000_000)
            .ok()
            .map(Self)
    }

    /// The calendar month this instant falls in (UTC): the usage period.
    pub fn month(self) -> Month {
        let dt = self.datetime();
        Month {
            year: dt.year(),
            month: u8::from(dt.month()),
        }
    }
}

/// A calendar month in UTC: the period usage counters and quotas are kept for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Month {
    pub year: i32,
    pub month: u8,
}

impl Month {
    /// `2026-11`: used in item keys and API responses.
    pub fn key(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }

    pub fn start(self) -> Timestamp {
        month_start(self.year, self.month)
    }

    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
}

fn month_start(year: i32, month: u8) -> Timestamp {
    let m = time::Month::try_from(month).unwrap_or(time::Month::January);
    let date = time::Date::from_calendar_date(year, m, 1).unwrap_or(time::Date::MIN);
    let dt = date.midnight().assume_utc();
    Timestamp(i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
}

/// Where "now" comes from. Tests use [`ManualClock`].
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(ms)
    }
}

/// A clock that only moves when told to.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(at: Timestamp) -> Self {
        Self(AtomicI64::new(at.0))
    }

    pub fn set(&self, at: Timestamp) {
        self.0.store(at.0, Ordering::SeqCst);
    }

    pub fn advance(&self, d: Duration) {
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_and_format() {
        // 2026-11-25T01:12:33Z
        let t = Timestamp(1_795_569_153_000);
        assert_eq!(t.month().key(), "2026-11");
        assert_eq!(t.rfc3339(), "2026-11-25T01:12:33Z");
        assert_eq!(t.month().next().key(), "2026-12");
        assert_eq!(
            Month {
                year: 2026,
                month: 12
            }
            .next()
            .key(),
            "2027-01"
        );
        assert_eq!(t.month().start().rfc3339(), "2026-11-01T00:00:00Z");
        assert!(t.month().start() <= t && t < t.month().next().start());
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Timestamp(5));
        assert_eq!(c.now(), Timestamp(5));
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now(), Timestamp(2005));
    }
}
