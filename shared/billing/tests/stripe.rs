//! The Stripe gateway against a local server speaking Stripe's documented shapes:
//! form-encoded requests with `Idempotency-Key`, the customer, checkout.session and
//! billing_portal.session objects, and error objects (card/invalid-request 4xx, 401, 429,
//! 5xx). Keys are never in errors.

// A checkout.session object is large.
#![recursion_limit = "256"]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use viral_billing::StripeGateway;
use viral_core::domain::Plan;
use viral_core::ports::{BillingError, BillingGateway, CheckoutRequest, Secrets};
use viral_embedded::EnvSecrets;

const KEY: &str = "sk_test_51Viral0000secret";

/// A request's path, idempotency key and decoded form.
type Seen = (String, Option<String>, HashMap<String, String>);

#[derive(Default)]
struct Stripe {
    seen: Mutex<Vec<Seen>>,
    /// Customers by idempotency key: the same key replays the first answer.
    customers: Mutex<HashMap<String, String>>,
    /// Next answer's override: status and body.
    fail: Mutex<Option<(u16, Value)>>,
}

fn error(status: u16, kind: &str, message: &str) -> (u16, Value) {
    (
        status,
        json!({"error": {"type": kind, "message": message,
        "request_log_url": "https://dashboard.stripe.com/test/logs/req_x"}}),
    )
}

async fn handle(State(s): State<Arc<Stripe>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let idem = parts
        .headers
        .get("idempotency-key")
        .map(|v| v.to_str().unwrap().to_owned());
    let path = parts.uri.path().to_owned();
    s.seen
        .lock()
        .unwrap()
        .push((path.clone(), idem.clone(), form.clone()));
    if parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        != Some(&format!("Bearer {KEY}"))
    {
        let (st, b) = error(
            401,
            "invalid_request_error",
            "Invalid API Key provided: sk_test_****",
        );
        return (StatusCode::from_u16(st).unwrap(), axum::Json(b)).into_response();
    }
    if parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        != Some("application/x-www-form-urlencoded")
    {
        return (StatusCode::BAD_REQUEST, "expected a form").into_response();
    }
    if let Some((st, b)) = s.fail.lock().unwrap().take() {
        return (StatusCode::from_u16(st).unwrap(), axum::Json(b)).into_response();
    }
    let now = 1_795_589_400;
    let answer = match path.as_str() {
        "/v1/customers" => {
            let mut customers = s.customers.lock().unwrap();
            let n = customers.len();
            let id = customers
                .entry(idem.unwrap_or_default())
                .or_insert_with(|| format!("cus_Test{n:04}"))
                .clone();
            json!({"id": id, "object": "customer", "created": now, "livemode": false,
                   "name": form.get("name"), "email": null, "balance": 0, "currency": null,
                   "delinquent": false, "description": null, "invoice_prefix": "ABC123",
                   "invoice_settings": {"custom_fields": null, "default_payment_method": null, "footer": null, "rendering_options": null},
                   "metadata": {"tenant_id": form.get("metadata[tenant_id]")},
                   "preferred_locales": [], "shipping": null, "tax_exempt": "none", "test_clock": null})
        }
        "/v1/checkout/sessions" => json!({
            "id": "cs_test_a1b2c3", "object": "checkout.session", "adaptive_pricing": null,
            "after_expiration": null, "allow_promotion_codes": null, "amount_subtotal": 14900,
            "amount_total": 14900,
            "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
            "billing_address_collection": null, "cancel_url": form.get("cancel_url"),
            "client_reference_id": form.get("client_reference_id"), "client_secret": null,
            "collected_information": null, "consent": null, "consent_collection": null,
            "created": now, "currency": "usd", "currency_conversion": null, "custom_fields": [],
            "custom_text": {"after_submit": null, "shipping_address": null, "submit": null, "terms_of_service_acceptance": null},
            "customer": form.get("customer"), "customer_creation": null, "customer_details": null,
            "customer_email": null, "discounts": [], "expires_at": now + 86400, "invoice": null,
            "invoice_creation": null, "livemode": false, "locale": null,
            "metadata": {"tenant_id": form.get("metadata[tenant_id]"), "plan": form.get("metadata[plan]")},
            "mode": "subscription", "origin_context": null, "payment_intent": null,
            "payment_link": null, "payment_method_collection": "always",
            "payment_method_configuration_details": null, "payment_method_options": {},
            "payment_method_types": ["card"], "payment_status": "unpaid", "permissions": null,
            "phone_number_collection": {"enabled": false}, "recovered_from": null,
            "saved_payment_method_options": null, "setup_intent": null, "shipping_address_collection": null,
            "shipping_cost": null, "shipping_options": [], "status": "open", "submit_type": null,
            "subscription": null, "success_url": form.get("success_url"), "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted", "url": "https://checkout.stripe.com/c/pay/cs_test_a1b2c3#fidkdWxOYHwnPyd1blpxYHZxWjA0"
        }),
        "/v1/billing_portal/sessions" => json!({
            "id": "bps_1Test", "object": "billing_portal.session", "configuration": "bpc_1Test",
            "created": now, "customer": form.get("customer"), "flow": null, "livemode": false,
            "locale": null, "on_behalf_of": null, "return_url": form.get("return_url"),
            "url": "https://billing.stripe.com/p/session/test_YWNjdF8x"
        }),
        _ => return (StatusCode::NOT_FOUND, axum::Json(json!({"error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}}))).into_response(),
    };
    axum::Json(answer).into_response()
}

async fn server() -> (String, Arc<Stripe>) {
    let s = Arc::new(Stripe::default());
    let app = Router::new().fallback(handle).with_state(s.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), s)
}

fn secrets(key: Option<&str>) -> Arc<dyn Secrets> {
    let mut m = HashMap::new();
    if let Some(k) = key {
        m.insert("STRIPE_SECRET_KEY".to_owned(), k.to_owned());
    }
    Arc::new(EnvSecrets::from_map(m))
}

fn checkout(customer: &str) -> CheckoutRequest {
    CheckoutRequest {
        tenant_id: "tn_01".into(),
        customer_id: customer.into(),
        plan: Plan::Pro,
        price_id: "price_1Pro149".into(),
        success_url: "https://app.example/billing/done?session_id={CHECKOUT_SESSION_ID}".into(),
        cancel_url: "https://app.example/billing".into(),
    }
}

#[tokio::test]
async fn customer_checkout_and_portal_speak_stripes_forms() {
    let (base, stripe) = server().await;
    let g = StripeGateway::new(secrets(Some(KEY)), &base);
    let cus = g
        .create_customer("tn_01", "Acme Studio", "customer-tn_01")
        .await
        .unwrap();
    let again = g
        .create_customer("tn_01", "Acme Studio", "customer-tn_01")
        .await
        .unwrap();
    assert_eq!(
        cus, again,
        "the same idempotency key gives the same customer"
    );
    let url = g
        .create_checkout(&checkout(&cus), "checkout-tn_01-pro-2026112506")
        .await
        .unwrap();
    assert!(url.starts_with("https://checkout.stripe.com/c/pay/cs_test_a1b2c3"));
    let portal = g
        .create_portal(&cus, "https://app.example/billing")
        .await
        .unwrap();
    assert_eq!(portal, "https://billing.stripe.com/p/session/test_YWNjdF8x");

    let seen = stripe.seen.lock().unwrap().clone();
    let (path, idem, form) = &seen[0];
    assert_eq!(path, "/v1/customers");
    assert_eq!(idem.as_deref(), Some("customer-tn_01"));
    assert_eq!(form["name"], "Acme Studio");
    assert_eq!(form["metadata[tenant_id]"], "tn_01");
    let (path, idem, form) = &seen[2];
    assert_eq!(path, "/v1/checkout/sessions");
    assert_eq!(idem.as_deref(), Some("checkout-tn_01-pro-2026112506"));
    for (k, v) in [
        ("mode", "subscription"),
        ("customer", cus.as_str()),
        ("client_reference_id", "tn_01"),
        ("line_items[0][price]", "price_1Pro149"),
        ("line_items[0][quantity]", "1"),
        ("subscription_data[metadata][tenant_id]", "tn_01"),
        ("metadata[plan]", "pro"),
        ("metadata[tenant_id]", "tn_01"),
        (
            "success_url",
            "https://app.example/billing/done?session_id={CHECKOUT_SESSION_ID}",
        ),
        ("cancel_url", "https://app.example/billing"),
    ] {
        assert_eq!(form.get(k).map(String::as_str), Some(v), "{k} in {form:?}");
    }
    let (path, _, form) = &seen[3];
    assert_eq!(path, "/v1/billing_portal/sessions");
    assert_eq!(form["customer"], cus);
    assert_eq!(form["return_url"], "https://app.example/billing");
}

#[tokio::test]
async fn stripe_errors_are_classified_and_keys_never_show() {
    let (base, stripe) = server().await;
    let g = StripeGateway::new(secrets(Some(KEY)), &base);
    let cases = [
        (
            error(
                400,
                "invalid_request_error",
                "No such price: 'price_1Pro149'",
            ),
            "refused",
        ),
        (
            error(402, "card_error", "Your card was declined."),
            "refused",
        ),
        (
            error(429, "invalid_request_error", "Too many requests"),
            "unavailable",
        ),
        (
            error(500, "api_error", "Something went wrong on Stripe's end."),
            "unavailable",
        ),
        ((200, json!({"id": "cs_1"})), "unavailable"),
    ];
    for ((status, body), want) in cases {
        *stripe.fail.lock().unwrap() = Some((status, body));
        let e = g
            .create_checkout(&checkout("cus_1"), "k1")
            .await
            .unwrap_err();
        assert!(!e.to_string().contains(KEY), "{e}");
        match want {
            "refused" => assert!(
                matches!(e, BillingError::Refused(ref m) if m.contains(&status.to_string())),
                "{status}: {e:?}"
            ),
            _ => assert!(matches!(e, BillingError::Unavailable(_)), "{status}: {e:?}"),
        }
    }

    // Answers that are not what was created: only `id` and `url` are read, and held to shape.
    for body in [
        json!({"object": "customer"}),
        json!({"id": "cus_1/../../x"}),
        json!({"id": format!("cus_{}", "A".repeat(300))}),
        json!({"id": 17}),
        json!("cus_1"),
    ] {
        *stripe.fail.lock().unwrap() = Some((200, body.clone()));
        let e = g.create_customer("tn_1", "A", "k2").await.unwrap_err();
        assert!(matches!(e, BillingError::Unavailable(_)), "{body}: {e:?}");
    }
    *stripe.fail.lock().unwrap() = Some((200, json!({"id": "bps_1", "url": null})));
    let e = g
        .create_portal("cus_1", "https://app.example")
        .await
        .unwrap_err();
    assert!(matches!(e, BillingError::Unavailable(_)), "{e:?}");

    let wrong = StripeGateway::new(secrets(Some("sk_test_wrong")), &base);
    let e = wrong
        .create_portal("cus_1", "https://app.example")
        .await
        .unwrap_err();
    assert!(
        matches!(e, BillingError::NotConfigured(ref m) if m.contains("401")),
        "{e:?}"
    );
    assert!(!e.to_string().contains("sk_test_wrong"));

    let none = StripeGateway::new(secrets(None), &base);
    let before = stripe.seen.lock().unwrap().len();
    let e = none.create_customer("tn_1", "A", "k").await.unwrap_err();
    assert!(
        matches!(e, BillingError::NotConfigured(ref m) if m.contains("STRIPE_SECRET_KEY")),
        "{e:?}"
    );
    assert_eq!(
        stripe.seen.lock().unwrap().len(),
        before,
        "no call without a key"
    );
}
