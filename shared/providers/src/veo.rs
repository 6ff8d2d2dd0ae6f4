//! Google Veo on Vertex AI: `…/publishers/google/models/{model}:predictLongRunning` starts an
//! operation, `…:fetchPredictOperation` reports it until `done`, and the finished operation
//! carries the video as base64 (we set no `storageUri`). 9:16, 4/6/8 s, 1080p.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use viral_core::ports::{ProviderError, RenderRequest, RenderStatus, Submitted, VideoProvider};

use crate::download::looks_like_mp4;
use crate::google_auth::TokenSource;
use crate::http::{Http, RetryPolicy, parse_created, parse_json};
use crate::runway::fit_duration;

/// A Veo model on Vertex and its price (third-party figures; check Vertex pricing).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VeoModel {
    pub id: &'static str,
    pub cents_per_second: f64,
}

pub const VEO_3_1_FAST: VeoModel = VeoModel {
    id: "veo-3.1-fast-generate-001",
    cents_per_second: 15.0,
};

pub const VEO_3_1: VeoModel = VeoModel {
    id: "veo-3.1-generate-001",
    cents_per_second: 40.0,
};

pub const DURATIONS: [u32; 3] = [4, 6, 8];

/// A model by its Vertex id.
pub fn model(id: &str) -> Option<VeoModel> {
    [VEO_3_1_FAST, VEO_3_1].into_iter().find(|m| m.id == id)
}

pub fn default_base_url(location: &str) -> String {
    format!("https://{location}-aiplatform.googleapis.com")
}

pub struct VeoProvider {
    http: Http,
    base_url: String,
    project: String,
    location: String,
    model: VeoModel,
    tokens: Arc<TokenSource>,
    /// Whether Veo is asked for a sound of its own (`generateAudio`); the join keeps it.
    audio: bool,
}

#[derive(Deserialize)]
struct Operation {
    #[serde(default)]
    name: String,
    #[serde(default)]
    done: bool,
    #[serde(default)]
    error: Option<OpError>,
    #[serde(default)]
    response: Option<OpResponse>,
}

#[derive(Deserialize)]
struct OpError {
    #[serde(default)]
    code: i64,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpResponse {
    #[serde(default)]
    videos: Vec<Video>,
    #[serde(default)]
    rai_media_filtered_count: u32,
    #[serde(default)]
    rai_media_filtered_reasons: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Video {
    #[serde(default)]
    bytes_base64_encoded: Option<String>,
    #[serde(default)]
    gcs_uri: Option<String>,
}

const NAME: &str = "veo";

/// Project and location ids are lowercase letters, digits and dashes.
fn valid_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl VeoProvider {
    pub fn new(
        base_url: &str,
        project: &str,
        location: &str,
        model: VeoModel,
        tokens: Arc<TokenSource>,
        retry: RetryPolicy,
    ) -> Result<Self, ProviderError> {
        if !valid_id(project) || !valid_id(location) {
            return Err(ProviderError::Permanent(
                "Vertex project and location must be lowercase ids".into(),
            ));
        }
        Ok(Self {
            // Finished operations carry the whole video, so reads may take a while.
            http: Http::new(Duration::from_secs(120), retry)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            project: project.to_owned(),
            location: location.to_owned(),
            model,
            tokens,
            audio: false,
        })
    }

    /// Asks Veo for clips with their own sound, at `cents_per_second` (what the account pays
    /// for video with audio: the price differs, so the deployment states it).
    pub fn with_audio(mut self, cents_per_second: f64) -> Self {
        self.audio = true;
        self.model.cents_per_second = cents_per_second;
        self
    }

    fn model_url(&self, method: &str) -> String {
        format!(
            "{}/v1/projects/{}/locations/{}/publishers/google/models/{}:{method}",
            self.base_url, self.project, self.location, self.model.id
        )
    }

    /// Operation names are ours only if they sit under our project, location and model.
    fn check_operation(&self, name: &str) -> Result<(), ProviderError> {
        let prefix = format!(
            "projects/{}/locations/{}/publishers/google/models/{}/operations/",
            self.project, self.location, self.model.id
        );
        let id = name.strip_prefix(&prefix).unwrap_or_default();
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(ProviderError::Permanent(format!(
                "not a Veo operation of this project: {:?}",
                name.chars().take(200).collect::<String>()
            )));
        }
        Ok(())
    }

    async fn operation(&self, name: &str) -> Result<Operation, ProviderError> {
        self.check_operation(name)?;
        let token = self.tokens.token().await?;
        let url = self.model_url("fetchPredictOperation");
        let body = json!({"operationName": name});
        let max = crate::MAX_OUTPUT_BYTES / 3 * 4 + 64 * 1024;
        let answer = self
            .http
            .send(max, |c| {
                c.post(&url).bearer_auth(token.expose()).json(&body)
            })
            .await
            .map_err(|f| f.into_provider_error(NAME))?;
        parse_json(NAME, &answer)
    }
}

#[async_trait]
impl VideoProvider for VeoProvider {
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
        &DURATIONS
    }

    fn max_clip_s(&self) -> u32 {
        8
    }

    fn quality(&self) -> u8 {
        5
    }

    async fn submit(&self, req: &RenderRequest) -> Result<Submitted, ProviderError> {
        let token = self.tokens.token().await?;
        let body = json!({
            "instances": [{"prompt": req.prompt}],
            "parameters": {
                "aspectRatio": "9:16",
                "durationSeconds": fit_duration(&DURATIONS, req.duration_s),
                "resolution": "1080p",
                "sampleCount": 1,
                "generateAudio": self.audio,
                "personGeneration": "allow_adult",
            }
        });
        let url = self.model_url("predictLongRunning");
        let answer = self
            .http
            .send_create(1 << 20, |c| {
                c.post(&url).bearer_auth(token.expose()).json(&body)
            })
            .await
            .map_err(|f| f.into_provider_error(NAME))?;
        let op: Operation = parse_created(NAME, &answer)?;
        self.check_operation(&op.name)
            .map_err(|e| ProviderError::UnknownOutcome(e.to_string()))?;
        Ok(Submitted {
            task_id: op.name,
            eta_s: 45,
        })
    }

    async fn poll(&self, task_id: &str) -> Result<RenderStatus, ProviderError> {
        status_of(&self.operation(task_id).await?)
    }

    /// The finished operation carries the video: it is decoded from this answer rather than
    /// downloaded again by `fetch` (a clip is megabytes of base64).
    async fn poll_with_output(
        &self,
        task_id: &str,
    ) -> Result<(RenderStatus, Option<Vec<u8>>), ProviderError> {
        let op = self.operation(task_id).await?;
        match status_of(&op)? {
            RenderStatus::Done => Ok((RenderStatus::Done, Some(video_of(op)?))),
            status => Ok((status, None)),
        }
    }

    async fn fetch(&self, task_id: &str) -> Result<Vec<u8>, ProviderError> {
        video_of(self.operation(task_id).await?)
    }
}

/// Where a Veo operation stands, from its answer.
fn status_of(op: &Operation) -> Result<RenderStatus, ProviderError> {
    if !op.done {
        return Ok(RenderStatus::Running { progress: 0 });
    }
    if let Some(e) = &op.error {
        return Ok(RenderStatus::Failed {
            reason: format!("Veo error {}: {}", e.code, e.message),
        });
    }
    let Some(resp) = &op.response else {
        return Err(ProviderError::Transient(
            "Veo operation is done without a response".into(),
        ));
    };
    if resp.videos.is_empty() {
        if resp.rai_media_filtered_count > 0 {
            return Err(ProviderError::ContentRejected(format!(
                "Veo filtered the output: {}",
                resp.rai_media_filtered_reasons.join("; ")
            )));
        }
        return Ok(RenderStatus::Failed {
            reason: "Veo returned no video".into(),
        });
    }
    Ok(RenderStatus::Done)
}

/// The video a finished Veo operation carries, decoded and checked.
fn video_of(op: Operation) -> Result<Vec<u8>, ProviderError> {
    let video = op
        .response
        .filter(|_| op.done)
        .and_then(|r| r.videos.into_iter().next())
        .ok_or_else(|| ProviderError::Permanent("the Veo operation has no video".into()))?;
    let Some(b64) = video.bytes_base64_encoded else {
        return Err(ProviderError::Permanent(if video.gcs_uri.is_some() {
            "Veo wrote the video to Cloud Storage, which we never ask for".into()
        } else {
            "the Veo video has no bytes".into()
        }));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .map_err(|_| ProviderError::Transient("Veo sent invalid base64".into()))?;
    if bytes.len() > crate::MAX_OUTPUT_BYTES {
        return Err(ProviderError::Permanent(
            "the Veo video is too large".into(),
        ));
    }
    if !looks_like_mp4(&bytes) {
        return Err(ProviderError::Permanent(
            "the Veo output is not an MP4 file".into(),
        ));
    }
    Ok(bytes)
}
