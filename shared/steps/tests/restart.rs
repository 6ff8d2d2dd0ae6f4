//! Durable local executions: a process dies mid-render (its runtime is torn down with the
//! provider call in flight), another process on the same data dir resumes the execution from
//! its last checkpoint once the claim lapses, and the job ends once, charged once. A job whose
//! execution never started is started by the same sweep.

mod support;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use viral_core::domain::job::ledger_sk;
use viral_core::domain::{JobSpec, JobStatus, Plan, keys};
use viral_core::ports::{
    Lookup, ProviderError, RenderRequest, RenderStatus, Submitted, VideoProvider,
};
use viral_core::service::{tenants, usage, videos};
use viral_core::{Clock, SystemClock};
use viral_embedded::{Db, FsBlobStore, SqliteItemStore, UrlSigner};
use viral_local::LocalPipeline;
use viral_providers::{Registry, StoryboardProvider};
use viral_steps::Deps;
use viral_steps::steps::JobRef;

/// The storyboard renderer under another name; in the dying process its submit never returns.
struct Gate {
    inner: StoryboardProvider,
    hang: bool,
}

#[async_trait]
impl VideoProvider for Gate {
    fn name(&self) -> &'static str {
        "gate"
    }
    fn model(&self) -> &'static str {
        "storyboard-v1"
    }
    fn price_cents_per_second(&self) -> f64 {
        0.0
    }
    async fn submit(&self, req: &RenderRequest) -> Result<Submitted, ProviderError> {
        if self.hang {
            std::future::pending::<()>().await;
        }
        self.inner.submit(req).await
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

/// The system clock, this much later: time still moves (queues and leases need it to).
struct Later(Duration);

impl Clock for Later {
    fn now(&self) -> viral_core::Timestamp {
        SystemClock.now().plus(self.0)
    }
}

/// What routing knows of the gate (as `Registry::new` would read it).
fn gate_profile() -> viral_core::domain::routing::ProviderProfile {
    viral_core::domain::routing::ProviderProfile {
        name: "gate".into(),
        model: "storyboard-v1".into(),
        cents_per_second: 0.0,
        clip_durations: vec![],
        max_clip_s: 60,
        quality: 3,
    }
}

/// One process's view of the shared data dir.
fn process(dir: &std::path::Path, clock: Arc<dyn Clock>, hang: bool) -> Arc<LocalPipeline> {
    let make = |blobs| -> Vec<Arc<dyn VideoProvider>> {
        vec![Arc::new(Gate {
            inner: StoryboardProvider::new(blobs),
            hang,
        })]
    };
    support::pipeline_in(dir, clock, make, 0.1).1
}

async fn accept(deps: &Deps, tenant: &viral_core::domain::Tenant, prompt: &str) -> JobRef {
    let spec = JobSpec {
        prompt: prompt.into(),
        concept_id: None,
        provider: "gate".into(),
        platforms: vec!["tiktok".into()],
        duration_s: 6.0,
        narration: None,
    };
    let job = videos::accept(
        &*deps.store,
        &*deps.clock,
        tenant,
        spec,
        None,
        &[gate_profile()],
    )
    .await
    .unwrap()
    .job;
    JobRef {
        tenant_id: tenant.id.clone(),
        job_id: job.id,
    }
}

fn store_of(dir: &std::path::Path) -> Deps {
    let db = Db::open(&dir.join("viral.db")).unwrap();
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Deps {
        social: Default::default(),
        // Its provider is the storyboard under another name: its clip has captions already.
        provider_captions: viral_steps::ProviderCaptions::Files,
        narrator: None,
        store: Arc::new(SqliteItemStore::new(db)),
        blobs: Arc::new(FsBlobStore::new(
            &dir.join("blobs"),
            UrlSigner::new(b"k", "http://127.0.0.1:3000", clock.clone()),
        )),
        clock,
        providers: Registry::new(vec![]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_process_resumes_interrupted_executions() {
    let dir = tempfile::tempdir().unwrap();
    let d = store_of(dir.path());
    let t = tenants::create_tenant(&*d.store, &*d.clock, "Acme", Plan::Starter)
        .await
        .unwrap();
    let interrupted = accept(&d, &t.tenant, "Interrupted. Then resumed.").await;
    let never_started = accept(&d, &t.tenant, "Accepted. Never started.").await;

    // The first process: starts one job, which gets as far as the provider call, then dies.
    let first = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let job = interrupted.clone();
    let path = dir.path().to_owned();
    first.spawn(async move {
        let p = process(&path, Arc::new(SystemClock), true);
        p.start(&job).await.unwrap();
        std::future::pending::<()>().await;
    });
    let exec_key = |j: &JobRef| (keys::tenant_pk(&j.tenant_id), format!("EXEC#{}", j.job_id));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (pk, sk) = exec_key(&interrupted);
        let rec = d.store.get(&pk, &sk).await.unwrap();
        let job = videos::get(&*d.store, &interrupted.tenant_id, &interrupted.job_id)
            .await
            .unwrap();
        if rec.as_ref().and_then(|r| r.str("at_state")) == Some("RenderClips")
            && job.status == JobStatus::Rendering
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never reached the provider"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.shutdown_background();

    // The second process, two minutes later: the first one's claims have lapsed.
    let later = Arc::new(Later(Duration::from_secs(120)));
    // Its sweeper picks both up at once; asking again finds nothing left to take.
    let second = process(dir.path(), later, false);
    second.resume_interrupted().await.unwrap();
    assert_eq!(
        second.resume_interrupted().await.unwrap(),
        0,
        "a claimed execution is not resumed twice"
    );

    for j in [&interrupted, &never_started] {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        let exec = loop {
            let exec = second
                .describe(&j.tenant_id, &j.job_id)
                .await
                .unwrap()
                .unwrap();
            if exec["status"] != "RUNNING" {
                break exec;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "did not end: {exec}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(exec["status"], "SUCCEEDED", "{exec}");
        let job = videos::get(&*d.store, &j.tenant_id, &j.job_id)
            .await
            .unwrap();
        assert_eq!(job.status, JobStatus::Succeeded);
        assert_eq!(job.attempts, 1, "resuming did not count another attempt");
        let ledger = d
            .store
            .get(&keys::tenant_pk(&j.tenant_id), &ledger_sk(&j.job_id))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(ledger.str("state"), Some("CONSUMED"));
        // One history, its ids contiguous across the restart; internals stay private.
        let history = exec["history"].as_array().unwrap();
        let ids: Vec<u64> = history.iter().map(|e| e["id"].as_u64().unwrap()).collect();
        assert_eq!(ids, (1..=ids.len() as u64).collect::<Vec<_>>());
        assert!(exec.get("owner").is_none() && exec.get("at_input").is_none());
        let types: Vec<&str> = history.iter().filter_map(|e| e["type"].as_str()).collect();
        assert_eq!(types.first(), Some(&"ExecutionStarted"));
        assert_eq!(types.last(), Some(&"ExecutionSucceeded"));
        if j.job_id == interrupted.job_id {
            let resumed: Vec<&Value> = history
                .iter()
                .filter(|e| e["type"] == "ExecutionResumed")
                .collect();
            assert_eq!(resumed.len(), 1);
            assert_eq!(resumed[0]["state"], "RenderClips");
        }
    }
    let u = usage::current_usage(&*d.store, &*d.clock, &t.tenant)
        .await
        .unwrap();
    assert_eq!(u.videos.used, 2, "each job charged once");
}
