//! `tripline scan PATH...`: evaluate the rules over CloudTrail logs.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use rayon::prelude::*;
use tripline_alert::{raise_selected, Signal};
use tripline_io::input::expand;
use tripline_io::sink::{jsonl, text};

use super::ExitStatus;
use tripline_io::scan::{scan_input, Detection, FileOutcome, TimeRange};

use super::setup::{Setup, Totals};
use crate::ruleset::RuleArgs;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A readable table of alerts.
    Text,
    /// One JSON object per line: every signal, then every alert (the contract in the README).
    Jsonl,
}

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders of CloudTrail logs (gzip or plain JSON); `-` reads stdin.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    rules: RuleArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub(super) format: Format,
    /// Only records at or after this time (RFC 3339, or a date such as 2024-08-01).
    #[arg(long, value_parser = parse_time)]
    pub(super) since: Option<DateTime<Utc>>,
    /// Only records before this time (RFC 3339, or a date).
    #[arg(long, value_parser = parse_time)]
    pub(super) until: Option<DateTime<Utc>>,
    /// Print only problems, not the summary.
    #[arg(long, short)]
    pub(super) quiet: bool,
    /// Keep alerts in a store and remember which inputs were processed: a SQLite file path
    /// (created on first use) or a `postgres://` URL. Scanning the same files again raises
    /// nothing new; new files extend alerts whose window is still open.
    #[arg(long, env = "TRIPLINE_STORE", value_name = "PATH|URL")]
    pub(super) store: Option<String>,
}

pub(super) fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Some(t) = tripline_event::time::parse_event_time(text) {
        return Ok(t);
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("`{text}` is not a time: use RFC 3339 (2024-08-01T12:00:00Z) or a date (2024-08-01)"))
}

pub fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    let setup = Setup::load(&args.rules, args.quiet)?;
    let expanded = expand(&args.paths);
    if let Some(location) = args.store.clone().or_else(|| crate::config::get().store.clone()) {
        return super::scan_store::run(args, &location, &setup, expanded, started);
    }
    let Detection { engine, plan, .. } = &setup.detection;
    let range = TimeRange { since: args.since, until: args.until };
    let progress = progress_bar(expanded.inputs.len());
    let outcomes: Vec<FileOutcome> = expanded
        .inputs
        .par_iter()
        .map(|input| {
            let outcome = scan_input(&setup.detection, input, range);
            progress.inc(1);
            outcome
        })
        .collect();
    progress.finish_and_clear();

    let mut totals = Totals { digests: expanded.digests.len() as u64, files: expanded.inputs.len() as u64, ..Totals::default() };
    let mut problems = expanded.problems;
    // Sized up front: a noisy rule set can flag most records, and growing by doubling would
    // copy every signal several times.
    let found: usize = outcomes.iter().map(|o| o.signals.len()).sum();
    let mut rule_of = Vec::with_capacity(found);
    let mut signals: Vec<Signal> = Vec::with_capacity(found);
    for outcome in outcomes {
        totals.add(&outcome);
        problems.extend(outcome.problems);
        for (rule, signal) in outcome.signals {
            rule_of.push(rule);
            signals.push(signal);
        }
    }
    for problem in &problems {
        eprintln!("{problem}");
    }
    for (rule, signal) in plan.run(engine.rules(), &rule_of, &signals) {
        rule_of.push(rule);
        signals.push(signal);
    }
    let rules: Vec<&tripline_rule::Rule> = engine.rules().iter().map(AsRef::as_ref).collect();
    // Rules a correlation uses with `generate: false` raise no alerts of their own.
    let alerting: Vec<usize> = (0..signals.len()).filter(|&i| !plan.is_silenced(rule_of[i])).collect();
    let outcome = raise_selected(&rules, &rule_of, &signals, alerting);

    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match args.format {
        Format::Jsonl => {
            for signal in &signals {
                jsonl::write_signal(&mut out, signal)?;
            }
            for alert in &outcome.alerts {
                jsonl::write_alert(&mut out, alert)?;
            }
        }
        Format::Text => text::write_alerts(&mut out, &outcome.alerts, &signals)?,
    }
    out.flush().context("failed to write results")?;

    setup.report_suppressions(&totals.suppressed, args.quiet);
    if !args.quiet {
        let dropped: u64 = outcome.dropped.values().sum();
        for (rule, n) in &outcome.dropped {
            eprintln!("warning: rule `{rule}` reached max_alerts: {n} alert(s) not raised");
        }
        eprintln!(
            "{}; {} signal(s), {} alert(s) ({} dropped by max_alerts, {} signal(s) below threshold) in {:.2}s",
            totals.describe(), signals.len(), outcome.alerts.len(), dropped, outcome.below_threshold, started.elapsed().as_secs_f64()
        );
    }
    let input_errors = problems.iter().any(|p| !p.warning);
    // The process ends here: freeing a large scan's signals one by one costs more than the
    // operating system reclaiming them at exit.
    std::mem::forget(signals);
    Ok(if input_errors || setup.has_errors() {
        ExitStatus::Error
    } else if outcome.alerts.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    })
}

/// A progress bar on stderr, only when stderr is a terminal and there is enough to wait for.
fn progress_bar(inputs: usize) -> indicatif::ProgressBar {
    if inputs < 64 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(inputs as u64);
    if let Ok(style) = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed}") {
        bar.set_style(style);
    }
    bar
}
