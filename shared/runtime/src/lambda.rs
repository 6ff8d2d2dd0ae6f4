//! Lambda entry points: a function's `main` calls one of these and nothing else.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use viral_api::{Route, RouteEntry};
use viral_aws::{DynamoItemStore, LambdaEnv, S3BlobStore, SecretsManagerSecrets, SfnWorkflow};
use viral_core::ports::{BlobStore, CachedSecrets, ItemStore, Secrets};
use viral_core::{Clock, SystemClock};
use viral_providers::Registry;
use viral_steps::steps::SubmitLimits;
use viral_steps::worker::{Handled, handle_message};
use viral_steps::{Deps, ProviderNeeds, StepEntry};

pub use lambda_http::Error;

use crate::config::{Backend, Config, ConfigError};
use crate::provider_config::ProviderConfig;
use crate::services::{StartError, api_state};

/// Configuration for a Lambda: always the AWS backend. Lambdas never link the embedded
/// adapters, which keeps SQLite out of their binaries.
fn lambda_config() -> Result<(Config, String), ConfigError> {
    let config = Config::from_env()?;
    if config.backend != Backend::Aws {
        return Err(ConfigError {
            var: "VIRAL_BACKEND",
            problem: "Lambda functions run with VIRAL_BACKEND=aws".into(),
        });
    }
    let table = config.table.clone().ok_or(ConfigError {
        var: "VIRAL_TABLE",
        problem: "required when VIRAL_BACKEND=aws".into(),
    })?;
    Ok((config, table))
}

/// Serves one API route behind API Gateway (HTTP API, payload v2). Builds config, the item
/// store and the JWT verifier once per cold start; no network calls happen here. `entry` is
/// the route's, evaluated at compile time (`const { Route::GetMe.entry() }`): the binary
/// links that route's handler and no other's.
pub async fn serve_route(entry: RouteEntry) -> Result<(), Error> {
    let (_, _, state) = route_state().await?;
    serve_router(viral_api::router_for_entry(state, entry)).await
}

/// Serves a video route that starts or reads executions (`POST /v1/videos`, `GET
/// /v1/videos/{id}/events`): as [`serve_route`], plus the Step Functions client. A separate
/// entry point so that the other API functions do not carry that client.
pub async fn serve_workflow_route(entry: RouteEntry) -> Result<(), Error> {
    let (config, sdk, mut state) = route_state().await?;
    if let Some(arn) = &config.state_machine_arn {
        state.workflow = Some(Arc::new(SfnWorkflow::from_conf(&sdk, arn)));
    }
    serve_router(viral_api::router_for_entry(state, entry)).await
}

/// Serves a video route that shows finished videos (`GET /v1/videos`, `GET /v1/videos/{id}`):
/// as [`serve_route`], plus the media store that signs their URLs (S3, or CloudFront when
/// configured). A separate entry point so that the other API functions do not carry S3.
pub async fn serve_media_route(entry: RouteEntry) -> Result<(), Error> {
    let (config, sdk, mut state) = route_state().await?;
    if let Some(bucket) = &config.bucket {
        let secrets = lambda_secrets(&config, &sdk);
        let media = crate::services::media_store(&config, &sdk, bucket, false, secrets);
        state.media = Some(Arc::new(media));
        state.media_url_ttl = config.media_url_ttl;
    }
    serve_router(viral_api::router_for_entry(state, entry)).await
}

/// Serves `POST /v1/concepts`: as [`serve_route`], plus the trend sources and the concept
/// writer (keys from Secrets Manager on first use, trends cached in the table).
pub async fn serve_concepts_route(entry: RouteEntry) -> Result<(), Error> {
    let (config, sdk, mut state) = route_state().await?;
    let secrets = lambda_secrets(&config, &sdk);
    state.trends = crate::sources::trend_source(
        &config.sources,
        secrets.clone(),
        state.store.clone(),
        state.clock.clone(),
    )?;
    state.writer = crate::sources::concept_writer(&config.sources, secrets)?;
    serve_router(viral_api::router_for_entry(state, entry)).await
}

/// Serves `PUT /v1/autopilot` and `POST /v1/autopilot/pause`: as [`serve_social_route`] (the
/// pause cancels scheduled posts), plus the EventBridge Scheduler client that keeps each
/// enabled tenant's schedule.
pub async fn serve_autopilot_route(entry: RouteEntry) -> Result<(), Error> {
    let (config, sdk, mut state) = route_state().await?;
    if let (Some(machine), Some(role)) = (
        &config.autopilot_state_machine_arn,
        &config.autopilot_scheduler_role_arn,
    ) {
        state.autopilot_schedules = Some(Arc::new(viral_aws::EventBridgeSchedules::from_conf(
            &sdk, machine, role,
        )));
    }
    serve_router(viral_api::router_for_entry(state, entry)).await
}

/// Serves `POST /v1/billing/checkout` or `/portal`: as [`serve_route`], plus Stripe's
/// settings, the Secrets Manager client and the Stripe client. Without Stripe prices
/// configured the routes answer `billing_not_configured`. Only with the `stripe` feature:
/// the functions that call Stripe turn it on.
#[cfg(feature = "stripe")]
pub async fn serve_billing_route(entry: RouteEntry) -> Result<(), Error> {
    let (config, sdk, mut state) = route_state().await?;
    if let Some(billing) = &config.billing {
        let secrets = lambda_secrets(&config, &sdk);
        state.billing = Some(crate::services::billing_state(billing, secrets));
    }
    serve_router(viral_api::router_for_entry(state, entry)).await
}

/// Serves Stripe's webhook (`Route::StripeWebhook`): Stripe's settings and the Secrets
/// Manager client (the signing secret), and no Stripe client — so this function does not
/// carry one.
pub async fn serve_stripe_webhook(entry: RouteEntry) -> Result<(), Error> {
    let (config, sdk, mut state) = route_state().await?;
    if let Some(billing) = &config.billing {
        state.billing = Some(viral_api::BillingState {
            settings: billing.settings.clone(),
            gateway: None,
            secrets: lambda_secrets(&config, &sdk),
        });
    }
    serve_router(viral_api::router_for_entry(state, entry)).await
}

/// Serves an account or post route: as [`serve_route`], plus the KMS vault that seals
/// tokens, the platforms' clients (keys from Secrets Manager on first use) and, for
/// `POST /v1/videos/{id}/publish`, the Step Functions client that starts posts. Without
/// `VIRAL_KMS_KEY_ID` the routes answer `publishing_not_configured`.
pub async fn serve_social_route(entry: RouteEntry) -> Result<(), Error> {
    let (config, sdk, mut state) = route_state().await?;
    if let Some(vault) = lambda_vault(&config, &sdk) {
        state.social = Some(viral_api::SocialState {
            vault,
            publishers: crate::social::publishers(&config, lambda_secrets(&config, &sdk)),
            limits: Default::default(),
            public_url: config.public_url.clone(),
            return_origins: Vec::new(),
        });
    }
    if matches!(
        entry.route,
        Route::PublishVideo | Route::ApproveAutopilotRun
    ) && let (Some(arn), Some(publish)) =
        (&config.state_machine_arn, &config.publish_state_machine_arn)
    {
        state.workflow = Some(Arc::new(
            SfnWorkflow::from_conf(&sdk, arn).with_publish(publish),
        ));
    }
    serve_router(viral_api::router_for_entry(state, entry)).await
}

fn lambda_vault(
    config: &Config,
    sdk: &viral_aws::SdkConfig,
) -> Option<Arc<dyn viral_core::ports::TokenVault>> {
    config
        .kms_key_id
        .as_deref()
        .map(|k| Arc::new(viral_aws::KmsTokenVault::from_conf(sdk, k)) as _)
}

fn lambda_secrets(config: &Config, sdk: &viral_aws::SdkConfig) -> Arc<dyn Secrets> {
    Arc::new(CachedSecrets::new(
        SecretsManagerSecrets::from_conf(sdk, &config.secrets_prefix),
        Arc::new(SystemClock),
        Duration::from_secs(300),
    ))
}

/// Runs the router behind API Gateway, marking each invocation for the logs (request id,
/// X-Ray trace id, cold start).
async fn serve_router(router: axum::Router) -> Result<(), Error> {
    lambda_http::run(lambda_http::service_fn(move |req: lambda_http::Request| {
        if let Some(ctx) = lambda_http::RequestExt::lambda_context_ref(&req) {
            crate::telemetry::begin_invocation(&ctx.request_id, ctx.xray_trace_id.as_deref());
        }
        tower::ServiceExt::oneshot(router.clone(), req)
    }))
    .await
}

fn mark<T>(event: &LambdaEvent<T>) {
    crate::telemetry::begin_invocation(
        &event.context.request_id,
        event.context.xray_trace_id.as_deref(),
    );
}

async fn route_state() -> Result<(Config, viral_aws::SdkConfig, viral_api::AppState), Error> {
    crate::telemetry::init();
    let (config, table) = lambda_config().map_err(|e| {
        tracing::error!(error = %e, "bad configuration");
        e
    })?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let sdk = lambda_sdk()?;
    let store: Arc<dyn ItemStore> = Arc::new(DynamoItemStore::from_conf(&sdk, &table));
    let state = api_state(&config, store, clock).await?;
    Ok((config, sdk, state))
}

/// The one SDK configuration of the process: every client built from it shares one HTTPS
/// client, so one TLS configuration and one connection pool.
fn lambda_sdk() -> Result<viral_aws::SdkConfig, Error> {
    let env = LambdaEnv::from_env().map_err(|e| {
        tracing::error!(error = %e, "no AWS environment");
        Error::from(e)
    })?;
    Ok(env.sdk_config())
}

/// Builds the providers a pipeline function needs from the configuration.
type ProvidersFn = fn(
    &ProviderConfig,
    Arc<dyn Secrets>,
    Arc<dyn BlobStore>,
    &viral_aws::SdkConfig,
) -> Result<Registry, StartError>;

fn no_providers(
    _: &ProviderConfig,
    _: Arc<dyn Secrets>,
    _: Arc<dyn BlobStore>,
    _: &viral_aws::SdkConfig,
) -> Result<Registry, StartError> {
    Ok(Registry::default())
}

fn provider_profiles(
    config: &ProviderConfig,
    _: Arc<dyn Secrets>,
    _: Arc<dyn BlobStore>,
    _: &viral_aws::SdkConfig,
) -> Result<Registry, StartError> {
    Ok(Registry::profiles_only(crate::providers::profiles(config)))
}

/// What the pipeline's functions share: DynamoDB, S3, and the providers `providers` builds.
fn pipeline_deps(
    config: &Config,
    table: &str,
    sdk: &viral_aws::SdkConfig,
    providers: ProvidersFn,
) -> Result<Deps, Error> {
    let bucket = config.bucket.as_deref().ok_or_else(|| {
        Error::from(ConfigError {
            var: "VIRAL_BUCKET",
            problem: "required by the pipeline's functions".into(),
        })
    })?;
    let blobs: Arc<dyn BlobStore> = Arc::new(S3BlobStore::from_conf(sdk, bucket, false));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    // Provider keys come from Secrets Manager on first use (cached), not at init.
    let secrets: Arc<dyn Secrets> = Arc::new(CachedSecrets::new(
        SecretsManagerSecrets::from_conf(sdk, &config.secrets_prefix),
        clock.clone(),
        Duration::from_secs(300),
    ));
    let providers = providers(&config.providers, secrets, blobs.clone(), sdk)
        .map_err(|e| Error::from(e.to_string()))?;
    Ok(Deps {
        store: Arc::new(DynamoItemStore::from_conf(sdk, table)),
        providers,
        blobs,
        clock,
        social: viral_steps::Social::default(),
        provider_captions: config.providers.provider_captions,
        // No offline voice runs in a Lambda, and a paid one is not called at the join.
        narrator: None,
    })
}

/// Runs one workflow step as a Lambda Task. A failure's `errorType` is the step error's name,
/// which is what the definition's Retry and Catch match. `step` is the function's own entry
/// point, a constant: inlined into `main`, the choice below folds away, so the binary links
/// no other step's code and no provider client the step does not call.
#[inline(always)]
pub fn serve_step(step: StepEntry) -> impl Future<Output = Result<(), Error>> {
    let providers: ProvidersFn = match step.needs {
        ProviderNeeds::Nothing => no_providers,
        ProviderNeeds::Profiles => provider_profiles,
    };
    serve_step_with(step, providers)
}

async fn serve_step_with(step: StepEntry, providers: ProvidersFn) -> Result<(), Error> {
    crate::telemetry::init();
    let (config, table) = lambda_config()?;
    let sdk = lambda_sdk()?;
    let mut deps = pipeline_deps(&config, &table, &sdk, providers)?;
    if step.step.publishes() {
        deps.social = viral_steps::Social {
            publishers: crate::social::publishers(&config, lambda_secrets(&config, &sdk)),
            vault: lambda_vault(&config, &sdk),
            limits: Default::default(),
        };
    }
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        mark(&event);
        step.run(deps, event.payload).await.map_err(|e| Diagnostic {
            error_type: e.name,
            error_message: e.cause,
        })
    }))
    .await
}

/// The provider worker: an SQS batch from a provider's queue (clips to submit) or the
/// render-poll queue (submitted clips to follow). Each is handled on its own; only the ones whose answer could not reach Step
/// Functions are reported as failures, so SQS delivers just those again
/// (`ReportBatchItemFailures`).
pub async fn serve_provider_worker() -> Result<(), Error> {
    crate::telemetry::init();
    let (config, table) = lambda_config()?;
    let sdk = lambda_sdk()?;
    let deps = pipeline_deps(&config, &table, &sdk, crate::providers::registry_on_aws)?;
    let required = |var: &'static str| ConfigError {
        var,
        problem: "required by the provider worker".into(),
    };
    let arn =
        (config.state_machine_arn.clone()).ok_or_else(|| required("VIRAL_STATE_MACHINE_ARN"))?;
    let polls = (config.render_poll_queue_url.clone())
        .ok_or_else(|| required("VIRAL_RENDER_POLL_QUEUE_URL"))?;
    let callbacks = SfnWorkflow::from_conf(&sdk, &arn);
    let polls = viral_aws::SqsQueue::from_conf(&sdk, &polls);
    let (deps, callbacks, polls) = (&deps, &callbacks, &polls);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        mark(&event);
        Ok::<_, Diagnostic>(handle_batch(deps, callbacks, polls, event.payload).await)
    }))
    .await
}

/// Handles a batch; the response lists the messages to deliver again.
pub async fn handle_batch(
    deps: &Deps,
    callbacks: &dyn viral_core::ports::TaskCallbacks,
    polls: &dyn viral_core::ports::Queue,
    event: SqsEvent,
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let Some(id) = record.message_id.clone().filter(|id| !id.is_empty()) else {
            continue;
        };
        let body = record.body.as_deref().unwrap_or_default();
        // Lambda's own timeout bounds the whole batch; each submit gets most of it.
        let limits = SubmitLimits {
            provider_timeout: Duration::from_secs(240),
            lease: Duration::from_secs(30),
            wait_scale: 1.0,
        };
        let handled = handle_message(deps, callbacks, polls, body, &limits).await;
        if matches!(handled, Handled::Retry | Handled::Busy) {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}

/// How long after acceptance an open job counts as stuck: the workflow's own timeout plus a
/// margin for its last step to report.
pub use viral_steps::STUCK_AFTER;

/// What the scheduled functions that open sealed secrets share: telemetry, configuration, the
/// table and the token vault (`VIRAL_KMS_KEY_ID` is required, named after `who`).
fn scheduled_with_vault(
    who: &str,
) -> Result<
    (
        Config,
        viral_aws::SdkConfig,
        DynamoItemStore,
        Arc<dyn viral_core::ports::TokenVault>,
    ),
    Error,
> {
    crate::telemetry::init();
    let (config, table) = lambda_config()?;
    let sdk = lambda_sdk()?;
    let store = DynamoItemStore::from_conf(&sdk, &table);
    let vault = lambda_vault(&config, &sdk).ok_or_else(|| {
        Error::from(ConfigError {
            var: "VIRAL_KMS_KEY_ID",
            problem: format!("required by the {who}"),
        })
    })?;
    Ok((config, sdk, store, vault))
}

/// The scheduled token keeper (EventBridge): refreshes connected accounts whose grants would
/// otherwise die unused (see `Account::keep_alive_due`).
pub async fn serve_token_keeper() -> Result<(), Error> {
    let (config, sdk, store, vault) = scheduled_with_vault("token keeper")?;
    let publishers = crate::social::publishers(&config, lambda_secrets(&config, &sdk));
    let clock = SystemClock;
    let (store, vault, clock, publishers) = (&store, &*vault, &clock, &publishers);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        mark(&event);
        keep_alive(store, vault, clock, publishers, &event.payload).await
    }))
    .await
}

/// One token-keeper pass, for the scheduled event: how many grants it refreshed, how many
/// now need reconnecting, and how many failed for now.
pub async fn keep_alive(
    store: &dyn ItemStore,
    vault: &dyn viral_core::ports::TokenVault,
    clock: &dyn Clock,
    publishers: &viral_core::ports::Publishers,
    event: &Value,
) -> Result<Value, Diagnostic> {
    tracing::info!(
        time = event["time"].as_str().unwrap_or("?"),
        "token keeper pass"
    );
    let done = viral_core::service::accounts::keep_alive(store, vault, clock, publishers)
        .await
        .map_err(|e| Diagnostic {
            error_type: "KeepAlive.Failed".into(),
            error_message: e.to_string(),
        })?;
    Ok(serde_json::to_value(done).unwrap_or_default())
}

/// The autopilot workflow's step (`statemachines/autopilot.asl.json`, started by the tenant's
/// EventBridge schedule): one tick of the tenant's autopilot — a due run started, runs under
/// way moved on. Answers `{"tenant_id", "open"}`; the workflow ticks again while `open > 0`.
pub async fn serve_autopilot_tick() -> Result<(), Error> {
    crate::telemetry::init();
    let (config, table) = lambda_config()?;
    let sdk = lambda_sdk()?;
    let required = |v: &Option<String>, var: &'static str| {
        v.clone().ok_or_else(|| {
            Error::from(ConfigError {
                var,
                problem: "required by the autopilot tick".into(),
            })
        })
    };
    let video = required(&config.state_machine_arn, "VIRAL_STATE_MACHINE_ARN")?;
    let publish = required(
        &config.publish_state_machine_arn,
        "VIRAL_PUBLISH_STATE_MACHINE_ARN",
    )?;
    let store: Arc<dyn ItemStore> = Arc::new(DynamoItemStore::from_conf(&sdk, &table));
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let secrets = lambda_secrets(&config, &sdk);
    let trends = crate::sources::trend_source(
        &config.sources,
        secrets.clone(),
        store.clone(),
        clock.clone(),
    )?;
    let writer = crate::sources::concept_writer(&config.sources, secrets.clone())?;
    let workflow = SfnWorkflow::from_conf(&sdk, &video).with_publish(&publish);
    let profiles = crate::providers::profiles(&config.providers);
    let platforms = crate::social::publishers(&config, secrets).platforms();
    let runner = viral_core::service::autopilot::Runner {
        store: &*store,
        clock: &*clock,
        trends: &*trends,
        writer: &*writer,
        workflow: &workflow,
        profiles: &profiles,
        platforms: &platforms,
        picker: viral_core::domain::autopilot::Picker::Thompson,
        seed: None,
        dashboard_url: &config.public_url,
    };
    let runner = &runner;
    let schedules = viral_aws::EventBridgeSchedules::remover(&sdk);
    let schedules = &schedules;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        mark(&event);
        let answer = autopilot_tick(runner, &event.payload).await?;
        // Paused with nothing left under way: the tenant's schedule goes (it costs nothing).
        if answer["enabled"] == false
            && answer["open"] == 0
            && let Some(t) = answer["tenant_id"].as_str()
            && let Err(e) = viral_core::ports::AutopilotSchedules::remove(schedules, t).await
        {
            tracing::warn!(tenant_id = t, error = %e, "the paused tenant's schedule was not removed");
        }
        Ok::<Value, Diagnostic>(answer)
    }))
    .await
}

/// One autopilot tick for the tenant the event names.
pub async fn autopilot_tick(
    runner: &viral_core::service::autopilot::Runner<'_>,
    event: &Value,
) -> Result<Value, Diagnostic> {
    let tenant_id = event["tenant_id"]
        .as_str()
        .filter(|t| viral_core::ids::is_valid_id("tn", t))
        .ok_or_else(|| Diagnostic {
            error_type: "Autopilot.BadInput".into(),
            error_message: "the event names no tenant (`tenant_id`)".into(),
        })?;
    let ticked = runner.tick(tenant_id).await.map_err(|e| Diagnostic {
        error_type: "Autopilot.TickFailed".into(),
        error_message: e.to_string(),
    })?;
    tracing::info!(
        tenant_id,
        started = ticked.started.as_ref().map(|r| r.id.as_str()),
        advanced = ticked.advanced,
        open = ticked.open,
        "autopilot tick"
    );
    Ok(serde_json::json!({
        "tenant_id": tenant_id,
        "started": ticked.started.map(|r| r.id),
        "open": ticked.open,
        "enabled": ticked.enabled,
    }))
}

/// The scheduled metrics collector (EventBridge, every 15 minutes): fetches published posts'
/// numbers on their cadence, teaches the learner, and folds the tenants' new evidence into the
/// platform-wide prior.
pub async fn serve_metrics_collector() -> Result<(), Error> {
    let (config, sdk, store, vault) = scheduled_with_vault("metrics collector")?;
    let publishers = crate::social::publishers(&config, lambda_secrets(&config, &sdk));
    let clock = SystemClock;
    let (store, vault, clock, publishers) = (&store, &*vault, &clock, &publishers);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        mark(&event);
        collect_metrics(store, vault, clock, publishers, &event.payload).await
    }))
    .await
}

/// One collector pass, for the scheduled event: what was due, observed, learned and folded.
pub async fn collect_metrics(
    store: &dyn ItemStore,
    vault: &dyn viral_core::ports::TokenVault,
    clock: &dyn Clock,
    publishers: &viral_core::ports::Publishers,
    event: &Value,
) -> Result<Value, Diagnostic> {
    tracing::info!(
        time = event["time"].as_str().unwrap_or("?"),
        "metrics collector pass"
    );
    let collector = viral_core::service::collector::Collector {
        store,
        vault,
        clock,
        publishers,
    };
    let pass = collector.pass().await.map_err(|e| Diagnostic {
        error_type: "CollectMetrics.Failed".into(),
        error_message: e.to_string(),
    })?;
    Ok(serde_json::to_value(pass).unwrap_or_default())
}

/// The scheduled webhook dispatcher (EventBridge, every minute): sends tenants' due webhook
/// deliveries, signed, through the address guard; retries and dead-letters by their schedule.
pub async fn serve_webhook_dispatcher() -> Result<(), Error> {
    let (config, _, store, vault) = scheduled_with_vault("webhook dispatcher")?;
    // Loopback endpoints are a local-development switch; the configuration refuses it on AWS.
    let sender = viral_providers::GuardedWebhookSender::new(config.providers.allow_loopback);
    let clock = SystemClock;
    let (store, vault, clock, sender) = (&store, &*vault, &clock, &sender);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        mark(&event);
        dispatch_webhooks(store, vault, clock, sender, &event.payload).await
    }))
    .await
}

/// One dispatcher pass, for the scheduled event: deliveries delivered, retrying, dead.
pub async fn dispatch_webhooks(
    store: &dyn ItemStore,
    vault: &dyn viral_core::ports::TokenVault,
    clock: &dyn Clock,
    sender: &dyn viral_core::ports::WebhookSender,
    event: &Value,
) -> Result<Value, Diagnostic> {
    tracing::debug!(
        time = event["time"].as_str().unwrap_or("?"),
        "webhook dispatcher pass"
    );
    let dispatcher = viral_core::service::webhooks::Dispatcher {
        store,
        vault,
        clock,
        sender,
    };
    let done = dispatcher
        .dispatch(WEBHOOKS_PER_PASS)
        .await
        .map_err(|e| Diagnostic {
            error_type: "DispatchWebhooks.Failed".into(),
            error_message: e.to_string(),
        })?;
    Ok(serde_json::to_value(done).unwrap_or_default())
}

/// Deliveries one dispatcher pass takes at most (8 at a time, each at most 10 s).
pub const WEBHOOKS_PER_PASS: usize = 200;

/// The scheduled reconciler (EventBridge): ends jobs still open past `STUCK_AFTER` — their
/// execution timed out, was aborted, or never started — as failed and refunded once. Catch
/// states do not run when an execution itself times out, so this is what refunds those.
pub async fn serve_reconciler() -> Result<(), Error> {
    crate::telemetry::init();
    let (config, table) = lambda_config()?;
    let sdk = lambda_sdk()?;
    let store = DynamoItemStore::from_conf(&sdk, &table);
    let clock = SystemClock;
    // Posts whose start was lost are started again (executions are named after posts).
    let workflow = config.publish_state_machine_arn.as_deref().map(|arn| {
        SfnWorkflow::from_conf(
            &sdk,
            config.state_machine_arn.as_deref().unwrap_or_default(),
        )
        .with_publish(arn)
    });
    let (store, clock, workflow) = (&store, &clock, workflow.as_ref());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        mark(&event);
        reconcile(
            store,
            clock,
            workflow.map(|w| w as &dyn viral_core::ports::Workflow),
            &event.payload,
        )
        .await
    }))
    .await
}

/// One reconciler pass, for the scheduled event (EventBridge `Scheduled Event`; its content
/// does not matter): how many jobs it ended, and how many it could not end this time.
pub async fn reconcile(
    store: &dyn ItemStore,
    clock: &dyn Clock,
    workflow: Option<&dyn viral_core::ports::Workflow>,
    event: &Value,
) -> Result<Value, Diagnostic> {
    tracing::info!(
        time = event["time"].as_str().unwrap_or("?"),
        "reconciler pass"
    );
    let done = viral_core::service::videos::reconcile(store, clock, STUCK_AFTER)
        .await
        .map_err(|e| Diagnostic {
            error_type: "Reconcile.Failed".into(),
            error_message: e.to_string(),
        })?;
    for e in &done.errors {
        tracing::warn!(error = %e, "reconciler could not end a job");
    }
    let posts = viral_core::service::publishing::end_stuck(
        store,
        clock,
        &Default::default(),
        viral_core::service::publishing::STUCK_POST_AFTER,
    )
    .await
    .map_err(|e| Diagnostic {
        error_type: "Reconcile.Failed".into(),
        error_message: e.to_string(),
    })?;
    let restarted = match workflow {
        Some(w) => viral_core::service::publishing::start_recent(store, clock, w)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "could not look for posts whose start was lost");
                0
            }),
        None => 0,
    };
    Ok(serde_json::json!({
        "ended": done.ended.len(),
        "errors": done.errors.len(),
        "posts_ended": posts.ended,
        "post_errors": posts.errors,
        "posts_started": restarted,
    }))
}
