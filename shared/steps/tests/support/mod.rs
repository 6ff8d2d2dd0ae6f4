//! One process's pipeline on the embedded adapters in a data dir, for the workflow tests.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use viral_core::Clock;
use viral_core::ports::{BlobStore, Queue, VideoProvider};
use viral_embedded::{Db, FsBlobStore, LocalQueue, SqliteItemStore, UrlSigner};
use viral_local::{LocalPipeline, Options, QueueFor};
use viral_providers::Registry;
use viral_steps::Deps;

pub struct Env {
    pub deps: Deps,
    pub pipeline: Arc<LocalPipeline>,
    pub _dir: tempfile::TempDir,
}

/// The store, blobs and queue in `dir`, the providers `make` builds (given the blob store),
/// and the local pipeline with its worker running. `time_scale` shortens workflow waits;
/// renders are not scaled, so heartbeats must stay generous.
pub fn pipeline_in(
    dir: &Path,
    clock: Arc<dyn Clock>,
    make: impl FnOnce(Arc<dyn BlobStore>) -> Vec<Arc<dyn VideoProvider>>,
    time_scale: f64,
) -> (Deps, Arc<LocalPipeline>) {
    pipeline_narrated(dir, clock, make, time_scale, None)
}

/// [`pipeline_in`] with a voice that narrates provider clips at the join.
pub fn pipeline_narrated(
    dir: &Path,
    clock: Arc<dyn Clock>,
    make: impl FnOnce(Arc<dyn BlobStore>) -> Vec<Arc<dyn VideoProvider>>,
    time_scale: f64,
    narrator: Option<Arc<dyn viral_providers::voice::Voice>>,
) -> (Deps, Arc<LocalPipeline>) {
    let db = Db::open(&dir.join("viral.db")).unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(
        &dir.join("blobs"),
        UrlSigner::new(b"k", "http://127.0.0.1:3000", clock.clone()),
    ));
    let deps = Deps {
        social: Default::default(),
        provider_captions: Default::default(),
        narrator,
        store: Arc::new(SqliteItemStore::new(db.clone())),
        providers: Registry::new(make(blobs.clone())),
        blobs,
        clock: clock.clone(),
    };
    let pipeline = LocalPipeline::new(
        deps.clone(),
        queues(db, clock),
        Options::default().time_scale(time_scale),
    )
    .unwrap();
    pipeline.run_background();
    (deps, pipeline)
}

/// A local queue per provider in `db`.
pub fn queues(db: Db, clock: Arc<dyn Clock>) -> QueueFor {
    Arc::new(move |provider: &str| {
        Arc::new(LocalQueue::new(
            db.clone(),
            &format!("provider-jobs/{provider}"),
            None,
            clock.clone(),
        )) as Arc<dyn Queue>
    })
}

/// [`pipeline_in`] in a fresh temporary dir, on the system clock.
pub fn env(
    make: impl FnOnce(Arc<dyn BlobStore>) -> Vec<Arc<dyn VideoProvider>>,
    time_scale: f64,
) -> Env {
    env_narrated(make, time_scale, None)
}

/// [`env`] with a voice that narrates provider clips at the join.
pub fn env_narrated(
    make: impl FnOnce(Arc<dyn BlobStore>) -> Vec<Arc<dyn VideoProvider>>,
    time_scale: f64,
    narrator: Option<Arc<dyn viral_providers::voice::Voice>>,
) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (deps, pipeline) = pipeline_narrated(
        dir.path(),
        Arc::new(viral_core::SystemClock),
        make,
        time_scale,
        narrator,
    );
    Env {
        deps,
        pipeline,
        _dir: dir,
    }
}

/// A real clip of `seconds` at `w`×`h`, as a provider would return.
pub fn clip(seconds: f64, w: u32, h: u32, label: &str) -> Vec<u8> {
    let sb = viral_media::Storyboard {
        hook: label.into(),
        beats: vec![viral_media::Beat {
            text: format!("{label} continues"),
            duration_s: 1.0,
        }],
        seed: 3,
    };
    viral_media::render(
        &sb,
        &viral_media::RenderSpec {
            width: w,
            height: h,
            fps: 30,
            duration_s: seconds,
        },
    )
    .unwrap()
}

/// `mp4` without its sound track, as a provider that makes silent clips returns it (Runway's
/// Gen-4.5): ffmpeg copies the picture and drops the audio.
pub fn without_sound(mp4: &[u8]) -> Vec<u8> {
    let ffmpeg = std::env::var("VIRAL_TEST_FFMPEG")
        .expect("VIRAL_TEST_FFMPEG: run the test command `tests/run` (it installs ffmpeg)");
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("in.mp4"), dir.path().join("out.mp4"));
    std::fs::write(&input, mp4).unwrap();
    let status = std::process::Command::new(ffmpeg)
        .args(["-v", "error", "-i"])
        .arg(&input)
        .args(["-an", "-c:v", "copy", "-movflags", "+faststart"])
        .arg(&output)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::read(output).unwrap()
}

/// Serves `app` on a free loopback port; returns its base URL.
pub async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}
