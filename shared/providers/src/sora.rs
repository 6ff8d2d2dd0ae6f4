//! OpenAI Sora (`POST /v1/videos` multipart, `GET /v1/videos/{id}`, `GET
//! /v1/videos/{id}/content`). OpenAI announced the Videos API would shut down on 2026-09-24,
//! so this provider is off unless `VIRAL_ENABLE_SORA=1` (for a compatible endpoint behind
//! `OPENAI_BASE_URL`); the provider listing says why it is off.

use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use viral_core::ports::{ProviderError, RenderRequest, RenderStatus, Submitted, VideoProvider};

use crate::credential::Credential;
use crate::download::{DownloadPolicy, download, looks_like_mp4, redirect_target};
use crate::http::{Http, RetryPolicy, describe, parse_created, parse_json, read_capped};
use crate::runway::fit_duration;

pub const DEFAULT_BASE_URL: &str = "https://api.openai.com";
pub const SHUTDOWN_NOTICE: &str = "OpenAI shut the Sora Videos API down on 2026-09-24; set VIRAL_ENABLE_SORA=1 only for a compatible endpoint";
pub const DURATIONS: [u32; 3] = [4, 8, 12];
/// Where a content redirect may lead (the API host itself needs no redirect).
pub const OUTPUT_HOSTS: [&str; 1] = [".openai.com"];

pub struct SoraProvider {
    http: Http,
    base_url: String,
    key: Credential,
    downloads: DownloadPolicy,
}

#[derive(Deserialize)]
struct Video {
    #[serde(default)]
    id: String,
    status: String,
    #[serde(default)]
    progress: Option<f64>,
    #[serde(default)]
    error: Option<VideoError>,
}

#[derive(Deserialize)]
struct VideoError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

const NAME: &str = "sora";

fn check_id(id: &str) -> Result<(), ProviderError> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ProviderError::Permanent(format!(
            "bad Sora video id {:?}",
            id.chars().take(60).collect::<String>()
        )))
    }
}

impl SoraProvider {
    pub fn new(
        base_url: &str,
        key: Credential,
        downloads: DownloadPolicy,
        retry: RetryPolicy,
    ) -> Result<Self, ProviderError> {
        Ok(Self {
            http: Http::new(Duration::from_secs(60), retry)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            downloads,
        })
    }

    async fn video(&self, id: &str) -> Result<Video, ProviderError> {
        check_id(id)?;
        let url = format!("{}/v1/videos/{id}", self.base_url);
        let key = self.key.get().await?;
        let body = self
            .http
            .send(1 << 20, |c| c.get(&url).bearer_auth(key.expose()))
            .await
            .map_err(|f| f.into_provider_error(NAME))?;
        parse_json(NAME, &body)
    }
}

#[async_trait]
impl VideoProvider for SoraProvider {
    fn name(&self) -> &'static str {
        NAME
    }

    fn model(&self) -> &'static str {
        "sora-2"
    }

    fn price_cents_per_second(&self) -> f64 {
        10.0
    }

    fn clip_durations(&self) -> &'static [u32] {
        &DURATIONS
    }

    fn max_clip_s(&self) -> u32 {
        12
    }

    fn quality(&self) -> u8 {
        4
    }

    async fn submit(&self, req: &RenderRequest) -> Result<Submitted, ProviderError> {
        let url = format!("{}/v1/videos", self.base_url);
        let seconds = fit_duration(&DURATIONS, req.duration_s).to_string();
        let key = self.key.get().await?;
        let body = self
            .http
            .send_create(1 << 20, |c| {
                let form = reqwest::multipart::Form::new()
                    .text("prompt", req.prompt.clone())
                    .text("model", "sora-2")
                    .text("seconds", seconds.clone())
                    .text("size", "720x1280");
                c.post(&url).bearer_auth(key.expose()).multipart(form)
            })
            .await
            .map_err(|f| f.into_provider_error(NAME))?;
        let video: Video = parse_created(NAME, &body)?;
        check_id(&video.id).map_err(|e| ProviderError::UnknownOutcome(e.to_string()))?;
        Ok(Submitted {
            task_id: video.id,
            eta_s: 60,
        })
    }

    async fn poll(&self, task_id: &str) -> Result<RenderStatus, ProviderError> {
        let v = self.video(task_id).await?;
        match v.status.as_str() {
            "queued" | "in_progress" => Ok(RenderStatus::Running {
                progress: v.progress.unwrap_or(0.0).clamp(0.0, 100.0) as u8,
            }),
            "completed" => Ok(RenderStatus::Done),
            "failed" => {
                let e = v.error.unwrap_or(VideoError {
                    code: String::new(),
                    message: "no reason given".into(),
                });
                if e.code.contains("moderation") || e.code.contains("content_policy") {
                    return Err(ProviderError::ContentRejected(format!(
                        "{}: {}",
                        e.code, e.message
                    )));
                }
                Ok(RenderStatus::Failed {
                    reason: format!("{}: {}", e.code, e.message),
                })
            }
            other => Err(ProviderError::Transient(format!(
                "Sora video has an unknown status {:?}",
                other.chars().take(40).collect::<String>()
            ))),
        }
    }

    async fn fetch(&self, task_id: &str) -> Result<Vec<u8>, ProviderError> {
        check_id(task_id)?;
        let url = format!(
            "{}/v1/videos/{task_id}/content?variant=video",
            self.base_url
        );
        let key = self.key.get().await?;
        let resp = self
            .http
            .client()
            .get(&url)
            .bearer_auth(key.expose())
            .send()
            .await
            .map_err(|e| ProviderError::Transient(format!("sora: {}", describe(&e))))?;
        let status = resp.status();
        if status.is_redirection() {
            // The key is never sent on: the redirect target is fetched through the guard.
            let from = reqwest::Url::parse(&url)
                .map_err(|_| ProviderError::Permanent("sora: bad content URL".into()))?;
            let target = redirect_target(&from, &resp)?;
            return Ok(download(&self.downloads, target.as_str()).await?);
        }
        if !status.is_success() {
            let body = read_capped(resp, 64 * 1024).await.unwrap_or_default();
            return Err(crate::http::HttpFailure {
                status: Some(status),
                body: String::from_utf8_lossy(&body).chars().take(300).collect(),
                maybe_taken: false,
            }
            .into_provider_error(NAME));
        }
        let bytes = read_capped(resp, self.downloads.max_bytes)
            .await
            .map_err(|e| ProviderError::Permanent(format!("sora: {e}")))?;
        if !looks_like_mp4(&bytes) {
            return Err(ProviderError::Permanent(
                "the Sora output is not an MP4 file".into(),
            ));
        }
        Ok(bytes)
    }
}
