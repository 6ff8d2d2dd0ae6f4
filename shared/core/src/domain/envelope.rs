//! Envelope encryption for secrets kept at rest (platform OAuth tokens): each value is sealed
//! with its own random 256-bit data key under AES-256-GCM, and only the data key *wrapped* by
//! a master key (AWS KMS, or a local key file) is stored beside it. The record it belongs to
//! (`context`) is bound in as associated data, so a sealed value copied to another record does
//! not open.
//!
//! Sealed text: `v1.` + base64url( wrapped-key length (u16, big-endian) ‖ wrapped key ‖
//! nonce (12 bytes) ‖ ciphertext and tag ).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::ids::random_bytes;

const VERSION: &str = "v1.";
const NONCE_LEN: usize = 12;
/// Largest wrapped key accepted when reading (KMS blobs are under 200 bytes).
const MAX_WRAPPED: usize = 1024;

/// A fresh data key: the key itself (used once, then dropped) and its wrapped form.
pub struct DataKey {
    pub key: [u8; 32],
    pub wrapped: Vec<u8>,
}

/// A sealed value taken apart.
#[derive(Debug, PartialEq, Eq)]
pub struct Envelope {
    pub wrapped: Vec<u8>,
    sealed: Vec<u8>,
}

/// AES-256-GCM with a random nonce: `nonce ‖ ciphertext ‖ tag`.
pub fn aead_seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let nonce = random_bytes::<NONCE_LEN>();
    // Encryption fails only for inputs of gigabytes; tokens are a few hundred bytes.
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .unwrap_or_default();
    let mut out = Vec::with_capacity(NONCE_LEN + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

/// Opens what [`aead_seal`] made; `None` when the key, the associated data or a byte differs.
pub fn aead_open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() < NONCE_LEN + 16 {
        return None;
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key))
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .ok()
}

/// Seals `secret` for the record `context` under a fresh data key.
pub fn seal(data_key: &DataKey, secret: &str, context: &str) -> String {
    let body = aead_seal(&data_key.key, context.as_bytes(), secret.as_bytes());
    let len = u16::try_from(data_key.wrapped.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(2 + data_key.wrapped.len() + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&data_key.wrapped);
    out.extend_from_slice(&body);
    format!("{VERSION}{}", URL_SAFE_NO_PAD.encode(out))
}

/// Takes a sealed value apart; `None` when it is not one.
pub fn parse(sealed: &str) -> Option<Envelope> {
    let bytes = URL_SAFE_NO_PAD.decode(sealed.strip_prefix(VERSION)?).ok()?;
    let (len, rest) = bytes.split_at_checked(2)?;
    let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
    if len == 0 || len > MAX_WRAPPED {
        return None;
    }
    let (wrapped, body) = rest.split_at_checked(len)?;
    Some(Envelope {
        wrapped: wrapped.to_vec(),
        sealed: body.to_vec(),
    })
}

/// Opens an envelope with its unwrapped data key; `None` if anything does not match.
pub fn open(key: &[u8; 32], envelope: &Envelope, context: &str) -> Option<String> {
    let plain = aead_open(key, context.as_bytes(), &envelope.sealed)?;
    String::from_utf8(plain).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data_key() -> DataKey {
        DataKey {
            key: random_bytes::<32>(),
            wrapped: b"wrapped-by-the-master".to_vec(),
        }
    }

    #[test]
    fn sealed_values_open_only_for_their_record_and_unchanged() {
        let dk = data_key();
        let sealed = seal(&dk, "refresh-token-123", "T#tn_1/ACCOUNT#acc_1");
        assert!(!sealed.contains("refresh-token-123"));
        let env = parse(&sealed).unwrap();
        assert_eq!(env.wrapped, dk.wrapped);
        assert_eq!(
            open(&dk.key, &env, "T#tn_1/ACCOUNT#acc_1").as_deref(),
            Some("refresh-token-123")
        );
        assert_eq!(open(&dk.key, &env, "T#tn_2/ACCOUNT#acc_1"), None);
        assert_eq!(
            open(&random_bytes::<32>(), &env, "T#tn_1/ACCOUNT#acc_1"),
            None
        );
        // Two seals of one value differ (fresh nonce).
        assert_ne!(seal(&dk, "x", "c"), seal(&dk, "x", "c"));
    }

    #[test]
    fn damaged_values_are_refused() {
        let dk = data_key();
        let sealed = seal(&dk, "secret", "ctx");
        let mut bytes = URL_SAFE_NO_PAD.decode(&sealed[3..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let flipped = format!("v1.{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert_eq!(open(&dk.key, &parse(&flipped).unwrap(), "ctx"), None);
        for bad in ["", "v1.", "v2.AAAA", "v1.!!!", "v1.AAA", &sealed[..10]] {
            assert!(
                parse(bad).is_none_or(|e| open(&dk.key, &e, "ctx").is_none()),
                "{bad}"
            );
        }
    }
}
