//! Route handlers: parse, authorise, call the domain, shape the answer.

pub(crate) mod accounts;
pub(crate) mod analytics;
pub(crate) mod api_keys;
pub(crate) mod autopilot;
pub(crate) mod billing;
pub(crate) mod concepts;
pub(crate) mod health;
pub(crate) mod me;
pub(crate) mod posts;
pub(crate) mod providers;
pub(crate) mod sessions;
pub(crate) mod settings;
pub(crate) mod usage;
pub(crate) mod videos;
pub(crate) mod webhooks;

/// `scheme://host[:port]` of an absolute http(s) URL without credentials; `None` otherwise.
pub(crate) fn origin_of(url: &str) -> Option<String> {
    let u = reqwest::Url::parse(url).ok()?;
    if !matches!(u.scheme(), "http" | "https") || !u.username().is_empty() || u.password().is_some()
    {
        return None;
    }
    Some(u.origin().ascii_serialization())
}
