//! Every route in-process: happy paths, auth failures, other tenants' ids, bad bodies, limits.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use common::{TestApp, send};
use viral_api::{Route, router_for};
use viral_core::domain::{Plan, RateLimit};

#[tokio::test]
async fn healthz_and_openapi_need_no_credentials() {
    let t = TestApp::new();
    let r = t.call("GET", "/healthz", None, None).await;
    r.expect(200, None);
    assert_eq!(r.body["status"], "ok");

    let r = t.call("GET", "/openapi.json", None, None).await;
    r.expect(200, None);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3.1"));
    for route in Route::ALL {
        if route == Route::OpenApi {
            continue;
        }
        let op = &r.body["paths"][route.path()][route.method().to_lowercase()];
        assert!(
            op.is_object(),
            "{} {} missing from OpenAPI",
            route.method(),
            route.path()
        );
        // A path parameter is in the path; everything else is declared where it is sent.
        for param in op["parameters"].as_array().into_iter().flatten() {
            let name = param["name"].as_str().unwrap();
            let in_path = route.path().contains(&format!("{{{name}}}"));
            assert_eq!(
                param["in"] == "path",
                in_path,
                "{} {}: parameter {param}",
                route.method(),
                route.path()
            );
            if param["in"] == "query" && matches!(name, "limit" | "cursor") {
                assert_eq!(param["required"], false, "{param}");
            }
        }
    }
    assert!(r.body["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test]
async fn me_shows_tenant_and_credential() {
    let t = TestApp::new();
    let a = t.tenant("Acme", Plan::Pro).await;
    let r = t.call("GET", "/v1/me", Some(&a.key), None).await;
    r.expect(200, None);
    assert_eq!(r.body["tenant"]["id"], a.id.as_str());
    assert_eq!(r.body["tenant"]["name"], "Acme");
    assert_eq!(r.body["tenant"]["plan"], "pro");
    assert_eq!(r.body["tenant"]["status"], "active");
    assert_eq!(r.body["principal"]["kind"], "api_key");
    assert_eq!(r.body["principal"]["role"], "owner");
    assert_eq!(r.body["principal"]["key_id"], a.key_id.as_str());
    assert!(r.body["principal"]["scopes"].is_null());
    assert!(!String::from_utf8_lossy(&r.raw).contains(&a.key));
}

#[tokio::test]
async fn usage_reports_the_month_against_the_plan() {
    let t = TestApp::new();
    let a = t.tenant("Acme", Plan::Starter).await;
    let r = t.call("GET", "/v1/usage", Some(&a.key), None).await;
    r.expect(200, None);
    assert_eq!(r.body["period"], "2026-11");
    assert_eq!(r.body["plan"], "starter");
    assert_eq!(r.body["concepts"]["limit"], 10);
    assert_eq!(r.body["concepts"]["used"], 0);
    assert_eq!(r.body["videos"]["remaining"], 10);
    assert_eq!(r.body["resets_at"], "2026-12-01T00:00:00Z");
}

#[tokio::test]
async fn api_keys_create_list_revoke() {
    // More calls with one key than the default 10 per 10 s: this test is not about limits.
    let t = TestApp::with(|s| s.rate_limit = RateLimit::parse("1000/10s").unwrap());
    let a = t.tenant("Acme", Plan::Free).await;

    let r = t
        .call(
            "POST",
            "/v1/api-keys",
            Some(&a.key),
            Some(r#"{"name":"ci","scopes":["usage:read"]}"#),
        )
        .await;
    r.expect(201, None);
    let new_key = r.body["key"].as_str().unwrap().to_owned();
    let new_id = r.body["id"].as_str().unwrap().to_owned();
    assert!(new_key.starts_with("vk_live_"));
    assert_eq!(r.body["scopes"], serde_json::json!(["usage:read"]));
    assert_eq!(r.body["name"], "ci");

    // The new key works, within its scopes.
    t.call("GET", "/v1/usage", Some(&new_key), None)
        .await
        .expect(200, None);
    t.call("GET", "/v1/api-keys", Some(&new_key), None)
        .await
        .expect(403, Some("insufficient_scope"));
    // A scoped key cannot mint a broader one.
    t.call(
        "POST",
        "/v1/api-keys",
        Some(&new_key),
        Some(r#"{"name":"x"}"#),
    )
    .await
    .expect(403, Some("insufficient_scope"));

    // Listing: newest first, never the secret.
    let r = t.call("GET", "/v1/api-keys", Some(&a.key), None).await;
    r.expect(200, None);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["id"], new_id.as_str());
    assert_eq!(items[1]["id"], a.key_id.as_str());
    assert!(items.iter().all(|k| k.get("key").is_none()));
    assert!(!String::from_utf8_lossy(&r.raw).contains(&new_key));

    // Pagination with a cursor.
    let r = t
        .call("GET", "/v1/api-keys?limit=1", Some(&a.key), None)
        .await;
    r.expect(200, None);
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    let r = t
        .call(
            "GET",
            &format!("/v1/api-keys?limit=1&cursor={cursor}"),
            Some(&a.key),
            None,
        )
        .await;
    r.expect(200, None);
    assert_eq!(r.body["items"][0]["id"], a.key_id.as_str());
    assert!(r.body["next_cursor"].is_null());

    // Revoke: 204, then the key is refused at once; revoking again is fine.
    t.call(
        "DELETE",
        &format!("/v1/api-keys/{new_id}"),
        Some(&a.key),
        None,
    )
    .await
    .expect(204, None);
    t.call("GET", "/v1/usage", Some(&new_key), None)
        .await
        .expect(401, Some("invalid_credentials"));
    t.call(
        "DELETE",
        &format!("/v1/api-keys/{new_id}"),
        Some(&a.key),
        None,
    )
    .await
    .expect(204, None);
    let r = t.call("GET", "/v1/api-keys", Some(&a.key), None).await;
    assert!(r.body["items"][0]["revoked_at"].is_string());

    // The tenant's only owner key that can manage keys cannot revoke itself (the tenant
    // would be locked out); once a second one exists, either may go, but not both.
    let own = format!("/v1/api-keys/{}", a.key_id);
    t.call("DELETE", &own, Some(&a.key), None)
        .await
        .expect(409, Some("last_owner_key"));
    let r = t
        .call(
            "POST",
            "/v1/api-keys",
            Some(&a.key),
            Some(r#"{"name":"spare"}"#),
        )
        .await;
    r.expect(201, None);
    let (spare_key, spare_id) = (
        r.body["key"].as_str().unwrap().to_owned(),
        r.body["id"].as_str().unwrap().to_owned(),
    );
    let spare = format!("/v1/api-keys/{spare_id}");
    let (first, second) = tokio::join!(
        t.call("DELETE", &own, Some(&a.key), None),
        t.call("DELETE", &spare, Some(&spare_key), None),
    );
    let mut codes = [first.status.as_u16(), second.status.as_u16()];
    codes.sort_unstable();
    assert_eq!(codes, [204, 409], "{} / {}", first.body, second.body);
    let live = if first.status.as_u16() == 204 {
        &spare_key
    } else {
        &a.key
    };
    t.call("GET", "/v1/api-keys", Some(live), None)
        .await
        .expect(200, None);
}

#[tokio::test]
async fn auth_failures_are_401_with_stable_codes() {
    let t = TestApp::new();
    let a = t.tenant("Acme", Plan::Free).await;
    t.call("GET", "/v1/me", None, None)
        .await
        .expect(401, Some("missing_credentials"));

    let wrong_secret = {
        let mut k = a.key.clone();
        let last = k.pop().unwrap();
        k.push(if last == 'A' { 'B' } else { 'A' });
        k
    };
    let cases = [
        "garbage".to_owned(),
        "vk_live_".to_owned(),
        wrong_secret,
        format!("vk_live_{}_{}", "A".repeat(12), "b".repeat(32)),
        format!("{}x", a.key),
        "a.b.c".to_owned(),
        "x".repeat(10 * 1024),
        "vk_live_ÄÖÜ".to_owned(),
    ];
    for token in cases {
        let req = Request::get("/v1/me")
            .header("authorization", format!("Bearer {token}").into_bytes())
            .body(Body::empty())
            .unwrap();
        let r = t.send(req).await;
        r.expect(401, Some("invalid_credentials"));
        assert_eq!(r.headers.get("www-authenticate").unwrap(), "Bearer");
    }
    for header in [format!("Basic {}", a.key), a.key.clone(), "Bearer ".into()] {
        let req = Request::get("/v1/me")
            .header("authorization", header)
            .body(Body::empty())
            .unwrap();
        t.send(req).await.expect(401, Some("invalid_credentials"));
    }
    // A key in the right tenant still works after all that.
    t.call("GET", "/v1/me", Some(&a.key), None)
        .await
        .expect(200, None);
}

#[tokio::test]
async fn other_tenants_ids_are_not_found() {
    let t = TestApp::new();
    let a = t.tenant("A", Plan::Free).await;
    let b = t.tenant("B", Plan::Free).await;

    // B cannot revoke, or learn about, A's key.
    let r = t
        .call(
            "DELETE",
            &format!("/v1/api-keys/{}", a.key_id),
            Some(&b.key),
            None,
        )
        .await;
    r.expect(404, Some("not_found"));
    t.call("GET", "/v1/me", Some(&a.key), None)
        .await
        .expect(200, None);
    // Garbage and missing ids look the same as foreign ones.
    for id in [
        "nope",
        "key_00000000000000000000000000000000",
        "..%2F..%2Fetc",
    ] {
        t.call("DELETE", &format!("/v1/api-keys/{id}"), Some(&b.key), None)
            .await
            .expect(404, Some("not_found"));
    }
    // Listings hold only one's own keys.
    let r = t.call("GET", "/v1/api-keys", Some(&b.key), None).await;
    let ids: Vec<_> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].clone())
        .collect();
    assert_eq!(ids, [serde_json::json!(b.key_id)]);
    // A's cursor cannot be replayed as B to page through A's partition.
    t.call(
        "POST",
        "/v1/api-keys",
        Some(&a.key),
        Some(r#"{"name":"second"}"#),
    )
    .await
    .expect(201, None);
    let r = t
        .call("GET", "/v1/api-keys?limit=1", Some(&a.key), None)
        .await;
    let cursor = r.body["next_cursor"].as_str().unwrap().to_owned();
    t.call(
        "GET",
        &format!("/v1/api-keys?cursor={cursor}"),
        Some(&b.key),
        None,
    )
    .await
    .expect(400, Some("invalid_cursor"));
}

#[tokio::test]
async fn bad_bodies_and_queries_are_4xx() {
    let t = TestApp::with(|s| {
        s.max_body_bytes = 4096;
        s.rate_limit = RateLimit::parse("1000/10s").unwrap();
    });
    let a = t.tenant("Acme", Plan::Free).await;
    let post = |body: &'static str, ct: Option<&'static str>| {
        let mut b =
            Request::post("/v1/api-keys").header("authorization", format!("Bearer {}", a.key));
        if let Some(ct) = ct {
            b = b.header("content-type", ct);
        }
        b.body(Body::from(body)).unwrap()
    };
    let json = Some("application/json");
    t.send(post("{bad", json))
        .await
        .expect(400, Some("invalid_json"));
    t.send(post("", json))
        .await
        .expect(400, Some("invalid_json"));
    t.send(post(r#"{"name":"x"}"#, None))
        .await
        .expect(415, Some("unsupported_media_type"));
    t.send(post(r#"{"name":"x"}"#, Some("text/plain")))
        .await
        .expect(415, Some("unsupported_media_type"));
    t.send(post(r#"{"name":5}"#, json))
        .await
        .expect(422, Some("invalid_request"));
    t.send(post(r#"{"nam":"x"}"#, json))
        .await
        .expect(422, Some("invalid_request"));
    t.send(post(r#"{"name":"x","admin":true}"#, json))
        .await
        .expect(422, Some("invalid_request"));
    t.send(post(r#"{"name":"   "}"#, json))
        .await
        .expect(422, Some("invalid_request"));
    t.send(post(r#"{"name":"x","scopes":["root"]}"#, json))
        .await
        .expect(422, Some("invalid_request"));
    t.send(post(r#"{"name":"x","scopes":[]}"#, json))
        .await
        .expect(422, Some("invalid_request"));
    t.send(post(r#"[1,2]"#, json))
        .await
        .expect(422, Some("invalid_request"));
    let big = Box::leak(format!(r#"{{"name":"{}"}}"#, "x".repeat(10_000)).into_boxed_str());
    t.send(post(big, json))
        .await
        .expect(413, Some("payload_too_large"));

    for q in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=-1",
        "cursor=%%%",
    ] {
        let r = t
            .call("GET", &format!("/v1/api-keys?{q}"), Some(&a.key), None)
            .await;
        assert_eq!(r.status.as_u16(), 400, "{q}: {}", r.body);
    }
    t.call("GET", "/nope", Some(&a.key), None)
        .await
        .expect(404, Some("route_not_found"));
    t.call("PATCH", "/v1/me", Some(&a.key), None)
        .await
        .expect(405, Some("method_not_allowed"));
    t.call("PUT", "/v1/api-keys", Some(&a.key), None)
        .await
        .expect(405, Some("method_not_allowed"));
    // Nothing above created a key.
    let r = t.call("GET", "/v1/api-keys", Some(&a.key), None).await;
    assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn eleventh_request_in_ten_seconds_is_429() {
    let t = TestApp::new();
    let a = t.tenant("A", Plan::Free).await;
    let b = t.tenant("B", Plan::Free).await;
    for _ in 0..10 {
        t.call("GET", "/v1/me", Some(&a.key), None)
            .await
            .expect(200, None);
    }
    let r = t.call("GET", "/v1/me", Some(&a.key), None).await;
    r.expect(429, Some("rate_limited"));
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=10).contains(&retry), "{retry}");
    // Other principals are unaffected.
    t.call("GET", "/v1/me", Some(&b.key), None)
        .await
        .expect(200, None);
    // Refused requests do not extend the wait: the next window serves again.
    t.clock.advance(Duration::from_secs(retry));
    t.call("GET", "/v1/me", Some(&a.key), None)
        .await
        .expect(200, None);
}

#[tokio::test]
async fn a_wrong_secret_spends_none_of_the_keys_budget_and_idle_windows_do_not_pile_up() {
    let t = TestApp::with(|s| s.rate_limit = RateLimit::parse("2/10s").unwrap());
    let a = t.tenant("A", Plan::Free).await;
    // Same prefix, another secret: refused like any bad key, and the window is not counted.
    let last = a.key.chars().last().unwrap();
    let forged = format!(
        "{}{}",
        &a.key[..a.key.len() - 1],
        if last == 'a' { 'b' } else { 'a' }
    );
    for _ in 0..5 {
        t.call("GET", "/v1/me", Some(&forged), None)
            .await
            .expect(401, Some("invalid_credentials"));
    }
    for _ in 0..2 {
        t.call("GET", "/v1/me", Some(&a.key), None)
            .await
            .expect(200, None);
    }
    t.call("GET", "/v1/me", Some(&a.key), None)
        .await
        .expect(429, Some("rate_limited"));
    // A key used once every few windows leaves a counter behind each time; the record keeps
    // only a few of them.
    let prefix = viral_core::domain::api_key::parse_presented(&a.key)
        .unwrap()
        .prefix;
    let counters = || async {
        let item = t
            .state
            .store
            .get(
                &viral_core::domain::keys::api_key_lookup_pk(prefix),
                viral_core::domain::keys::API_KEY_LOOKUP_SK,
            )
            .await
            .unwrap()
            .unwrap();
        item.attrs.keys().filter(|k| k.starts_with("rl_")).count()
    };
    for _ in 0..12 {
        t.clock.advance(Duration::from_secs(30));
        t.call("GET", "/v1/me", Some(&a.key), None)
            .await
            .expect(200, None);
        assert!(counters().await <= 6, "{}", counters().await);
    }
}

/// A key this process has seen authenticate has its tenant read alongside its check; what was
/// learned is never trusted over the key's own record, and a wrong secret teaches nothing.
#[tokio::test]
async fn a_known_keys_tenant_is_read_early_but_only_its_record_decides() {
    let t = TestApp::new();
    let a = t.tenant("A", Plan::Free).await;
    let b = t.tenant("B", Plan::Free).await;
    let prefix = |key: &str| {
        viral_core::domain::api_key::parse_presented(key)
            .unwrap()
            .prefix
            .to_owned()
    };
    let known = t.state.known_keys.clone();
    // A wrong secret for A's prefix: refused, and nothing learned.
    let last = a.key.chars().last().unwrap();
    let forged = format!(
        "{}{}",
        &a.key[..a.key.len() - 1],
        if last == 'a' { 'b' } else { 'a' }
    );
    t.call("GET", "/v1/me", Some(&forged), None)
        .await
        .expect(401, Some("invalid_credentials"));
    assert_eq!(known.tenant_of(&prefix(&a.key)), None);
    // The right one: served, and its tenant learned.
    let me = t.call("GET", "/v1/me", Some(&a.key), None).await;
    me.expect(200, None);
    let a_id = me.body["tenant"]["id"].as_str().unwrap().to_owned();
    assert_eq!(known.tenant_of(&prefix(&a.key)), Some(a_id.clone()));
    // A refused request forgets it (refusals one after another cost no early reads); the
    // next accepted one learns it again.
    t.call("GET", "/v1/me", Some(&forged), None)
        .await
        .expect(401, Some("invalid_credentials"));
    assert_eq!(known.tenant_of(&prefix(&a.key)), None);
    t.call("GET", "/v1/me", Some(&a.key), None)
        .await
        .expect(200, None);
    assert_eq!(known.tenant_of(&prefix(&a.key)), Some(a_id.clone()));
    // Told the wrong tenant (B's), A's key still gets A: the record decides.
    let b_id = t.call("GET", "/v1/me", Some(&b.key), None).await.body["tenant"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    known.learn(&prefix(&a.key), &b_id);
    let me = t.call("GET", "/v1/me", Some(&a.key), None).await;
    me.expect(200, None);
    assert_eq!(me.body["tenant"]["id"], a_id.as_str());
    assert_eq!(known.tenant_of(&prefix(&a.key)), Some(a_id.clone()));
    // The tenant read early is read on this request: a suspension applies at once.
    use viral_core::domain::TenantStatus;
    use viral_core::service::tenant_lifecycle::set_status;
    set_status(&*t.state.store, &a_id, TenantStatus::Suspended)
        .await
        .unwrap();
    t.call("GET", "/v1/me", Some(&a.key), None)
        .await
        .expect(403, Some("tenant_suspended"));
    set_status(&*t.state.store, &a_id, TenantStatus::Active)
        .await
        .unwrap();
    // A known key revoked is refused at once too (by another owner key of its tenant).
    let second = t
        .call(
            "POST",
            "/v1/api-keys",
            Some(&a.key),
            Some(r#"{"name":"second"}"#),
        )
        .await;
    second.expect(201, None);
    let second_key = second.body["key"].as_str().unwrap().to_owned();
    t.call(
        "DELETE",
        &format!("/v1/api-keys/{}", a.key_id),
        Some(&second_key),
        None,
    )
    .await
    .expect(204, None);
    t.call("GET", "/v1/me", Some(&a.key), None)
        .await
        .expect(401, Some("invalid_credentials"));
}

#[tokio::test]
async fn rate_limit_is_configurable() {
    let t = TestApp::with(|s| s.rate_limit = RateLimit::parse("2/1m").unwrap());
    let a = t.tenant("A", Plan::Free).await;
    t.call("GET", "/v1/usage", Some(&a.key), None)
        .await
        .expect(200, None);
    t.call("GET", "/v1/me", Some(&a.key), None)
        .await
        .expect(200, None);
    t.call("GET", "/v1/me", Some(&a.key), None)
        .await
        .expect(429, Some("rate_limited"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_parallel_key_creations_lose_nothing() {
    let t = TestApp::with(|s| s.rate_limit = RateLimit::parse("1000/10s").unwrap());
    let a = t.tenant("A", Plan::Free).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let app = t.app.clone();
        let key = a.key.clone();
        tasks.push(tokio::spawn(async move {
            let req = Request::post("/v1/api-keys")
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(Body::from(format!(r#"{{"name":"k{i}"}}"#)))
                .unwrap();
            let r = send(&app, req).await;
            r.expect(201, None);
            (
                r.body["id"].as_str().unwrap().to_owned(),
                r.body["key"].as_str().unwrap().to_owned(),
            )
        }));
    }
    let mut created = Vec::new();
    for task in tasks {
        created.push(task.await.unwrap());
    }
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/api-keys?limit=7&cursor={c}"),
            None => "/v1/api-keys?limit=7".into(),
        };
        let r = t.call("GET", &path, Some(&a.key), None).await;
        r.expect(200, None);
        listed.extend(
            r.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["id"].as_str().unwrap().to_owned()),
        );
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(listed.len(), 51);
    let unique: std::collections::HashSet<_> = listed.iter().collect();
    assert_eq!(unique.len(), 51);
    for (id, key) in &created {
        assert!(unique.contains(id));
        let r = t.call("GET", "/v1/me", Some(key), None).await;
        r.expect(200, None);
        assert_eq!(r.body["principal"]["key_id"], id.as_str());
    }
}

#[tokio::test]
async fn a_single_route_router_serves_only_its_route() {
    let t = TestApp::new();
    let a = t.tenant("A", Plan::Free).await;
    let only_me = router_for(t.state.clone(), &[Route::GetMe]);
    let get = |path: &str| {
        Request::get(path)
            .header("authorization", format!("Bearer {}", a.key))
            .body(Body::empty())
            .unwrap()
    };
    send(&only_me, get("/v1/me")).await.expect(200, None);
    send(&only_me, get("/v1/usage"))
        .await
        .expect(404, Some("route_not_found"));
    let post = Request::post("/v1/me").body(Body::empty()).unwrap();
    send(&only_me, post)
        .await
        .expect(405, Some("method_not_allowed"));
}

#[tokio::test]
async fn request_ids_are_echoed_when_well_formed() {
    let t = TestApp::new();
    let req = Request::get("/v1/me")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    let r = t.send(req).await;
    assert_eq!(r.body["error"]["request_id"], "abc-123");
    let req = Request::get("/v1/me")
        .header("x-request-id", "<script>")
        .body(Body::empty())
        .unwrap();
    let r = t.send(req).await;
    assert!(
        r.body["error"]["request_id"]
            .as_str()
            .unwrap()
            .starts_with("req_")
    );
}

#[test]
fn every_route_has_its_own_lambda_crate() {
    let functions = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../functions");
    for route in Route::ALL {
        let main = functions.join(route.function_name()).join("src/main.rs");
        let text = std::fs::read_to_string(&main)
            .unwrap_or_else(|_| panic!("{} is missing", main.display()));
        // Chosen at compile time, so the binary links this route's handler alone.
        assert!(
            text.contains(&format!("const {{ viral_api::Route::{route:?}.entry() }}")),
            "{} does not serve Route::{route:?} through its const entry",
            main.display()
        );
    }
}

#[tokio::test]
async fn providers_list_price_limits_health_and_why_some_are_off() {
    use viral_core::domain::routing::{ProviderInfo, ProviderProfile};
    let t = TestApp::with(|s| {
        s.providers.push(ProviderInfo {
            profile: ProviderProfile {
                name: "veo".into(),
                model: "veo-3.1-fast-generate-001".into(),
                cents_per_second: 15.0,
                clip_durations: vec![4, 6, 8],
                max_clip_s: 8,
                quality: 5,
            },
            enabled: false,
            status: "off: set VERTEX_PROJECT".into(),
        });
    });
    let a = t.tenant("Acme", Plan::Pro).await;
    t.call("GET", "/v1/providers", None, None)
        .await
        .expect(401, Some("missing_credentials"));
    for _ in 0..3 {
        viral_core::service::provider_health::record(
            &*t.state.store,
            &*t.clock,
            "storyboard",
            false,
            0.0,
        )
        .await
        .unwrap();
    }
    let r = t.call("GET", "/v1/providers", Some(&a.key), None).await;
    r.expect(200, None);
    let list = r.body["providers"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["name"], "storyboard");
    assert_eq!(list[0]["enabled"], true);
    assert_eq!(
        list[0]["health"]["circuit_open"], true,
        "three failures in a row"
    );
    assert_eq!(list[1]["name"], "veo");
    assert_eq!(list[1]["enabled"], false);
    assert_eq!(list[1]["clip_durations"], serde_json::json!([4, 6, 8]));
    assert_eq!(list[1]["status"], "off: set VERTEX_PROJECT");
    // A disabled provider cannot be asked for by name.
    let r = t
        .call(
            "POST",
            "/v1/videos",
            Some(&a.key),
            Some(r#"{"prompt":"Hello there.","provider":"veo"}"#),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );
}

#[tokio::test]
async fn a_suspended_tenants_credentials_are_refused_until_it_is_resumed() {
    use viral_core::domain::TenantStatus;
    use viral_core::service::tenant_lifecycle::set_status;
    let t = TestApp::new();
    let a = t.tenant("Paused", Plan::Pro).await;
    let other = t.tenant("Running", Plan::Pro).await;
    set_status(&*t.state.store, &a.id, TenantStatus::Suspended)
        .await
        .unwrap();
    t.call("GET", "/v1/me", Some(&a.key), None)
        .await
        .expect(403, Some("tenant_suspended"));
    t.call("GET", "/v1/me", Some(&other.key), None)
        .await
        .expect(200, None);
    set_status(&*t.state.store, &a.id, TenantStatus::Active)
        .await
        .unwrap();
    t.call("GET", "/v1/me", Some(&a.key), None)
        .await
        .expect(200, None);
    assert!(matches!(
        set_status(&*t.state.store, "tn_nobody", TenantStatus::Suspended).await,
        Err(viral_core::Error::NotFound("tenant"))
    ));
}
