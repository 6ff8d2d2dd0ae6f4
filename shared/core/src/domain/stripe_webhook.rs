//! Stripe webhooks: the `Stripe-Signature` check and the reading of the events we act on.
//!
//! The signature is ours to check rather than async-stripe's, whose parser keeps only the last
//! `v1` value: while a signing secret is being rolled, Stripe sends one `v1` per secret, and
//! any one matching must do. HMAC-SHA256 over `"{t}.{raw body}"`, compared in constant time,
//! and `t` within 300 s of now either way.

use hmac::{Hmac, Mac};
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::domain::billing::{Change, Period, Stamp, SubscriptionStatus};
use crate::domain::plan::Plan;

/// Seconds a signature stays acceptable, either side of now.
pub const TOLERANCE_S: i64 = 300;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the Stripe-Signature header has no v1 signature")]
    NoSignature,
    #[error("the signature's timestamp is more than 300 s from now")]
    Stale,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Checks `header` against `body` with the endpoint's signing secret.
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &str,
    now_secs: i64,
) -> Result<(), SignatureError> {
    let mut t: Option<i64> = None;
    let mut v1: Vec<Vec<u8>> = Vec::new();
    for part in header.split(',') {
        let (k, v) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match k {
            "t" => t = Some(v.parse().map_err(|_| SignatureError::Malformed)?),
            "v1" => v1.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?),
            _ => {} // v0 (test mode's legacy scheme) and future schemes are ignored
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if v1.is_empty() {
        return Err(SignatureError::NoSignature);
    }
    if (now_secs - t).abs() > TOLERANCE_S {
        return Err(SignatureError::Stale);
    }
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map_err(|_| SignatureError::Mismatch)?;
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    // Every candidate is compared in full, so timing says nothing about which one matched.
    let matched = v1.iter().fold(0u8, |acc, sig| {
        acc | u8::from(bool::from(expected.as_slice().ct_eq(sig)))
    });
    if matched == 1 {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The signature header for `body` at `t` (tests and local tools sign with it).
pub fn sign(body: &[u8], secret: &str, t: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The Price id of each paid plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Prices {
    pub starter: String,
    pub pro: String,
    pub agency: String,
}

impl Prices {
    pub fn plan_of(&self, price_id: &str) -> Option<Plan> {
        [
            (&self.starter, Plan::Starter),
            (&self.pro, Plan::Pro),
            (&self.agency, Plan::Agency),
        ]
        .into_iter()
        .find(|(id, _)| !id.is_empty() && id.as_str() == price_id)
        .map(|(_, p)| p)
    }

    pub fn price_of(&self, plan: Plan) -> Option<&str> {
        match plan {
            Plan::Starter => Some(&self.starter),
            Plan::Pro => Some(&self.pro),
            Plan::Agency => Some(&self.agency),
            Plan::Free => None,
        }
        .filter(|p| !p.is_empty())
        .map(String::as_str)
    }
}

#[derive(Deserialize)]
struct Envelope {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    object: Value,
}

/// An event we act on: which tenant it is about and what it changes.
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    /// The Stripe customer, to find the tenant by.
    pub customer: Option<String>,
    /// The tenant id the event names (checkout's `client_reference_id`, our metadata).
    pub tenant_hint: Option<String>,
    pub change: Change,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub id: String,
    pub kind: String,
    /// `None`: a type we do not handle, or an object we have nothing to do with (an invoice
    /// outside any subscription).
    pub update: Option<Update>,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= 255)
}

fn int_at(v: &Value, path: &[&str]) -> Option<i64> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_i64)
}

/// An id field that may be expanded into its object.
fn id_at(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() && s.len() <= 255 => Some(s.clone()),
        Value::Object(o) => o.get("id")?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn period(start: Option<i64>, end: Option<i64>) -> Option<Period> {
    match (start, end) {
        (Some(start), Some(end)) if start < end => Some(Period { start, end }),
        _ => None,
    }
}

/// Reads an event body (already verified). `Err` says why the body is not a Stripe event.
pub fn parse(body: &[u8], prices: &Prices) -> Result<Event, String> {
    let env: Envelope =
        serde_json::from_slice(body).map_err(|e| format!("not a Stripe event: {e}"))?;
    if !env.id.starts_with("evt_") || env.id.len() > 255 {
        return Err("not a Stripe event id".into());
    }
    let o = &env.data.object;
    let stamp = Stamp {
        at: env.created,
        event: env.id.clone(),
    };
    let base = |sub: String| Change {
        subscription_id: sub,
        stamp: stamp.clone(),
        plan: None,
        status: None,
        period: None,
        cancel_at_period_end: None,
    };
    let update = match env.kind.as_str() {
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted" => {
            let sub = str_at(o, &["id"]).ok_or("a subscription event without a subscription id")?;
            let item = o.pointer("/items/data/0").unwrap_or(&Value::Null);
            let price = id_at(item, "price");
            let status = if env.kind.ends_with("deleted") {
                Some(SubscriptionStatus::Canceled)
            } else {
                str_at(o, &["status"]).and_then(SubscriptionStatus::parse)
            };
            // Newer API versions keep the period on the items, older ones on the subscription.
            let period = period(
                int_at(item, &["current_period_start"]).or(int_at(o, &["current_period_start"])),
                int_at(item, &["current_period_end"]).or(int_at(o, &["current_period_end"])),
            );
            let plan = price.as_deref().and_then(|p| prices.plan_of(p));
            if price.is_some() && plan.is_none() {
                tracing::warn!(price = ?price, "subscription on a price no plan is configured for");
            }
            Some(Update {
                customer: id_at(o, "customer"),
                tenant_hint: str_at(o, &["metadata", "tenant_id"]).map(str::to_owned),
                change: Change {
                    plan,
                    status,
                    period,
                    cancel_at_period_end: o.get("cancel_at_period_end").and_then(Value::as_bool),
                    ..base(sub.to_owned())
                },
            })
        }
        "checkout.session.completed" => match id_at(o, "subscription") {
            Some(sub) if str_at(o, &["mode"]) == Some("subscription") => Some(Update {
                customer: id_at(o, "customer"),
                tenant_hint: str_at(o, &["client_reference_id"]).map(str::to_owned),
                change: Change {
                    plan: str_at(o, &["metadata", "plan"]).and_then(Plan::parse),
                    status: (str_at(o, &["payment_status"]) == Some("paid"))
                        .then_some(SubscriptionStatus::Active),
                    ..base(sub)
                },
            }),
            _ => None,
        },
        "invoice.paid" | "invoice.payment_failed" => {
            let sub = str_at(o, &["parent", "subscription_details", "subscription"])
                .map(str::to_owned)
                .or_else(|| id_at(o, "subscription"));
            sub.map(|sub| {
                let status = if env.kind == "invoice.paid" {
                    SubscriptionStatus::Active
                } else if str_at(o, &["billing_reason"]) == Some("subscription_create") {
                    // The first payment failed: the subscription never started.
                    SubscriptionStatus::Incomplete
                } else {
                    SubscriptionStatus::PastDue
                };
                let line = o.pointer("/lines/data/0").unwrap_or(&Value::Null);
                Update {
                    customer: id_at(o, "customer"),
                    tenant_hint: str_at(
                        o,
                        &["parent", "subscription_details", "metadata", "tenant_id"],
                    )
                    .map(str::to_owned),
                    change: Change {
                        status: Some(status),
                        period: period(
                            int_at(line, &["period", "start"]),
                            int_at(line, &["period", "end"]),
                        ),
                        ..base(sub)
                    },
                }
            })
        }
        _ => None,
    };
    Ok(Event {
        id: env.id,
        kind: env.kind,
        update,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SECRET: &str = "whsec_test_4f8a";

    #[test]
    fn signatures_verify_with_any_v1_within_tolerance() {
        let body = br#"{"id":"evt_1"}"#;
        let good = sign(body, SECRET, 1000);
        assert_eq!(verify(&good, body, SECRET, 1000), Ok(()));
        assert_eq!(verify(&good, body, SECRET, 1300), Ok(()));
        assert_eq!(
            verify(&good, body, SECRET, 1301),
            Err(SignatureError::Stale)
        );
        assert_eq!(verify(&good, body, SECRET, 699), Err(SignatureError::Stale));
        let other = sign(body, "whsec_old", 1000);
        let v1_new = good.split_once(",v1=").unwrap().1;
        let rolled = format!("{other},v1={v1_new},v0=deadbeef");
        assert_eq!(
            verify(&rolled, body, SECRET, 1000),
            Ok(()),
            "any v1 will do"
        );
        assert_eq!(
            verify(&other, body, SECRET, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&good, br#"{"id":"evt_2"}"#, SECRET, 1000),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify("t=1000", body, SECRET, 1000),
            Err(SignatureError::NoSignature)
        );
        for bad in ["", "garbage", "t=abc,v1=00", "t=1000,v1=zz", "v1=00"] {
            assert_eq!(
                verify(bad, body, SECRET, 1000),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    fn prices() -> Prices {
        Prices {
            starter: "price_starter".into(),
            pro: "price_pro".into(),
            agency: "price_agency".into(),
        }
    }

    fn event(kind: &str, object: Value) -> Vec<u8> {
        json!({"id": "evt_9", "object": "event", "type": kind, "created": 1_795_000_000,
               "api_version": "2026-06-24.dahlia", "livemode": false, "data": {"object": object}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn subscription_events_carry_plan_status_and_period() {
        let body = event(
            "customer.subscription.updated",
            json!({
                "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "past_due",
                "cancel_at_period_end": true, "metadata": {"tenant_id": "tn_1"},
                "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": "price_pro"},
                    "current_period_start": 100, "current_period_end": 200}]}
            }),
        );
        let e = parse(&body, &prices()).unwrap();
        let u = e.update.unwrap();
        assert_eq!(u.customer.as_deref(), Some("cus_1"));
        assert_eq!(u.tenant_hint.as_deref(), Some("tn_1"));
        assert_eq!(u.change.plan, Some(Plan::Pro));
        assert_eq!(u.change.status, Some(SubscriptionStatus::PastDue));
        assert_eq!(
            u.change.period,
            Some(Period {
                start: 100,
                end: 200
            })
        );
        assert_eq!(u.change.cancel_at_period_end, Some(true));
        assert_eq!(
            u.change.stamp,
            Stamp {
                at: 1_795_000_000,
                event: "evt_9".into()
            }
        );

        let deleted = event(
            "customer.subscription.deleted",
            json!({"id": "sub_1", "status": "active", "customer": "cus_1"}),
        );
        let u = parse(&deleted, &prices()).unwrap().update.unwrap();
        assert_eq!(u.change.status, Some(SubscriptionStatus::Canceled));
    }

    #[test]
    fn invoices_checkout_and_unknown_types() {
        let paid = event(
            "invoice.paid",
            json!({"id": "in_1", "customer": "cus_1",
            "parent": {"subscription_details": {"subscription": "sub_1", "metadata": {"tenant_id": "tn_1"}}},
            "lines": {"data": [{"period": {"start": 300, "end": 400}}]}}),
        );
        let u = parse(&paid, &prices()).unwrap().update.unwrap();
        assert_eq!(
            (u.change.subscription_id.as_str(), u.change.status),
            ("sub_1", Some(SubscriptionStatus::Active))
        );
        assert_eq!(
            u.change.period,
            Some(Period {
                start: 300,
                end: 400
            })
        );
        let first_failed = event(
            "invoice.payment_failed",
            json!({"customer": "cus_1", "subscription": "sub_2",
            "billing_reason": "subscription_create"}),
        );
        let u = parse(&first_failed, &prices()).unwrap().update.unwrap();
        assert_eq!(u.change.status, Some(SubscriptionStatus::Incomplete));
        let one_off = event("invoice.paid", json!({"id": "in_2", "customer": "cus_1"}));
        assert_eq!(parse(&one_off, &prices()).unwrap().update, None);
        let checkout = event(
            "checkout.session.completed",
            json!({"id": "cs_1", "mode": "subscription",
            "client_reference_id": "tn_1", "customer": "cus_1", "subscription": "sub_1",
            "payment_status": "paid", "metadata": {"plan": "agency"}}),
        );
        let u = parse(&checkout, &prices()).unwrap().update.unwrap();
        assert_eq!(
            (u.change.plan, u.change.status),
            (Some(Plan::Agency), Some(SubscriptionStatus::Active))
        );
        let unknown = event("customer.created", json!({"id": "cus_1"}));
        assert_eq!(parse(&unknown, &prices()).unwrap().update, None);
        assert!(parse(b"{}", &prices()).is_err());
        assert!(parse(b"not json", &prices()).is_err());
        assert!(
            parse(
                &event("customer.subscription.updated", json!({"status": "active"})),
                &prices()
            )
            .is_err()
        );
    }
}
