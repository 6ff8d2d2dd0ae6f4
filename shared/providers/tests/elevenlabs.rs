//! The ElevenLabs voice against a local server speaking the documented
//! `/v1/text-to-speech/{voice_id}/with-timestamps` shape: the request it sends, word timings
//! from the character alignment, and what it does with refusals, outages and bad answers —
//! a paid call is never sent twice once it may have been taken.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use serde_json::{Value, json};
use viral_core::ports::ProviderError;
use viral_providers::Credential;
use viral_providers::http::RetryPolicy;
use viral_providers::voice::{ElevenLabs, SpeechRequest, Voice};

const KEY: &str = "el-test-0123456789";
const VOICE: &str = "21m00Tcm4TlvDq8ikWAM";

#[derive(Default)]
struct Server {
    /// "ok", "busy_once" (429 then ok), "boom" (500), "misaligned", "unauthorized", "refuse".
    mode: Mutex<String>,
    calls: AtomicUsize,
    body: Mutex<Value>,
}

type S = State<Arc<Server>>;

/// 24 kHz PCM of `seconds`: a tone, so the speech is not silent.
fn pcm(seconds: f64) -> Vec<u8> {
    (0..(seconds * 24_000.0) as usize)
        .flat_map(|i| {
            let v = (8_000.0 * (i as f64 * 0.05).sin()) as i16;
            v.to_le_bytes()
        })
        .collect()
}

/// The documented answer: every character of `text` timed at 60 ms each.
fn answer(text: &str, misaligned: bool) -> Value {
    let chars: Vec<String> = text.chars().map(String::from).collect();
    let n = chars.len() - usize::from(misaligned);
    let starts: Vec<f64> = (0..n).map(|i| i as f64 * 0.06).collect();
    let ends: Vec<f64> = (0..n).map(|i| i as f64 * 0.06 + 0.06).collect();
    let audio = base64::engine::general_purpose::STANDARD.encode(pcm(n as f64 * 0.06 + 0.2));
    json!({
        "audio_base64": audio,
        "alignment": {"characters": chars[..n], "character_start_times_seconds": starts, "character_end_times_seconds": ends},
        "normalized_alignment": {"characters": chars[..n], "character_start_times_seconds": starts, "character_end_times_seconds": ends},
    })
}

async fn tts(
    State(s): S,
    Path(voice): Path<String>,
    Query(q): Query<std::collections::HashMap<String, String>>,
    h: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    let call = s.calls.fetch_add(1, Ordering::SeqCst);
    let mode = s.mode.lock().unwrap().clone();
    if h.get("xi-api-key").and_then(|v| v.to_str().ok()) != Some(KEY) || mode == "unauthorized" {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"detail": {"status": "invalid_api_key", "message": "Invalid API key"}})),
        )
            .into_response();
    }
    if voice != VOICE || q.get("output_format").map(String::as_str) != Some("pcm_24000") {
        return (StatusCode::BAD_REQUEST, "unexpected voice or format").into_response();
    }
    *s.body.lock().unwrap() = body.clone();
    match mode.as_str() {
        "busy_once" if call == 0 => {
            return (
                StatusCode::TOO_MANY_REQUESTS,
                [("retry-after", "0")],
                "slow down",
            )
                .into_response();
        }
        "boom" => return (StatusCode::INTERNAL_SERVER_ERROR, "oops").into_response(),
        "refuse" => {
            return (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"detail": [{"msg": "text too long"}]})),
            )
                .into_response();
        }
        _ => {}
    }
    let text = body["text"].as_str().unwrap_or_default();
    if mode == "collapsed" {
        // Whitespace squeezed and trimmed in the alignment.
        let squeezed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        return Json(answer(&squeezed, false)).into_response();
    }
    Json(answer(text, mode == "misaligned")).into_response()
}

async fn start(mode: &str) -> (Arc<Server>, ElevenLabs) {
    let s = Arc::new(Server::default());
    *s.mode.lock().unwrap() = mode.into();
    let app = Router::new()
        .route("/v1/text-to-speech/{voice}/with-timestamps", post(tts))
        .with_state(s.clone());
    let base = support::serve(app).await;
    let retry = RetryPolicy {
        attempts: 3,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(50),
    };
    let v = ElevenLabs::new(
        &base,
        Credential::fixed(KEY),
        VOICE,
        "eleven_multilingual_v2",
        30.0,
        retry,
    )
    .unwrap();
    (s, v)
}

#[tokio::test]
async fn words_are_timed_from_the_character_alignment() {
    let (s, voice) = start("ok").await;
    let text = "Stop scrolling 🔥 now.";
    let mut req = SpeechRequest::new(text);
    req.language = "en-us".into();
    let speech = voice.speak(&req).await.unwrap();
    let got: Vec<(&str, f64)> = speech
        .words
        .iter()
        .map(|w| (w.text.as_str(), (w.start_s * 100.0).round() / 100.0))
        .collect();
    // Characters at 60 ms each: "Stop" at 0, "scrolling" at 5 × 0.06, the emoji shown with
    // the word before it, "now." at 17 × 0.06.
    assert_eq!(
        got,
        [
            ("Stop", 0.0),
            ("scrolling", 0.3),
            ("🔥", 0.3),
            ("now.", 1.02)
        ]
    );
    assert_eq!(speech.sample_rate, 24_000);
    let body = s.body.lock().unwrap().clone();
    assert_eq!(
        body["text"], "Stop scrolling   now.",
        "the emoji is not read out"
    );
    assert_eq!(body["model_id"], "eleven_multilingual_v2");
    assert!(
        body.get("language_code").is_none(),
        "eleven_multilingual_v2 takes no language_code"
    );
    assert_eq!(body["voice_settings"]["speed"], 1.0);
    assert_eq!(voice.price_cents_per_1k_chars(), 30.0);
}

#[tokio::test]
async fn an_alignment_with_whitespace_squeezed_still_times_every_word() {
    let (_, voice) = start("collapsed").await;
    let text = "Stop scrolling 🔥 now.";
    let speech = voice.speak(&SpeechRequest::new(text)).await.unwrap();
    let starts: Vec<f64> = speech
        .words
        .iter()
        .map(|w| (w.start_s * 100.0).round() / 100.0)
        .collect();
    // "Stop scrolling now." at 60 ms a character: "now." is the 16th.
    assert_eq!(starts, [0.0, 0.3, 0.3, 0.9]);
}

#[tokio::test]
async fn a_busy_answer_is_retried_but_a_failure_after_taking_it_is_not() {
    let (s, voice) = start("busy_once").await;
    voice
        .speak(&SpeechRequest::new("Hello there"))
        .await
        .unwrap();
    assert_eq!(
        s.calls.load(Ordering::SeqCst),
        2,
        "429 means not taken: sent again"
    );

    let (s, voice) = start("boom").await;
    let e = voice.speak(&SpeechRequest::new("Hello there")).await;
    assert!(matches!(e, Err(ProviderError::UnknownOutcome(_))), "{e:?}");
    assert_eq!(
        s.calls.load(Ordering::SeqCst),
        1,
        "a paid call is never sent twice"
    );
}

#[tokio::test]
async fn refusals_and_bad_answers_are_named() {
    let (_, voice) = start("unauthorized").await;
    let e = voice.speak(&SpeechRequest::new("Hello")).await;
    assert!(
        matches!(e, Err(ProviderError::Permanent(ref m)) if m.contains("credentials")),
        "{e:?}"
    );

    let (_, voice) = start("refuse").await;
    let e = voice.speak(&SpeechRequest::new("Hello")).await;
    assert!(matches!(e, Err(ProviderError::InvalidInput(_))), "{e:?}");

    let (_, voice) = start("misaligned").await;
    let e = voice.speak(&SpeechRequest::new("Hello there")).await;
    assert!(
        matches!(e, Err(ProviderError::Permanent(ref m)) if m.contains("alignment")),
        "{e:?}"
    );

    // A voice id that would change the request's path is refused before any call.
    let (s, voice) = start("ok").await;
    let mut req = SpeechRequest::new("Hello");
    req.voice = Some("../../v1/user".into());
    assert!(matches!(
        voice.speak(&req).await,
        Err(ProviderError::InvalidInput(_))
    ));
    assert_eq!(s.calls.load(Ordering::SeqCst), 0);
}
