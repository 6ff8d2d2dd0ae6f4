//! Route handlers: parse, authorise, call the domain, shape the answer.

pub(crate) mod api_keys;
pub(crate) mod billing;
pub(crate) mod concepts;
pub(crate) mod health;
pub(crate) mod me;
pub(crate) mod providers;
pub(crate) mod sessions;
pub(crate) mod usage;
pub(crate) mod videos;
