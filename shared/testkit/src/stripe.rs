//! Stripe webhook events as Stripe sends them (API version 2026-06-24.dahlia shapes), for
//! tests of the billing webhook: realistic life cycles of subscriptions, shuffled and
//! duplicated.

use serde_json::{Value, json};
use viral_core::domain::learner::Rng;

pub const PRICE_STARTER: &str = "price_1Starter49";
pub const PRICE_PRO: &str = "price_1Pro149";
pub const PRICE_AGENCY: &str = "price_1Agency499";

const DAY: i64 = 24 * 3600;

/// One event: its `created` second, id, and JSON body.
#[derive(Clone, Debug)]
pub struct StripeEvent {
    pub created: i64,
    pub id: String,
    pub body: String,
}

fn envelope(id: &str, kind: &str, created: i64, object: Value) -> StripeEvent {
    StripeEvent {
        created,
        id: id.to_owned(),
        body: json!({
            "id": id, "object": "event", "api_version": "2026-06-24.dahlia", "created": created,
            "data": {"object": object}, "livemode": false, "pending_webhooks": 1,
            "request": {"id": null, "idempotency_key": null}, "type": kind
        })
        .to_string(),
    }
}

fn subscription(
    sub: &str,
    customer: &str,
    tenant: &str,
    status: &str,
    price: &str,
    start: i64,
    cancel_later: bool,
) -> Value {
    json!({
        "id": sub, "object": "subscription", "customer": customer, "status": status,
        "cancel_at_period_end": cancel_later, "collection_method": "charge_automatically",
        "metadata": {"tenant_id": tenant},
        "items": {"object": "list", "data": [{
            "id": format!("si_{sub}"), "object": "subscription_item", "quantity": 1,
            "current_period_start": start, "current_period_end": start + 30 * DAY,
            "price": {"id": price, "object": "price", "currency": "usd", "recurring": {"interval": "month"}}
        }]}
    })
}

fn invoice(sub: &str, customer: &str, tenant: &str, reason: &str, start: i64) -> Value {
    json!({
        "id": format!("in_{sub}_{start}"), "object": "invoice", "customer": customer,
        "billing_reason": reason, "status": "paid",
        "parent": {"type": "subscription_details", "subscription_details": {
            "subscription": sub, "metadata": {"tenant_id": tenant}}},
        "lines": {"object": "list", "data": [{"period": {"start": start, "end": start + 30 * DAY}}]}
    })
}

/// A subscription's life, in the order Stripe creates the events: a checkout, the first
/// invoice, then a random walk of renewals, failed payments, plan changes, a cancellation at
/// period end, and perhaps the deletion. Some events share a `created` second.
pub fn lifecycle(
    rng: &mut Rng,
    n: usize,
    tenant: &str,
    customer: &str,
    start: i64,
) -> Vec<StripeEvent> {
    let sub = format!("sub_{n:04}");
    let prices = [PRICE_STARTER, PRICE_PRO, PRICE_AGENCY];
    let plans = ["starter", "pro", "agency"];
    let mut plan = rng.below(3);
    let mut t = start;
    let mut seq = 0;
    let mut id = |t: i64| {
        seq += 1;
        format!("evt_{n:04}_{t}_{seq:02}")
    };
    let mut out = vec![
        envelope(
            &id(t),
            "customer.subscription.created",
            t,
            subscription(&sub, customer, tenant, "incomplete", prices[plan], t, false),
        ),
        envelope(
            &id(t),
            "checkout.session.completed",
            t,
            json!({
            "id": format!("cs_{n}"), "object": "checkout.session", "mode": "subscription",
            "client_reference_id": tenant, "customer": customer, "subscription": sub,
            "payment_status": "paid", "status": "complete", "metadata": {"plan": plans[plan], "tenant_id": tenant}}),
        ),
        envelope(
            &id(t + 1),
            "invoice.paid",
            t + 1,
            invoice(&sub, customer, tenant, "subscription_create", t),
        ),
        envelope(
            &id(t + 1),
            "customer.subscription.updated",
            t + 1,
            subscription(&sub, customer, tenant, "active", prices[plan], t, false),
        ),
    ];
    let mut period = t;
    t += 2;
    for _ in 0..rng.below(5) {
        match rng.below(4) {
            0 => {
                period += 30 * DAY;
                t = period;
                out.push(envelope(
                    &id(t),
                    "invoice.paid",
                    t,
                    invoice(&sub, customer, tenant, "subscription_cycle", period),
                ));
                out.push(envelope(
                    &id(t),
                    "customer.subscription.updated",
                    t,
                    subscription(
                        &sub,
                        customer,
                        tenant,
                        "active",
                        prices[plan],
                        period,
                        false,
                    ),
                ));
            }
            1 => {
                period += 30 * DAY;
                t = period;
                out.push(envelope(
                    &id(t),
                    "invoice.payment_failed",
                    t,
                    invoice(&sub, customer, tenant, "subscription_cycle", period),
                ));
                out.push(envelope(
                    &id(t + 1),
                    "customer.subscription.updated",
                    t + 1,
                    subscription(
                        &sub,
                        customer,
                        tenant,
                        "past_due",
                        prices[plan],
                        period,
                        false,
                    ),
                ));
                t += 1;
            }
            2 => {
                plan = rng.below(3);
                t += 3600;
                out.push(envelope(
                    &id(t),
                    "customer.subscription.updated",
                    t,
                    subscription(
                        &sub,
                        customer,
                        tenant,
                        "active",
                        prices[plan],
                        period,
                        false,
                    ),
                ));
            }
            _ => {
                t += 60;
                out.push(envelope(
                    &id(t),
                    "customer.subscription.updated",
                    t,
                    subscription(
                        &sub,
                        customer,
                        tenant,
                        "unpaid",
                        prices[plan],
                        period,
                        false,
                    ),
                ));
            }
        }
    }
    if rng.below(2) == 0 {
        t += 600;
        out.push(envelope(
            &id(t),
            "customer.subscription.updated",
            t,
            subscription(&sub, customer, tenant, "active", prices[plan], period, true),
        ));
        if rng.below(2) == 0 {
            t = period + 30 * DAY;
            out.push(envelope(
                &id(t),
                "customer.subscription.deleted",
                t,
                subscription(
                    &sub,
                    customer,
                    tenant,
                    "canceled",
                    prices[plan],
                    period,
                    true,
                ),
            ));
        }
    }
    out
}

/// The events in an order Stripe does not promise to avoid: shuffled, with about `dup_share`
/// of them delivered twice (each copy anywhere in the order).
pub fn shuffled_with_duplicates(
    rng: &mut Rng,
    events: &[StripeEvent],
    dup_share: f64,
) -> Vec<StripeEvent> {
    let mut out: Vec<StripeEvent> = events.to_vec();
    for e in events {
        if rng.uniform() < dup_share {
            out.push(e.clone());
        }
    }
    for i in (1..out.len()).rev() {
        let j = rng.below(i + 1);
        out.swap(i, j);
    }
    out
}
