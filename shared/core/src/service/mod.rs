//! Use cases over the ports: what the API routes and the CLI both call. These functions
//! decide; the ports do the I/O.

pub mod accounts;
pub mod analytics;
pub mod api_keys;
pub mod autopilot;
pub mod billing;
pub mod collector;
pub mod concepts;
pub mod connect;
pub mod idempotency;
pub mod learning;
pub mod posts;
pub mod principal;
pub mod provider_health;
pub mod publishing;
pub mod quota;
pub mod rate_limit;
pub mod sessions;
pub mod submits;
pub mod tenant_lifecycle;
pub mod tenants;
pub mod trend_cache;
pub mod trend_merge;
pub mod usage;
pub mod videos;
pub mod webhooks;

pub use principal::{Credential, Principal};
