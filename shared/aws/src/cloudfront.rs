//! CloudFront signed URLs (canned policy): videos are delivered through the CDN, and a URL
//! works until it expires. The policy is signed RSA-SHA256 (`Hash-Algorithm=SHA256`) with the
//! private key of a key in the distribution's trusted key group; that key is a secret
//! (`CLOUDFRONT_PRIVATE_KEY`), read through the Secrets port when a URL is first signed.

use std::sync::Arc;

use base64::Engine as _;
use viral_core::ports::{BlobError, BlobKey, Secrets};

/// The canned policy CloudFront checks: this URL, until `expires` (epoch seconds). No
/// whitespace: the signature covers these exact bytes.
pub fn canned_policy(url: &str, expires: i64) -> String {
    let resource = serde_json::Value::from(url).to_string();
    format!(
        r#"{{"Statement":[{{"Resource":{resource},"Condition":{{"DateLessThan":{{"AWS:EpochTime":{expires}}}}}}}]}}"#
    )
}

/// CloudFront's URL-safe base64: `+` → `-`, `=` → `_`, `/` → `~`.
fn cloudfront_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(bytes)
        .chars()
        .map(|c| match c {
            '+' => '-',
            '=' => '_',
            '/' => '~',
            c => c,
        })
        .collect()
}

/// Signs `url` for delivery until `expires` with an RSA private key (PEM).
pub fn sign_url(url: &str, expires: i64, key_pair_id: &str, pem: &str) -> Result<String, String> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes())
        .map_err(|_| "the CloudFront private key is not an RSA PEM".to_owned())?;
    let policy = canned_policy(url, expires);
    // RS256 is RSASSA-PKCS1-v1_5 with SHA-256, what `Hash-Algorithm=SHA256` names; jsonwebtoken
    // returns it base64url-encoded without padding, which we re-encode CloudFront's way.
    let sig = jsonwebtoken::crypto::sign(policy.as_bytes(), &key, jsonwebtoken::Algorithm::RS256)
        .map_err(|e| format!("cannot sign: {e}"))?;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .map_err(|e| format!("cannot sign: {e}"))?;
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{url}{sep}Expires={expires}&Signature={}&Key-Pair-Id={key_pair_id}&Hash-Algorithm=SHA256",
        cloudfront_base64(&raw)
    ))
}

/// Signs URLs of a distribution whose origin is the media bucket.
#[derive(Clone)]
pub struct CloudFrontSigner {
    /// `https://d111111abcdef8.cloudfront.net` or an alternate domain.
    base_url: String,
    key_pair_id: String,
    secrets: Arc<dyn Secrets>,
}

impl std::fmt::Debug for CloudFrontSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudFrontSigner")
            .field("base_url", &self.base_url)
            .field("key_pair_id", &self.key_pair_id)
            .finish_non_exhaustive()
    }
}

pub const PRIVATE_KEY_SECRET: &str = "CLOUDFRONT_PRIVATE_KEY";

impl CloudFrontSigner {
    pub fn new(domain: &str, key_pair_id: &str, secrets: Arc<dyn Secrets>) -> Self {
        let domain = domain.trim_end_matches('/');
        let base_url = if domain.starts_with("https://") {
            domain.to_owned()
        } else {
            format!("https://{domain}")
        };
        Self {
            base_url,
            key_pair_id: key_pair_id.to_owned(),
            secrets,
        }
    }

    pub async fn signed_url(&self, key: &BlobKey, expires: i64) -> Result<String, BlobError> {
        let pem = self
            .secrets
            .get(PRIVATE_KEY_SECRET)
            .await
            .map_err(|e| BlobError::Backend(e.to_string()))?
            .ok_or_else(|| BlobError::Backend(format!("{PRIVATE_KEY_SECRET} is not set")))?;
        let url = format!("{}/{}", self.base_url, key.as_str());
        sign_url(&url, expires, &self.key_pair_id, pem.expose()).map_err(BlobError::Backend)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_is_canned_and_compact() {
        assert_eq!(
            canned_policy("https://d1.cloudfront.net/a.mp4", 1767290400),
            r#"{"Statement":[{"Resource":"https://d1.cloudfront.net/a.mp4","Condition":{"DateLessThan":{"AWS:EpochTime":1767290400}}}]}"#
        );
    }

    #[test]
    fn cloudfront_base64_replaces_the_unsafe_characters() {
        assert_eq!(cloudfront_base64(&[0xfb, 0xff, 0xfe]), "-~~-");
        assert_eq!(cloudfront_base64(&[0xff]), "~w__");
    }
}
