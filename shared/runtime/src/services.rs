//! Adapters chosen by the configuration. Each builder constructs clients only; none makes a
//! network call, so Lambda init stays fast and a Lambda builds only what its route needs.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use viral_api::AppState;
use viral_api::auth::jwt::JwtVerifier;
use viral_aws::{DynamoItemStore, S3BlobStore, SdkConfig, SecretsManagerSecrets};
use viral_core::ports::{
    BlobStore, CachedSecrets, ConceptWriter, ItemStore, Publishers, Secrets, TokenVault,
    TrendSource,
};
use viral_core::{Clock, SystemClock};
use viral_embedded::{
    Db, EnvSecrets, FsBlobStore, LocalQueue, Redrive, SqliteItemStore, UrlSigner,
};
use viral_providers::Registry;
use viral_steps::Deps;
use viral_steps::local::{LocalPipeline, Options, QueueFor};

use crate::config::{Backend, Config, ConfigError};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Backend(String),
}

/// The adapters of one process.
#[derive(Clone)]
pub struct Services {
    pub config: Config,
    pub clock: Arc<dyn Clock>,
    pub store: Arc<dyn ItemStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub secrets: Arc<dyn Secrets>,
    /// Seals connected accounts' tokens: a key file locally, KMS on AWS (`None` on AWS
    /// without `VIRAL_KMS_KEY_ID`: publishing is off).
    pub vault: Option<Arc<dyn TokenVault>>,
    /// Set in local mode: the blob store whose signed URLs the local server must serve.
    pub local_media: Option<FsBlobStore>,
    /// Set in local mode: the embedded database, for the local queues.
    local_db: Option<Db>,
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

fn require<'a>(v: &'a Option<String>, var: &'static str) -> Result<&'a str, StartError> {
    v.as_deref().ok_or_else(|| {
        StartError::Config(ConfigError {
            var,
            problem: "required when VIRAL_BACKEND=aws".into(),
        })
    })
}

/// Whether S3 needs path-style addressing: for an S3-compatible server on loopback.
fn path_style() -> bool {
    std::env::var("AWS_ENDPOINT_URL")
        .is_ok_and(|u| u.contains("127.0.0.1") || u.contains("localhost"))
}

/// The media bucket, delivered through CloudFront when a CDN is configured.
pub fn media_store(
    config: &Config,
    conf: &SdkConfig,
    bucket: &str,
    path_style: bool,
    secrets: Arc<dyn Secrets>,
) -> S3BlobStore {
    let s3 = S3BlobStore::from_conf(conf, bucket, path_style);
    match &config.cdn {
        Some(cdn) => s3.with_cdn(viral_aws::CloudFrontSigner::new(
            &cdn.domain,
            &cdn.key_pair_id,
            secrets,
        )),
        None => s3,
    }
}

/// The API's billing: settings, secrets, and the Stripe client when `with_gateway`.
pub fn billing_state(
    billing: &crate::billing_config::BillingConfig,
    secrets: Arc<dyn Secrets>,
    with_gateway: bool,
) -> viral_api::BillingState {
    viral_api::BillingState {
        settings: billing.settings.clone(),
        gateway: with_gateway.then(|| {
            Arc::new(viral_billing::StripeGateway::new(
                secrets.clone(),
                &billing.stripe_base_url,
            )) as Arc<dyn viral_core::ports::BillingGateway>
        }),
        secrets,
    }
}

/// The item store alone: all the API Lambdas need.
pub async fn item_store(
    config: &Config,
    aws: Option<&SdkConfig>,
) -> Result<Arc<dyn ItemStore>, StartError> {
    Ok(match (config.backend, aws) {
        (Backend::Aws, Some(conf)) => Arc::new(DynamoItemStore::from_conf(
            conf,
            require(&config.table, "VIRAL_TABLE")?,
        )),
        (Backend::Aws, None) => {
            let conf = viral_aws::load_sdk_config().await;
            Arc::new(DynamoItemStore::from_conf(
                &conf,
                require(&config.table, "VIRAL_TABLE")?,
            ))
        }
        (Backend::Local, _) => Arc::new(SqliteItemStore::new(local_db(config)?)),
    })
}

/// The API's state: item store, clock, JWT verifier, limits.
pub async fn api_state(
    config: &Config,
    store: Arc<dyn ItemStore>,
    clock: Arc<dyn Clock>,
) -> Result<AppState, StartError> {
    let mut state = AppState::new(store, clock);
    state.providers = crate::providers::catalog(&config.providers);
    state.concept_sources = viral_api::ConceptSourceNames {
        trend_source: config.sources.trend_sources.join("+"),
        writer: match config.sources.writer.as_str() {
            "anthropic" => config.sources.anthropic_model.clone(),
            other => other.to_owned(),
        },
    };
    state.rate_limit = config.rate_limit;
    state.max_body_bytes = config.max_body_bytes;
    state.allow_loopback = config.providers.allow_loopback;
    if let Some(jwt) = &config.jwt {
        state.jwt = Some(Arc::new(
            JwtVerifier::new(jwt.clone()).map_err(StartError::Backend)?,
        ));
    }
    Ok(state)
}

impl Services {
    /// Every adapter, for the local server, the CLI and `viral doctor`.
    pub async fn connect(config: Config) -> Result<Services, StartError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let secrets_ttl = Duration::from_secs(300);
        match config.backend {
            Backend::Local => {
                let db = local_db(&config)?;
                let signer = UrlSigner::new(
                    &media_signing_key(&config)?,
                    &config.public_url,
                    clock.clone(),
                );
                let media = FsBlobStore::new(&config.data_dir.join("blobs"), signer);
                let env = EnvSecrets::load(Some(Path::new(".env")))
                    .map_err(|e| StartError::Backend(e.to_string()))?;
                let vault = viral_embedded::FileTokenVault::from_key_file(
                    &config.data_dir.join("token-vault.key"),
                )
                .map_err(|e| {
                    StartError::Backend(format!(
                        "{e}; connected accounts' tokens cannot be opened without it"
                    ))
                })?;
                Ok(Services {
                    vault: Some(Arc::new(vault)),
                    store: Arc::new(SqliteItemStore::new(db.clone())),
                    local_db: Some(db),
                    blobs: Arc::new(media.clone()),
                    secrets: Arc::new(CachedSecrets::new(env, clock.clone(), secrets_ttl)),
                    local_media: Some(media),
                    clock,
                    config,
                })
            }
            Backend::Aws => {
                let conf = viral_aws::load_sdk_config().await;
                let bucket = require(&config.bucket, "VIRAL_BUCKET")?;
                let sm = SecretsManagerSecrets::from_conf(&conf, &config.secrets_prefix);
                let secrets: Arc<dyn Secrets> =
                    Arc::new(CachedSecrets::new(sm, clock.clone(), secrets_ttl));
                let blobs = media_store(&config, &conf, bucket, path_style(), secrets.clone());
                let vault = config.kms_key_id.as_deref().map(|k| {
                    Arc::new(viral_aws::KmsTokenVault::from_conf(&conf, k)) as Arc<dyn TokenVault>
                });
                Ok(Services {
                    vault,
                    store: item_store(&config, Some(&conf)).await?,
                    blobs: Arc::new(blobs),
                    secrets,
                    local_media: None,
                    local_db: None,
                    clock,
                    config,
                })
            }
        }
    }

    /// The publishers this process can use: the sandbox always, the platforms whose app
    /// credentials are configured.
    pub fn publishers(&self) -> Publishers {
        crate::social::publishers(&self.config, self.secrets.clone())
    }

    /// What the publish steps need; empty publishers without a vault.
    pub fn social(&self) -> viral_steps::Social {
        viral_steps::Social {
            publishers: self.publishers(),
            vault: self.vault.clone(),
            limits: Default::default(),
        }
    }

    /// What the account and post routes need (`None` without a vault).
    pub fn social_state(&self, return_origins: Vec<String>) -> Option<viral_api::SocialState> {
        Some(viral_api::SocialState {
            vault: self.vault.clone()?,
            publishers: self.publishers(),
            limits: Default::default(),
            public_url: self.config.public_url.clone(),
            return_origins,
        })
    }

    pub async fn api_state(&self) -> Result<AppState, StartError> {
        let mut state = api_state(&self.config, self.store.clone(), self.clock.clone()).await?;
        state.social = self.social_state(Vec::new());
        state.media = Some(Arc::new(self.blobs.clone()));
        state.media_url_ttl = self.config.media_url_ttl;
        state.trends = self.trend_source()?;
        state.writer = self.concept_writer()?;
        state.billing = self
            .config
            .billing
            .as_ref()
            .map(|b| billing_state(b, self.secrets.clone(), true));
        Ok(state)
    }

    /// Where concept batches get their trends (live sources behind the trend cache).
    pub fn trend_source(&self) -> Result<Arc<dyn TrendSource>, StartError> {
        crate::sources::trend_source(
            &self.config.sources,
            self.secrets.clone(),
            self.store.clone(),
            self.clock.clone(),
        )
    }

    /// Who writes concepts.
    pub fn concept_writer(&self) -> Result<Arc<dyn ConceptWriter>, StartError> {
        crate::sources::concept_writer(&self.config.sources, self.secrets.clone())
    }

    /// The providers this process can use (clients only; keys are read on first use).
    pub fn providers(&self) -> Result<Registry, StartError> {
        crate::providers::registry(
            &self.config.providers,
            self.secrets.clone(),
            self.blobs.clone(),
        )
    }

    /// The local pipeline (embedded backend only): the workflow on the in-process engine and
    /// a queue per provider in the embedded database. `time_scale` shortens waits (1.0
    /// outside tests). Call `run_background` on it to work its queues.
    pub fn local_pipeline(&self, time_scale: f64) -> Result<Arc<LocalPipeline>, StartError> {
        let db = self.local_db.clone().ok_or_else(|| {
            StartError::Backend("the local pipeline needs VIRAL_BACKEND=local; on AWS, Step Functions runs the workflow".into())
        })?;
        let deps = Deps {
            store: self.store.clone(),
            blobs: self.blobs.clone(),
            clock: self.clock.clone(),
            providers: self.providers()?,
            social: self.social(),
            provider_captions: self.config.providers.provider_captions,
            narrator: crate::providers::free_voice(&self.config.providers, self.secrets.clone())?,
        };
        let clock = self.clock.clone();
        let queue_for: QueueFor = Arc::new(move |provider: &str| {
            let redrive = Redrive {
                dead_letter_queue: "provider-jobs-dlq".into(),
                max_receives: 5,
            };
            Arc::new(LocalQueue::new(
                db.clone(),
                &format!("provider-jobs/{provider}"),
                Some(redrive),
                clock.clone(),
            )) as Arc<dyn viral_core::ports::Queue>
        });
        let mut options = Options::default().time_scale(time_scale);
        options
            .concurrency
            .extend(self.config.providers.concurrency.clone());
        LocalPipeline::new(deps, queue_for, options).map_err(StartError::Backend)
    }
}
