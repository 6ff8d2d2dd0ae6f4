//! The token vault on AWS KMS: each value gets its own data key from `GenerateDataKey`
//! (AES-256), sealed locally with AES-256-GCM; only KMS's encrypted copy of the key is kept.
//! The record (`context`) is KMS's encryption context as well as the data's associated data,
//! so CloudTrail shows which record a decryption was for, and a value moved to another record
//! opens nowhere.

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use viral_core::domain::envelope::{self, DataKey};
use viral_core::ports::{SecretString, TokenVault, VaultError};

use crate::errors::{code, describe};

/// The encryption-context key naming the record a data key belongs to.
const CONTEXT_KEY: &str = "viral:record";

#[derive(Clone, Debug)]
pub struct KmsTokenVault {
    client: Client,
    key_id: String,
}

impl KmsTokenVault {
    pub fn new(client: Client, key_id: &str) -> Self {
        Self {
            client,
            key_id: key_id.to_owned(),
        }
    }

    pub fn from_conf(conf: &aws_config::SdkConfig, key_id: &str) -> Self {
        Self::new(Client::new(conf), key_id)
    }

    /// Creates a symmetric key (tests; on AWS the template does) and returns its id.
    pub async fn create_key(conf: &aws_config::SdkConfig) -> Result<String, String> {
        let out = Client::new(conf)
            .create_key()
            .description("viral token vault (test)")
            .send()
            .await
            .map_err(|e| describe(&e))?;
        out.key_metadata()
            .map(|m| m.key_id().to_owned())
            .ok_or_else(|| "CreateKey returned no key".to_owned())
    }
}

fn unavailable<E: std::error::Error>(e: &E) -> VaultError {
    VaultError::Unavailable(describe(e))
}

#[async_trait]
impl TokenVault for KmsTokenVault {
    async fn seal(&self, secret: &SecretString, context: &str) -> Result<String, VaultError> {
        let out = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, context)
            .send()
            .await
            .map_err(|e| unavailable(&e))?;
        let (Some(plain), Some(wrapped)) = (out.plaintext(), out.ciphertext_blob()) else {
            return Err(VaultError::Unavailable(
                "GenerateDataKey returned no key".into(),
            ));
        };
        let key: [u8; 32] = plain.as_ref().try_into().map_err(|_| {
            VaultError::Unavailable("GenerateDataKey returned a key of the wrong size".into())
        })?;
        let data_key = DataKey {
            key,
            wrapped: wrapped.as_ref().to_vec(),
        };
        Ok(envelope::seal(&data_key, secret.expose(), context))
    }

    async fn open(&self, sealed: &str, context: &str) -> Result<SecretString, VaultError> {
        let env = envelope::parse(sealed).ok_or(VaultError::Unreadable)?;
        let out = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(env.wrapped.clone()))
            .encryption_context(CONTEXT_KEY, context)
            .send()
            .await
            .map_err(|e| match code(&e) {
                Some("InvalidCiphertextException" | "IncorrectKeyException") => {
                    VaultError::Unreadable
                }
                _ => unavailable(&e),
            })?;
        let key: [u8; 32] = out
            .plaintext()
            .and_then(|p| p.as_ref().try_into().ok())
            .ok_or(VaultError::Unreadable)?;
        envelope::open(&key, &env, context)
            .map(SecretString::new)
            .ok_or(VaultError::Unreadable)
    }
}
