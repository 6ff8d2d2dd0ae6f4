//! Dashboard sessions (`POST /v1/sessions`) and job estimates (`POST /v1/videos/estimate`).

mod common;

use std::time::Duration;

use common::TestApp;
use serde_json::Value;
use viral_core::domain::routing::{ProviderInfo, ProviderProfile};
use viral_core::domain::{Plan, RateLimit};
use viral_core::service::sessions;

fn app() -> TestApp {
    TestApp::with(|s| s.rate_limit = RateLimit::parse("1000/10s").unwrap())
}

#[tokio::test]
async fn a_sign_in_token_starts_one_session_that_ends_by_itself() {
    let t = app();
    let a = t.tenant("Acme", Plan::Pro).await;
    let token = sessions::issue_sign_in(&*t.state.store, &*t.clock, &a.id)
        .await
        .unwrap();
    let body = format!(r#"{{"sign_in_token":"{}"}}"#, token.expose());
    let r = t.call("POST", "/v1/sessions", None, Some(&body)).await;
    r.expect(201, None);
    let session = r.body["token"].as_str().unwrap().to_owned();
    assert_eq!(r.body["tenant_id"], a.id.as_str());
    let me = t.call("GET", "/v1/me", Some(&session), None).await;
    me.expect(200, None);
    assert_eq!(me.body["principal"]["role"], "owner");
    // Once only; an unknown or malformed token reads the same.
    t.call("POST", "/v1/sessions", None, Some(&body))
        .await
        .expect(401, Some("invalid_credentials"));
    for bad in [
        r#"{"sign_in_token":"vs_0000000000000000000000000000000000000000000"}"#,
        r#"{"sign_in_token":"nope"}"#,
    ] {
        t.call("POST", "/v1/sessions", None, Some(bad))
            .await
            .expect(401, Some("invalid_credentials"));
    }
    t.call("POST", "/v1/sessions", None, Some("{}"))
        .await
        .expect(401, Some("missing_credentials"));
    t.call("POST", "/v1/sessions", None, Some(r#"{"token":"x"}"#))
        .await
        .expect(422, Some("invalid_request"));
    // The session shows among the keys with its end, and ends.
    let keys = t.call("GET", "/v1/api-keys", Some(&a.key), None).await;
    let listed: Vec<&Value> = keys.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["name"] == "dashboard session")
        .collect();
    assert_eq!(listed.len(), 1);
    assert!(listed[0]["expires_at"].is_string());
    // Keys say when they were last used (written at most once an hour).
    let owner = keys.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == a.key_id.as_str())
        .unwrap();
    assert!(owner["last_used_at"].is_string(), "{owner}");
    assert!(
        listed[0]["last_used_at"].is_string(),
        "the session was used: {}",
        listed[0]
    );
    t.clock
        .advance(Duration::from_secs(sessions::SESSION_TTL_SECS));
    let r = t.call("GET", "/v1/me", Some(&session), None).await;
    r.expect(401, Some("invalid_credentials"));
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[tokio::test]
async fn a_sign_in_token_expires_unused() {
    let t = app();
    let a = t.tenant("Acme", Plan::Pro).await;
    let token = sessions::issue_sign_in(&*t.state.store, &*t.clock, &a.id)
        .await
        .unwrap();
    t.clock
        .advance(Duration::from_secs(sessions::SIGN_IN_TTL_SECS));
    let body = format!(r#"{{"sign_in_token":"{}"}}"#, token.expose());
    t.call("POST", "/v1/sessions", None, Some(&body))
        .await
        .expect(401, Some("invalid_credentials"));
}

#[tokio::test]
async fn a_pasted_key_buys_a_session_with_its_rights_and_no_more() {
    let t = app();
    let a = t.tenant("Acme", Plan::Pro).await;
    let r = t
        .call(
            "POST",
            "/v1/api-keys",
            Some(&a.key),
            Some(r#"{"name":"reader","scopes":["usage:read"]}"#),
        )
        .await;
    let reader = r.body["key"].as_str().unwrap().to_owned();
    let r = t
        .call("POST", "/v1/sessions", Some(&reader), Some("{}"))
        .await;
    r.expect(201, None);
    let session = r.body["token"].as_str().unwrap().to_owned();
    t.call("GET", "/v1/usage", Some(&session), None)
        .await
        .expect(200, None);
    t.call("GET", "/v1/api-keys", Some(&session), None)
        .await
        .expect(403, Some("insufficient_scope"));
    // A session cannot buy the next one: it ends when it says.
    t.call("POST", "/v1/sessions", Some(&session), Some("{}"))
        .await
        .expect(403, Some("session_not_renewable"));
    // It can sign itself out without keys:manage.
    let id = r.body["key_id"].as_str().unwrap();
    t.call(
        "DELETE",
        &format!("/v1/api-keys/{id}"),
        Some(&session),
        None,
    )
    .await
    .expect(204, None);
    t.call("GET", "/v1/usage", Some(&session), None)
        .await
        .expect(401, Some("invalid_credentials"));
    // Revoking a key ends the sessions bought with it.
    let second = t
        .call("POST", "/v1/sessions", Some(&reader), Some("{}"))
        .await;
    let second = second.body["token"].as_str().unwrap().to_owned();
    let reader_id = t.call("GET", "/v1/me", Some(&reader), None).await.body["principal"]["key_id"]
        .as_str()
        .unwrap()
        .to_owned();
    t.call(
        "DELETE",
        &format!("/v1/api-keys/{reader_id}"),
        Some(&a.key),
        None,
    )
    .await
    .expect(204, None);
    t.call("GET", "/v1/usage", Some(&second), None)
        .await
        .expect(401, Some("invalid_credentials"));
    // A wrong key buys nothing.
    let wrong = format!("vk_live_{}_{}", "A".repeat(12), "b".repeat(32));
    t.call("POST", "/v1/sessions", Some(&wrong), Some("{}"))
        .await
        .expect(401, Some("invalid_credentials"));
}

#[tokio::test]
async fn a_session_never_counts_as_the_last_owner_key() {
    let t = app();
    let a = t.tenant("Acme", Plan::Pro).await;
    let r = t
        .call("POST", "/v1/sessions", Some(&a.key), Some("{}"))
        .await;
    let session = r.body["token"].as_str().unwrap().to_owned();
    // With only the owner key and a session left, the owner key stays.
    t.call(
        "DELETE",
        &format!("/v1/api-keys/{}", a.key_id),
        Some(&session),
        None,
    )
    .await
    .expect(409, Some("last_owner_key"));
    // A session can end itself (sign-out).
    let id = r.body["key_id"].as_str().unwrap();
    t.call(
        "DELETE",
        &format!("/v1/api-keys/{id}"),
        Some(&session),
        None,
    )
    .await
    .expect(204, None);
    t.call("GET", "/v1/me", Some(&session), None)
        .await
        .expect(401, Some("invalid_credentials"));
}

fn runway() -> ProviderInfo {
    ProviderInfo {
        profile: ProviderProfile {
            name: "runway".into(),
            model: "gen4.5".into(),
            cents_per_second: 12.0,
            clip_durations: (2..=10).collect(),
            max_clip_s: 10,
            quality: 4,
        },
        enabled: true,
        status: "enabled".into(),
    }
}

#[tokio::test]
async fn an_estimate_says_what_a_job_would_cost_or_why_not_and_reserves_nothing() {
    let t = TestApp::with(|s| {
        s.rate_limit = RateLimit::parse("1000/10s").unwrap();
        s.providers.push(runway());
    });
    let pro = t.tenant("Pro", Plan::Pro).await;
    let free = t.tenant("Free", Plan::Free).await;
    let body =
        r#"{"prompt":"Three facts about octopuses. They have three hearts.","duration_s":15}"#;
    let r = t
        .call("POST", "/v1/videos/estimate", Some(&pro.key), Some(body))
        .await;
    r.expect(200, None);
    assert_eq!(r.body["allowed"], true, "{}", r.body);
    assert_eq!(r.body["routing"]["provider"], "runway");
    assert_eq!(r.body["estimated_cost_cents"], 180, "15 s at 12¢/s");
    assert!(r.body["refusal"].is_null());
    let usage = t.call("GET", "/v1/usage", Some(&pro.key), None).await;
    assert_eq!(usage.body["videos"]["used"], 0, "nothing reserved");
    assert_eq!(
        r.body["videos_remaining"],
        usage.body["videos"]["remaining"]
    );
    // The free plan renders previews only: runway is refused in words, as POST /v1/videos
    // would refuse it.
    let named = r#"{"prompt":"Three facts about octopuses.","provider":"runway"}"#;
    let r = t
        .call("POST", "/v1/videos/estimate", Some(&free.key), Some(named))
        .await;
    r.expect(200, None);
    assert_eq!(r.body["allowed"], false);
    assert_eq!(
        r.body["refusal"]["code"], "provider_not_in_plan",
        "{}",
        r.body
    );
    assert_eq!(r.body["estimated_cost_cents"], 0);
    // Bad input is still a 4xx; another tenant's concept is not found.
    t.call(
        "POST",
        "/v1/videos/estimate",
        Some(&pro.key),
        Some(r#"{"prompt":"x","duration_s":500}"#),
    )
    .await
    .expect(422, Some("invalid_request"));
    t.call(
        "POST",
        "/v1/videos/estimate",
        Some(&pro.key),
        Some(r#"{"concept_id":"cn_01a23f5dc5e2754ca3f9d4191aa3dc9d"}"#),
    )
    .await
    .expect(404, Some("not_found"));
}
