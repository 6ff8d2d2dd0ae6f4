//! `viral`: the local server, tenants, health checks and benchmarks.

// `viral up` serves every tenant from one process: a panicking request must answer 500 and
// leave the server running, which needs panics to unwind (README *Panics*).
#[cfg(not(panic = "unwind"))]
compile_error!(
    "viral must be built with panic = \"unwind\": `viral up` keeps serving after a panicking request only when panics unwind"
);

mod bench;
mod bench_cold;
mod bench_cost;
mod bench_learner;
mod bench_media;
mod bench_pipeline;
mod bench_routing;
mod concepts;
mod connections;
mod dashboard;
mod doctor;
mod failure;
mod invocation;
mod metrics;
mod publish;
mod server;
mod simulate;
mod tenant;
mod text;
mod video;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "viral",
    version,
    about = "Trends to short vertical videos, on your machine or on AWS"
)]
struct Cli {
    /// Where local state lives (database, media, signing key).
    #[arg(long, env = "VIRAL_DATA_DIR", global = true, default_value = ".viral")]
    data_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (every route), the dashboard and signed media URLs; prints a sign-in link.
    Up {
        /// Port to listen on.
        #[arg(long, default_value_t = 3000)]
        port: u16,
        /// Address to listen on. Keep the default unless you mean to expose the server.
        #[arg(long, default_value = "127.0.0.1")]
        host: std::net::IpAddr,
    },
    /// Print a one-time sign-in link for the dashboard `viral up` serves (and open it when a
    /// browser is there); `viral dashboard export` writes the files for a static host.
    Dashboard(dashboard::DashboardArgs),
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        command: tenant::TenantCommand,
    },
    /// The main job end to end: a local tenant, trends (the dated sample set unless keys are
    /// set), five concepts, the best one rendered through the workflow (built-in storyboard
    /// renderer unless providers are configured), validated and stored, posted to a sandbox
    /// channel, and — a simulated day later — its simulated numbers collected and learned from;
    /// prints each step.
    Demo {
        #[command(flatten)]
        brief: concepts::BriefArgs,
        /// Stop after the video (no sandbox post, no simulated day).
        #[arg(long)]
        video_only: bool,
        /// Instead: run autopilot for this many simulated days on a sandbox channel (no video
        /// rendering, a throwaway store) and print what the learner came to believe.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=91))]
        days: Option<u32>,
    },
    /// Does the loop learn? Autopilot on sandbox channels against a simulated audience for
    /// weeks of simulated time: engagement per week with learning, at random, and of an oracle.
    Simulate(simulate::SimulateArgs),
    /// Concept batches: write, list, show.
    Concepts {
        #[command(subcommand)]
        command: concepts::ConceptsCommand,
    },
    /// Report how a published concept did on a platform; the learner takes it in.
    Feedback(concepts::FeedbackArgs),
    /// What the learner believes works for a tenant, and how well it has predicted.
    Insights {
        /// The tenant to act for (`tn_…`); without it, the local tenant `viral demo` uses (created on first use).
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Video jobs.
    Video {
        #[command(subcommand)]
        command: video::VideoCommand,
    },
    /// Connected social accounts: list, connect (sandbox, TikTok, YouTube, Instagram), remove.
    Accounts {
        #[command(subcommand)]
        command: publish::AccountsCommand,
    },
    /// Publish a finished video to connected accounts (one post each), now or at a time.
    Publish(publish::PublishArgs),
    /// The tenant's posts and where each is; `--watch` follows them.
    Posts(publish::PostsArgs),
    /// A published post's numbers over time, as the collector fetched them.
    Metrics(metrics::MetricsArgs),
    /// Check the configuration and that every backend answers.
    Doctor,
    /// Measure performance; figures are ratios against a baseline from the same run.
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Up { .. }) {
        viral_runtime::telemetry::init();
    }
    let config = match viral_runtime::Config::from_env() {
        Ok(mut c) => {
            c.data_dir = cli.data_dir.clone();
            c
        }
        Err(e) => {
            eprintln!("viral: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Up { port, host } => server::up(config, host, port).await,
        Command::Dashboard(args) => dashboard::run(config, args).await,
        Command::Tenant { command } => tenant::run(config, command).await,
        Command::Doctor => doctor::run(config).await,
        Command::Demo {
            days: Some(days), ..
        } => simulate::demo_days(days).await,
        Command::Demo {
            brief, video_only, ..
        } => video::demo(config, brief, !video_only).await,
        Command::Accounts { command } => publish::accounts_run(config, command).await,
        Command::Publish(args) => publish::publish(config, args).await,
        Command::Posts(args) => publish::posts_run(config, args).await,
        Command::Metrics(args) => metrics::run(config, args).await,
        Command::Concepts { command } => concepts::run(config, command).await,
        Command::Feedback(args) => concepts::feedback(config, args).await,
        Command::Insights { tenant } => concepts::insights(config, tenant).await,
        Command::Video { command } => video::run_command(config, command).await,
        Command::Bench { command } => bench::run(command).await,
        Command::Simulate(args) => simulate::simulate(args).await,
    };
    match result {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every flag and argument of every command says what it is in `--help`.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&cmd, "viral", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:#?}");
    }
}
