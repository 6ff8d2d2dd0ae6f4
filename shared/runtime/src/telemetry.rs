//! Logging: JSON lines in Lambda (CloudWatch adds the timestamp), readable text locally.
//! The filter comes from `RUST_LOG`, default `info`.

use tracing_subscriber::EnvFilter;

/// True inside a Lambda execution environment.
pub fn in_lambda() -> bool {
    std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some()
}

/// Installs the global subscriber once; later calls do nothing.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if in_lambda() {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .without_time()
            .with_ansi(false)
            .try_init()
    } else {
        builder.with_target(false).try_init()
    };
}
