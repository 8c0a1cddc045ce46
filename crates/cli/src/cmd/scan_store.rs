//! `tripline scan --store …`: the scan, with alert state kept in a store.
//!
//! Inputs the store has fully processed (same path, size and modification time) with the same
//! rules are not read, those read by other rules are read again for the new or changed ones;
//! the rest are committed in batches (`tripline_pipeline::run::stored`). Output lists this run's
//! new signals, each batch's as soon as it is committed, then the alerts they raised or extended.

use std::time::Instant;

use tripline_pipeline::run::stored::{
    apply_retention, deliver, open, pending, read_and_commit, write_results, Outputs, RunState,
};
use tripline_pipeline::scan::TimeRange;
use tripline_pipeline::source::{Listing, Source};
use tripline_pipeline::{Config, Setup, Totals};

use super::scan::Args;
use super::ExitStatus;

pub fn run(
    args: &Args,
    config: &Config,
    location: &str,
    setup: &Setup,
    source: &mut dyn Source,
    listing: Listing,
    started: Instant,
) -> anyhow::Result<ExitStatus> {
    let mut store = open(location)?;
    let (mut router, outbox) = args.output.open_with_store(config, setup)?;
    let rules =
        setup.ruleset.rules.iter().map(|r| (r.meta.id.clone(), std::sync::Arc::clone(r))).collect();
    let range = TimeRange { since: args.since, until: args.until };
    let mut totals = Totals::listed(&listing);
    let mut run = RunState::default();
    run.rescan = args.rescan;
    for problem in &listing.problems {
        note!("{problem}");
    }
    let todo = pending(&mut store, setup, source, listing.units, &mut run)?;
    totals.files = todo.len() as u64;
    let mut print = |problem: &tripline_io::Problem| note!("{problem}");
    let input_errors = read_and_commit(
        &mut store,
        setup,
        source,
        &todo,
        range,
        &mut run,
        &mut totals,
        &mut Outputs { router: &mut router, outbox: &outbox, rules: &rules },
        &mut print,
    )? || listing.problems.iter().any(|p| !p.warning);
    let alerts = write_results(&mut router, &mut run)?;
    let mut undelivered = crate::options::finish_outputs(&mut router, args.quiet)?;
    undelivered |= crate::options::report_outbox(&deliver(&mut store, &outbox)?, args.quiet);
    if let Some(retention) = config.retention {
        let purged = apply_retention(&mut store, retention)?;
        if !args.quiet && purged != tripline_store::Purged::default() {
            note!(
                "retention: forgot {} closed alert(s), {} signal(s), {} delivered notification(s) and {} window(s) of alerting state",
                purged.alerts, purged.signals, purged.notifications, purged.windows
            );
        }
    }
    crate::options::report_suppressions(setup, &totals.suppressed, args.quiet);
    if !args.quiet {
        let extended = alerts.len() as u64 - run.raised.min(alerts.len() as u64);
        if run.again > 0 {
            note!(
                "{} input(s) read before evaluated again for {} new or changed rule(s)",
                run.again,
                run.again_rules
            );
        }
        if run.withdrawn > 0 {
            note!(
                "{} signal(s) no longer matched by their changed rule withdrawn; {} alert(s) closed by the rule run",
                run.withdrawn,
                run.closed.len()
            );
        }
        note!(
            "{}; {} input(s) already processed; {} new signal(s) ({} seen before), {} alert(s) raised, {} extended ({} dropped by max_alerts); store {} in {:.2}s",
            totals.describe(), run.already_done, run.fresh, run.duplicates, run.raised, extended,
            run.dropped, store.label(), started.elapsed().as_secs_f64()
        );
    }
    Ok(if input_errors || setup.has_errors() || undelivered {
        ExitStatus::Error
    } else if alerts.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    })
}
