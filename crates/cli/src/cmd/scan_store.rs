//! `tripline scan --store …`: the scan, with alert state kept in a store.
//!
//! Inputs the store has fully processed (same path, size and modification time) are not read.
//! The rest are read in parallel in small batches and committed a batch at a time, in input
//! order: a batch's signals, the alerts they raise or extend and its inputs' checkpoints go in
//! one transaction, so a killed scan resumes exactly where it stopped. Output lists this run's new
//! signals, each batch's as soon as it is committed, then the alerts they raised or extended.

use std::collections::HashMap;
use std::io::Write;
use std::time::Instant;

use anyhow::Context;
use rayon::prelude::*;
use tripline_alert::{Alert, Signal};
use tripline_io::input::{Expanded, Input};
use tripline_pipeline::scan::{scan_input, FileOutcome, TimeRange};
use tripline_pipeline::sink::{jsonl, text};
use tripline_store::{Correlations, Incoming, Ingested, InputBatch, InputKey, Store};

use super::scan::{Args, Format};
use super::ExitStatus;
use tripline_pipeline::{Setup, Totals};

/// At most this many inputs are read and committed together: one transaction per batch keeps
/// commits (and their writes to disk) few; a killed scan redoes at most one batch.
const COMMIT_BATCH: usize = 64;
/// A scan is committed in at least this many batches (when it has that many inputs), so that
/// a killed scan of a few dozen files has still kept most of its work.
const MIN_BATCHES: usize = 4;

/// One input as read: its key, its (rule, signal) pairs and how many records it held.
type ReadInput<'a> = (Option<&'a InputKey>, Vec<(usize, Signal)>, u64);

/// What a run keeps across its batches: counts, the alerts it touched (in the order first
/// touched) and, for the text table, the facts of its signals. Signals themselves are written
/// once their batch is committed and then dropped, so a long scan holds one batch of them.
pub(super) struct RunState {
    format: Format,
    /// Signals taken so far, this run (alerts keep indexes into them).
    taken: usize,
    /// The table's facts of every signal taken, by index (text output only).
    facts: Vec<text::SignalFacts>,
    /// Signals new to the store, written.
    pub fresh: u64,
    duplicates: u64,
    order: Vec<String>,
    alerts: HashMap<String, Alert>,
    raised: u64,
    dropped: u64,
    pub already_done: u64,
}

impl RunState {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            taken: 0,
            facts: Vec::new(),
            fresh: 0,
            duplicates: 0,
            order: Vec::new(),
            alerts: HashMap::new(),
            raised: 0,
            dropped: 0,
            already_done: 0,
        }
    }

    fn absorb(&mut self, ingested: Ingested) {
        self.duplicates += ingested.duplicates;
        self.raised += ingested.raised.len() as u64;
        self.dropped += ingested.dropped.values().sum::<u64>();
        for alert in ingested.raised.into_iter().chain(ingested.extended) {
            match self.alerts.get_mut(&alert.alert_id) {
                Some(known) => {
                    // Inputs committed together report the batch's final alert each time.
                    let mut signals = std::mem::take(&mut known.signals);
                    signals.extend(&alert.signals);
                    signals.sort_unstable();
                    signals.dedup();
                    *known = Alert { signals, ..alert };
                }
                None => {
                    self.order.push(alert.alert_id.clone());
                    self.alerts.insert(alert.alert_id.clone(), alert);
                }
            }
        }
    }

    /// Takes one signal: the next index, and its facts for the table.
    fn take(&mut self, signal: &Signal) -> usize {
        if self.format == Format::Text {
            self.facts.push(text::SignalFacts::of(signal));
        }
        self.taken += 1;
        self.taken - 1
    }

    /// Commits several inputs' signals in one transaction — (key, signals, records) each —
    /// then writes the signals new to the store (JSON lines): each input's correlation
    /// signals, then its own.
    fn commit(
        &mut self,
        store: &mut Store,
        setup: &Setup,
        inputs: Vec<ReadInput<'_>>,
        out: &mut dyn Write,
    ) -> anyhow::Result<()> {
        let base = self.taken;
        let mut spans = Vec::with_capacity(inputs.len());
        let (mut rule_of, mut signals) = (Vec::new(), Vec::new());
        for (key, found, records) in inputs {
            let start = signals.len();
            for (rule, signal) in found {
                self.take(&signal);
                rule_of.push(rule);
                signals.push(signal);
            }
            spans.push((key, start..signals.len(), records));
        }
        let rules = setup.detection.engine.rules();
        let batches: Vec<InputBatch<'_>> = spans
            .into_iter()
            .map(|(key, span, records)| InputBatch {
                key,
                records,
                incoming: span
                    .map(|i| {
                        let rule = rule_of[i];
                        Incoming {
                            rule: &rules[rule],
                            rule_index: rule,
                            signal: &signals[i],
                            index: base + i,
                            alerts: !setup.detection.plan.is_silenced(rule),
                        }
                    })
                    .collect(),
            })
            .collect();
        let correlations = Correlations { plan: &setup.detection.plan, rules };
        let results = store
            .ingest_all(&batches, correlations)
            .with_context(|| format!("failed to record results in {}", store.label()))?;
        for mut ingested in results {
            for (_, signal) in std::mem::take(&mut ingested.correlated) {
                self.take(&signal);
                self.fresh += 1;
                if self.format == Format::Jsonl {
                    jsonl::write_signal(out, &signal)?;
                }
            }
            self.fresh += ingested.new_signals.len() as u64;
            if self.format == Format::Jsonl {
                for body in std::mem::take(&mut ingested.new_bodies) {
                    jsonl::write_signal_json(out, &body)?;
                }
            }
            if ingested.skipped {
                // Another process finished this input meanwhile.
                self.already_done += 1;
            }
            self.absorb(ingested);
        }
        Ok(())
    }
}

pub fn run(
    args: &Args,
    location: &str,
    setup: &Setup,
    expanded: Expanded,
    started: Instant,
) -> anyhow::Result<ExitStatus> {
    let mut store = open(location)?;
    let range = TimeRange { since: args.since, until: args.until };
    let mut totals = Totals { digests: expanded.digests.len() as u64, ..Totals::default() };
    let mut run = RunState::new(args.format);
    for problem in &expanded.problems {
        eprintln!("{problem}");
    }
    let todo = pending(&mut store, &expanded.inputs, &mut run)?;
    totals.files = todo.len() as u64;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let input_errors =
        read_and_commit(&mut store, setup, &todo, range, &mut run, &mut totals, &mut out)?
            || expanded.problems.iter().any(|p| !p.warning);
    let alerts = write_results(&mut out, &mut run)?;
    crate::options::report_suppressions(setup, &totals.suppressed, args.quiet);
    if !args.quiet {
        eprintln!(
            "{}; {} input(s) already processed; {} new signal(s) ({} seen before), {} alert(s) raised, {} extended ({} dropped by max_alerts); store {} in {:.2}s",
            totals.describe(), run.already_done, run.fresh, run.duplicates, run.raised, alerts.len() as u64 - run.raised.min(alerts.len() as u64),
            run.dropped, store.label(), started.elapsed().as_secs_f64()
        );
    }
    Ok(if input_errors || setup.has_errors() {
        ExitStatus::Error
    } else if alerts.is_empty() {
        ExitStatus::Success
    } else {
        ExitStatus::Findings
    })
}

/// Opens the store, saying which one failed.
pub(super) fn open(location: &str) -> anyhow::Result<Store> {
    Store::open(location)
        .with_context(|| format!("failed to open the store {}", tripline_store::redact(location)))
}

/// The inputs the store has not fully processed, with their keys; counts the others.
pub(super) fn pending<'a>(
    store: &mut Store,
    inputs: &'a [Input],
    run: &mut RunState,
) -> anyhow::Result<Vec<(&'a Input, Option<InputKey>)>> {
    let mut todo = Vec::new();
    for input in inputs {
        let key = match input {
            Input::File(path) => Some(
                InputKey::of_file(path)
                    .with_context(|| format!("failed to inspect {}", path.display()))?,
            ),
            Input::Stdin => None,
        };
        if let Some(k) = &key {
            if store.is_done(k).with_context(|| format!("failed to read {}", store.label()))? {
                run.already_done += 1;
                continue;
            }
        }
        todo.push((input, key));
    }
    Ok(todo)
}

/// Reads `todo` in parallel, in small batches (every core busy, memory bounded, commits never
/// far behind the reading) and commits them in order, feeding the correlations as it goes (the
/// store keeps their windows); each batch's new signals are written to `out` once committed.
/// Prints problems as they are met; returns whether any was an error.
pub(super) fn read_and_commit(
    store: &mut Store,
    setup: &Setup,
    todo: &[(&Input, Option<InputKey>)],
    range: TimeRange,
    run: &mut RunState,
    totals: &mut Totals,
    out: &mut dyn Write,
) -> anyhow::Result<bool> {
    let mut errors = false;
    let size = todo.len().div_ceil(MIN_BATCHES).clamp(
        rayon::current_num_threads() * 2,
        COMMIT_BATCH.max(rayon::current_num_threads() * 2),
    );
    for batch in todo.chunks(size) {
        let outcomes: Vec<FileOutcome> =
            batch.par_iter().map(|(input, _)| scan_input(&setup.detection, input, range)).collect();
        let mut inputs = Vec::with_capacity(batch.len());
        for ((_, key), mut outcome) in batch.iter().zip(outcomes) {
            totals.add(&outcome);
            for problem in &outcome.problems {
                eprintln!("{problem}");
            }
            errors |= outcome.has_errors();
            inputs.push((key.as_ref(), std::mem::take(&mut outcome.signals), outcome.records));
        }
        run.commit(store, setup, inputs, out)?;
    }
    Ok(errors)
}

/// Writes the alerts this run raised or extended (the signals went out with their batches), or
/// the table; returns the alerts.
pub(super) fn write_results(out: &mut dyn Write, run: &mut RunState) -> anyhow::Result<Vec<Alert>> {
    let alerts: Vec<Alert> = run.order.iter().filter_map(|id| run.alerts.remove(id)).collect();
    match run.format {
        Format::Jsonl => {
            for alert in &alerts {
                jsonl::write_alert(out, alert)?;
            }
        }
        Format::Text => text::write_alerts(out, &alerts, &run.facts)?,
    }
    out.flush().context("failed to write results")?;
    Ok(alerts)
}
