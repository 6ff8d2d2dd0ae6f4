//! Several live trend sources as one: each is asked, their trends are interleaved (so a
//! batch sees both videos and news), repeats are dropped, and one failing source does not
//! fail the batch while another answers.

use std::sync::Arc;

use async_trait::async_trait;
use futures_util::future::join_all;

use crate::domain::concept::Trend;
use crate::ports::{SourceError, TrendQuery, TrendSource};

pub struct MergedTrends {
    sources: Vec<Arc<dyn TrendSource>>,
    name: String,
}

impl MergedTrends {
    pub fn new(sources: Vec<Arc<dyn TrendSource>>) -> Self {
        let name = sources
            .iter()
            .map(|s| s.name().to_owned())
            .collect::<Vec<_>>()
            .join("+");
        Self { sources, name }
    }
}

/// Round-robin over the lists, first seen wins among equal titles, at most `max`.
pub fn interleave(lists: Vec<Vec<Trend>>, max: usize) -> Vec<Trend> {
    let mut out: Vec<Trend> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let longest = lists.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..longest {
        for list in &lists {
            if out.len() == max {
                return out;
            }
            if let Some(t) = list.get(i)
                && seen.insert(t.title.trim().to_lowercase())
            {
                out.push(t.clone());
            }
        }
    }
    out
}

#[async_trait]
impl TrendSource for MergedTrends {
    fn name(&self) -> &str {
        &self.name
    }

    async fn trends(&self, q: &TrendQuery) -> Result<Vec<Trend>, SourceError> {
        let answers = join_all(self.sources.iter().map(|s| s.trends(q))).await;
        let mut lists = Vec::new();
        let mut first_error = None;
        for (source, answer) in self.sources.iter().zip(answers) {
            match answer {
                Ok(list) => lists.push(list),
                Err(e) => {
                    tracing::warn!(source = source.name(), error = %e, "trend source failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        match (lists.is_empty(), first_error) {
            (true, Some(e)) => Err(e),
            _ => Ok(interleave(lists, q.max.max(1))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::concept::topic_trend;

    struct Fixed(&'static str, Result<Vec<Trend>, SourceError>);

    #[async_trait]
    impl TrendSource for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        async fn trends(&self, _: &TrendQuery) -> Result<Vec<Trend>, SourceError> {
            self.1.clone()
        }
    }

    fn titles(v: &[Trend]) -> Vec<&str> {
        v.iter().map(|t| t.title.as_str()).collect()
    }

    fn q(max: usize) -> TrendQuery {
        TrendQuery {
            max,
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn sources_are_interleaved_without_repeats() {
        let a = Fixed("youtube", Ok(vec![topic_trend("A1"), topic_trend("Same")]));
        let b = Fixed(
            "gnews",
            Ok(vec![
                topic_trend("B1"),
                topic_trend("same"),
                topic_trend("B3"),
            ]),
        );
        let m = MergedTrends::new(vec![Arc::new(a), Arc::new(b)]);
        assert_eq!(m.name(), "youtube+gnews");
        assert_eq!(
            titles(&m.trends(&q(10)).await.unwrap()),
            ["A1", "B1", "Same", "B3"]
        );
        assert_eq!(titles(&m.trends(&q(2)).await.unwrap()), ["A1", "B1"]);
    }

    #[tokio::test]
    async fn one_failing_source_is_survived_and_all_failing_is_an_error() {
        let bad = || Fixed("gnews", Err(SourceError::QuotaExhausted("spent".into())));
        let m = MergedTrends::new(vec![
            Arc::new(Fixed("youtube", Ok(vec![topic_trend("A1")]))),
            Arc::new(bad()),
        ]);
        assert_eq!(titles(&m.trends(&q(5)).await.unwrap()), ["A1"]);
        let m = MergedTrends::new(vec![Arc::new(bad())]);
        assert_eq!(
            m.trends(&q(5)).await,
            Err(SourceError::QuotaExhausted("spent".into()))
        );
    }
}
