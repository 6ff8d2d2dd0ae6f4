//! Concepts: what a short video will be, written from trends. Also the offline writer — a
//! deterministic, rule-based one that needs no key — and the sample trends a fresh install
//! uses until YouTube or GNews keys are set.

use serde::{Deserialize, Serialize};

use crate::domain::learner::{Kind, Posterior, Rng};
use crate::domain::offline_writer;

/// A trend, normalised from whichever source found it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    /// `youtube`, `gnews`, `sample` or `topic` (given by the user).
    pub source: String,
    pub title: String,
    pub url: Option<String>,
    /// RFC 3339.
    pub published_at: Option<String>,
    pub category: String,
    pub keywords: Vec<String>,
    /// Views per hour since publication, when the source says.
    pub views_per_hour: Option<f64>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Beat {
    pub text: String,
    pub start_s: f64,
    pub duration_s: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrendRef {
    pub title: String,
    pub url: Option<String>,
    pub source: String,
    /// When the trend itself came out (RFC 3339), when its source says: a post on an old
    /// trend reaches fewer people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Concept {
    pub id: String,
    pub title: String,
    /// What is said and shown in the first two seconds.
    pub hook: String,
    /// Timed beats after the hook; hook and beats fill the target length.
    pub beats: Vec<Beat>,
    /// For a text-to-video provider.
    pub visual_prompt: String,
    pub caption: String,
    pub hashtags: Vec<String>,
    pub category: String,
    pub format: String,
    pub hook_style: String,
    pub platforms: Vec<String>,
    pub trends: Vec<TrendRef>,
    /// 0–100: the learner's expected engagement, scaled.
    pub predicted_score: u8,
    /// One standard deviation of that prediction on the same scale: large while the learner
    /// has little evidence about this kind of concept. 0 for concepts written before it existed.
    #[serde(default)]
    pub predicted_score_uncertainty: u8,
    pub rationale: String,
    pub duration_s: f64,
}

impl Concept {
    pub fn kind(&self) -> Kind {
        Kind {
            category: self.category.clone(),
            format: self.format.clone(),
            hook: self.hook_style.clone(),
        }
    }

    /// The prompt a video job renders: hook then beats, one sentence each.
    pub fn video_prompt(&self) -> String {
        std::iter::once(self.hook.as_str())
            .chain(self.beats.iter().map(|b| b.text.as_str()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

pub const FORMATS: [&str; 4] = ["listicle", "story", "myth-busting", "how-to"];
pub const HOOK_STYLES: [&str; 4] = ["question", "bold-claim", "number", "pov"];
pub const PLATFORMS: [&str; 3] = ["tiktok", "youtube_shorts", "instagram_reels"];
/// Seconds the hook holds the screen.
pub const HOOK_S: f64 = 2.0;

/// What a batch of concepts is asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct Brief {
    pub count: usize,
    pub duration_s: f64,
    /// The tenant's niche or brand line, if set.
    pub niche: Option<String>,
}

const STOPWORDS: [&str; 40] = [
    "the", "a", "an", "and", "or", "of", "to", "in", "on", "for", "with", "is", "are", "was",
    "this", "that", "how", "why", "what", "you", "your", "it", "its", "at", "by", "from", "as",
    "be", "new", "after", "over", "into", "about", "will", "just", "now", "has", "have", "their",
    "more",
];

/// Outside text as one line of at most `max` characters: control characters out, whitespace
/// runs collapsed. Titles from trend sources and the writer's answers go through it.
pub fn one_line(s: &str, max: usize) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(max)
        .collect()
}

/// The few words of a title that carry it: longest first, no stopwords, no repeats.
pub fn keywords(title: &str) -> Vec<String> {
    let mut words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .map(|w| w.trim_matches('\'').to_lowercase())
        .filter(|w| w.chars().count() > 2 && !STOPWORDS.contains(&w.as_str()))
        .collect();
    words.dedup();
    let mut seen = Vec::new();
    words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    for w in words {
        if !seen.contains(&w) {
            seen.push(w);
        }
        if seen.len() == 4 {
            break;
        }
    }
    seen
}

/// Beats timed to fill what is left after the hook, in proportion to their length.
fn timed(lines: Vec<String>, duration_s: f64) -> Vec<Beat> {
    let body = (duration_s - HOOK_S).max(1.0);
    // In proportion to the time each takes to say, until the voice times them.
    let weights: Vec<f64> = lines
        .iter()
        .map(|l| offline_writer::speaking_s(l))
        .collect();
    let total: f64 = weights.iter().sum();
    let mut at = HOOK_S;
    lines
        .into_iter()
        .zip(weights)
        .map(|(text, w)| {
            let d = (body * w / total * 100.0).round() / 100.0;
            let b = Beat {
                text,
                start_s: (at * 100.0).round() / 100.0,
                duration_s: d,
            };
            at += d;
            b
        })
        .collect()
}

/// A concept's predicted score, 0–100: expected engagement on a scale where 0.2 (twice a
/// typical short video) is 100.
pub fn predicted_score(expected_engagement: f64) -> u8 {
    ((expected_engagement / 0.2) * 100.0)
        .round()
        .clamp(0.0, 100.0) as u8
}

/// Writes concepts from trends without a model: the learner's Thompson ranking picks a
/// diverse set of kinds (each trend's category × format × hook style), templates write them.
/// Deterministic for a seed.
pub fn write_offline(
    trends: &[Trend],
    brief: &Brief,
    learner: &Posterior,
    seed: u64,
    new_id: &mut dyn FnMut() -> String,
) -> Vec<Concept> {
    if trends.is_empty() || brief.count == 0 {
        return Vec::new();
    }
    let mut rng = Rng::new(seed);
    // Candidate kinds: every trend's category with every format and hook style.
    let mut candidates: Vec<(usize, Kind)> = Vec::new();
    for (i, t) in trends.iter().enumerate() {
        for f in FORMATS {
            for h in HOOK_STYLES {
                candidates.push((
                    i,
                    Kind {
                        category: t.category.clone(),
                        format: f.into(),
                        hook: h.into(),
                    },
                ));
            }
        }
    }
    let kinds: Vec<Kind> = candidates.iter().map(|(_, k)| k.clone()).collect();
    let ranked = learner.thompson_rank(&kinds, &mut rng);
    let mut out: Vec<Concept> = Vec::new();
    let mut used_trends = Vec::new();
    let mut used_shapes = Vec::new();
    let mut used_formats: Vec<String> = Vec::new();
    let mut used_hooks: Vec<String> = Vec::new();
    for k in ranked {
        if out.len() == brief.count {
            break;
        }
        // Diversity: a trend once, a format × hook pair once, while there are others left.
        let Some((ti, _)) = candidates.iter().find(|(i, c)| {
            *c == k && (!used_trends.contains(i) || used_trends.len() >= trends.len())
        }) else {
            continue;
        };
        // Every format and hook style once before any repeats.
        let seen_all = |used: &[String], all: usize| {
            let mut d = used.to_vec();
            d.sort();
            d.dedup();
            d.len() >= all
        };
        if (used_formats.contains(&k.format) && !seen_all(&used_formats, FORMATS.len()))
            || (used_hooks.contains(&k.hook) && !seen_all(&used_hooks, HOOK_STYLES.len()))
        {
            continue;
        }
        let shape = (k.format.clone(), k.hook.clone());
        if used_shapes.contains(&shape) && used_shapes.len() < FORMATS.len() * HOOK_STYLES.len() {
            continue;
        }
        used_formats.push(k.format.clone());
        used_hooks.push(k.hook.clone());
        used_trends.push(*ti);
        used_shapes.push(shape);
        let t = &trends[*ti];
        let kw = if t.keywords.is_empty() {
            keywords(&t.title)
        } else {
            t.keywords.clone()
        };
        let expected = learner.expected(&k);
        // One wording per concept, varied across the batch and stable for the seed.
        let wording = seed.wrapping_add(out.len() as u64 * 7919) >> 3;
        let hook = offline_writer::hook(&k.hook, &k.category, brief.duration_s, wording);
        let headline = offline_writer::sentence(&t.title);
        let niche = brief
            .niche
            .as_deref()
            .map(|n| format!(" In the style of {n}."))
            .unwrap_or_default();
        out.push(Concept {
            id: new_id(),
            title: t.title.clone(),
            beats: timed(
                offline_writer::beats(&k.format, &k.category, &t.title, wording),
                brief.duration_s,
            ),
            visual_prompt: format!(
                "Vertical 9:16 short video: {headline} Bold on-screen text, fast cuts, bright natural light.{niche}"
            ),
            caption: format!("{hook} {headline}"),
            hashtags: std::iter::once(k.category.clone())
                .chain(kw.iter().cloned())
                .map(|w| w.chars().filter(|c| c.is_alphanumeric()).collect::<String>())
                .filter(|w| !w.is_empty())
                .fold(Vec::<String>::new(), |mut tags, w| {
                    if !tags.iter().any(|t| t.eq_ignore_ascii_case(&w)) {
                        tags.push(w);
                    }
                    tags
                })
                .into_iter()
                .take(4)
                .map(|w| format!("#{w}"))
                .collect(),
            category: k.category.clone(),
            format: k.format.clone(),
            hook_style: k.hook.clone(),
            platforms: PLATFORMS.iter().map(|p| (*p).to_owned()).collect(),
            trends: vec![TrendRef {
                title: t.title.clone(),
                url: t.url.clone(),
                source: t.source.clone(),
                published_at: t.published_at.clone(),
            }],
            predicted_score: predicted_score(expected),
            predicted_score_uncertainty: predicted_score(learner.expected_sd(&k)),
            rationale: format!(
                "{} {} with a {} hook: expected engagement {:.3} by what has worked so far",
                t.category, k.format, k.hook, expected
            ),
            hook,
            duration_s: brief.duration_s,
        });
    }
    out
}

/// Trends that ship with the project for runs without keys: written by us, dated, and
/// labelled `sample` wherever they appear.
pub fn sample_trends() -> Vec<Trend> {
    let t = |title: &str, category: &str, date: &str, vph: f64| Trend {
        source: "sample".into(),
        title: title.into(),
        url: None,
        published_at: Some(format!("{date}T08:00:00Z")),
        category: category.into(),
        keywords: keywords(title),
        views_per_hour: Some(vph),
    };
    vec![
        t(
            "Octopuses dream in colour, new sleep study suggests",
            "science",
            "2026-11-20",
            42_000.0,
        ),
        t(
            "Cold brew sales overtake hot coffee for the first time",
            "food",
            "2026-11-19",
            18_500.0,
        ),
        t(
            "Four-day work week trial ends with most firms staying on",
            "money",
            "2026-11-21",
            27_300.0,
        ),
        t(
            "Pocket-sized e-ink phone sells out in a weekend",
            "tech",
            "2026-11-22",
            35_800.0,
        ),
        t(
            "Marathon record falls on a rainy morning in Valencia",
            "sports",
            "2026-11-18",
            51_200.0,
        ),
        t(
            "Night trains are back: three new sleeper routes across Europe",
            "travel",
            "2026-11-17",
            12_900.0,
        ),
        t(
            "Ten minutes of walking after meals steadies blood sugar",
            "health",
            "2026-11-20",
            23_400.0,
        ),
        t(
            "Stand-up comedian's grandmother becomes the breakout star",
            "comedy",
            "2026-11-21",
            61_000.0,
        ),
    ]
}

/// A user's topic as a trend.
pub fn topic_trend(topic: &str) -> Trend {
    Trend {
        source: "topic".into(),
        title: topic.trim().to_owned(),
        url: None,
        published_at: None,
        category: "general".into(),
        keywords: keywords(topic),
        views_per_hour: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::learner::Evidence;

    #[test]
    fn keywords_drop_stopwords_and_repeats() {
        assert_eq!(
            keywords("How the octopus dreams: octopus sleep and the science of dreams"),
            ["octopus", "science", "dreams", "sleep"]
        );
    }

    #[test]
    fn offline_concepts_are_complete_diverse_and_timed() {
        let mut n = 0;
        let mut ids = || {
            n += 1;
            format!("cn_{n}")
        };
        let brief = Brief {
            count: 5,
            duration_s: 15.0,
            niche: Some("a calm science channel".into()),
        };
        let learner = Posterior::of(&Evidence::default());
        let cs = write_offline(&sample_trends(), &brief, &learner, 7, &mut ids);
        assert_eq!(cs.len(), 5);
        let mut trends: Vec<&str> = cs.iter().map(|c| c.trends[0].title.as_str()).collect();
        trends.dedup();
        assert_eq!(trends.len(), 5, "five different trends");
        let distinct = |f: fn(&Concept) -> &str| {
            let mut v: Vec<&str> = cs.iter().map(f).collect();
            v.sort();
            v.dedup();
            v.len()
        };
        assert_eq!(
            distinct(|c| c.format.as_str()),
            4,
            "every format once first"
        );
        assert_eq!(
            distinct(|c| c.hook_style.as_str()),
            4,
            "every hook style once first"
        );
        for c in &cs {
            let end = c.beats.last().map(|b| b.start_s + b.duration_s).unwrap();
            assert!((end - 15.0).abs() < 0.05, "{end}");
            assert!(c.beats[0].start_s == HOOK_S);
            assert!(!c.hook.is_empty() && !c.visual_prompt.is_empty() && !c.hashtags.is_empty());
            assert!(c.visual_prompt.contains("calm science channel"));
            assert_eq!(
                c.title, c.trends[0].title,
                "the trend's own words, no format prefix"
            );
            assert!(c.predicted_score <= 100);
        }
        let again = write_offline(&sample_trends(), &brief, &learner, 7, &mut || "x".into());
        assert_eq!(
            cs.iter().map(|c| &c.title).collect::<Vec<_>>(),
            again.iter().map(|c| &c.title).collect::<Vec<_>>(),
            "deterministic for a seed"
        );
    }

    #[test]
    fn what_worked_is_preferred() {
        let mut e = Evidence::default();
        for _ in 0..40 {
            e.observe(
                &Kind {
                    category: "comedy".into(),
                    format: "story".into(),
                    hook: "pov".into(),
                },
                0.4,
                1.0,
            );
            e.observe(
                &Kind {
                    category: "money".into(),
                    format: "listicle".into(),
                    hook: "number".into(),
                },
                0.02,
                1.0,
            );
        }
        let brief = Brief {
            count: 1,
            duration_s: 15.0,
            niche: None,
        };
        let cs = write_offline(&sample_trends(), &brief, &Posterior::of(&e), 1, &mut || {
            "c".into()
        });
        assert_eq!(cs[0].category, "comedy");
        assert!(cs[0].predicted_score > 50, "{}", cs[0].predicted_score);
    }
}
