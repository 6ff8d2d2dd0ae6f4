//! Lambda entry points: a function's `main` calls one of these and nothing else.

use std::sync::Arc;

use viral_api::Route;
use viral_core::{Clock, SystemClock};

pub use lambda_http::Error;

use crate::config::Config;
use crate::services::{api_state, item_store};

/// Serves one API route behind API Gateway (HTTP API, payload v2). Builds config, the item
/// store and the JWT verifier once per cold start; no network calls happen here.
pub async fn serve_route(route: Route) -> Result<(), Error> {
    crate::telemetry::init();
    let config = Config::from_env().map_err(|e| {
        tracing::error!(error = %e, "bad configuration");
        e
    })?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store = item_store(&config, None).await?;
    let state = api_state(&config, store, clock).await?;
    let app = viral_api::router_for(state, &[route]);
    lambda_http::run(app).await
}
