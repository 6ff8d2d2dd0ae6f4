//! WebhookSender: one signed POST to a tenant's endpoint, through a guard that checks every
//! address the endpoint's name resolves to (the provider download guard's rules), follows no
//! redirect and gives up after a few seconds.

use async_trait::async_trait;

#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// POSTs `body` (JSON) with these extra headers; the endpoint's HTTP status, or why there
    /// was none (refused address, timeout, connection error).
    async fn post(&self, url: &str, headers: &[(&str, String)], body: &str) -> Result<u16, String>;
}
