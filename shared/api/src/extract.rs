//! Extractors whose rejections are our JSON errors, and the authenticated caller.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use viral_core::service::{Principal, api_keys};

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body. Wrong content type → 415, oversized → 413, bad syntax → 400, wrong shape → 422.
pub(crate) struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Json(v)),
            Err(rej) => Err(json_rejection(&rej)),
        }
    }
}

fn json_rejection(rej: &JsonRejection) -> ApiError {
    if body_timed_out(rej) {
        return body_timeout();
    }
    let text = for_people(&rej.body_text());
    match rej.status() {
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", text)
        }
        _ => ApiError::new(StatusCode::BAD_REQUEST, "invalid_json", text),
    }
}

/// The raw body (the Stripe webhook's signature covers its exact bytes), with the same
/// errors as `Json` for a body too large or too slow.
pub(crate) struct RawBody(pub axum::body::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(RawBody(b)),
            Err(rej) if body_timed_out(&rej) => Err(body_timeout()),
            Err(rej) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            )),
            Err(rej) => Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_body",
                for_people(&rej.body_text()),
            )),
        }
    }
}

/// A decoder's message in the API's words: no Rust type names (`u64`, `struct
/// CreateVideoRequest`), no framework preamble; what was wrong and where stays.
pub(crate) fn for_people(text: &str) -> String {
    let mut text = text;
    for preamble in [
        "Failed to deserialize the JSON body into the target type: ",
        "Failed to parse the request body as JSON: ",
        "Failed to deserialize query string: ",
        "Failed to deserialize query string. Error: ",
        "Failed to buffer the request body: ",
    ] {
        if let Some(rest) = text.strip_prefix(preamble) {
            text = rest;
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut words = text.split(' ').peekable();
    let mut first = true;
    while let Some(word) = words.next() {
        if !first {
            out.push(' ');
        }
        first = false;
        // Keep what follows the type name (`,`, `)`, ` at line 1`).
        let (name, tail) = word
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .map_or((word, ""), |i| word.split_at(i));
        let said = match name {
            "struct" | "enum" => {
                // `struct Name` or `enum Name`: the name goes with it.
                let next = words.next().unwrap_or_default();
                let rest = next.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || c == '_');
                out.push_str(if name == "struct" {
                    "an object"
                } else {
                    "one of the documented values"
                });
                out.push_str(rest);
                continue;
            }
            "u8" | "u16" | "u32" | "u64" | "u128" | "usize" => "a whole number of at least 0",
            "i8" | "i16" | "i32" | "i64" | "i128" | "isize" => "a whole number",
            "f32" | "f64" => "a number",
            "sequence" => "array",
            "map" => "object",
            "bool" => "true or false",
            _ => {
                out.push_str(word);
                continue;
            }
        };
        out.push_str(said);
        out.push_str(tail);
    }
    out
}

/// Whether reading the body failed because the server's body-read timeout ran out.
fn body_timed_out(rej: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(rej);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

fn body_timeout() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "the request body did not arrive in time",
    )
}

#[cfg(test)]
mod tests {
    use super::for_people;

    #[test]
    fn decoder_messages_lose_their_rust_type_names() {
        assert_eq!(
            for_people(
                "Failed to deserialize the JSON body into the target type: invalid type: sequence, expected struct CreateVideoRequest at line 1 column 0"
            ),
            "invalid type: array, expected an object at line 1 column 0"
        );
        assert_eq!(
            for_people("invalid type: string \"x\", expected u64 at line 1 column 14"),
            "invalid type: string \"x\", expected a whole number of at least 0 at line 1 column 14"
        );
        assert_eq!(
            for_people("Failed to deserialize query string: limit: invalid digit found in string"),
            "limit: invalid digit found in string"
        );
        assert_eq!(
            for_people("missing field `platform` at line 1 column 2"),
            "missing field `platform` at line 1 column 2"
        );
        assert_eq!(
            for_people("invalid type: floating point `1.5`, expected usize"),
            "invalid type: floating point `1.5`, expected a whole number of at least 0"
        );
    }
}

/// Query-string parameters; a malformed query → 400.
pub(crate) struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Query(q.0))
            .map_err(|rej: QueryRejection| invalid_query(for_people(&rej.body_text())))
    }
}

/// 400 `invalid_query`: a query string that does not parse or a value out of its range.
pub(crate) fn invalid_query(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", message)
}

/// Path parameters; a malformed path → 400.
pub(crate) struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| Path(p.0))
            .map_err(|rej: PathRejection| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_path",
                    for_people(&rej.body_text()),
                )
            })
    }
}

/// The caller, authenticated by API key or OIDC JWT, and counted against the rate limit.
pub(crate) struct Caller(pub Principal);

const MAX_TOKEN_BYTES: usize = 8 * 1024;

fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let missing = || {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_credentials",
            "send Authorization: Bearer <API key or token>",
        )
    };
    let invalid = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "invalid_credentials", m);
    let value = parts
        .headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(missing)?;
    let value = value
        .to_str()
        .map_err(|_| invalid("the Authorization header is not ASCII"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| invalid("the Authorization header must be `Bearer <credential>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(invalid("the Authorization scheme must be Bearer"));
    }
    let token = token.trim();
    if token.is_empty() || token.len() > MAX_TOKEN_BYTES {
        return Err(invalid("the bearer credential is empty or too long"));
    }
    Ok(token)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let principal = if viral_core::domain::api_key::looks_like_api_key(token) {
            // Counted against the rate limit in the same write that checks the key.
            api_keys::authenticate(
                &*state.store,
                &*state.clock,
                &state.known_keys,
                token,
                state.rate_limit,
            )
            .await?
        } else if let Some(jwt) = &state.jwt {
            // Counted in the user's window while the tenant is read.
            jwt.authenticate(&*state.store, &*state.clock, token, state.rate_limit)
                .await?
        } else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "invalid_credentials",
                "not an API key, and this deployment accepts no OIDC tokens",
            ));
        };
        // Every line logged for the rest of the request names the tenant.
        tracing::Span::current().record("tenant_id", principal.tenant.id.as_str());
        Ok(Caller(principal))
    }
}

/// A caller who may or may not send credentials: none is `None`; bad ones are still refused.
impl axum::extract::OptionalFromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        if !parts
            .headers
            .contains_key(axum::http::header::AUTHORIZATION)
        {
            return Ok(None);
        }
        <Caller as FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

/// The query of every list route: `?limit&cursor`.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListParams {
    /// Page size, 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The previous page's `next_cursor` (opaque; any other value is refused with 400).
    #[param(min_length = 1, max_length = 1024)]
    pub cursor: Option<String>,
}

/// A list route's page size: `limit` 1–100, default 20.
pub(crate) fn page_limit(limit: Option<u32>) -> Result<usize, crate::ApiError> {
    let limit = limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(invalid_query("limit must be 1 to 100"));
    }
    Ok(limit as usize)
}

/// The `Idempotency-Key` header, if sent (its format is checked by the service).
pub(crate) fn idempotency_key(
    headers: &axum::http::HeaderMap,
) -> Result<Option<String>, crate::ApiError> {
    headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str().map(str::to_owned).map_err(|_| {
                crate::ApiError::new(
                    axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_request",
                    "Idempotency-Key must be visible ASCII",
                )
            })
        })
        .transpose()
}
