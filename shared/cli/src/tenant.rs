//! `viral tenant …`.

use crate::failure::Failure;
use crate::text::counted;
use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;
use viral_core::domain::{Plan, TenantStatus};
use viral_core::service::{tenant_lifecycle, tenants};
use viral_local::Process;
use viral_runtime::Config;

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its id and a new API key (shown once).
    Create {
        /// The tenant's display name, e.g. the brand or channel.
        #[arg(long)]
        name: String,
        /// free, starter, pro or agency.
        #[arg(long, default_value = "free", value_parser = parse_plan)]
        plan: Plan,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },

    /// Set a tenant's plan (local operators; with Stripe billing, subscriptions decide once a
    /// tenant has one). Usage already counted this period stays.
    SetPlan {
        /// The tenant (`tn_…`).
        id: String,
        /// free, starter, pro or agency.
        #[arg(value_parser = parse_plan)]
        plan: Plan,
    },
    /// Set how a tenant's videos are narrated when a job names no narration (what
    /// `PUT /v1/settings` sets). Without options, or with `--clear`, there is no default.
    SetNarration {
        /// The tenant (`tn_…`).
        id: String,
        /// Lower-case BCP 47 tag, e.g. en-us, es, pt-br.
        #[arg(long)]
        language: Option<String>,
        /// The engine's voice name (Joanna for Polly, en-gb for espeak-ng).
        #[arg(long)]
        voice: Option<String>,
        /// Pace, 0.5 to 2.0.
        #[arg(long)]
        speed: Option<f64>,
        /// Remove the default.
        #[arg(long, conflicts_with_all = ["language", "voice", "speed"])]
        clear: bool,
    },
    /// Show a tenant: plan in force, subscription state, this period's usage, default narration.
    Show {
        /// The tenant's id (`tn_…`).
        id: String,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Suspend a tenant: every one of its credentials gets 403 `tenant_suspended` until it is
    /// resumed; jobs already running finish.
    Suspend {
        /// The tenant's id (`tn_…`).
        id: String,
    },
    /// Resume a suspended tenant.
    Resume {
        /// The tenant's id (`tn_…`).
        id: String,
    },
    /// Delete a tenant with all its items (keys, concepts, jobs, usage) and its videos. Asks
    /// you to type the id unless `--yes`; refused while a job runs or a subscription bills it.
    Delete {
        /// The tenant's id (`tn_…`).
        id: String,
        /// Do not ask (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Every tenant, newest first: id, plan in force, status, name.
    List {
        /// Print JSON lines (one tenant each) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Asks on the terminal for the tenant's id; without a terminal, there is no one to ask.
fn confirm_delete(id: &str, name: &str) -> Result<(), Failure> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(Failure {
            message: "refusing to delete without confirmation: pass --yes (no terminal to ask on)"
                .into(),
            exit: 2,
        });
    }
    print!(
        "This deletes {id} ({name}) with all its keys, concepts, jobs and videos.\nType the tenant id to confirm: "
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != id {
        return Err(Failure {
            message: "not confirmed; nothing deleted".into(),
            exit: 1,
        });
    }
    Ok(())
}

fn parse_plan(s: &str) -> Result<Plan, String> {
    Plan::parse(s).ok_or_else(|| format!("unknown plan `{s}`; choose free, starter, pro or agency"))
}

pub async fn run(config: Config, cmd: TenantCommand) -> Result<ExitCode, Failure> {
    let services = Process::connect(config).await?;
    match cmd {
        TenantCommand::Create { name, plan, json } => {
            let created =
                tenants::create_tenant(&*services.store, &*services.clock, &name, plan).await?;
            let key = created.key.token.expose();
            if json {
                println!(
                    "{}",
                    json!({
                        "tenant_id": created.tenant.id,
                        "name": created.tenant.name,
                        "plan": created.tenant.plan.as_str(),
                        "user_id": created.owner.id,
                        "key_id": created.key.key.id,
                        "api_key": key,
                    })
                );
            } else {
                println!(
                    "Created tenant {} ({:?}) on the {} plan.\n\
                     API key, shown this once (only its hash is kept):\n\n  {key}\n\n\
                     Try it against `viral up`:\n  curl -H \"Authorization: Bearer {key}\" {}/v1/me",
                    created.tenant.id,
                    created.tenant.name,
                    created.tenant.plan.as_str(),
                    services.config.public_url,
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TenantCommand::SetPlan { id, plan } => {
            let t = tenants::set_plan(&*services.store, &id, plan).await?;
            let now = services.clock.now();
            let in_force = t.plan_at(now);
            println!("Tenant {} is set to the {} plan.", t.id, plan.as_str());
            if in_force != plan {
                println!(
                    "Its Stripe subscriptions decide, so the plan in force stays {} (`{} tenant show {}`).",
                    in_force.as_str(),
                    crate::invocation::command(),
                    t.id
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TenantCommand::SetNarration {
            id,
            language,
            voice,
            speed,
            clear,
        } => {
            let narration = (!clear && (language.is_some() || voice.is_some() || speed.is_some()))
                .then_some(viral_core::domain::Narration {
                    language,
                    voice,
                    speed,
                });
            let t = tenants::set_narration(&*services.store, &id, narration).await?;
            match &t.narration {
                Some(n) => println!(
                    "Tenant {}'s videos are narrated {} unless a job says otherwise.",
                    t.id,
                    narration_text(n)
                ),
                None => println!(
                    "Tenant {} has no default narration: each job's own, or the voice's.",
                    t.id
                ),
            }
            Ok(ExitCode::SUCCESS)
        }
        TenantCommand::Suspend { id } => {
            let t = tenant_lifecycle::set_status(&*services.store, &id, TenantStatus::Suspended)
                .await?;
            println!(
                "Suspended {} ({}): its credentials are refused until `{} tenant resume {}`.",
                t.id,
                t.name,
                crate::invocation::command(),
                t.id
            );
            Ok(ExitCode::SUCCESS)
        }
        TenantCommand::Resume { id } => {
            let t =
                tenant_lifecycle::set_status(&*services.store, &id, TenantStatus::Active).await?;
            println!("Resumed {} ({}).", t.id, t.name);
            Ok(ExitCode::SUCCESS)
        }
        TenantCommand::Delete { id, yes } => {
            let t = tenants::get_tenant(&*services.store, &id)
                .await?
                .ok_or_else(|| Failure::from(viral_core::Error::NotFound("tenant")))?;
            if !yes {
                confirm_delete(&t.id, &t.name)?;
            }
            let render_of = |provider: &str, task: Option<&str>, key: &str| {
                if provider == "storyboard" {
                    viral_providers::StoryboardProvider::clip_render_keys(task, key)
                } else {
                    Vec::new()
                }
            };
            let done = tenant_lifecycle::delete_tenant(
                &*services.store,
                &*services.blobs,
                services.clock.now(),
                &t.id,
                &render_of,
            )
            .await?;
            println!(
                "Deleted {} ({}): {} and {}.",
                t.id,
                t.name,
                counted(done.items as u64, "item"),
                counted(done.objects as u64, "video object"),
            );
            Ok(ExitCode::SUCCESS)
        }
        TenantCommand::List { json } => {
            let now = services.clock.now();
            let mut cursor = None;
            let mut count = 0;
            loop {
                let (page, next) = tenants::list_tenants(&*services.store, 100, cursor).await?;
                for t in &page {
                    count += 1;
                    let plan = t.plan_at(now);
                    if json {
                        println!(
                            "{}",
                            json!({"tenant_id": t.id, "name": t.name, "plan": plan.as_str(),
                                   "status": t.status.as_str(), "created_at": t.created_at.rfc3339()})
                        );
                    } else {
                        if count == 1 {
                            println!(
                                "{:<36} {:<8} {:<10} {:<20} name",
                                "tenant", "plan", "status", "created"
                            );
                        }
                        let created = t.created_at.rfc3339();
                        println!(
                            "{:<36} {:<8} {:<10} {:<20} {}",
                            t.id,
                            plan.as_str(),
                            t.status.as_str(),
                            created.get(..19).unwrap_or(&created).replace('T', " "),
                            t.name
                        );
                    }
                }
                match next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            if count == 0 && !json {
                println!(
                    "no tenants yet: `{} tenant create --name \"My team\"`",
                    crate::invocation::command()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        TenantCommand::Show { id, json } => {
            let t = tenants::get_tenant(&*services.store, &id)
                .await?
                .ok_or_else(|| Failure::from(viral_core::Error::NotFound("tenant")))?;
            let now = services.clock.now();
            let s = t.standing(now);
            let u =
                viral_core::service::usage::current_usage(&*services.store, &*services.clock, &t)
                    .await?;
            if json {
                println!(
                    "{}",
                    json!({
                        "tenant_id": t.id, "name": t.name, "status": t.status.as_str(),
                        "plan": s.plan.as_str(), "plan_set_by_operator": t.plan.as_str(),
                        "subscription": s.subscription_id, "subscription_status": s.status.map(|x| x.as_str()),
                        "cancel_at_period_end": s.cancel_at_period_end,
                        "stripe_customer": t.billing.customer_id,
                        "period": u.period.key, "resets_at": u.resets_at.rfc3339(),
                        "concepts": {"used": u.concepts.used, "limit": u.concepts.limit},
                        "videos": {"used": u.videos.used, "limit": u.videos.limit},
                        "narration": t.narration,
                    })
                );
                return Ok(ExitCode::SUCCESS);
            }
            println!("tenant    {} ({})", t.id, t.name);
            println!("status    {}", t.status.as_str());
            let by = match &s.subscription_id {
                Some(sub) => format!(
                    "Stripe subscription {sub}, {}{}",
                    s.status.map_or("unknown", |x| x.as_str()),
                    if s.cancel_at_period_end {
                        ", cancels at period end"
                    } else {
                        ""
                    }
                ),
                None => "set by an operator".to_owned(),
            };
            println!("plan      {} ({by})", s.plan.as_str());
            println!(
                "period    {} (resets {})",
                u.period.key,
                u.resets_at.rfc3339()
            );
            println!("concepts  {} of {} used", u.concepts.used, u.concepts.limit);
            println!("videos    {} of {} used", u.videos.used, u.videos.limit);
            if let Some(n) = &t.narration {
                println!(
                    "narration {} (the default for its videos)",
                    narration_text(n)
                );
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `in es, voice Lucia, at 1.1×`; `with the voice's defaults` when nothing is set.
fn narration_text(n: &viral_core::domain::Narration) -> String {
    let parts: Vec<String> = [
        n.language.as_ref().map(|l| format!("in {l}")),
        n.voice.as_ref().map(|v| format!("voice {v}")),
        n.speed.map(|x| format!("at {x}×")),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "with the voice's defaults".to_owned()
    } else {
        parts.join(", ")
    }
}
