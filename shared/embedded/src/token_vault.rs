//! The token vault on a local master key: each value's data key is wrapped with AES-256-GCM
//! under a 256-bit key kept in the data directory (`token-vault.key`, owner-only).

use std::path::Path;

use async_trait::async_trait;
use viral_core::domain::envelope::{self, DataKey};
use viral_core::ports::{SecretString, TokenVault, VaultError};

/// Associated data of a wrapped data key: a wrapped key is never mistaken for anything else.
const WRAP_AAD: &[u8] = b"viral token vault data key v1";

pub struct FileTokenVault {
    master: [u8; 32],
}

impl FileTokenVault {
    pub fn new(master: [u8; 32]) -> Self {
        Self { master }
    }

    /// The vault on the master key in `path` (made on first use; a damaged file is an error:
    /// a new key would make every sealed token unreadable).
    pub fn from_key_file(path: &Path) -> Result<Self, String> {
        let hex_key = crate::key_file::load_or_create(path)?;
        let bytes = hex::decode(&hex_key[..64])
            .map_err(|_| format!("{} is damaged (not hex)", path.display()))?;
        let mut master = [0u8; 32];
        master.copy_from_slice(&bytes);
        Ok(Self::new(master))
    }
}

#[async_trait]
impl TokenVault for FileTokenVault {
    async fn seal(&self, secret: &SecretString, context: &str) -> Result<String, VaultError> {
        let key = viral_core::ids::random_bytes::<32>();
        let wrapped = envelope::aead_seal(&self.master, WRAP_AAD, &key);
        Ok(envelope::seal(
            &DataKey { key, wrapped },
            secret.expose(),
            context,
        ))
    }

    async fn open(&self, sealed: &str, context: &str) -> Result<SecretString, VaultError> {
        let env = envelope::parse(sealed).ok_or(VaultError::Unreadable)?;
        let key: [u8; 32] = envelope::aead_open(&self.master, WRAP_AAD, &env.wrapped)
            .and_then(|k| k.try_into().ok())
            .ok_or(VaultError::Unreadable)?;
        envelope::open(&key, &env, context)
            .map(SecretString::new)
            .ok_or(VaultError::Unreadable)
    }
}
