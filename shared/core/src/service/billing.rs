//! Billing use cases: starting a subscription checkout, the billing portal, what a tenant's
//! billing looks like, and Stripe's webhooks.
//!
//! A webhook is verified, read, matched to a tenant (by the Stripe customer, else the tenant
//! id we put in the checkout and the subscription's metadata), and applied to the tenant's
//! billing record in one transaction with a marker for the event id: a repeat of the same
//! event finds its marker and changes nothing. Concurrent events for one tenant are serialised
//! by the tenant item's version. Events for customers we do not know, and types we do not
//! handle, are acknowledged and ignored.

use std::time::Duration;

use serde_json::Value;

use crate::clock::{Clock, Timestamp};
use crate::domain::billing::{Period, Standing};
use crate::domain::plan::Plan;
use crate::domain::stripe_webhook::{self, Prices, SignatureError};
use crate::domain::{Tenant, keys};
use crate::error::{Error, Result};
use crate::ports::{
    BillingGateway, CheckoutRequest, Cond, Item, ItemStore, StoreError, Transaction, TxError,
    Update, Write,
};
use crate::service::tenants;

/// How long an event's marker is kept: Stripe retries for up to three days.
const EVENT_MARKER_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Attempts at the tenant's read-modify-write before giving up (Stripe will retry). Each lost
/// attempt means another write to the tenant committed, so this bounds how many concurrent
/// deliveries for one tenant are absorbed without a retry from Stripe.
const ATTEMPTS: usize = 25;

fn customer_pk(customer_id: &str) -> String {
    format!("STRIPE_CUSTOMER#{customer_id}")
}

const CUSTOMER_SK: &str = "STRIPE_CUSTOMER";

fn event_pk(event_id: &str) -> String {
    format!("STRIPE_EVENT#{event_id}")
}

const EVENT_SK: &str = "STRIPE_EVENT";

/// What the deployment's Stripe setup says (prices and return URLs); keys are secrets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillingSettings {
    pub prices: Prices,
    pub success_url: String,
    pub cancel_url: String,
    pub portal_return_url: String,
}

/// What happened to a webhook.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Handled {
    Applied,
    /// Seen before (same event id): nothing changed.
    Duplicate,
    /// A type we do not handle, or about a customer that is not one of our tenants.
    Ignored(&'static str),
}

fn bad(code: &'static str, message: impl Into<String>) -> Error {
    Error::BadWebhook {
        code,
        message: message.into(),
    }
}

/// Verifies, reads and applies one webhook delivery. Bad signature, stale timestamp and
/// malformed body change nothing.
pub async fn handle_webhook(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    prices: &Prices,
    secret: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<Handled> {
    let signature = signature.ok_or_else(|| {
        bad(
            "invalid_signature",
            "the Stripe-Signature header is missing",
        )
    })?;
    stripe_webhook::verify(signature, body, secret, clock.now().secs()).map_err(|e| match e {
        SignatureError::Stale => bad("stale_signature", e.to_string()),
        other => bad("invalid_signature", other.to_string()),
    })?;
    let event = stripe_webhook::parse(body, prices).map_err(|m| bad("invalid_event", m))?;
    let Some(update) = event.update else {
        return Ok(Handled::Ignored("event type not handled"));
    };
    let Some(tenant_id) = resolve_tenant(
        store,
        update.customer.as_deref(),
        update.tenant_hint.as_deref(),
    )
    .await?
    else {
        tracing::warn!(event = %event.id, kind = %event.kind, "Stripe event for no tenant of ours");
        return Ok(Handled::Ignored("no tenant for this customer"));
    };
    let now = clock.now();
    let mut marker = Item::new(event_pk(&event.id), EVENT_SK)
        .with("type", event.kind.as_str())
        .with("tenant_id", tenant_id.as_str())
        .with("received_at", now.millis());
    marker.expires_at = Some(now.plus(EVENT_MARKER_TTL).secs());
    let written = write_billing(store, &tenant_id, Write::Put(marker, Cond::Absent), |b| {
        b.apply(&update.change);
        if b.customer_id.is_none() {
            b.customer_id = update.customer.clone();
        }
        Edit::Changed(())
    })
    .await?;
    Ok(match written {
        Written::Done(()) => {
            tracing::info!(event = %event.id, kind = %event.kind, tenant_id = %tenant_id, "Stripe event applied");
            Handled::Applied
        }
        Written::FirstRefused => Handled::Duplicate,
        Written::NoTenant => Handled::Ignored("no tenant for this customer"),
    })
}

/// What an edit of a tenant's billing did.
enum Edit<R> {
    /// Nothing to write (the answer is already there).
    Unchanged(R),
    Changed(R),
}

enum Written<R> {
    Done(R),
    /// The write that goes with the edit had its condition fail (an event seen before).
    FirstRefused,
    NoTenant,
}

/// Reads the tenant, lets `edit` change its billing, and writes it back in one transaction
/// with `first`, retrying while other writes to the tenant get in first. Each lost attempt
/// means another write committed, so [`ATTEMPTS`] bounds the concurrency absorbed; past it
/// the caller gets a conflict (Stripe retries a webhook that did not get a 2xx).
async fn write_billing<R>(
    store: &dyn ItemStore,
    tenant_id: &str,
    first: Write,
    mut edit: impl FnMut(&mut crate::domain::billing::Billing) -> Edit<R>,
) -> Result<Written<R>> {
    let pk = keys::tenant_pk(tenant_id);
    for _ in 0..ATTEMPTS {
        let Some(item) = store.get(&pk, keys::TENANT_SK).await? else {
            return Ok(Written::NoTenant);
        };
        let mut tenant = Tenant::from_item(&item).ok_or(Error::NotFound("tenant"))?;
        let answer = match edit(&mut tenant.billing) {
            Edit::Unchanged(r) => return Ok(Written::Done(r)),
            Edit::Changed(r) => r,
        };
        #[derive(Clone, Copy)]
        enum Lost {
            /// `first`'s condition: the event was applied before.
            First,
            /// Another write changed the tenant since it was read.
            Tenant,
        }
        let mut tx = Transaction::new();
        tx.guarded(Lost::First, first.clone()).guarded(
            Lost::Tenant,
            Write::Update(
                Update::new(&pk, keys::TENANT_SK)
                    .set(
                        "billing",
                        serde_json::to_value(&tenant.billing).unwrap_or(Value::Null),
                    )
                    .version(item.version + 1)
                    .when(Cond::VersionIs(item.version)),
            ),
        );
        match tx.commit(store).await {
            Ok(()) => return Ok(Written::Done(answer)),
            Err(TxError::Refused(Lost::First)) => return Ok(Written::FirstRefused),
            Err(TxError::Refused(Lost::Tenant)) | Err(TxError::Store(StoreError::Conflict)) => {
                continue;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(Error::Store(StoreError::Conflict))
}

/// The tenant a Stripe object belongs to: the customer's link first (we create every
/// customer), else the tenant id the object carries — if that tenant exists.
async fn resolve_tenant(
    store: &dyn ItemStore,
    customer: Option<&str>,
    hint: Option<&str>,
) -> Result<Option<String>> {
    if let Some(c) = customer
        && let Some(link) = store.get(&customer_pk(c), CUSTOMER_SK).await?
        && let Some(t) = link.str("tenant_id")
    {
        return Ok(Some(t.to_owned()));
    }
    match hint {
        Some(t) if tenants::get_tenant(store, t).await?.is_some() => Ok(Some(t.to_owned())),
        _ => Ok(None),
    }
}

/// The tenant's Stripe customer, created (and linked) on first use.
async fn ensure_customer(
    store: &dyn ItemStore,
    gateway: &dyn BillingGateway,
    tenant: &Tenant,
) -> Result<String> {
    if let Some(c) = &tenant.billing.customer_id {
        return Ok(c.clone());
    }
    // The same key for every attempt: Stripe answers a retry with the first customer.
    let customer = gateway
        .create_customer(
            &tenant.id,
            &tenant.name,
            &format!("viral-customer-{}", tenant.id),
        )
        .await?;
    let link = Item::new(customer_pk(&customer), CUSTOMER_SK).with("tenant_id", tenant.id.as_str());
    let written = write_billing(
        store,
        &tenant.id,
        Write::Put(link, Cond::None),
        |b| match &b.customer_id {
            Some(existing) => Edit::Unchanged(existing.clone()),
            None => {
                b.customer_id = Some(customer.clone());
                Edit::Changed(customer.clone())
            }
        },
    )
    .await?;
    match written {
        Written::Done(c) => Ok(c),
        Written::FirstRefused | Written::NoTenant => Err(Error::NotFound("tenant")),
    }
}

/// Starts a subscription checkout for `plan`; returns the URL to send the owner to. A tenant
/// whose subscription already gives a paid plan changes plans in the portal instead (so it
/// never pays twice).
pub async fn checkout(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    gateway: &dyn BillingGateway,
    settings: &BillingSettings,
    tenant: &Tenant,
    plan: Plan,
) -> Result<String> {
    let price = settings.prices.price_of(plan).ok_or_else(|| {
        Error::Invalid("plan must be starter, pro or agency (free needs no checkout)".into())
    })?;
    let now = clock.now();
    let standing = tenant.standing(now);
    if standing.subscription_id.is_some() && standing.plan != Plan::Free {
        return Err(Error::State {
            code: "subscription_exists",
            message: format!(
                "the tenant already subscribes to {}; change plans in the billing portal (POST /v1/billing/portal)",
                standing.plan.as_str()
            ),
        });
    }
    let customer = ensure_customer(store, gateway, tenant).await?;
    // A retry within the hour gets the same session (Stripe replays the first answer).
    let hour = now.secs() / 3600;
    let key = format!("viral-checkout-{}-{}-{hour}", tenant.id, plan.as_str());
    let request = CheckoutRequest {
        tenant_id: tenant.id.clone(),
        customer_id: customer,
        plan,
        price_id: price.to_owned(),
        success_url: settings.success_url.clone(),
        cancel_url: settings.cancel_url.clone(),
    };
    Ok(gateway.create_checkout(&request, &key).await?)
}

/// A Billing Portal session for the tenant's customer.
pub async fn portal(
    gateway: &dyn BillingGateway,
    settings: &BillingSettings,
    tenant: &Tenant,
) -> Result<String> {
    let customer = tenant
        .billing
        .customer_id
        .as_deref()
        .ok_or_else(|| Error::State {
            code: "no_billing_account",
            message: "no billing account yet: start one with POST /v1/billing/checkout".into(),
        })?;
    Ok(gateway
        .create_portal(customer, &settings.portal_return_url)
        .await?)
}

/// The tenant's billing as the API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct BillingView {
    pub standing: Standing,
    pub has_customer: bool,
}

pub fn view(tenant: &Tenant, now: Timestamp) -> BillingView {
    BillingView {
        standing: tenant.standing(now),
        has_customer: tenant.billing.customer_id.is_some(),
    }
}

/// The period as RFC 3339 strings.
pub fn period_strings(p: &Period) -> (String, String) {
    (
        Timestamp::from_secs(p.start).rfc3339(),
        Timestamp::from_secs(p.end).rfc3339(),
    )
}
