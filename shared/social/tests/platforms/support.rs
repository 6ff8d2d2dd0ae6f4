//! What the platform tests share: a local HTTP server per platform, and a world (SQLite store,
//! file vault, file blobs) in which an account connects through the real OAuth round trip and
//! a post goes through the publish workflow's steps with the real client.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::json;
use viral_core::domain::account::Platform;
use viral_core::domain::post::Post;
use viral_core::domain::publish_limits::PublishLimits;
use viral_core::domain::{Job, JobSpec, JobStatus, Plan};
use viral_core::ports::{
    BlobKey, BlobStore, Cond, ItemStore, Publisher, Publishers, Secrets, TokenVault,
};
use viral_core::service::publishing::{self, Ctx, Next};
use viral_core::service::{connect, posts, tenants};
use viral_core::{Clock, SystemClock};
use viral_embedded::{EnvSecrets, FileTokenVault, FsBlobStore, SqliteItemStore, UrlSigner};

/// Serves `router` on an ephemeral loopback port; returns its base URL.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

/// The app credentials every platform reads.
pub fn secrets() -> Arc<dyn Secrets> {
    Arc::new(EnvSecrets::from_map(HashMap::from(
        [
            ("TIKTOK_CLIENT_KEY", "tt-client-key"),
            ("TIKTOK_CLIENT_SECRET", "tt-client-secret"),
            ("GOOGLE_OAUTH_CLIENT_ID", "g-client-id"),
            ("GOOGLE_OAUTH_CLIENT_SECRET", "g-client-secret"),
            ("INSTAGRAM_APP_ID", "ig-app-id"),
            ("INSTAGRAM_APP_SECRET", "ig-app-secret"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    )))
}

pub struct World {
    pub store: Arc<dyn ItemStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub vault: Arc<dyn TokenVault>,
    pub clock: Arc<dyn Clock>,
    pub publishers: Publishers,
    pub limits: PublishLimits,
    pub tenant: String,
    _dir: tempfile::TempDir,
}

pub const PUBLIC_URL: &str = "https://app.viral.example";

impl World {
    pub async fn new(publisher: Arc<dyn Publisher>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let store: Arc<dyn ItemStore> =
            Arc::new(SqliteItemStore::open(&dir.path().join("viral.db")).unwrap());
        let tenant = tenants::create_tenant(&*store, &*clock, "Creators", Plan::Pro)
            .await
            .unwrap()
            .tenant
            .id;
        Self {
            blobs: Arc::new(FsBlobStore::new(
                &dir.path().join("blobs"),
                UrlSigner::new(b"media-key", "https://media.viral.example", clock.clone()),
            )),
            vault: Arc::new(FileTokenVault::from_key_file(&dir.path().join("vault.key")).unwrap()),
            publishers: Publishers::default().with(publisher),
            limits: PublishLimits::default(),
            store,
            clock,
            tenant,
            _dir: dir,
        }
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            store: &*self.store,
            blobs: &*self.blobs,
            vault: &*self.vault,
            clock: &*self.clock,
            publishers: &self.publishers,
            limits: &self.limits,
        }
    }

    pub fn connector(&self) -> connect::Connector<'_> {
        connect::Connector {
            store: &*self.store,
            vault: &*self.vault,
            clock: &*self.clock,
            public_url: PUBLIC_URL,
        }
    }

    fn publisher(&self, platform: Platform) -> Arc<dyn Publisher> {
        self.publishers.get(platform).unwrap()
    }

    /// The OAuth round trip: the authorize URL we hand out, the user's consent (the platform
    /// sends the browser back with `code` and our `state`), the callback's exchange.
    pub async fn connect(&self, platform: Platform, code: &str) -> (String, String) {
        let p = self.publisher(platform);
        let url = connect::start(&self.connector(), &*p, &self.tenant, None, None)
            .await
            .unwrap();
        let parsed = reqwest::Url::parse(&url).unwrap();
        let state = parsed
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        let finished = connect::finish(&self.connector(), &*p, code, &state, None)
            .await
            .unwrap();
        (finished.account.id, url)
    }

    /// A succeeded 15 s video of `size` bytes (an MP4 header, then filler).
    pub async fn video(&self, size: usize) -> String {
        let id = viral_core::ids::new_id("job");
        let key = format!("tenants/{}/videos/{id}.mp4", self.tenant);
        let mut mp4 = vec![0, 0, 0, 24];
        mp4.extend_from_slice(b"ftypisom");
        mp4.resize(size, 7);
        self.blobs
            .put(&BlobKey::parse(&key).unwrap(), mp4, "video/mp4")
            .await
            .unwrap();
        let job = Job {
            id: id.clone(),
            tenant_id: self.tenant.clone(),
            status: JobStatus::Succeeded,
            spec: JobSpec {
                prompt: "Octopuses have three hearts.".into(),
                concept_id: None,
                provider: "auto".into(),
                platforms: vec![
                    "tiktok".into(),
                    "youtube_shorts".into(),
                    "instagram_reels".into(),
                ],
                duration_s: 15.0,
                narration: None,
            },
            created_at: self.clock.now(),
            updated_at: self.clock.now(),
            version: 1,
            provider: None,
            model: None,
            attempts: 1,
            budget_cents: 0,
            spent_cents: 0,
            video_key: Some(key),
            captions_key: None,
            validation: Some(json!({"platforms": [
                {"platform": "tiktok", "pass": true, "reasons": []},
                {"platform": "youtube_shorts", "pass": true, "reasons": []},
                {"platform": "instagram_reels", "pass": true, "reasons": []}
            ]})),
            failure: None,
            route: None,
        };
        self.store.put(job.to_item(), Cond::Absent).await.unwrap();
        id
    }

    pub async fn post(&self, job: &str, target: posts::Target) -> String {
        posts::create(
            &*self.store,
            &*self.clock,
            &self.tenant,
            job,
            vec![target],
            None,
            &self.publishers.platforms(),
        )
        .await
        .unwrap()
        .posts[0]
            .id
            .clone()
    }

    /// Runs the post's steps as the state machine would (retrying a step that errs, polling
    /// without the waits) until it ends or waits; returns how it stopped.
    pub async fn run(&self, post: &str) -> Next {
        let ctx = self.ctx();
        let mut next = publishing::check(&ctx, &self.tenant, post).await.unwrap();
        for _ in 0..20 {
            let step = match next {
                Next::Upload => publishing::upload(&ctx, &self.tenant, post).await,
                Next::Poll(_) => publishing::poll(&ctx, &self.tenant, post).await,
                Next::Wait(_) | Next::Done => return next,
            };
            match step {
                Ok(n) => next = n,
                // The state machine retries the step.
                Err(e) => tracing_free_note(&e.to_string()),
            }
        }
        next
    }

    pub async fn get(&self, post: &str) -> Post {
        posts::get(&*self.store, &self.tenant, post).await.unwrap()
    }
}

fn tracing_free_note(_: &str) {}
