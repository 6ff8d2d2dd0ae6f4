//! Where concept batches get their trends and who writes them. Keys are secrets read through
//! the Secrets port on first use (`YOUTUBE_API_KEY`, `GNEWS_API_KEY`, `ANTHROPIC_API_KEY`);
//! locally, a key in the environment also switches its source on. Without keys: the dated
//! sample trends and the rule-based writer.

use std::time::Duration;

use crate::config::ConfigError;
use crate::provider_config::checked_url;

pub const TREND_SOURCES: [&str; 3] = ["youtube", "gnews", "sample"];
pub const WRITERS: [&str; 2] = ["anthropic", "rules"];

#[derive(Clone, Debug, PartialEq)]
pub struct SourceConfig {
    /// `VIRAL_TREND_SOURCES`, comma-separated: `youtube`, `gnews`, or `sample`. Default:
    /// `youtube` when `YOUTUBE_API_KEY` is set, `gnews` when `GNEWS_API_KEY` is, else `sample`.
    /// On AWS, where keys live in Secrets Manager, list them.
    pub trend_sources: Vec<String>,
    /// `VIRAL_CONCEPT_WRITER`: `anthropic` or `rules`. Default: `anthropic` when
    /// `ANTHROPIC_API_KEY` is set, else `rules`.
    pub writer: String,
    /// `YOUTUBE_BASE_URL`, `GNEWS_BASE_URL`, `ANTHROPIC_BASE_URL`: overrides for proxies and
    /// tests.
    pub youtube_base_url: String,
    pub gnews_base_url: String,
    pub anthropic_base_url: String,
    /// `ANTHROPIC_MODEL`, default `claude-haiku-4-5` (answers inside API Gateway's 29 s).
    pub anthropic_model: String,
    /// `ANTHROPIC_TIMEOUT_SECS`, default 25: one call's limit.
    pub anthropic_timeout: Duration,
    /// `ANTHROPIC_USD_PER_MTOK` = `input,output` US dollars per million tokens: what autopilot
    /// holds from a day's budget for a batch. Default the default model's list price ($1, $5);
    /// required with another `ANTHROPIC_MODEL` when the writer is `anthropic`.
    pub anthropic_price: viral_providers::anthropic::TokenPrice,
    /// `GNEWS_LANG`, default `en`.
    pub gnews_lang: String,
    /// `VIRAL_TRENDS_TTL` in seconds, default 900: how long fetched trends are reused.
    pub trends_ttl: Duration,
}

fn err(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

fn seconds(
    get: &dyn Fn(&str) -> Option<String>,
    var: &'static str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, ConfigError> {
    match get(var) {
        None => Ok(Duration::from_secs(default)),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| range.contains(n))
            .map(Duration::from_secs)
            .ok_or_else(|| {
                err(
                    var,
                    format!(
                        "expected seconds from {} to {}, got `{v}`",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}

impl SourceConfig {
    /// `allow_loopback` is the providers' `VIRAL_ALLOW_LOOPBACK_PROVIDERS`, read and checked
    /// against the backend once, there.
    pub fn from_lookup(
        get: &dyn Fn(&str) -> Option<String>,
        allow_loopback: bool,
    ) -> Result<Self, ConfigError> {
        let trend_sources: Vec<String> = match get("VIRAL_TREND_SOURCES") {
            Some(list) => {
                crate::config::names("VIRAL_TREND_SOURCES", &list, "source", &TREND_SOURCES)?
            }
            None => {
                let mut v = Vec::new();
                if get("YOUTUBE_API_KEY").is_some() {
                    v.push("youtube".to_owned());
                }
                if get("GNEWS_API_KEY").is_some() {
                    v.push("gnews".to_owned());
                }
                if v.is_empty() {
                    v.push("sample".to_owned());
                }
                v
            }
        };
        if trend_sources.len() > 1 && trend_sources.iter().any(|s| s == "sample") {
            return Err(err(
                "VIRAL_TREND_SOURCES",
                "`sample` is the offline set and does not mix with live sources",
            ));
        }
        let writer = match get("VIRAL_CONCEPT_WRITER") {
            Some(w) => w.to_ascii_lowercase(),
            None if get("ANTHROPIC_API_KEY").is_some() => "anthropic".into(),
            None => "rules".into(),
        };
        if !WRITERS.contains(&writer.as_str()) {
            return Err(err(
                "VIRAL_CONCEPT_WRITER",
                format!("unknown writer `{writer}`; known: {}", WRITERS.join(", ")),
            ));
        }
        let anthropic_model = get("ANTHROPIC_MODEL")
            .unwrap_or_else(|| viral_providers::anthropic::DEFAULT_MODEL.into());
        if anthropic_model.is_empty()
            || anthropic_model.len() > 100
            || !anthropic_model
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._@:".contains(&b))
        {
            return Err(err(
                "ANTHROPIC_MODEL",
                "expected a model id, e.g. claude-sonnet-4-6",
            ));
        }
        let anthropic_price = match get("ANTHROPIC_USD_PER_MTOK").filter(|v| !v.is_empty()) {
            Some(v) => {
                let prices: Vec<f64> = v
                    .split(',')
                    .filter_map(|p| p.trim().parse::<f64>().ok())
                    .filter(|p| p.is_finite() && (0.0..=1000.0).contains(p))
                    .collect();
                match prices[..] {
                    [input, output] if v.split(',').count() == 2 => {
                        viral_providers::anthropic::TokenPrice { input, output }
                    }
                    _ => {
                        return Err(err(
                            "ANTHROPIC_USD_PER_MTOK",
                            format!(
                                "expected `input,output` dollars per million tokens, e.g. 3,15; got `{v}`"
                            ),
                        ));
                    }
                }
            }
            // The rule writer pays nothing: the model's price matters only when it writes.
            None if anthropic_model == viral_providers::anthropic::DEFAULT_MODEL
                || writer != "anthropic" =>
            {
                viral_providers::anthropic::DEFAULT_PRICE
            }
            None => {
                return Err(err(
                    "ANTHROPIC_USD_PER_MTOK",
                    format!(
                        "set the price of {anthropic_model} (`input,output` dollars per million \
                         tokens, e.g. 3,15): autopilot's budget counts what writing concepts costs"
                    ),
                ));
            }
        };
        let gnews_lang = get("GNEWS_LANG").unwrap_or_else(|| "en".into());
        if !(gnews_lang.len() == 2 && gnews_lang.bytes().all(|b| b.is_ascii_lowercase())) {
            return Err(err(
                "GNEWS_LANG",
                "expected a two-letter language code, e.g. en",
            ));
        }
        let url = |var: &'static str, default: &str| checked_url(get, var, default, allow_loopback);
        Ok(Self {
            trend_sources,
            writer,
            youtube_base_url: url(
                "YOUTUBE_BASE_URL",
                viral_providers::trends::youtube::DEFAULT_BASE_URL,
            )?,
            gnews_base_url: url(
                "GNEWS_BASE_URL",
                viral_providers::trends::gnews::DEFAULT_BASE_URL,
            )?,
            anthropic_base_url: url(
                "ANTHROPIC_BASE_URL",
                viral_providers::anthropic::DEFAULT_BASE_URL,
            )?,
            anthropic_model,
            anthropic_timeout: seconds(get, "ANTHROPIC_TIMEOUT_SECS", 25, 5..=300)?,
            anthropic_price,
            gnews_lang,
            trends_ttl: seconds(get, "VIRAL_TRENDS_TTL", 900, 0..=86_400)?,
        })
    }

    /// Whether any trend source or the writer is a live API.
    pub fn is_live(&self) -> bool {
        self.writer != "rules" || self.trend_sources.iter().any(|s| s != "sample")
    }

    /// The secret each live source needs.
    pub fn secrets(&self) -> Vec<(&str, &'static str)> {
        let mut v: Vec<(&str, &'static str)> = self
            .trend_sources
            .iter()
            .filter_map(|s| match s.as_str() {
                "youtube" => Some(("youtube", "YOUTUBE_API_KEY")),
                "gnews" => Some(("gnews", "GNEWS_API_KEY")),
                _ => None,
            })
            .collect();
        if self.writer == "anthropic" {
            v.push(("anthropic", "ANTHROPIC_API_KEY"));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<SourceConfig, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let loopback = m
            .get("VIRAL_ALLOW_LOOPBACK_PROVIDERS")
            .is_some_and(|v| v == "1");
        SourceConfig::from_lookup(&|k| m.get(k).cloned(), loopback)
    }

    #[test]
    fn keys_switch_live_sources_on() {
        let c = cfg(&[]).unwrap();
        assert_eq!(
            (c.trend_sources.clone(), c.writer.as_str()),
            (vec!["sample".to_owned()], "rules")
        );
        assert!(!c.is_live());
        let c = cfg(&[
            ("YOUTUBE_API_KEY", "k"),
            ("GNEWS_API_KEY", "k"),
            ("ANTHROPIC_API_KEY", "k"),
        ])
        .unwrap();
        assert_eq!(c.trend_sources, ["youtube", "gnews"]);
        assert_eq!(c.writer, "anthropic");
        assert_eq!(c.anthropic_model, "claude-haiku-4-5");
        assert_eq!(c.anthropic_base_url, "https://api.anthropic.com");
        assert_eq!(
            c.secrets(),
            [
                ("youtube", "YOUTUBE_API_KEY"),
                ("gnews", "GNEWS_API_KEY"),
                ("anthropic", "ANTHROPIC_API_KEY")
            ]
        );
        let c = cfg(&[
            ("VIRAL_TREND_SOURCES", "gnews"),
            ("VIRAL_CONCEPT_WRITER", "rules"),
        ])
        .unwrap();
        assert_eq!(c.trend_sources, ["gnews"]);
        assert!(c.is_live());
    }

    #[test]
    fn bad_settings_name_their_variable() {
        let var = |pairs: &[(&str, &str)]| cfg(pairs).unwrap_err().var;
        assert_eq!(
            var(&[("VIRAL_TREND_SOURCES", "tiktok")]),
            "VIRAL_TREND_SOURCES"
        );
        assert_eq!(
            var(&[("VIRAL_TREND_SOURCES", "sample,gnews")]),
            "VIRAL_TREND_SOURCES"
        );
        assert_eq!(
            var(&[("VIRAL_CONCEPT_WRITER", "gpt")]),
            "VIRAL_CONCEPT_WRITER"
        );
        assert_eq!(
            var(&[("ANTHROPIC_MODEL", "claude haiku")]),
            "ANTHROPIC_MODEL"
        );
        // Another model needs its price; a price is two numbers.
        assert_eq!(
            var(&[
                ("ANTHROPIC_MODEL", "claude-sonnet-4-6"),
                ("VIRAL_CONCEPT_WRITER", "anthropic")
            ]),
            "ANTHROPIC_USD_PER_MTOK"
        );
        // The rule writer does not need it.
        assert!(cfg(&[("ANTHROPIC_MODEL", "claude-sonnet-4-6")]).is_ok());
        assert_eq!(
            var(&[("ANTHROPIC_USD_PER_MTOK", "3")]),
            "ANTHROPIC_USD_PER_MTOK"
        );
        assert_eq!(
            var(&[("ANTHROPIC_USD_PER_MTOK", "3,x")]),
            "ANTHROPIC_USD_PER_MTOK"
        );
        let priced = cfg(&[
            ("ANTHROPIC_MODEL", "claude-sonnet-4-6"),
            ("ANTHROPIC_USD_PER_MTOK", "3, 15"),
        ])
        .unwrap();
        assert_eq!(
            priced.anthropic_price,
            viral_providers::anthropic::TokenPrice {
                input: 3.0,
                output: 15.0
            }
        );
        assert_eq!(
            var(&[("ANTHROPIC_BASE_URL", "http://api.example")]),
            "ANTHROPIC_BASE_URL"
        );
        assert_eq!(var(&[("VIRAL_TRENDS_TTL", "forever")]), "VIRAL_TRENDS_TTL");
        assert_eq!(var(&[("GNEWS_LANG", "english")]), "GNEWS_LANG");
        assert!(
            cfg(&[
                ("VIRAL_ALLOW_LOOPBACK_PROVIDERS", "1"),
                ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
            ])
            .is_ok()
        );
    }
}
