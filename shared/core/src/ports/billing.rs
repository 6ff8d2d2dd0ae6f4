//! The payment provider: customers, checkout for a subscription, the self-service portal.
//! Stripe behind it (the `viral-billing` crate); webhooks come in through the API and need no
//! port.

use async_trait::async_trait;

use crate::domain::plan::Plan;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum BillingError {
    /// No secret key: billing is not set up in this deployment.
    #[error("billing is not configured: {0}")]
    NotConfigured(String),
    /// The provider refused the request (4xx): our parameters or its state.
    #[error("the payment provider refused the request: {0}")]
    Refused(String),
    /// Network, 429 or 5xx: try again later.
    #[error("the payment provider is unavailable: {0}")]
    Unavailable(String),
}

/// A subscription checkout for one tenant and plan.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckoutRequest {
    pub tenant_id: String,
    pub customer_id: String,
    pub plan: Plan,
    pub price_id: String,
    pub success_url: String,
    pub cancel_url: String,
}

#[async_trait]
pub trait BillingGateway: Send + Sync {
    /// Creates the tenant's customer; the same key returns the same customer.
    async fn create_customer(
        &self,
        tenant_id: &str,
        name: &str,
        idempotency_key: &str,
    ) -> Result<String, BillingError>;

    /// A Checkout Session in subscription mode; returns the URL to send the user to.
    async fn create_checkout(
        &self,
        request: &CheckoutRequest,
        idempotency_key: &str,
    ) -> Result<String, BillingError>;

    /// A Billing Portal session for the customer; returns its URL.
    async fn create_portal(
        &self,
        customer_id: &str,
        return_url: &str,
    ) -> Result<String, BillingError>;
}
