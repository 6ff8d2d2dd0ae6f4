//! Fixed-window rate limits: at most `max` requests per principal in each `window`.
//! The counter lives in the ItemStore so that the limit holds across Lambda instances.

use std::time::Duration;

use crate::clock::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimit {
    pub max: u32,
    pub window: Duration,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            max: 10,
            window: Duration::from_secs(10),
        }
    }
}

impl RateLimit {
    /// `"10/10s"`, `"100/1m"`, `"5/1h"`. `max` ≥ 1; the window is whole seconds, 1 s to 1 day.
    pub fn parse(s: &str) -> Option<RateLimit> {
        let (max, window) = s.trim().split_once('/')?;
        let max: u32 = max.trim().parse().ok().filter(|m| *m >= 1)?;
        let window = window.trim();
        let unit_at = window.find(|c: char| !c.is_ascii_digit())?;
        let (n, unit) = window.split_at(unit_at);
        let n: u64 = n.parse().ok()?;
        let secs = match unit {
            "s" => n,
            "m" => n.checked_mul(60)?,
            "h" => n.checked_mul(3600)?,
            _ => return None,
        };
        (1..=86_400).contains(&secs).then_some(RateLimit {
            max,
            window: Duration::from_secs(secs),
        })
    }

    fn window_secs(&self) -> i64 {
        i64::try_from(self.window.as_secs())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    /// Start of the window `now` falls in, in epoch seconds.
    pub fn window_start(&self, now: Timestamp) -> i64 {
        let w = self.window_secs();
        now.secs().div_euclid(w) * w
    }

    /// Whole seconds until the window ends (at least 1): the `Retry-After` value.
    pub fn retry_after(&self, now: Timestamp) -> u64 {
        let end_ms = (self.window_start(now) + self.window_secs()) * 1000;
        let left_ms = (end_ms - now.millis()).max(1);
        u64::try_from((left_ms + 999) / 1000).unwrap_or(1)
    }

    /// When the window's counter may be deleted (a minute after it ends).
    pub fn expires_at(&self, now: Timestamp) -> i64 {
        self.window_start(now) + self.window_secs() + 60
    }

    /// The attribute that counts the window `now` falls in when the counter is kept on the
    /// credential's own record (an API key's), and the one of the window before it.
    pub fn counter_attrs(&self, now: Timestamp) -> (String, String) {
        let start = self.window_start(now);
        (
            format!("{COUNTER_PREFIX}{start}"),
            format!("{COUNTER_PREFIX}{}", start - self.window_secs()),
        )
    }
}

/// What a window counter's attribute name starts with (see [`RateLimit::counter_attrs`]).
pub const COUNTER_PREFIX: &str = "rl_";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_window_counter_is_named_by_its_start_and_knows_the_one_before() {
        let limit = RateLimit::default();
        let (now, prev) = limit.counter_attrs(Timestamp(1_000_005_000));
        assert_eq!((now.as_str(), prev.as_str()), ("rl_1000000", "rl_999990"));
        assert_eq!(limit.counter_attrs(Timestamp(1_000_009_999)).0, now);
        assert_eq!(limit.counter_attrs(Timestamp(1_000_010_000)).1, now);
    }

    #[test]
    fn parses_the_documented_forms() {
        assert_eq!(RateLimit::parse("10/10s"), Some(RateLimit::default()));
        assert_eq!(
            RateLimit::parse("100/1m").map(|r| r.window),
            Some(Duration::from_secs(60))
        );
        assert!(RateLimit::parse("10/2h").is_some());
        for bad in [
            "", "10", "0/10s", "10/0s", "10/10", "10/10d", "x/10s", "10/48h", "-1/1s",
        ] {
            assert_eq!(RateLimit::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn windows_and_retry_after() {
        let rl = RateLimit::default();
        let t = Timestamp(1_000_003_500); // 1_000_003.5 s
        assert_eq!(rl.window_start(t), 1_000_000);
        assert_eq!(rl.retry_after(t), 7);
        assert_eq!(rl.retry_after(Timestamp(1_000_009_999)), 1);
        assert_eq!(rl.retry_after(Timestamp(1_000_000_000)), 10);
    }
}
