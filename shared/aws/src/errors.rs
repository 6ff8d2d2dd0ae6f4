//! Turning SDK errors into port errors without losing the reason.

use aws_sdk_dynamodb::error::ProvideErrorMetadata;

/// The service's error code (e.g. `ConditionalCheckFailedException`), if the service answered.
pub(crate) fn code<E: ProvideErrorMetadata>(e: &E) -> Option<&str> {
    e.code()
}

/// A one-line description with the source chain, for logs and `Backend` errors.
pub(crate) fn describe<E: std::error::Error>(e: &E) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}
