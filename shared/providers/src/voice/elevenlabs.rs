//! ElevenLabs text-to-speech with timestamps: one call returns the audio (base64) and, for
//! every character of the text, when it starts and ends. Word timings are the start of each
//! word's first character: the engine's own alignment, nothing estimated.
//!
//! `POST {base}/v1/text-to-speech/{voice_id}/with-timestamps?output_format=pcm_24000`, header
//! `xi-api-key`, body `{text, model_id, voice_settings{stability, similarity_boost, speed},
//! language_code?}`; answer `{audio_base64, alignment{characters,
//! character_start_times_seconds, character_end_times_seconds}, normalized_alignment}`.
//! `pcm_24000` is raw 16-bit little-endian mono PCM at 24 kHz: no decoder needed.
//!
//! A call is paid per character, so it is a create: sent again only when ElevenLabs
//! certainly did not take it (no connection, 429, 503). An answer lost after it was taken is
//! an unknown outcome, and the video is then made without a voice rather than paying twice.

use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use viral_core::ports::ProviderError;
use viral_media::Speech;

use super::{SpeechRequest, Voice, speakable, words_from_events};
use crate::Credential;
use crate::http::{Http, RetryPolicy, parse_created};

const NAME: &str = "elevenlabs";
pub const DEFAULT_BASE_URL: &str = "https://api.elevenlabs.io";
pub const DEFAULT_MODEL: &str = "eleven_multilingual_v2";
const SAMPLE_RATE: u32 = 24_000;
/// A 60 s script's PCM at 24 kHz is 2.9 MB, 3.8 MB in base64, plus the alignment.
const MAX_ANSWER_BYTES: usize = 16 << 20;

pub struct ElevenLabs {
    http: Http,
    base_url: String,
    key: Credential,
    voice_id: String,
    model_id: String,
    cents_per_1k_chars: f64,
}

#[derive(Deserialize)]
struct Answer {
    audio_base64: String,
    alignment: Alignment,
}

#[derive(Deserialize)]
struct Alignment {
    characters: Vec<String>,
    character_start_times_seconds: Vec<f64>,
    character_end_times_seconds: Vec<f64>,
}

/// Voice ids are short alphanumeric strings; anything else would change the request path.
fn check_voice_id(id: &str) -> Result<(), ProviderError> {
    let ok = (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(ProviderError::InvalidInput(format!(
            "an ElevenLabs voice id is letters and digits, not {id:?}"
        )))
    }
}

impl ElevenLabs {
    /// Builds the client (no network). `cents_per_1k_chars` is what the account's plan pays
    /// per 1,000 characters (it differs by plan).
    pub fn new(
        base_url: &str,
        key: Credential,
        voice_id: &str,
        model_id: &str,
        cents_per_1k_chars: f64,
        retry: RetryPolicy,
    ) -> Result<Self, ProviderError> {
        check_voice_id(voice_id)?;
        Ok(Self {
            http: Http::new(Duration::from_secs(60), retry)?,
            base_url: base_url.trim_end_matches('/').to_owned(),
            key,
            voice_id: voice_id.to_owned(),
            model_id: model_id.to_owned(),
            cents_per_1k_chars,
        })
    }
}

/// The speech in an answer, timed by its alignment against the text that was sent.
fn speech_of(answer: Answer, script: &str, sent: &str) -> Result<Speech, ProviderError> {
    let bad = |m: String| ProviderError::Permanent(format!("{NAME} answered {m}"));
    let pcm = base64::engine::general_purpose::STANDARD
        .decode(answer.audio_base64.trim())
        .map_err(|e| bad(format!("audio that is not base64 ({e})")))?;
    if pcm.len() < 2 || pcm.len() % 2 != 0 {
        return Err(bad(format!("{} bytes of 16-bit audio", pcm.len())));
    }
    let samples = Speech::pcm16le(&pcm);
    let a = answer.alignment;
    let n = a.characters.len();
    if a.character_start_times_seconds.len() != n || a.character_end_times_seconds.len() != n {
        return Err(bad("an alignment whose lists differ in length".into()));
    }
    // The alignment's visible characters, in order, with when each starts. Whitespace is
    // left out on both sides: it may come back collapsed or trimmed.
    let spoken: Vec<(&str, f64)> = a
        .characters
        .iter()
        .zip(&a.character_start_times_seconds)
        .filter(|(c, _)| !c.trim().is_empty())
        .map(|(c, t)| (c.as_str(), *t))
        .collect();
    let visible: Vec<(usize, char)> = sent
        .chars()
        .enumerate()
        .filter(|(_, c)| !c.is_whitespace())
        .collect();
    let same = spoken.len() == visible.len()
        && spoken
            .iter()
            .zip(&visible)
            .all(|((s, _), (_, c))| s.chars().eq(std::iter::once(*c)));
    if !same {
        return Err(bad(format!(
            "an alignment of {} visible characters that is not the text's {}",
            spoken.len(),
            visible.len()
        )));
    }
    // An event at the first character of every word.
    let mut events = Vec::new();
    let mut prev = None;
    for ((pos, _), (_, t)) in visible.iter().zip(&spoken) {
        let starts = prev.is_none_or(|p: usize| pos - p > 1);
        if starts {
            events.push((*pos, *t));
        }
        prev = Some(*pos);
    }
    let duration = samples.len() as f64 / f64::from(SAMPLE_RATE);
    let sound_end = a
        .character_end_times_seconds
        .iter()
        .copied()
        .filter(|t| t.is_finite())
        .fold(0.0f64, f64::max)
        .min(duration);
    let speech = Speech {
        sample_rate: SAMPLE_RATE,
        samples,
        words: words_from_events(script, &events, sound_end),
    };
    speech.check(script).map_err(bad)?;
    Ok(speech)
}

#[async_trait]
impl Voice for ElevenLabs {
    fn name(&self) -> &'static str {
        NAME
    }

    fn price_cents_per_1k_chars(&self) -> f64 {
        self.cents_per_1k_chars
    }

    async fn speak(&self, req: &SpeechRequest) -> Result<Speech, ProviderError> {
        req.check()?;
        let voice_id = req.voice.as_deref().unwrap_or(&self.voice_id);
        check_voice_id(voice_id)?;
        let url = format!(
            "{}/v1/text-to-speech/{voice_id}/with-timestamps?output_format=pcm_{SAMPLE_RATE}",
            self.base_url
        );
        // Pictographs are shown, not read; replaced one for one so the alignment still
        // indexes the script.
        let sent = speakable(&req.text);
        let mut body = json!({
            "text": sent,
            "model_id": self.model_id,
            "voice_settings": {
                "stability": 0.5,
                "similarity_boost": 0.75,
                "speed": req.speed.clamp(0.7, 1.2),
            },
        });
        // Only the v2.5 models take a language (the others answer an error); it is the
        // primary subtag, ISO 639-1 (`en` of `en-us`).
        if self.model_id.ends_with("_v2_5") {
            let language = req.language.split('-').next().unwrap_or("en");
            body["language_code"] = json!(language);
        }
        let key = self.key.get().await?;
        let answer = self
            .http
            .send_create(MAX_ANSWER_BYTES, |c| {
                c.post(&url).header("xi-api-key", key.expose()).json(&body)
            })
            .await
            .map_err(|f| {
                if f.status.is_some_and(|s| s.as_u16() == 422) {
                    ProviderError::InvalidInput(format!("{NAME} refused the text: {}", f.body))
                } else {
                    f.into_provider_error(NAME)
                }
            })?;
        let answer: Answer = parse_created(NAME, &answer)?;
        speech_of(answer, &req.text, &sent)
    }
}
