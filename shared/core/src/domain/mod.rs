//! Pure domain rules: plans and their limits, tenants and members, API keys and scopes,
//! rate-limit windows, usage periods, and the item keys of the single table.

pub mod account;
pub mod analytics;
pub mod api_key;
pub mod audience;
pub mod autopilot;
pub mod billing;
pub mod concept;
pub mod concept_llm;
pub mod envelope;
pub mod job;
pub mod keys;
pub mod learner;
pub mod metrics;
pub mod offline_writer;
pub mod plan;
pub mod post;
pub mod publish_limits;
pub mod rate_limit;
pub mod routing;
pub mod stripe_webhook;
pub mod tenant;
pub mod usage;
pub mod webhook;

pub use api_key::{ApiKey, IssuedKey, Scope, Scopes};
pub use job::{Job, JobSpec, JobStatus, Narration};
pub use plan::{Plan, PlanLimits};
pub use rate_limit::RateLimit;
pub use tenant::{Role, Tenant, TenantStatus};
pub use usage::{Resource, Usage};
