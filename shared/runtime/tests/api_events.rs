//! The API Gateway (HTTP API, payload 2.0) events in `events/` fed to their functions'
//! handlers the way `lambda_http` does it, on the embedded store: each event's route key
//! matches its function's route, and the answer has the documented status and shape. The
//! events carry placeholders for what only exists at run time (`vk_live_REPLACED_BY_TEST`
//! for an API key, `cn_`, `cb_`, `tn_`, `job_` and `key_REPLACED_BY_TEST` for a concept,
//! concept batch, tenant, job and key id; the Stripe webhook's signature is made here with the test's signing secret).
//! The process is wired like `viral up`: the embedded store, the local workflow engine.

mod support;

use std::sync::Arc;

use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;
use viral_api::{BillingState, Route};
use viral_core::domain::Plan;
use viral_core::domain::stripe_webhook::{Prices, sign};
use viral_core::ports::{BillingError, BillingGateway, CheckoutRequest};
use viral_core::ports::{RuleWriter, SampleTrends};
use viral_core::service::billing::BillingSettings;
use viral_core::service::concepts::{self, ConceptRequest};
use viral_core::service::tenants;
use viral_embedded::EnvSecrets;
use viral_local::Process;
use viral_runtime::Config;

const EVENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../events");

/// Every API route, in an order where each finds what it needs (a job before reading it, a
/// key before revoking it), with the status and the fields its answer must have.
const ROUTES: [(Route, u16, &[&str]); 50] = [
    (Route::Healthz, 200, &["status"]),
    (Route::OpenApi, 200, &["openapi", "paths"]),
    (Route::GetMe, 200, &["tenant", "principal"]),
    (
        Route::CreateSession,
        201,
        &["token", "key_id", "tenant_id", "expires_at"],
    ),
    (Route::PutSettings, 200, &["narration"]),
    (Route::GetSettings, 200, &["narration"]),
    (Route::CreateApiKey, 201, &["id", "key", "scopes"]),
    (Route::ListApiKeys, 200, &["items", "next_cursor"]),
    (Route::RevokeApiKey, 204, &[]),
    (
        Route::GetUsage,
        200,
        &["period", "plan", "concepts", "videos", "resets_at"],
    ),
    (Route::ListProviders, 200, &["providers", "concepts"]),
    (
        Route::CreateConcepts,
        201,
        &["batch_id", "concepts", "trend_source", "writer"],
    ),
    (Route::ListConcepts, 200, &["items", "next_cursor"]),
    (
        Route::GetConcept,
        200,
        &["id", "hook", "beats", "visual_prompt"],
    ),
    (
        Route::GetConceptBatch,
        200,
        &["batch_id", "concepts", "trend_source", "writer"],
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
    (
        Route::EstimateVideo,
        200,
        &["allowed", "routing", "estimated_cost_cents", "budget_cents"],
    ),
    (Route::CreateVideo, 202, &["job_id", "status"]),
    (Route::GetVideo, 200, &["id", "status", "progress"]),
    (Route::ListVideos, 200, &["items", "next_cursor"]),
    (Route::GetVideoEvents, 200, &["history", "status"]),
    (Route::CreateCheckout, 200, &["url"]),
    (Route::CreatePortal, 200, &["url"]),
    (Route::StripeWebhook, 200, &["received", "result"]),
    (
        Route::GetBilling,
        200,
        &["plan", "status", "current_period_end"],
    ),
    (Route::ConnectAccount, 201, &["platform", "account"]),
    (Route::ListAccounts, 200, &["items"]),
    (
        Route::GetAccount,
        200,
        &["id", "status", "creator", "today"],
    ),
    (Route::OAuthCallback, 400, &[]),
    (Route::PublishVideo, 202, &["posts"]),
    (Route::ListPosts, 200, &["items", "next_cursor"]),
    (Route::GetPost, 200, &["id", "status", "not_before"]),
    (Route::CancelPost, 200, &["id", "status"]),
    (
        Route::GetPostMetrics,
        200,
        &["post_id", "observations", "next_at"],
    ),
    (
        Route::GetAnalytics,
        200,
        &["group_by", "groups", "posts", "calibration_error"],
    ),
    (Route::CreateWebhook, 201, &["id", "secret", "events"]),
    (Route::ListWebhooks, 200, &["items"]),
    (Route::GetWebhook, 200, &["id", "url", "events"]),
    (Route::ListWebhookDeliveries, 200, &["items", "next_cursor"]),
    (
        Route::RetryWebhookDelivery,
        202,
        &["id", "status", "next_at"],
    ),
    (Route::DeleteWebhook, 200, &["deleted"]),
    (
        Route::PutAutopilot,
        200,
        &["enabled", "targets", "run_hours", "daily_budget_usd"],
    ),
    (Route::GetAutopilot, 200, &["enabled", "timezone"]),
    (
        Route::PauseAutopilot,
        200,
        &["autopilot", "cancelled_posts", "stopped_runs"],
    ),
    (Route::ListAutopilotRuns, 200, &["items", "next_cursor"]),
    // No run has happened: a run id names nothing (their success is in the API tests).
    (Route::GetAutopilotRun, 404, &["error"]),
    (Route::ApproveAutopilotRun, 404, &["error"]),
    (Route::RejectAutopilotRun, 404, &["error"]),
    (
        Route::RemoveAccount,
        200,
        &["removed", "revoked_at_platform"],
    ),
];

const WEBHOOK_SECRET: &str = "whsec_events_test";

async fn wait_until_succeeded(store: &dyn viral_core::ports::ItemStore, tenant: &str, job: &str) {
    for _ in 0..600 {
        let status = viral_core::service::videos::get(store, tenant, job)
            .await
            .unwrap()
            .status;
        match status {
            viral_core::domain::JobStatus::Succeeded => return,
            viral_core::domain::JobStatus::Failed => panic!("the job failed"),
            _ => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
    panic!("the job did not finish in 60 s");
}

/// Stripe's side of checkout and portal (the Stripe client has its own tests against a
/// Stripe-speaking server).
struct Sessions;

#[async_trait::async_trait]
impl BillingGateway for Sessions {
    async fn create_customer(&self, _: &str, _: &str, _: &str) -> Result<String, BillingError> {
        Ok("cus_Events0001".into())
    }
    async fn create_checkout(&self, _: &CheckoutRequest, _: &str) -> Result<String, BillingError> {
        Ok("https://checkout.stripe.com/c/pay/cs_test_events".into())
    }
    async fn create_portal(&self, _: &str, _: &str) -> Result<String, BillingError> {
        Ok("https://billing.stripe.com/p/session/test_events".into())
    }
}

#[tokio::test]
async fn every_api_event_reaches_its_handler_and_gets_the_documented_answer() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap().to_owned();
    let config = Config::from_lookup(|k| match k {
        "VIRAL_DATA_DIR" => Some(data_dir.clone()),
        "VIRAL_RATE_LIMIT" => Some("1000/10s".into()),
        _ => None,
    })
    .unwrap();
    let services = Process::connect(config).await.unwrap();
    let pipeline = services.local_pipeline(0.05).unwrap();
    let (store, clock) = (services.store.clone(), services.clock.clone());
    let created = tenants::create_tenant(&*store, &*clock, "Events", Plan::Pro)
        .await
        .unwrap();
    let key = created.key.token.expose().to_owned();
    let batch = concepts::generate(
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
    .batch;
    let (batch_id, concept_id) = (batch.id.clone(), batch.concepts[0].id.clone());
    let template = support::template();
    let recording = Arc::new(support::Recording::new(store.clone()));
    let mut state = services.api_state().await.unwrap();
    state.store = recording.clone();
    pipeline.run_background();
    state.workflow = Some(pipeline.clone());
    state.billing = Some(BillingState {
        settings: BillingSettings {
            prices: Prices {
                starter: "price_1Starter49".into(),
                pro: "price_1Pro149".into(),
                agency: "price_1Agency499".into(),
            },
            success_url: "https://app.example/billing/done".into(),
            cancel_url: "https://app.example/billing".into(),
            portal_return_url: "https://app.example/billing".into(),
        },
        gateway: Some(Arc::new(Sessions)),
        secrets: Arc::new(EnvSecrets::from_map(
            [(
                "STRIPE_WEBHOOK_SECRET".to_owned(),
                WEBHOOK_SECRET.to_owned(),
            )]
            .into(),
        )),
    });

    assert_eq!(
        ROUTES.len(),
        Route::ALL.len(),
        "every route's function has its event"
    );
    let (mut job_id, mut key_id) = (String::new(), String::new());
    let (mut account_id, mut post_id) = (String::new(), String::new());
    let (mut webhook_id, mut delivery_id) = (String::new(), String::new());
    let tomorrow = clock
        .now()
        .plus(std::time::Duration::from_secs(86_400))
        .rfc3339();
    for (route, status, fields) in ROUTES {
        let name = route.function_name();
        recording.take();
        let path = format!("{EVENTS}/{name}.apigw.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{name} has no event at {path}: {e}"));
        let event: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            event["routeKey"],
            format!("{} {}", route.method(), route.path()),
            "{name}: the event's route key is its function's route"
        );
        let mut text = text
            .replace("vk_live_REPLACED_BY_TEST", &key)
            .replace("cn_REPLACED_BY_TEST", &concept_id)
            .replace("cb_REPLACED_BY_TEST", &batch_id)
            .replace("tn_REPLACED_BY_TEST", &created.tenant.id)
            .replace("job_REPLACED_BY_TEST", &job_id)
            .replace("key_REPLACED_BY_TEST", &key_id)
            .replace("acc_REPLACED_BY_TEST", &account_id)
            .replace("post_REPLACED_BY_TEST", &post_id)
            .replace("whd_REPLACED_BY_TEST", &delivery_id)
            .replace("wh_REPLACED_BY_TEST", &webhook_id)
            .replace("SCHEDULE_REPLACED_BY_TEST", &tomorrow);
        if route == Route::PublishVideo {
            // Only a finished video can be published: the pipeline makes it first.
            wait_until_succeeded(&*store, &created.tenant.id, &job_id).await;
        }
        if route == Route::StripeWebhook {
            let mut event: Value = serde_json::from_str(&text).unwrap();
            let body = event["body"].as_str().unwrap().to_owned();
            event["headers"]["stripe-signature"] =
                Value::from(sign(body.as_bytes(), WEBHOOK_SECRET, clock.now().secs()));
            text = event.to_string();
        }
        let request = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("{name}: not an API Gateway event: {e}"));
        let response = viral_api::router_for(state.clone(), &[route])
            .oneshot(request)
            .await
            .unwrap();
        let got = response.status().as_u16();
        // The partitions it touched are ones its role may touch.
        support::assert_allowed(&template, name, &recording.take());
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status == 204 {
            assert!(body.is_empty(), "{name}: 204 has no body");
        }
        assert_eq!(got, status, "{name}: {json}");
        for f in fields {
            assert!(json.get(f).is_some(), "{name}: no `{f}` in {json}");
        }
        // Ids later events need; the webhook subscribes the tenant to Pro, as billing says.
        match route {
            Route::CreateVideo => job_id = json["job_id"].as_str().unwrap().to_owned(),
            Route::CreateApiKey => key_id = json["id"].as_str().unwrap().to_owned(),
            Route::ConnectAccount => {
                account_id = json["account"]["id"].as_str().unwrap().to_owned();
                assert_eq!(json["account"]["sandbox"], true, "{json}");
            }
            Route::PublishVideo => {
                post_id = json["posts"][0]["id"].as_str().unwrap().to_owned();
                assert_eq!(json["posts"][0]["status"], "scheduled", "{json}");
            }
            Route::CancelPost => assert_eq!(json["status"], "cancelled", "{json}"),
            Route::CreateWebhook => {
                webhook_id = json["id"].as_str().unwrap().to_owned();
                assert!(json["secret"].as_str().unwrap().starts_with("whsec_"));
                // An event for it, so the delivery routes have one to show and retry.
                let t = &created.tenant.id;
                viral_core::service::webhooks::emit(
                    &*store,
                    &*clock,
                    t,
                    "video.succeeded",
                    serde_json::json!({"video_id": job_id}),
                )
                .await;
                let (ds, _) =
                    viral_core::service::webhooks::deliveries(&*store, t, &webhook_id, 10, None)
                        .await
                        .unwrap();
                delivery_id = ds[0].id.clone();
            }
            Route::StripeWebhook => assert_eq!(json["result"], "applied", "{json}"),
            Route::GetBilling => {
                assert_eq!(
                    (&json["plan"], &json["status"]),
                    (&Value::from("pro"), &Value::from("active"))
                )
            }
            _ => {}
        }
    }
}
