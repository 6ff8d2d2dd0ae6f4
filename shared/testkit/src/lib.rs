//! Conformance suites, one per port: every adapter must pass the same checks. Each suite uses
//! fresh, random keys so it can run against a shared table, bucket or queue.

pub mod blob_store;
pub mod item_store;
pub mod learner;
pub mod publisher;
pub mod queue;
pub mod secrets;
pub mod stripe;
pub mod token_vault;

/// The moto server the test command started. A test that needs it and finds none fails: the
/// suite never skips silently.
pub fn moto_endpoint() -> String {
    match std::env::var("VIRAL_TEST_MOTO_ENDPOINT") {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "VIRAL_TEST_MOTO_ENDPOINT is not set: AWS adapter tests need moto. \
             Run the test command `tests/run` (it starts moto), or start \
             `moto_server -H 127.0.0.1 -p 5055` and export VIRAL_TEST_MOTO_ENDPOINT=http://127.0.0.1:5055"
        ),
    }
}

/// A short random name for test resources.
pub fn unique(prefix: &str) -> String {
    let id = viral_core::ids::new_id(prefix);
    // UUIDv7's leading hex is the time; keep the random tail so names differ within a millisecond.
    format!("{prefix}{}", &id[id.len() - 12..])
}
