//! Secrets: named secret values, cached for a while so a warm Lambda does not refetch them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::{Clock, Timestamp};

/// A secret value. `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretString([redacted])")
    }
}

impl std::fmt::Display for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum SecretsError {
    #[error("invalid secret name {0:?}")]
    InvalidName(String),
    #[error("secrets unavailable: {0}")]
    Backend(String),
}

/// Secret names are environment-variable shaped: `STRIPE_SECRET_KEY`.
pub fn validate_name(name: &str) -> Result<(), SecretsError> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(())
    } else {
        Err(SecretsError::InvalidName(name.to_owned()))
    }
}

#[async_trait]
pub trait Secrets: Send + Sync {
    /// `Ok(None)` when no secret has that name.
    async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretsError>;
}

/// Caches another [`Secrets`] for `ttl`, misses included, so rotation shows up within `ttl`.
pub struct CachedSecrets<S> {
    inner: S,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Timestamp, Option<SecretString>)>>,
}

impl<S: Secrets> CachedSecrets<S> {
    pub fn new(inner: S, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Self {
            inner,
            clock,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }
}

#[async_trait]
impl<S: Secrets> Secrets for CachedSecrets<S> {
    async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretsError> {
        validate_name(name)?;
        let now = self.clock.now();
        if let Ok(cache) = self.cache.lock()
            && let Some((at, v)) = cache.get(name)
            && now < at.plus(self.ttl)
        {
            return Ok(v.clone());
        }
        let v = self.inner.get(name).await?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(name.to_owned(), (now, v.clone()));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::sync::atomic::{AtomicUsize, Ordering};

    struct Counting(AtomicUsize);

    #[async_trait]
    impl Secrets for Counting {
        async fn get(&self, _: &str) -> Result<Option<SecretString>, SecretsError> {
            let n = self.0.fetch_add(1, Ordering::SeqCst);
            Ok(Some(SecretString::new(format!("v{n}"))))
        }
    }

    #[test]
    fn secret_never_prints() {
        let s = SecretString::new("sk_live_123");
        assert!(!format!("{s:?} {s}").contains("sk_live"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn cache_serves_until_ttl_then_refetches() {
        let clock = Arc::new(ManualClock::new(Timestamp(0)));
        let s = CachedSecrets::new(
            Counting(AtomicUsize::new(0)),
            clock.clone(),
            Duration::from_secs(60),
        );
        assert_eq!(s.get("A").await.unwrap().unwrap().expose(), "v0");
        assert_eq!(s.get("A").await.unwrap().unwrap().expose(), "v0");
        clock.advance(Duration::from_secs(61));
        assert_eq!(s.get("A").await.unwrap().unwrap().expose(), "v1");
        assert!(s.get("bad-name").await.is_err());
    }
}
