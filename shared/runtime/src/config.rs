//! Configuration from the environment. Every problem names the variable that causes it.

use std::path::PathBuf;
use std::time::Duration;

use viral_api::auth::jwt::JwtConfig;
use viral_core::domain::RateLimit;

use crate::billing_config::BillingConfig;
use crate::provider_config::ProviderConfig;
use crate::source_config::SourceConfig;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Embedded adapters in the data directory (the default).
    Local,
    /// DynamoDB, S3, SQS and Secrets Manager.
    Aws,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub backend: Backend,
    /// `VIRAL_DATA_DIR`, default `.viral`: the embedded database, blobs and signing key.
    pub data_dir: PathBuf,
    /// `VIRAL_TABLE`: the DynamoDB table (aws).
    pub table: Option<String>,
    /// `VIRAL_BUCKET`: the S3 bucket for media (aws).
    pub bucket: Option<String>,
    /// `VIRAL_SECRETS_PREFIX`, default `viral/`: Secrets Manager names are prefix + NAME.
    pub secrets_prefix: String,
    /// `VIRAL_RATE_LIMIT`, default `10/10s`: requests per principal per window.
    pub rate_limit: RateLimit,
    /// `VIRAL_MAX_BODY_BYTES`, default 65536.
    pub max_body_bytes: usize,
    /// `VIRAL_PUBLIC_URL`, default `http://127.0.0.1:3000`: base of local signed media URLs.
    pub public_url: String,
    /// `VIRAL_MEDIA_URL_TTL` in seconds, default 3600.
    pub media_url_ttl: Duration,
    /// From `VIRAL_JWT_ISSUER`, `VIRAL_JWT_AUDIENCE`, `VIRAL_JWT_JWKS_URL`, `VIRAL_JWT_AZP`.
    pub jwt: Option<JwtConfig>,
    /// `VIRAL_STATE_MACHINE_ARN`: the video workflow on Step Functions (aws).
    pub state_machine_arn: Option<String>,
    /// `VIRAL_RENDER_POLL_QUEUE_URL` (aws): where the provider worker puts a submitted clip's
    /// message, delayed, to poll its render again.
    pub render_poll_queue_url: Option<String>,
    /// `VIRAL_PUBLISH_STATE_MACHINE_ARN`: the publish workflow on Step Functions (aws).
    pub publish_state_machine_arn: Option<String>,
    /// `VIRAL_AUTOPILOT_STATE_MACHINE_ARN` and `VIRAL_AUTOPILOT_SCHEDULER_ROLE_ARN` (aws): the
    /// autopilot workflow each tenant's EventBridge schedule starts, and the role the
    /// schedules assume. Without them, changing autopilot keeps no schedule.
    pub autopilot_state_machine_arn: Option<String>,
    pub autopilot_scheduler_role_arn: Option<String>,
    /// `VIRAL_KMS_KEY_ID` (aws): the KMS key that seals connected accounts' tokens. Locally a
    /// key file in the data directory does (`token-vault.key`).
    pub kms_key_id: Option<String>,
    /// The video providers (see `ProviderConfig` for the variables).
    pub providers: ProviderConfig,
    /// Where each social platform's API lives (`TIKTOK_BASE_URL`, `YOUTUBE_UPLOAD_BASE_URL`,
    /// `GOOGLE_OAUTH_BASE_URL`, `INSTAGRAM_GRAPH_BASE_URL`, …; see `viral_social::SocialConfig`).
    pub social: viral_social::SocialConfig,
    /// Trend sources and the concept writer (see `SourceConfig` for the variables).
    pub sources: SourceConfig,
    /// Stripe prices and return URLs (see `BillingConfig`); `None`: billing is off.
    pub billing: Option<BillingConfig>,
    /// `VIRAL_CDN_DOMAIN` and `VIRAL_CDN_KEY_PAIR_ID` (aws): deliver videos through
    /// CloudFront with signed URLs; the private key is the secret `CLOUDFRONT_PRIVATE_KEY`.
    /// Without them, URLs are S3-presigned.
    pub cdn: Option<CdnConfig>,
    /// `VIRAL_MEDIA_SIGNING_KEY` (local): at least 32 characters; without it a random key is
    /// kept in the data directory.
    pub media_signing_key: Option<String>,
    /// `VIRAL_HEADER_READ_TIMEOUT` and `VIRAL_BODY_READ_TIMEOUT` in seconds (local server),
    /// defaults 10 and 30: how long a client may take to send its headers, then its body.
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    /// `VIRAL_AUTOPILOT_EVERY` in seconds (local server), default 30: how often `viral up`
    /// looks for autopilot runs that are due or under way.
    pub autopilot_every: Duration,
    /// Sign-in to the dashboard `viral up` serves through an OIDC provider (Authorization
    /// Code + PKCE): `VIRAL_DASHBOARD_OIDC_AUTHORIZE_URL`, `VIRAL_DASHBOARD_OIDC_TOKEN_URL`,
    /// `VIRAL_DASHBOARD_OIDC_CLIENT_ID` (all three or none), `VIRAL_DASHBOARD_OIDC_SCOPE`
    /// (default `openid email profile`), `VIRAL_DASHBOARD_OIDC_TOKEN` (`id_token`, the
    /// default, or `access_token`: the one the API's `VIRAL_JWT_*` settings accept).
    pub dashboard_oidc: Option<DashboardOidc>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DashboardOidc {
    pub authorize_url: String,
    pub token_url: String,
    pub client_id: String,
    pub scope: String,
    pub token: String,
}

impl DashboardOidc {
    fn from_lookup(get: &dyn Fn(&str) -> Option<String>) -> Result<Option<Self>, ConfigError> {
        const AUTHORIZE: &str = "VIRAL_DASHBOARD_OIDC_AUTHORIZE_URL";
        const TOKEN_URL: &str = "VIRAL_DASHBOARD_OIDC_TOKEN_URL";
        const CLIENT: &str = "VIRAL_DASHBOARD_OIDC_CLIENT_ID";
        let (authorize_url, token_url, client_id) = match (
            get(AUTHORIZE),
            get(TOKEN_URL),
            get(CLIENT),
        ) {
            (None, None, None) => return Ok(None),
            (Some(a), Some(t), Some(c)) => (a, t, c),
            (a, t, _) => {
                let missing = if a.is_none() {
                    AUTHORIZE
                } else if t.is_none() {
                    TOKEN_URL
                } else {
                    CLIENT
                };
                return Err(err(
                    missing,
                    "set all three VIRAL_DASHBOARD_OIDC_* (authorize URL, token URL, client id) or none",
                ));
            }
        };
        for (var, url) in [(AUTHORIZE, &authorize_url), (TOKEN_URL, &token_url)] {
            if !issuer_url_ok(url) {
                return Err(err(
                    var,
                    "expected an https:// URL (http:// only on 127.0.0.1 or localhost)",
                ));
            }
        }
        let token = get("VIRAL_DASHBOARD_OIDC_TOKEN").unwrap_or_else(|| "id_token".into());
        if !matches!(token.as_str(), "id_token" | "access_token") {
            return Err(err(
                "VIRAL_DASHBOARD_OIDC_TOKEN",
                "expected id_token or access_token",
            ));
        }
        Ok(Some(Self {
            authorize_url,
            token_url,
            client_id,
            scope: get("VIRAL_DASHBOARD_OIDC_SCOPE")
                .unwrap_or_else(|| "openid email profile".into()),
            token,
        }))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CdnConfig {
    pub domain: String,
    pub key_pair_id: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{var}: {problem}")]
pub struct ConfigError {
    pub var: &'static str,
    pub problem: String,
}

fn err(var: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        problem: problem.into(),
    }
}

/// An issuer URL is parsed, not prefix-matched: `http://127.0.0.1.evil.example` is not
/// loopback.
fn issuer_url_ok(issuer: &str) -> bool {
    match url::Url::parse(issuer) {
        Ok(u) => match u.scheme() {
            "https" => u.host().is_some(),
            "http" => matches!(u.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
            _ => false,
        },
        Err(_) => false,
    }
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A comma-separated list of names from `var`, lowercased, each one of `known`, at least one.
pub(crate) fn names(
    var: &'static str,
    v: &str,
    what: &str,
    known: &[&str],
) -> Result<Vec<String>, ConfigError> {
    let out: Vec<String> = list(v).iter().map(|s| s.to_ascii_lowercase()).collect();
    if out.is_empty() {
        return Err(err(var, format!("lists no {what}")));
    }
    if let Some(bad) = out.iter().find(|n| !known.contains(&n.as_str())) {
        return Err(err(
            var,
            format!("unknown {what} `{bad}`; known: {}", known.join(", ")),
        ));
    }
    Ok(out)
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads configuration through `get` (tests pass a map). Empty values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |k: &str| {
            get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let backend = match get("VIRAL_BACKEND").as_deref() {
            None | Some("local") => Backend::Local,
            Some("aws") => Backend::Aws,
            Some(other) => {
                return Err(err(
                    "VIRAL_BACKEND",
                    format!("expected `local` or `aws`, got `{other}`"),
                ));
            }
        };
        let table = get("VIRAL_TABLE");
        let bucket = get("VIRAL_BUCKET");
        if backend == Backend::Aws && table.is_none() {
            return Err(err(
                "VIRAL_TABLE",
                "required when VIRAL_BACKEND=aws (the DynamoDB table name)",
            ));
        }
        let rate_limit = match get("VIRAL_RATE_LIMIT") {
            None => RateLimit::default(),
            Some(v) => RateLimit::parse(&v).ok_or_else(|| {
                err(
                    "VIRAL_RATE_LIMIT",
                    format!("expected e.g. `10/10s`, `100/1m`; got `{v}`"),
                )
            })?,
        };
        let max_body_bytes = match get("VIRAL_MAX_BODY_BYTES") {
            None => 64 * 1024,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1024..=10 * 1024 * 1024).contains(n))
                .ok_or_else(|| {
                    err(
                        "VIRAL_MAX_BODY_BYTES",
                        "expected a number of bytes, 1024 to 10485760",
                    )
                })?,
        };
        let seconds = |var: &'static str, default: u64, max: u64| match get(var) {
            None => Ok(Duration::from_secs(default)),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .map(Duration::from_secs)
                .ok_or_else(|| err(var, format!("expected seconds, 1 to {max}; got `{v}`"))),
        };
        let media_url_ttl = seconds("VIRAL_MEDIA_URL_TTL", 3600, 7 * 86_400)?;
        let header_read_timeout = seconds("VIRAL_HEADER_READ_TIMEOUT", 10, 300)?;
        let body_read_timeout = seconds("VIRAL_BODY_READ_TIMEOUT", 30, 3600)?;
        let autopilot_every = seconds("VIRAL_AUTOPILOT_EVERY", 30, 3600)?;
        let media_signing_key = match get("VIRAL_MEDIA_SIGNING_KEY") {
            Some(k) if k.chars().count() < 32 => {
                return Err(err(
                    "VIRAL_MEDIA_SIGNING_KEY",
                    format!(
                        "too short ({} characters); use at least 32, e.g. `openssl rand -hex 32`",
                        k.chars().count()
                    ),
                ));
            }
            k => k,
        };
        let public_url = get("VIRAL_PUBLIC_URL").unwrap_or_else(|| "http://127.0.0.1:3000".into());
        if !(public_url.starts_with("http://") || public_url.starts_with("https://")) {
            return Err(err(
                "VIRAL_PUBLIC_URL",
                "expected an http:// or https:// URL",
            ));
        }
        let jwt = match get("VIRAL_JWT_ISSUER") {
            None => None,
            Some(issuer) => {
                if !issuer_url_ok(&issuer) {
                    return Err(err(
                        "VIRAL_JWT_ISSUER",
                        "expected an https:// issuer URL (http:// only on 127.0.0.1 or localhost)",
                    ));
                }
                let audiences = get("VIRAL_JWT_AUDIENCE")
                    .map(|v| list(&v))
                    .unwrap_or_default();
                if audiences.is_empty() {
                    return Err(err(
                        "VIRAL_JWT_AUDIENCE",
                        "required with VIRAL_JWT_ISSUER (e.g. `viral-api`; add it as a custom `aud` claim in Clerk)",
                    ));
                }
                let mut c = JwtConfig::new(&issuer, audiences, get("VIRAL_JWT_JWKS_URL"));
                c.allowed_azp = get("VIRAL_JWT_AZP").map(|v| list(&v)).unwrap_or_default();
                Some(c)
            }
        };
        let providers = ProviderConfig::from_lookup(&get, backend)?;
        let social = viral_social::SocialConfig::from_lookup(|k| get(k), providers.allow_loopback)
            .map_err(|(var, problem)| ConfigError { var, problem })?;
        let sources = SourceConfig::from_lookup(&get, providers.allow_loopback)?;
        let cdn = match (get("VIRAL_CDN_DOMAIN"), get("VIRAL_CDN_KEY_PAIR_ID")) {
            (None, None) => None,
            (Some(domain), Some(key_pair_id)) => {
                if domain.contains('/') && !domain.starts_with("https://") {
                    return Err(err(
                        "VIRAL_CDN_DOMAIN",
                        "expected a domain such as d111111abcdef8.cloudfront.net",
                    ));
                }
                Some(CdnConfig {
                    domain,
                    key_pair_id,
                })
            }
            (Some(_), None) => {
                return Err(err(
                    "VIRAL_CDN_KEY_PAIR_ID",
                    "required with VIRAL_CDN_DOMAIN (the public key's id in the key group)",
                ));
            }
            (None, Some(_)) => {
                return Err(err(
                    "VIRAL_CDN_DOMAIN",
                    "required with VIRAL_CDN_KEY_PAIR_ID",
                ));
            }
        };
        let billing = BillingConfig::from_lookup(&get, &public_url, providers.allow_loopback)?;
        let dashboard_oidc = DashboardOidc::from_lookup(&get)?;
        Ok(Config {
            providers,
            social,
            sources,
            billing,
            cdn,
            backend,
            data_dir: PathBuf::from(get("VIRAL_DATA_DIR").unwrap_or_else(|| ".viral".into())),
            table,
            bucket,
            secrets_prefix: get("VIRAL_SECRETS_PREFIX").unwrap_or_else(|| "viral/".into()),
            rate_limit,
            max_body_bytes,
            public_url,
            media_url_ttl,
            jwt,
            state_machine_arn: get("VIRAL_STATE_MACHINE_ARN"),
            render_poll_queue_url: get("VIRAL_RENDER_POLL_QUEUE_URL"),
            publish_state_machine_arn: get("VIRAL_PUBLISH_STATE_MACHINE_ARN"),
            autopilot_state_machine_arn: get("VIRAL_AUTOPILOT_STATE_MACHINE_ARN"),
            autopilot_scheduler_role_arn: get("VIRAL_AUTOPILOT_SCHEDULER_ROLE_ARN"),
            kms_key_id: get("VIRAL_KMS_KEY_ID"),
            media_signing_key,
            header_read_timeout,
            body_read_timeout,
            autopilot_every,
            dashboard_oidc,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| m.get(k).cloned())
    }

    #[test]
    fn defaults_are_local() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.backend, Backend::Local);
        assert_eq!(c.data_dir, PathBuf::from(".viral"));
        assert_eq!(c.rate_limit, RateLimit::default());
        assert!(c.jwt.is_none());
    }

    #[test]
    fn errors_name_the_variable() {
        assert_eq!(
            cfg(&[("VIRAL_BACKEND", "gcp")]).unwrap_err().var,
            "VIRAL_BACKEND"
        );
        assert_eq!(
            cfg(&[("VIRAL_BACKEND", "aws")]).unwrap_err().var,
            "VIRAL_TABLE"
        );
        assert_eq!(
            cfg(&[("VIRAL_RATE_LIMIT", "fast")]).unwrap_err().var,
            "VIRAL_RATE_LIMIT"
        );
        assert_eq!(
            cfg(&[("VIRAL_JWT_ISSUER", "https://x.clerk.accounts.dev")])
                .unwrap_err()
                .var,
            "VIRAL_JWT_AUDIENCE"
        );
        let e = cfg(&[("VIRAL_BACKEND", "gcp")]).unwrap_err().to_string();
        assert!(e.starts_with("VIRAL_BACKEND: "), "{e}");
    }

    #[test]
    fn a_short_signing_key_or_bad_timeout_stops_with_the_variable() {
        let e = cfg(&[("VIRAL_MEDIA_SIGNING_KEY", "short")]).unwrap_err();
        assert_eq!(e.var, "VIRAL_MEDIA_SIGNING_KEY");
        assert!(e.problem.contains("at least 32"), "{e}");
        let key = "k".repeat(32);
        assert_eq!(
            cfg(&[("VIRAL_MEDIA_SIGNING_KEY", &key)])
                .unwrap()
                .media_signing_key,
            Some(key.clone())
        );
        for bad in ["0", "-1", "ten", "301"] {
            assert_eq!(
                cfg(&[("VIRAL_HEADER_READ_TIMEOUT", bad)]).unwrap_err().var,
                "VIRAL_HEADER_READ_TIMEOUT"
            );
        }
        let c = cfg(&[]).unwrap();
        assert_eq!(c.header_read_timeout, Duration::from_secs(10));
        assert_eq!(c.body_read_timeout, Duration::from_secs(30));
    }

    #[test]
    fn dashboard_oidc_is_all_or_nothing_and_checked() {
        assert!(cfg(&[]).unwrap().dashboard_oidc.is_none());
        let full = [
            (
                "VIRAL_DASHBOARD_OIDC_AUTHORIZE_URL",
                "https://auth.example.com/oauth2/authorize",
            ),
            (
                "VIRAL_DASHBOARD_OIDC_TOKEN_URL",
                "https://auth.example.com/oauth2/token",
            ),
            ("VIRAL_DASHBOARD_OIDC_CLIENT_ID", "abc"),
        ];
        let o = cfg(&full).unwrap().dashboard_oidc.unwrap();
        assert_eq!(
            (o.token.as_str(), o.scope.as_str()),
            ("id_token", "openid email profile")
        );
        assert_eq!(
            cfg(&full[..2]).unwrap_err().var,
            "VIRAL_DASHBOARD_OIDC_CLIENT_ID"
        );
        let mut plain = full;
        plain[1].1 = "http://auth.example.com/token";
        assert_eq!(
            cfg(&plain).unwrap_err().var,
            "VIRAL_DASHBOARD_OIDC_TOKEN_URL"
        );
        let mut odd = full.to_vec();
        odd.push(("VIRAL_DASHBOARD_OIDC_TOKEN", "refresh_token"));
        assert_eq!(cfg(&odd).unwrap_err().var, "VIRAL_DASHBOARD_OIDC_TOKEN");
    }

    #[test]
    fn a_cdn_needs_its_domain_and_key_pair() {
        assert!(cfg(&[]).unwrap().cdn.is_none());
        let c = cfg(&[
            ("VIRAL_CDN_DOMAIN", "d111111abcdef8.cloudfront.net"),
            ("VIRAL_CDN_KEY_PAIR_ID", "K2JCJMDEHXQW5F"),
        ])
        .unwrap();
        assert_eq!(c.cdn.unwrap().key_pair_id, "K2JCJMDEHXQW5F");
        assert_eq!(
            cfg(&[("VIRAL_CDN_DOMAIN", "d1.cloudfront.net")])
                .unwrap_err()
                .var,
            "VIRAL_CDN_KEY_PAIR_ID"
        );
        assert_eq!(
            cfg(&[("VIRAL_CDN_KEY_PAIR_ID", "K1")]).unwrap_err().var,
            "VIRAL_CDN_DOMAIN"
        );
    }

    #[test]
    fn an_issuer_is_parsed_not_prefix_matched() {
        for bad in [
            "http://127.0.0.1.evil.example",
            "http://example.com",
            "https//x",
            "ftp://x",
        ] {
            assert_eq!(
                cfg(&[("VIRAL_JWT_ISSUER", bad), ("VIRAL_JWT_AUDIENCE", "a")])
                    .unwrap_err()
                    .var,
                "VIRAL_JWT_ISSUER",
                "{bad}"
            );
        }
        for good in [
            "https://x.clerk.accounts.dev",
            "http://127.0.0.1:9999/issuer",
        ] {
            assert!(cfg(&[("VIRAL_JWT_ISSUER", good), ("VIRAL_JWT_AUDIENCE", "a")]).is_ok());
        }
    }

    #[test]
    fn jwt_settings() {
        let c = cfg(&[
            ("VIRAL_JWT_ISSUER", "https://x.clerk.accounts.dev"),
            ("VIRAL_JWT_AUDIENCE", "viral-api, other"),
            ("VIRAL_JWT_AZP", "https://app.example"),
        ])
        .unwrap();
        let j = c.jwt.unwrap();
        assert_eq!(j.audiences, ["viral-api", "other"]);
        assert_eq!(
            j.jwks_url,
            "https://x.clerk.accounts.dev/.well-known/jwks.json"
        );
        assert_eq!(j.allowed_azp, ["https://app.example"]);
    }
}
