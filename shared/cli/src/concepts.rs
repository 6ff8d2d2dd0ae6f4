//! `viral concepts …`, `viral feedback …` and `viral insights`: concept batches, what
//! published videos did, and what the learner believes, for the local (or AWS) store.

use crate::failure::Failure;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use serde_json::json;
use viral_core::domain::Tenant;
use viral_core::domain::concept::Concept;
use viral_core::service::concepts::{self, Batch, ConceptRequest, Feedback};
use viral_local::Process;
use viral_runtime::Config;

use crate::video::tenant_of;

#[derive(Subcommand)]
pub enum ConceptsCommand {
    /// Write a batch of concepts from trends (or your topics), steered by what has worked.
    Generate {
        #[command(flatten)]
        brief: BriefArgs,
        /// The tenant to act for (`tn_…`); without it, the local tenant `viral demo` uses (created on first use).
        #[arg(long)]
        tenant: Option<String>,
        /// Print the batch as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The tenant's concepts, newest first.
    List {
        /// The tenant to act for (`tn_…`); without it, the local tenant `viral demo` uses (created on first use).
        #[arg(long)]
        tenant: Option<String>,
        /// How many to show, newest first.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print the list as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One concept in full.
    Show {
        /// The concept (`cn_…`).
        id: String,
        /// The tenant to act for (`tn_…`); without it, the local tenant `viral demo` uses (created on first use).
        #[arg(long)]
        tenant: Option<String>,
    },
}

#[derive(Args, Clone, Debug)]
pub struct BriefArgs {
    /// A subject to write about (repeat for up to 5); without one, trends are used.
    #[arg(long = "topic")]
    pub topics: Vec<String>,
    /// Two-letter country for trends, e.g. US.
    #[arg(long)]
    pub region: Option<String>,
    /// A category such as science, tech, sports.
    #[arg(long)]
    pub category: Option<String>,
    /// How many concepts to write, 1 to 10.
    #[arg(long, default_value_t = 5)]
    pub count: usize,
    /// The account's niche or voice, e.g. "a calm science channel".
    #[arg(long)]
    pub niche: Option<String>,
}

impl BriefArgs {
    pub fn request(&self) -> ConceptRequest {
        ConceptRequest {
            topics: self.topics.clone(),
            region: self.region.clone(),
            category: self.category.clone(),
            count: self.count,
            duration_s: 15.0,
            niche: self.niche.clone(),
        }
    }
}

/// `viral feedback`: how a published concept did on one platform.
#[derive(Args, Clone, Debug)]
pub struct FeedbackArgs {
    /// The concept that was published (`cn_…`).
    pub concept_id: String,
    /// tiktok, youtube_shorts or instagram_reels.
    #[arg(long)]
    pub platform: String,
    /// Times the video was viewed.
    #[arg(long)]
    pub views: u64,
    /// Likes.
    #[arg(long, default_value_t = 0)]
    pub likes: u64,
    /// Comments.
    #[arg(long, default_value_t = 0)]
    pub comments: u64,
    /// Shares.
    #[arg(long, default_value_t = 0)]
    pub shares: u64,
    /// Saves (bookmarks).
    #[arg(long, default_value_t = 0)]
    pub saves: u64,
    /// Share of viewers who watched to the end, 0 to 1.
    #[arg(long)]
    pub completion_rate: Option<f64>,
    /// Mean seconds watched.
    #[arg(long)]
    pub watch_time: Option<f64>,
    /// The tenant to act for (`tn_…`); without it, the local tenant `viral demo` uses (created on first use).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Print what was recorded as JSON (keys: concept_id, platform, score, predicted,
    /// replaced_earlier_observation).
    #[arg(long)]
    pub json: bool,
}

/// Writes a batch with this process's trend source and writer.
pub async fn generate(
    services: &Process,
    tenant: &Tenant,
    request: ConceptRequest,
) -> Result<Batch, Failure> {
    let trends = services.trend_source()?;
    let writer = services.concept_writer()?;
    concepts::generate(
        &*services.store,
        &*services.clock,
        tenant,
        request,
        None,
        &*trends,
        &*writer,
    )
    .await
    .map(|g| g.batch)
    .map_err(Failure::from)
}

pub fn print_concept_line(c: &Concept) {
    println!(
        "{}  {:>4} {:<13} {:<12} {:<10} {}",
        c.id, c.predicted_score, c.category, c.format, c.hook_style, c.title
    );
}

pub fn print_batch(b: &Batch) {
    println!(
        "batch {} — trends from {}, written by {}",
        b.id, b.trend_source, b.writer
    );
    println!(
        "{:<35}  {:>4} {:<13} {:<12} {:<10} title",
        "concept", "pred", "category", "format", "hook"
    );
    for c in &b.concepts {
        print_concept_line(c);
    }
}

pub fn print_concept(c: &Concept) {
    println!("{} — {}", c.id, c.title);
    println!("hook      {}", c.hook);
    for b in &c.beats {
        println!("  {:>5.2}s  {}", b.start_s, b.text);
    }
    println!("visual    {}", c.visual_prompt);
    println!("caption   {} {}", c.caption, c.hashtags.join(" "));
    println!(
        "kind      {} / {} / {} hook, for {}",
        c.category,
        c.format,
        c.hook_style,
        c.platforms.join(", ")
    );
    for t in &c.trends {
        println!(
            "trend     [{}] {}{}",
            t.source,
            t.title,
            t.url
                .as_deref()
                .map(|u| format!(" <{u}>"))
                .unwrap_or_default()
        );
    }
    println!("score     {} — {}", c.predicted_score, c.rationale);
}

pub async fn run(config: Config, cmd: ConceptsCommand) -> Result<ExitCode, Failure> {
    let services = Process::connect(config).await?;
    match cmd {
        ConceptsCommand::Generate {
            brief,
            tenant,
            json,
        } => {
            let tenant = tenant_of(&services, tenant).await?;
            let batch = generate(&services, &tenant, brief.request()).await?;
            if json {
                println!("{}", serde_json::to_string(&batch)?);
            } else {
                print_batch(&batch);
            }
        }
        ConceptsCommand::List {
            tenant,
            limit,
            json,
        } => {
            let tenant = tenant_of(&services, tenant).await?;
            let (list, _) =
                concepts::list(&*services.store, &tenant.id, limit.clamp(1, 100), None).await?;
            if json {
                println!("{}", serde_json::to_string(&list)?);
            } else if list.is_empty() {
                println!("no concepts yet: viral concepts generate");
            } else {
                for c in &list {
                    print_concept_line(c);
                }
            }
        }
        ConceptsCommand::Show { id, tenant } => {
            let tenant = tenant_of(&services, tenant).await?;
            let c = concepts::get(&*services.store, &tenant.id, &id).await?;
            print_concept(&c);
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn feedback(config: Config, args: FeedbackArgs) -> Result<ExitCode, Failure> {
    let services = Process::connect(config).await?;
    let tenant = tenant_of(&services, args.tenant.clone()).await?;
    let fb = Feedback {
        platform: args.platform,
        views: args.views,
        likes: args.likes,
        comments: args.comments,
        shares: args.shares,
        saves: args.saves,
        completion_rate: args.completion_rate,
        watch_time_s: args.watch_time,
        observed_at: None,
    };
    let r = concepts::record_feedback(
        &*services.store,
        &*services.clock,
        &tenant.id,
        &args.concept_id,
        fb,
    )
    .await?;
    if args.json {
        println!(
            "{}",
            json!({
                "concept_id": r.concept_id, "platform": r.platform,
                "score": r.score, "predicted": r.predicted,
                "replaced_earlier_observation": !r.first,
            })
        );
    } else {
        println!(
            "Recorded {} on {}: scored {:.3}; the learner had expected {:.3}.",
            r.concept_id, r.platform, r.score, r.predicted
        );
        if !r.first {
            println!(
                "It replaces the earlier numbers for this concept on {}.",
                r.platform
            );
        }
        println!("next      {} insights", crate::invocation::command());
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn insights(config: Config, tenant: Option<String>) -> Result<ExitCode, Failure> {
    let services = Process::connect(config).await?;
    let tenant = tenant_of(&services, tenant).await?;
    let i = concepts::insights(&*services.store, &tenant.id).await?;
    // Feedback counts whole; collected observations of young posts count less, so the evidence
    // is a weighted count.
    let n = i.observations;
    if (n - n.round()).abs() < 1e-6 {
        println!(
            "{} of this tenant's videos",
            crate::text::counted(n.round() as u64, "observation")
        );
    } else {
        println!("{n:.2} observations' worth of this tenant's videos (young posts count less)");
    }
    if i.effects.is_empty() {
        println!(
            "nothing learned yet: send feedback with `{} feedback`",
            crate::invocation::command()
        );
    }
    for e in &i.effects {
        println!("{:<28} {:+.3} ± {:.3}", e.feature, e.effect, e.sd);
    }
    for (month, error, n) in &i.calibration {
        println!("calibration {month}: mean |predicted − observed| {error:.3} over {n}");
    }
    Ok(ExitCode::SUCCESS)
}
