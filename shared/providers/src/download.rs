//! Downloads a provider's output without trusting its URL: HTTPS only, hosts on the
//! provider's allowlist, every address the name resolves to checked (no loopback, private,
//! link-local, CGNAT, ULA, mapped or metadata addresses) and the connection pinned to the
//! checked address, redirects followed by hand only to hosts that pass the same checks, the
//! body streamed under a byte cap, and the result accepted only if it starts like an MP4.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use reqwest::{StatusCode, Url};
use viral_core::ports::ProviderError;

use crate::http::{describe, read_capped};
pub use viral_media::looks_like_mp4;

/// Where a provider's output may come from and how much of it we take.
#[derive(Clone, Debug)]
pub struct DownloadPolicy {
    /// Exact host names, or `.suffix` for a domain and its subdomains.
    pub allowed_hosts: Vec<String>,
    pub max_bytes: usize,
    /// Local development and tests only (`VIRAL_ALLOW_LOOPBACK_PROVIDERS=1`): loopback
    /// addresses, and plain HTTP to them, are allowed. Private ranges never are.
    pub allow_loopback: bool,
    pub max_redirects: usize,
    pub timeout: Duration,
    /// Any public host (tenants' webhook endpoints): the allowlist is not consulted, every
    /// other check is.
    pub any_public_host: bool,
}

impl DownloadPolicy {
    pub fn new(allowed_hosts: &[&str], allow_loopback: bool) -> Self {
        Self {
            allowed_hosts: allowed_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            max_bytes: crate::MAX_OUTPUT_BYTES,
            allow_loopback,
            max_redirects: 3,
            timeout: Duration::from_secs(120),
            any_public_host: false,
        }
    }

    fn host_allowed(&self, host: &str) -> bool {
        if self.any_public_host {
            return true;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.allowed_hosts
            .iter()
            .any(|a| match a.strip_prefix('.') {
                Some(domain) => host == domain || host.ends_with(a.as_str()),
                None => host == *a,
            })
    }
}

/// Why a URL or its answer was refused. All are permanent: the same URL will not get better.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DownloadError {
    #[error("output URL refused: {0}")]
    Refused(String),
    #[error("output no longer available ({0}): provider URLs expire")]
    Expired(u16),
    #[error("output is larger than {0} bytes")]
    TooLarge(usize),
    #[error("output is not an MP4 file")]
    NotMp4,
    #[error("output download failed: {0}")]
    Failed(String),
}

impl From<DownloadError> for ProviderError {
    fn from(e: DownloadError) -> Self {
        match e {
            DownloadError::Failed(_) => ProviderError::Transient(e.to_string()),
            _ => ProviderError::Permanent(e.to_string()),
        }
    }
}

/// True for addresses a provider's output must never come from.
pub fn is_forbidden(ip: IpAddr, allow_loopback: bool) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4, allow_loopback),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4, allow_loopback);
            }
            let seg = v6.segments();
            (v6.is_loopback() && !allow_loopback)
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
                || (seg[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
                || (seg[0] == 0x64 && seg[1] == 0xff9b) // NAT64 64:ff9b::/96 (embeds IPv4)
                || (seg[0] == 0x2002) // 6to4 (embeds IPv4)
                || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
                || (seg[0..6] == [0, 0, 0, 0, 0, 0] && !v6.is_loopback()) // IPv4-compatible
        }
    }
}

fn forbidden_v4(ip: Ipv4Addr, allow_loopback: bool) -> bool {
    let o = ip.octets();
    (ip.is_loopback() && !allow_loopback)
        || ip.is_private()
        || ip.is_link_local() // 169.254.0.0/16, the metadata service among them
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || o[0] == 0
        || (o[0] == 100 && (o[1] & 0xc0) == 64) // CGNAT 100.64.0.0/10
        || (o[0] == 192 && o[1] == 0 && o[2] == 0) // IETF protocol assignments
        || (o[0] == 198 && (o[1] & 0xfe) == 18) // benchmarking 198.18.0.0/15
        || o[0] >= 240 // reserved
}

/// Checks a URL against the policy and returns it with the addresses to connect to.
pub(crate) async fn vet(
    policy: &DownloadPolicy,
    url: &Url,
) -> Result<Vec<SocketAddr>, DownloadError> {
    let refused = |why: &str| DownloadError::Refused(why.to_owned());
    let host = url.host_str().ok_or_else(|| refused("no host"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refused("credentials in the URL"));
    }
    if !matches!(url.scheme(), "https" | "http") {
        return Err(refused(&format!("scheme {:?} (HTTPS only)", url.scheme())));
    }
    let port = url
        .port_or_known_default()
        .ok_or_else(|| refused("no port"))?;
    // The allowlist is checked before any lookup: a name we would refuse is never resolved.
    let loopback_literal = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => host.eq_ignore_ascii_case("localhost"),
    };
    let allowed = policy.host_allowed(host) || (policy.allow_loopback && loopback_literal);
    if !allowed {
        return Err(refused(&format!(
            "host {host} is not on the provider's allowlist"
        )));
    }
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        _ => tokio::net::lookup_host((host, port))
            .await
            .map_err(|e| DownloadError::Failed(format!("cannot resolve {host}: {e}")))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(DownloadError::Failed(format!("{host} has no address")));
    }
    if addrs
        .iter()
        .any(|a| is_forbidden(a.ip(), policy.allow_loopback))
    {
        return Err(refused(&format!("{host} resolves to a forbidden address")));
    }
    let all_loopback = addrs.iter().all(|a| a.ip().is_loopback());
    if url.scheme() == "http" && !(policy.allow_loopback && all_loopback) {
        return Err(refused("plain HTTP (HTTPS only)"));
    }
    Ok(addrs)
}

/// Where a redirect answer points, resolved against the URL that answered. The target is
/// only a candidate: whoever follows it must vet it like any other URL.
pub fn redirect_target(from: &Url, resp: &reqwest::Response) -> Result<Url, DownloadError> {
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| DownloadError::Refused("redirect without a location".into()))?;
    from.join(location)
        .map_err(|_| DownloadError::Refused("redirect to a bad URL".into()))
}

/// Downloads `url` under `policy`. The URL never appears in errors (it may be signed).
pub async fn download(policy: &DownloadPolicy, url: &str) -> Result<Vec<u8>, DownloadError> {
    let mut url = Url::parse(url).map_err(|_| DownloadError::Refused("not a URL".into()))?;
    for _ in 0..=policy.max_redirects {
        let addrs = vet(policy, &url).await?;
        let host = url.host_str().unwrap_or_default().to_owned();
        // A client per hop, pinned to the addresses just checked: the name is not looked up
        // again, so it cannot be re-pointed between the check and the connection.
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(policy.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| DownloadError::Failed(describe(&e)))?;
        let resp = client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| DownloadError::Failed(describe(&e)))?;
        let status = resp.status();
        if status.is_redirection() {
            url = redirect_target(&url, &resp)?;
            continue;
        }
        if matches!(
            status,
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND | StatusCode::GONE
        ) {
            return Err(DownloadError::Expired(status.as_u16()));
        }
        if !status.is_success() {
            return Err(DownloadError::Failed(format!(
                "answered {}",
                status.as_u16()
            )));
        }
        let body = read_capped(resp, policy.max_bytes).await.map_err(|e| {
            if e.starts_with("response larger") {
                DownloadError::TooLarge(policy.max_bytes)
            } else {
                DownloadError::Failed(e)
            }
        })?;
        return if looks_like_mp4(&body) {
            Ok(body)
        } else {
            Err(DownloadError::NotMp4)
        };
    }
    Err(DownloadError::Refused("too many redirects".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "::",
            "fc00::1",
            "fd12::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "224.0.0.1",
        ] {
            assert!(is_forbidden(ip.parse().unwrap(), false), "{ip}");
        }
        for ip in ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"] {
            assert!(!is_forbidden(ip.parse().unwrap(), false), "{ip}");
        }
        assert!(!is_forbidden("127.0.0.1".parse().unwrap(), true));
        assert!(!is_forbidden("::1".parse().unwrap(), true));
        assert!(
            is_forbidden("10.0.0.1".parse().unwrap(), true),
            "private stays out"
        );
    }

    #[test]
    fn allowlist_matches_hosts_and_domains() {
        let p = DownloadPolicy::new(&["cdn.example.com", ".runwayml.com"], false);
        assert!(p.host_allowed("cdn.example.com"));
        assert!(p.host_allowed("CDN.example.com."));
        assert!(p.host_allowed("runwayml.com"));
        assert!(p.host_allowed("x.y.runwayml.com"));
        assert!(!p.host_allowed("evilrunwayml.com"));
        assert!(!p.host_allowed("cdn.example.com.evil.net"));
    }
}
