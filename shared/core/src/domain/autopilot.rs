//! Autopilot's rules, with no I/O: a tenant's settings and their bounds, when runs are due in
//! the tenant's time zone, which concept and which posting hour a run picks, and what a run
//! records for the audit feed.
//!
//! A day (in the tenant's zone) has `posts_per_day` slots spread evenly over its waking hours
//! (the hours outside `quiet_hours`). Each slot is run at most once: the run claims the slot in
//! the same write that reserves its share of the day's budget.

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::audience::Audience;
use crate::domain::learner::{Posterior, Rng};
use crate::domain::metrics::hour_feature;
use crate::error::Error;

/// Concepts a run asks for; the picker chooses one.
pub const CONCEPTS_PER_RUN: usize = 5;
pub const MAX_POSTS_PER_DAY: u32 = 12;
/// $1,000 a day: a bound against a typo, not a plan limit.
pub const MAX_DAILY_BUDGET_CENTS: u32 = 100_000;
pub const MAX_TARGETS: usize = 10;
const MAX_LIST: usize = 10;

/// Whether a run's video is posted at once or waits for a person.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    #[default]
    Auto,
    Review,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::Auto => "auto",
            Approval::Review => "review",
        }
    }
}

/// Local hours in which nothing is posted and no run starts: `[start, end)`, wrapping past
/// midnight (22–7 is the night); `start == end` is none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuietHours {
    pub start: u8,
    pub end: u8,
}

impl QuietHours {
    pub fn contains(&self, hour: u8) -> bool {
        match self.start.cmp(&self.end) {
            std::cmp::Ordering::Equal => false,
            std::cmp::Ordering::Less => (self.start..self.end).contains(&hour),
            std::cmp::Ordering::Greater => hour >= self.start || hour < self.end,
        }
    }
}

/// A tenant's autopilot, as it set it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    pub enabled: bool,
    pub niche: Option<String>,
    /// Trend categories to draw from (empty: all).
    pub categories: Vec<String>,
    /// Trend regions, two-letter codes (empty: the source's default).
    pub regions: Vec<String>,
    /// Connected accounts to post to, taken in turn.
    pub targets: Vec<String>,
    pub posts_per_day: u32,
    pub daily_budget_cents: u32,
    pub quiet_hours: QuietHours,
    /// An IANA zone name, e.g. `Europe/Paris`.
    pub timezone: String,
    pub approval: Approval,
    /// Length of each video.
    pub duration_s: f64,
}

fn lowercase_word(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
}

impl Settings {
    /// The one set of rules for settings, whoever sends them.
    pub fn check(&self) -> Result<(), Error> {
        let invalid = |m: String| Err(Error::Invalid(m));
        if !(1..=MAX_POSTS_PER_DAY).contains(&self.posts_per_day) {
            return invalid(format!("posts_per_day must be 1 to {MAX_POSTS_PER_DAY}"));
        }
        if self.daily_budget_cents > MAX_DAILY_BUDGET_CENTS {
            return invalid(format!(
                "daily_budget_usd must be 0 to {}",
                MAX_DAILY_BUDGET_CENTS / 100
            ));
        }
        if self.targets.is_empty() || self.targets.len() > MAX_TARGETS {
            return invalid(format!(
                "targets must name 1 to {MAX_TARGETS} connected accounts"
            ));
        }
        let mut unique = self.targets.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != self.targets.len() {
            return invalid("targets names an account twice".into());
        }
        if self.categories.len() > MAX_LIST || !self.categories.iter().all(|c| lowercase_word(c)) {
            return invalid(format!(
                "categories: at most {MAX_LIST} lowercase words, e.g. science"
            ));
        }
        if self.regions.len() > MAX_LIST
            || !self
                .regions
                .iter()
                .all(|r| r.len() == 2 && r.bytes().all(|b| b.is_ascii_uppercase()))
        {
            return invalid(format!(
                "regions: at most {MAX_LIST} two-letter country codes, e.g. US"
            ));
        }
        if let Some(n) = &self.niche
            && (n.trim().is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control))
        {
            return invalid("niche: 1 to 200 characters, no control characters".into());
        }
        if self.quiet_hours.start > 23 || self.quiet_hours.end > 23 {
            return invalid("quiet_hours: start and end are hours 0 to 23".into());
        }
        if awake_hours(&self.quiet_hours).len() < 2 {
            return invalid("quiet_hours leave less than two hours a day to post in".into());
        }
        if !crate::domain::job::DURATION_RANGE_S.contains(&self.duration_s) {
            return invalid("duration_s must be 5 to 60".into());
        }
        self.zone()?;
        Ok(())
    }

    pub fn zone(&self) -> Result<jiff::tz::TimeZone, Error> {
        jiff::tz::TimeZone::get(&self.timezone).map_err(|_| {
            Error::Invalid(format!(
                "timezone {:?} is not an IANA time zone name, e.g. Europe/Paris or UTC",
                self.timezone
            ))
        })
    }

    /// The local hours at which the day's runs start, one per slot.
    pub fn slot_hours(&self) -> Vec<u8> {
        let awake = awake_hours(&self.quiet_hours);
        let n = self.posts_per_day.max(1) as usize;
        // Evenly over the waking hours, each slot in an hour of its own when there are enough.
        let mut out: Vec<u8> = (0..n).map(|i| awake[i * awake.len() / n]).collect();
        out.dedup();
        out.sort_unstable();
        out
    }
}

/// The EventBridge Scheduler expression of these local hours (its time zone set beside it).
pub fn cron_expression(hours: &[u8]) -> String {
    let list: Vec<String> = hours.iter().map(u8::to_string).collect();
    format!("cron(0 {} * * ? *)", list.join(","))
}

/// The name of a tenant's schedule (at most 64 characters: tenant ids are 35).
pub fn schedule_name(tenant_id: &str) -> String {
    format!("viral-autopilot-{tenant_id}")
}

/// The waking hours, in the order of the day starting after the quiet hours.
pub fn awake_hours(q: &QuietHours) -> Vec<u8> {
    let first = if q.start == q.end { 0 } else { q.end };
    (0..24)
        .map(|i| ((first as u32 + i) % 24) as u8)
        .filter(|h| !q.contains(*h))
        .collect()
}

/// One run's place in the schedule: the tenant's local day and the slot's index in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// `YYYY-MM-DD` in the tenant's zone.
    pub day: String,
    pub index: usize,
    pub at: Timestamp,
}

impl Slot {
    /// `2026-12-04#1`: the claim's key.
    pub fn key(&self) -> String {
        format!("{}#{}", self.day, self.index)
    }
}

fn zoned(at: Timestamp, tz: &jiff::tz::TimeZone) -> Option<jiff::Zoned> {
    jiff::Timestamp::from_millisecond(at.millis())
        .ok()
        .map(|t| t.to_zoned(tz.clone()))
}

/// The tenant's local day of `at`, `YYYY-MM-DD`.
pub fn local_day(at: Timestamp, tz: &jiff::tz::TimeZone) -> String {
    zoned(at, tz)
        .map(|z| z.date().to_string())
        .unwrap_or_default()
}

/// The local hour of `at`.
pub fn local_hour(at: Timestamp, tz: &jiff::tz::TimeZone) -> u8 {
    zoned(at, tz).map_or(0, |z| z.hour() as u8)
}

/// Today's slots (in the tenant's zone) whose time has come by `now`, earliest first.
pub fn due_slots(settings: &Settings, now: Timestamp) -> Vec<Slot> {
    let Ok(tz) = settings.zone() else {
        return Vec::new();
    };
    let Some(z) = zoned(now, &tz) else {
        return Vec::new();
    };
    let date = z.date();
    settings
        .slot_hours()
        .into_iter()
        .enumerate()
        .filter_map(|(index, hour)| {
            let at = date.at(hour as i8, 0, 0, 0).to_zoned(tz.clone()).ok()?;
            let at = Timestamp(at.timestamp().as_millisecond());
            (at <= now).then(|| Slot {
                day: date.to_string(),
                index,
                at,
            })
        })
        .collect()
}

/// When to post, as candidates: `now` and each following hour start within a day that is
/// outside the quiet hours, the earliest of each posting-hour block (what the learner knows).
pub fn posting_times(settings: &Settings, now: Timestamp) -> Vec<(Timestamp, String)> {
    let tz = settings.zone().unwrap_or(jiff::tz::TimeZone::UTC);
    let mut out: Vec<(Timestamp, String)> = Vec::new();
    let hour_ms = 3_600_000;
    let next_hour = (now.millis() / hour_ms + 1) * hour_ms;
    let times = std::iter::once(now).chain((0..24).map(|i| Timestamp(next_hour + i * hour_ms)));
    for at in times {
        if settings.quiet_hours.contains(local_hour(at, &tz)) {
            continue;
        }
        let feature = hour_feature_in(at, &tz);
        if !out.iter().any(|(_, f)| *f == feature) {
            out.push((at, feature));
        }
    }
    if out.is_empty() {
        out.push((now, hour_feature_in(now, &tz)));
    }
    out
}

/// The learner's posting-hour feature of a time: its four-hour block in the tenant's zone (the
/// zone of its autopilot; UTC without one), as the collector records it.
pub fn hour_feature_in(at: Timestamp, tz: &jiff::tz::TimeZone) -> String {
    hour_feature(u32::from(local_hour(at, tz)))
}

/// How a run chooses among options (concepts, posting hours). Production uses Thompson
/// sampling; `viral simulate` compares it with picking at random and with an oracle that
/// knows the simulated audience's hidden effects.
#[derive(Clone, Copy, Debug)]
pub enum Picker {
    Thompson,
    Random,
    Oracle(Audience),
}

impl Picker {
    pub fn name(&self) -> &'static str {
        match self {
            Picker::Thompson => "thompson",
            Picker::Random => "random",
            Picker::Oracle(_) => "oracle",
        }
    }
}

/// One option as the picker saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scored {
    /// The learner's expected engagement and its standard deviation.
    pub expected: f64,
    pub sd: f64,
    /// What the pick compared: the Thompson draw (or the oracle's true mean; random: 0).
    pub draw: f64,
}

/// Chooses one of `options` (each a post's learner features). Thompson: one draw of the
/// coefficients from the posterior for all options, the highest wins, so what is still
/// uncertain keeps being tried. Returns the winner's index and every option's scores.
pub fn pick(
    picker: Picker,
    learner: &Posterior,
    options: &[Vec<String>],
    rng: &mut Rng,
) -> (usize, Vec<Scored>) {
    let draw = learner.draw(rng);
    let scored: Vec<Scored> = options
        .iter()
        .map(|f| Scored {
            expected: round4(learner.expected_features(f)),
            sd: round4(learner.expected_sd_features(f)),
            draw: round4(match picker {
                Picker::Thompson => learner.predict_features(&draw, f),
                Picker::Oracle(a) => a.mean_rate(f),
                Picker::Random => 0.0,
            }),
        })
        .collect();
    let best = match picker {
        Picker::Random => rng.below(options.len().max(1)),
        _ => scored
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.draw.total_cmp(&b.1.draw))
            .map_or(0, |(i, _)| i),
    };
    (best, scored)
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Where a run is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The slot is claimed and the budget reserved; concepts and the video come next.
    Started,
    /// The video job is running.
    Rendering,
    /// The video is made; a person approves or rejects the post.
    AwaitingReview,
    /// Approved (or needing no approval): the post is being created.
    Posting,
    /// Posted (or scheduled) to its account.
    Posted,
    /// Nothing was spent: a quota, the budget or an account stood in the way.
    Skipped,
    Failed,
    Rejected,
    /// Autopilot was paused while the run was under way.
    Stopped,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Started => "started",
            RunStatus::Rendering => "rendering",
            RunStatus::AwaitingReview => "awaiting_review",
            RunStatus::Posting => "posting",
            RunStatus::Posted => "posted",
            RunStatus::Skipped => "skipped",
            RunStatus::Failed => "failed",
            RunStatus::Rejected => "rejected",
            RunStatus::Stopped => "stopped",
        }
    }

    pub fn is_terminal(self) -> bool {
        !matches!(
            self,
            RunStatus::Started
                | RunStatus::Rendering
                | RunStatus::AwaitingReview
                | RunStatus::Posting
        )
    }
}

/// A concept the run considered.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub concept_id: String,
    pub title: String,
    pub category: String,
    pub format: String,
    pub hook_style: String,
    #[serde(flatten)]
    pub scores: Scored,
}

/// Where and when the run's video goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Placement {
    pub account_id: String,
    pub platform: String,
    /// RFC 3339; `None` posts at once.
    pub schedule_at: Option<String>,
    pub hour: String,
    pub approval: Approval,
    /// Chosen by the person who approved (the platform's default otherwise).
    pub privacy: Option<String>,
    pub why: String,
}

/// What a run asks the concept writer for, recorded before it asks, so that a run resumed
/// after a crash asks the same (its Idempotency-Key then finds the first answer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ask {
    pub category: Option<String>,
    pub region: Option<String>,
    pub count: usize,
    pub duration_s: f64,
    pub niche: Option<String>,
}

/// One autopilot run: what it saw, chose, spent and posted, and what it skipped and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub id: String,
    pub slot: String,
    pub status: RunStatus,
    pub picker: String,
    pub started_at: String,
    pub updated_at: String,
    /// Why it skipped, failed or stopped; or what it waits for.
    pub reason: Option<String>,
    /// The part of the day's budget this run holds (writing its concepts and the job's budget)
    /// until it settles.
    pub reserved_cents: u32,
    /// Of that, the most writing its concepts can cost (a paid model; 0 for the rule writer):
    /// counted as spent once the writer was asked.
    #[serde(default)]
    pub writing_cents: u32,
    /// What the run cost (its concepts and its video), once known.
    pub cost_cents: Option<u32>,
    pub trend_source: Option<String>,
    pub trends: Vec<String>,
    pub concepts: Vec<Candidate>,
    pub pick: Option<String>,
    pub why: Option<String>,
    pub job_id: Option<String>,
    pub placement: Option<Placement>,
    pub posts: Vec<String>,
    /// The concept request, once recorded.
    #[serde(default)]
    pub ask: Option<Ask>,
    /// A person approved the post (it goes out even if autopilot is paused meanwhile).
    #[serde(default)]
    pub approved: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::learner::Evidence;

    fn settings() -> Settings {
        Settings {
            enabled: true,
            niche: None,
            categories: vec![],
            regions: vec![],
            targets: vec!["acct_1".into()],
            posts_per_day: 3,
            daily_budget_cents: 500,
            quiet_hours: QuietHours { start: 22, end: 7 },
            timezone: "Europe/Paris".into(),
            approval: Approval::Auto,
            duration_s: 15.0,
        }
    }

    #[test]
    fn posting_hours_are_the_tenants_local_hours() {
        let at = Timestamp::parse_rfc3339("2026-12-04T10:00:00Z").unwrap();
        let tokyo = jiff::tz::TimeZone::get("Asia/Tokyo").unwrap();
        assert_eq!(hour_feature_in(at, &tokyo), "hour:16-20");
        assert_eq!(hour_feature_in(at, &jiff::tz::TimeZone::UTC), "hour:08-12");
    }

    #[test]
    fn schedules_fire_at_the_run_hours() {
        assert_eq!(cron_expression(&[7, 12, 17]), "cron(0 7,12,17 * * ? *)");
        assert!(schedule_name(&format!("tn_{}", "0".repeat(32))).len() <= 64);
    }

    #[test]
    fn quiet_hours_wrap_midnight() {
        let q = QuietHours { start: 22, end: 7 };
        assert!(q.contains(23) && q.contains(0) && q.contains(6));
        assert!(!q.contains(7) && !q.contains(21));
        assert!(!QuietHours { start: 5, end: 5 }.contains(5));
        assert_eq!(awake_hours(&q).len(), 15);
        assert_eq!(awake_hours(&q)[0], 7);
    }

    #[test]
    fn slots_spread_over_waking_hours_in_the_zone() {
        let s = settings();
        assert_eq!(s.slot_hours(), vec![7, 12, 17]);
        // 2026-12-04 10:30 UTC is 11:30 in Paris: only the 07:00 slot is due.
        let now = Timestamp::parse_rfc3339("2026-12-04T10:30:00Z").unwrap();
        let due = due_slots(&s, now);
        assert_eq!(due.len(), 1);
        assert_eq!(due[0].key(), "2026-12-04#0");
        assert_eq!(due[0].at.rfc3339(), "2026-12-04T06:00:00Z");
        // 23:30 UTC is already the 5th in Paris, before any slot.
        let late = Timestamp::parse_rfc3339("2026-12-04T23:30:00Z").unwrap();
        assert!(due_slots(&s, late).is_empty());
    }

    #[test]
    fn settings_are_checked() {
        assert!(settings().check().is_ok());
        let bad = |f: &dyn Fn(&mut Settings)| {
            let mut s = settings();
            f(&mut s);
            s.check().is_err()
        };
        assert!(bad(&|s| s.timezone = "Mars/Olympus".into()));
        assert!(bad(&|s| s.posts_per_day = 0));
        assert!(bad(&|s| s.targets.clear()));
        assert!(bad(&|s| s.targets.push("acct_1".into())));
        assert!(bad(&|s| s.quiet_hours = QuietHours { start: 1, end: 0 }));
        assert!(bad(&|s| s.daily_budget_cents = MAX_DAILY_BUDGET_CENTS + 1));
        assert!(bad(&|s| s.regions = vec!["usa".into()]));
    }

    #[test]
    fn posting_times_skip_quiet_hours_and_repeat_no_block() {
        let s = settings();
        let now = Timestamp::parse_rfc3339("2026-12-04T20:10:00Z").unwrap();
        let times = posting_times(&s, now);
        // 21:10 Paris is awake: now is the first candidate; 22–7 Paris is skipped.
        assert_eq!(times[0].0, now);
        for (at, _) in &times {
            let h = local_hour(*at, &s.zone().unwrap());
            assert!(!s.quiet_hours.contains(h), "{h}");
        }
        let mut blocks: Vec<&String> = times.iter().map(|(_, f)| f).collect();
        blocks.dedup();
        assert_eq!(blocks.len(), times.len());
    }

    #[test]
    fn pickers_choose_as_they_should() {
        let a = Audience::new(7);
        let options: Vec<Vec<String>> = ["science", "food", "travel", "music"]
            .iter()
            .map(|c| vec![format!("category:{c}")])
            .collect();
        let learner = Posterior::of(&Evidence::default());
        let mut rng = Rng::new(1);
        let (best, scored) = pick(Picker::Oracle(a), &learner, &options, &mut rng);
        let top = options
            .iter()
            .map(|f| a.mean_rate(f))
            .fold(f64::MIN, f64::max);
        assert!((a.mean_rate(&options[best]) - top).abs() < 1e-12);
        assert_eq!(scored.len(), 4);
        // Thompson on a learner that knows music is best picks music.
        let mut e = Evidence::default();
        for _ in 0..30 {
            e.observe_features(&["category:music".into()], 0.4, 1.0);
            e.observe_features(&["category:food".into()], 0.05, 1.0);
        }
        let l = Posterior::of(&e);
        let (best, _) = pick(Picker::Thompson, &l, &options, &mut rng);
        assert_eq!(best, 3);
    }
}
