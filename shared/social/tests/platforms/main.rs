//! Each platform's client against a local server that speaks its documented HTTP shapes,
//! driven through the real OAuth round trip and the publish workflow's steps.

mod instagram;
mod metrics;
mod support;
mod tiktok;
mod youtube;
