//! BlobStore: objects by key (videos, renders), with time-limited signed GET URLs.

use std::time::Duration;

use async_trait::async_trait;

/// A validated object key: `[A-Za-z0-9._-]` segments joined by `/`, no empty or dot-only
/// segments, at most 512 bytes. Keys are made by the server, but checking them here keeps a
/// filesystem adapter from ever leaving its root.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BlobKey(String);

impl BlobKey {
    pub fn parse(raw: &str) -> Result<Self, BlobError> {
        let ok = !raw.is_empty()
            && raw.len() <= 512
            && raw.split('/').all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            });
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(BlobError::InvalidKey)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlobKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobMeta {
    pub size: u64,
    pub content_type: String,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum BlobError {
    #[error("invalid object key")]
    InvalidKey,
    #[error("blob store unavailable: {0}")]
    Backend(String),
}

#[async_trait]
pub trait BlobStore: Send + Sync {
    async fn put(&self, key: &BlobKey, bytes: Vec<u8>, content_type: &str)
    -> Result<(), BlobError>;
    async fn get(&self, key: &BlobKey) -> Result<Option<(Vec<u8>, BlobMeta)>, BlobError>;
    async fn head(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError>;
    /// Deleting a missing object is not an error.
    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError>;
    /// Copies `from` to `to` with its content type; false when `from` is missing. Stores that
    /// can copy in place (S3's CopyObject) do, so the bytes never pass through the caller.
    async fn copy(&self, from: &BlobKey, to: &BlobKey) -> Result<bool, BlobError> {
        match self.get(from).await? {
            Some((bytes, meta)) => {
                self.put(to, bytes, &meta.content_type).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
    /// A URL anyone can GET until `ttl` has passed.
    async fn signed_url(&self, key: &BlobKey, ttl: Duration) -> Result<String, BlobError>;
}

/// What the API needs of the media store: signed URLs to finished videos, nothing else. Held
/// as `dyn MediaUrls`, a store brings only its URL signing into a binary, not every
/// operation it has (the video routes' Lambdas link S3's presigning, not its puts and lists).
#[async_trait]
pub trait MediaUrls: Send + Sync {
    async fn media_url(&self, key: &BlobKey, ttl: Duration) -> Result<String, BlobError>;
}

#[async_trait]
impl<T: BlobStore> MediaUrls for T {
    async fn media_url(&self, key: &BlobKey, ttl: Duration) -> Result<String, BlobError> {
        self.signed_url(key, ttl).await
    }
}

/// A process's shared store, for a process that also serves its media.
#[async_trait]
impl MediaUrls for std::sync::Arc<dyn BlobStore> {
    async fn media_url(&self, key: &BlobKey, ttl: Duration) -> Result<String, BlobError> {
        self.signed_url(key, ttl).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside_their_root() {
        assert!(BlobKey::parse("tenants/tn_1/videos/job_1.mp4").is_ok());
        for bad in [
            "", "/abs", "a//b", "../x", "a/../b", "a/./b", "a\\b", "a b", "a/", "ä",
        ] {
            assert_eq!(BlobKey::parse(bad), Err(BlobError::InvalidKey), "{bad:?}");
        }
        assert!(BlobKey::parse(&"a".repeat(513)).is_err());
    }
}
