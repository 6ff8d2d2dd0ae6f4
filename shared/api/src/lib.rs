//! The HTTP API: one axum Router with every route. The local server mounts all routes; each
//! API Lambda mounts just its own (see [`Route`]), so API Gateway maps one route to one function.

pub mod auth;
pub mod byte_range;
mod error;
mod extract;
mod list_schemas;
pub mod openapi;
mod router;
mod routes;
mod state;

pub use error::{ApiError, ErrorBody};
pub use router::{Route, RouteEntry, router, router_for, router_for_entry, router_with};
pub use state::{AppState, BillingState, ConceptSourceNames, SocialState};
