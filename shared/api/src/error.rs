//! Errors as HTTP: `{"error":{"code","message","request_id"}}` with stable codes. This is the
//! one place where domain errors become status codes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use viral_core::Error;
use viral_core::ports::{BlobError, QueueError, SecretsError, StoreError};

tokio::task_local! {
    /// The current request's id, set by the request-id middleware for everything it runs.
    pub(crate) static REQUEST_ID: String;
}

pub(crate) fn current_request_id() -> String {
    REQUEST_ID
        .try_with(Clone::clone)
        .unwrap_or_else(|_| String::from("unknown"))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub retry_after: Option<u64>,
}

/// The error envelope.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable code, e.g. `invalid_credentials`, `rate_limited`.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
    /// Also sent as the `x-request-id` header.
    pub request_id: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The envelope as a response body carries it.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.clone(),
                request_id: current_request_id(),
            },
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; the request id identifies it in our logs",
        )
    }

    fn unavailable(message: impl Into<String>) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message);
        e.retry_after = Some(1);
        e
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidCursor => Self::new(
                StatusCode::BAD_REQUEST,
                "invalid_cursor",
                "the cursor is malformed or belongs to another listing",
            ),
            StoreError::Invalid(m) => Self::new(StatusCode::BAD_REQUEST, "invalid_request", m),
            StoreError::ConditionFailed { .. } => Self::new(
                StatusCode::CONFLICT,
                "conflict",
                "the resource changed concurrently; retry",
            ),
            StoreError::Conflict | StoreError::Throttled => {
                Self::unavailable("the store is busy; retry shortly")
            }
            StoreError::Backend(detail) => {
                tracing::error!(%detail, "store backend error");
                Self::unavailable("the store is unavailable; retry shortly")
            }
        }
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        let msg = e.to_string();
        match e {
            Error::Invalid(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", msg)
            }
            Error::NotFound(what) => Self::not_found(what),
            Error::Unauthenticated(_) => {
                Self::new(StatusCode::UNAUTHORIZED, "invalid_credentials", msg)
            }
            Error::Forbidden { code, message } => Self::new(StatusCode::FORBIDDEN, code, message),
            Error::RateLimited { retry_after_secs } => {
                let mut err = Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", msg);
                err.retry_after = Some(retry_after_secs);
                err
            }
            Error::QuotaExceeded { .. } => {
                Self::new(StatusCode::PAYMENT_REQUIRED, "quota_exceeded", msg)
            }
            Error::ProviderNotInPlan(_) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "provider_not_in_plan",
                msg,
            ),
            Error::CostCapExceeded(_) => {
                Self::new(StatusCode::PAYMENT_REQUIRED, "cost_cap_exceeded", msg)
            }
            Error::Conflict(_) => Self::new(StatusCode::CONFLICT, "conflict", msg),
            Error::State { code, message } => Self::new(StatusCode::CONFLICT, code, message),
            Error::NotConfigured { code, message } => {
                Self::new(StatusCode::NOT_IMPLEMENTED, code, message)
            }
            Error::Unavailable { code, message } => {
                Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
            }
            Error::BadWebhook { code, message } => {
                Self::new(StatusCode::BAD_REQUEST, code, message)
            }
            Error::Billing(viral_core::ports::BillingError::NotConfigured(detail)) => {
                tracing::warn!(%detail, "billing not configured");
                Self::new(
                    StatusCode::NOT_IMPLEMENTED,
                    "billing_not_configured",
                    "billing is not set up in this deployment (Stripe keys and prices); an operator can change plans with `viral tenant set-plan`",
                )
            }
            Error::Billing(viral_core::ports::BillingError::Refused(detail)) => {
                tracing::error!(%detail, "Stripe refused a request");
                Self::new(
                    StatusCode::BAD_GATEWAY,
                    "payment_provider_error",
                    "the payment provider refused the request; the operator has been told",
                )
            }
            Error::Billing(viral_core::ports::BillingError::Unavailable(detail)) => {
                tracing::warn!(%detail, "Stripe unavailable");
                let mut err = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "payment_provider_unavailable",
                    "the payment provider is unavailable; retry shortly",
                );
                err.retry_after = Some(5);
                err
            }
            Error::IdempotencyMismatch => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_mismatch",
                msg,
            ),
            Error::Store(se) => se.into(),
            Error::Blob(BlobError::InvalidKey) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_request", msg)
            }
            Error::Blob(BlobError::Backend(detail))
            | Error::Queue(QueueError::Backend(detail))
            | Error::Secrets(SecretsError::Backend(detail)) => {
                tracing::error!(%detail, "backend error");
                Self::unavailable("a backend is unavailable; retry shortly")
            }
            Error::Queue(QueueError::Invalid(m)) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_request", m)
            }
            Error::Schedule(viral_core::ports::ScheduleError::Unavailable(detail)) => {
                tracing::error!(%detail, "autopilot scheduler unavailable");
                Self::unavailable(
                    "the settings are saved but autopilot's schedule could not be updated; send them again",
                )
            }
            Error::Workflow(viral_core::ports::WorkflowError::Unavailable(detail)) => {
                tracing::error!(%detail, "workflow unavailable");
                Self::unavailable("the video workflow is unavailable; retry shortly")
            }
            Error::Vault(viral_core::ports::VaultError::Unavailable(detail)) => {
                tracing::error!(%detail, "token vault unavailable");
                Self::unavailable("the token vault is unavailable; retry shortly")
            }
            Error::Vault(viral_core::ports::VaultError::Unreadable) => {
                // A stored token that no longer opens: the record or the master key changed.
                tracing::error!("a sealed token cannot be opened");
                Self::internal()
            }
            Error::Platform(e) => {
                use viral_core::ports::PublishError as P;
                let code = e.code();
                match e {
                    P::NeedsReconnect(_) | P::Unauthorized(_) => {
                        Self::new(StatusCode::CONFLICT, "account_needs_reconnect", msg)
                    }
                    P::Limited {
                        retry_after_secs, ..
                    } => {
                        let mut err =
                            Self::new(StatusCode::TOO_MANY_REQUESTS, "platform_limited", msg);
                        err.retry_after = Some(retry_after_secs);
                        err
                    }
                    P::Rejected { .. } => Self::new(
                        StatusCode::BAD_GATEWAY,
                        "platform_refused",
                        format!("the platform refused: {msg} ({code})"),
                    ),
                    // Like billing: nothing a retry changes until an operator sets it up.
                    P::NotConfigured(_) => {
                        Self::new(StatusCode::NOT_IMPLEMENTED, "platform_not_configured", msg)
                    }
                    P::Transient(_) | P::Unknown(_) => {
                        tracing::warn!(error = %msg, "platform unavailable");
                        Self::new(
                            StatusCode::BAD_GATEWAY,
                            "platform_unavailable",
                            "the platform did not answer; retry shortly",
                        )
                    }
                }
            }
            Error::Secrets(SecretsError::InvalidName(_)) => {
                Self::new(StatusCode::BAD_REQUEST, "invalid_request", msg)
            }
            Error::Source(viral_core::ports::SourceError::Transient(_)) => {
                let mut err = Self::new(StatusCode::SERVICE_UNAVAILABLE, "source_unavailable", msg);
                err.retry_after = Some(30);
                err
            }
            Error::Source(viral_core::ports::SourceError::QuotaExhausted(_)) => {
                tracing::warn!(detail = %msg, "trend source quota spent");
                let mut err = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "source_quota_exhausted",
                    format!("{msg}; meanwhile, pass topics to write from your own subjects"),
                );
                err.retry_after = Some(3600);
                err
            }
            Error::Source(
                viral_core::ports::SourceError::Permanent(_)
                | viral_core::ports::SourceError::Credentials(_),
            ) => {
                tracing::error!(detail = %msg, "trend source or writer misconfigured");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "source_unavailable",
                    "a trend source or the concept writer is not usable; the operator has been told",
                )
            }
            Error::Source(viral_core::ports::SourceError::Unusable(_)) => {
                Self::new(StatusCode::BAD_GATEWAY, "writer_failed", msg)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                request_id: current_request_id(),
            },
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        let headers = resp.headers_mut();
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;
