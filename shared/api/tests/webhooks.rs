//! Webhook routes in-process: the secret is shown once, refusals are 4xx with stable codes,
//! keys without `keys:manage` can read but not change endpoints, and another tenant gets 404
//! on every id-bearing route. Sending is tested in viral-steps' webhooks tests.

mod common;

use std::sync::Arc;

use common::{Tenant, TestApp};
use serde_json::{Value, json};
use viral_api::SocialState;
use viral_core::domain::{Plan, RateLimit};
use viral_core::ports::Publishers;

fn app(dir: &tempfile::TempDir, with_vault: bool) -> TestApp {
    let vault =
        viral_embedded::FileTokenVault::from_key_file(&dir.path().join("vault.key")).unwrap();
    TestApp::with(move |s| {
        s.rate_limit = RateLimit::parse("1000/10s").unwrap();
        if with_vault {
            s.social = Some(SocialState {
                vault: Arc::new(vault),
                publishers: Publishers::default(),
                limits: Default::default(),
                public_url: "https://app.viral.example".into(),
                return_origins: vec![],
            });
        }
    })
}

async fn create(t: &TestApp, a: &Tenant, body: Value) -> common::Resp {
    t.call(
        "POST",
        "/v1/webhooks",
        Some(&a.key),
        Some(&body.to_string()),
    )
    .await
}

#[tokio::test]
async fn endpoints_are_created_with_a_secret_shown_once_and_refused_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let t = app(&dir, true);
    let a = t.tenant("A", Plan::Pro).await;
    // An event named twice is refused, as the document's `uniqueItems` says.
    create(
        &t,
        &a,
        json!({"url": "https://hooks.example.com/viral", "events": ["post.published", "video.failed", "post.published"]}),
    )
    .await
    .expect(422, Some("invalid_request"));
    let r = create(
        &t,
        &a,
        json!({"url": "https://hooks.example.com/viral", "events": ["video.failed", "post.published"]}),
    )
    .await;
    r.expect(201, None);
    let id = r.body["id"].as_str().unwrap().to_owned();
    assert!(r.body["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(r.body["events"], json!(["post.published", "video.failed"]));
    let got = t
        .call("GET", &format!("/v1/webhooks/{id}"), Some(&a.key), None)
        .await;
    got.expect(200, None);
    assert!(got.body.get("secret").is_none(), "never shown again");
    assert!(!got.raw.windows(6).any(|w| w == b"whsec_"));
    let list = t.call("GET", "/v1/webhooks", Some(&a.key), None).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    let empty = t
        .call(
            "GET",
            &format!("/v1/webhooks/{id}/deliveries"),
            Some(&a.key),
            None,
        )
        .await;
    assert_eq!(empty.body, json!({"items": [], "next_cursor": null}));

    for (body, code) in [
        (
            json!({"url": "http://hooks.example.com/x", "events": ["video.failed"]}),
            422,
        ),
        (
            json!({"url": "https://192.168.1.10/x", "events": ["video.failed"]}),
            422,
        ),
        (
            json!({"url": "https://169.254.169.254/latest", "events": ["video.failed"]}),
            422,
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": []}),
            422,
        ),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["video.exploded"]}),
            422,
        ),
        (json!({"url": "https://hooks.example.com/x"}), 422),
        (
            json!({"url": "https://hooks.example.com/x", "events": ["video.failed"], "secret": "mine"}),
            422,
        ),
    ] {
        let r = create(&t, &a, body.clone()).await;
        assert_eq!(r.status.as_u16(), code, "{body}: {}", r.body);
    }
    // Ten at most.
    for i in 1..10 {
        create(
            &t,
            &a,
            json!({"url": format!("https://hooks.example.com/{i}"), "events": ["video.failed"]}),
        )
        .await
        .expect(201, None);
    }
    create(
        &t,
        &a,
        json!({"url": "https://hooks.example.com/11", "events": ["video.failed"]}),
    )
    .await
    .expect(422, None);

    t.call("DELETE", &format!("/v1/webhooks/{id}"), Some(&a.key), None)
        .await
        .expect(200, None);
    t.call("GET", &format!("/v1/webhooks/{id}"), Some(&a.key), None)
        .await
        .expect(404, Some("not_found"));
}

#[tokio::test]
async fn keys_without_keys_manage_read_only_and_other_tenants_get_404() {
    let dir = tempfile::tempdir().unwrap();
    let t = app(&dir, true);
    let a = t.tenant("A", Plan::Pro).await;
    let b = t.tenant("B", Plan::Pro).await;
    let r = create(
        &t,
        &a,
        json!({"url": "https://hooks.example.com/a", "events": ["post.failed"]}),
    )
    .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    viral_core::service::webhooks::emit(
        &*t.state.store,
        &*t.clock,
        &a.id,
        "post.failed",
        json!({"post_id": "post_x"}),
    )
    .await;
    let deliveries = t
        .call(
            "GET",
            &format!("/v1/webhooks/{id}/deliveries"),
            Some(&a.key),
            None,
        )
        .await;
    let d = &deliveries.body["items"][0];
    assert_eq!(
        (&d["status"], &d["event_type"]),
        (&json!("pending"), &json!("post.failed"))
    );
    let delivery = d["id"].as_str().unwrap().to_owned();

    let reader = t
        .call(
            "POST",
            "/v1/api-keys",
            Some(&a.key),
            Some(r#"{"name":"reader","scopes":["videos:write"]}"#),
        )
        .await
        .body["key"]
        .as_str()
        .unwrap()
        .to_owned();
    t.call("GET", &format!("/v1/webhooks/{id}"), Some(&reader), None)
        .await
        .expect(200, None);
    for (method, path, body) in [
        (
            "POST",
            "/v1/webhooks".to_owned(),
            Some(r#"{"url":"https://hooks.example.com/r","events":["post.failed"]}"#),
        ),
        ("DELETE", format!("/v1/webhooks/{id}"), None),
        (
            "POST",
            format!("/v1/webhooks/{id}/deliveries/{delivery}/retry"),
            None,
        ),
    ] {
        t.call(method, &path, Some(&reader), body)
            .await
            .expect(403, Some("insufficient_scope"));
    }

    for (method, path) in [
        ("GET", format!("/v1/webhooks/{id}")),
        ("DELETE", format!("/v1/webhooks/{id}")),
        ("GET", format!("/v1/webhooks/{id}/deliveries")),
        (
            "POST",
            format!("/v1/webhooks/{id}/deliveries/{delivery}/retry"),
        ),
    ] {
        t.call(method, &path, Some(&b.key), None)
            .await
            .expect(404, Some("not_found"));
    }
    assert_eq!(
        t.call("GET", "/v1/webhooks", Some(&b.key), None).await.body["items"],
        json!([])
    );
    // A's retry of its own delivery is accepted; a made-up delivery is 404.
    t.call(
        "POST",
        &format!("/v1/webhooks/{id}/deliveries/{delivery}/retry"),
        Some(&a.key),
        None,
    )
    .await
    .expect(202, None);
    t.call(
        "POST",
        &format!("/v1/webhooks/{id}/deliveries/whd_{}/retry", "0".repeat(32)),
        Some(&a.key),
        None,
    )
    .await
    .expect(404, Some("not_found"));
}

#[tokio::test]
async fn without_a_vault_creating_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let t = app(&dir, false);
    let a = t.tenant("A", Plan::Pro).await;
    create(
        &t,
        &a,
        json!({"url": "https://hooks.example.com/a", "events": ["post.failed"]}),
    )
    .await
    .expect(501, Some("webhooks_not_configured"));
}
