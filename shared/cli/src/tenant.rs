//! `viral tenant …`.

use std::process::ExitCode;

use clap::Subcommand;
use serde_json::json;
use viral_core::domain::Plan;
use viral_core::service::tenants;
use viral_runtime::{Config, Services};

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its id and a new API key (shown once).
    Create {
        #[arg(long)]
        name: String,
        /// free, starter, pro or agency.
        #[arg(long, default_value = "free", value_parser = parse_plan)]
        plan: Plan,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn parse_plan(s: &str) -> Result<Plan, String> {
    Plan::parse(s).ok_or_else(|| format!("unknown plan `{s}`; choose free, starter, pro or agency"))
}

pub async fn run(config: Config, cmd: TenantCommand) -> Result<ExitCode, String> {
    let services = Services::connect(config).await.map_err(|e| e.to_string())?;
    match cmd {
        TenantCommand::Create { name, plan, json } => {
            let created = tenants::create_tenant(&*services.store, &*services.clock, &name, plan)
                .await
                .map_err(|e| e.to_string())?;
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
    }
}
