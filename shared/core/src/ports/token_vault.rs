//! Sealing secrets that must be stored (platform OAuth tokens): envelope encryption under a
//! master key the store never sees — AWS KMS on AWS, a key file in the data directory locally.

use async_trait::async_trait;

use super::SecretString;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VaultError {
    /// The value is damaged, or was sealed for another record or under another master key.
    #[error("the sealed value cannot be opened: damaged, or sealed for another record")]
    Unreadable,
    /// The master key's service failed or is not reachable; try again.
    #[error("the token vault is unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait TokenVault: Send + Sync {
    /// Seals `secret` for the record named by `context` (e.g. `T#tn_…/ACCOUNT#acc_…`); the
    /// result is text safe to store and log-free to handle.
    async fn seal(&self, secret: &SecretString, context: &str) -> Result<String, VaultError>;

    /// Opens a value sealed for `context`; any other context is [`VaultError::Unreadable`].
    async fn open(&self, sealed: &str, context: &str) -> Result<SecretString, VaultError>;
}
