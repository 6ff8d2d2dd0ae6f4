//! CloudFront signed URLs, checked by an independent implementation: Python's `cryptography`
//! (installed with moto by the test command) verifies the signature over the canned policy.

use std::process::Command;
use std::sync::Arc;

use async_trait::async_trait;
use viral_aws::CloudFrontSigner;
use viral_core::ports::{BlobKey, SecretString, Secrets, SecretsError};

const KEY: &str = include_str!("../../providers/tests/fixtures/test-service-account.key");
const PUBLIC: &str = include_str!("../../providers/tests/fixtures/test-service-account.pub");

/// The one secret the signer reads.
struct OneSecret(Option<&'static str>);

#[async_trait]
impl Secrets for OneSecret {
    async fn get(&self, name: &str) -> Result<Option<SecretString>, SecretsError> {
        assert_eq!(name, "CLOUDFRONT_PRIVATE_KEY");
        Ok(self.0.map(SecretString::new))
    }
}

const VERIFY: &str = r#"
import base64, sys, urllib.parse
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
url, pem = sys.argv[1], open(sys.argv[2], "rb").read()
base, query = url.split("?", 1)
q = dict(urllib.parse.parse_qsl(query))
assert q["Hash-Algorithm"] == "SHA256" and q["Key-Pair-Id"] == "K2JCJMDEHXQW5F", q
policy = '{"Statement":[{"Resource":"%s","Condition":{"DateLessThan":{"AWS:EpochTime":%s}}}]}' % (base, q["Expires"])
sig = base64.b64decode(q["Signature"].replace("-", "+").replace("_", "=").replace("~", "/"))
serialization.load_pem_public_key(pem).verify(sig, policy.encode(), padding.PKCS1v15(), hashes.SHA256())
print("verified")
"#;

#[tokio::test]
async fn signed_urls_verify_with_an_independent_implementation() {
    let signer = CloudFrontSigner::new(
        "d111111abcdef8.cloudfront.net",
        "K2JCJMDEHXQW5F",
        Arc::new(OneSecret(Some(KEY))),
    );
    let key = BlobKey::parse("tenants/tn_1/videos/job_1.mp4").unwrap();
    let url = signer.signed_url(&key, 1_795_572_753).await.unwrap();
    assert!(url.starts_with(
        "https://d111111abcdef8.cloudfront.net/tenants/tn_1/videos/job_1.mp4?Expires=1795572753&Signature="
    ));
    let python = std::env::var("VIRAL_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .expect("VIRAL_TEST_PYTHON: run the test command `tests/run`");
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("public.pem");
    std::fs::write(&pem, PUBLIC).unwrap();
    let out = Command::new(python)
        .args(["-c", VERIFY, &url])
        .arg(&pem)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A tampered expiry no longer matches the signature.
    let tampered = url.replace("Expires=1795572753", "Expires=1895572753");
    let out = Command::new(std::env::var("VIRAL_TEST_PYTHON").unwrap())
        .args(["-c", VERIFY, &tampered])
        .arg(&pem)
        .output()
        .unwrap();
    assert!(!out.status.success(), "a changed expiry must not verify");
}

#[tokio::test]
async fn a_missing_key_is_an_error_not_an_unsigned_url() {
    let signer = CloudFrontSigner::new("media.example.com", "K1", Arc::new(OneSecret(None)));
    let key = BlobKey::parse("tenants/tn_1/videos/job_1.mp4").unwrap();
    let e = signer.signed_url(&key, 1).await.unwrap_err();
    assert!(e.to_string().contains("CLOUDFRONT_PRIVATE_KEY"), "{e}");
}

/// The same key as PKCS#1 (`BEGIN RSA PRIVATE KEY`, what `openssl genrsa` writes), converted
/// by Python's `cryptography`: PKCS#1 v1.5 signatures are deterministic, so both forms must
/// sign the same URL byte for byte. A key that is not RSA is refused with a clear error.
#[test]
fn pkcs1_and_pkcs8_forms_of_a_key_sign_alike() {
    const TO_PKCS1: &str = r#"
import sys
from cryptography.hazmat.primitives import serialization
k = serialization.load_pem_private_key(sys.stdin.buffer.read(), None)
sys.stdout.buffer.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()))
"#;
    let python = std::env::var("VIRAL_TEST_PYTHON")
        .ok()
        .filter(|p| !p.is_empty())
        .expect("VIRAL_TEST_PYTHON: run the test command `tests/run`");
    let mut child = Command::new(python)
        .args(["-c", TO_PKCS1])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(KEY.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let pkcs1 = String::from_utf8(out.stdout).unwrap();
    assert!(
        pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "{pkcs1}"
    );
    let url = "https://d1.cloudfront.net/a.mp4";
    let from8 = viral_aws::cloudfront::sign_url(url, 1_795_572_753, "K1", KEY).unwrap();
    let from1 = viral_aws::cloudfront::sign_url(url, 1_795_572_753, "K1", &pkcs1).unwrap();
    assert_eq!(from1, from8);
    for bad in ["", "not a key", PUBLIC] {
        let e = viral_aws::cloudfront::sign_url(url, 1, "K1", bad).unwrap_err();
        assert!(e.contains("not an RSA private key"), "{e}");
    }
    // CloudFront takes RSA 2048 only; a bigger key is named, not used.
    const RSA_3072: &str = r#"
import sys
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
k = rsa.generate_private_key(public_exponent=65537, key_size=3072)
sys.stdout.buffer.write(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
"#;
    let out = Command::new(std::env::var("VIRAL_TEST_PYTHON").unwrap())
        .args(["-c", RSA_3072])
        .output()
        .unwrap();
    assert!(out.status.success());
    let big = String::from_utf8(out.stdout).unwrap();
    let e = viral_aws::cloudfront::sign_url(url, 1, "K1", &big).unwrap_err();
    assert!(
        e.contains("RSA 3072 bits; CloudFront accepts RSA 2048"),
        "{e}"
    );
}
