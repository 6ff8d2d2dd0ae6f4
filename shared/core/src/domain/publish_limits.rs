//! Posting limits, counted per UTC day in the item store so they hold across Lambdas:
//!
//! - **the app's** daily uploads per platform, shared by every tenant (YouTube gives one Cloud
//!   project about 100 `videos.insert` a day; an unaudited TikTok app lets few users post);
//! - **each tenant's fair share** of that, larger for paying plans, so one tenant's burst never
//!   burns the shared quota;
//! - **each account's** own cap (TikTok's per-creator daily cap, Instagram's 24 h publishing
//!   limit, YouTube's per-channel upload limit).
//!
//! A post that does not fit waits for the next day instead of failing.

use std::collections::HashMap;

use super::account::Platform;
use super::plan::Plan;
use crate::clock::Timestamp;

#[derive(Clone, Debug, PartialEq)]
pub struct PublishLimits {
    /// Posts per UTC day for the whole app, per platform; absent means no app-wide cap.
    pub app_daily: HashMap<Platform, u32>,
    /// Posts per UTC day per connected account.
    pub account_daily: HashMap<Platform, u32>,
}

impl Default for PublishLimits {
    fn default() -> Self {
        Self {
            // YouTube: the upload bucket of one Cloud project (social-apis §0). TikTok and
            // Instagram publish no app-wide post cap; ours keeps a burst from using up the
            // app's standing with them.
            app_daily: HashMap::from([
                (Platform::Youtube, 100),
                (Platform::Tiktok, 1000),
                (Platform::Instagram, 2000),
            ]),
            // TikTok's per-creator cap is unpublished (about 15 is reported); Instagram's
            // `content_publishing_limit` is 50 in its reference example; YouTube channels hit
            // `uploadLimitExceeded` at an unpublished count.
            account_daily: HashMap::from([
                (Platform::Tiktok, 15),
                (Platform::Youtube, 15),
                (Platform::Instagram, 50),
                (Platform::Sandbox, 100),
            ]),
        }
    }
}

impl PublishLimits {
    /// The share of the app's daily cap one tenant may use, by plan: paying plans first.
    pub fn tenant_share_percent(plan: Plan) -> u32 {
        match plan {
            Plan::Free => 5,
            Plan::Starter => 10,
            Plan::Pro => 20,
            Plan::Agency => 40,
        }
    }

    /// How many posts a tenant on `plan` may make on `platform` per day (`None`: no app cap).
    pub fn tenant_daily(&self, platform: Platform, plan: Plan) -> Option<u32> {
        let app = *self.app_daily.get(&platform)?;
        Some((app * Self::tenant_share_percent(plan) / 100).max(1))
    }

    pub fn account_daily(&self, platform: Platform) -> u32 {
        self.account_daily.get(&platform).copied().unwrap_or(10)
    }
}

/// A platform call that has its own per-user rate limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformCall {
    /// What the creator may do now (TikTok's `creator_info`: 20 a minute per user).
    CreatorInfo,
    /// Beginning a post (TikTok's `video/init`: 6 a minute per user).
    Begin,
    /// Reading a post's status (TikTok's `status/fetch`: 30 a minute per user).
    Poll,
    /// Reading published posts' numbers (the metrics collector).
    Metrics,
}

impl PlatformCall {
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformCall::CreatorInfo => "creator",
            PlatformCall::Begin => "begin",
            PlatformCall::Poll => "poll",
            PlatformCall::Metrics => "metrics",
        }
    }

    /// The counter `call` takes from at `platform`: Instagram counts every call of an account
    /// against one budget (publishing and the collector alike); TikTok has one per endpoint.
    pub fn bucket(self, platform: Platform) -> &'static str {
        match platform {
            Platform::Instagram => "graph",
            _ => self.as_str(),
        }
    }
}

/// The per-user rate of `call` at `platform`, where the platform publishes one. Instagram's
/// is Meta's 200 calls an hour per account for all of them (see [`PlatformCall::bucket`]);
/// Instagram has no creator-info call. YouTube's quota is the project's units a day, not a
/// user's (the collector's `videos.list` costs 1 unit per 50 posts of its 10,000).
pub fn call_rate(platform: Platform, call: PlatformCall) -> Option<super::RateLimit> {
    let rate = match (platform, call) {
        (Platform::Tiktok, PlatformCall::CreatorInfo) => "20/60s",
        (Platform::Tiktok, PlatformCall::Begin) => "6/60s",
        (Platform::Tiktok, PlatformCall::Poll) => "30/60s",
        (Platform::Instagram, PlatformCall::CreatorInfo) => return None,
        (Platform::Instagram, _) => "200/1h",
        _ => return None,
    };
    super::RateLimit::parse(rate)
}

/// The UTC day `t` falls in, as `YYYY-MM-DD`.
pub fn day_key(t: Timestamp) -> String {
    let days = t.millis().div_euclid(86_400_000);
    let date = time::Date::from_julian_day(2_440_588 + i32::try_from(days).unwrap_or(0))
        .unwrap_or(time::Date::MIN);
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The start of the UTC day after the one `t` falls in.
pub fn next_day(t: Timestamp) -> Timestamp {
    Timestamp((t.millis().div_euclid(86_400_000) + 1) * 86_400_000)
}

/// How far a platform's counting day is behind UTC at `t`: YouTube's quota resets at midnight
/// Pacific (UTC−8, UTC−7 while US daylight time runs: from 02:00 on the second Sunday of March
/// to 02:00 on the first Sunday of November).
fn day_offset_ms(platform: Platform, t: Timestamp) -> i64 {
    match platform {
        Platform::Youtube if us_daylight_time(t) => 7 * 3_600_000,
        Platform::Youtube => 8 * 3_600_000,
        _ => 0,
    }
}

/// Whether US daylight saving time is in force at `t`.
fn us_daylight_time(t: Timestamp) -> bool {
    use time::{Date, Month};
    let days = t.millis().div_euclid(86_400_000);
    let Ok(today) = Date::from_julian_day(2_440_588 + i32::try_from(days).unwrap_or(0)) else {
        return false;
    };
    let year = today.year();
    // The n-th Sunday of a month, as ms since the epoch at `hour_utc`.
    let sunday = |month: Month, n: u8, hour_utc: i64| -> Option<i64> {
        let first = Date::from_calendar_date(year, month, 1).ok()?;
        let to_sunday = (7 + 6 - i64::from(first.weekday().number_days_from_monday())) % 7;
        let day = i64::from(first.to_julian_day() - 2_440_588) + to_sunday + 7 * i64::from(n - 1);
        Some(day * 86_400_000 + hour_utc * 3_600_000)
    };
    // 02:00 PST is 10:00 UTC; 02:00 PDT is 09:00 UTC.
    match (sunday(Month::March, 2, 10), sunday(Month::November, 1, 9)) {
        (Some(start), Some(end)) => t.millis() >= start && t.millis() < end,
        _ => false,
    }
}

/// The counting day `t` falls in for `platform`.
pub fn platform_day(platform: Platform, t: Timestamp) -> String {
    day_key(Timestamp(t.millis() - day_offset_ms(platform, t)))
}

/// When `platform`'s next counting day starts after `t`.
pub fn platform_next_day(platform: Platform, t: Timestamp) -> Timestamp {
    let local_midnight = next_day(Timestamp(t.millis() - day_offset_ms(platform, t)));
    // The offset in force at that midnight (a daylight-time change happens at 02:00 local).
    let at = Timestamp(local_midnight.millis() + 8 * 3_600_000);
    Timestamp(local_midnight.millis() + day_offset_ms(platform, at))
}

pub fn app_quota_pk(platform: Platform) -> String {
    format!("APPQUOTA#{}", platform.as_str())
}

pub fn day_sk(day: &str) -> String {
    format!("DAY#{day}")
}

pub fn tenant_quota_sk(platform: Platform, day: &str) -> String {
    format!("PUBQUOTA#{}#{day}", platform.as_str())
}

pub fn account_quota_sk(account_id: &str, day: &str) -> String {
    format!("ACCTQUOTA#{account_id}#{day}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_utc_and_the_next_one_starts_at_midnight() {
        let t = Timestamp::parse_rfc3339("2026-12-04T23:59:59.999Z").unwrap();
        assert_eq!(day_key(t), "2026-12-04");
        assert_eq!(next_day(t).rfc3339(), "2026-12-05T00:00:00Z");
        assert_eq!(day_key(next_day(t)), "2026-12-05");
        assert_eq!(day_key(Timestamp(0)), "1970-01-01");
    }

    #[test]
    fn youtubes_day_turns_at_midnight_pacific() {
        // Winter (PST, UTC−8): midnight Pacific is 08:00 UTC.
        let t = Timestamp::parse_rfc3339("2026-12-05T07:30:00Z").unwrap();
        assert_eq!(platform_day(Platform::Youtube, t), "2026-12-04");
        assert_eq!(platform_day(Platform::Tiktok, t), "2026-12-05");
        assert_eq!(
            platform_next_day(Platform::Youtube, t).rfc3339(),
            "2026-12-05T08:00:00Z"
        );
        let after = Timestamp::parse_rfc3339("2026-12-05T08:00:00Z").unwrap();
        assert_eq!(platform_day(Platform::Youtube, after), "2026-12-05");
        assert_eq!(
            platform_next_day(Platform::Tiktok, t).rfc3339(),
            "2026-12-06T00:00:00Z"
        );
        // Summer (PDT, UTC−7): midnight Pacific is 07:00 UTC.
        let summer = Timestamp::parse_rfc3339("2026-07-10T07:30:00Z").unwrap();
        assert_eq!(platform_day(Platform::Youtube, summer), "2026-07-10");
        assert_eq!(
            platform_next_day(Platform::Youtube, summer).rfc3339(),
            "2026-07-11T07:00:00Z"
        );
        // 2026's changes: 8 March 10:00 UTC and 1 November 09:00 UTC.
        let before = Timestamp::parse_rfc3339("2026-03-08T09:59:00Z").unwrap();
        let after = Timestamp::parse_rfc3339("2026-03-08T10:00:00Z").unwrap();
        assert!(!us_daylight_time(before) && us_daylight_time(after));
        let before = Timestamp::parse_rfc3339("2026-11-01T08:59:00Z").unwrap();
        let after = Timestamp::parse_rfc3339("2026-11-01T09:00:00Z").unwrap();
        assert!(us_daylight_time(before) && !us_daylight_time(after));
    }

    #[test]
    fn paying_plans_get_a_larger_share_and_everyone_gets_one() {
        let l = PublishLimits::default();
        assert_eq!(l.tenant_daily(Platform::Youtube, Plan::Free), Some(5));
        assert_eq!(l.tenant_daily(Platform::Youtube, Plan::Agency), Some(40));
        assert_eq!(l.tenant_daily(Platform::Sandbox, Plan::Free), None);
        let tiny = PublishLimits {
            app_daily: HashMap::from([(Platform::Youtube, 3)]),
            ..l
        };
        assert_eq!(tiny.tenant_daily(Platform::Youtube, Plan::Free), Some(1));
    }
}
