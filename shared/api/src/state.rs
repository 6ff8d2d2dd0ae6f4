//! What every request handler can reach. Built once per process (per Lambda cold start).

use std::sync::Arc;

use viral_core::Clock;
use viral_core::domain::RateLimit;
use viral_core::ports::ItemStore;

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
}

impl AppState {
    pub fn new(store: Arc<dyn ItemStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            jwt: None,
            rate_limit: RateLimit::default(),
            max_body_bytes: 64 * 1024,
        }
    }
}
