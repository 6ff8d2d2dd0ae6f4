//! Process wiring shared by the Lambdas and the `viral` CLI: the one configuration struct read
//! from the environment, adapters picked by `VIRAL_BACKEND`, logging, and Lambda entry points.

pub mod billing_config;
pub mod config;
pub mod lambda;
pub mod provider_config;
pub mod providers;
pub mod services;
pub mod social;
pub mod source_config;
pub mod sources;
pub mod telemetry;

pub use config::{Backend, Config, ConfigError, DashboardOidc};
pub use services::{Services, StartError};
