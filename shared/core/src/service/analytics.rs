//! `GET /v1/analytics`: the tenant's published posts' newest numbers over a period, grouped,
//! with the learner's current effect per group and its predictions against what happened.

use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::clock::Timestamp;
use crate::domain::analytics::{Group, GroupBy, Metric, Row, aggregate};
use crate::domain::keys;
use crate::error::{Error, Result};
use crate::ports::{ItemStore, Query};
use crate::service::learning;

/// The longest period one answer covers.
pub const MAX_SPAN: Duration = Duration::from_secs(366 * 86_400);
/// The period without `from`: the last 28 days.
pub const DEFAULT_SPAN: Duration = Duration::from_secs(28 * 86_400);
/// Observations read per answer at most (newest posts are not favoured: the answer says when
/// it was cut).
pub const MAX_ROWS: usize = 5_000;
/// Pages of 500 items read per answer at most (a long history is cut, and says so).
pub const MAX_PAGES: usize = 20;

/// A checked analytics question.
#[derive(Clone, Debug, PartialEq)]
pub struct AnalyticsQuery {
    pub group_by: GroupBy,
    pub metric: Metric,
    pub from: Timestamp,
    pub to: Timestamp,
}

impl AnalyticsQuery {
    /// Checks the raw parameters: `group_by` (default `category`), `metric` (default `views`),
    /// `from`/`to` RFC 3339 (default the 28 days up to now), `from` before `to`, at most 366
    /// days apart.
    pub fn parse(
        group_by: Option<&str>,
        metric: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        now: Timestamp,
    ) -> Result<Self> {
        let bad = |m: &str| Error::Invalid(m.to_owned());
        let group_by = match group_by {
            None => GroupBy::Category,
            Some(g) => GroupBy::parse(g).ok_or_else(|| {
                bad("group_by must be one of category, format, hook, platform, account, provider, hour, length, voice")
            })?,
        };
        let metric = match metric {
            None => Metric::Views,
            Some(m) => Metric::parse(m).ok_or_else(|| {
                bad("metric must be one of views, likes, comments, shares, saves, engagement")
            })?,
        };
        let time = |raw: Option<&str>, what: &str| -> Result<Option<Timestamp>> {
            raw.map(|t| {
                Timestamp::parse_rfc3339(t)
                    .ok_or_else(|| bad(&format!("{what} must be an RFC 3339 time")))
            })
            .transpose()
        };
        let to = time(to, "to")?.unwrap_or(now);
        let from =
            time(from, "from")?.unwrap_or(Timestamp(to.millis() - DEFAULT_SPAN.as_millis() as i64));
        if from >= to {
            return Err(bad("from must be before to"));
        }
        if to.millis() - from.millis() > MAX_SPAN.as_millis() as i64 {
            return Err(bad("from and to may be at most 366 days apart"));
        }
        Ok(Self {
            group_by,
            metric,
            from,
            to,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Analytics {
    pub group_by: &'static str,
    pub metric: &'static str,
    pub from: String,
    pub to: String,
    /// Posts published in the period with at least one observation.
    pub posts: u32,
    pub groups: Vec<Group>,
    /// Mean absolute difference between predicted and observed engagement over these posts
    /// (`null` without posts): how well the learner's predictions have held up.
    pub calibration_error: Option<f64>,
    /// More posts than one answer reads: the figures cover the first `MAX_ROWS`.
    pub truncated: bool,
}

fn row_of(attrs: &serde_json::Map<String, Value>) -> Option<Row> {
    if attrs.get("source").and_then(Value::as_str) != Some("collected") {
        return None;
    }
    Some(Row {
        post_id: attrs.get("post_id")?.as_str()?.to_owned(),
        account_id: attrs.get("account_id")?.as_str()?.to_owned(),
        published_at: Timestamp(attrs.get("published_at")?.as_i64()?),
        features: serde_json::from_value(attrs.get("features")?.clone()).ok()?,
        metrics: serde_json::from_value(attrs.get("metrics")?.clone()).ok()?,
        score: attrs.get("score")?.as_f64()?,
        predicted: attrs.get("predicted")?.as_f64()?,
        simulated: attrs
            .get("simulated")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

pub async fn analytics(
    store: &dyn ItemStore,
    tenant_id: &str,
    q: &AnalyticsQuery,
) -> Result<Analytics> {
    let mut rows = Vec::new();
    let mut cursor = None;
    let mut truncated = false;
    let mut pages = 0;
    loop {
        pages += 1;
        let page = store
            .query(
                Query::new(keys::tenant_pk(tenant_id), "FB#")
                    .limit(500)
                    .after(cursor),
            )
            .await?;
        rows.extend(
            page.items
                .iter()
                .filter_map(|i| row_of(&i.attrs))
                .filter(|r| r.published_at >= q.from && r.published_at < q.to),
        );
        match page.next_cursor {
            // At most MAX_PAGES reads per answer, whatever the period holds.
            Some(_) if rows.len() >= MAX_ROWS || pages >= MAX_PAGES => {
                truncated = true;
                break;
            }
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    rows.truncate(MAX_ROWS);
    let learner = learning::learner(store, tenant_id).await?;
    let mut groups = aggregate(&rows, q.group_by, q.metric);
    if let Some(prefix) = q.group_by.feature_prefix() {
        for g in &mut groups {
            if let Some((e, sd)) = learner.effect(&format!("{prefix}{}", g.key)) {
                g.effect = Some((e * 10_000.0).round() / 10_000.0);
                g.effect_sd = Some((sd * 10_000.0).round() / 10_000.0);
            }
        }
    }
    let calibration_error = (!rows.is_empty()).then(|| {
        let e = rows
            .iter()
            .map(|r| (r.score - r.predicted).abs())
            .sum::<f64>()
            / rows.len() as f64;
        (e * 10_000.0).round() / 10_000.0
    });
    Ok(Analytics {
        group_by: q.group_by.as_str(),
        metric: q.metric.as_str(),
        from: q.from.rfc3339(),
        to: q.to.rfc3339(),
        posts: rows.len() as u32,
        groups,
        calibration_error,
        truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked_with_clear_messages() {
        let now = Timestamp::from_secs(1_796_378_400);
        let q = AnalyticsQuery::parse(None, None, None, None, now).unwrap();
        assert_eq!(
            (q.group_by, q.metric, q.to),
            (GroupBy::Category, Metric::Views, now)
        );
        assert_eq!(now.millis() - q.from.millis(), 28 * 86_400_000);
        let err = |g, m, f, t| {
            AnalyticsQuery::parse(g, m, f, t, now)
                .unwrap_err()
                .to_string()
        };
        assert!(err(Some("colour"), None, None, None).contains("group_by must be one of"));
        assert!(err(None, Some("vibes"), None, None).contains("metric must be one of"));
        assert!(err(None, None, Some("yesterday"), None).contains("RFC 3339"));
        assert!(
            err(
                None,
                None,
                Some("2026-12-05T00:00:00Z"),
                Some("2026-12-01T00:00:00Z")
            )
            .contains("before")
        );
        assert!(
            err(
                None,
                None,
                Some("2024-01-01T00:00:00Z"),
                Some("2026-12-01T00:00:00Z")
            )
            .contains("366 days")
        );
    }
}
