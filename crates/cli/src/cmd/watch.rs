//! `tripline watch DIR --store …`: follow a folder as CloudTrail (or a sync of its bucket)
//! delivers files into it. Each poll evaluates the files the store has not processed yet —
//! each exactly once, across restarts, because the store keeps the checkpoints — and prints
//! their new signals and the alerts they raised or extended.
//!
//! Files come from a `Folder` source, which offers each file once it has settled and until
//! its results are committed. Polling, not file-system events: it works the same on local disks, network mounts and
//! synced folders, and a poll every few seconds is plenty for logs delivered every 5 minutes.

use std::path::PathBuf;
use std::time::Duration;

use tripline_pipeline::scan::TimeRange;
use tripline_pipeline::source::{Folder, Source};

use tripline_pipeline::run::stored::{
    apply_retention, deliver, open, pending, read_and_commit, write_results, Outputs, RunState,
};
use tripline_pipeline::Totals;

use super::ExitStatus;
use crate::options::{DetectArgs, OutputArgs, RuleArgs};

#[derive(clap::Args)]
pub struct Args {
    /// The folder to follow (any `AWSLogs/…` layout under it).
    dir: PathBuf,
    /// The store that remembers processed files and alerts: a SQLite path or `postgres://` URL.
    #[arg(long, env = "TRIPLINE_STORE", value_name = "PATH|URL")]
    store: Option<String>,
    #[command(flatten)]
    rules: RuleArgs,
    #[command(flatten)]
    detect: DetectArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// How often to look for new files.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Leave files modified more recently than this alone until a later poll (a file still
    /// being written is read once it is complete).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    settle: Duration,
    /// Stop after this many polls (for scripts and tests); by default, run until stopped.
    #[arg(long)]
    polls: Option<u64>,
    /// Print only problems and findings, not a line per poll that found files.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: &Args, config: &tripline_pipeline::Config) -> anyhow::Result<ExitStatus> {
    if !args.dir.is_dir() {
        anyhow::bail!("{} is not a folder to watch", args.dir.display());
    }
    let location = crate::options::store(args.store.as_ref(), config)?;
    let setup = crate::options::setup(&args.rules, &args.detect, config, args.quiet)?;
    let mut store = open(&location)?;
    // Notifying outputs are opened once and fed from the outbox; the others once per poll.
    let specs = args.output.specs(config)?;
    let outbox = OutputArgs::outbox_of(&specs)?;
    let rules =
        setup.ruleset.rules.iter().map(|r| (r.meta.id.clone(), std::sync::Arc::clone(r))).collect();
    if !args.quiet {
        note!(
            "watching {} every {} (store {})",
            args.dir.display(),
            humantime::format_duration(args.interval),
            store.label()
        );
    }
    let mut status = ExitStatus::Success;
    let mut poll = 0;
    let mut source = Folder::new(&args.dir, args.settle);
    loop {
        let listing = source.poll();
        for problem in &listing.problems {
            note!("{problem}");
        }
        let mut run = RunState::default();
        let todo = pending(&mut store, &setup, &mut source, listing.units, &mut run)?;
        if !todo.is_empty() {
            let mut totals = Totals { files: todo.len() as u64, ..Totals::default() };
            // Outputs are opened for each poll that found files: the table is one per poll.
            let mut router = OutputArgs::router_of(&specs, &setup, true)?;
            let mut print = |problem: &tripline_io::Problem| note!("{problem}");
            if read_and_commit(
                &mut store,
                &setup,
                &mut source,
                &todo,
                TimeRange::default(),
                &mut run,
                &mut totals,
                &mut Outputs { router: &mut router, outbox: &outbox, rules: &rules },
                &mut print,
            )? {
                status = ExitStatus::Error;
            }
            let alerts = write_results(&mut router, &mut run)?;
            if crate::options::finish_outputs(&mut router, args.quiet)? {
                status = ExitStatus::Error;
            }
            if !alerts.is_empty() && status == ExitStatus::Success {
                status = ExitStatus::Findings;
            }
            crate::options::report_suppressions(&setup, &totals.suppressed, true);
            if !args.quiet {
                note!(
                    "{}; {} new signal(s), {} alert(s) raised or extended",
                    totals.describe(),
                    run.fresh,
                    alerts.len()
                );
            }
        }
        // Every poll, new files or not: a receiver that was down gets its backlog.
        if crate::options::report_outbox(&deliver(&mut store, &outbox)?, args.quiet) {
            status = ExitStatus::Error;
        }
        if let Some(retention) = config.retention {
            apply_retention(&mut store, retention)?;
        }
        poll += 1;
        if args.polls.is_some_and(|n| poll >= n) {
            return Ok(status);
        }
        std::thread::sleep(args.interval);
    }
}
