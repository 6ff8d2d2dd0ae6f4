//! One process's pipeline on the embedded adapters in a data dir, for the workflow tests.

#![allow(dead_code)]

use std::path::Path;
use std::sync::Arc;

use viral_core::Clock;
use viral_core::ports::{BlobStore, VideoProvider};
use viral_embedded::{Db, FsBlobStore, LocalQueue, SqliteItemStore, UrlSigner};
use viral_providers::Registry;
use viral_steps::Deps;
use viral_steps::local::LocalPipeline;

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
    let db = Db::open(&dir.join("viral.db")).unwrap();
    let blobs: Arc<dyn BlobStore> = Arc::new(FsBlobStore::new(
        &dir.join("blobs"),
        UrlSigner::new(b"k", "http://127.0.0.1:3000", clock.clone()),
    ));
    let deps = Deps {
        store: Arc::new(SqliteItemStore::new(db.clone())),
        providers: Registry::new(make(blobs.clone())),
        blobs,
        clock: clock.clone(),
    };
    let queue = Arc::new(LocalQueue::new(db, "provider-jobs", None, clock));
    let pipeline = LocalPipeline::new(deps.clone(), queue, time_scale).unwrap();
    pipeline.spawn_worker();
    (deps, pipeline)
}

/// [`pipeline_in`] in a fresh temporary dir, on the system clock.
pub fn env(
    make: impl FnOnce(Arc<dyn BlobStore>) -> Vec<Arc<dyn VideoProvider>>,
    time_scale: f64,
) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let (deps, pipeline) = pipeline_in(
        dir.path(),
        Arc::new(viral_core::SystemClock),
        make,
        time_scale,
    );
    Env {
        deps,
        pipeline,
        _dir: dir,
    }
}
