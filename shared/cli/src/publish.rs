//! `viral accounts …`, `viral publish` and `viral posts`: connected accounts and posts, run in
//! this process on the local pipeline (the same publish workflow `viral up` and AWS run).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use serde_json::{Value, json};
use viral_api::Route;
use viral_core::domain::Tenant;
use viral_core::domain::account::{Account, Platform};
use viral_core::domain::post::{Post, PostStatus};
use viral_core::service::{accounts, connect, posts, publishing};
use viral_local::Process;

use viral_local::LocalPipeline;

use crate::failure::Failure;
use crate::video::tenant_of;

#[derive(Subcommand)]
pub enum AccountsCommand {
    /// The tenant's connected accounts, with today's posting allowance.
    List {
        /// The tenant to act for (`tn_…`); without it, the local tenant `viral demo` uses.
        #[arg(long)]
        tenant: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Connect an account: `sandbox` at once; `tiktok`, `youtube` or `instagram` through the
    /// platform's consent page (the link is printed; this waits for the platform to call back).
    Connect {
        /// tiktok, youtube, instagram or sandbox.
        platform: String,
        /// Sandbox only: the channel's name.
        #[arg(long, default_value = "Sandbox channel")]
        name: String,
        /// The tenant to act for (`tn_…`); without it, the local tenant `viral demo` uses.
        #[arg(long)]
        tenant: Option<String>,
        /// How long to wait for the consent, in seconds.
        #[arg(long, default_value_t = 900)]
        wait: u64,
    },
    /// Revoke an account at its platform (where it can) and forget it.
    Remove {
        /// The account (`acc_…`), as `viral accounts list` shows it.
        id: String,
        /// The tenant to act for (`tn_…`); without it, the local tenant `viral demo` uses.
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Args)]
pub struct PublishArgs {
    /// The video job to publish (`job_…`, succeeded).
    job: String,
    /// Accounts to post to (`acc_…`), one post each.
    #[arg(long = "to", required = true, num_args = 1..)]
    to: Vec<String>,
    /// When to post: RFC 3339 with a zone (e.g. 2026-12-24T18:00:00+01:00). Default: now.
    #[arg(long)]
    at: Option<String>,
    /// The caption (default: the concept's).
    #[arg(long)]
    caption: Option<String>,
    /// The title (YouTube; default: the concept's).
    #[arg(long)]
    title: Option<String>,
    /// A hashtag; repeat for more (default: the concept's).
    #[arg(long = "hashtag")]
    hashtags: Vec<String>,
    /// Privacy in the platform's words (required for TikTok: see `accounts list`).
    #[arg(long)]
    privacy: Option<String>,
    /// The tenant to act for (`tn_…`); without it, the local tenant `viral demo` uses.
    #[arg(long)]
    tenant: Option<String>,
    /// Return once the posts are accepted instead of waiting for them.
    #[arg(long)]
    no_wait: bool,
    /// Print the posts as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct PostsArgs {
    /// The tenant to act for (`tn_…`); without it, the local tenant `viral demo` uses.
    #[arg(long)]
    tenant: Option<String>,
    /// Only posts in this status (scheduled, queued, uploading, processing, published,
    /// failed, cancelled).
    #[arg(long)]
    status: Option<String>,
    /// Keep showing them until none is moving (Ctrl-C to stop).
    #[arg(long)]
    watch: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn vault(services: &Process) -> Result<&dyn viral_core::ports::TokenVault, Failure> {
    services
        .vault
        .as_deref()
        .ok_or_else(|| Failure::from("no token vault: set VIRAL_KMS_KEY_ID on AWS"))
}

pub fn account_line(a: &Account, today: Option<&publishing::Allowance>) -> String {
    let allowance = today
        .map(|t| {
            format!(
                "  {} of {} today",
                t.account_used,
                crate::text::counted(t.account_limit, "post")
            )
        })
        .unwrap_or_default();
    let status = match a.status_reason.as_deref() {
        Some(why) => format!("{}: {why}", a.status.as_str()),
        None => a.status.as_str().to_owned(),
    };
    format!(
        "{:<28} {:<9} {:<24} {}{allowance}",
        a.id,
        a.platform.as_str(),
        a.profile.display_name.chars().take(24).collect::<String>(),
        status
    )
}

fn account_json(a: &Account, today: &publishing::Allowance) -> Value {
    json!({
        "id": a.id, "platform": a.platform.as_str(), "sandbox": a.platform == Platform::Sandbox,
        "display_name": a.profile.display_name, "platform_user_id": a.profile.user_id,
        "status": a.status.as_str(), "status_reason": a.status_reason, "scopes": a.scopes,
        "token_expires_at": a.access_expires_at.map(|t| t.rfc3339()),
        "today": {"posts": today.account_used, "limit": today.account_limit,
                  "workspace_posts": today.tenant_used, "workspace_limit": today.tenant_limit,
                  "resets_at": today.resets_at.rfc3339()},
    })
}

async fn allowance(
    services: &Process,
    tenant: &Tenant,
    a: &Account,
) -> Result<publishing::Allowance, Failure> {
    let plan = tenant.plan_at(viral_core::Clock::now(&*services.clock));
    Ok(publishing::allowance(
        &*services.store,
        &*services.clock,
        &Default::default(),
        a,
        plan,
    )
    .await?)
}

pub async fn accounts_run(
    config: viral_runtime::Config,
    cmd: AccountsCommand,
) -> Result<ExitCode, Failure> {
    let services = Process::connect(config).await?;
    match cmd {
        AccountsCommand::List { tenant, json } => {
            let tenant = tenant_of(&services, tenant).await?;
            let list = accounts::list(&*services.store, &tenant.id).await?;
            let mut out = Vec::new();
            for a in &list {
                out.push((a, allowance(&services, &tenant, a).await?));
            }
            if json {
                let items: Vec<Value> = out.iter().map(|(a, t)| account_json(a, t)).collect();
                println!("{}", json!({ "items": items }));
            } else if out.is_empty() {
                println!(
                    "no accounts yet: `{} accounts connect sandbox` makes an offline channel",
                    crate::invocation::command()
                );
            } else {
                for (a, t) in &out {
                    println!("{}", account_line(a, Some(t)));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        AccountsCommand::Connect {
            platform,
            name,
            tenant,
            wait,
        } => {
            let tenant = tenant_of(&services, tenant).await?;
            let platform = Platform::parse(&platform)
                .ok_or("platform must be one of tiktok, youtube, instagram, sandbox")?;
            let account = if platform == Platform::Sandbox {
                connect::sandbox(
                    &*services.store,
                    vault(&services)?,
                    &*services.clock,
                    &tenant.id,
                    &name,
                )
                .await?
            } else {
                oauth_connect(&services, &tenant, platform, Duration::from_secs(wait)).await?
            };
            println!("connected {}", account_line(&account, None));
            Ok(ExitCode::SUCCESS)
        }
        AccountsCommand::Remove { id, tenant } => {
            let tenant = tenant_of(&services, tenant).await?;
            let account = accounts::get(&*services.store, &tenant.id, &id).await?;
            let publishers = services.publishers();
            let publisher = publishers.get(account.platform);
            let (account, revoked) = accounts::revoke_and_remove(
                &*services.store,
                vault(&services)?,
                &*services.clock,
                publisher.as_deref(),
                &tenant.id,
                &account.id,
            )
            .await?;
            println!(
                "removed   {} ({}){}",
                account.id,
                account.profile.display_name,
                if revoked {
                    ""
                } else {
                    "; remove the app in the platform's settings to end its access there too"
                }
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The OAuth round trip from a terminal: prints the platform's consent link and waits for the
/// account to appear. The platform calls back on the public URL; when nothing listens there
/// (no `viral up`), this process serves the callback itself.
async fn oauth_connect(
    services: &Process,
    tenant: &Tenant,
    platform: Platform,
    wait: Duration,
) -> Result<Account, Failure> {
    let publishers = services.publishers();
    let publisher = publishers
        .get(platform)
        .ok_or_else(|| format!("{} is not available here", platform.as_str()))?;
    let public_url = services.config.public_url.clone();
    let url = connect::start(
        &connect::Connector {
            store: &*services.store,
            vault: vault(services)?,
            clock: &*services.clock,
            public_url: &public_url,
        },
        &*publisher,
        &tenant.id,
        None,
        None,
    )
    .await?;
    let callback = connect::callback_url(&public_url, platform);
    let server = serve_callback(services, &public_url).await;
    eprintln!(
        "viral: open this link to let viral post as you on {} (it works once, within 15 minutes):\n\n  {url}\n\n\
         viral: the platform sends you back to {callback}{}",
        platform.as_str(),
        if server.is_some() {
            " (served by this command)"
        } else {
            " (served by `viral up`)"
        }
    );
    let before: Vec<(String, i64)> = accounts::list(&*services.store, &tenant.id)
        .await?
        .into_iter()
        .map(|a| (a.id, a.updated_at.millis()))
        .collect();
    let started = Instant::now();
    let found = loop {
        let now = accounts::list(&*services.store, &tenant.id).await?;
        if let Some(a) = now.into_iter().find(|a| {
            a.platform == platform && !before.contains(&(a.id.clone(), a.updated_at.millis()))
        }) {
            break Some(a);
        }
        if started.elapsed() > wait {
            break None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if let Some(h) = server {
        h.abort();
    }
    found.ok_or_else(|| {
        Failure::from(format!(
            "no answer from {} within {} s; run the command again for a new link",
            platform.as_str(),
            wait.as_secs()
        ))
    })
}

/// Serves the OAuth callback on the public URL's address when it is free.
async fn serve_callback(
    services: &Process,
    public_url: &str,
) -> Option<tokio::task::JoinHandle<()>> {
    let (scheme, rest) = public_url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let addr: SocketAddr = match authority.parse() {
        Ok(a) => a,
        Err(_) => format!("{authority}:{}", if scheme == "https" { 443 } else { 80 })
            .parse()
            .ok()?,
    };
    if !addr.ip().is_loopback() {
        return None;
    }
    let listener = tokio::net::TcpListener::bind(addr).await.ok()?;
    let state = services.api_state().await.ok()?;
    let app = viral_api::router_for(state, &[Route::OAuthCallback]);
    Some(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

fn post_line(p: &Post, account: Option<&Account>) -> String {
    let when = match p.status {
        PostStatus::Scheduled => p
            .not_before
            .map(|t| format!("at {}", t.rfc3339()))
            .unwrap_or_default(),
        PostStatus::Published => p
            .url
            .clone()
            .or_else(|| p.platform_post_id.clone().map(|id| format!("id {id}")))
            .unwrap_or_else(|| "published (the platform gives no public link)".into()),
        PostStatus::Failed => p
            .error
            .as_ref()
            .map(|e| format!("{}: {}", e.code, e.message))
            .unwrap_or_default(),
        _ => String::new(),
    };
    let who = account
        .map(|a| a.profile.display_name.chars().take(20).collect::<String>())
        .unwrap_or_else(|| p.account_id.clone());
    let sandbox = if p.platform == Platform::Sandbox {
        " (sandbox)"
    } else {
        ""
    };
    format!(
        "{:<30} {:<9} {:<20} {:<10} {when}{sandbox}",
        p.id,
        p.platform.as_str(),
        who,
        p.status.as_str()
    )
}

pub fn post_json(p: &Post) -> Value {
    json!({
        "id": p.id, "video_id": p.job_id, "account_id": p.account_id,
        "platform": p.platform.as_str(), "sandbox": p.platform == Platform::Sandbox,
        "status": p.status.as_str(), "title": p.content.title, "caption": p.content.caption,
        "privacy": p.content.privacy, "privacy_applied": p.privacy_applied,
        "ai_generated": p.content.ai_generated,
        "schedule_at": p.schedule_at.map(|t| t.rfc3339()),
        "not_before": p.not_before.map(|t| t.rfc3339()),
        "warnings": p.warnings, "platform_post_id": p.platform_post_id, "url": p.url,
        "attempts": p.attempts,
        "error": p.error.as_ref().map(|e| json!({"code": e.code, "message": e.message})),
        "created_at": p.created_at.rfc3339(), "published_at": p.published_at.map(|t| t.rfc3339()),
    })
}

/// Publishes a succeeded job to accounts and (unless `no_wait`) follows the posts until each
/// is published, failed, or waiting for its time.
pub async fn publish(
    config: viral_runtime::Config,
    args: PublishArgs,
) -> Result<ExitCode, Failure> {
    let services = Process::connect(config).await?;
    let tenant = tenant_of(&services, args.tenant.clone()).await?;
    let targets = args
        .to
        .iter()
        .map(|acc| posts::Target {
            account_id: acc.clone(),
            caption: args.caption.clone(),
            title: args.title.clone(),
            hashtags: (!args.hashtags.is_empty()).then(|| args.hashtags.clone()),
            privacy: args.privacy.clone(),
            schedule_at: args.at.clone(),
            options: Default::default(),
        })
        .collect();
    let posts = publish_targets(
        &services,
        &tenant,
        &args.job,
        targets,
        !args.no_wait,
        args.json,
    )
    .await?;
    if args.json {
        let items: Vec<Value> = posts.iter().map(post_json).collect();
        println!("{}", json!({ "posts": items }));
    }
    Ok(if posts.iter().any(|p| p.status == PostStatus::Failed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Creates the posts and runs them on this process's pipeline, following them when `wait`.
pub async fn publish_targets(
    services: &Process,
    tenant: &Tenant,
    job: &str,
    targets: Vec<posts::Target>,
    wait: bool,
    quiet: bool,
) -> Result<Vec<Post>, Failure> {
    let created = posts::create(
        &*services.store,
        &*services.clock,
        &tenant.id,
        job,
        targets,
        None,
        &services.publishers().platforms(),
    )
    .await?;
    let pipeline = services.local_pipeline(1.0)?;
    pipeline.run_background();
    for p in &created.posts {
        pipeline.start_post(&tenant.id, &p.id).await?;
        if !quiet {
            eprintln!(
                "post      {} accepted for {} ({})",
                p.id,
                p.platform.as_str(),
                p.status.as_str()
            );
            for w in &p.warnings {
                eprintln!("warning   {w}");
            }
        }
    }
    let result = if wait {
        follow(services, &pipeline, tenant, created.posts, quiet).await
    } else {
        Ok(created.posts)
    };
    pipeline.shutdown().await;
    let posts = result?;
    if !quiet {
        let names = account_names(services, tenant).await?;
        for p in &posts {
            println!(
                "{}",
                post_line(p, names.iter().find(|a| a.id == p.account_id))
            );
        }
        if posts.iter().any(|p| p.status == PostStatus::Scheduled) {
            println!(
                "scheduled posts go out while `{} up` runs (or on AWS)",
                crate::invocation::command()
            );
        }
    }
    Ok(posts)
}

async fn account_names(services: &Process, tenant: &Tenant) -> Result<Vec<Account>, Failure> {
    Ok(accounts::list(&*services.store, &tenant.id).await?)
}

/// Follows posts until each has ended or waits for a later time, printing status changes.
async fn follow(
    services: &Process,
    _pipeline: &Arc<LocalPipeline>,
    tenant: &Tenant,
    mut current: Vec<Post>,
    quiet: bool,
) -> Result<Vec<Post>, Failure> {
    let started = Instant::now();
    let mut last: Vec<PostStatus> = current.iter().map(|p| p.status).collect();
    loop {
        let settled = current
            .iter()
            .all(|p| p.status.is_terminal() || p.status == PostStatus::Scheduled);
        if settled {
            return Ok(current);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        for (i, p) in current.iter_mut().enumerate() {
            *p = posts::get(&*services.store, &tenant.id, &p.id).await?;
            if p.status != last[i] && !quiet {
                eprintln!(
                    "[{:>5.1}s] {} {}",
                    started.elapsed().as_secs_f64(),
                    p.id,
                    p.status.as_str()
                );
                last[i] = p.status;
            }
        }
    }
}

pub async fn posts_run(
    config: viral_runtime::Config,
    args: PostsArgs,
) -> Result<ExitCode, Failure> {
    let services = Process::connect(config).await?;
    let tenant = tenant_of(&services, args.tenant).await?;
    let status = match args.status.as_deref() {
        None => None,
        Some(s) => Some(PostStatus::parse(s).ok_or(
            "status must be one of scheduled, queued, uploading, processing, published, failed, cancelled",
        )?),
    };
    let filter = posts::Filter {
        status,
        account_id: None,
    };
    loop {
        let page = posts::list(&*services.store, &tenant.id, &filter, 100, None).await?;
        if args.json {
            let items: Vec<Value> = page.posts.iter().map(post_json).collect();
            println!("{}", json!({ "items": items }));
        } else if page.posts.is_empty() {
            println!(
                "no posts yet: `{} publish JOB --to ACCOUNT` makes one",
                crate::invocation::command()
            );
        } else {
            let names = account_names(&services, &tenant).await?;
            for p in &page.posts {
                println!(
                    "{}",
                    post_line(p, names.iter().find(|a| a.id == p.account_id))
                );
            }
        }
        let moving = page
            .posts
            .iter()
            .any(|p| !p.status.is_terminal() && p.status != PostStatus::Scheduled);
        if !args.watch || !moving {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        if !args.json {
            println!();
        }
    }
}

/// `viral demo`: the demo's video posted to the tenant's sandbox channel (made on
/// first use).
pub async fn demo_publish(
    services: &Process,
    tenant: &Tenant,
    job: &str,
) -> Result<Vec<Post>, Failure> {
    let vault = vault(services)?;
    let existing = accounts::list(&*services.store, &tenant.id)
        .await?
        .into_iter()
        .find(|a| a.platform == Platform::Sandbox);
    let channel = match existing {
        Some(a) => a,
        None => {
            connect::sandbox(
                &*services.store,
                vault,
                &*services.clock,
                &tenant.id,
                "Demo channel",
            )
            .await?
        }
    };
    eprintln!(
        "publish   to {} (sandbox: stays on this machine, never public)",
        channel.profile.display_name
    );
    let target = posts::Target {
        account_id: channel.id.clone(),
        ..Default::default()
    };
    publish_targets(services, tenant, job, vec![target], true, false).await
}
