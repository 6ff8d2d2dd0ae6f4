//! Secrets on AWS Secrets Manager: secret `NAME` is stored as `{prefix}NAME` (e.g.
//! `viral/STRIPE_SECRET_KEY`). Wrap it in `CachedSecrets` so warm Lambdas do not refetch.

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use viral_core::ports::secrets::validate_name;
use viral_core::ports::{SecretString, Secrets, SecretsError};

use crate::errors::{code, describe};

#[derive(Clone, Debug)]
pub struct SecretsManagerSecrets {
    client: Client,
    prefix: String,
}

impl SecretsManagerSecrets {
    pub fn new(client: Client, prefix: &str) -> Self {
        Self {
            client,
            prefix: prefix.to_owned(),
        }
    }

    pub fn from_conf(conf: &aws_config::SdkConfig, prefix: &str) -> Self {
        Self::new(Client::new(conf), prefix)
    }

    /// Stores a secret (tests and operators' setup scripts).
    pub async fn create(&self, name: &str, value: &str) -> Result<(), SecretsError> {
        validate_name(name)?;
        self.client
            .create_secret()
            .name(format!("{}{name}", self.prefix))
            .secret_string(value)
            .send()
            .await
            .map_err(|e| SecretsError::Backend(describe(&e)))?;
        Ok(())
    }
}

#[async_trait]
impl Secrets for SecretsManagerSecrets {
    async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretsError> {
        validate_name(name)?;
        match self
            .client
            .get_secret_value()
            .secret_id(format!("{}{name}", self.prefix))
            .send()
            .await
        {
            Ok(out) => Ok(out.secret_string.map(SecretString::new)),
            Err(e) if code(&e) == Some("ResourceNotFoundException") => Ok(None),
            // The error never carries the secret value, only its name and the service's reason.
            Err(e) => Err(SecretsError::Backend(describe(&e))),
        }
    }
}
