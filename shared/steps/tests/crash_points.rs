//! Crash points: a real process runs a job and is killed (`abort`, no cleanup, like
//! `kill -9`) right after one side effect of the job — its quota reservation, the provider's
//! submit being recorded, the video stored, the job finalized, or (for a job the provider
//! refuses) its refund. Then another process starts on the same data dir. Every job ends;
//! the provider made one task per clip; a success is charged once, a failure refunded once.

mod support;

use std::io::Write as _;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use viral_core::domain::job::ledger_sk;
use viral_core::domain::routing::ProviderProfile;
use viral_core::domain::{JobSpec, JobStatus, Plan, keys};
use viral_core::ports::{
    BlobError, BlobKey, BlobMeta, BlobStore, Cond, Item, ItemStore, Lookup, Page, ProviderError,
    Query, RenderRequest, RenderStatus, StoreError, Submitted, Update, VideoProvider, Write,
};
use viral_core::service::{tenants, usage, videos};
use viral_core::{Clock, SystemClock, Timestamp};
use viral_embedded::{Db, FsBlobStore, SqliteItemStore, UrlSigner};
use viral_local::{LocalPipeline, Options};
use viral_providers::{Registry, StoryboardProvider};
use viral_steps::Deps;
use viral_steps::steps::JobRef;

/// The side effects a crash follows, in the order a job makes them.
const POINTS: [&str; 5] = ["reserve", "submit", "store", "finalize", "refund"];

/// Dies right after the write that is `point` (the write itself went through).
struct CrashingStore {
    inner: SqliteItemStore,
    point: Option<String>,
}

fn sets(w: &Write, sk_prefix: &str, attr: &str, value: &str) -> bool {
    match w {
        Write::Put(item, _) => item.sk.starts_with(sk_prefix) && item.str(attr) == Some(value),
        Write::Update(u) => {
            u.sk.starts_with(sk_prefix) && u.set.get(attr).and_then(|v| v.as_str()) == Some(value)
        }
        _ => false,
    }
}

impl CrashingStore {
    fn crash_after(&self, writes: &[Write]) {
        let hit = match self.point.as_deref() {
            Some("reserve") => writes
                .iter()
                .any(|w| sets(w, "LEDGER#", "state", "RESERVED")),
            Some("submit") => writes
                .iter()
                .any(|w| sets(w, "SUBMIT#", "state", "submitted")),
            Some("finalize") => writes
                .iter()
                .any(|w| sets(w, "LEDGER#", "state", "CONSUMED")),
            Some("refund") => writes
                .iter()
                .any(|w| sets(w, "LEDGER#", "state", "REFUNDED")),
            _ => false,
        };
        if hit {
            std::process::abort();
        }
    }
}

#[async_trait]
impl ItemStore for CrashingStore {
    async fn get(&self, pk: &str, sk: &str) -> Result<Option<Item>, StoreError> {
        self.inner.get(pk, sk).await
    }
    async fn put(&self, item: Item, cond: Cond) -> Result<(), StoreError> {
        let w = [Write::Put(item.clone(), cond.clone())];
        self.inner.put(item, cond).await?;
        self.crash_after(&w);
        Ok(())
    }
    async fn update(&self, update: Update) -> Result<Item, StoreError> {
        let w = [Write::Update(update.clone())];
        let out = self.inner.update(update).await?;
        self.crash_after(&w);
        Ok(out)
    }
    async fn delete(&self, pk: &str, sk: &str, cond: Cond) -> Result<(), StoreError> {
        self.inner.delete(pk, sk, cond).await
    }
    async fn query(&self, q: Query) -> Result<Page, StoreError> {
        self.inner.query(q).await
    }
    async fn query_gsi1(&self, q: Query) -> Result<Page, StoreError> {
        self.inner.query_gsi1(q).await
    }
    async fn transact(&self, writes: Vec<Write>) -> Result<(), StoreError> {
        self.inner.transact(writes.clone()).await?;
        self.crash_after(&writes);
        Ok(())
    }
}

/// Dies right after the finished video is stored under its tenant (when `point` is store).
struct CrashingBlobs {
    inner: FsBlobStore,
    crash: bool,
}

#[async_trait]
impl BlobStore for CrashingBlobs {
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>, ct: &str) -> Result<(), BlobError> {
        self.inner.put(key, bytes, ct).await?;
        if self.crash && key.as_str().starts_with("tenants/") && key.as_str().contains("/videos/") {
            std::process::abort();
        }
        Ok(())
    }
    async fn get(&self, key: &BlobKey) -> Result<Option<(Vec<u8>, BlobMeta)>, BlobError> {
        self.inner.get(key).await
    }
    async fn head(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        self.inner.head(key).await
    }
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.inner.delete(key).await
    }
    async fn signed_url(&self, key: &BlobKey, ttl: Duration) -> Result<String, BlobError> {
        self.inner.signed_url(key, ttl).await
    }
}

/// A paid provider (a storyboard render under another name) that writes every task it makes
/// to a file in the data dir, which outlives the process; for the refund point it refuses
/// the content instead.
struct Counted {
    inner: StoryboardProvider,
    log: PathBuf,
    refuse: bool,
}

fn profile() -> ProviderProfile {
    ProviderProfile {
        name: "counted".into(),
        model: "cards-v1".into(),
        cents_per_second: 0.0,
        clip_durations: vec![],
        max_clip_s: 60,
        quality: 3,
    }
}

#[async_trait]
impl VideoProvider for Counted {
    fn name(&self) -> &'static str {
        "counted"
    }
    fn model(&self) -> &'static str {
        "cards-v1"
    }
    fn price_cents_per_second(&self) -> f64 {
        0.0
    }
    async fn submit(&self, req: &RenderRequest) -> Result<Submitted, ProviderError> {
        if self.refuse {
            return Err(ProviderError::ContentRejected(
                "not on this platform".into(),
            ));
        }
        let s = self.inner.submit(req).await?;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        writeln!(f, "{}", req.idempotency_key).unwrap();
        Ok(s)
    }
    async fn lookup(&self, req: &RenderRequest) -> Result<Lookup, ProviderError> {
        self.inner.lookup(req).await
    }
    async fn poll(&self, task_id: &str) -> Result<RenderStatus, ProviderError> {
        self.inner.poll(task_id).await
    }
    async fn fetch(&self, task_id: &str) -> Result<Vec<u8>, ProviderError> {
        self.inner.fetch(task_id).await
    }
}

/// The system clock, this much later: the dead process's claims have lapsed.
struct Later(Duration);

impl Clock for Later {
    fn now(&self) -> Timestamp {
        SystemClock.now().plus(self.0)
    }
}

/// One process's view of the data dir, dying after `point` if given.
fn process(dir: &Path, clock: Arc<dyn Clock>, point: Option<&str>, refuse: bool) -> Deps {
    let db = Db::open(&dir.join("viral.db")).unwrap();
    let files = FsBlobStore::new(
        &dir.join("blobs"),
        UrlSigner::new(b"k", "http://127.0.0.1:3000", clock.clone()),
    );
    let blobs: Arc<dyn BlobStore> = Arc::new(CrashingBlobs {
        inner: files,
        crash: point == Some("store"),
    });
    let provider = Counted {
        inner: StoryboardProvider::new(blobs.clone()),
        log: dir.join("tasks.log"),
        refuse,
    };
    Deps {
        social: Default::default(),
        // Its provider is the storyboard under another name: its clip has captions already.
        provider_captions: viral_steps::ProviderCaptions::Files,
        narrator: None,
        store: Arc::new(CrashingStore {
            inner: SqliteItemStore::new(db),
            point: point.map(str::to_owned),
        }),
        blobs,
        clock,
        providers: Registry::new(vec![Arc::new(provider)]),
    }
}

fn pipeline(dir: &Path, deps: &Deps) -> Arc<LocalPipeline> {
    let db = Db::open(&dir.join("viral.db")).unwrap();
    let p = LocalPipeline::new(
        deps.clone(),
        support::queues(db, deps.clock.clone()),
        Options::default().time_scale(0.05),
    )
    .unwrap();
    p.run_background();
    p
}

/// Not a test of its own: the process that runs a job and dies, when the test below starts
/// this binary with `VIRAL_CRASH_DIR` and `VIRAL_CRASH_AFTER` set. Otherwise it does nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_point_child_process() {
    let (Ok(dir), Ok(point)) = (
        std::env::var("VIRAL_CRASH_DIR"),
        std::env::var("VIRAL_CRASH_AFTER"),
    ) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let deps = process(&dir, Arc::new(SystemClock), Some(&point), point == "refund");
    let tenant_id = std::fs::read_to_string(dir.join("tenant")).unwrap();
    let tenant = tenants::get_tenant(&*deps.store, &tenant_id)
        .await
        .unwrap()
        .unwrap();
    let p = pipeline(&dir, &deps);
    let spec = JobSpec {
        prompt: "Killed after a side effect. Ended anyway.".into(),
        concept_id: None,
        provider: "counted".into(),
        platforms: vec!["tiktok".into()],
        duration_s: 6.0,
        narration: None,
    };
    let job = videos::accept(
        &*deps.store,
        &*deps.clock,
        &tenant,
        spec,
        None,
        &[profile()],
    )
    .await
    .unwrap()
    .job;
    p.start(&JobRef {
        tenant_id: tenant.id.clone(),
        job_id: job.id,
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(120)).await;
    panic!("the crash point {point} was never reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_each_side_effect_leaves_every_job_ended_and_charged_once() {
    let mut figures = Vec::new();
    for point in POINTS {
        let dir = tempfile::tempdir().unwrap();
        let first = process(dir.path(), Arc::new(SystemClock), None, false);
        let t = tenants::create_tenant(&*first.store, &*first.clock, "Crash", Plan::Starter)
            .await
            .unwrap()
            .tenant;
        std::fs::write(dir.path().join("tenant"), &t.id).unwrap();
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "crash_point_child_process", "--nocapture"])
            .env("VIRAL_CRASH_DIR", dir.path())
            .env("VIRAL_CRASH_AFTER", point)
            .env("RUST_LOG", "off")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(
            status.signal(),
            Some(6),
            "{point}: the child should die of the injected abort: {status:?}"
        );

        // The next process, once the dead one's claims have lapsed.
        let refuse = point == "refund";
        let deps = process(
            dir.path(),
            Arc::new(Later(Duration::from_secs(120))),
            None,
            refuse,
        );
        let p = pipeline(dir.path(), &deps);
        let (jobs, _) = videos::list(&*deps.store, &t.id, 10, None).await.unwrap();
        assert_eq!(jobs.len(), 1, "{point}");
        let r = JobRef {
            tenant_id: t.id.clone(),
            job_id: jobs[0].id.clone(),
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        let job = loop {
            let job = videos::get(&*deps.store, &r.tenant_id, &r.job_id)
                .await
                .unwrap();
            let exec = p.describe(&r.tenant_id, &r.job_id).await.unwrap();
            let running = exec.as_ref().is_none_or(|e| e["status"] == "RUNNING");
            if job.status.is_terminal() && !running {
                break job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{point}: the job never ended: {job:?} {exec:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let ledger = deps
            .store
            .get(&keys::tenant_pk(&t.id), &ledger_sk(&r.job_id))
            .await
            .unwrap()
            .unwrap();
        let used = usage::current_usage(&*deps.store, &*deps.clock, &t)
            .await
            .unwrap()
            .videos
            .used;
        let tasks = std::fs::read_to_string(dir.path().join("tasks.log")).unwrap_or_default();
        let tasks: Vec<&str> = tasks.lines().collect();
        if refuse {
            assert_eq!(job.status, JobStatus::Failed, "{point}: {job:?}");
            assert_eq!(ledger.str("state"), Some("REFUNDED"), "{point}");
            assert_eq!(used, 0, "{point}: refunded exactly once");
            assert!(tasks.is_empty(), "{point}: {tasks:?}");
        } else {
            assert_eq!(job.status, JobStatus::Succeeded, "{point}: {job:?}");
            assert_eq!(ledger.str("state"), Some("CONSUMED"), "{point}");
            assert_eq!(used, 1, "{point}: charged once");
            assert_eq!(tasks.len(), 1, "{point}: one task for one clip: {tasks:?}");
        }
        figures.push(format!(
            "{point}: {} after restart, used {used}, provider tasks {}",
            job.status.as_str(),
            tasks.len()
        ));
        p.shutdown().await;
    }
    eprintln!("crash points: {}", figures.join("; "));
}
