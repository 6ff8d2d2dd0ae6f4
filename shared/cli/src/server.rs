//! `viral up`: every API route plus the signed media route, on loopback by default.

use crate::failure::Failure;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use viral_api::byte_range::ByteRange;
use viral_api::{ApiError, Route};
use viral_embedded::FsBlobStore;
use viral_embedded::fs_blobs::SignatureError;
use viral_local::Process;
use viral_runtime::Config;

pub async fn up(mut config: Config, host: IpAddr, port: u16) -> Result<ExitCode, Failure> {
    if std::env::var_os("VIRAL_PUBLIC_URL").is_none() {
        config.public_url = format!("http://{}", SocketAddr::new(host, port));
    }
    let services = Process::connect(config).await?;
    let mut state = services.api_state().await?;
    let mut pipeline = None;
    if services.local_media.is_some() {
        // The workers, the inbox of other processes' answers, and the sweeper that resumes
        // executions stopped processes left and ends overdue jobs.
        let p = services.local_pipeline(1.0)?;
        p.run_background();
        state.workflow = Some(p.clone());
        pipeline = Some(p);
    }
    // The local scheduler's other tasks, every 15 minutes: keeping connected accounts' grants
    // alive, and collecting published posts' metrics for the learner (scheduled posts wait in
    // the publish workflow itself).
    let keeper = services.vault.clone().map(|vault| {
        let (store, clock, publishers) = (
            services.store.clone(),
            services.clock.clone(),
            services.publishers(),
        );
        tokio::spawn(async move {
            loop {
                match viral_core::service::accounts::keep_alive(
                    &*store,
                    &*vault,
                    &*clock,
                    &publishers,
                )
                .await
                {
                    Ok(k) if k.refreshed + k.needs_reconnect + k.errors > 0 => {
                        tracing::info!(
                            refreshed = k.refreshed,
                            needs_reconnect = k.needs_reconnect,
                            errors = k.errors,
                            "kept connected accounts alive"
                        );
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not keep connected accounts alive"),
                }
                // The metrics collector: published posts' numbers, and the learner fed.
                let collector = viral_core::service::collector::Collector {
                    store: &*store,
                    vault: &*vault,
                    clock: &*clock,
                    publishers: &publishers,
                };
                match collector.pass().await {
                    Ok(p) if p.collected.due + p.folded.tenants > 0 => tracing::info!(
                        due = p.collected.due,
                        observed = p.collected.observed,
                        learned = p.collected.learned,
                        folded = p.folded.tenants,
                        "collected post metrics"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not collect post metrics"),
                }
                tokio::time::sleep(KEEP_ALIVE_EVERY).await;
            }
        })
    });
    // The webhook dispatcher: tenants' due deliveries every few seconds.
    let dispatcher = services.vault.clone().map(|vault| {
        let (store, clock) = (services.store.clone(), services.clock.clone());
        let sender =
            viral_providers::GuardedWebhookSender::new(services.config.providers.allow_loopback);
        tokio::spawn(async move {
            loop {
                let d = viral_core::service::webhooks::Dispatcher {
                    store: &*store,
                    vault: &*vault,
                    clock: &*clock,
                    sender: &sender,
                };
                match d.dispatch(viral_runtime::lambda::WEBHOOKS_PER_PASS).await {
                    Ok(x) if x.delivered + x.retrying + x.dead > 0 => tracing::info!(
                        delivered = x.delivered,
                        retrying = x.retrying,
                        dead = x.dead,
                        "sent webhook deliveries"
                    ),
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "could not send webhook deliveries"),
                }
                tokio::time::sleep(WEBHOOKS_EVERY).await;
            }
        })
    });
    // Autopilot: every enabled tenant's due runs, and the runs under way moved on.
    let autopilot = pipeline.clone().map(|p| {
        let (store, clock) = (services.store.clone(), services.clock.clone());
        let (trends, writer) = (state.trends.clone(), state.writer.clone());
        let platforms = services.publishers().platforms();
        let every = services.config.autopilot_every;
        let public_url = services.config.public_url.clone();
        tokio::spawn(async move {
            let profiles = p.profiles();
            loop {
                let runner = viral_core::service::autopilot::Runner {
                    store: &*store,
                    clock: &*clock,
                    trends: &*trends,
                    writer: &*writer,
                    workflow: &*p,
                    profiles: &profiles,
                    platforms: &platforms,
                    picker: viral_core::domain::autopilot::Picker::Thompson,
                    seed: None,
                    dashboard_url: &public_url,
                };
                if let Err(e) = runner.tick_all().await {
                    tracing::warn!(error = %e, "autopilot could not run");
                }
                tokio::time::sleep(every).await;
            }
        })
    });
    let mut dashboard = viral_web::ClientConfig::local();
    dashboard.oidc = services
        .config
        .dashboard_oidc
        .as_ref()
        .map(|o| viral_web::Oidc {
            authorization_endpoint: o.authorize_url.clone(),
            token_endpoint: o.token_url.clone(),
            client_id: o.client_id.clone(),
            scope: o.scope.clone(),
            token: o.token.clone(),
        });
    let mut extra = viral_web::router(&dashboard, &media_origins(&services.config));
    if let Some(media) = &services.local_media {
        extra = extra.merge(
            Router::new()
                .route("/media/{*key}", get(serve_media))
                .with_state(media.clone()),
        );
    }
    let app = viral_api::router_with(state, &Route::ALL, extra);
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(host, port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    let addr = listener.local_addr()?;
    let cmd = crate::invocation::command();
    eprintln!(
        "viral: serving on http://{addr} ({:?} backend, data in {})",
        services.config.backend,
        services.config.data_dir.display(),
    );
    // The sign-in link is for the local owner; a server on AWS tables creates no tenant.
    if services.config.backend == viral_runtime::Backend::Local {
        let tenant = crate::video::tenant_of(&services, None).await?;
        let link = crate::dashboard::sign_in_link(&services, &tenant.id).await?;
        eprintln!(
            "viral: open the dashboard, signed in as {:?} (the link works once, within 24 h):\n\n  {link}\n\n\
             viral: a new link: `{cmd} dashboard`",
            tenant.name
        );
    }
    eprintln!(
        "viral: for the API, create a tenant with `{cmd} tenant create --name \"My team\"`, then\n\
         viral:   curl -H \"Authorization: Bearer <key>\" http://{addr}/v1/me"
    );
    let timeouts = crate::connections::Timeouts {
        header_read: services.config.header_read_timeout,
        body_read: services.config.body_read_timeout,
        ..Default::default()
    };
    crate::connections::serve(listener, app, timeouts, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await;
    for task in [keeper, dispatcher, autopilot].into_iter().flatten() {
        task.abort();
    }
    if let Some(p) = pipeline {
        eprintln!("viral: finishing provider calls in hand and handing running jobs back");
        p.shutdown().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// How often `viral up` refreshes connected accounts whose grants are due (AWS: hourly).
const KEEP_ALIVE_EVERY: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// How often `viral up` sends due webhook deliveries.
const WEBHOOKS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Where video URLs point when this server does not serve them itself (the AWS backend): the
/// CDN, or S3's presigned URLs (on AWS, or the emulator `AWS_ENDPOINT_URL` names).
fn media_origins(config: &viral_runtime::Config) -> Vec<String> {
    if config.backend == viral_runtime::Backend::Local {
        return Vec::new();
    }
    if let Some(cdn) = &config.cdn {
        let host = cdn
            .domain
            .trim_start_matches("https://")
            .trim_end_matches('/');
        return vec![format!("https://{host}")];
    }
    let mut out = vec!["https://*.amazonaws.com".to_owned()];
    if let Some(endpoint) = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .and_then(|u| viral_web::origin_of(&u))
    {
        out.push(endpoint);
    }
    out
}

/// Serves a blob behind a signed, unexpired URL: whole, or the one byte range a player asks
/// for (`206`, which players need to start and seek), cached no longer than the URL lives.
/// `HEAD` is answered by the same route without the body.
async fn serve_media(
    State(media): State<FsBlobStore>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    match media.open_signed(&key, query.as_deref()).await {
        Ok(Some(blob)) => {
            let len = blob.bytes.len() as u64;
            let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
            let common = [
                (header::CONTENT_TYPE, blob.meta.content_type),
                (header::ACCEPT_RANGES, "bytes".to_owned()),
                (
                    header::CACHE_CONTROL,
                    format!("private, max-age={}", blob.expires_in_s.min(300)),
                ),
            ];
            match ByteRange::of(range, len) {
                ByteRange::Full => (common, Body::from(blob.bytes)).into_response(),
                ByteRange::Part { start, end } => {
                    let part = blob
                        .bytes
                        .get(start as usize..=end as usize)
                        .map(<[u8]>::to_vec)
                        .unwrap_or_default();
                    (
                        StatusCode::PARTIAL_CONTENT,
                        common,
                        [(header::CONTENT_RANGE, format!("bytes {start}-{end}/{len}"))],
                        Body::from(part),
                    )
                        .into_response()
                }
                ByteRange::Unsatisfiable => {
                    let mut r = ApiError::new(
                        StatusCode::RANGE_NOT_SATISFIABLE,
                        "range_not_satisfiable",
                        format!("the range asked for is outside the file's {len} bytes"),
                    )
                    .into_response();
                    if let Ok(v) = format!("bytes */{len}").parse() {
                        r.headers_mut().insert(header::CONTENT_RANGE, v);
                    }
                    r
                }
            }
        }
        Ok(None) => ApiError::not_found("media").into_response(),
        Err(SignatureError::Expired) => ApiError::new(
            StatusCode::FORBIDDEN,
            "url_expired",
            "this media URL has expired",
        )
        .into_response(),
        Err(_) => ApiError::new(
            StatusCode::FORBIDDEN,
            "invalid_signature",
            "this media URL is not validly signed",
        )
        .into_response(),
    }
}
