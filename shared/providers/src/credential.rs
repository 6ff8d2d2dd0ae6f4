//! A provider's secret, read through the Secrets port when a call first needs it — not at
//! init, where on AWS it would be a network call in every cold start. The port caches it.

use std::sync::Arc;

use viral_core::ports::{ProviderError, SecretString, Secrets, SourceError};

#[derive(Clone)]
pub enum Credential {
    /// A value known up front (a key file read at start, a test key).
    Fixed(SecretString),
    /// The secret of this name (`RUNWAY_API_KEY`, …).
    Named {
        secrets: Arc<dyn Secrets>,
        name: &'static str,
    },
}

impl Credential {
    pub fn fixed(value: impl Into<String>) -> Self {
        Self::Fixed(SecretString::new(value))
    }

    pub fn named(secrets: Arc<dyn Secrets>, name: &'static str) -> Self {
        Self::Named { secrets, name }
    }

    /// The secret's value. Missing is permanent (nothing will change until an operator sets
    /// it); an unreachable secret store is transient.
    pub async fn get(&self) -> Result<SecretString, ProviderError> {
        match self {
            Credential::Fixed(v) => Ok(v.clone()),
            Credential::Named { secrets, name } => match secrets.get(name).await {
                Ok(Some(v)) if !v.expose().trim().is_empty() => Ok(v),
                Ok(_) => Err(ProviderError::Permanent(format!(
                    "{name} is not configured"
                ))),
                Err(e) => Err(ProviderError::Transient(format!("cannot read {name}: {e}"))),
            },
        }
    }

    /// [`Credential::get`] for trend sources and the concept writer: missing is
    /// `Credentials`.
    pub async fn get_for_source(&self) -> Result<SecretString, SourceError> {
        self.get().await.map_err(|e| match e {
            ProviderError::Transient(m) | ProviderError::UnknownOutcome(m) => {
                SourceError::Transient(m)
            }
            ProviderError::Permanent(m)
            | ProviderError::ContentRejected(m)
            | ProviderError::InvalidInput(m) => SourceError::Credentials(m),
        })
    }

    /// Whether the secret is there (for the provider listing and `viral doctor`).
    pub async fn is_configured(&self) -> bool {
        self.get().await.is_ok()
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Fixed(_) => f.write_str("Credential::Fixed([redacted])"),
            Credential::Named { name, .. } => write!(f, "Credential::Named({name})"),
        }
    }
}
