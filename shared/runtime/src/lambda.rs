//! Lambda entry points: a function's `main` calls one of these and nothing else.

use std::sync::Arc;

use viral_api::Route;
use viral_aws::DynamoItemStore;
use viral_core::ports::ItemStore;
use viral_core::{Clock, SystemClock};

pub use lambda_http::Error;

use crate::config::{Backend, Config, ConfigError};
use crate::services::api_state;

/// Configuration for a Lambda: always the AWS backend. Lambdas never link the embedded
/// adapters, which keeps SQLite out of their binaries.
fn lambda_config() -> Result<(Config, String), ConfigError> {
    let config = Config::from_env()?;
    if config.backend != Backend::Aws {
        return Err(ConfigError {
            var: "VIRAL_BACKEND",
            problem: "Lambda functions run with VIRAL_BACKEND=aws".into(),
        });
    }
    let table = config.table.clone().ok_or(ConfigError {
        var: "VIRAL_TABLE",
        problem: "required when VIRAL_BACKEND=aws".into(),
    })?;
    Ok((config, table))
}

/// Serves one API route behind API Gateway (HTTP API, payload v2). Builds config, the item
/// store and the JWT verifier once per cold start; no network calls happen here.
pub async fn serve_route(route: Route) -> Result<(), Error> {
    crate::telemetry::init();
    let (config, table) = lambda_config().map_err(|e| {
        tracing::error!(error = %e, "bad configuration");
        e
    })?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let aws = viral_aws::LambdaEnv::from_env().map_err(|e| {
        tracing::error!(error = %e, "no AWS environment");
        e
    })?;
    let store: Arc<dyn ItemStore> = Arc::new(DynamoItemStore::from_lambda_env(&aws, &table));
    let state = api_state(&config, store, clock).await?;
    let app = viral_api::router_for(state, &[route]);
    lambda_http::run(app).await
}
