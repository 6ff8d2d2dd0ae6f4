//! `viral doctor`: what is configured, and whether each backend answers.

use crate::failure::Failure;
use std::future::Future;
use std::process::ExitCode;
use std::time::Instant;

use viral_core::ports::BlobKey;
use viral_local::Process;
use viral_runtime::{Backend, Config};

async fn check<F, T, E>(name: &str, what: &str, f: F) -> bool
where
    F: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let started = Instant::now();
    match f.await {
        Ok(_) => {
            println!(
                "ok    {name:<9} {what} ({:.1} ms)",
                started.elapsed().as_secs_f64() * 1e3
            );
            true
        }
        Err(e) => {
            println!("FAIL  {name:<9} {what}: {e}");
            false
        }
    }
}

pub async fn run(config: Config) -> Result<ExitCode, Failure> {
    println!("backend   {:?} (VIRAL_BACKEND)", config.backend);
    let (store_desc, blob_desc) = match config.backend {
        Backend::Local => (
            format!("SQLite at {}", config.data_dir.join("viral.db").display()),
            format!("files under {}", config.data_dir.join("blobs").display()),
        ),
        Backend::Aws => (
            format!("DynamoDB table {}", config.table.as_deref().unwrap_or("?")),
            format!(
                "S3 bucket {}",
                config.bucket.as_deref().unwrap_or("(VIRAL_BUCKET unset)")
            ),
        ),
    };
    println!(
        "limits    {} requests per {} s per principal (VIRAL_RATE_LIMIT); bodies up to {} bytes",
        config.rate_limit.max,
        config.rate_limit.window.as_secs(),
        config.max_body_bytes
    );
    match &config.jwt {
        Some(j) => println!(
            "oidc      issuer {} audiences {:?}, keys from {}",
            j.issuer, j.audiences, j.jwks_url
        ),
        None => println!(
            "oidc      off (set VIRAL_JWT_ISSUER and VIRAL_JWT_AUDIENCE to accept OIDC tokens)"
        ),
    }
    for p in viral_runtime::providers::catalog(&config.providers) {
        println!(
            "provider  {:<10} {:<26} {:>5.1} ¢/s  {}",
            p.profile.name, p.profile.model, p.profile.cents_per_second, p.status
        );
    }
    let sources = config.sources.clone();
    println!(
        "concepts  trends from {}, written by {}{}",
        sources.trend_sources.join(" + "),
        match sources.writer.as_str() {
            "anthropic" => format!("Anthropic {}", sources.anthropic_model),
            _ => "the rule-based writer".into(),
        },
        if sources.is_live() {
            String::new()
        } else {
            " (offline: set YOUTUBE_API_KEY, GNEWS_API_KEY or ANTHROPIC_API_KEY for live ones)"
                .into()
        }
    );
    let billing_on = config.billing.is_some();
    match &config.billing {
        Some(b) => println!(
            "billing   Stripe at {}: starter {}, pro {}, agency {}",
            b.stripe_base_url,
            b.settings.prices.starter,
            b.settings.prices.pro,
            b.settings.prices.agency
        ),
        None => println!(
            "billing   off (set STRIPE_PRICE_STARTER, STRIPE_PRICE_PRO, STRIPE_PRICE_AGENCY and the Stripe keys); `{} tenant set-plan` changes plans",
            crate::invocation::command()
        ),
    }
    let enabled = config.providers.enabled.clone();
    let vertex_key_file = config.providers.vertex_key_file.is_some();
    let services = match Process::connect(config).await {
        Ok(s) => s,
        Err(e) => {
            println!("FAIL  start     {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let probe = BlobKey::parse("doctor/probe").map_err(|e| e.to_string())?;
    let mut ok = true;
    ok &= check("store", &store_desc, services.store.get("DOCTOR", "PROBE")).await;
    ok &= check("blobs", &blob_desc, services.blobs.head(&probe)).await;
    ok &= check(
        "secrets",
        "lookup",
        services.secrets.get("VIRAL_DOCTOR_PROBE"),
    )
    .await;
    // The keys of the enabled providers and live concept sources, through the same Secrets
    // port they use.
    let provider_keys = enabled.iter().filter_map(|name| {
        let secret = match name.as_str() {
            "runway" => "RUNWAY_API_KEY",
            "sora" => "OPENAI_API_KEY",
            "veo" if !vertex_key_file => "VERTEX_SERVICE_ACCOUNT_KEY",
            _ => return None,
        };
        Some((name.as_str(), secret))
    });
    let billing_keys = [
        ("stripe", "STRIPE_SECRET_KEY"),
        ("stripe", "STRIPE_WEBHOOK_SECRET"),
    ]
    .into_iter()
    .filter(|_| billing_on);
    for (name, secret) in provider_keys.chain(sources.secrets()).chain(billing_keys) {
        let found = async {
            match services.secrets.get(secret).await {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err(format!("{secret} is not set")),
                Err(e) => Err(e.to_string()),
            }
        };
        ok &= check(name, &format!("key {secret}"), found).await;
    }
    ok &= publishing(&services).await;
    if let Err(e) = services.providers() {
        println!("FAIL  providers {e}");
        ok = false;
    }
    if let Err(e) = services.trend_source().and(services.concept_writer()) {
        println!("FAIL  concepts  {e}");
        ok = false;
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Which platforms tenants can connect: the sandbox always; TikTok, YouTube and Instagram
/// once the app's id and secret are set. A platform left off is not a failure.
async fn publishing(services: &Process) -> bool {
    let Some(vault) = &services.vault else {
        // Like billing: optional; without a vault the account and post routes answer 501.
        println!(
            "off   publish   no token vault to seal accounts' tokens: set VIRAL_KMS_KEY_ID (the stack's TokenKey) to connect accounts"
        );
        return true;
    };
    let mut ok = check("vault", "seal and open a token", async {
        let probe = viral_core::ports::SecretString::new("doctor");
        let sealed = vault.seal(&probe, "doctor").await?;
        vault.open(&sealed, "doctor").await.map(|_| ())
    })
    .await;
    println!("ok    sandbox   publishing channel, offline (always on)");
    for (platform, [id, secret]) in viral_runtime::social::PLATFORM_SECRETS {
        let mut missing = Vec::new();
        for name in [id, secret] {
            match services.secrets.get(name).await {
                Ok(Some(v)) if !v.expose().trim().is_empty() => {}
                Ok(_) => missing.push(name),
                Err(e) => {
                    println!("FAIL  {:<9} cannot read {name}: {e}", platform.as_str());
                    ok = false;
                }
            }
        }
        if missing.is_empty() {
            println!(
                "ok    {:<9} publishing configured ({id})",
                platform.as_str()
            );
            if platform == viral_core::domain::account::Platform::Youtube {
                println!(
                    "note  youtube   while the Google app's consent screen is in \"Testing\", refresh tokens die after 7 days and tenants must reconnect weekly; publish the app (and pass verification) before relying on it"
                );
            }
        } else {
            println!(
                "off   {:<9} publishing not configured: set {}",
                platform.as_str(),
                missing.join(" and ")
            );
        }
    }
    ok
}
