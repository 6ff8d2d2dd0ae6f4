//! The Polly voice through the real `aws-sdk-polly` client, pointed (endpoint override) at a
//! local server speaking Polly's documented `SynthesizeSpeech` shape (moto has no Polly): the
//! audio call, the word speech-marks call (byte offsets), and errors named by the service.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use viral_core::ports::ProviderError;
use viral_providers::voice::{Polly, SpeechRequest, Voice};

#[derive(Default)]
struct Server {
    /// "ok", "too_long" (400 TextLengthExceededException), "failure" (500), "throttled".
    mode: Mutex<String>,
    calls: AtomicUsize,
    bodies: Mutex<Vec<Value>>,
}

type S = State<Arc<Server>>;

fn service_error(status: StatusCode, kind: &str, message: &str) -> Response {
    (
        status,
        [
            ("x-amzn-errortype", kind),
            ("content-type", "application/json"),
        ],
        json!({"message": message}).to_string(),
    )
        .into_response()
}

async fn synthesize(State(s): S, body: Bytes) -> Response {
    s.calls.fetch_add(1, Ordering::SeqCst);
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    s.bodies.lock().unwrap().push(body.clone());
    match s.mode.lock().unwrap().as_str() {
        "too_long" => {
            return service_error(
                StatusCode::BAD_REQUEST,
                "TextLengthExceededException",
                "Maximum text length has been exceeded",
            );
        }
        "failure" => {
            return service_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "ServiceFailureException",
                "An unknown condition has caused a service failure",
            );
        }
        "throttled" => {
            return service_error(
                StatusCode::BAD_REQUEST,
                "ThrottlingException",
                "Rate exceeded",
            );
        }
        _ => {}
    }
    let text = body["Text"].as_str().unwrap_or_default().to_owned();
    if body["OutputFormat"] == "json" {
        // One word mark per word, 250 ms apart, `start`/`end` in bytes.
        let mut lines = Vec::new();
        let mut at = 0;
        for (i, w) in text.split(' ').enumerate() {
            if !w.is_empty() {
                lines.push(
                    json!({"time": i * 250, "type": "word", "start": at, "end": at + w.len(), "value": w})
                        .to_string(),
                );
            }
            at += w.len() + 1;
        }
        return (
            [
                ("content-type", "application/x-json-stream"),
                ("x-amzn-requestcharacters", "20"),
            ],
            lines.join("\n"),
        )
            .into_response();
    }
    let pcm: Vec<u8> = (0..16_000 * 2)
        .flat_map(|i| ((6_000.0 * (i as f64 * 0.07).sin()) as i16).to_le_bytes())
        .collect();
    (
        [
            ("content-type", "audio/pcm"),
            ("x-amzn-requestcharacters", "20"),
        ],
        pcm,
    )
        .into_response()
}

async fn start(mode: &str) -> (Arc<Server>, Polly) {
    let s = Arc::new(Server::default());
    *s.mode.lock().unwrap() = mode.into();
    let app = Router::new()
        .route("/v1/speech", post(synthesize))
        .with_state(s.clone());
    let base = support::serve(app).await;
    // A function's SDK configuration, as a Lambda gives it (`Polly::on`): the SDK's default
    // retries are on in it, so the one-call assertions below check that Polly turns them off.
    let conf = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_polly::config::SharedCredentialsProvider::new(
            aws_sdk_polly::config::Credentials::new("AKIDTEST", "secret", None, None, "test"),
        ))
        .retry_config(aws_config::retry::RetryConfig::standard())
        .endpoint_url(base)
        .http_client(viral_aws::https::system_https_client())
        .build();
    let polly = Polly::new("Joanna", "neural", 3.2).unwrap().on(&conf);
    (s, polly)
}

#[tokio::test]
async fn audio_and_word_marks_make_timed_speech() {
    let (s, polly) = start("ok").await;
    let text = "Café 🔥 au lait.";
    let speech = polly.speak(&SpeechRequest::new(text)).await.unwrap();
    let got: Vec<(&str, f64)> = speech
        .words
        .iter()
        .map(|w| (w.text.as_str(), w.start_s))
        .collect();
    // Marks for "Café" (byte 0), "au" (byte 8: "é" is two bytes and the emoji became a space)
    // and "lait.", 250 ms apart per space-separated piece the server counted.
    assert_eq!(
        got,
        [("Café", 0.0), ("🔥", 0.0), ("au", 0.75), ("lait.", 1.0)]
    );
    assert_eq!(speech.sample_rate, 16_000);
    assert!((speech.duration_s() - 2.0).abs() < 1e-9);
    let bodies = s.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 2, "one audio call, one speech-marks call");
    assert_eq!(bodies[0]["OutputFormat"], "pcm");
    assert_eq!(bodies[0]["SampleRate"], "16000");
    assert_eq!(bodies[0]["Engine"], "neural");
    assert_eq!(bodies[0]["LanguageCode"], "en-US");
    assert_eq!(bodies[0]["VoiceId"], "Joanna");
    assert_eq!(bodies[1]["OutputFormat"], "json");
    assert_eq!(bodies[1]["SpeechMarkTypes"], json!(["word"]));
    assert!(
        !bodies[0]["Text"].as_str().unwrap().contains('🔥'),
        "emoji not read"
    );
}

#[tokio::test]
async fn service_errors_are_named_and_nothing_is_sent_twice() {
    let (s, polly) = start("too_long").await;
    let e = polly.speak(&SpeechRequest::new("Hello there")).await;
    assert!(
        matches!(e, Err(ProviderError::InvalidInput(ref m)) if m.contains("TextLengthExceeded")),
        "{e:?}"
    );
    assert_eq!(s.calls.load(Ordering::SeqCst), 1);

    let (s, polly) = start("failure").await;
    let e = polly.speak(&SpeechRequest::new("Hello there")).await;
    assert!(matches!(e, Err(ProviderError::UnknownOutcome(_))), "{e:?}");
    assert_eq!(
        s.calls.load(Ordering::SeqCst),
        1,
        "a paid call is never repeated"
    );

    let (_, polly) = start("throttled").await;
    let e = polly.speak(&SpeechRequest::new("Hello there")).await;
    assert!(matches!(e, Err(ProviderError::Transient(_))), "{e:?}");
}
