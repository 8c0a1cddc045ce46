//! `tripline scan PATH...`: evaluate the rules over CloudTrail logs.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use tripline_pipeline::scan::TimeRange;
use tripline_pipeline::source::objects::{narrowing, Remote};
use tripline_pipeline::source::{Paths, Source};

use tripline_pipeline::run::memory::{scan_in_order, Collector};
use tripline_pipeline::sink::SinkError;
use tripline_pipeline::Totals;

use super::ExitStatus;
use crate::options::{AwsArgs, DetectArgs, OutputArgs, RuleArgs};

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders of CloudTrail logs (gzip or plain JSON), `s3://bucket/prefix`, or `-`
    /// for stdin.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Only these accounts' logs from s3:// inputs (by the AWSLogs/ layout's key names;
    /// repeat or separate with commas).
    #[arg(long = "account", value_name = "ID", value_delimiter = ',')]
    accounts: Vec<String>,
    /// Only these regions' logs from s3:// inputs (by key names; repeat or separate with
    /// commas).
    #[arg(long = "region", value_name = "REGION", value_delimiter = ',')]
    regions: Vec<String>,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    rules: RuleArgs,
    #[command(flatten)]
    detect: DetectArgs,
    #[command(flatten)]
    pub(super) output: OutputArgs,
    /// Only records at or after this time: RFC 3339, a date such as 2024-08-01, or a span
    /// back from now such as 24h or 7d.
    #[arg(long, value_parser = parse_time)]
    pub(super) since: Option<DateTime<Utc>>,
    /// Only records before this time (as for --since).
    #[arg(long, value_parser = parse_time)]
    pub(super) until: Option<DateTime<Utc>>,
    /// Print only problems, not the summary.
    #[arg(long, short)]
    pub(super) quiet: bool,
    /// Keep alerts in a store and remember which inputs were processed: a SQLite file path
    /// (created on first use) or a `postgres://` URL. Scanning the same files again raises
    /// nothing new; new files extend alerts whose window is still open; files read before are
    /// evaluated again for rules that are new or changed since, and only for those.
    #[arg(long, env = "TRIPLINE_STORE", value_name = "PATH|URL")]
    pub(super) store: Option<String>,
    /// With --store: evaluate every input again for every rule (what the store has already
    /// is recognised, so nothing is raised twice).
    #[arg(long, requires = "store")]
    pub(super) rescan: bool,
}

pub(super) fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    if let Some(t) = tripline_event::time::parse_event_time(text) {
        return Ok(t);
    }
    if let Ok(span) = humantime::parse_duration(text) {
        let span =
            chrono::Duration::from_std(span).map_err(|_| format!("`{text}` is too long a span"))?;
        return Utc::now()
            .checked_sub_signed(span)
            .ok_or_else(|| format!("`{text}` is too long a span"));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| format!("`{text}` is not a time: use RFC 3339 (2024-08-01T12:00:00Z), a date (2024-08-01) or a span back from now (24h, 7d)"))
}

pub fn run(args: &Args, config: &tripline_pipeline::Config) -> anyhow::Result<ExitStatus> {
    let started = Instant::now();
    if let Some(queue) =
        args.paths.iter().filter_map(|p| p.to_str()).find(|p| p.starts_with("sqs://"))
    {
        // A scan has no store to commit to before deleting messages: a queue is followed.
        anyhow::bail!(
            "{queue}: a queue is followed, not scanned (its messages are deleted only once their results are committed to a store)\n  hint: `tripline watch {queue} --store PATH --until-empty` reads it until it is empty"
        );
    }
    let setup = crate::options::setup(&args.rules, &args.detect, config, args.quiet)?;
    let range = TimeRange { since: args.since, until: args.until };
    let remote = Remote {
        aws: args.aws.options(),
        narrowing: narrowing(&args.accounts, &args.regions, range),
    };
    let mut source = Paths::with_remote(&args.paths, remote);
    if let (Some(since), Some(until)) = (args.since, args.until) {
        anyhow::ensure!(
            since < until,
            "--since ({since}) is not before --until ({until}): no record could be scanned"
        );
    }
    let listing = source.poll();
    if listing.units.is_empty() && listing.problems.is_empty() {
        // An empty result from a mistyped folder must not pass for a quiet day.
        let paths: Vec<String> = args.paths.iter().map(|p| p.display().to_string()).collect();
        note!(
            "warning: no CloudTrail log file found in {}: nothing was scanned (is the path right?)",
            paths.join(", ")
        );
    }
    if let Some(location) = args.store.clone().or_else(|| config.store.clone()) {
        return super::scan_store::run(
            args,
            config,
            &location,
            &setup,
            &mut source,
            listing,
            started,
        );
    }
    let mut router = args.output.router(config, &setup)?;
    // Signals stream to stdout as they are found: no bar drawn between them on one terminal.
    let streaming_to_terminal =
        args.output.streams_to_stdout(config) && std::io::stdout().is_terminal();
    let progress = if streaming_to_terminal {
        indicatif::ProgressBar::hidden()
    } else {
        progress_bar(listing.units.len())
    };
    let mut totals = Totals { files: listing.units.len() as u64, ..Totals::listed(&listing) };
    let mut input_errors = false;
    for problem in &listing.problems {
        note!("{problem}");
        input_errors |= !problem.warning;
    }
    let mut collector = Collector::new(&setup.detection, &mut router);
    let inputs: Vec<_> = listing.units.iter().map(|u| u.input.clone()).collect();
    // With stdout the only output, a reader that has gone ends the reading (`yes … | tripline
    // scan - | head`); what was read is still counted and alerted on.
    let only_stdout = args.output.only_stdout(config);
    let scanned = scan_in_order(&setup.detection, &inputs, range, |outcome| {
        if only_stdout && tripline_pipeline::sink::stdout::reader_gone() {
            return Err(SinkError::Io {
                target: "-".into(),
                source: std::io::ErrorKind::BrokenPipe.into(),
            });
        }
        if !outcome.partial {
            progress.inc(1);
        }
        totals.add(&outcome);
        for problem in &outcome.problems {
            progress.suspend(|| note!("{problem}"));
        }
        input_errors |= outcome.has_errors();
        let partial = outcome.partial;
        outcome.signals.into_iter().try_for_each(|(rule, signal)| collector.take(rule, signal))?;
        // A stream's signals are seen as they are found, not when a buffer fills.
        if partial {
            collector.flush()?;
        }
        Ok(())
    });
    match scanned {
        Err(e) if e.is_broken_pipe() => {}
        other => other.context("failed to write results")?,
    }
    progress.finish_and_clear();
    let (outcome, signals) = collector.finish().context("failed to write results")?;
    let undelivered = crate::options::finish_outputs(&mut router, args.quiet)?;
    listing.units.iter().for_each(|unit| source.ack(unit));

    crate::options::report_suppressions(&setup, &totals.suppressed, args.quiet);
    if !args.quiet {
        let dropped: u64 = outcome.dropped.values().sum();
        for (rule, n) in &outcome.dropped {
            note!("warning: rule `{rule}` reached max_alerts: {n} alert(s) not raised");
        }
        note!(
            "{}; {} signal(s), {} alert(s) ({} dropped by max_alerts, {} signal(s) below threshold) in {:.2}s",
            totals.describe(), signals, outcome.alerts.len(), dropped, outcome.below_threshold, started.elapsed().as_secs_f64()
        );
    }
    let status = if input_errors || setup.has_errors() || undelivered {
        ExitStatus::Error
    } else if outcome.alerts.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    };
    // The process ends here: freeing a large scan's alerts one by one costs more than the
    // operating system reclaiming them at exit.
    std::mem::forget(outcome);
    Ok(status)
}

/// A progress bar on stderr, only when stderr is a terminal and there is enough to wait for.
fn progress_bar(inputs: usize) -> indicatif::ProgressBar {
    if inputs < 64 || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(inputs as u64);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} files {elapsed}")
    {
        bar.set_style(style);
    }
    bar
}
