//! Billing through the API: Stripe webhooks signed with our own test secret (valid, bad
//! signature, stale, two `v1`, replays, malformed, unknown types, and shuffled deliveries with
//! duplicates), plans and quotas following subscriptions, checkout and portal sessions, and
//! billing that is not configured.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::body::Body;
use axum::http::Request;
use common::{NOW, TestApp};
use serde_json::{Value, json};
use viral_api::BillingState;
use viral_core::domain::learner::Rng;
use viral_core::domain::stripe_webhook::{Prices, sign};
use viral_core::domain::{Plan, RateLimit};
use viral_core::ports::{BillingError, BillingGateway, CheckoutRequest};
use viral_core::service::billing::BillingSettings;
use viral_embedded::EnvSecrets;
use viral_testkit::stripe::{
    PRICE_AGENCY, PRICE_PRO, PRICE_STARTER, StripeEvent, lifecycle, shuffled_with_duplicates,
};

const SECRET: &str = "whsec_test_0b1c2d3e4f";
const DAY: i64 = 24 * 3600;

/// The Stripe side of checkout and portal, recorded (its HTTP client is tested on its own
/// against a Stripe-speaking server in `viral-billing`).
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<String>>,
}

#[async_trait]
impl BillingGateway for Recorder {
    async fn create_customer(
        &self,
        tenant_id: &str,
        _: &str,
        key: &str,
    ) -> Result<String, BillingError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("customer {tenant_id} {key}"));
        Ok(format!("cus_{}", &tenant_id[tenant_id.len() - 6..]))
    }
    async fn create_checkout(
        &self,
        r: &CheckoutRequest,
        key: &str,
    ) -> Result<String, BillingError> {
        self.calls.lock().unwrap().push(format!(
            "checkout {} {} {} {key}",
            r.customer_id,
            r.price_id,
            r.plan.as_str()
        ));
        Ok("https://checkout.stripe.com/c/pay/cs_test_1".into())
    }
    async fn create_portal(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, BillingError> {
        self.calls
            .lock()
            .unwrap()
            .push(format!("portal {customer} {return_url}"));
        Ok("https://billing.stripe.com/p/session/test_1".into())
    }
}

fn settings() -> BillingSettings {
    BillingSettings {
        prices: Prices {
            starter: PRICE_STARTER.into(),
            pro: PRICE_PRO.into(),
            agency: PRICE_AGENCY.into(),
        },
        success_url: "https://app.example/billing/done".into(),
        cancel_url: "https://app.example/billing".into(),
        portal_return_url: "https://app.example/billing".into(),
    }
}

fn app(gateway: Arc<Recorder>) -> TestApp {
    TestApp::with(move |s| {
        s.rate_limit = RateLimit::parse("100000/10s").unwrap();
        s.billing = Some(BillingState {
            settings: settings(),
            gateway: Some(gateway),
            secrets: Arc::new(EnvSecrets::from_map(HashMap::from([(
                "STRIPE_WEBHOOK_SECRET".to_owned(),
                SECRET.to_owned(),
            )]))),
        });
    })
}

async fn deliver(t: &TestApp, body: &str, signature: Option<String>) -> common::Resp {
    let mut b =
        Request::post("/webhooks/stripe").header("content-type", "application/json; charset=utf-8");
    if let Some(s) = signature {
        b = b.header("stripe-signature", s);
    }
    t.send(b.body(Body::from(body.to_owned())).unwrap()).await
}

fn signed(body: &str) -> Option<String> {
    Some(sign(body.as_bytes(), SECRET, NOW.secs()))
}

#[allow(clippy::too_many_arguments)]
fn sub_event(
    id: &str,
    kind: &str,
    created: i64,
    tenant: &str,
    status: &str,
    price: &str,
    start: i64,
    cancel_later: bool,
) -> String {
    json!({"id": id, "object": "event", "type": kind, "created": created, "api_version": "2026-06-24.dahlia",
        "data": {"object": {"id": "sub_A", "object": "subscription", "customer": "cus_A", "status": status,
            "cancel_at_period_end": cancel_later, "metadata": {"tenant_id": tenant},
            "items": {"data": [{"price": {"id": price}, "current_period_start": start, "current_period_end": start + 30 * DAY}]}}}})
    .to_string()
}

async fn usage(t: &TestApp, key: &str) -> Value {
    let r = t.call("GET", "/v1/usage", Some(key), None).await;
    r.expect(200, None);
    r.body.clone()
}

async fn billing(t: &TestApp, key: &str) -> Value {
    let r = t.call("GET", "/v1/billing", Some(key), None).await;
    r.expect(200, None);
    r.body.clone()
}

#[tokio::test]
async fn signatures_are_checked_and_nothing_changes_on_a_bad_delivery() {
    let t = app(Arc::default());
    let a = t.tenant("Acme", Plan::Free).await;
    let start = NOW.secs() - DAY;
    let body = sub_event(
        "evt_1",
        "customer.subscription.created",
        NOW.secs() - 10,
        &a.id,
        "active",
        PRICE_PRO,
        start,
        false,
    );

    // Wrong secret, tampered body, stale, missing header, garbage header: 400, nothing changed.
    deliver(
        &t,
        &body,
        Some(sign(body.as_bytes(), "whsec_other", NOW.secs())),
    )
    .await
    .expect(400, Some("invalid_signature"));
    deliver(&t, &body.replace("active", "trialing"), signed(&body))
        .await
        .expect(400, Some("invalid_signature"));
    deliver(
        &t,
        &body,
        Some(sign(body.as_bytes(), SECRET, NOW.secs() - 301)),
    )
    .await
    .expect(400, Some("stale_signature"));
    deliver(&t, &body, None)
        .await
        .expect(400, Some("invalid_signature"));
    deliver(&t, &body, Some("t=abc,v1=zz".into()))
        .await
        .expect(400, Some("invalid_signature"));
    let junk = "{\"not\": \"an event\"}";
    deliver(&t, junk, signed(junk))
        .await
        .expect(400, Some("invalid_event"));
    assert_eq!(billing(&t, &a.key).await["plan"], "free");

    // Two v1 values (a secret being rolled): either may match.
    let old = sign(body.as_bytes(), "whsec_old", NOW.secs());
    let new_v1 = signed(&body)
        .unwrap()
        .split_once(",v1=")
        .unwrap()
        .1
        .to_owned();
    let r = deliver(&t, &body, Some(format!("{old},v1={new_v1}"))).await;
    r.expect(200, None);
    assert_eq!(r.body["result"], "applied");
    let b = billing(&t, &a.key).await;
    assert_eq!(b["plan"], "pro");
    assert_eq!(b["status"], "active");
    assert_eq!(b["subscription_id"], "sub_A");

    // The same event again (a replay inside the tolerance, or Stripe's retry): a duplicate.
    let r = deliver(&t, &body, signed(&body)).await;
    assert_eq!(r.body["result"], "duplicate");

    // Types we do not handle are acknowledged.
    let other =
        json!({"id": "evt_2", "object": "event", "type": "customer.created", "created": NOW.secs(),
        "data": {"object": {"id": "cus_A"}}})
        .to_string();
    let r = deliver(&t, &other, signed(&other)).await;
    r.expect(200, None);
    assert_eq!(r.body["result"], "ignored");
}

#[tokio::test]
async fn quotas_follow_the_subscription() {
    let t = app(Arc::default());
    let a = t.tenant("Acme", Plan::Free).await;
    let start = NOW.secs() - DAY;
    let send = |id: &str, status: &str, price: &str, created: i64, cancel_later: bool| {
        sub_event(
            id,
            "customer.subscription.updated",
            created,
            &a.id,
            status,
            price,
            start,
            cancel_later,
        )
    };
    assert_eq!(usage(&t, &a.key).await["concepts"]["limit"], 3);
    let e = send("evt_a", "active", PRICE_STARTER, NOW.secs() - 100, false);
    deliver(&t, &e, signed(&e)).await.expect(200, None);
    let u = usage(&t, &a.key).await;
    assert_eq!(
        (u["plan"].clone(), u["concepts"]["limit"].clone()),
        (json!("starter"), json!(10))
    );
    assert_eq!(
        u["period_start"],
        viral_core::Timestamp::from_secs(start).rfc3339(),
        "usage counts in the billing period"
    );
    assert_eq!(
        u["resets_at"],
        viral_core::Timestamp::from_secs(start + 30 * DAY).rfc3339()
    );

    // Use some, then upgrade: the new limit applies at once, the usage stays.
    t.call(
        "POST",
        "/v1/concepts",
        Some(&a.key),
        Some(r#"{"count": 4}"#),
    )
    .await
    .expect(201, None);
    let e = send("evt_b", "active", PRICE_AGENCY, NOW.secs() - 50, false);
    deliver(&t, &e, signed(&e)).await.expect(200, None);
    let u = usage(&t, &a.key).await;
    assert_eq!(
        (
            u["plan"].clone(),
            u["concepts"]["limit"].clone(),
            u["concepts"]["used"].clone()
        ),
        (json!("agency"), json!(500), json!(4))
    );

    // Cancel at period end: the plan holds until then.
    let e = send("evt_c", "active", PRICE_AGENCY, NOW.secs() - 40, true);
    deliver(&t, &e, signed(&e)).await.expect(200, None);
    let b = billing(&t, &a.key).await;
    assert_eq!(
        (b["plan"].clone(), b["cancel_at_period_end"].clone()),
        (json!("agency"), json!(true))
    );

    // past_due keeps access during the grace period and says until when.
    let e = send("evt_d", "past_due", PRICE_AGENCY, NOW.secs() - 30, true);
    deliver(&t, &e, signed(&e)).await.expect(200, None);
    let b = billing(&t, &a.key).await;
    assert_eq!(
        (b["plan"].clone(), b["status"].clone()),
        (json!("agency"), json!("past_due"))
    );
    assert_eq!(
        b["grace_ends_at"],
        viral_core::Timestamp::from_secs(start + 7 * DAY).rfc3339()
    );

    // An older event arriving late changes nothing; unpaid drops to free.
    let late = send("evt_0", "active", PRICE_STARTER, NOW.secs() - 1000, false);
    deliver(&t, &late, signed(&late)).await.expect(200, None);
    assert_eq!(billing(&t, &a.key).await["status"], "past_due");
    let e = send("evt_e", "unpaid", PRICE_AGENCY, NOW.secs() - 20, true);
    deliver(&t, &e, signed(&e)).await.expect(200, None);
    let u = usage(&t, &a.key).await;
    assert_eq!(
        (u["plan"].clone(), u["concepts"]["limit"].clone()),
        (json!("free"), json!(3))
    );
    assert_eq!(
        t.call("GET", "/v1/me", Some(&a.key), None).await.body["tenant"]["plan"],
        "free"
    );
}

#[tokio::test]
async fn checkout_and_portal_sessions() {
    let g = Arc::new(Recorder::default());
    let t = app(g.clone());
    let a = t.tenant("Acme", Plan::Free).await;
    let post = |path: &'static str, body: Option<&'static str>, key: String| {
        let t = &t;
        async move { t.call("POST", path, Some(&key), body).await }
    };
    post("/v1/billing/portal", None, a.key.clone())
        .await
        .expect(409, Some("no_billing_account"));
    post(
        "/v1/billing/checkout",
        Some(r#"{"plan":"free"}"#),
        a.key.clone(),
    )
    .await
    .expect(422, Some("invalid_request"));
    post(
        "/v1/billing/checkout",
        Some(r#"{"plan":"gold"}"#),
        a.key.clone(),
    )
    .await
    .expect(422, Some("invalid_request"));
    post(
        "/v1/billing/checkout",
        Some(r#"{"plan":"pro","x":1}"#),
        a.key.clone(),
    )
    .await
    .expect(422, None);
    let r = post(
        "/v1/billing/checkout",
        Some(r#"{"plan":"pro"}"#),
        a.key.clone(),
    )
    .await;
    r.expect(200, None);
    assert_eq!(r.body["url"], "https://checkout.stripe.com/c/pay/cs_test_1");
    // A second click reuses the customer and the session's idempotency key.
    post(
        "/v1/billing/checkout",
        Some(r#"{"plan":"pro"}"#),
        a.key.clone(),
    )
    .await
    .expect(200, None);
    let calls = g.calls.lock().unwrap().clone();
    assert_eq!(
        calls.iter().filter(|c| c.starts_with("customer")).count(),
        1,
        "{calls:?}"
    );
    let checkouts: Vec<&String> = calls.iter().filter(|c| c.starts_with("checkout")).collect();
    assert_eq!(checkouts.len(), 2);
    assert_eq!(
        checkouts[0], checkouts[1],
        "same customer, price and idempotency key"
    );
    assert!(checkouts[0].contains(PRICE_PRO));
    assert_eq!(billing(&t, &a.key).await["billing_account"], true);
    let r = post("/v1/billing/portal", None, a.key.clone()).await;
    r.expect(200, None);
    assert_eq!(r.body["url"], "https://billing.stripe.com/p/session/test_1");

    // Once subscribed, plan changes go through the portal.
    let start = NOW.secs() - DAY;
    let e = sub_event(
        "evt_s",
        "customer.subscription.created",
        NOW.secs() - 5,
        &a.id,
        "active",
        PRICE_PRO,
        start,
        false,
    )
    .replace("cus_A", &format!("cus_{}", &a.id[a.id.len() - 6..]));
    deliver(&t, &e, signed(&e)).await.expect(200, None);
    post(
        "/v1/billing/checkout",
        Some(r#"{"plan":"agency"}"#),
        a.key.clone(),
    )
    .await
    .expect(409, Some("subscription_exists"));

    // A key without billing:manage may not.
    let k = t
        .call(
            "POST",
            "/v1/api-keys",
            Some(&a.key),
            Some(r#"{"name":"ro","scopes":["usage:read"]}"#),
        )
        .await;
    let ro = k.body["key"].as_str().unwrap().to_owned();
    post("/v1/billing/portal", None, ro)
        .await
        .expect(403, Some("insufficient_scope"));
}

#[tokio::test]
async fn billing_not_configured_is_clear() {
    let t = TestApp::new();
    let a = t.tenant("Acme", Plan::Pro).await;
    t.call(
        "POST",
        "/v1/billing/checkout",
        Some(&a.key),
        Some(r#"{"plan":"pro"}"#),
    )
    .await
    .expect(501, Some("billing_not_configured"));
    t.call("POST", "/v1/billing/portal", Some(&a.key), None)
        .await
        .expect(501, Some("billing_not_configured"));
    deliver(&t, "{}", signed("{}"))
        .await
        .expect(501, Some("billing_not_configured"));
    let b = billing(&t, &a.key).await;
    assert_eq!(
        (b["plan"].clone(), b["status"].clone()),
        (json!("pro"), Value::Null)
    );
}

#[tokio::test]
async fn shuffled_deliveries_with_duplicates_end_where_in_order_delivery_does() {
    let t = app(Arc::default());
    let mut rng = Rng::new(7);
    let mut tenants = Vec::new();
    for _ in 0..20 {
        tenants.push(t.tenant("T", Plan::Free).await);
    }
    // Each round uses fresh subscriptions and customers so rounds do not share events.
    let mut five_xx = 0;
    for round in 0..15 {
        let start = NOW.secs() - 200 * DAY;
        let mut events: Vec<StripeEvent> = Vec::new();
        for (n, ten) in tenants.iter().enumerate() {
            let id = round * 100 + n;
            events.extend(lifecycle(
                &mut rng,
                id,
                &ten.id,
                &format!("cus_r{id}"),
                start + n as i64 * 600,
            ));
        }
        let mut in_order = events.clone();
        in_order.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        // The reference: the same events applied in order to a model of each tenant.
        let prices = settings().prices;
        let mut expected: HashMap<String, viral_core::domain::billing::Billing> = HashMap::new();
        for e in &in_order {
            let ev = viral_core::domain::stripe_webhook::parse(e.body.as_bytes(), &prices).unwrap();
            if let Some(u) = ev.update {
                expected
                    .entry(u.tenant_hint.unwrap())
                    .or_default()
                    .apply(&u.change);
            }
        }
        for e in shuffled_with_duplicates(&mut rng, &events, 0.3) {
            let r = deliver(&t, &e.body, signed(&e.body)).await;
            if r.status.is_server_error() {
                five_xx += 1;
            }
            assert_eq!(r.status.as_u16(), 200, "{}", r.body);
        }
        for ten in &tenants {
            let stored = viral_core::service::tenants::get_tenant(&*t.state.store, &ten.id)
                .await
                .unwrap()
                .unwrap();
            let mut subs = stored.billing.subscriptions.clone();
            subs.retain(|id, _| expected[&ten.id].subscriptions.contains_key(id));
            assert_eq!(
                subs, expected[&ten.id].subscriptions,
                "round {round}, tenant {}",
                ten.id
            );
            let _ = billing(&t, &ten.key).await;
        }
    }
    assert_eq!(five_xx, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_deliveries_for_one_tenant_all_land() {
    let t = Arc::new(app(Arc::default()));
    let a = t.tenant("Acme", Plan::Free).await;
    let start = NOW.secs() - DAY;
    // Ten events for one subscription at once; the latest says agency.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let price = if i == 9 { PRICE_AGENCY } else { PRICE_STARTER };
            let body = sub_event(
                &format!("evt_c{i}"),
                "customer.subscription.updated",
                NOW.secs() - 100 + i,
                &a.id,
                "active",
                price,
                start,
                false,
            );
            let t = t.clone();
            tokio::spawn(async move { deliver(&t, &body, signed(&body)).await.status.as_u16() })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(billing(&t, &a.key).await["plan"], "agency");
}
