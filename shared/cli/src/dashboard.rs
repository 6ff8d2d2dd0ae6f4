//! `viral dashboard`: a fresh sign-in link for the local dashboard (opened in a browser when
//! one is there), and `viral dashboard export` for a static host (S3 + CloudFront).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use viral_core::service::sessions;
use viral_local::Process;
use viral_runtime::Config;
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
    /// Write the dashboard's files (index.html, config.json, hashed assets) into a folder.
    Export {
        /// The folder to write (created if missing).
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        site: SiteArgs,
    },
    /// Upload the dashboard to its S3 bucket (the stack's DashboardBucketName output), each
    /// file with its Cache-Control: hashed assets for a year, index.html and config.json
    /// revalidated on every load. Uses the AWS credentials and region of the environment.
    Deploy {
        /// The bucket's name.
        #[arg(long)]
        bucket: String,
        #[command(flatten)]
        site: SiteArgs,
    },
}

/// What the deployed dashboard's `config.json` says. The API is on the dashboard's own origin
/// (the template routes `/v1/*` through the same distribution), so the page needs no CORS.
#[derive(Args)]
struct SiteArgs {
    /// OIDC authorization endpoint (Cognito hosted UI: `https://<domain>/oauth2/authorize`).
    #[arg(long, requires_all = ["oidc_token_endpoint", "oidc_client_id"])]
    oidc_authorize_endpoint: Option<String>,
    /// OIDC token endpoint (Cognito: `https://<domain>/oauth2/token`); add its origin to the
    /// stack's DashboardConnectOrigins.
    #[arg(long, requires = "oidc_authorize_endpoint")]
    oidc_token_endpoint: Option<String>,
    /// The app client id (a public client: no secret).
    #[arg(long, requires = "oidc_authorize_endpoint")]
    oidc_client_id: Option<String>,
    /// Scopes to ask for, separated by spaces.
    #[arg(long, default_value = "openid email profile")]
    oidc_scope: String,
    /// Which token the API accepts: `id_token` (Cognito) or `access_token`.
    #[arg(long, default_value = "id_token", value_parser = ["id_token", "access_token"])]
    oidc_token: String,
}

impl SiteArgs {
    fn config(self) -> Result<ClientConfig, Failure> {
        let https = |u: &str| u.starts_with("https://") || u.starts_with("http://127.0.0.1");
        let usage = |message: String| Failure { message, exit: 2 };
        let oidc = match (
            self.oidc_authorize_endpoint,
            self.oidc_token_endpoint,
            self.oidc_client_id,
        ) {
            (Some(authorization_endpoint), Some(token_endpoint), Some(client_id)) => {
                for u in [&authorization_endpoint, &token_endpoint] {
                    if !https(u) {
                        return Err(usage(format!("{u} must be an https:// URL")));
                    }
                }
                Some(Oidc {
                    authorization_endpoint,
                    token_endpoint,
                    client_id,
                    scope: self.oidc_scope,
                    token: self.oidc_token,
                })
            }
            _ => None,
        };
        Ok(ClientConfig {
            api_base: String::new(),
            sign_in_links: false,
            oidc,
        })
    }
}

pub async fn run(config: Config, args: DashboardArgs) -> Result<ExitCode, Failure> {
    match args.command {
        Some(DashboardCommand::Export { out, site }) => return export(&out, site.config()?),
        Some(DashboardCommand::Deploy { bucket, site }) => {
            return deploy(&bucket, site.config()?).await;
        }
        None => {}
    }
    let services = Process::connect(config).await?;
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
pub async fn sign_in_link(services: &Process, tenant_id: &str) -> Result<String, Failure> {
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

fn export(out: &std::path::Path, config: ClientConfig) -> Result<ExitCode, Failure> {
    let written = viral_web::export(out, &config)?;
    for (path, cache) in &written {
        println!("{}\t{cache}", path.display());
    }
    eprintln!(
        "viral: wrote {} files to {}; upload each with its Cache-Control (or use `viral dashboard deploy`)",
        written.len(),
        out.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn deploy(bucket: &str, config: ClientConfig) -> Result<ExitCode, Failure> {
    let files = viral_web::static_files(&config);
    let sdk = viral_aws::load_sdk_config().await;
    // An S3-compatible server on loopback has no per-bucket DNS names.
    let path_style = std::env::var_os("AWS_ENDPOINT_URL").is_some();
    let site = viral_aws::static_site::SiteBucket::from_conf(&sdk, bucket, path_style);
    let objects: Vec<_> = files
        .iter()
        .map(|f| viral_aws::static_site::SiteObject {
            key: &f.path,
            bytes: &f.bytes,
            content_type: f.content_type,
            cache_control: f.cache_control,
        })
        .collect();
    site.upload(&objects)
        .await
        .map_err(|e| Failure::from(format!("deploy to s3://{bucket} failed: {e}")))?;
    let bytes: usize = files.iter().map(|f| f.bytes.len()).sum();
    eprintln!(
        "viral: uploaded {} files ({} KB) to s3://{bucket}; index.html and config.json are stored with no-cache, so visitors get this version on their next load",
        files.len(),
        bytes / 1024
    );
    Ok(ExitCode::SUCCESS)
}
