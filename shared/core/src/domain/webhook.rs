//! Tenant webhooks: the events a tenant can subscribe to, what an endpoint URL may be, how a
//! delivery is signed (the same scheme as Stripe's, so the same ten lines verify it), and how
//! long a failing delivery keeps being retried before it is dead-lettered.

use std::net::IpAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
pub use crate::domain::stripe_webhook::{SignatureError, TOLERANCE_S, sign, verify};

/// The events, as their `type` says.
pub const EVENTS: [&str; 7] = [
    "video.succeeded",
    "video.failed",
    "post.published",
    "post.failed",
    "account.needs_reconnect",
    "autopilot.run_finished",
    "quota.low",
];

/// Endpoints per tenant at most.
pub const MAX_WEBHOOKS: usize = 10;
/// Longest endpoint URL.
pub const MAX_URL_BYTES: usize = 2048;

/// Waits before each retry of a failing delivery, from its first attempt: 1 min, 5 min,
/// 30 min, 2 h, 6 h, 12 h and then the 24-hour mark. After the last it is dead-lettered.
pub const RETRY_AFTER_S: [u64; 7] = [60, 300, 1800, 7200, 21_600, 43_200, 86_400];

/// When a delivery that has failed `attempts` times (counted from its creation at `created`)
/// is tried next; `None` when its 24 hours are over.
pub fn next_attempt(created: Timestamp, attempts: u32) -> Option<Timestamp> {
    let at = RETRY_AFTER_S.get(attempts.checked_sub(1)? as usize)?;
    Some(created.plus(Duration::from_secs(*at)))
}

/// An endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    pub id: String,
    #[serde(skip)]
    pub tenant_id: String,
    pub url: String,
    pub events: Vec<String>,
    /// The signing secret, sealed by the token vault (never stored or logged in the clear).
    pub secret_sealed: String,
    pub created_at: Timestamp,
}

/// The vault context of a webhook's secret: it opens only for this tenant's endpoint.
pub fn secret_context(tenant_id: &str, webhook_id: &str) -> String {
    format!("webhook:{tenant_id}:{webhook_id}:secret")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    Delivered,
    /// Failed for 24 hours (or the endpoint is gone): kept as a dead-letter record, and
    /// retried only by hand.
    Dead,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
        }
    }
}

/// One event on its way to one endpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub id: String,
    #[serde(skip)]
    pub tenant_id: String,
    pub webhook_id: String,
    /// The event's id (`evt_…`): the same in every delivery of the event, so receivers can
    /// drop duplicates (delivery is at least once).
    pub event_id: String,
    pub event_type: String,
    /// The JSON body exactly as it is signed and sent.
    pub body: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    pub next_at: Option<Timestamp>,
    /// The endpoint's last HTTP status, or why there was none.
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    #[serde(skip)]
    pub version: u64,
}

/// Why an endpoint URL is refused, checked when it is registered (its addresses are checked
/// again at every delivery, after DNS).
pub fn check_url(raw: &str, allow_loopback: bool) -> Result<(), String> {
    if raw.len() > MAX_URL_BYTES || raw.chars().any(char::is_control) {
        return Err(format!("url must be at most {MAX_URL_BYTES} bytes"));
    }
    let u = url::Url::parse(raw).map_err(|_| "url is not an absolute URL".to_owned())?;
    if !u.username().is_empty() || u.password().is_some() {
        return Err("url must not carry credentials".into());
    }
    let host = u.host_str().ok_or("url has no host")?;
    let ip: Option<IpAddr> = match u.host() {
        Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        _ => None,
    };
    let loopback = ip.is_some_and(|i| i.is_loopback()) || host.eq_ignore_ascii_case("localhost");
    match u.scheme() {
        "https" => {}
        "http" if allow_loopback && loopback => {}
        "http" => return Err("url must be https".into()),
        other => return Err(format!("url scheme {other:?} is not https")),
    }
    if loopback && !allow_loopback {
        return Err("url must not point at this machine".into());
    }
    if let Some(ip) = ip
        && !ip.is_loopback()
        && forbidden_literal(ip)
    {
        return Err("url must not point at a private, link-local or reserved address".into());
    }
    Ok(())
}

/// Address literals no endpoint may use (private, link-local and metadata, CGNAT, ULA…). The
/// sender checks every resolved address again with the provider download guard.
fn forbidden_literal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || o[0] >= 240
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00
                || (seg[0] & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_spread_over_24_hours_then_stop() {
        let t0 = Timestamp::from_secs(1_000);
        assert_eq!(
            next_attempt(t0, 0),
            None,
            "no failure yet: nothing to retry"
        );
        assert_eq!(next_attempt(t0, 1), Some(Timestamp::from_secs(1_060)));
        assert_eq!(
            next_attempt(t0, 7),
            Some(Timestamp::from_secs(1_000 + 86_400))
        );
        assert_eq!(next_attempt(t0, 8), None);
    }

    #[test]
    fn urls_are_https_and_public() {
        assert!(check_url("https://hooks.example.com/viral", false).is_ok());
        for bad in [
            "http://hooks.example.com/x",
            "ftp://hooks.example.com/x",
            "https://user:pw@hooks.example.com/x",
            "https://10.0.0.5/x",
            "https://169.254.169.254/latest/meta-data",
            "https://[fd00::1]/x",
            "https://[::ffff:127.0.0.1]/x",
            "https://127.0.0.1/x",
            "http://localhost:8080/x",
            "not a url",
        ] {
            assert!(check_url(bad, false).is_err(), "{bad}");
        }
        // The local-development switch lets plain HTTP to this machine through, nothing else.
        assert!(check_url("http://127.0.0.1:8080/x", true).is_ok());
        assert!(check_url("http://10.0.0.5/x", true).is_err());
    }

    #[test]
    fn a_signature_verifies_like_stripes() {
        let body = br#"{"id":"evt_1","type":"video.succeeded"}"#;
        let header = sign(body, "whsec_test", 1_700_000_000);
        assert!(verify(&header, body, "whsec_test", 1_700_000_100).is_ok());
        assert_eq!(
            verify(&header, body, "whsec_other", 1_700_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&header, body, "whsec_test", 1_700_000_000 + TOLERANCE_S + 1),
            Err(SignatureError::Stale)
        );
    }
}
