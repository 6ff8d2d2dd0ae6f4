//! Amazon Polly as a voice, through `aws-sdk-polly`: one `SynthesizeSpeech` call for the
//! audio (16 kHz 16-bit PCM) and a second for word speech marks (`OutputFormat=json`,
//! `SpeechMarkTypes=[word]`, line-delimited JSON `{"time": ms, "type": "word", "start": byte,
//! "end": byte, "value": …}`, `start` a byte offset into the text). Speech marks exist for the
//! neural, long-form and standard engines, not the generative one, so that one is refused.
//!
//! Both calls are billed per character, so the SDK's own retries are off: a request that may
//! have been taken is never sent again (the storyboard then renders without a voice). A
//! Lambda gives it its own SDK configuration ([`Polly::on`]); elsewhere the client is built
//! from the environment on first use. Neither makes a network call at init.

use async_trait::async_trait;
use aws_sdk_polly::Client;
use aws_sdk_polly::config::http::HttpResponse;
use aws_sdk_polly::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_polly::operation::synthesize_speech::SynthesizeSpeechError;
use aws_sdk_polly::types::{Engine, LanguageCode, OutputFormat, SpeechMarkType, VoiceId};
use serde::Deserialize;
use tokio::sync::OnceCell;
use viral_core::ports::ProviderError;
use viral_media::Speech;

use super::{SpeechRequest, Voice, sound_end, speakable, words_from_events};

const NAME: &str = "polly";
const SAMPLE_RATE: u32 = 16_000;
/// A 60 s script's PCM at 16 kHz is 1.9 MB; its speech marks a few KB.
const MAX_AUDIO_BYTES: usize = 8 << 20;
/// The engines that give word speech marks.
pub const ENGINES: [&str; 3] = ["neural", "long-form", "standard"];

pub struct Polly {
    client: OnceCell<Client>,
    voice_id: String,
    engine: String,
    cents_per_1k_chars: f64,
}

#[derive(Deserialize)]
struct Mark {
    time: f64,
    #[serde(rename = "type")]
    kind: String,
    start: usize,
}

impl Polly {
    /// `cents_per_1k_chars` counts both calls (Polly bills each): twice the engine's price.
    pub fn new(
        voice_id: &str,
        engine: &str,
        cents_per_1k_chars: f64,
    ) -> Result<Self, ProviderError> {
        if !ENGINES.contains(&engine) {
            return Err(ProviderError::InvalidInput(format!(
                "Polly gives word timings for the {} engines, not {engine:?}",
                ENGINES.join(", ")
            )));
        }
        Ok(Self {
            client: OnceCell::new(),
            voice_id: voice_id.to_owned(),
            engine: engine.to_owned(),
            cents_per_1k_chars,
        })
    }

    /// On an SDK configuration made elsewhere (a Lambda's: its credentials, and its HTTPS
    /// client, which trusts Amazon's roots), still without the SDK's retries.
    pub fn on(self, conf: &aws_config::SdkConfig) -> Self {
        self.with_client(Client::from_conf(Self::config(conf)))
    }

    fn config(conf: &aws_config::SdkConfig) -> aws_sdk_polly::Config {
        aws_sdk_polly::config::Builder::from(conf)
            .retry_config(aws_sdk_polly::config::retry::RetryConfig::disabled())
            .build()
    }

    /// With a client made elsewhere (tests point one at a local server).
    pub fn with_client(mut self, client: Client) -> Self {
        self.client = OnceCell::new_with(Some(client));
        self
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                Client::from_conf(Self::config(&viral_aws::load_sdk_config().await))
            })
            .await
    }

    async fn synthesize(
        &self,
        text: &str,
        language: &str,
        voice: &str,
        marks: bool,
    ) -> Result<Vec<u8>, ProviderError> {
        let mut call = self
            .client()
            .await
            .synthesize_speech()
            .engine(Engine::from(self.engine.as_str()))
            .language_code(LanguageCode::from(language))
            .voice_id(VoiceId::from(voice))
            .text(text)
            .sample_rate(SAMPLE_RATE.to_string());
        call = if marks {
            call.output_format(OutputFormat::Json)
                .speech_mark_types(SpeechMarkType::Word)
        } else {
            call.output_format(OutputFormat::Pcm)
        };
        let out = call.send().await.map_err(classify)?;
        let body = out
            .audio_stream
            .collect()
            .await
            .map_err(|e| ProviderError::UnknownOutcome(format!("{NAME}: answer cut short: {e}")))?
            .into_bytes();
        if body.len() > MAX_AUDIO_BYTES {
            return Err(ProviderError::Permanent(format!(
                "{NAME} answered more than {MAX_AUDIO_BYTES} bytes"
            )));
        }
        Ok(body.to_vec())
    }
}

/// One failed call, named: refused input and credentials are permanent, a throttle or an
/// unavailable service was turned away (transient), anything after the request may have
/// reached Polly is an unknown outcome.
fn classify(e: SdkError<SynthesizeSpeechError, HttpResponse>) -> ProviderError {
    let detail = DisplayErrorContext(&e).to_string();
    let SdkError::ServiceError(se) = &e else {
        return match e {
            SdkError::ConstructionFailure(_) => {
                ProviderError::Permanent(format!("{NAME}: request not built: {detail}"))
            }
            _ => ProviderError::UnknownOutcome(format!("{NAME}: no usable answer: {detail}")),
        };
    };
    let status = se.raw().status().as_u16();
    match (se.err().code(), status) {
        (Some("ThrottlingException"), _) | (_, 429 | 503) => {
            ProviderError::Transient(format!("{NAME} turned the request away: {detail}"))
        }
        (_, 401 | 403) => {
            ProviderError::Permanent(format!("{NAME} refused the credentials: {detail}"))
        }
        (_, 400..=499) => {
            ProviderError::InvalidInput(format!("{NAME} refused the request: {detail}"))
        }
        _ => ProviderError::UnknownOutcome(format!("{NAME} failed: {detail}")),
    }
}

/// `en-us` → `en-US`: the form Polly's language codes take.
fn polly_language(tag: &str) -> String {
    match tag.split_once('-') {
        Some((lang, region)) => format!("{lang}-{}", region.to_ascii_uppercase()),
        None => tag.to_owned(),
    }
}

/// Word events from speech marks: each mark's byte offset turned into a character position
/// in `sent`.
fn events_of(marks: &[u8], sent: &str) -> Result<Vec<(usize, f64)>, ProviderError> {
    let text = std::str::from_utf8(marks).map_err(|_| {
        ProviderError::Permanent(format!("{NAME} sent speech marks that are not UTF-8"))
    })?;
    let mut events = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let m: Mark = serde_json::from_str(line).map_err(|e| {
            ProviderError::Permanent(format!("{NAME} sent a speech mark we cannot read ({e})"))
        })?;
        if m.kind != "word" {
            continue;
        }
        // A byte offset inside a character (or past the end) is not where a word starts.
        let Some(pos) = sent.char_indices().position(|(b, _)| b == m.start) else {
            return Err(ProviderError::Permanent(format!(
                "{NAME} sent a word mark at byte {} of a {}-byte text",
                m.start,
                sent.len()
            )));
        };
        events.push((pos, m.time / 1000.0));
    }
    Ok(events)
}

#[async_trait]
impl Voice for Polly {
    fn name(&self) -> &'static str {
        NAME
    }

    fn price_cents_per_1k_chars(&self) -> f64 {
        self.cents_per_1k_chars
    }

    async fn speak(&self, req: &SpeechRequest) -> Result<Speech, ProviderError> {
        req.check()?;
        let sent = speakable(&req.text);
        let language = polly_language(&req.language);
        let voice = req.voice.as_deref().unwrap_or(&self.voice_id);
        let audio = self.synthesize(&sent, &language, voice, false).await?;
        let marks = self.synthesize(&sent, &language, voice, true).await?;
        let samples = Speech::pcm16le(&audio);
        let end = sound_end(&samples, SAMPLE_RATE);
        let speech = Speech {
            sample_rate: SAMPLE_RATE,
            words: words_from_events(&req.text, &events_of(&marks, &sent)?, end),
            samples,
        };
        speech
            .check(&req.text)
            .map_err(|m| ProviderError::Permanent(format!("{NAME} answered {m}")))?;
        Ok(speech)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_point_at_bytes_and_become_characters() {
        let sent = "Café au lait";
        let marks = r#"{"time":6,"type":"word","start":0,"end":5,"value":"Café"}
{"time":373,"type":"word","start":6,"end":8,"value":"au"}
{"time":500,"type":"sentence","start":0,"end":13,"value":"Café au lait"}
{"time":610,"type":"word","start":9,"end":13,"value":"lait"}"#;
        let e = events_of(marks.as_bytes(), sent).unwrap();
        assert_eq!(e, [(0, 0.006), (5, 0.373), (8, 0.61)]);
        // Inside "é" (a two-byte character): refused.
        let bad = br#"{"time":6,"type":"word","start":4,"end":5,"value":"x"}"#;
        assert!(events_of(bad, sent).is_err());
        assert!(events_of(b"not json", sent).is_err());
    }

    #[test]
    fn languages_and_engines() {
        assert_eq!(polly_language("en-us"), "en-US");
        assert_eq!(polly_language("cmn-cn"), "cmn-CN");
        assert!(Polly::new("Joanna", "generative", 3.2).is_err());
        assert!(Polly::new("Joanna", "neural", 3.2).is_ok());
    }
}
