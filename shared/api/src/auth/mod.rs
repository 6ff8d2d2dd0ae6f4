//! Authentication beyond API keys (those live in `viral_core::service::api_keys`).

pub mod jwt;
