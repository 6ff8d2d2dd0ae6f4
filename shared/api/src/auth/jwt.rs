//! OIDC bearer tokens (e.g. Clerk session tokens): RS256/ES256 only, verified against the
//! issuer's JWKS. Keys are cached; an unknown `kid` triggers at most one refetch per
//! `min_refetch` so that a flood of forged tokens cannot turn into a flood of JWKS requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};
use tokio::time::Instant;
use viral_core::domain::rate_limit::RateLimit;
use viral_core::domain::{Role, Scopes};
use viral_core::ports::ItemStore;
use viral_core::service::principal::jwt_rate_limit_key;
use viral_core::service::rate_limit;
use viral_core::service::tenants::{ensure_oidc_tenant, oidc_tenant_id};
use viral_core::service::{Credential, Principal};
use viral_core::{Clock, Error};

#[derive(Clone, Debug)]
pub struct JwtConfig {
    /// Exact `iss` (a trailing slash matters).
    pub issuer: String,
    /// Accepted `aud` values; at least one.
    pub audiences: Vec<String>,
    pub jwks_url: String,
    /// When not empty, `azp` must be one of these (Clerk puts the origin there).
    pub allowed_azp: Vec<String>,
    /// How long fetched keys are trusted before a refetch.
    pub cache_ttl: Duration,
    /// Least time between two fetches caused by unknown `kid`s.
    pub min_refetch: Duration,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_secs: u64,
}

impl JwtConfig {
    pub fn new(issuer: &str, audiences: Vec<String>, jwks_url: Option<String>) -> Self {
        let jwks_url = jwks_url
            .unwrap_or_else(|| format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/')));
        Self {
            issuer: issuer.to_owned(),
            audiences,
            jwks_url,
            allowed_azp: Vec::new(),
            cache_ttl: Duration::from_secs(3600),
            min_refetch: Duration::from_secs(60),
            leeway_secs: 30,
        }
    }
}

#[derive(Default)]
struct KeyCache {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    fetched_at: Option<Instant>,
}

pub struct JwtVerifier {
    config: JwtConfig,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
    /// Held while fetching, so concurrent misses wait for one fetch instead of each fetching.
    fetch_lock: Mutex<()>,
    fetches: AtomicU64,
}

#[derive(Deserialize)]
struct ClerkOrg {
    id: Option<String>,
    rol: Option<String>,
    slg: Option<String>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    azp: Option<String>,
    org_id: Option<String>,
    org_role: Option<String>,
    org_slug: Option<String>,
    o: Option<ClerkOrg>,
}

const INVALID: Error = Error::Unauthenticated("invalid token");
const MAX_JWKS_BYTES: usize = 256 * 1024;

fn algorithm_of(params: &AlgorithmParameters) -> Option<Algorithm> {
    match params {
        AlgorithmParameters::RSA(_) => Some(Algorithm::RS256),
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            Some(Algorithm::ES256)
        }
        _ => None,
    }
}

impl JwtVerifier {
    /// Builds the verifier without any network call; keys are fetched on first use.
    pub fn new(config: JwtConfig) -> Result<Self, String> {
        if config.audiences.is_empty() {
            return Err("at least one JWT audience is required".into());
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the JWKS HTTP client: {e}"))?;
        Ok(Self {
            config,
            http,
            cache: RwLock::new(KeyCache::default()),
            fetch_lock: Mutex::new(()),
            fetches: AtomicU64::new(0),
        })
    }

    /// How many times the JWKS was fetched (tests and metrics).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    async fn fetch_jwks(&self) -> Result<HashMap<String, (DecodingKey, Algorithm)>, String> {
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let mut resp = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await
            .map_err(|e| format!("JWKS request failed: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("JWKS answered {}", resp.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("JWKS body: {e}"))? {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_JWKS_BYTES {
                return Err("JWKS body too large".into());
            }
        }
        let set: JwkSet =
            serde_json::from_slice(&body).map_err(|e| format!("JWKS is not a key set: {e}"))?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (jwk.common.key_id.clone(), algorithm_of(&jwk.algorithm))
            else {
                continue;
            };
            if let Ok(key) = DecodingKey::from_jwk(jwk) {
                keys.insert(kid, (key, alg));
            }
        }
        Ok(keys)
    }

    /// The key for `kid`, refetching the JWKS when the cache is stale, or when `kid` is unknown
    /// and the last fetch is older than `min_refetch`.
    async fn key_for(&self, kid: &str) -> Option<(DecodingKey, Algorithm)> {
        {
            let cache = self.cache.read().await;
            let fresh = cache
                .fetched_at
                .is_some_and(|t| t.elapsed() < self.config.cache_ttl);
            if fresh && let Some(k) = cache.keys.get(kid) {
                return Some(k.clone());
            }
        }
        let _guard = self.fetch_lock.lock().await;
        {
            // Another request may have fetched while this one waited.
            let cache = self.cache.read().await;
            let age = cache.fetched_at.map(|t| t.elapsed());
            let fresh = age.is_some_and(|a| a < self.config.cache_ttl);
            if let Some(k) = cache.keys.get(kid)
                && fresh
            {
                return Some(k.clone());
            }
            if age.is_some_and(|a| a < self.config.min_refetch) {
                return cache.keys.get(kid).cloned();
            }
        }
        match self.fetch_jwks().await {
            Ok(keys) => {
                let mut cache = self.cache.write().await;
                cache.keys = keys;
                cache.fetched_at = Some(Instant::now());
                cache.keys.get(kid).cloned()
            }
            Err(detail) => {
                tracing::warn!(%detail, "JWKS fetch failed");
                let mut cache = self.cache.write().await;
                // Count the failed attempt so that failures are rate-limited too.
                cache.fetched_at = Some(Instant::now());
                cache.keys.get(kid).cloned()
            }
        }
    }

    /// Verifies the token and returns its caller, creating the organisation's tenant on first
    /// sight. The request is counted against `limit` in the user's window while the tenant is
    /// read (the tenant's id follows from the token): one round trip for both.
    pub async fn authenticate(
        &self,
        store: &dyn ItemStore,
        clock: &dyn Clock,
        token: &str,
        limit: RateLimit,
    ) -> Result<Principal, Error> {
        let header = decode_header(token).map_err(|_| INVALID)?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(Error::Unauthenticated("token algorithm not accepted"));
        }
        let kid = header
            .kid
            .filter(|k| !k.is_empty() && k.len() <= 256)
            .ok_or(INVALID)?;
        let (key, key_alg) = self
            .key_for(&kid)
            .await
            .ok_or(Error::Unauthenticated("token signed by an unknown key"))?;
        if key_alg != header.alg {
            return Err(INVALID);
        }
        let mut v = Validation::new(key_alg);
        v.set_issuer(&[&self.config.issuer]);
        v.set_audience(&self.config.audiences);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.validate_nbf = true;
        v.leeway = self.config.leeway_secs;
        let claims = decode::<Claims>(token, &key, &v)
            .map_err(|e| {
                use jsonwebtoken::errors::ErrorKind;
                match e.kind() {
                    ErrorKind::ExpiredSignature => Error::Unauthenticated("token expired"),
                    ErrorKind::ImmatureSignature => Error::Unauthenticated("token not yet valid"),
                    ErrorKind::InvalidIssuer => Error::Unauthenticated("token issuer not accepted"),
                    ErrorKind::InvalidAudience => {
                        Error::Unauthenticated("token audience not accepted")
                    }
                    _ => INVALID,
                }
            })?
            .claims;
        if !self.config.allowed_azp.is_empty()
            && !claims
                .azp
                .as_ref()
                .is_some_and(|a| self.config.allowed_azp.contains(a))
        {
            return Err(Error::Unauthenticated("token azp not accepted"));
        }
        let org = claims.o.as_ref();
        let org_id = claims
            .org_id
            .clone()
            .or_else(|| org.and_then(|o| o.id.clone()))
            .filter(|id| !id.is_empty() && id.len() <= 256)
            .ok_or_else(|| Error::Forbidden {
                code: "no_organization",
                message: "the token names no organisation (org_id or o.id)".into(),
            })?;
        let role_claim = claims
            .org_role
            .clone()
            .or_else(|| org.and_then(|o| o.rol.clone()))
            .unwrap_or_default();
        let role = match role_claim.trim_start_matches("org:") {
            "admin" | "owner" => Role::Owner,
            _ => Role::Member,
        };
        let name = claims
            .org_slug
            .clone()
            .or_else(|| org.and_then(|o| o.slg.clone()))
            .unwrap_or_else(|| org_id.clone());
        let counted_as =
            jwt_rate_limit_key(&oidc_tenant_id(&self.config.issuer, &org_id), &claims.sub);
        let (tenant, counted) = tokio::join!(
            ensure_oidc_tenant(store, clock, &self.config.issuer, &org_id, &name),
            rate_limit::hit(store, clock, limit, &counted_as),
        );
        let tenant = tenant?;
        if tenant.status != viral_core::domain::TenantStatus::Active {
            return Err(Error::Forbidden {
                code: "tenant_suspended",
                message: "this tenant is suspended".into(),
            });
        }
        counted?;
        Ok(Principal {
            tenant,
            user_id: format!("oidc:{}", claims.sub),
            role,
            scopes: Scopes::ALL,
            credential: Credential::Jwt {
                subject: claims.sub,
                issuer: self.config.issuer.clone(),
            },
        })
    }
}
