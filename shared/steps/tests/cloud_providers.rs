//! A whole job through the real workflow with the real Runway and Vertex Veo clients, each
//! against a local server speaking its documented API: the provider renders short clips (the
//! servers render real H.264 clips of the asked length), the workflow fetches each, joins and
//! trims them to 15 s, validates and stores the result.

mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::{Value, json};
use support::{Env, clip, serve};
use viral_core::domain::{JobSpec, JobStatus, Plan};
use viral_core::ports::{BlobKey, VideoProvider};
use viral_core::service::{tenants, videos};
use viral_providers::google_auth::TokenSource;
use viral_providers::http::RetryPolicy;
use viral_providers::voice::{Espeak, SpeechRequest, Voice};
use viral_providers::{Credential, DownloadPolicy, RunwayProvider, VeoProvider};

#[derive(Default)]
struct Fake {
    base: Mutex<String>,
    outputs: Mutex<HashMap<String, Vec<u8>>>,
    durations: Mutex<Vec<u64>>,
    n: AtomicUsize,
    /// Answers that carried a finished video (Veo sends the video with the operation).
    downloads: AtomicUsize,
}

type S = State<Arc<Fake>>;

async fn runway_create(State(s): S, h: HeaderMap, Json(b): Json<Value>) -> Response {
    if h.get("x-runway-version").is_none() {
        return StatusCode::BAD_REQUEST.into_response();
    }
    let secs = b["duration"].as_u64().unwrap_or(0);
    assert_eq!(b["ratio"], "720:1280");
    s.durations.lock().unwrap().push(secs);
    let id = format!("0000-task-{}", s.n.fetch_add(1, Ordering::SeqCst));
    // Gen-4.5 makes silent clips.
    let bytes = tokio::task::spawn_blocking(move || {
        support::without_sound(&clip(secs as f64, 720, 1280, "runway"))
    })
    .await
    .unwrap();
    s.outputs.lock().unwrap().insert(id.clone(), bytes);
    Json(json!({"id": id})).into_response()
}

async fn runway_task(State(s): S, Path(id): Path<String>) -> Response {
    let base = s.base.lock().unwrap().clone();
    Json(json!({"id": id, "status": "SUCCEEDED", "output": [format!("{base}/out/{id}")]}))
        .into_response()
}

async fn runway_output(State(s): S, Path(id): Path<String>) -> Response {
    match s.outputs.lock().unwrap().get(&id) {
        Some(b) => b.clone().into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

const OP_PREFIX: &str = "projects/viral-dev/locations/us-central1/publishers/google/models/veo-3.1-fast-generate-001/operations/";

async fn veo_token() -> Response {
    Json(json!({"access_token": "ya29.local", "expires_in": 3600})).into_response()
}

async fn veo_call(State(s): S, Path(call): Path<String>, Json(b): Json<Value>) -> Response {
    if call.ends_with(":predictLongRunning") {
        assert_eq!(b["parameters"]["aspectRatio"], "9:16");
        let secs = b["parameters"]["durationSeconds"].as_u64().unwrap_or(0);
        s.durations.lock().unwrap().push(secs);
        let id = format!("op-{}", s.n.fetch_add(1, Ordering::SeqCst));
        let bytes = tokio::task::spawn_blocking(move || clip(secs as f64, 1080, 1920, "veo"))
            .await
            .unwrap();
        s.outputs.lock().unwrap().insert(id.clone(), bytes);
        return Json(json!({"name": format!("{OP_PREFIX}{id}")})).into_response();
    }
    let name = b["operationName"].as_str().unwrap_or_default();
    let id = name.strip_prefix(OP_PREFIX).unwrap_or_default();
    let Some(bytes) = s.outputs.lock().unwrap().get(id).cloned() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    s.downloads.fetch_add(1, Ordering::SeqCst);
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    Json(json!({"name": name, "done": true, "response": {"videos": [{"bytesBase64Encoded": b64, "mimeType": "video/mp4"}]}}))
        .into_response()
}

/// The pipeline with one provider; workflow waits (30 s before the first poll) run 20×
/// faster.
fn env(provider: Arc<dyn VideoProvider>) -> Env {
    support::env(|_| vec![provider], 0.05)
}

fn retry() -> RetryPolicy {
    RetryPolicy {
        attempts: 2,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
    }
}

/// Loudness of `track` every 0.1 s (left channel, RMS).
fn envelope(track: &viral_media::audio::AacTrack) -> Vec<f64> {
    let s = viral_media::audio::decode(track).unwrap();
    s.left
        .chunks(4800)
        .map(|c| (c.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>() / c.len() as f64).sqrt())
        .collect()
}

/// Pearson correlation of two envelopes over their common length.
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let ma = a.iter().sum::<f64>() / n as f64;
    let mb = b.iter().sum::<f64>() / n as f64;
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

/// Runs one 15 s job to its end and returns the stored MP4.
async fn fifteen_seconds(e: &Env) -> (viral_core::domain::Job, Vec<u8>) {
    let t = tenants::create_tenant(&*e.deps.store, &*e.deps.clock, "Acme", Plan::Pro)
        .await
        .unwrap();
    let spec = JobSpec {
        prompt: "A paper boat sails a rain gutter. It reaches the sea.".into(),
        concept_id: None,
        provider: "auto".into(),
        platforms: vec![
            "tiktok".into(),
            "youtube_shorts".into(),
            "instagram_reels".into(),
        ],
        duration_s: 15.0,
        narration: None,
    };
    let job = videos::accept(
        &*e.deps.store,
        &*e.deps.clock,
        &t.tenant,
        spec,
        None,
        &e.deps.providers.profiles(),
    )
    .await
    .unwrap()
    .job;
    let r = viral_steps::steps::JobRef {
        tenant_id: t.tenant.id.clone(),
        job_id: job.id.clone(),
    };
    assert!(e.pipeline.start(&r).await.unwrap());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let job = loop {
        let job = videos::get(&*e.deps.store, &r.tenant_id, &r.job_id)
            .await
            .unwrap();
        if job.status.is_terminal() {
            break job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job did not end: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
    let key = BlobKey::parse(job.video_key.as_deref().unwrap()).unwrap();
    let (bytes, _) = e.deps.blobs.get(&key).await.unwrap().unwrap();
    (job, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runway_renders_10_plus_5_seconds_joined_into_15() {
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route("/v1/text_to_video", post(runway_create))
        .route("/v1/tasks/{id}", get(runway_task))
        .route("/out/{id}", get(runway_output))
        .with_state(fake.clone());
    let base = serve(app).await;
    *fake.base.lock().unwrap() = base.clone();
    let runway = RunwayProvider::with_retry(
        &base,
        Credential::fixed("key_local"),
        viral_providers::runway::GEN4_5,
        DownloadPolicy::new(&[".runwayml.com"], true),
        retry(),
    )
    .unwrap();
    let e = env(Arc::new(runway));
    let (job, bytes) = fifteen_seconds(&e).await;
    let mut asked = fake.durations.lock().unwrap().clone();
    asked.sort_unstable();
    assert_eq!(asked, [5, 10], "two clips: 10 s + 5 s");
    assert_eq!(job.route.as_ref().unwrap()["estimated_cost_cents"], 180);
    // The clips come without our captions: the script is burned in (one encode) and its
    // cues are stored beside the video.
    let vtt = job
        .captions_key
        .as_deref()
        .expect("captions for provider clips");
    let key = viral_core::ports::BlobKey::parse(vtt).unwrap();
    let (text, _) = e.deps.blobs.get(&key).await.unwrap().unwrap();
    assert!(
        String::from_utf8(text)
            .unwrap()
            .starts_with("WEBVTT\n\n00:00:00")
    );
    let p = viral_media::probe(&bytes).unwrap();
    assert_eq!(
        (p.width, p.height, p.video_codec.as_str()),
        (720, 1280, "h264")
    );
    assert!((p.duration_s - 15.0).abs() <= 0.5, "{}", p.duration_s);
    assert!(
        job.validation.as_ref().unwrap()["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["pass"] == true)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provider_clips_are_narrated_by_a_free_voice_and_captioned_by_its_words() {
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route("/v1/text_to_video", post(runway_create))
        .route("/v1/tasks/{id}", get(runway_task))
        .route("/out/{id}", get(runway_output))
        .with_state(fake.clone());
    let base = serve(app).await;
    *fake.base.lock().unwrap() = base.clone();
    let runway = RunwayProvider::with_retry(
        &base,
        Credential::fixed("key_local"),
        viral_providers::runway::GEN4_5,
        DownloadPolicy::new(&[".runwayml.com"], true),
        retry(),
    )
    .unwrap();
    let espeak = Espeak::load().expect("espeak-ng: run the test command `tests/run`");
    let voice: Arc<dyn Voice> = Arc::new(espeak);
    let e = support::env_narrated(|_| vec![Arc::new(runway)], 0.05, Some(voice.clone()));
    let (job, bytes) = fifteen_seconds(&e).await;

    // What the join should have made: the script read by the same voice, the captions on
    // its words, its speech over the music bed.
    let mut sb = viral_providers::storyboard::storyboard_from_prompt(
        &job.spec.prompt,
        viral_media::seed_of(&job.id),
    );
    let script = viral_providers::storyboard::fitted_script(&mut sb, 15.0).unwrap();
    let speech = voice.speak(&SpeechRequest::new(script)).await.unwrap();
    let (cues, _, track) = viral_media::spoken_captions(&sb, 15.0, &speech, None).unwrap();
    // espeak-ng's timings vary by a few milliseconds from one synthesis to the next.
    let vtt = BlobKey::parse(job.captions_key.as_deref().unwrap()).unwrap();
    let (text, _) = e.deps.blobs.get(&vtt).await.unwrap().unwrap();
    let stored: Vec<(f64, String)> = String::from_utf8(text)
        .unwrap()
        .split("\n\n")
        .skip(1)
        .filter_map(|c| {
            let (time, words) = c.split_once('\n')?;
            let (h, rest) = time.split_once(':')?;
            let (m, s) = rest.split_once(':')?;
            let s = s.split(' ').next()?;
            let at = h.parse::<f64>().ok()? * 3600.0
                + m.parse::<f64>().ok()? * 60.0
                + s.parse::<f64>().ok()?;
            Some((at, words.to_owned()))
        })
        .collect();
    assert_eq!(stored.len(), cues.len(), "{stored:?}");
    for ((at, words), cue) in stored.iter().zip(&cues) {
        assert_eq!(*words, cue.text());
        assert!(
            (at - cue.start_s).abs() < 0.05,
            "{words}: {at} vs {}",
            cue.start_s
        );
    }
    assert!(stored[0].0 >= 0.3, "the voice starts 0.3 s in: {stored:?}");
    // The sound is the voice over the bed: its loudness envelope follows the expected
    // narrated track, not the bed alone.
    let got = envelope(&viral_media::audio::track_of(&bytes).expect("a sound track"));
    let narrated = correlation(&got, &envelope(&track));
    let bed = correlation(
        &got,
        &envelope(&viral_media::audio::soundtrack(viral_media::seed_of(&job.id), 15.0).unwrap()),
    );
    assert!(
        narrated > 0.9 && narrated > bed + 0.2,
        "narrated {narrated:.2}, bed only {bed:.2}"
    );
    assert!(
        job.validation.as_ref().unwrap()["platforms"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["pass"] == true),
        "{:?}",
        job.validation
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veo_renders_8_plus_8_seconds_trimmed_to_15() {
    let fake = Arc::new(Fake::default());
    let app = Router::new()
        .route("/token", post(veo_token))
        .route(
            "/v1/projects/viral-dev/locations/us-central1/publishers/google/models/{call}",
            post(veo_call),
        )
        .with_state(fake.clone());
    let base = serve(app).await;
    let key_file = json!({
        "client_email": "viral-test@viral-dev.iam.gserviceaccount.com",
        "private_key": include_str!("../../providers/tests/fixtures/test-service-account.key"),
        "token_uri": format!("{base}/token"),
    });
    let tokens = TokenSource::new(Credential::fixed(key_file.to_string())).unwrap();
    let veo = VeoProvider::new(
        &base,
        "viral-dev",
        "us-central1",
        viral_providers::veo::VEO_3_1_FAST,
        Arc::new(tokens),
        retry(),
    )
    .unwrap();
    let e = env(Arc::new(veo));
    let (job, bytes) = fifteen_seconds(&e).await;
    assert_eq!(*fake.durations.lock().unwrap(), [8, 8]);
    assert_eq!(
        fake.downloads.load(Ordering::SeqCst),
        2,
        "each clip is downloaded once: the poll that finds it done hands it to the fetch"
    );
    assert_eq!(job.provider.as_deref(), Some("veo"));
    // Veo's clips come with a sound of their own: kept, one clip after the other, in place
    // of the music bed (the server's clips carry the bed of seed 3, not this job's).
    let veo_clip = clip(8.0, 1080, 1920, "veo");
    let own = viral_media::audio::clips_sound(&[&veo_clip, &veo_clip], 15.0).unwrap();
    let got = envelope(&viral_media::audio::track_of(&bytes).expect("a sound track"));
    let kept = correlation(
        &got,
        &envelope(&viral_media::audio::mastered(own.audio).unwrap()),
    );
    let bed = correlation(
        &got,
        &envelope(&viral_media::audio::soundtrack(viral_media::seed_of(&job.id), 15.0).unwrap()),
    );
    assert!(
        kept > 0.95 && kept > bed + 0.2,
        "clips' sound {kept:.3}, the job's bed {bed:.3}"
    );
    let p = viral_media::probe(&bytes).unwrap();
    assert_eq!((p.width, p.height), (1080, 1920));
    assert!(
        (p.duration_s - 15.0).abs() <= 0.1,
        "trimmed from 16 s: {}",
        p.duration_s
    );

    // What an attempt cut short leaves in staging (a clip fetched, a video a poll handed
    // over) goes with the tenant.
    use viral_core::domain::job::{StagedClip, staged_clip_blob};
    let store = &*e.deps.store;
    let intents = viral_core::service::submits::of_job(store, &job.tenant_id, &job.id)
        .await
        .unwrap();
    let task = intents[0].3.clone().unwrap();
    let left: Vec<BlobKey> = [StagedClip::Fetched(intents[0].1), StagedClip::Polled(&task)]
        .into_iter()
        .map(|c| BlobKey::parse(&staged_clip_blob(&job.tenant_id, &job.id, c)).unwrap())
        .collect();
    for k in &left {
        e.deps
            .blobs
            .put(k, b"left".to_vec(), "video/mp4")
            .await
            .unwrap();
    }
    viral_core::service::tenant_lifecycle::delete_tenant(
        store,
        &*e.deps.blobs,
        e.deps.clock.now(),
        &job.tenant_id,
        &|_, _, _| vec![],
    )
    .await
    .unwrap();
    for k in &left {
        assert!(e.deps.blobs.head(k).await.unwrap().is_none(), "{k:?} left");
    }
}
