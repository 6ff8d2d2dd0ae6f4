//! BlobStore on S3, with presigned GET URLs. (CloudFront signed URLs come with delivery.)

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use viral_core::ports::{BlobError, BlobKey, BlobMeta, BlobStore};

use crate::errors::{code, describe};

#[derive(Clone, Debug)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    /// With a CDN in front of the bucket, URLs are CloudFront-signed; else S3-presigned.
    cdn: Option<crate::CloudFrontSigner>,
}

fn backend<E: std::error::Error>(e: E) -> BlobError {
    BlobError::Backend(describe(&e))
}

fn is_missing<E: aws_sdk_s3::error::ProvideErrorMetadata>(e: &E) -> bool {
    matches!(code(e), Some("NoSuchKey" | "NotFound" | "404"))
}

impl S3BlobStore {
    pub fn new(client: Client, bucket: &str) -> Self {
        Self {
            client,
            bucket: bucket.to_owned(),
            cdn: None,
        }
    }

    /// Delivers through CloudFront: `signed_url` signs CDN URLs instead of presigning S3.
    pub fn with_cdn(mut self, cdn: crate::CloudFrontSigner) -> Self {
        self.cdn = Some(cdn);
        self
    }

    /// `path_style` is for S3-compatible servers on loopback (moto), which have no DNS buckets.
    pub fn from_conf(conf: &aws_config::SdkConfig, bucket: &str, path_style: bool) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(path_style)
            .build();
        Self::new(Client::from_conf(s3), bucket)
    }

    /// Creates the bucket (tests and local setups; on AWS the template does).
    pub async fn create_bucket(&self) -> Result<(), BlobError> {
        self.client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(
        &self,
        key: &BlobKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), BlobError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get(&self, key: &BlobKey) -> Result<Option<(Vec<u8>, BlobMeta)>, BlobError> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(o) => o,
            Err(e) if is_missing(&e) => return Ok(None),
            Err(e) => return Err(backend(e)),
        };
        let content_type = out
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let bytes = out
            .body
            .collect()
            .await
            .map_err(backend)?
            .into_bytes()
            .to_vec();
        let meta = BlobMeta {
            size: bytes.len() as u64,
            content_type,
        };
        Ok(Some((bytes, meta)))
    }

    async fn copy(&self, from: &BlobKey, to: &BlobKey) -> Result<bool, BlobError> {
        // Keys are plain ASCII (BlobKey allows letters, digits, `.`, `_`, `-`, `/`), so the
        // copy source needs no percent-encoding.
        match self
            .client
            .copy_object()
            .bucket(&self.bucket)
            .key(to.as_str())
            .copy_source(format!("{}/{}", self.bucket, from.as_str()))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if is_missing(&e) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }

    async fn head(&self, key: &BlobKey) -> Result<Option<BlobMeta>, BlobError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
        {
            Ok(o) => Ok(Some(BlobMeta {
                size: o
                    .content_length()
                    .and_then(|n| u64::try_from(n).ok())
                    .unwrap_or(0),
                content_type: o
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned(),
            })),
            Err(e) if is_missing(&e) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn delete(&self, key: &BlobKey) -> Result<(), BlobError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn signed_url(&self, key: &BlobKey, ttl: Duration) -> Result<String, BlobError> {
        if let Some(cdn) = &self.cdn {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let expires = i64::try_from(now.saturating_add(ttl.as_secs())).unwrap_or(i64::MAX);
            return cdn.signed_url(key, expires).await;
        }
        let conf = PresigningConfig::expires_in(ttl).map_err(backend)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .presigned(conf)
            .await
            .map_err(backend)?;
        Ok(req.uri().to_owned())
    }
}
