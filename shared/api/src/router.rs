//! Routes, and the one Router that serves them: all at once locally, one per Lambda on AWS.

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::{ApiError, REQUEST_ID};
use crate::routes::{
    accounts, analytics, api_keys, autopilot, billing, concepts, health, me, posts, providers,
    sessions, settings, usage, videos, webhooks,
};
use crate::state::AppState;

/// Every route of the API. Each is also a Lambda under `functions/<function_name>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    Healthz,
    OpenApi,
    GetMe,
    GetSettings,
    PutSettings,
    CreateApiKey,
    ListApiKeys,
    RevokeApiKey,
    GetUsage,
    CreateVideo,
    EstimateVideo,
    GetVideo,
    ListVideos,
    GetVideoEvents,
    ListProviders,
    CreateConcepts,
    ListConcepts,
    GetConcept,
    GetConceptBatch,
    PostFeedback,
    GetInsights,
    CreateCheckout,
    CreatePortal,
    GetBilling,
    StripeWebhook,
    CreateSession,
    ConnectAccount,
    OAuthCallback,
    ListAccounts,
    GetAccount,
    RemoveAccount,
    PublishVideo,
    ListPosts,
    GetPost,
    CancelPost,
    GetPostMetrics,
    GetAnalytics,
    CreateWebhook,
    ListWebhooks,
    GetWebhook,
    DeleteWebhook,
    ListWebhookDeliveries,
    RetryWebhookDelivery,
    PutAutopilot,
    GetAutopilot,
    PauseAutopilot,
    ListAutopilotRuns,
    GetAutopilotRun,
    ApproveAutopilotRun,
    RejectAutopilotRun,
}

impl Route {
    pub const ALL: [Route; 50] = [
        Route::Healthz,
        Route::OpenApi,
        Route::GetMe,
        Route::GetSettings,
        Route::PutSettings,
        Route::CreateApiKey,
        Route::ListApiKeys,
        Route::RevokeApiKey,
        Route::GetUsage,
        Route::CreateVideo,
        Route::EstimateVideo,
        Route::GetVideo,
        Route::ListVideos,
        Route::GetVideoEvents,
        Route::ListProviders,
        Route::CreateConcepts,
        Route::ListConcepts,
        Route::GetConcept,
        Route::GetConceptBatch,
        Route::PostFeedback,
        Route::GetInsights,
        Route::CreateCheckout,
        Route::CreatePortal,
        Route::GetBilling,
        Route::StripeWebhook,
        Route::CreateSession,
        Route::ConnectAccount,
        Route::OAuthCallback,
        Route::ListAccounts,
        Route::GetAccount,
        Route::RemoveAccount,
        Route::PublishVideo,
        Route::ListPosts,
        Route::GetPost,
        Route::CancelPost,
        Route::GetPostMetrics,
        Route::GetAnalytics,
        Route::CreateWebhook,
        Route::ListWebhooks,
        Route::GetWebhook,
        Route::DeleteWebhook,
        Route::ListWebhookDeliveries,
        Route::RetryWebhookDelivery,
        Route::PutAutopilot,
        Route::GetAutopilot,
        Route::PauseAutopilot,
        Route::ListAutopilotRuns,
        Route::GetAutopilotRun,
        Route::ApproveAutopilotRun,
        Route::RejectAutopilotRun,
    ];

    pub fn method(self) -> &'static str {
        match self {
            Route::CreateApiKey
            | Route::CreateVideo
            | Route::CreateConcepts
            | Route::PostFeedback
            | Route::CreateCheckout
            | Route::CreatePortal
            | Route::StripeWebhook
            | Route::EstimateVideo
            | Route::CreateSession
            | Route::ConnectAccount
            | Route::PublishVideo
            | Route::CreateWebhook
            | Route::RetryWebhookDelivery
            | Route::PauseAutopilot
            | Route::ApproveAutopilotRun
            | Route::RejectAutopilotRun => "POST",
            Route::PutAutopilot | Route::PutSettings => "PUT",
            Route::RevokeApiKey
            | Route::RemoveAccount
            | Route::CancelPost
            | Route::DeleteWebhook => "DELETE",
            _ => "GET",
        }
    }

    /// The path as axum and API Gateway both write it.
    pub fn path(self) -> &'static str {
        match self {
            Route::Healthz => "/healthz",
            Route::OpenApi => "/openapi.json",
            Route::GetMe => "/v1/me",
            Route::GetSettings | Route::PutSettings => "/v1/settings",
            Route::CreateApiKey | Route::ListApiKeys => "/v1/api-keys",
            Route::RevokeApiKey => "/v1/api-keys/{id}",
            Route::GetUsage => "/v1/usage",
            Route::CreateVideo | Route::ListVideos => "/v1/videos",
            Route::EstimateVideo => "/v1/videos/estimate",
            Route::GetVideo => "/v1/videos/{id}",
            Route::GetVideoEvents => "/v1/videos/{id}/events",
            Route::ListProviders => "/v1/providers",
            Route::CreateConcepts | Route::ListConcepts => "/v1/concepts",
            Route::GetConcept => "/v1/concepts/{id}",
            Route::GetConceptBatch => "/v1/concept-batches/{id}",
            Route::PostFeedback => "/v1/concepts/{id}/feedback",
            Route::GetInsights => "/v1/insights",
            Route::CreateCheckout => "/v1/billing/checkout",
            Route::CreatePortal => "/v1/billing/portal",
            Route::GetBilling => "/v1/billing",
            Route::StripeWebhook => "/webhooks/stripe",
            Route::CreateSession => "/v1/sessions",
            Route::ConnectAccount => "/v1/accounts/connect",
            Route::OAuthCallback => "/oauth/{platform}/callback",
            Route::ListAccounts => "/v1/accounts",
            Route::GetAccount => "/v1/accounts/{id}",
            Route::RemoveAccount => "/v1/accounts/{id}",
            Route::PublishVideo => "/v1/videos/{id}/publish",
            Route::ListPosts => "/v1/posts",
            Route::GetPost => "/v1/posts/{id}",
            Route::GetPostMetrics => "/v1/posts/{id}/metrics",
            Route::GetAnalytics => "/v1/analytics",
            Route::CreateWebhook | Route::ListWebhooks => "/v1/webhooks",
            Route::GetWebhook | Route::DeleteWebhook => "/v1/webhooks/{id}",
            Route::ListWebhookDeliveries => "/v1/webhooks/{id}/deliveries",
            Route::RetryWebhookDelivery => "/v1/webhooks/{id}/deliveries/{delivery}/retry",
            Route::PutAutopilot | Route::GetAutopilot => "/v1/autopilot",
            Route::PauseAutopilot => "/v1/autopilot/pause",
            Route::ListAutopilotRuns => "/v1/autopilot/runs",
            Route::GetAutopilotRun => "/v1/autopilot/runs/{id}",
            Route::ApproveAutopilotRun => "/v1/autopilot/runs/{id}/approve",
            Route::RejectAutopilotRun => "/v1/autopilot/runs/{id}/reject",
            Route::CancelPost => "/v1/posts/{id}",
        }
    }

    /// The function crate under `functions/` that serves this route on AWS.
    pub fn function_name(self) -> &'static str {
        match self {
            Route::Healthz => "get-healthz",
            Route::OpenApi => "get-openapi",
            Route::GetMe => "get-me",
            Route::GetSettings => "get-settings",
            Route::PutSettings => "put-settings",
            Route::CreateApiKey => "create-api-key",
            Route::ListApiKeys => "list-api-keys",
            Route::RevokeApiKey => "revoke-api-key",
            Route::GetUsage => "get-usage",
            Route::CreateVideo => "create-video",
            Route::EstimateVideo => "estimate-video",
            Route::GetVideo => "get-video",
            Route::ListVideos => "list-videos",
            Route::GetVideoEvents => "get-video-events",
            Route::ListProviders => "list-providers",
            Route::CreateConcepts => "create-concepts",
            Route::ListConcepts => "list-concepts",
            Route::GetConcept => "get-concept",
            Route::GetConceptBatch => "get-concept-batch",
            Route::PostFeedback => "post-feedback",
            Route::GetInsights => "get-insights",
            Route::CreateCheckout => "create-checkout",
            Route::CreatePortal => "create-portal",
            Route::GetBilling => "get-billing",
            Route::StripeWebhook => "stripe-webhook",
            Route::CreateSession => "create-session",
            Route::ConnectAccount => "connect-account",
            Route::OAuthCallback => "oauth-callback",
            Route::ListAccounts => "list-accounts",
            Route::GetAccount => "get-account",
            Route::RemoveAccount => "remove-account",
            Route::PublishVideo => "publish-video",
            Route::ListPosts => "list-posts",
            Route::GetPost => "get-post",
            Route::GetPostMetrics => "get-post-metrics",
            Route::GetAnalytics => "get-analytics",
            Route::CreateWebhook => "create-webhook",
            Route::ListWebhooks => "list-webhooks",
            Route::GetWebhook => "get-webhook",
            Route::DeleteWebhook => "delete-webhook",
            Route::ListWebhookDeliveries => "list-webhook-deliveries",
            Route::RetryWebhookDelivery => "retry-webhook-delivery",
            Route::PutAutopilot => "put-autopilot",
            Route::GetAutopilot => "get-autopilot",
            Route::PauseAutopilot => "pause-autopilot",
            Route::ListAutopilotRuns => "list-autopilot-runs",
            Route::GetAutopilotRun => "get-autopilot-run",
            Route::ApproveAutopilotRun => "approve-autopilot-run",
            Route::RejectAutopilotRun => "reject-autopilot-run",
            Route::CancelPost => "cancel-post",
        }
    }

    /// This route's handler (the local server's router takes every route's).
    fn handler(self) -> MethodRouter<AppState> {
        (self.entry().handler)()
    }

    /// This route's entry point (a `const fn`: a route Lambda evaluates it at compile time,
    /// `const { Route::GetMe.entry() }`, so its binary links that route's handler alone).
    pub const fn entry(self) -> RouteEntry {
        /// A function item that builds the handler, so each arm names only its own.
        macro_rules! handler {
            ($e:expr) => {{
                fn build() -> MethodRouter<AppState> {
                    $e
                }
                build
            }};
        }
        let handler: fn() -> MethodRouter<AppState> = match self {
            Route::Healthz => handler!(get(health::healthz)),
            Route::OpenApi => handler!(get(openapi_json)),
            Route::GetMe => handler!(get(me::me)),
            Route::GetSettings => handler!(get(settings::get)),
            Route::PutSettings => handler!(put(settings::put)),
            Route::CreateApiKey => handler!(post(api_keys::create)),
            Route::ListApiKeys => handler!(get(api_keys::list)),
            Route::RevokeApiKey => handler!(delete(api_keys::revoke)),
            Route::GetUsage => handler!(get(usage::usage)),
            Route::CreateVideo => handler!(post(videos::create)),
            Route::EstimateVideo => handler!(post(videos::estimate)),
            Route::GetVideo => handler!(get(videos::get)),
            Route::ListVideos => handler!(get(videos::list)),
            Route::GetVideoEvents => handler!(get(videos::events)),
            Route::ListProviders => handler!(get(providers::list)),
            Route::CreateConcepts => handler!(post(concepts::create)),
            Route::ListConcepts => handler!(get(concepts::list)),
            Route::GetConcept => handler!(get(concepts::get)),
            Route::GetConceptBatch => handler!(get(concepts::get_batch)),
            Route::PostFeedback => handler!(post(concepts::feedback)),
            Route::GetInsights => handler!(get(concepts::insights)),
            Route::CreateSession => handler!(post(sessions::create)),
            Route::ConnectAccount => handler!(post(accounts::connect)),
            Route::OAuthCallback => handler!(get(accounts::callback)),
            Route::ListAccounts => handler!(get(accounts::list)),
            Route::GetAccount => handler!(get(accounts::get)),
            Route::RemoveAccount => handler!(delete(accounts::remove)),
            Route::PublishVideo => handler!(post(posts::publish)),
            Route::ListPosts => handler!(get(posts::list)),
            Route::GetPost => handler!(get(posts::get)),
            Route::GetPostMetrics => handler!(get(posts::metrics)),
            Route::GetAnalytics => handler!(get(analytics::get)),
            Route::CreateWebhook => handler!(post(webhooks::create)),
            Route::ListWebhooks => handler!(get(webhooks::list)),
            Route::GetWebhook => handler!(get(webhooks::get)),
            Route::DeleteWebhook => handler!(delete(webhooks::delete)),
            Route::ListWebhookDeliveries => handler!(get(webhooks::deliveries)),
            Route::RetryWebhookDelivery => handler!(post(webhooks::retry)),
            Route::PutAutopilot => handler!(put(autopilot::put)),
            Route::GetAutopilot => handler!(get(autopilot::get)),
            Route::PauseAutopilot => handler!(post(autopilot::pause)),
            Route::ListAutopilotRuns => handler!(get(autopilot::runs)),
            Route::GetAutopilotRun => handler!(get(autopilot::run)),
            Route::ApproveAutopilotRun => handler!(post(autopilot::approve)),
            Route::RejectAutopilotRun => handler!(post(autopilot::reject)),
            Route::CancelPost => handler!(delete(posts::cancel)),
            Route::CreateCheckout => handler!(post(billing::checkout)),
            Route::CreatePortal => handler!(post(billing::portal)),
            Route::GetBilling => handler!(get(billing::get)),
            // Stripe events can outgrow the API's body limit (long invoices).
            Route::StripeWebhook => {
                handler!(post(billing::webhook).layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT)))
            }
        };
        RouteEntry {
            route: self,
            handler,
        }
    }
}

/// One route with its handler; see [`Route::entry`].
#[derive(Clone, Copy)]
pub struct RouteEntry {
    pub route: Route,
    handler: fn() -> MethodRouter<AppState>,
}

/// Largest Stripe event accepted.
const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

async fn openapi_json() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        crate::openapi::DOCUMENT,
    )
        .into_response()
}

/// Every route.
pub fn router(state: AppState) -> Router {
    router_for(state, &Route::ALL)
}

/// Only the given routes, with the same errors, limits and middleware as the full API.
pub fn router_for(state: AppState, routes: &[Route]) -> Router {
    router_with(state, routes, Router::new())
}

/// The given routes plus `extra` (the local server's media route), under the same middleware.
pub fn router_with(state: AppState, routes: &[Route], extra: Router) -> Router {
    let mut r: Router<AppState> = Router::new();
    for route in routes {
        r = r.route(route.path(), route.handler());
    }
    layered(r, state, extra)
}

/// One route, as its Lambda serves it: the same errors, limits and middleware as the full
/// API, and no other route's code.
pub fn router_for_entry(state: AppState, entry: RouteEntry) -> Router {
    let r = Router::new().route(entry.route.path(), (entry.handler)());
    layered(r, state, Router::new())
}

fn layered(r: Router<AppState>, state: AppState, extra: Router) -> Router {
    let body_limit = state.max_body_bytes;
    r.with_state(state)
        .merge(extra)
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route")
        })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            body_limit,
            refuse_declared_oversize,
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("handler panicked");
            ApiError::internal().into_response()
        }))
        .layer(middleware::from_fn(request_context))
}

/// A body declared larger than the route takes is refused at once, before any of it is read:
/// otherwise a `Content-Length` of 100 GB with a few bytes sent holds the connection until the
/// client gives up.
async fn refuse_declared_oversize(
    axum::extract::State(body_limit): axum::extract::State<usize>,
    req: Request,
    next: Next,
) -> Response {
    let limit = if req.uri().path() == Route::StripeWebhook.path() {
        WEBHOOK_BODY_LIMIT
    } else {
        body_limit
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        let mut resp = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body may be at most {limit} bytes"),
        )
        .into_response();
        // The unread body would be left on the connection: close it.
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return resp;
    }
    next.run(req).await
}

fn valid_request_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    (!s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    .then(|| s.to_owned())
}

/// Gives every request an id (the caller's `x-request-id` when well-formed), makes it available
/// to error bodies, returns it as a header, and logs one line per request.
async fn request_context(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(valid_request_id)
        .unwrap_or_else(|| viral_core::ids::new_id("req"));
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let started = Instant::now();
    let span = tracing::info_span!("request", request_id = %id, tenant_id = tracing::field::Empty);
    let mut resp = REQUEST_ID
        .scope(
            id.clone(),
            tracing::Instrument::instrument(next.run(req), span.clone()),
        )
        .await;
    let _in = span.enter();
    tracing::info!(
        request_id = %id,
        %method,
        %path,
        status = resp.status().as_u16(),
        latency_us = started.elapsed().as_micros() as u64,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}
