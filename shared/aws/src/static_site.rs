//! Uploading a static site (the dashboard) to its bucket, each object with its own
//! `Content-Type` and `Cache-Control`, which CloudFront's caching then follows.

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;

use crate::errors::describe;

/// One object to upload.
pub struct SiteObject<'a> {
    pub key: &'a str,
    pub bytes: &'a [u8],
    pub content_type: &'a str,
    pub cache_control: &'a str,
}

pub struct SiteBucket {
    client: Client,
    bucket: String,
}

impl SiteBucket {
    /// `path_style` is for S3-compatible servers on loopback (moto).
    pub fn from_conf(conf: &aws_config::SdkConfig, bucket: &str, path_style: bool) -> Self {
        let s3 = aws_sdk_s3::config::Builder::from(conf)
            .force_path_style(path_style)
            .build();
        Self {
            client: Client::from_conf(s3),
            bucket: bucket.to_owned(),
        }
    }

    /// Uploads the objects in the order given; stops at the first failure, naming the key.
    pub async fn upload(&self, objects: &[SiteObject<'_>]) -> Result<(), String> {
        for o in objects {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(o.key)
                .content_type(o.content_type)
                .cache_control(o.cache_control)
                .body(ByteStream::from(o.bytes.to_vec()))
                .send()
                .await
                .map_err(|e| format!("uploading {}: {}", o.key, describe(&e)))?;
        }
        Ok(())
    }
}
