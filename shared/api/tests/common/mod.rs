//! An in-process API on a temporary SQLite store, driven with `tower::ServiceExt::oneshot`.
#![allow(dead_code)]

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use viral_api::AppState;
use viral_core::domain::Plan;
use viral_core::service::tenants;
use viral_core::{ManualClock, Timestamp};
use viral_embedded::SqliteItemStore;

pub struct TestApp {
    pub app: Router,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: Value,
    pub raw: Vec<u8>,
}

pub struct Tenant {
    pub id: String,
    pub key: String,
    pub key_id: String,
}

/// 2026-11-25T01:12:33Z: fixed, so windows and periods are predictable.
pub const NOW: Timestamp = Timestamp(1_795_569_153_000);

impl TestApp {
    pub fn new() -> Self {
        Self::with(|_| {})
    }

    pub fn with(tune: impl FnOnce(&mut AppState)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(SqliteItemStore::open(&dir.path().join("viral.db")).expect("store"));
        let clock = Arc::new(ManualClock::new(NOW));
        let mut state = AppState::new(store, clock.clone());
        tune(&mut state);
        Self {
            app: viral_api::router(state.clone()),
            state,
            clock,
            _dir: dir,
        }
    }

    pub async fn tenant(&self, name: &str, plan: Plan) -> Tenant {
        let t = tenants::create_tenant(&*self.state.store, &*self.state.clock, name, plan)
            .await
            .expect("tenant");
        Tenant {
            id: t.tenant.id,
            key: t.key.token.expose().to_owned(),
            key_id: t.key.key.id,
        }
    }

    pub async fn send(&self, req: Request<Body>) -> Resp {
        send(&self.app, req).await
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<&str>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        let req = match body {
            Some(json) => b
                .header("content-type", "application/json")
                .body(Body::from(json.to_owned())),
            None => b.body(Body::empty()),
        }
        .expect("request");
        self.send(req).await
    }
}

pub async fn send(app: &Router, req: Request<Body>) -> Resp {
    let resp = app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let headers = resp.headers().clone();
    let raw = resp
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Resp {
        status,
        headers,
        body,
        raw,
    }
}

impl Resp {
    /// Asserts the status and, for errors, the envelope and its code.
    pub fn expect(&self, status: u16, code: Option<&str>) -> &Self {
        assert_eq!(
            self.status.as_u16(),
            status,
            "body: {}",
            String::from_utf8_lossy(&self.raw)
        );
        if let Some(code) = code {
            assert_eq!(self.body["error"]["code"], code, "body: {}", self.body);
            assert!(
                self.body["error"]["message"]
                    .as_str()
                    .is_some_and(|m| !m.is_empty())
            );
            let rid = self.body["error"]["request_id"]
                .as_str()
                .expect("request_id");
            assert_eq!(
                self.headers
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok()),
                Some(rid)
            );
        }
        self
    }
}
