//! Adapters chosen by the configuration. Each builder constructs clients only; none makes a
//! network call, so Lambda init stays fast and a Lambda builds only what its route needs.

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
use viral_providers::Registry;
use viral_steps::Deps;

use crate::config::{Config, ConfigError};

/// How long a secret read from the store is kept before it is read again.
pub const SECRETS_TTL: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Backend(String),
}

/// The adapters of one process: built for AWS here ([`Services::aws`]); the embedded ones
/// for the CLI and `viral up` are wired by `viral-local`, which no Lambda links.
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

/// The API's billing: settings, secrets, and the Stripe client.
#[cfg(feature = "stripe")]
pub fn billing_state(
    billing: &crate::billing_config::BillingConfig,
    secrets: Arc<dyn Secrets>,
) -> viral_api::BillingState {
    viral_api::BillingState {
        settings: billing.settings.clone(),
        gateway: Some(Arc::new(viral_billing::StripeGateway::new(
            secrets.clone(),
            &billing.stripe_base_url,
        )) as Arc<dyn viral_core::ports::BillingGateway>),
        secrets,
    }
}

/// The DynamoDB item store alone: all the API Lambdas need.
pub async fn item_store(
    config: &Config,
    aws: Option<&SdkConfig>,
) -> Result<Arc<dyn ItemStore>, StartError> {
    let table = require(&config.table, "VIRAL_TABLE")?;
    Ok(match aws {
        Some(conf) => Arc::new(DynamoItemStore::from_conf(conf, table)),
        None => Arc::new(DynamoItemStore::from_conf(
            &viral_aws::load_sdk_config().await,
            table,
        )),
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
    /// Every AWS adapter, for the CLI and `viral doctor` with `VIRAL_BACKEND=aws`.
    pub async fn aws(config: Config) -> Result<Services, StartError> {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let conf = viral_aws::load_sdk_config().await;
        let bucket = require(&config.bucket, "VIRAL_BUCKET")?;
        let sm = SecretsManagerSecrets::from_conf(&conf, &config.secrets_prefix);
        let secrets: Arc<dyn Secrets> =
            Arc::new(CachedSecrets::new(sm, clock.clone(), SECRETS_TTL));
        let blobs = media_store(&config, &conf, bucket, path_style(), secrets.clone());
        let vault = config.kms_key_id.as_deref().map(|k| {
            Arc::new(viral_aws::KmsTokenVault::from_conf(&conf, k)) as Arc<dyn TokenVault>
        });
        Ok(Services {
            vault,
            store: item_store(&config, Some(&conf)).await?,
            blobs: Arc::new(blobs),
            secrets,
            clock,
            config,
        })
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
        // Without the `stripe` feature (a Lambda's build) there is no Stripe client, and the
        // billing routes answer `billing_not_configured`.
        #[cfg(feature = "stripe")]
        {
            state.billing = self
                .config
                .billing
                .as_ref()
                .map(|b| billing_state(b, self.secrets.clone()));
        }
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

    /// What the workflow's steps need, for a pipeline that runs them in this process.
    pub fn step_deps(&self) -> Result<Deps, StartError> {
        Ok(Deps {
            store: self.store.clone(),
            blobs: self.blobs.clone(),
            clock: self.clock.clone(),
            providers: self.providers()?,
            social: self.social(),
            provider_captions: self.config.providers.provider_captions,
            narrator: crate::providers::free_voice(&self.config.providers, self.secrets.clone())?,
        })
    }
}
