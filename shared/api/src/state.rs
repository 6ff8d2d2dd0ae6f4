//! What every request handler can reach. Built once per process (per Lambda cold start).

use std::sync::Arc;

use viral_core::Clock;
use viral_core::domain::RateLimit;
use viral_core::domain::routing::ProviderInfo;
use viral_core::ports::{
    ConceptWriter, ItemStore, MediaUrls, RuleWriter, SampleTrends, TrendSource, Workflow,
};

use crate::auth::jwt::JwtVerifier;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn ItemStore>,
    pub clock: Arc<dyn Clock>,
    /// `None` when no OIDC issuer is configured: only API keys are accepted.
    pub jwt: Option<Arc<JwtVerifier>>,
    pub rate_limit: RateLimit,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Runs video jobs; `None` where this process cannot start them.
    pub workflow: Option<Arc<dyn Workflow>>,
    /// Signs video URLs on read; `None` where this process serves no media.
    pub media: Option<Arc<dyn MediaUrls>>,
    /// The video providers we know; a job may ask for an enabled one by name (or `auto`).
    pub providers: Vec<ProviderInfo>,
    /// How long a signed video URL lives.
    pub media_url_ttl: std::time::Duration,
    /// Where concept batches get their trends, and who writes them.
    pub trends: Arc<dyn TrendSource>,
    pub writer: Arc<dyn ConceptWriter>,
    /// Their names as configured, for routes that list them without holding the clients.
    pub concept_sources: ConceptSourceNames,
    /// Stripe: `None` when this deployment has no billing (routes answer
    /// `billing_not_configured`).
    pub billing: Option<BillingState>,
    /// Connected accounts and publishing: `None` where this process does not handle them
    /// (routes answer `publishing_not_configured`).
    pub social: Option<SocialState>,
    /// `VIRAL_ALLOW_LOOPBACK_PROVIDERS=1` (local development; refused on AWS): webhook
    /// endpoints may be plain HTTP on this machine.
    pub allow_loopback: bool,
    /// Autopilot's per-tenant schedules (EventBridge Scheduler on AWS); `None` where a local
    /// scheduler ticks every tenant (`viral up`).
    pub autopilot_schedules: Option<Arc<dyn viral_core::ports::AutopilotSchedules>>,
    /// The tenants of keys this process has authenticated (see `KnownKeyTenants`).
    pub known_keys: Arc<viral_core::service::api_keys::KnownKeyTenants>,
}

/// What the account and post routes need.
#[derive(Clone)]
pub struct SocialState {
    pub vault: Arc<dyn viral_core::ports::TokenVault>,
    pub publishers: viral_core::ports::Publishers,
    pub limits: viral_core::domain::publish_limits::PublishLimits,
    /// Where platforms send the browser back after consent: `{public_url}/oauth/{platform}/callback`.
    pub public_url: String,
    /// Origins a connect may send the browser back to when it is done (the dashboard's).
    pub return_origins: Vec<String>,
}

#[derive(Clone)]
pub struct BillingState {
    pub settings: viral_core::service::billing::BillingSettings,
    /// The Stripe client; `None` in functions that do not call Stripe (the webhook).
    pub gateway: Option<Arc<dyn viral_core::ports::BillingGateway>>,
    /// Where the webhook signing secret is read.
    pub secrets: Arc<dyn viral_core::ports::Secrets>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConceptSourceNames {
    pub trend_source: String,
    pub writer: String,
}

impl AppState {
    pub fn new(store: Arc<dyn ItemStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            jwt: None,
            rate_limit: RateLimit::default(),
            max_body_bytes: 64 * 1024,
            workflow: None,
            media: None,
            providers: vec![ProviderInfo::storyboard()],
            media_url_ttl: std::time::Duration::from_secs(3600),
            trends: Arc::new(SampleTrends),
            writer: Arc::new(RuleWriter),
            concept_sources: ConceptSourceNames {
                trend_source: "sample".into(),
                writer: "rules".into(),
            },
            billing: None,
            social: None,
            allow_loopback: false,
            autopilot_schedules: None,
            known_keys: Arc::default(),
        }
    }
}
