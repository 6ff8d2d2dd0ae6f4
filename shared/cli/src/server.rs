//! `viral up`: every API route plus the signed media route, on loopback by default.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use viral_api::{ApiError, Route};
use viral_embedded::FsBlobStore;
use viral_embedded::fs_blobs::SignatureError;
use viral_runtime::{Config, Services};

pub async fn up(mut config: Config, host: IpAddr, port: u16) -> Result<ExitCode, String> {
    if std::env::var_os("VIRAL_PUBLIC_URL").is_none() {
        config.public_url = format!("http://{}", SocketAddr::new(host, port));
    }
    let services = Services::connect(config).await.map_err(|e| e.to_string())?;
    let mut state = services.api_state().await.map_err(|e| e.to_string())?;
    if services.local_media.is_some() {
        let pipeline = services.local_pipeline(1.0).map_err(|e| e.to_string())?;
        pipeline.spawn_worker();
        // Executions a stopped process left running resume where they were (once their claim
        // lapses); jobs past the workflow's own timeout end failed and refunded.
        let reconciler = pipeline.clone();
        tokio::spawn(async move {
            loop {
                match reconciler.resume_interrupted().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(resumed = n, "resumed interrupted executions"),
                    Err(e) => tracing::warn!(error = %e, "could not resume executions"),
                }
                match reconciler
                    .reconcile(std::time::Duration::from_secs(3700))
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(ended = n, "reconciler ended stuck executions"),
                    Err(e) => tracing::warn!(error = %e, "reconciler failed"),
                }
                tokio::time::sleep(std::time::Duration::from_secs(30)).await;
            }
        });
        state.workflow = Some(pipeline);
    }
    let extra = match &services.local_media {
        Some(media) => Router::new()
            .route("/media/{*key}", get(serve_media))
            .with_state(media.clone()),
        None => Router::new(),
    };
    let app = viral_api::router_with(state, &Route::ALL, extra);
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(host, port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!(
        "viral: serving on http://{addr} ({:?} backend, data in {})\n\
         viral: create a tenant with `viral tenant create --name \"My team\"`, then\n\
         viral:   curl -H \"Authorization: Bearer <key>\" http://{addr}/v1/me",
        services.config.backend,
        services.config.data_dir.display()
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// Serves a blob behind a signed, unexpired URL.
async fn serve_media(
    State(media): State<FsBlobStore>,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    match media.open_signed(&key, query.as_deref()).await {
        Ok(Some((bytes, meta))) => (
            [
                (header::CONTENT_TYPE, meta.content_type),
                (header::CACHE_CONTROL, "private, max-age=300".to_owned()),
            ],
            Body::from(bytes),
        )
            .into_response(),
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
