//! Sends tenants' webhook deliveries through the download guard: HTTPS only, every resolved
//! address checked (no private, loopback, link-local or metadata addresses; loopback over plain
//! HTTP only with the local-development switch) and the connection pinned to it, no redirect
//! followed, a 10-second limit, and at most 64 KiB of the answer read.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::Url;
use viral_core::ports::WebhookSender;

use crate::download::{DownloadPolicy, vet};
use crate::http::{describe, read_capped};

pub struct GuardedWebhookSender {
    policy: DownloadPolicy,
}

impl GuardedWebhookSender {
    /// `allow_loopback` is `VIRAL_ALLOW_LOOPBACK_PROVIDERS=1` (local development and tests).
    pub fn new(allow_loopback: bool) -> Self {
        let mut policy = DownloadPolicy::new(&[], allow_loopback);
        policy.any_public_host = true;
        policy.timeout = Duration::from_secs(10);
        policy.max_bytes = 64 * 1024;
        Self { policy }
    }

    /// The most one delivery may take (10 seconds unless set).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.policy.timeout = timeout;
        self
    }
}

#[async_trait]
impl WebhookSender for GuardedWebhookSender {
    async fn post(&self, url: &str, headers: &[(&str, String)], body: &str) -> Result<u16, String> {
        let url = Url::parse(url).map_err(|_| "not a URL".to_owned())?;
        let addrs = vet(&self.policy, &url).await.map_err(|e| match e {
            crate::download::DownloadError::Refused(why) => format!("endpoint refused: {why}"),
            other => other.to_string(),
        })?;
        let host = url.host_str().unwrap_or_default().to_owned();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(self.policy.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| describe(&e))?;
        let mut req = client
            .post(url)
            .header("content-type", "application/json")
            .header("user-agent", "viral-webhooks/1");
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        let resp = req
            .body(body.to_owned())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = resp.status().as_u16();
        // Read (a little of) the answer so the connection ends cleanly; its content is ignored.
        let _ = read_capped(resp, self.policy.max_bytes).await;
        Ok(status)
    }
}
