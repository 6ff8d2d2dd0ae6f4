//! `viral simulate`: does the loop learn? Autopilot runs tenants' sandbox channels for weeks
//! on a simulated clock against the simulated audience (`viral_core::domain::audience`: hidden
//! effects per category, format, hook style, platform and posting hour, noise per post), with
//! no network and no cloud. Three arms on the same seeds:
//! - **learning**: production autopilot — the rule writer steered by the tenant's learner,
//!   the Thompson pick of concept and hour, the real collector feeding the learner;
//! - **random**: concepts written without the learner, picked and timed at random;
//! - **oracle**: the concepts and hour the audience's true effects say are best.
//!
//! Everything but rendering and the platform is the production path: autopilot's runs
//! (slots, budget, quotas), the publish steps on the sandbox channel, the collector on its
//! cadence, the learner and its fold. Videos are finished at once (the simulated audience does
//! not watch pixels).

use std::fmt::Write as _;

use crate::text::counted;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use clap::Args;
use serde_json::json;
use viral_core::domain::Plan;
use viral_core::domain::account::Platform;
use viral_core::domain::audience::Audience;
use viral_core::domain::autopilot::{Approval, Picker, QuietHours, Settings};
use viral_core::domain::concept::{
    self, Brief, Concept, FORMATS, HOOK_STYLES, Trend, write_offline,
};
use viral_core::domain::learner::{Evidence, Kind, Posterior};
use viral_core::domain::publish_limits::PublishLimits;
use viral_core::domain::routing::ProviderInfo;
use viral_core::ports::{
    ConceptWriter, Publishers, RuleWriter, SampleTrends, SourceError, TokenVault,
};
use viral_core::service::autopilot::{self, Runner};
use viral_core::service::collector::{self, Collector};
use viral_core::service::publishing::Ctx;
use viral_core::service::{connect, posts, tenants};
use viral_core::{ManualClock, Timestamp};
use viral_embedded::{FileTokenVault, FsBlobStore, SqliteItemStore, UrlSigner};
use viral_steps::simulated::InstantWorkflow;

use crate::failure::Failure;

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Simulated days.
    #[arg(long, default_value_t = 28, value_parser = clap::value_parser!(u32).range(7..=91))]
    pub days: u32,
    /// Tenants per arm (each with its own sandbox channel and learner; they share the
    /// platform-wide prior as on a real deployment).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=20))]
    pub tenants: u64,
    /// The first seed; seeds `S`, `S+1`, … each draw their own audience.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How many seeds to average over.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub seeds: u64,
    /// Autopilot's posts per day.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=12))]
    pub posts_per_day: u32,
    /// Print the result as JSON (stable keys: days, seeds, weeks[], target).
    #[arg(long)]
    pub json: bool,
    /// Write a plot of engagement by day to this SVG file.
    #[arg(long)]
    pub plot: Option<PathBuf>,
}

/// The arms, in print order.
const ARMS: [&str; 3] = ["learning", "random", "oracle"];
/// Week 4's targets: learning reaches this share of the oracle…
const TARGET_OF_ORACLE: f64 = 0.85;
/// …and beats random by this much.
const TARGET_OVER_RANDOM: f64 = 0.30;
/// The simulation's first day: a 28-day February, one quota period.
const START: Timestamp = Timestamp(1_801_526_400_000); // 2027-02-01T00:00:00Z
const HOUR: Duration = Duration::from_secs(3600);

/// Writes concepts as the rule writer does, with a fixed belief instead of the tenant's
/// learner: none (random arm) or the audience's truth (oracle arm).
struct FixedBeliefWriter {
    belief: Posterior,
}

#[async_trait]
impl ConceptWriter for FixedBeliefWriter {
    fn name(&self) -> &str {
        "rules"
    }

    async fn write(
        &self,
        trends: &[Trend],
        brief: &Brief,
        _: &Posterior,
        seed: u64,
    ) -> Result<Vec<Concept>, SourceError> {
        Ok(write_offline(
            trends,
            brief,
            &self.belief,
            seed,
            &mut || viral_core::ids::new_id("cn"),
        ))
    }
}

/// A posterior that knows the audience's true effects of every kind the sample trends allow.
fn truth(audience: &Audience) -> Posterior {
    let mut e = Evidence::default();
    let mut categories: Vec<String> = concept::sample_trends()
        .into_iter()
        .map(|t| t.category)
        .collect();
    categories.sort();
    categories.dedup();
    for c in &categories {
        for f in FORMATS {
            for h in HOOK_STYLES {
                let kind = Kind {
                    category: c.clone(),
                    format: f.into(),
                    hook: h.into(),
                };
                let features = kind.features().to_vec();
                e.observe_features(&features, audience.mean_rate(&features), 100.0);
            }
        }
    }
    Posterior::of(&e)
}

/// One arm on one seed: engagement (the collector's last score) of each post by its day, and
/// what the first tenant's learner believes at the end.
async fn run_arm(
    arm: &str,
    seed: u64,
    args: &SimulateArgs,
) -> Result<(Vec<(u32, f64)>, Posterior), Failure> {
    let dir = tempfile::tempdir()?;
    let clock = Arc::new(ManualClock::new(START));
    let store = SqliteItemStore::open(&dir.path().join("viral.db"))
        .map_err(|e| format!("simulation store: {e}"))?;
    let blobs = FsBlobStore::new(
        &dir.path().join("blobs"),
        UrlSigner::new(b"simulation", "http://127.0.0.1", clock.clone()),
    );
    let vault = FileTokenVault::from_key_file(&dir.path().join("vault.key"))?;
    let audience = Audience::new(seed);
    let publishers = Publishers::default().with(Arc::new(viral_social::SandboxPublisher {
        audience_seed: seed,
    }));
    let limits = PublishLimits::default();
    let ctx = Ctx {
        store: &store,
        blobs: &blobs,
        vault: &vault as &dyn TokenVault,
        clock: &*clock,
        publishers: &publishers,
        limits: &limits,
    };
    let flow = InstantWorkflow::new(ctx);
    let (picker, writer): (Picker, Box<dyn ConceptWriter>) = match arm {
        "learning" => (Picker::Thompson, Box::new(RuleWriter)),
        "random" => (
            Picker::Random,
            Box::new(FixedBeliefWriter {
                belief: Posterior::of(&Evidence::default()),
            }),
        ),
        _ => (
            Picker::Oracle(audience),
            Box::new(FixedBeliefWriter {
                belief: truth(&audience),
            }),
        ),
    };
    let profiles = vec![ProviderInfo::storyboard().profile];
    let platforms = [Platform::Sandbox];
    let runner = Runner {
        store: &store,
        clock: &*clock,
        trends: &SampleTrends,
        writer: &*writer,
        workflow: &flow,
        profiles: &profiles,
        platforms: &platforms,
        picker,
        seed: Some(seed),
        dashboard_url: "http://127.0.0.1:3000",
    };
    let mut tenant_ids = Vec::new();
    for i in 0..args.tenants {
        let t = tenants::create_tenant(&store, &*clock, &format!("Sim {i}"), Plan::Agency)
            .await?
            .tenant;
        let channel = connect::sandbox(&store, &vault, &*clock, &t.id, "Sim channel").await?;
        let settings = Settings {
            enabled: true,
            niche: None,
            categories: vec![],
            regions: vec![],
            targets: vec![channel.id],
            posts_per_day: args.posts_per_day,
            daily_budget_cents: 1_000,
            quiet_hours: QuietHours { start: 1, end: 7 },
            timezone: "UTC".into(),
            approval: Approval::Auto,
            duration_s: 15.0,
        };
        autopilot::put(&store, &*clock, &t.id, settings).await?;
        tenant_ids.push(t.id);
    }
    let collector = Collector {
        store: &store,
        vault: &vault,
        clock: &*clock,
        publishers: &publishers,
    };
    // The days of autopilot, then two more of collecting so the last posts' numbers mature.
    let hours = (args.days + 2) * 24;
    for h in 0..hours {
        if h < args.days * 24 {
            for t in &tenant_ids {
                runner.tick(t).await?;
            }
        }
        flow.drive().await?;
        collector.pass().await?;
        clock.advance(HOUR);
    }
    let mut out = Vec::new();
    for t in &tenant_ids {
        let page = posts::list(&store, t, &posts::Filter::default(), 1000, None).await?;
        for post in page.posts {
            let Some(published) = post.published_at else {
                continue;
            };
            let (_, series) = collector::series(&store, t, &post.id).await?;
            if let Some(score) = series.last().and_then(|o| o.score) {
                let day = ((published.millis() - START.millis()) / 86_400_000) as u32;
                out.push((day, score));
            }
        }
    }
    let learner = viral_core::service::learning::learner(&store, &tenant_ids[0]).await?;
    Ok((out, learner))
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

pub async fn simulate(args: SimulateArgs) -> Result<ExitCode, Failure> {
    let seeds: Vec<u64> = (0..args.seeds).map(|i| args.seed.wrapping_add(i)).collect();
    if !args.json {
        eprintln!(
            "simulate  {} · {} · {} a day · seeds {}–{} · a simulated audience, not real people",
            counted(args.days, "day"),
            counted(args.tenants, "tenant"),
            counted(args.posts_per_day, "post"),
            seeds[0],
            seeds[seeds.len() - 1]
        );
    }
    // by_day[arm][day] = the seeds' per-day means.
    let days = args.days as usize;
    let mut by_day: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); days]; ARMS.len()];
    let mut by_week: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); days.div_ceil(7)]; ARMS.len()];
    for (i, seed) in seeds.iter().enumerate() {
        for (a, arm) in ARMS.iter().enumerate() {
            let (scores, _) = run_arm(arm, *seed, &args).await?;
            for (d, slot) in by_day[a].iter_mut().enumerate() {
                let day: Vec<f64> = scores
                    .iter()
                    .filter(|(x, _)| *x as usize == d)
                    .map(|(_, s)| *s)
                    .collect();
                if let Some(m) = mean(&day) {
                    slot.push(m);
                }
            }
            for (w, week) in by_week[a].iter_mut().enumerate() {
                let s: Vec<f64> = scores
                    .iter()
                    .filter(|(x, _)| *x as usize / 7 == w)
                    .map(|(_, s)| *s)
                    .collect();
                if let Some(m) = mean(&s) {
                    week.push(m);
                }
            }
        }
        if !args.json {
            eprintln!("seed      {seed} done ({}/{})", i + 1, seeds.len());
        }
    }
    let weeks: Vec<[f64; 3]> = (0..days.div_ceil(7))
        .map(|w| std::array::from_fn(|a| mean(&by_week[a][w]).unwrap_or(0.0)))
        .collect();
    let last = weeks.last().copied().unwrap_or_default();
    let (of_oracle, over_random) = (
        if last[2] > 0.0 {
            last[0] / last[2]
        } else {
            0.0
        },
        if last[1] > 0.0 {
            last[0] / last[1] - 1.0
        } else {
            0.0
        },
    );
    let met = of_oracle >= TARGET_OF_ORACLE && over_random >= TARGET_OVER_RANDOM;
    if let Some(path) = &args.plot {
        let daily: Vec<Vec<Option<f64>>> = (0..ARMS.len())
            .map(|a| by_day[a].iter().map(|d| mean(d)).collect())
            .collect();
        std::fs::write(path, plot(&daily, &args, seeds.len()))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    if args.json {
        let out = json!({
            "simulated": true,
            "days": args.days,
            "tenants": args.tenants,
            "posts_per_day": args.posts_per_day,
            "seeds": seeds,
            "weeks": weeks.iter().enumerate().map(|(w, r)| json!({
                "week": w + 1, "learning": round3(r[0]), "random": round3(r[1]), "oracle": round3(r[2]),
            })).collect::<Vec<_>>(),
            "target": {
                "learning_of_oracle": round3(of_oracle),
                "learning_over_random": round3(over_random),
                "of_oracle_at_least": TARGET_OF_ORACLE,
                "over_random_at_least": TARGET_OVER_RANDOM,
                "met": met,
            },
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "engagement per week (mean score of the week's posts, 0–1; {} averaged):",
        counted(seeds.len() as u64, "seed")
    );
    println!("week  learning  random  oracle  learning/oracle  learning vs random");
    for (w, r) in weeks.iter().enumerate() {
        println!(
            "{:<4}  {:>8.3}  {:>6.3}  {:>6.3}  {:>14.0} %  {:>+16.0} %",
            w + 1,
            r[0],
            r[1],
            r[2],
            100.0 * r[0] / r[2].max(1e-9),
            100.0 * (r[0] / r[1].max(1e-9) - 1.0)
        );
    }
    println!(
        "week {}: learning reaches {:.0} % of the oracle (target ≥ {:.0} %) and beats random by {:+.0} % (target ≥ +{:.0} %): {}",
        weeks.len(),
        100.0 * of_oracle,
        100.0 * TARGET_OF_ORACLE,
        100.0 * over_random,
        100.0 * TARGET_OVER_RANDOM,
        if met { "met" } else { "not met" }
    );
    if let Some(p) = &args.plot {
        println!("plot      {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A small SVG line chart: engagement by day for each arm (a day without posts is skipped).
fn plot(daily: &[Vec<Option<f64>>], args: &SimulateArgs, seeds: usize) -> String {
    let (w, h, pad) = (720.0, 360.0, 48.0);
    let days = daily.first().map_or(1, Vec::len).max(2);
    let top = daily
        .iter()
        .flatten()
        .flatten()
        .fold(0.0_f64, |m, x| m.max(*x))
        .max(0.01)
        * 1.1;
    let x = |d: usize| pad + (w - 2.0 * pad) * d as f64 / (days - 1) as f64;
    let y = |v: f64| h - pad - (h - 2.0 * pad) * v / top;
    let colours = ["#1b7f3b", "#8a8a8a", "#1f4fb4"];
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" font-family="sans-serif" font-size="12">"#
    );
    let _ = write!(
        s,
        r#"<title>Engagement by day: learning vs random vs oracle ({}, {}, simulated audience)</title><rect width="{w}" height="{h}" fill="white"/>"#,
        counted(args.days, "day"),
        counted(seeds as u64, "seed")
    );
    let _ = write!(
        s,
        r##"<line x1="{pad}" y1="{}" x2="{}" y2="{}" stroke="#333"/><line x1="{pad}" y1="{pad}" x2="{pad}" y2="{}" stroke="#333"/>"##,
        h - pad,
        w - pad,
        h - pad,
        h - pad
    );
    for i in 0..=4 {
        let v = top * f64::from(i) / 4.0;
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end">{v:.2}</text>"#,
            pad - 6.0,
            y(v) + 4.0
        );
    }
    for d in (0..days).step_by(7) {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">day {}</text>"#,
            x(d),
            h - pad + 18.0,
            d + 1
        );
    }
    let _ = write!(
        s,
        r#"<text x="{pad}" y="{}">engagement (0–1), mean of the day's posts over {seeds} seeds; simulated audience</text>"#,
        pad - 18.0
    );
    for (a, series) in daily.iter().enumerate() {
        let points: Vec<String> = series
            .iter()
            .enumerate()
            .filter_map(|(d, v)| v.map(|v| format!("{:.1},{:.1}", x(d), y(v))))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{}" stroke-width="2" points="{}"/>"#,
            colours[a],
            points.join(" ")
        );
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" fill="{}">— {}</text>"#,
            pad + 120.0 * a as f64,
            h - 10.0,
            colours[a],
            ARMS[a]
        );
    }
    s.push_str("</svg>\n");
    s
}

/// `viral demo --days N`: N simulated days of autopilot on a sandbox channel whose audience is
/// the documented sandbox audience, in a throwaway store (the data dir is not touched); prints
/// each day and what the learner came to believe beside the audience's hidden truth.
pub async fn demo_days(days: u32) -> Result<ExitCode, Failure> {
    let seed = viral_core::domain::audience::SANDBOX_SEED;
    let args = SimulateArgs {
        days,
        tenants: 1,
        seed,
        seeds: 1,
        posts_per_day: 3,
        json: false,
        plot: None,
    };
    println!(
        "autopilot {} on a sandbox channel, 3 posts a day, against the sandbox's simulated audience (not real people); nothing is written to your data dir",
        counted(days, "simulated day")
    );
    let (scores, learner) = run_arm("learning", seed, &args).await?;
    for d in 0..days {
        let day: Vec<f64> = scores
            .iter()
            .filter(|(x, _)| *x == d)
            .map(|(_, s)| *s)
            .collect();
        println!(
            "day {:<3} {:<8} engagement {}",
            d + 1,
            counted(day.len() as u64, "post"),
            mean(&day).map_or("–".into(), |m| format!("{m:.3}"))
        );
    }
    let audience = Audience::new(seed);
    let mut beliefs: Vec<(String, f64, f64)> = learner
        .features
        .iter()
        .filter_map(|f| learner.effect(f).map(|(e, sd)| (f.clone(), e, sd)))
        .collect();
    beliefs.sort_by(|a, b| b.1.total_cmp(&a.1));
    println!(
        "learned   what the learner believes works (effect on engagement ± sd) beside the audience's hidden effect on its rate:"
    );
    let shown: Vec<&(String, f64, f64)> = beliefs
        .iter()
        .take(5)
        .chain(beliefs.iter().rev().take(3).rev())
        .collect();
    let mut seen = Vec::new();
    for (f, e, sd) in shown {
        if seen.contains(&f) {
            continue;
        }
        seen.push(f);
        println!(
            "  {f:<24} {e:>+7.3} ± {sd:.3}   hidden {:+.3}",
            audience.effect(f)
        );
    }
    println!(
        "next      {} simulate --days 28   (learning vs random vs oracle over 10 seeds)",
        crate::invocation::command()
    );
    Ok(ExitCode::SUCCESS)
}
