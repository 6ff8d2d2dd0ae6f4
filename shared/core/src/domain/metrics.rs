//! A published post's numbers as the platforms report them: one normalised shape with the
//! platform's own names kept beside it, the decaying cadence they are fetched on, how much an
//! observation teaches the learner at each age, and what "engagement" means on each platform.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::account::Platform;
use crate::domain::learner::engagement_score;

/// One observation, normalised. `None` is "the platform does not measure it or said nothing",
/// never 0: TikTok has no saves or watch time, Instagram returns an empty set for missing data.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub views: Option<u64>,
    pub likes: Option<u64>,
    pub comments: Option<u64>,
    pub shares: Option<u64>,
    pub saves: Option<u64>,
    /// Mean seconds watched per view.
    pub avg_view_s: Option<f64>,
    /// Share of the video watched on average, 0–1.
    pub completion: Option<f64>,
    pub reach: Option<u64>,
    pub followers_gained: Option<i64>,
    /// Every number as the platform named it (`view_count`, `viewCount`, `ig_reels_avg_watch_time`…):
    /// definitions move (YouTube's views in 2025–26, Instagram's `plays` → `views`), so what was
    /// fetched stays readable against the name it had.
    pub raw: BTreeMap<String, f64>,
}

/// What a platform said about one post.
#[derive(Clone, Debug, PartialEq)]
pub enum Observed {
    Metrics(Metrics),
    /// Deleted, made private, or otherwise not visible to the API any more: collection stops.
    Gone(String),
    /// No numbers this time (too few viewers yet, data not processed): asked again later.
    Unavailable(String),
}

/// What the collector asks a platform about one post.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsTarget {
    pub platform_post_id: String,
    pub published_at: Timestamp,
    pub duration_s: f64,
    /// The learner's features of the post. Real platforms ignore them; the sandbox's simulated
    /// audience reacts to them as a real audience reacts to the video itself.
    pub features: Vec<String>,
    /// Hours between the concept's trend coming out and the post going out, when known: the
    /// sandbox's simulated audience loses interest in old trends.
    pub trend_age_h: Option<f64>,
}

/// Hours after publishing at which a post's numbers are fetched: often while they move, then
/// rarely. After the last, the post is not asked about again.
pub const CADENCE_H: [u64; 7] = [1, 3, 6, 24, 48, 7 * 24, 28 * 24];

/// When a post published at `published_at`, observed `taken` times, is due next.
pub fn next_due(published_at: Timestamp, taken: u32) -> Option<Timestamp> {
    CADENCE_H
        .get(taken as usize)
        .map(|h| published_at.plus(Duration::from_secs(h * 3600)))
}

/// The next due step after `now`, skipping steps that passed while collection was down (one
/// late observation, not a burst of them).
pub fn next_step_after(published_at: Timestamp, now: Timestamp) -> u32 {
    let age_h = (now.millis() - published_at.millis()).max(0) as f64 / 3_600_000.0;
    CADENCE_H
        .iter()
        .take_while(|h| (**h as f64) <= age_h)
        .count() as u32
}

/// How long a failed fetch waits before it is tried again (doubling, at most a day).
pub fn retry_after(failures: u32) -> Duration {
    Duration::from_secs((900u64 << failures.min(7)).min(86_400))
}

/// How much an observation counts for the learner at `age`: a post's first hours measure the
/// platform's first push more than its audience, so weight grows linearly from ¼ at publishing
/// to 1 at 48 hours and stays there.
pub fn maturity_weight(age: Duration) -> f64 {
    let h = age.as_secs_f64() / 3600.0;
    (0.25 + 0.75 * h / 48.0).clamp(0.25, 1.0)
}

/// The engagement score (0–1) of an observation, by the platform's own measure:
/// - TikTok gives counts only (views, likes, comments, shares): actions per view.
/// - YouTube gives counts fresh and watch share from Analytics after 2–3 days: actions per
///   view, and completion once known.
/// - Instagram gives saves and average watch time as well: actions per view and completion
///   from the watch time against the video's length.
/// - The sandbox reports everything.
///
/// `None` when there is nothing to learn from yet (no views reported).
pub fn engagement(platform: Platform, m: &Metrics, duration_s: f64) -> Option<f64> {
    let views = m.views.filter(|v| *v > 0)?;
    let completion = m.completion.or_else(|| {
        m.avg_view_s
            .filter(|_| duration_s > 0.0)
            .map(|s| (s / duration_s).clamp(0.0, 1.0))
    });
    // TikTok measures neither saves nor watch time: a number there is not TikTok's.
    let (saves, completion) = match platform {
        Platform::Tiktok => (0, None),
        _ => (m.saves.unwrap_or(0), completion),
    };
    Some(engagement_score(
        views,
        m.likes.unwrap_or(0),
        m.comments.unwrap_or(0),
        m.shares.unwrap_or(0),
        saves,
        completion,
    ))
}

/// The posting-hour feature: four-hour blocks (00–04, 04–08, …) of the hour it went out.
pub fn hour_feature(hour: u32) -> String {
    let start = (hour % 24) / 4 * 4;
    format!("hour:{start:02}-{:02}", start + 4)
}

/// The video-length feature, in the bands short-video advice talks about.
pub fn length_feature(duration_s: f64) -> String {
    let band = match duration_s {
        d if d <= 10.0 => "0-10s",
        d if d <= 20.0 => "10-20s",
        d if d <= 40.0 => "20-40s",
        _ => "40s+",
    };
    format!("length:{band}")
}

/// The narrating-voice feature: the voice the job asked for (lower case), or `default` for
/// the deployment's (or workspace's) voice. Caption style is not a feature: every video has
/// the one style, so there is nothing to learn between styles yet.
pub fn voice_feature(narration: Option<&crate::domain::Narration>) -> String {
    let voice = narration
        .and_then(|n| n.voice.as_deref())
        .map_or_else(|| "default".to_owned(), str::to_lowercase);
    format!("voice:{voice}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_voice_feature_names_the_chosen_voice_or_the_default() {
        let chosen = crate::domain::Narration {
            voice: Some("Joanna".into()),
            ..Default::default()
        };
        assert_eq!(voice_feature(Some(&chosen)), "voice:joanna");
        assert_eq!(
            voice_feature(Some(&crate::domain::Narration::default())),
            "voice:default"
        );
        assert_eq!(voice_feature(None), "voice:default");
    }

    #[test]
    fn the_cadence_decays_and_ends() {
        let p = Timestamp::from_secs(1_000_000);
        assert_eq!(next_due(p, 0), Some(p.plus(Duration::from_secs(3600))));
        assert_eq!(
            next_due(p, 6),
            Some(p.plus(Duration::from_secs(28 * 86_400)))
        );
        assert_eq!(next_due(p, 7), None);
        // Collection was down for two days: the next step is the one after now, not the
        // missed ones.
        let later = p.plus(Duration::from_secs(50 * 3600));
        assert_eq!(next_step_after(p, later), 5);
        assert_eq!(next_step_after(p, p), 0);
        assert_eq!(retry_after(0), Duration::from_secs(900));
        assert_eq!(retry_after(30), Duration::from_secs(86_400));
    }

    #[test]
    fn young_observations_count_less() {
        assert_eq!(maturity_weight(Duration::ZERO), 0.25);
        assert!((maturity_weight(Duration::from_secs(24 * 3600)) - 0.625).abs() < 1e-9);
        assert_eq!(maturity_weight(Duration::from_secs(48 * 3600)), 1.0);
        assert_eq!(maturity_weight(Duration::from_secs(30 * 86_400)), 1.0);
    }

    #[test]
    fn engagement_follows_each_platforms_measure() {
        let m = Metrics {
            views: Some(1000),
            likes: Some(50),
            saves: Some(100),
            avg_view_s: Some(7.5),
            ..Metrics::default()
        };
        // TikTok reports no saves (a number there would be ours, not TikTok's) and no watch
        // time: counts only.
        let tiktok = engagement(Platform::Tiktok, &m, 15.0).unwrap();
        assert!((tiktok - 0.25).abs() < 1e-9, "{tiktok}");
        // Instagram's saves count, and its watch time gives completion.
        let ig = engagement(Platform::Instagram, &m, 15.0).unwrap();
        assert!((ig - (0.5 * 0.5 + 0.5)).abs() < 1e-9, "{ig}");
        // No views reported: nothing to learn, not a zero.
        assert_eq!(
            engagement(Platform::Youtube, &Metrics::default(), 15.0),
            None
        );
    }

    #[test]
    fn features_band_hours_and_lengths() {
        assert_eq!(hour_feature(0), "hour:00-04");
        assert_eq!(hour_feature(23), "hour:20-24");
        assert_eq!(length_feature(15.0), "length:10-20s");
        assert_eq!(length_feature(61.0), "length:40s+");
    }
}
