//! OAuth access tokens for Google APIs from a service-account key: the JWT-bearer grant
//! (RFC 7523). The assertion is signed RS256 with `jsonwebtoken`; the token is cached until
//! a minute before it expires, so a warm Lambda asks once an hour.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use viral_core::ports::{ProviderError, SecretString};

use crate::credential::Credential;
use crate::http::{Http, RetryPolicy, parse_json};

pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const DEFAULT_TOKEN_URI: &str = "https://oauth2.googleapis.com/token";

/// The fields of a service-account key file we use.
#[derive(Clone, Deserialize)]
pub struct ServiceAccountKey {
    pub client_email: String,
    private_key: String,
    #[serde(default)]
    pub private_key_id: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
    #[serde(default = "default_token_uri")]
    pub token_uri: String,
}

fn default_token_uri() -> String {
    DEFAULT_TOKEN_URI.to_owned()
}

impl std::fmt::Debug for ServiceAccountKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceAccountKey")
            .field("client_email", &self.client_email)
            .field("private_key", &"[redacted]")
            .finish()
    }
}

impl ServiceAccountKey {
    /// Parses the JSON key file's contents.
    pub fn parse(json: &str) -> Result<Self, String> {
        let key: Self = serde_json::from_str(json)
            .map_err(|e| format!("not a service-account key file: {e}"))?;
        if !key.token_uri.starts_with("https://") && !key.token_uri.starts_with("http://127.0.0.1")
        {
            return Err("the key file's token_uri must be HTTPS".into());
        }
        Ok(key)
    }
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    scope: &'a str,
    aud: &'a str,
    iat: u64,
    exp: u64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Access tokens for the service account whose key file (JSON) the credential holds.
pub struct TokenSource {
    http: Http,
    key_file: Credential,
    cached: tokio::sync::Mutex<Option<(SecretString, Instant)>>,
}

const NAME: &str = "Google OAuth";

impl TokenSource {
    pub fn new(key_file: Credential) -> Result<Self, ProviderError> {
        Ok(Self {
            http: Http::new(Duration::from_secs(20), RetryPolicy::default())?,
            key_file,
            cached: tokio::sync::Mutex::new(None),
        })
    }

    /// A valid access token, fetched when the cached one is within a minute of expiry.
    pub async fn token(&self) -> Result<SecretString, ProviderError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = &*cached
            && Instant::now() < *until
        {
            return Ok(token.clone());
        }
        let key = ServiceAccountKey::parse(self.key_file.get().await?.expose())
            .map_err(ProviderError::Permanent)?;
        let signing =
            jsonwebtoken::EncodingKey::from_rsa_pem(key.private_key.as_bytes()).map_err(|_| {
                ProviderError::Permanent("the service-account private key is not an RSA PEM".into())
            })?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = key.private_key_id.clone();
        let claims = Claims {
            iss: &key.client_email,
            scope: CLOUD_PLATFORM_SCOPE,
            aud: &key.token_uri,
            iat: now,
            exp: now + 3600,
        };
        let assertion = jsonwebtoken::encode(&header, &claims, &signing)
            .map_err(|e| ProviderError::Permanent(format!("cannot sign the token request: {e}")))?;
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion.as_str()),
        ];
        let body = self
            .http
            .send(64 * 1024, |c| c.post(&key.token_uri).form(&form))
            .await
            .map_err(|f| f.into_provider_error(NAME))?;
        let answer: TokenAnswer = parse_json(NAME, &body)?;
        if answer.access_token.is_empty() {
            return Err(ProviderError::Transient(
                "Google OAuth sent an empty token".into(),
            ));
        }
        let life = answer.expires_in.unwrap_or(3600).saturating_sub(60);
        let token = SecretString::new(answer.access_token);
        *cached = Some((token.clone(), Instant::now() + Duration::from_secs(life)));
        Ok(token)
    }
}
