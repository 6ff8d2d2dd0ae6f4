//! Blobs as files under one root, and signed URLs that the local server checks before serving.
//!
//! A signed URL is `{base}/media/{key}?expires={epoch s}&signature={hex HMAC-SHA256}` over
//! `"{key}\n{expires}"`. The server recomputes the MAC in constant time and refuses expired ones.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use viral_core::Clock;
use viral_core::ports::{BlobError, BlobKey, BlobMeta, BlobStore};

type HmacSha256 = Hmac<Sha256>;

/// The path prefix signed media URLs are served under.
pub const MEDIA_PATH: &str = "/media/";

#[derive(Clone)]
pub struct UrlSigner {
    key: Arc<[u8]>,
    base_url: String,
    clock: Arc<dyn Clock>,
}

/// Why a signed URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    Malformed,
    BadSignature,
    Expired,
}

impl UrlSigner {
    /// `key` should be at least 32 random bytes.
    pub fn new(key: &[u8], base_url: &str, clock: Arc<dyn Clock>) -> Self {
        Self {
            key: Arc::from(key),
            base_url: base_url.trim_end_matches('/').to_owned(),
            clock,
        }
    }

    fn mac(&self, key: &str, expires: i64) -> HmacSha256 {
        // HMAC accepts keys of any length, so this constructor cannot fail.
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.key)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(key.as_bytes());
        mac.update(b"\n");
        mac.update(expires.to_string().as_bytes());
        mac
    }

    pub fn sign(&self, key: &BlobKey, ttl: Duration) -> String {
        let expires = self.clock.now().plus(ttl).secs();
        let sig = hex::encode(self.mac(key.as_str(), expires).finalize().into_bytes());
        format!(
            "{}{MEDIA_PATH}{key}?expires={expires}&signature={sig}",
            self.base_url
        )
    }

    /// Checks a request for `/media/{key}?expires=…&signature=…` (path and query as received).
    /// The key a signed URL names, and when it expires (epoch seconds).
    pub fn verify(&self, key: &str, query: Option<&str>) -> Result<(BlobKey, i64), SignatureError> {
        let key = BlobKey::parse(key).map_err(|_| SignatureError::Malformed)?;
        let (mut expires, mut sig) = (None, None);
        for pair in query.unwrap_or("").split('&') {
            match pair.split_once('=') {
                Some(("expires", v)) => expires = v.parse::<i64>().ok(),
                Some(("signature", v)) => sig = hex::decode(v).ok(),
                _ => {}
            }
        }
        let (Some(expires), Some(sig)) = (expires, sig) else {
            return Err(SignatureError::Malformed);
        };
        self.mac(key.as_str(), expires)
            .verify_slice(&sig)
            .map_err(|_| SignatureError::BadSignature)?;
        if self.clock.now().secs() >= expires {
            return Err(SignatureError::Expired);
        }
        Ok((key, expires))
    }
}

/// A blob opened through a signed URL, and how long that URL has left: a cache must not
/// keep the bytes longer than the URL grants them.
pub struct SignedBlob {
    pub bytes: Vec<u8>,
    pub meta: BlobMeta,
    pub expires_in_s: i64,
}

#[derive(Clone)]
pub struct FsBlobStore {
    root: PathBuf,
    signer: UrlSigner,
}

fn io_err(e: std::io::Error) -> BlobError {
    BlobError::Backend(e.to_string())
}

impl FsBlobStore {
    pub fn new(root: &Path, signer: UrlSigner) -> Self {
        Self {
            root: root.to_owned(),
            signer,
        }
    }

    pub fn signer(&self) -> &UrlSigner {
        &self.signer
    }

    fn object_path(&self, key: &BlobKey) -> PathBuf {
        self.root.join("objects").join(key.as_str())
    }

    fn meta_path(&self, key: &BlobKey) -> PathBuf {
        self.root.join("meta").join(key.as_str())
    }

    /// Serves a signed URL's object: what the local server's `/media/` route calls.
    pub async fn open_signed(
        &self,
        key: &str,
        query: Option<&str>,
    ) -> Result<Option<SignedBlob>, SignatureError> {
        let (key, expires_at) = self.signer.verify(key, query)?;
        let expires_in_s = expires_at
            .saturating_sub(self.signer.clock.now().secs())
            .max(0);
        Ok(self
            .get(&key)
            .await
            .ok()
            .flatten()
            .map(|(bytes, meta)| SignedBlob {
                bytes,
                meta,
                expires_in_s,
            }))
    }
}

async fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let tmp = path.with_extension(format!("tmp-{}", viral_core::ids::new_id("w")));
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, path).await
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(
        &self,
        key: &BlobKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BlobError> {
        write_atomic(&self.meta_path(key), content_type.as_bytes())
            .await
            .map_err(io_err)?;
        write_atomic(&self.object_path(key), &bytes)
            .await
            .map_err(io_err)
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<(Vec<u8>, BlobMeta)>, BlobError> {
        let Some(meta) = self.head(key).await? else {
            return Ok(None);
        };
        match tokio::fs::read(self.object_path(key)).await {
            Ok(bytes) => Ok(Some((bytes, meta))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(e)),
        }
    }

    async fn head(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        let size = match tokio::fs::metadata(self.object_path(key)).await {
            Ok(m) if m.is_file() => m.len(),
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err(e)),
        };
        let content_type = tokio::fs::read_to_string(self.meta_path(key))
            .await
            .unwrap_or_else(|_| "application/octet-stream".into());
        Ok(Some(BlobMeta { size, content_type }))
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        for path in [self.object_path(key), self.meta_path(key)] {
            match tokio::fs::remove_file(path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(e)),
            }
        }
        Ok(())
    }

    async fn signed_url(&self, key: &BlobKey, ttl: Duration) -> Result<String, BlobError> {
        Ok(self.signer.sign(key, ttl))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use viral_core::{ManualClock, Timestamp};

    #[test]
    fn signatures_bind_key_and_expiry() {
        let clock = Arc::new(ManualClock::new(Timestamp::from_secs(1000)));
        let s = UrlSigner::new(b"k", "http://x/", clock.clone());
        let key = BlobKey::parse("a/b.mp4").unwrap();
        let url = s.sign(&key, Duration::from_secs(60));
        let (path, query) = url.split_once('?').unwrap();
        let k = path.strip_prefix("http://x/media/").unwrap();
        assert_eq!(s.verify(k, Some(query)), Ok((key, 1060)));
        assert_eq!(
            s.verify("a/c.mp4", Some(query)),
            Err(SignatureError::BadSignature)
        );
        let forged = query.replace("expires=1060", "expires=9999");
        assert_eq!(
            s.verify(k, Some(&forged)),
            Err(SignatureError::BadSignature)
        );
        assert_eq!(s.verify(k, None), Err(SignatureError::Malformed));
        assert_eq!(
            s.verify("../x", Some(query)),
            Err(SignatureError::Malformed)
        );
        clock.advance(Duration::from_secs(61));
        assert_eq!(s.verify(k, Some(query)), Err(SignatureError::Expired));
    }
}
