//! `viral dashboard`: a fresh sign-in link for the local dashboard (opened in a browser when
//! one is there), and `viral dashboard export` for a static host (S3 + CloudFront).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use viral_core::service::sessions;
use viral_runtime::{Config, Services};
use viral_web::{ClientConfig, Oidc};

use crate::failure::Failure;

#[derive(Args)]
pub struct DashboardArgs {
    #[command(subcommand)]
    command: Option<DashboardCommand>,
    /// The tenant to sign in as (`tn_…`); without it, the local tenant `viral demo` uses (created on first use).
    #[arg(long)]
    tenant: Option<String>,
    /// Only print the link; do not try to open a browser.
    #[arg(long)]
    no_open: bool,
}

#[derive(Subcommand)]
enum DashboardCommand {
    /// Write the dashboard's files (index.html, config.json, hashed assets) for a static host.
    Export(ExportArgs),
}

#[derive(Args)]
struct ExportArgs {
    /// The folder to write (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// The API's base URL, e.g. the HTTP API's `https://…execute-api….amazonaws.com`.
    #[arg(long)]
    api_url: String,
    /// OIDC authorization endpoint (Cognito hosted UI: `https://<domain>/oauth2/authorize`).
    #[arg(long, requires_all = ["oidc_token_endpoint", "oidc_client_id"])]
    oidc_authorize_endpoint: Option<String>,
    /// OIDC token endpoint (Cognito: `https://<domain>/oauth2/token`).
    #[arg(long)]
    oidc_token_endpoint: Option<String>,
    /// The app client id (a public client: no secret).
    #[arg(long)]
    oidc_client_id: Option<String>,
    #[arg(long, default_value = "openid email profile")]
    oidc_scope: String,
    /// Which token the API accepts: `id_token` (Cognito) or `access_token`.
    #[arg(long, default_value = "id_token", value_parser = ["id_token", "access_token"])]
    oidc_token: String,
}

pub async fn run(config: Config, args: DashboardArgs) -> Result<ExitCode, Failure> {
    if let Some(DashboardCommand::Export(e)) = args.command {
        return export(e);
    }
    let services = Services::connect(config).await?;
    let tenant = crate::video::tenant_of(&services, args.tenant).await?;
    let link = sign_in_link(&services, &tenant.id).await?;
    println!("{link}");
    eprintln!(
        "viral: a one-time sign-in link for {} ({}); it works once, within 24 hours, while `viral up` serves {}",
        tenant.name, tenant.id, services.config.public_url
    );
    if !args.no_open {
        open_browser(&link);
    }
    Ok(ExitCode::SUCCESS)
}

/// `<public url>/signin#token=…`: the token rides in the fragment, which browsers never send
/// to a server or put in a Referer.
pub async fn sign_in_link(services: &Services, tenant_id: &str) -> Result<String, Failure> {
    let token = sessions::issue_sign_in(&*services.store, &*services.clock, tenant_id).await?;
    Ok(format!(
        "{}/signin#token={}",
        services.config.public_url.trim_end_matches('/'),
        token.expose()
    ))
}

fn open_browser(url: &str) {
    // Only where a desktop session is there to show it; a failure is not an error.
    let has_display = std::env::var_os("DISPLAY").is_some()
        || std::env::var_os("WAYLAND_DISPLAY").is_some()
        || cfg!(target_os = "macos");
    if !has_display {
        return;
    }
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

fn export(e: ExportArgs) -> Result<ExitCode, Failure> {
    let api_base = e.api_url.trim_end_matches('/').to_owned();
    if !(api_base.starts_with("https://") || api_base.starts_with("http://127.0.0.1")) {
        return Err(Failure {
            message: "--api-url must be an https:// URL (or http://127.0.0.1 for a local try)"
                .into(),
            exit: 2,
        });
    }
    let oidc = match (
        e.oidc_authorize_endpoint,
        e.oidc_token_endpoint,
        e.oidc_client_id,
    ) {
        (Some(authorization_endpoint), Some(token_endpoint), Some(client_id)) => Some(Oidc {
            authorization_endpoint,
            token_endpoint,
            client_id,
            scope: e.oidc_scope,
            token: e.oidc_token,
        }),
        _ => None,
    };
    let config = ClientConfig {
        api_base,
        sign_in_links: false,
        oidc,
    };
    let written = viral_web::export(&e.out, &config)?;
    for (path, cache) in &written {
        println!("{}\t{cache}", path.display());
    }
    eprintln!(
        "viral: wrote {} files to {}; upload assets/ with their Cache-Control (see README, \"Dashboard on AWS\")",
        written.len(),
        e.out.display()
    );
    Ok(ExitCode::SUCCESS)
}
