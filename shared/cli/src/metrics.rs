//! `viral metrics POST`: a published post's numbers over time; and the end of `viral demo`,
//! which closes the loop on the sandbox channel — a simulated day later the real collector
//! fetches the simulated audience's numbers and the learner takes them in.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use serde_json::json;
use viral_core::ManualClock;
use viral_core::domain::concept::Concept;
use viral_core::domain::learner::Posterior;
use viral_core::domain::post::Post;
use viral_core::service::collector::{self, Collector, Observation};
use viral_core::service::learning;
use viral_local::Process;

use crate::failure::Failure;
use crate::video::tenant_of;

#[derive(Args)]
pub struct MetricsArgs {
    /// The post (`post_…`).
    post: String,
    /// The tenant to act for (`tn_…`); without it, the local tenant `viral demo` uses.
    #[arg(long)]
    tenant: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// One observation for people: counts where the platform gave them, nothing invented.
fn observation_line(o: &Observation) -> String {
    let mut parts = Vec::new();
    let mut count = |n: Option<u64>, what: &str| {
        if let Some(n) = n {
            parts.push(format!("{n} {what}"));
        }
    };
    count(o.metrics.views, "views");
    count(o.metrics.likes, "likes");
    count(o.metrics.comments, "comments");
    count(o.metrics.shares, "shares");
    count(o.metrics.saves, "saves");
    if let Some(c) = o.metrics.completion {
        parts.push(format!("{:.0} % watched", c * 100.0));
    } else if let Some(s) = o.metrics.avg_view_s {
        parts.push(format!("{s:.1} s watched on average"));
    }
    let score = o.score.map_or("no engagement yet".to_owned(), |s| {
        format!("engagement {s:.2}")
    });
    let label = if o.simulated { " (simulated)" } else { "" };
    format!(
        "{:>6.1} h  {}  {score}{label}",
        o.age_s as f64 / 3600.0,
        if parts.is_empty() {
            "no numbers".to_owned()
        } else {
            parts.join(" · ")
        }
    )
}

/// The shape `GET /v1/posts/{id}/metrics` answers with, for `--json`.
fn observation_json(o: &Observation) -> serde_json::Value {
    let m = &o.metrics;
    json!({
        "observed_at": o.observed_at.rfc3339(),
        "age_hours": (o.age_s as f64 / 3600.0 * 10_000.0).round() / 10_000.0,
        "views": m.views, "likes": m.likes, "comments": m.comments, "shares": m.shares,
        "saves": m.saves, "avg_view_s": m.avg_view_s, "completion": m.completion,
        "reach": m.reach, "followers_gained": m.followers_gained, "raw": m.raw,
        "score": o.score.map(|s| (s * 10_000.0).round() / 10_000.0),
        "weight": (o.weight * 10_000.0).round() / 10_000.0,
        "simulated": o.simulated,
    })
}

pub async fn run(config: viral_runtime::Config, args: MetricsArgs) -> Result<ExitCode, Failure> {
    let services = Process::connect(config).await?;
    let tenant = tenant_of(&services, args.tenant).await?;
    let (post, series) = collector::series(&*services.store, &tenant.id, &args.post).await?;
    if args.json {
        println!(
            "{}",
            json!({
                "post_id": post.id,
                "platform": post.platform.as_str(),
                "published_at": post.published_at.map(|t| t.rfc3339()),
                "next_at": post.metrics_due.map(|t| t.rfc3339()),
                "note": post.metrics_note,
                "observations": series.iter().map(observation_json).collect::<Vec<_>>(),
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    if series.is_empty() {
        println!("{}: no numbers collected yet", post.id);
    }
    for o in &series {
        println!("{}", observation_line(o));
    }
    match (post.metrics_due, &post.metrics_note) {
        (Some(at), note) => println!(
            "next      {}{}",
            at.rfc3339(),
            note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
        ),
        (None, Some(note)) => println!("ended     {note}"),
        (None, None) => {}
    }
    Ok(ExitCode::SUCCESS)
}

fn belief(p: &Posterior, concept: &Concept) -> String {
    let kind = concept.kind();
    format!("{:.3} ± {:.3}", p.expected(&kind), p.expected_sd(&kind))
}

/// The demo's last act: a simulated day after `post` went out, one pass of the real collector
/// (on a clock a day ahead) and the learner's belief about the concept's kind before and after.
pub async fn demo_loop(
    services: &Process,
    tenant: &str,
    concept: &Concept,
    post: &Post,
    before: &Posterior,
) -> Result<(), Failure> {
    let vault = services
        .vault
        .as_deref()
        .ok_or("no token vault: the sandbox channel needs one")?;
    let publishers = services.publishers();
    let tomorrow = ManualClock::new(services.clock.now().plus(Duration::from_secs(86_400)));
    let post = viral_core::service::posts::get(&*services.store, tenant, &post.id).await?;
    // Only this post: other posts in the data dir keep their own, real schedule.
    let collected = Collector {
        store: &*services.store,
        vault,
        clock: &tomorrow,
        publishers: &publishers,
    }
    .observe(vec![post.clone()])
    .await?;
    learning::fold(&*services.store).await?;
    let (_, series) = collector::series(&*services.store, tenant, &post.id).await?;
    let Some(o) = series.last() else {
        return Err(format!(
            "the collector fetched nothing for {} ({:?})",
            post.id, collected.problems
        )
        .into());
    };
    let after = learning::learner(&*services.store, tenant).await?;
    let kind = concept.kind();
    println!(
        "loop      a simulated day later, the sandbox's simulated audience (not real people):"
    );
    println!("metrics   {}", observation_line(o).trim_start());
    println!(
        "learner   {} × {} × {}: expected engagement {} before → {} after (this post counted {:.2})",
        kind.category,
        kind.format,
        kind.hook,
        belief(before, concept),
        belief(&after, concept),
        o.weight
    );
    println!(
        "next      {cmd} metrics {} · {cmd} insights",
        post.id,
        cmd = crate::invocation::command()
    );
    Ok(())
}
