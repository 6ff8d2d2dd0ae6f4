//! viral's domain: tenants, plans, quotas, API keys, rate limits, and the ports through
//! which everything else talks to the world. Nothing in this crate does I/O of its own.

pub mod clock;
pub mod domain;
pub mod error;
pub mod ids;
pub mod metrics;
pub mod ports;
pub mod service;

pub use clock::{Clock, ManualClock, SystemClock, Timestamp};
pub use error::Error;
