//! How a command fails: the message for people and the exit code for scripts. Domain errors
//! take their exit code from the status the API would answer, through the API's one mapping,
//! so a script learns the same thing from `viral` as a client from HTTP.

use std::process::ExitCode;

use axum::http::StatusCode;
use viral_api::ApiError;

#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub exit: u8,
}

/// Exit codes (documented in the README): 0 success, 1 anything else, 2 usage or
/// configuration (HTTP 501: this deployment is not set up for it), 3 input refused (HTTP 400/413/415/422), 4 not found (404), 5 quota or
/// budget (402), 6 conflicts with the current state (409), 7 not allowed (401/403),
/// 8 a backend or provider is unavailable, try again (429/502/503/504).
pub fn exit_code(status: StatusCode) -> u8 {
    match status.as_u16() {
        501 => 2,
        400 | 408 | 413 | 415 | 416 | 422 => 3,
        404 => 4,
        402 => 5,
        409 => 6,
        401 | 403 => 7,
        429 | 502 | 503 | 504 => 8,
        _ => 1,
    }
}

impl Failure {
    pub fn report(&self) -> ExitCode {
        eprintln!("viral: {}", self.message);
        ExitCode::from(self.exit)
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure { message, exit: 1 }
    }
}

impl From<&str> for Failure {
    fn from(message: &str) -> Self {
        Failure::from(message.to_owned())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::from(e.to_string())
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        Failure::from(e.to_string())
    }
}

impl From<viral_core::Error> for Failure {
    fn from(e: viral_core::Error) -> Self {
        let api = ApiError::from(e);
        Failure {
            exit: exit_code(api.status),
            message: api.message,
        }
    }
}

impl From<viral_core::ports::StoreError> for Failure {
    fn from(e: viral_core::ports::StoreError) -> Self {
        Failure::from(viral_core::Error::from(e))
    }
}

impl From<viral_runtime::StartError> for Failure {
    fn from(e: viral_runtime::StartError) -> Self {
        let exit = match e {
            viral_runtime::StartError::Config(_) => 2,
            viral_runtime::StartError::Backend(_) => 1,
        };
        Failure {
            message: e.to_string(),
            exit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_http_status_of_the_same_error() {
        let of = |e: viral_core::Error| Failure::from(e).exit;
        assert_eq!(of(viral_core::Error::Invalid("x".into())), 3);
        assert_eq!(of(viral_core::Error::NotFound("tenant")), 4);
        assert_eq!(of(viral_core::Error::CostCapExceeded("too dear".into())), 5);
        assert_eq!(
            of(viral_core::Error::State {
                code: "suspended",
                message: "x".into()
            }),
            6
        );
        assert_eq!(of(viral_core::Error::Unauthenticated("no")), 7);
        assert_eq!(
            of(viral_core::Error::NotConfigured {
                code: "webhooks_not_configured",
                message: "x".into()
            }),
            2
        );
        assert_eq!(Failure::from("boom").exit, 1);
    }
}
