//! The API Gateway (HTTP API, payload 2.0) events in `events/` fed to their functions'
//! handlers the way `lambda_http` does it, on the embedded store: each event's route key
//! matches its function's route, and the answer has the documented status and shape. The
//! events carry placeholders for what only exists at run time (`vk_live_REPLACED_BY_TEST`
//! for an API key, `cn_REPLACED_BY_TEST` for a concept id).

use std::sync::Arc;

use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use viral_api::{AppState, Route};
use viral_core::domain::Plan;
use viral_core::ports::{ItemStore, RuleWriter, SampleTrends};
use viral_core::service::concepts::{self, ConceptRequest};
use viral_core::service::tenants;
use viral_core::{Clock, SystemClock};
use viral_embedded::SqliteItemStore;

const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");

/// The routes whose functions have an API event so far, and what each answer must hold.
const COVERED: [(Route, u16, &[&str]); 5] = [
    (
        Route::CreateConcepts,
        201,
        &["id", "concepts", "trend_source", "writer"],
    ),
    (Route::ListConcepts, 200, &["items", "next_cursor"]),
    (
        Route::GetConcept,
        200,
        &["id", "hook", "beats", "visual_prompt"],
    ),
    (
        Route::PostFeedback,
        200,
        &["concept_id", "platform", "score"],
    ),
    (
        Route::GetInsights,
        200,
        &["effects", "observations", "calibration"],
    ),
];

#[tokio::test]
async fn every_api_event_reaches_its_handler_and_gets_the_documented_answer() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ItemStore> =
        Arc::new(SqliteItemStore::open(&dir.path().join("viral.db")).unwrap());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let created = tenants::create_tenant(&*store, &*clock, "Events", Plan::Pro)
        .await
        .unwrap();
    let key = created.key.token.expose().to_owned();
    let concept_id = concepts::generate(
        &*store,
        &*clock,
        &created.tenant,
        ConceptRequest {
            count: 1,
            duration_s: 15.0,
            ..Default::default()
        },
        None,
        &SampleTrends,
        &RuleWriter,
    )
    .await
    .unwrap()
    .batch
    .concepts[0]
        .id
        .clone();
    let state = AppState::new(store, clock);

    for (route, status, fields) in COVERED {
        let name = route.function_name();
        let path = format!("{EVENTS}/{name}.apigw.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{name} has no event at {path}: {e}"));
        let event: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            event["routeKey"],
            format!("{} {}", route.method(), route.path()),
            "{name}: the event's route key is its function's route"
        );
        let text = text
            .replace("vk_live_REPLACED_BY_TEST", &key)
            .replace("cn_REPLACED_BY_TEST", &concept_id);
        let request = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("{name}: not an API Gateway event: {e}"));
        let response = viral_api::router_for(state.clone(), &[route])
            .oneshot(request)
            .await
            .unwrap();
        let got = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        assert_eq!(got, status, "{name}: {json}");
        for f in fields {
            assert!(json.get(f).is_some(), "{name}: no `{f}` in {json}");
        }
    }
}
