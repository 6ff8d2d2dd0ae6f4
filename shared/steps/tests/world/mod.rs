//! The world the publishing and metrics tests share: an SQLite store, file blobs and vault, a
//! manual clock, the sandbox channel plus whatever scripted platforms a test adds.

#![allow(dead_code)]

use std::sync::Arc;

use viral_core::domain::account::{Platform, PlatformProfile};
use viral_core::domain::publish_limits::PublishLimits;
use viral_core::domain::{Job, JobSpec, JobStatus, Plan};
use viral_core::ports::{
    BlobKey, BlobStore, Cond, ItemStore, Publisher, Publishers, SecretString, TokenVault, Tokens,
};
use viral_core::service::publishing::Ctx;
use viral_core::service::{accounts, posts, tenants};
use viral_core::{ManualClock, Timestamp};
use viral_embedded::{FileTokenVault, FsBlobStore, SqliteItemStore, UrlSigner};

/// 2026-12-04T10:00:00Z.
pub const NOW: Timestamp = Timestamp(1_796_378_400_000);

pub struct World {
    pub store: Arc<dyn ItemStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub vault: Arc<dyn TokenVault>,
    pub clock: Arc<ManualClock>,
    pub publishers: Publishers,
    pub limits: PublishLimits,
    _dir: tempfile::TempDir,
}

impl World {
    pub fn new(publishers: Vec<Arc<dyn Publisher>>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(NOW));
        let mut all =
            Publishers::default().with(Arc::new(viral_social::SandboxPublisher::default()));
        for p in publishers {
            all = all.with(p);
        }
        Self {
            store: Arc::new(SqliteItemStore::open(&dir.path().join("viral.db")).unwrap()),
            blobs: Arc::new(FsBlobStore::new(
                &dir.path().join("blobs"),
                UrlSigner::new(b"k", "http://127.0.0.1:3000", clock.clone()),
            )),
            vault: Arc::new(FileTokenVault::from_key_file(&dir.path().join("vault.key")).unwrap()),
            clock,
            publishers: all,
            limits: PublishLimits::default(),
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

    pub async fn tenant(&self, plan: Plan) -> String {
        tenants::create_tenant(&*self.store, &*self.clock, "Publisher", plan)
            .await
            .unwrap()
            .tenant
            .id
    }

    pub async fn video(&self, tenant: &str) -> String {
        stored_video(&*self.store, &*self.blobs, tenant).await
    }

    /// An account on `platform` whose access token expires at `expires`.
    pub async fn account(
        &self,
        tenant: &str,
        platform: Platform,
        expires: Option<Timestamp>,
    ) -> String {
        accounts::connect(
            &*self.store,
            &*self.vault,
            &*self.clock,
            tenant,
            platform,
            PlatformProfile {
                user_id: viral_core::ids::new_id("u"),
                display_name: "Creator".into(),
                avatar_url: None,
            },
            Tokens {
                access: SecretString::new("access-0"),
                refresh: Some(SecretString::new("refresh-0")),
                access_expires_at: expires,
                refresh_expires_at: None,
                scopes: vec!["video.publish".into()],
            },
        )
        .await
        .unwrap()
        .id
    }

    pub async fn post(&self, tenant: &str, job: &str, account: &str, privacy: &str) -> String {
        let target = posts::Target {
            account_id: account.to_owned(),
            privacy: Some(privacy.to_owned()),
            ..Default::default()
        };
        posts::create(
            &*self.store,
            &*self.clock,
            tenant,
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

    pub async fn get(&self, tenant: &str, post: &str) -> viral_core::domain::post::Post {
        posts::get(&*self.store, tenant, post).await.unwrap()
    }
}

/// A succeeded job with its MP4 stored, validated for every platform.
pub async fn stored_video(store: &dyn ItemStore, blobs: &dyn BlobStore, tenant: &str) -> String {
    let id = viral_core::ids::new_id("job");
    let key = format!("tenants/{tenant}/videos/{id}.mp4");
    let mut mp4 = vec![0, 0, 0, 24];
    mp4.extend_from_slice(b"ftypisom");
    mp4.resize(4096, 0);
    blobs
        .put(&BlobKey::parse(&key).unwrap(), mp4, "video/mp4")
        .await
        .unwrap();
    let job = Job {
        id: id.clone(),
        tenant_id: tenant.to_owned(),
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
        created_at: NOW,
        updated_at: NOW,
        version: 1,
        provider: Some("storyboard".into()),
        model: None,
        attempts: 1,
        budget_cents: 0,
        spent_cents: 0,
        video_key: Some(key),
        captions_key: None,
        validation: Some(serde_json::json!({"platforms": [
            {"platform": "tiktok", "pass": true, "reasons": []},
            {"platform": "youtube_shorts", "pass": true, "reasons": []},
            {"platform": "instagram_reels", "pass": true, "reasons": []}
        ]})),
        failure: None,
        route: None,
    };
    store.put(job.to_item(), Cond::Absent).await.unwrap();
    id
}
