//! The domain's one error type. `viral-api` maps it to HTTP in one place.

use crate::ports::{BlobError, QueueError, SecretsError, StoreError, VaultError, WorkflowError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that parsed but is not acceptable (422).
    #[error("{0}")]
    Invalid(String),
    /// Missing object, or one that belongs to another tenant (404; no existence leak).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// No usable credentials (401). The message says which check failed, never the secret.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Authenticated but not allowed (403), with a stable code.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    #[error("rate limit exceeded; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// A reservation that does not fit what is left of the period's quota (402). Nothing was
    /// reserved: a request for more than remains is refused whole, never trimmed.
    #[error(
        "this request needs {requested} {resource}(s) but {remaining} of the period's {limit} remain; the quota resets on {resets_at}"
    )]
    QuotaExceeded {
        resource: &'static str,
        limit: i64,
        requested: i64,
        remaining: i64,
        resets_at: String,
    },
    /// The plan's routing tier does not include the provider the request named (422).
    #[error("{0}")]
    ProviderNotInPlan(String),
    /// The job would cost more in provider fees than the plan lets one video cost (402).
    #[error("{0}")]
    CostCapExceeded(String),
    #[error("{0}")]
    Conflict(String),
    /// The request does not fit the object's state (409), with a stable code.
    #[error("{message}")]
    State { code: &'static str, message: String },
    /// This deployment is not set up for what the request needs (501), with a stable code:
    /// nothing a retry changes until an operator configures it.
    #[error("{message}")]
    NotConfigured { code: &'static str, message: String },
    /// A part of this deployment the request needs is not running (503), with a stable code.
    #[error("{message}")]
    Unavailable { code: &'static str, message: String },
    /// An `Idempotency-Key` reused with a different request (422).
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyMismatch,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
    #[error(transparent)]
    Schedule(#[from] crate::ports::ScheduleError),
    #[error(transparent)]
    Vault(#[from] VaultError),
    /// A social platform refused or failed a call.
    #[error(transparent)]
    Platform(#[from] crate::ports::PublishError),
    /// A webhook that is not signed by Stripe, signed too long ago, or not an event (400).
    #[error("{message}")]
    BadWebhook { code: &'static str, message: String },
    /// The payment provider failed or is not set up.
    #[error(transparent)]
    Billing(#[from] crate::ports::BillingError),
    /// A trend source or the concept writer failed.
    #[error(transparent)]
    Source(#[from] crate::ports::SourceError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
