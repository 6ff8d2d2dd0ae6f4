//! A process's adapters chosen by `VIRAL_BACKEND`: the embedded ones built here, the AWS ones
//! by `viral-runtime`.

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;

use viral_core::Clock;
use viral_core::SystemClock;
use viral_core::ports::{CachedSecrets, Queue};
use viral_embedded::{
    Db, EnvSecrets, FileTokenVault, FsBlobStore, LocalQueue, Redrive, SqliteItemStore, UrlSigner,
};
use viral_runtime::services::SECRETS_TTL;
use viral_runtime::{Backend, Config, Services, StartError};

use crate::pipeline::{LocalPipeline, Options, QueueFor};

/// The adapters of a process outside Lambda (the CLI, `viral up`, `viral doctor`), with the
/// embedded parts the local backend adds. Reads as its [`Services`].
#[derive(Clone)]
pub struct Process {
    services: Services,
    /// Set in local mode: the blob store whose signed URLs the local server must serve.
    pub local_media: Option<FsBlobStore>,
    /// Set in local mode: the embedded database, for the local queues.
    local_db: Option<Db>,
}

impl Deref for Process {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

fn local_db(config: &Config) -> Result<Db, StartError> {
    Db::open(&config.data_dir.join("viral.db")).map_err(StartError::Backend)
}

/// The key that signs local media URLs: `VIRAL_MEDIA_SIGNING_KEY` (checked by the config), or
/// a random one kept in the data directory (readable by its owner only) so URLs survive
/// restarts. A key file that is there but unreadable or damaged stops the start: replacing it
/// would silently invalidate every URL already handed out.
fn media_signing_key(config: &Config) -> Result<Vec<u8>, StartError> {
    if let Some(k) = &config.media_signing_key {
        return Ok(k.clone().into_bytes());
    }
    let path = config.data_dir.join("media-signing.key");
    viral_embedded::key_file::load_or_create(&path)
        .map(String::into_bytes)
        .map_err(|e| {
            StartError::Backend(format!(
                "{e}; delete it to make a new key (URLs already handed out stop working) \
                 or set VIRAL_MEDIA_SIGNING_KEY"
            ))
        })
}

/// A queue per provider in the embedded database (`provider-jobs/<provider>`), what the local
/// pipeline's Submit sends to and its workers receive from.
pub fn embedded_queues(db: Db, clock: Arc<dyn Clock>, redrive: Option<Redrive>) -> QueueFor {
    Arc::new(move |provider: &str| {
        Arc::new(LocalQueue::new(
            db.clone(),
            &format!("provider-jobs/{provider}"),
            redrive.clone(),
            clock.clone(),
        )) as Arc<dyn Queue>
    })
}

impl Process {
    /// Every adapter of the configured backend.
    pub async fn connect(config: Config) -> Result<Process, StartError> {
        match config.backend {
            Backend::Aws => Ok(Process {
                services: Services::aws(config).await?,
                local_media: None,
                local_db: None,
            }),
            Backend::Local => Process::local(config),
        }
    }

    fn local(config: Config) -> Result<Process, StartError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let db = local_db(&config)?;
        let signer = UrlSigner::new(
            &media_signing_key(&config)?,
            &config.public_url,
            clock.clone(),
        );
        let media = FsBlobStore::new(&config.data_dir.join("blobs"), signer);
        let env = EnvSecrets::load(Some(Path::new(".env")))
            .map_err(|e| StartError::Backend(e.to_string()))?;
        let vault = FileTokenVault::from_key_file(&config.data_dir.join("token-vault.key"))
            .map_err(|e| {
                StartError::Backend(format!(
                    "{e}; connected accounts' tokens cannot be opened without it"
                ))
            })?;
        Ok(Process {
            services: Services {
                vault: Some(Arc::new(vault)),
                store: Arc::new(SqliteItemStore::new(db.clone())),
                blobs: Arc::new(media.clone()),
                secrets: Arc::new(CachedSecrets::new(env, clock.clone(), SECRETS_TTL)),
                clock,
                config,
            },
            local_media: Some(media),
            local_db: Some(db),
        })
    }

    /// The adapters alone, for code that takes [`Services`].
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The local pipeline (embedded backend only): the workflow on the in-process engine and
    /// a queue per provider in the embedded database. `time_scale` shortens waits (1.0
    /// outside tests). Call `run_background` on it to work its queues.
    pub fn local_pipeline(&self, time_scale: f64) -> Result<Arc<LocalPipeline>, StartError> {
        let db = self.local_db.clone().ok_or_else(|| {
            StartError::Backend(
                "the local pipeline needs VIRAL_BACKEND=local; on AWS, Step Functions runs the workflow"
                    .into(),
            )
        })?;
        let redrive = Redrive {
            dead_letter_queue: "provider-jobs-dlq".into(),
            max_receives: 5,
        };
        let queue_for = embedded_queues(db, self.clock.clone(), Some(redrive));
        let mut options = Options::default().time_scale(time_scale);
        options
            .concurrency
            .extend(self.config.providers.concurrency.clone());
        LocalPipeline::new(self.step_deps()?, queue_for, options).map_err(StartError::Backend)
    }
}
