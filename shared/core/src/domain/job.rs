//! Video jobs: their states, which only move forward, and their quota ledger entries.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::concept::PLATFORMS;
use super::keys;
use crate::clock::Timestamp;
use crate::ports::Item;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Planning,
    Rendering,
    Validating,
    Storing,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub const ALL: [JobStatus; 7] = [
        JobStatus::Queued,
        JobStatus::Planning,
        JobStatus::Rendering,
        JobStatus::Validating,
        JobStatus::Storing,
        JobStatus::Succeeded,
        JobStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Planning => "planning",
            JobStatus::Rendering => "rendering",
            JobStatus::Validating => "validating",
            JobStatus::Storing => "storing",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_terminal(self) -> bool {
        matches!(self, JobStatus::Succeeded | JobStatus::Failed)
    }

    /// Status only moves forward; a fallback to another provider goes back to planning, which
    /// is the one step back allowed while the job is still open. Terminal states never change.
    pub fn can_become(self, next: JobStatus) -> bool {
        if self.is_terminal() {
            return false;
        }
        next > self || (next == JobStatus::Planning && self != JobStatus::Queued)
    }

    /// Rough progress shown to users, 0–100.
    pub fn progress(self) -> u8 {
        match self {
            JobStatus::Queued => 0,
            JobStatus::Planning => 5,
            JobStatus::Rendering => 20,
            JobStatus::Validating => 85,
            JobStatus::Storing => 95,
            JobStatus::Succeeded | JobStatus::Failed => 100,
        }
    }
}

/// How a job's storyboard is narrated, when the deployment has a voice: the language, the
/// engine's voice and the pace. Absent fields take the voice's defaults.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Narration {
    /// BCP 47, lower case (`en-us`, `es`, `pt-br`); default `en-us`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// The engine's voice name (`Joanna` for Polly, `en-gb` for espeak-ng, an ElevenLabs voice
    /// id); default the deployment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub voice: Option<String>,
    /// 0.5 to 2.0; default 1.0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
}

impl Narration {
    pub const LANGUAGE_MAX_CHARS: usize = 12;
    pub const VOICE_MAX_CHARS: usize = 64;

    /// The same rules as the voices' own check, before a job is accepted.
    pub fn check(&self) -> Result<(), crate::Error> {
        let invalid = |m: &str| Err(crate::Error::Invalid(m.to_owned()));
        if let Some(l) = &self.language {
            let ok = (2..=Self::LANGUAGE_MAX_CHARS).contains(&l.len())
                && l.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
            if !ok {
                return invalid("narration.language must be a lower-case tag like en-us");
            }
        }
        if let Some(v) = &self.voice {
            let ok = (1..=Self::VOICE_MAX_CHARS).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+'));
            if !ok {
                return invalid("narration.voice must be 1 to 64 letters, digits, -, _ or +");
            }
        }
        if let Some(s) = self.speed
            && !(s.is_finite() && (0.5..=2.0).contains(&s))
        {
            return invalid("narration.speed must be 0.5 to 2.0");
        }
        Ok(())
    }
}

/// What a job asks for.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    pub prompt: String,
    pub concept_id: Option<String>,
    /// `auto` or a provider name.
    pub provider: String,
    pub platforms: Vec<String>,
    pub duration_s: f64,
    /// How the storyboard is narrated (the voice's defaults when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub narration: Option<Narration>,
}

/// Bounds of a job's input, the same for the API, the CLI and every pipeline step.
pub const PROMPT_MAX_CHARS: usize = 2000;
pub const DURATION_RANGE_S: std::ops::RangeInclusive<f64> = 5.0..=60.0;
/// Longest provider name a request may carry (`auto` or a provider's name).
pub const PROVIDER_MAX_CHARS: usize = 40;

impl JobSpec {
    /// The one set of rules for a job's input. Anything a later step would refuse for good is
    /// refused here, before the job is accepted: an accepted job never fails for its input.
    /// The provider's name is checked against this deployment's providers by
    /// `videos::check_spec`, which every caller uses.
    pub fn check(&self) -> Result<(), crate::Error> {
        let invalid = |m: &str| Err(crate::Error::Invalid(m.to_owned()));
        // Counted as sent, so that the bound the API publishes holds for what clients send.
        if self.prompt.trim().is_empty() || self.prompt.chars().count() > PROMPT_MAX_CHARS {
            return invalid("prompt (or concept_id) is required: 1 to 2000 characters");
        }
        if self.prompt.chars().any(|c| c.is_control() && c != '\n') {
            return invalid("prompt may not contain control characters other than line breaks");
        }
        if self.provider.is_empty()
            || self.provider.chars().count() > PROVIDER_MAX_CHARS
            || !self
                .provider
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return invalid("provider must be `auto` or a provider's name (GET /v1/providers)");
        }
        if self.platforms.is_empty()
            || self.platforms.len() > PLATFORMS.len()
            || self
                .platforms
                .iter()
                .any(|p| !PLATFORMS.contains(&p.as_str()))
        {
            return invalid(
                "platforms must be a non-empty subset of tiktok, youtube_shorts, instagram_reels",
            );
        }
        if !(self.duration_s.is_finite() && DURATION_RANGE_S.contains(&self.duration_s)) {
            return invalid("duration_s must be 5 to 60");
        }
        if let Some(n) = &self.narration {
            n.check()?;
        }
        Ok(())
    }

    /// The spec, checked, with its prompt trimmed: what API and CLI hand to `accept`.
    pub fn checked(self) -> Result<JobSpec, crate::Error> {
        self.check()?;
        Ok(JobSpec {
            prompt: self.prompt.trim().to_owned(),
            ..self
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: String,
    pub tenant_id: String,
    pub status: JobStatus,
    pub spec: JobSpec,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub version: u64,
    /// Provider and model of the current attempt; attempts planned so far (the first is
    /// planned when the job is accepted).
    pub provider: Option<String>,
    pub model: Option<String>,
    pub attempts: u32,
    /// Most the job may spend on providers, across all its attempts and clips (the plan's cap
    /// when it was accepted).
    pub budget_cents: u32,
    /// What the job has committed to providers: the estimated cost of every clip a provider
    /// accepted, or may have accepted. Checked against the budget before each paid submit.
    pub spent_cents: u32,
    /// The stored video's blob key; URLs are signed on read.
    pub video_key: Option<String>,
    /// The stored captions' WebVTT key (the SubRip file is beside it, `.srt`), when the video
    /// came with word-timed captions.
    pub captions_key: Option<String>,
    pub validation: Option<Value>,
    pub failure: Option<String>,
    /// The routing decision of the current attempt: provider, model, clips, estimated cost
    /// and why (see `domain::routing::Route`).
    pub route: Option<Value>,
}

/// Index partition of jobs that have not ended, sorted by creation time: the reconciler finds
/// overdue ones without scanning tenants. Ending a job takes it out.
pub const OPEN_JOBS: &str = "JOBS#OPEN";

pub fn open_job_index_key(created_at: Timestamp, tenant_id: &str, job_id: &str) -> String {
    format!("{:015}#{tenant_id}#{job_id}", created_at.millis())
}

pub fn job_sk(job_id: &str) -> String {
    format!("JOB#{job_id}")
}

pub fn ledger_sk(job_id: &str) -> String {
    format!("LEDGER#{job_id}")
}

/// The submit intent of one clip of one attempt (see `service::submits`).
pub fn submit_sk(job_id: &str, attempt: u32, clip: u32) -> String {
    format!("SUBMIT#{job_id}#{attempt}#{clip}")
}

/// Where a clip waits between the workflow's steps: `clip-<n>` once fetched, and a video a
/// provider handed over with its poll answer (`polled-<task>`) until the fetch step takes it.
/// The task id is kept readable: characters a key cannot hold become `_`.
pub fn staged_clip_blob(tenant_id: &str, job_id: &str, clip: StagedClip<'_>) -> String {
    let name = match clip {
        StagedClip::Fetched(index) => format!("clip-{index}"),
        StagedClip::Polled(task_id) => {
            // Ids end in what is unique (Veo's operation id): a long one keeps its end.
            let chars: Vec<char> = task_id.chars().collect();
            let task: String = chars[chars.len().saturating_sub(200)..]
                .iter()
                .map(|&c| {
                    if c.is_ascii_alphanumeric() || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("polled-{task}")
        }
    };
    format!("staging/tenants/{tenant_id}/{job_id}/{name}.mp4")
}

#[derive(Clone, Copy, Debug)]
pub enum StagedClip<'a> {
    Fetched(u32),
    Polled(&'a str),
}

/// A ledger entry's state: the quota invariant is `used == RESERVED + CONSUMED`.
pub const RESERVED: &str = "RESERVED";
pub const CONSUMED: &str = "CONSUMED";
pub const REFUNDED: &str = "REFUNDED";

impl Job {
    /// How the current attempt is routed.
    pub fn routing(&self) -> Option<super::routing::Route> {
        serde_json::from_value(self.route.clone()?).ok()
    }

    pub fn to_item(&self) -> Item {
        let mut item = Item::new(keys::tenant_pk(&self.tenant_id), job_sk(&self.id))
            .with("id", self.id.as_str())
            .with("status", self.status.as_str())
            .with(
                "spec",
                serde_json::to_value(&self.spec).unwrap_or(Value::Null),
            )
            .with("created_at", self.created_at.millis())
            .with("updated_at", self.updated_at.millis())
            .with("attempts", self.attempts)
            .with("budget_cents", self.budget_cents)
            .with("spent_cents", self.spent_cents);
        item.version = self.version;
        if !self.status.is_terminal() {
            item.gsi1 = Some((
                OPEN_JOBS.to_owned(),
                open_job_index_key(self.created_at, &self.tenant_id, &self.id),
            ));
        }
        let opt = |item: &mut Item, k: &str, v: Option<Value>| {
            if let Some(v) = v {
                item.attrs.insert(k.to_owned(), v);
            }
        };
        opt(
            &mut item,
            "provider",
            self.provider.clone().map(Value::from),
        );
        opt(&mut item, "model", self.model.clone().map(Value::from));
        opt(
            &mut item,
            "video_key",
            self.video_key.clone().map(Value::from),
        );
        opt(
            &mut item,
            "captions_key",
            self.captions_key.clone().map(Value::from),
        );
        opt(&mut item, "validation", self.validation.clone());
        opt(&mut item, "failure", self.failure.clone().map(Value::from));
        opt(&mut item, "route", self.route.clone());
        item
    }

    pub fn from_item(tenant_id: &str, item: &Item) -> Option<Job> {
        let s = |k: &str| item.str(k).map(str::to_owned);
        Some(Job {
            id: s("id")?,
            tenant_id: tenant_id.to_owned(),
            status: JobStatus::parse(item.str("status")?)?,
            spec: serde_json::from_value(item.attrs.get("spec")?.clone()).ok()?,
            created_at: Timestamp(item.int("created_at")?),
            updated_at: Timestamp(item.int("updated_at")?),
            version: item.version,
            provider: s("provider"),
            model: s("model"),
            attempts: u32::try_from(item.int("attempts").unwrap_or(0)).unwrap_or(0),
            budget_cents: u32::try_from(item.int("budget_cents").unwrap_or(0)).unwrap_or(0),
            spent_cents: u32::try_from(item.int("spent_cents").unwrap_or(0)).unwrap_or(0),
            video_key: s("video_key"),
            captions_key: s("captions_key"),
            validation: item.attrs.get("validation").cloned(),
            failure: s("failure"),
            route: item.attrs.get("route").cloned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_is_checked_once_for_every_entry_point() {
        let ok = JobSpec {
            prompt: "Night trains. Sleep and wake abroad.".into(),
            concept_id: None,
            provider: "auto".into(),
            platforms: vec!["tiktok".into()],
            duration_s: 15.0,
            narration: None,
        };
        assert!(ok.check().is_ok());
        let bad = |f: &dyn Fn(&mut JobSpec)| {
            let mut s = ok.clone();
            f(&mut s);
            s.check().unwrap_err().to_string()
        };
        assert!(bad(&|s| s.prompt = "  ".into()).contains("required"));
        assert!(bad(&|s| s.prompt = "x".repeat(2001)).contains("2000"));
        assert!(bad(&|s| s.prompt = "a\u{7}b".into()).contains("control characters"));
        assert!(bad(&|s| s.provider = "no such/provider".into()).contains("provider"));
        assert!(bad(&|s| s.platforms = vec![]).contains("platforms"));
        assert!(bad(&|s| s.platforms = vec!["myspace".into()]).contains("platforms"));
        assert!(bad(&|s| s.duration_s = f64::NAN).contains("duration_s"));
        assert!(bad(&|s| s.duration_s = 61.0).contains("duration_s"));
        let mut multi = ok.clone();
        multi.prompt = "line one\nline two 🚀 مرحبا".into();
        assert!(
            multi.check().is_ok(),
            "line breaks, emoji and RTL text are fine"
        );
    }

    #[test]
    fn status_moves_forward_only() {
        use JobStatus::*;
        assert!(Queued.can_become(Planning));
        assert!(Planning.can_become(Rendering));
        assert!(
            Rendering.can_become(Planning),
            "fallback to another provider"
        );
        assert!(!Queued.can_become(Queued));
        assert!(!Validating.can_become(Rendering));
        assert!(Rendering.can_become(Failed));
        assert!(!Succeeded.can_become(Failed));
        assert!(!Failed.can_become(Planning));
    }

    #[test]
    fn jobs_round_trip() {
        let j = Job {
            id: "job_1".into(),
            tenant_id: "tn_1".into(),
            status: JobStatus::Rendering,
            spec: JobSpec {
                prompt: "p".into(),
                concept_id: None,
                provider: "auto".into(),
                platforms: vec!["tiktok".into()],
                duration_s: 15.0,
                narration: None,
            },
            created_at: Timestamp(1),
            updated_at: Timestamp(2),
            version: 3,
            provider: Some("storyboard".into()),
            model: Some("cards-v1".into()),
            attempts: 1,
            budget_cents: 300,
            spent_cents: 120,
            video_key: None,
            captions_key: None,
            validation: None,
            failure: None,
            route: Some(serde_json::json!({"provider": "storyboard"})),
        };
        assert_eq!(Job::from_item("tn_1", &j.to_item()), Some(j));
    }
}
