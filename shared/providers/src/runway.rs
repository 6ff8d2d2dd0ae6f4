//! Runway (`api.dev.runwayml.com`, `X-Runway-Version: 2024-11-06`): `POST /v1/text_to_video`
//! returns a task id; `GET /v1/tasks/{id}` reports PENDING / THROTTLED / RUNNING / SUCCEEDED
//! (with output URLs that expire in a day or two) / FAILED / CANCELLED.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;
use viral_core::ports::{ProviderError, RenderRequest, RenderStatus, Submitted, VideoProvider};

use crate::credential::Credential;
use crate::download::{DownloadPolicy, download};
use crate::http::{Http, RetryPolicy, parse_created, parse_json};

pub const DEFAULT_BASE_URL: &str = "https://api.dev.runwayml.com";
const API_VERSION: &str = "2024-11-06";
/// Where Runway serves outputs from; extend with `RUNWAY_OUTPUT_HOSTS` if that changes.
pub const DEFAULT_OUTPUT_HOSTS: [&str; 2] = [".runwayml.com", "dnznrvs05pmza.cloudfront.net"];
/// `promptText` is limited to 1,000 UTF-16 code units.
const MAX_PROMPT_UTF16: usize = 1000;

/// A Runway text-to-video model and what it accepts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RunwayModel {
    pub id: &'static str,
    pub durations: &'static [u32],
    pub ratio: &'static str,
    pub cents_per_second: f64,
    /// For routing: 1 (preview) to 5.
    pub quality: u8,
}

/// `gen4.5`: 2–10 s at 720:1280, 12 credits ($0.12) a second.
pub const GEN4_5: RunwayModel = RunwayModel {
    id: "gen4.5",
    durations: &[2, 3, 4, 5, 6, 7, 8, 9, 10],
    ratio: "720:1280",
    cents_per_second: 12.0,
    quality: 4,
};

/// Google's `veo3.1_fast` through Runway: 4, 6 or 8 s at 1080:1920.
pub const VEO3_1_FAST: RunwayModel = RunwayModel {
    id: "veo3.1_fast",
    durations: &[4, 6, 8],
    ratio: "1080:1920",
    cents_per_second: 15.0,
    quality: 5,
};

/// Google's `veo3.1` through Runway, silent: 4, 6 or 8 s at 1080:1920, 20 credits a second.
pub const VEO3_1: RunwayModel = RunwayModel {
    id: "veo3.1",
    durations: &[4, 6, 8],
    ratio: "1080:1920",
    cents_per_second: 20.0,
    quality: 5,
};

/// A model by its Runway id.
pub fn model(id: &str) -> Option<RunwayModel> {
    [GEN4_5, VEO3_1_FAST, VEO3_1]
        .into_iter()
        .find(|m| m.id == id)
}

/// The shortest supported duration that covers `wanted`, else the longest there is.
pub fn fit_duration(durations: &[u32], wanted: f64) -> u32 {
    durations
        .iter()
        .copied()
        .find(|d| f64::from(*d) >= wanted)
        .or_else(|| durations.iter().copied().max())
        .unwrap_or(0)
}

/// Cuts a prompt to at most `max` UTF-16 code units, on a character boundary.
pub fn truncate_utf16(s: &str, max: usize) -> &str {
    let mut units = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > max {
            return &s[..i];
        }
    }
    s
}

pub struct RunwayProvider {
    http: Http,
    base_url: String,
    key: Credential,
    model: RunwayModel,
    downloads: DownloadPolicy,
}

#[derive(Deserialize)]
struct Created {
    id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Task {
    status: String,
    #[serde(default)]
    progress: Option<f64>,
    #[serde(default)]
    output: Option<Vec<String>>,
    #[serde(default)]
    failure: Option<String>,
    #[serde(default)]
    failure_code: Option<String>,
}

const NAME: &str = "runway";

impl RunwayProvider {
    pub fn new(
        base_url: &str,
        key: Credential,
        model: RunwayModel,
        downloads: DownloadPolicy,
    ) -> Result<Self, ProviderError> {
        Self::with_retry(base_url, key, model, downloads, RetryPolicy::default())
    }

    pub fn with_retry(
        base_url: &str,
        key: Credential,
        model: RunwayModel,
        downloads: DownloadPolicy,
        retry: RetryPolicy,
    ) -> Result<Self, ProviderError> {
        Ok(Self {
            http: Http::new(Duration::from_secs(30), retry)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            model,
            downloads,
        })
    }

    fn request(
        &self,
        req: reqwest::RequestBuilder,
        key: &viral_core::ports::SecretString,
    ) -> reqwest::RequestBuilder {
        req.bearer_auth(key.expose())
            .header("X-Runway-Version", API_VERSION)
    }

    async fn task(&self, task_id: &str) -> Result<Task, ProviderError> {
        if task_id.is_empty()
            || !task_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(ProviderError::Permanent(format!(
                "bad Runway task id {task_id:?}"
            )));
        }
        let url = format!("{}/v1/tasks/{task_id}", self.base_url);
        let key = self.key.get().await?;
        let body = self
            .http
            .send(1 << 20, |c| self.request(c.get(&url), &key))
            .await
            .map_err(|f| f.into_provider_error(NAME))?;
        parse_json(NAME, &body)
    }
}

/// Runway reports moderation refusals with failure codes starting `SAFETY` (e.g.
/// `SAFETY.INPUT.TEXT`); those are content rejections, not render failures.
fn failed(task: &Task) -> Result<RenderStatus, ProviderError> {
    let code = task.failure_code.clone().unwrap_or_default();
    let reason = task
        .failure
        .clone()
        .unwrap_or_else(|| "no reason given".into());
    if code.to_ascii_uppercase().starts_with("SAFETY") {
        return Err(ProviderError::ContentRejected(format!("{code}: {reason}")));
    }
    Ok(RenderStatus::Failed {
        reason: if code.is_empty() {
            reason
        } else {
            format!("{code}: {reason}")
        },
    })
}

#[async_trait]
impl VideoProvider for RunwayProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn model(&self) -> &'static str {
        self.model.id
    }

    fn price_cents_per_second(&self) -> f64 {
        self.model.cents_per_second
    }

    fn clip_durations(&self) -> &'static [u32] {
        self.model.durations
    }

    fn max_clip_s(&self) -> u32 {
        self.model.durations.iter().copied().max().unwrap_or(0)
    }

    fn quality(&self) -> u8 {
        self.model.quality
    }

    async fn submit(&self, req: &RenderRequest) -> Result<Submitted, ProviderError> {
        let body = json!({
            "model": self.model.id,
            "promptText": truncate_utf16(&req.prompt, MAX_PROMPT_UTF16),
            "ratio": self.model.ratio,
            "duration": fit_duration(self.model.durations, req.duration_s),
        });
        let url = format!("{}/v1/text_to_video", self.base_url);
        let key = self.key.get().await?;
        let answer = self
            .http
            .send_create(1 << 20, |c| self.request(c.post(&url), &key).json(&body))
            .await
            .map_err(|f| f.into_provider_error(NAME))?;
        let created: Created = parse_created(NAME, &answer)?;
        if created.id.is_empty() {
            return Err(ProviderError::UnknownOutcome(
                "Runway accepted the request but returned no task id".into(),
            ));
        }
        // Runway asks for polls no more often than every 5 s; renders take about a minute.
        Ok(Submitted {
            task_id: created.id,
            eta_s: 30,
        })
    }

    async fn poll(&self, task_id: &str) -> Result<RenderStatus, ProviderError> {
        let task = self.task(task_id).await?;
        match task.status.as_str() {
            "PENDING" | "THROTTLED" => Ok(RenderStatus::Running { progress: 0 }),
            "RUNNING" => Ok(RenderStatus::Running {
                progress: (task.progress.unwrap_or(0.0).clamp(0.0, 1.0) * 100.0) as u8,
            }),
            "SUCCEEDED" if task.output.as_ref().is_some_and(|o| !o.is_empty()) => {
                Ok(RenderStatus::Done)
            }
            "SUCCEEDED" => Err(ProviderError::Transient(
                "Runway task succeeded without output".into(),
            )),
            "FAILED" => failed(&task),
            "CANCELLED" => Ok(RenderStatus::Failed {
                reason: "the Runway task was cancelled".into(),
            }),
            other => Err(ProviderError::Transient(format!(
                "Runway task has an unknown status {:?}",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    async fn fetch(&self, task_id: &str) -> Result<Vec<u8>, ProviderError> {
        let task = self.task(task_id).await?;
        let url = match (task.status.as_str(), task.output.as_deref()) {
            ("SUCCEEDED", Some([first, ..])) => first.clone(),
            (status, _) => {
                return Err(ProviderError::Permanent(format!(
                    "Runway task is {status:?}, there is no output to fetch"
                )));
            }
        };
        Ok(download(&self.downloads, &url).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_fit_the_model() {
        assert_eq!(fit_duration(GEN4_5.durations, 15.0), 10);
        assert_eq!(fit_duration(GEN4_5.durations, 5.0), 5);
        assert_eq!(fit_duration(GEN4_5.durations, 4.2), 5);
        assert_eq!(fit_duration(VEO3_1_FAST.durations, 7.0), 8);
        assert_eq!(fit_duration(VEO3_1_FAST.durations, 1.0), 4);
    }

    #[test]
    fn prompts_are_cut_in_utf16_units() {
        let emoji = "😀".repeat(600); // 2 units each
        assert_eq!(truncate_utf16(&emoji, 1000).chars().count(), 500);
        assert_eq!(truncate_utf16("short", 1000), "short");
    }
}
