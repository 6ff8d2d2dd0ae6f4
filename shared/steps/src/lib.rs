//! The video workflow's steps. Each is one function with typed input and output, run by a
//! step Lambda on AWS and by the local ASL engine on a laptop; errors carry the names the
//! state machine's Retry and Catch match on.

pub mod local;
pub mod steps;
pub mod worker;

use std::sync::Arc;

use viral_core::Clock;
use viral_core::ports::{BlobStore, ItemStore};
use viral_providers::Registry;

/// What the steps need, built once per process.
#[derive(Clone)]
pub struct Deps {
    pub store: Arc<dyn ItemStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub clock: Arc<dyn Clock>,
    pub providers: Registry,
}

/// A step's failure: `name` is what ASL `ErrorEquals` matches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {cause}")]
pub struct StepError {
    pub name: String,
    pub cause: String,
}

impl StepError {
    pub fn new(name: &str, cause: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            cause: cause.into(),
        }
    }
}

impl From<viral_core::Error> for StepError {
    fn from(e: viral_core::Error) -> Self {
        use viral_core::Error as E;
        use viral_core::ports::StoreError;
        let name = match &e {
            E::Store(StoreError::Conflict | StoreError::Throttled | StoreError::Backend(_)) => {
                "Store.Unavailable"
            }
            E::Blob(_) => "Blob.Unavailable",
            E::NotFound(_) => "Job.NotFound",
            _ => "Job.Invalid",
        };
        StepError::new(name, e.to_string())
    }
}

impl From<viral_core::ports::ProviderError> for StepError {
    fn from(e: viral_core::ports::ProviderError) -> Self {
        StepError::new(e.error_name(), e.to_string())
    }
}
