//! The simulated audience behind the sandbox channel: what "people" do with a post there.
//! Nothing here is real and everything that shows it says so (`simulated`).
//!
//! The model, so results can be read against it:
//! - Every learner feature a post has (`category:science`, `format:story`, `hook:question`,
//!   `platform:sandbox`, `hour:16-20`, `length:10-20s`, `provider:…`) carries a hidden true
//!   effect on engagement, drawn once per audience seed: uniform in ±[`EFFECT_RANGE`], except
//!   hours, which follow a daily curve (evenings best, nights worst).
//! - A post's true engagement rate is [`BASE_RATE`] plus its features' effects, plus noise
//!   (normal, sd [`NOISE_SD`], fixed per post), kept within 0.5 %–60 %.
//! - Reach is lognormal around 2,000 views and grows with engagement; trends decay: a post on
//!   a trend that came out `t` hours before it reaches `0.4 + 0.6·e^(−t/72 h)` of that (a
//!   week-old trend about half); views arrive over time as `1 − e^(−age/18 h)`. Likes, comments, shares and saves are fixed shares of the views times
//!   the rate; completion is 15 % + twice the rate.
//!
//! A post's numbers are a pure function of (seed, post id, features, age), so every fetch of
//! the same post is consistent and only grows.

use std::hash::{Hash, Hasher};

use crate::domain::learner::Rng;
use crate::domain::metrics::Metrics;

/// Engagement rate of a post with no effects at all.
pub const BASE_RATE: f64 = 0.08;
/// The hidden effects of categories, formats, hooks… lie within ± this.
pub const EFFECT_RANGE: f64 = 0.05;
/// Per-post noise on the engagement rate.
pub const NOISE_SD: f64 = 0.02;
/// The seed of the sandbox channel's audience.
pub const SANDBOX_SEED: u64 = 20_261_204;
/// How fast views arrive: most within two days.
const GROWTH_H: f64 = 18.0;
/// How fast interest in a trend fades.
const TREND_DECAY_H: f64 = 72.0;
/// What an old trend still reaches, as a share of a fresh one's reach.
const TREND_FLOOR: f64 = 0.4;

/// The share of its reach a post keeps when its trend came out `trend_age_h` hours before
/// it went out (1 when that is unknown or in the future).
pub fn trend_reach(trend_age_h: Option<f64>) -> f64 {
    let age = trend_age_h.unwrap_or(0.0).max(0.0);
    TREND_FLOOR + (1.0 - TREND_FLOOR) * (-age / TREND_DECAY_H).exp()
}

fn hash64(seed: u64, s: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    seed.hash(&mut h);
    s.hash(&mut h);
    h.finish()
}

/// A simulated audience: hidden effects drawn from `seed`.
#[derive(Clone, Copy, Debug)]
pub struct Audience {
    pub seed: u64,
}

impl Audience {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// The hidden true effect of one feature on the engagement rate.
    pub fn effect(&self, feature: &str) -> f64 {
        if let Some(block) = feature.strip_prefix("hour:") {
            // Evenings (16–24) best, the small hours worst: a daily curve, not a random draw.
            let start: f64 = block.get(..2).and_then(|h| h.parse().ok()).unwrap_or(12.0);
            let mid = start + 2.0;
            return 0.03 * ((mid - 20.0) / 24.0 * std::f64::consts::TAU).cos();
        }
        let mut rng = Rng::new(hash64(self.seed, feature));
        (rng.uniform() * 2.0 - 1.0) * EFFECT_RANGE
    }

    /// The true mean engagement rate of a post with these features (no noise).
    pub fn mean_rate(&self, features: &[String]) -> f64 {
        (BASE_RATE + features.iter().map(|f| self.effect(f)).sum::<f64>()).clamp(0.005, 0.6)
    }

    /// The post's numbers `age_h` hours after it went out, its trend `trend_age_h` hours old
    /// when it did.
    pub fn metrics(
        &self,
        post_id: &str,
        features: &[String],
        age_h: f64,
        duration_s: f64,
        trend_age_h: Option<f64>,
    ) -> Metrics {
        let mut rng = Rng::new(hash64(self.seed, post_id));
        let rate = (self.mean_rate(features) + NOISE_SD * rng.normal()).clamp(0.005, 0.6);
        let reach =
            2_000.0 * (0.6 * rng.normal()).exp() * (1.0 + 5.0 * rate) * trend_reach(trend_age_h);
        let arrived = 1.0 - (-age_h.max(0.0) / GROWTH_H).exp();
        let views = (reach * arrived).round();
        let count = |share: f64| (views * rate * share).round() as u64;
        let completion = (0.15 + 2.0 * rate).min(0.98);
        let mut m = Metrics {
            views: Some(views as u64),
            likes: Some(count(0.5)),
            comments: Some(count(0.05)),
            shares: Some(count(0.05)),
            saves: Some(count(0.05)),
            avg_view_s: Some(((completion * duration_s) * 10.0).round() / 10.0),
            completion: Some((completion * 1000.0).round() / 1000.0),
            reach: Some((views * 0.9).round() as u64),
            followers_gained: Some((views * rate * 0.02).round() as i64),
            raw: Default::default(),
        };
        for (name, v) in [
            ("views", m.views.map(|v| v as f64)),
            ("likes", m.likes.map(|v| v as f64)),
            ("comments", m.comments.map(|v| v as f64)),
            ("shares", m.shares.map(|v| v as f64)),
            ("saves", m.saves.map(|v| v as f64)),
            ("avg_view_s", m.avg_view_s),
            ("completion", m.completion),
        ] {
            if let Some(v) = v {
                m.raw.insert(format!("simulated_{name}"), v);
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn features(category: &str) -> Vec<String> {
        vec![
            format!("category:{category}"),
            "format:story".into(),
            "hour:16-20".into(),
        ]
    }

    #[test]
    fn numbers_are_consistent_per_post_and_only_grow() {
        let a = Audience::new(SANDBOX_SEED);
        let f = features("science");
        let early = a.metrics("post_1", &f, 1.0, 15.0, None);
        let later = a.metrics("post_1", &f, 48.0, 15.0, None);
        assert_eq!(early, a.metrics("post_1", &f, 1.0, 15.0, None));
        assert!(later.views > early.views);
        assert!(later.likes >= early.likes);
        assert_eq!(later.completion, early.completion);
        assert!(later.raw.contains_key("simulated_views"));
    }

    #[test]
    fn hidden_effects_differ_and_evenings_beat_nights() {
        let a = Audience::new(1);
        assert_ne!(a.effect("category:science"), a.effect("category:food"));
        assert!(a.effect("hour:16-20") > a.effect("hour:04-08"));
        assert!(a.effect("category:x").abs() <= EFFECT_RANGE);
        let (good, bad) = if a.effect("category:science") > a.effect("category:food") {
            ("science", "food")
        } else {
            ("food", "science")
        };
        // Over many posts the better category engages more.
        let mean = |c: &str| {
            (0..200)
                .map(|i| {
                    let m = a.metrics(&format!("p{i}"), &features(c), 72.0, 15.0, Some(24.0));
                    m.likes.unwrap() as f64 / m.views.unwrap().max(1) as f64
                })
                .sum::<f64>()
                / 200.0
        };
        assert!(mean(good) > mean(bad));
    }

    #[test]
    fn old_trends_reach_fewer_people_at_the_same_engagement() {
        let a = Audience::new(SANDBOX_SEED);
        let f = features("science");
        let fresh = a.metrics("post_1", &f, 48.0, 15.0, Some(0.0));
        let stale = a.metrics("post_1", &f, 48.0, 15.0, Some(7.0 * 24.0));
        assert_eq!(fresh, a.metrics("post_1", &f, 48.0, 15.0, None));
        let ratio = stale.views.unwrap() as f64 / fresh.views.unwrap() as f64;
        assert!((0.45..0.5).contains(&ratio), "a week-old trend: {ratio}");
        assert_eq!(fresh.completion, stale.completion);
        assert!((trend_reach(Some(1e6)) - TREND_FLOOR).abs() < 1e-9);
        assert_eq!(trend_reach(Some(-5.0)), 1.0);
    }
}
