//! CloudFront signed URLs (canned policy): videos are delivered through the CDN, and a URL
//! works until it expires. The policy is signed RSA-SHA256 (`Hash-Algorithm=SHA256`) with the
//! private key of a key in the distribution's trusted key group; that key is a secret
//! (`CLOUDFRONT_PRIVATE_KEY`), read through the Secrets port when a URL is first signed.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine as _;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
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

/// An RSA 2048 private key from PEM, PKCS#1 (`BEGIN RSA PRIVATE KEY`, what `openssl genrsa` writes
/// and CloudFront's guide uses) or PKCS#8 (`BEGIN PRIVATE KEY`).
fn rsa_key(pem: &str) -> Result<RsaKeyPair, String> {
    let not_rsa = || "the CloudFront private key is not an RSA private key in PEM".to_owned();
    match PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|_| not_rsa())? {
        PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
        PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
        _ => return Err(not_rsa()),
    }
    .map_err(|_| not_rsa())
    .and_then(|k| {
        // CloudFront takes RSA public keys of 2048 bits only: a URL signed with another size
        // would be refused at the edge, so the mistake is named here.
        let bits = k.public_modulus_len() * 8;
        if bits == 2048 {
            Ok(k)
        } else {
            Err(format!(
                "the CloudFront private key is RSA {bits} bits; CloudFront accepts RSA 2048"
            ))
        }
    })
}

/// Signs `url` for delivery until `expires` with an RSA private key (PEM): RSASSA-PKCS1-v1_5
/// over the canned policy with SHA-256, which CloudFront checks when the URL says
/// `Hash-Algorithm=SHA256` (SHA-1, the default without it, is not offered for new code). The
/// signer is aws-lc-rs, already linked by the SDK's TLS stack, rather than a JWT library or
/// the `rsa` crate (whose signing is not constant-time: RUSTSEC-2023-0071).
pub fn sign_url(url: &str, expires: i64, key_pair_id: &str, pem: &str) -> Result<String, String> {
    let key = rsa_key(pem)?;
    let policy = canned_policy(url, expires);
    let mut sig = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        policy.as_bytes(),
        &mut sig,
    )
    .map_err(|_| "cannot sign the CloudFront policy".to_owned())?;
    let sep = if url.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{url}{sep}Expires={expires}&Signature={}&Key-Pair-Id={key_pair_id}&Hash-Algorithm=SHA256",
        cloudfront_base64(&sig)
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
