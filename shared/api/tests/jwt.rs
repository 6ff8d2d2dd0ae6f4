//! OIDC tokens against a local JWKS server: valid RS256/ES256 tokens, and the hostile ones.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::routing::get;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::TestApp;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};
use viral_api::auth::jwt::{JwtConfig, JwtVerifier};
use viral_core::domain::RateLimit;

const ISSUER: &str = "https://clerk.viral.test";
const RSA_PRIVATE: &[u8] = include_bytes!("fixtures/rsa_private.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("fixtures/rsa_public.pem");
const EC_PRIVATE: &[u8] = include_bytes!("fixtures/ec_private.pem");
const OTHER_PRIVATE: &[u8] = include_bytes!("fixtures/rsa_other_private.pem");
const JWKS: &str = include_str!("fixtures/jwks.json");

/// Serves the fixture JWKS on loopback and counts fetches.
async fn jwks_server() -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = Router::new().route(
        "/.well-known/jwks.json",
        get(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async { ([("content-type", "application/json")], JWKS) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (format!("http://{addr}/.well-known/jwks.json"), hits)
}

async fn app_with_jwt(azp: &[&str]) -> (TestApp, Arc<AtomicUsize>, Arc<JwtVerifier>) {
    let (url, hits) = jwks_server().await;
    let mut cfg = JwtConfig::new(ISSUER, vec!["viral-api".into()], Some(url));
    cfg.allowed_azp = azp.iter().map(|s| s.to_string()).collect();
    let verifier = Arc::new(JwtVerifier::new(cfg).unwrap());
    let v = verifier.clone();
    let app = TestApp::with(move |s| {
        s.jwt = Some(v);
        s.rate_limit = RateLimit::parse("10000/10s").unwrap();
    });
    (app, hits, verifier)
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "aud": "viral-api",
        "sub": "user_2abc",
        "sid": "sess_1",
        "iat": now(),
        "nbf": now() - 5,
        "exp": now() + 300,
        "azp": "https://app.viral.test",
        "o": {"id": "org_acme", "rol": "org:admin", "slg": "acme"},
        "v": 2
    })
}

fn rs256(claims: &Value, kid: &str, key: &[u8]) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = Some(kid.into());
    encode(&h, claims, &EncodingKey::from_rsa_pem(key).unwrap()).unwrap()
}

fn es256(claims: &Value) -> String {
    let mut h = Header::new(Algorithm::ES256);
    h.kid = Some("test-ec".into());
    encode(&h, claims, &EncodingKey::from_ec_pem(EC_PRIVATE).unwrap()).unwrap()
}

fn with(mut c: Value, k: &str, v: Value) -> Value {
    c[k] = v;
    c
}

fn without(mut c: Value, k: &str) -> Value {
    c.as_object_mut().unwrap().remove(k);
    c
}

#[tokio::test]
async fn valid_tokens_reach_their_organisations_tenant() {
    let (t, _, _) = app_with_jwt(&[]).await;
    let r = t
        .call(
            "GET",
            "/v1/me",
            Some(&rs256(&claims(), "test-rsa", RSA_PRIVATE)),
            None,
        )
        .await;
    r.expect(200, None);
    assert_eq!(r.body["principal"]["kind"], "jwt");
    assert_eq!(r.body["principal"]["role"], "owner");
    assert_eq!(r.body["principal"]["user_id"], "oidc:user_2abc");
    assert_eq!(r.body["tenant"]["name"], "acme");
    assert_eq!(r.body["tenant"]["plan"], "free");
    let tenant = r.body["tenant"]["id"].clone();

    // ES256, and the flat v1 claims, land in the same tenant.
    let flat = json!({
        "iss": ISSUER, "aud": ["other", "viral-api"], "sub": "user_3", "exp": now() + 60,
        "org_id": "org_acme", "org_role": "basic_member"
    });
    let r = t.call("GET", "/v1/me", Some(&es256(&flat)), None).await;
    r.expect(200, None);
    assert_eq!(r.body["tenant"]["id"], tenant);
    assert_eq!(r.body["principal"]["role"], "member");

    // Another organisation is another tenant.
    let other = with(claims(), "o", json!({"id": "org_other"}));
    let r = t
        .call(
            "GET",
            "/v1/me",
            Some(&rs256(&other, "test-rsa", RSA_PRIVATE)),
            None,
        )
        .await;
    r.expect(200, None);
    assert_ne!(r.body["tenant"]["id"], tenant);
}

/// An OIDC user's requests are counted in their own window (made while the tenant is read):
/// the one over the limit is 429, another user of the same organisation is not held by it,
/// and a suspended tenant is refused as suspended.
#[tokio::test]
async fn an_oidc_users_window_is_their_own() {
    let (url, _) = jwks_server().await;
    let verifier = Arc::new(
        JwtVerifier::new(JwtConfig::new(ISSUER, vec!["viral-api".into()], Some(url))).unwrap(),
    );
    let t = TestApp::with(move |s| {
        s.jwt = Some(verifier);
        s.rate_limit = RateLimit::parse("2/10s").unwrap();
    });
    let alice = rs256(&claims(), "test-rsa", RSA_PRIVATE);
    let bob = rs256(
        &with(claims(), "sub", json!("user_bob")),
        "test-rsa",
        RSA_PRIVATE,
    );
    for _ in 0..2 {
        t.call("GET", "/v1/me", Some(&alice), None)
            .await
            .expect(200, None);
    }
    t.call("GET", "/v1/me", Some(&alice), None)
        .await
        .expect(429, Some("rate_limited"));
    let r = t.call("GET", "/v1/me", Some(&bob), None).await;
    r.expect(200, None);
    let tenant = r.body["tenant"]["id"].as_str().unwrap().to_owned();
    viral_core::service::tenant_lifecycle::set_status(
        &*t.state.store,
        &tenant,
        viral_core::domain::TenantStatus::Suspended,
    )
    .await
    .unwrap();
    t.call("GET", "/v1/me", Some(&bob), None)
        .await
        .expect(403, Some("tenant_suspended"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_organisations_first_requests_agree_on_one_tenant() {
    let (t, _, _) = app_with_jwt(&[]).await;
    let token = rs256(
        &with(claims(), "o", json!({"id": "org_race"})),
        "test-rsa",
        RSA_PRIVATE,
    );
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let app = t.app.clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            let req = axum::http::Request::get("/v1/me")
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            let r = common::send(&app, req).await;
            r.expect(200, None);
            r.body["tenant"]["id"].as_str().unwrap().to_owned()
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        ids.insert(task.await.unwrap());
    }
    assert_eq!(ids.len(), 1);
}

#[tokio::test]
async fn hostile_tokens_are_401() {
    let (t, _, _) = app_with_jwt(&["https://app.viral.test"]).await;
    let b64 = |v: &Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let good = rs256(&claims(), "test-rsa", RSA_PRIVATE);
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("test-rsa".into());
    let mut jku_header = Header::new(Algorithm::RS256);
    jku_header.kid = Some("attacker".into());
    jku_header.jku = Some("https://attacker.example/jwks.json".into());

    let cases: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "kid": "test-rsa", "typ": "JWT"})),
                b64(&claims())
            ),
        ),
        (
            "HS256 signed with the RSA public key",
            encode(&hs_header, &claims(), &EncodingKey::from_secret(RSA_PUBLIC)).unwrap(),
        ),
        ("unknown kid", rs256(&claims(), "nope", OTHER_PRIVATE)),
        (
            "known kid, other key",
            rs256(&claims(), "test-rsa", OTHER_PRIVATE),
        ),
        (
            "path-traversal kid",
            rs256(&claims(), "../../etc/passwd", RSA_PRIVATE),
        ),
        (
            "jku pointing elsewhere",
            encode(
                &jku_header,
                &claims(),
                &EncodingKey::from_rsa_pem(OTHER_PRIVATE).unwrap(),
            )
            .unwrap(),
        ),
        (
            "wrong issuer",
            rs256(
                &with(claims(), "iss", json!("https://evil.test")),
                "test-rsa",
                RSA_PRIVATE,
            ),
        ),
        (
            "issuer with a trailing slash",
            rs256(
                &with(claims(), "iss", json!(format!("{ISSUER}/"))),
                "test-rsa",
                RSA_PRIVATE,
            ),
        ),
        (
            "issuer that only starts with the configured one",
            rs256(
                &with(claims(), "iss", json!(format!("{ISSUER}.evil.test"))),
                "test-rsa",
                RSA_PRIVATE,
            ),
        ),
        (
            "issuer with a path after the configured one",
            rs256(
                &with(claims(), "iss", json!(format!("{ISSUER}/tenant"))),
                "test-rsa",
                RSA_PRIVATE,
            ),
        ),
        (
            "wrong audience",
            rs256(
                &with(claims(), "aud", json!("someone-else")),
                "test-rsa",
                RSA_PRIVATE,
            ),
        ),
        (
            "no audience",
            rs256(&without(claims(), "aud"), "test-rsa", RSA_PRIVATE),
        ),
        (
            "expired past the leeway",
            rs256(
                &with(claims(), "exp", json!(now() - 31 - 5)),
                "test-rsa",
                RSA_PRIVATE,
            ),
        ),
        (
            "no exp",
            rs256(&without(claims(), "exp"), "test-rsa", RSA_PRIVATE),
        ),
        (
            "not yet valid",
            rs256(
                &with(claims(), "nbf", json!(now() + 300)),
                "test-rsa",
                RSA_PRIVATE,
            ),
        ),
        (
            "azp not allowed",
            rs256(
                &with(claims(), "azp", json!("https://evil.test")),
                "test-rsa",
                RSA_PRIVATE,
            ),
        ),
        (
            "no sub",
            rs256(&without(claims(), "sub"), "test-rsa", RSA_PRIVATE),
        ),
        (
            "claims of the wrong type",
            rs256(
                &with(claims(), "o", json!("org_acme")),
                "test-rsa",
                RSA_PRIVATE,
            ),
        ),
        ("truncated", good[..good.len() - 10].to_owned()),
        (
            "signature stripped",
            format!("{}.", good.rsplit_once('.').unwrap().0),
        ),
        ("not base64", "###.###.###".to_owned()),
        ("two segments", "abc.def".to_owned()),
    ];
    for (what, token) in cases {
        let r = t.call("GET", "/v1/me", Some(&token), None).await;
        assert_eq!(r.status.as_u16(), 401, "{what}: {}", r.body);
        assert_eq!(r.body["error"]["code"], "invalid_credentials", "{what}");
    }
    // The control token still works.
    t.call("GET", "/v1/me", Some(&good), None)
        .await
        .expect(200, None);
    // A token without an organisation is authenticated but belongs to no tenant.
    let no_org = rs256(&without(claims(), "o"), "test-rsa", RSA_PRIVATE);
    t.call("GET", "/v1/me", Some(&no_org), None)
        .await
        .expect(403, Some("no_organization"));
}

#[tokio::test]
async fn unknown_kids_cannot_flood_the_jwks_endpoint() {
    let (t, hits, verifier) = app_with_jwt(&[]).await;
    t.call(
        "GET",
        "/v1/me",
        Some(&rs256(&claims(), "test-rsa", RSA_PRIVATE)),
        None,
    )
    .await
    .expect(200, None);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    for i in 0..1000 {
        let token = rs256(&claims(), &format!("forged-{i}"), OTHER_PRIVATE);
        let r = t.call("GET", "/v1/me", Some(&token), None).await;
        assert_eq!(r.status.as_u16(), 401);
    }
    // One refetch at most per minute, however many unknown kids arrive.
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert_eq!(verifier.fetch_count(), 1);
}

#[tokio::test]
async fn unknown_kids_refetch_once_the_interval_allows() {
    let (url, hits) = jwks_server().await;
    let mut cfg = JwtConfig::new(ISSUER, vec!["viral-api".into()], Some(url));
    cfg.min_refetch = std::time::Duration::ZERO;
    let v = Arc::new(JwtVerifier::new(cfg).unwrap());
    let t = TestApp::with(move |s| s.jwt = Some(v));
    for i in 0..3 {
        let token = rs256(&claims(), &format!("rotated-{i}"), OTHER_PRIVATE);
        t.call("GET", "/v1/me", Some(&token), None)
            .await
            .expect(401, Some("invalid_credentials"));
    }
    // With no minimum interval each unknown kid looks for a rotated key.
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}
