//! The BillingGateway port on Stripe, through async-stripe: customers, Checkout Sessions in
//! subscription mode and Billing Portal sessions, each POST with an `Idempotency-Key`. The
//! secret key comes through the Secrets port when first needed (no network at init) and the
//! client is built once per key.

use std::sync::Arc;

use async_trait::async_trait;
use stripe::{Client, ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_billing::billing_portal_session::CreateBillingPortalSession;
use stripe_checkout::CheckoutSessionMode;
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionLineItems, CreateCheckoutSessionSubscriptionData,
};
use stripe_core::customer::CreateCustomer;
use viral_core::ports::{BillingError, BillingGateway, CheckoutRequest, SecretString, Secrets};

pub use viral_core::domain::billing::STRIPE_API as DEFAULT_BASE_URL;
/// The secret holding the API key.
pub const SECRET_KEY: &str = "STRIPE_SECRET_KEY";

pub struct StripeGateway {
    secrets: Arc<dyn Secrets>,
    base_url: String,
    /// The client and the key it was built with (rebuilt when the secret rotates).
    client: tokio::sync::Mutex<Option<(SecretString, Client)>>,
}

impl StripeGateway {
    pub fn new(secrets: Arc<dyn Secrets>, base_url: &str) -> Self {
        Self {
            secrets,
            base_url: base_url.trim_end_matches('/').to_owned(),
            client: tokio::sync::Mutex::new(None),
        }
    }

    async fn client(&self) -> Result<Client, BillingError> {
        let key = match self.secrets.get(SECRET_KEY).await {
            Ok(Some(k)) if !k.expose().trim().is_empty() => k,
            Ok(_) => {
                return Err(BillingError::NotConfigured(format!(
                    "{SECRET_KEY} is not set"
                )));
            }
            Err(e) => {
                return Err(BillingError::Unavailable(format!(
                    "cannot read {SECRET_KEY}: {e}"
                )));
            }
        };
        let mut cached = self.client.lock().await;
        if let Some((k, c)) = cached.as_ref()
            && k.expose() == key.expose()
        {
            return Ok(c.clone());
        }
        let client = ClientBuilder::new(key.expose())
            .url(format!("{}/", self.base_url))
            .app_info("viral", Some(env!("CARGO_PKG_VERSION").to_owned()), None)
            .build()
            .map_err(|e| BillingError::NotConfigured(format!("Stripe client: {}", describe(&e))))?;
        *cached = Some((key, client.clone()));
        Ok(client)
    }
}

/// What we read of each object Stripe creates: its id, and the URL a session sends the
/// user to. Reading these alone, instead of async-stripe's full `Customer` and session types
/// (whose deserialisers bring in much of Stripe's object graph — subscriptions, invoices,
/// payment intents), keeps the checkout and portal Lambdas small.
#[derive(miniserde::Deserialize)]
struct Created {
    id: String,
    url: Option<String>,
}

fn idempotent(key: &str) -> Result<RequestStrategy, BillingError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| BillingError::Refused(format!("idempotency key: {e}")))
}

/// What an error says, without request details (Stripe's messages carry no secrets).
fn describe(e: &StripeError) -> String {
    match e {
        StripeError::Stripe(api, status) => format!(
            "{status} {}: {}",
            api.type_.as_str(),
            api.message.as_deref().unwrap_or("no message")
        ),
        StripeError::JSONDeserialize(m) => format!("unexpected response: {m}"),
        StripeError::ClientError(m) => format!("network: {m}"),
        StripeError::ConfigError(m) => format!("configuration: {m}"),
        StripeError::Timeout => "timed out".into(),
    }
}

fn classify(e: StripeError) -> BillingError {
    let detail = describe(&e);
    match e {
        StripeError::Stripe(_, status) if status == 429 || status >= 500 => {
            BillingError::Unavailable(detail)
        }
        StripeError::Stripe(_, 401) => {
            BillingError::NotConfigured(format!("Stripe refused the secret key: {detail}"))
        }
        StripeError::Stripe(..) => BillingError::Refused(detail),
        _ => BillingError::Unavailable(detail),
    }
}

#[async_trait]
impl BillingGateway for StripeGateway {
    async fn create_customer(
        &self,
        tenant_id: &str,
        name: &str,
        idempotency_key: &str,
    ) -> Result<String, BillingError> {
        let client = self.client().await?;
        let customer: Created = CreateCustomer::new()
            .name(name)
            .metadata(
                [("tenant_id".to_owned(), tenant_id.to_owned())]
                    .into_iter()
                    .collect::<std::collections::HashMap<_, _>>(),
            )
            .build()
            .customize()
            .request_strategy(idempotent(idempotency_key)?)
            .send(&client)
            .await
            .map_err(classify)?;
        // The id becomes a key of ours (the customer → tenant link): hold it to Stripe's shape.
        let id = customer.id;
        let valid = id.starts_with("cus_")
            && id.len() <= 255
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            return Err(BillingError::Unavailable(
                "Stripe returned a customer id of an unexpected shape".into(),
            ));
        }
        Ok(id)
    }

    async fn create_checkout(
        &self,
        r: &CheckoutRequest,
        idempotency_key: &str,
    ) -> Result<String, BillingError> {
        let client = self.client().await?;
        let mut line = CreateCheckoutSessionLineItems::new();
        line.price = Some(r.price_id.clone());
        line.quantity = Some(1);
        let mut subscription = CreateCheckoutSessionSubscriptionData::new();
        subscription.metadata = Some(
            [("tenant_id".to_owned(), r.tenant_id.clone())]
                .into_iter()
                .collect(),
        );
        let session: Created = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .customer(r.customer_id.clone())
            .client_reference_id(r.tenant_id.clone())
            .line_items(vec![line])
            .subscription_data(subscription)
            .metadata(
                [
                    ("tenant_id".to_owned(), r.tenant_id.clone()),
                    ("plan".to_owned(), r.plan.as_str().to_owned()),
                ]
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
            )
            .success_url(r.success_url.clone())
            .cancel_url(r.cancel_url.clone())
            .build()
            .customize()
            .request_strategy(idempotent(idempotency_key)?)
            .send(&client)
            .await
            .map_err(classify)?;
        session.url.ok_or_else(|| {
            BillingError::Unavailable("Stripe returned a session without a URL".into())
        })
    }

    async fn create_portal(
        &self,
        customer_id: &str,
        return_url: &str,
    ) -> Result<String, BillingError> {
        let client = self.client().await?;
        let session: Created = CreateBillingPortalSession::new()
            .customer(customer_id)
            .return_url(return_url)
            .build()
            .customize()
            .send(&client)
            .await
            .map_err(classify)?;
        session.url.ok_or_else(|| {
            BillingError::Unavailable("Stripe returned a portal session without a URL".into())
        })
    }
}
