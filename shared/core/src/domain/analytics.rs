//! Analytics over collected observations: each published post's newest numbers, grouped by a
//! feature (category, format, hook, platform, provider, posting hour, length, voice) or by
//! account, with
//! totals, rates, mean engagement and what the learner predicted for the same posts.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::clock::Timestamp;
use crate::domain::metrics::Metrics;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GroupBy {
    Category,
    Format,
    Hook,
    Platform,
    Account,
    Provider,
    Hour,
    Length,
    Voice,
}

impl GroupBy {
    pub const ALL: [GroupBy; 9] = [
        GroupBy::Category,
        GroupBy::Format,
        GroupBy::Hook,
        GroupBy::Platform,
        GroupBy::Account,
        GroupBy::Provider,
        GroupBy::Hour,
        GroupBy::Length,
        GroupBy::Voice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Category => "category",
            GroupBy::Format => "format",
            GroupBy::Hook => "hook",
            GroupBy::Platform => "platform",
            GroupBy::Account => "account",
            GroupBy::Provider => "provider",
            GroupBy::Hour => "hour",
            GroupBy::Length => "length",
            GroupBy::Voice => "voice",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// The learner feature prefix of the groups (`category:`), when the learner has one.
    pub fn feature_prefix(self) -> Option<String> {
        match self {
            GroupBy::Account => None,
            g => Some(format!("{}:", g.as_str())),
        }
    }
}

/// What groups are ordered by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Views,
    Likes,
    Comments,
    Shares,
    Saves,
    Engagement,
}

impl Metric {
    pub const ALL: [Metric; 6] = [
        Metric::Views,
        Metric::Likes,
        Metric::Comments,
        Metric::Shares,
        Metric::Saves,
        Metric::Engagement,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Views => "views",
            Metric::Likes => "likes",
            Metric::Comments => "comments",
            Metric::Shares => "shares",
            Metric::Saves => "saves",
            Metric::Engagement => "engagement",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// One post's newest observation.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    pub post_id: String,
    pub account_id: String,
    pub published_at: Timestamp,
    pub features: Vec<String>,
    pub metrics: Metrics,
    pub score: f64,
    pub predicted: f64,
    pub simulated: bool,
}

/// One group's figures. Totals are sums over the posts that reported the number (`null` when
/// none did); rates divide totals by the views of the same posts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    pub key: String,
    pub posts: u32,
    pub views: Option<u64>,
    pub likes: Option<u64>,
    pub comments: Option<u64>,
    pub shares: Option<u64>,
    pub saves: Option<u64>,
    /// Likes per view, over posts reporting both.
    pub like_rate: Option<f64>,
    /// Shares per view, over posts reporting both.
    pub share_rate: Option<f64>,
    /// Mean engagement score (0–1) by each platform's measure.
    pub engagement: f64,
    /// Mean of what the learner predicted for these posts when their concepts were written.
    pub predicted: f64,
    /// The learner's effect of this group's feature now, ± one standard deviation.
    pub effect: Option<f64>,
    pub effect_sd: Option<f64>,
    /// Every post in it is from the sandbox's simulated audience.
    pub simulated: bool,
}

fn key_of(row: &Row, by: GroupBy) -> String {
    match by.feature_prefix() {
        None => row.account_id.clone(),
        Some(prefix) => row
            .features
            .iter()
            .find_map(|f| f.strip_prefix(&prefix))
            .unwrap_or("unknown")
            .to_owned(),
    }
}

fn sum(rows: &[&Row], get: impl Fn(&Metrics) -> Option<u64>) -> Option<u64> {
    rows.iter()
        .filter_map(|r| get(&r.metrics))
        .fold(None, |acc, n| Some(acc.unwrap_or(0).saturating_add(n)))
}

fn rate(rows: &[&Row], get: impl Fn(&Metrics) -> Option<u64>) -> Option<f64> {
    let (mut num, mut views) = (0u64, 0u64);
    for r in rows {
        if let (Some(n), Some(v)) = (get(&r.metrics), r.metrics.views) {
            num = num.saturating_add(n);
            views = views.saturating_add(v);
        }
    }
    (views > 0).then(|| four(num as f64 / views as f64))
}

fn four(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Groups `rows` by `by`, ordered by `metric`, largest first (ties by key).
pub fn aggregate(rows: &[Row], by: GroupBy, metric: Metric) -> Vec<Group> {
    let mut groups: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        groups.entry(key_of(r, by)).or_default().push(r);
    }
    let mut out: Vec<Group> = groups
        .into_iter()
        .map(|(key, rows)| {
            let n = rows.len() as f64;
            Group {
                key,
                posts: rows.len() as u32,
                views: sum(&rows, |m| m.views),
                likes: sum(&rows, |m| m.likes),
                comments: sum(&rows, |m| m.comments),
                shares: sum(&rows, |m| m.shares),
                saves: sum(&rows, |m| m.saves),
                like_rate: rate(&rows, |m| m.likes),
                share_rate: rate(&rows, |m| m.shares),
                engagement: four(rows.iter().map(|r| r.score).sum::<f64>() / n),
                predicted: four(rows.iter().map(|r| r.predicted).sum::<f64>() / n),
                effect: None,
                effect_sd: None,
                simulated: rows.iter().all(|r| r.simulated),
            }
        })
        .collect();
    let value = |g: &Group| -> f64 {
        match metric {
            Metric::Views => g.views.unwrap_or(0) as f64,
            Metric::Likes => g.likes.unwrap_or(0) as f64,
            Metric::Comments => g.comments.unwrap_or(0) as f64,
            Metric::Shares => g.shares.unwrap_or(0) as f64,
            Metric::Saves => g.saves.unwrap_or(0) as f64,
            Metric::Engagement => g.engagement,
        }
    };
    out.sort_by(|a, b| {
        value(b)
            .total_cmp(&value(a))
            .then_with(|| a.key.cmp(&b.key))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cat: &str, views: Option<u64>, likes: Option<u64>, score: f64) -> Row {
        Row {
            post_id: format!("post_{cat}_{score}"),
            account_id: "acc_1".into(),
            published_at: Timestamp(0),
            features: vec![format!("category:{cat}"), "hour:16-20".into()],
            metrics: Metrics {
                views,
                likes,
                ..Metrics::default()
            },
            score,
            predicted: 0.1,
            simulated: false,
        }
    }

    #[test]
    fn groups_total_what_was_reported_and_order_by_the_metric() {
        let rows = [
            row("science", Some(1000), Some(100), 0.5),
            row("science", Some(500), None, 0.3),
            row("food", Some(3000), Some(30), 0.1),
            row("food", None, None, 0.0),
        ];
        let g = aggregate(&rows, GroupBy::Category, Metric::Views);
        assert_eq!(g[0].key, "food");
        assert_eq!(
            (g[0].posts, g[0].views, g[0].likes),
            (2, Some(3000), Some(30))
        );
        assert_eq!(g[0].saves, None, "nobody reported saves: null, not 0");
        let sci = &g[1];
        assert_eq!(sci.views, Some(1500));
        // Likes per view only over posts reporting both: 100 / 1000.
        assert_eq!(sci.like_rate, Some(0.1));
        assert_eq!(sci.engagement, 0.4);
        let by_engagement = aggregate(&rows, GroupBy::Category, Metric::Engagement);
        assert_eq!(by_engagement[0].key, "science");
        let by_hour = aggregate(&rows, GroupBy::Hour, Metric::Views);
        assert_eq!(by_hour[0].key, "16-20");
        assert_eq!(
            aggregate(&rows, GroupBy::Account, Metric::Views)[0].posts,
            4
        );
        assert_eq!(
            aggregate(&rows, GroupBy::Provider, Metric::Views)[0].key,
            "unknown"
        );
    }
}
