//! A scan with alert state kept in a store (`scan --store`, `watch`).
//!
//! Inputs the store has fully processed (same path, size and modification time) with the same
//! rules are not read; those read by other rules are read again for the new or changed rules
//! alone ([`super::revisit`]).
//! The rest are read in parallel in small batches and committed a batch at a time, in input
//! order: a batch's signals, the alerts they raise or extend and its inputs' checkpoints go in
//! one transaction, so a killed scan resumes exactly where it stopped. Output lists this run's new
//! signals, each batch's as soon as it is committed, then the alerts they raised or extended.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;
use tripline_alert::{Alert, Signal};
use tripline_io::Problem;
use tripline_store::{Correlations, Incoming, Ingested, InputBatch, InputKey, Store, StoreError};

use std::sync::Arc;

use tripline_rule::Rule;

use super::revisit::{self, RuleSet, Todo};
use crate::notify::outbox::{OutboxNotifier, OutboxOutput};
use crate::scan::{scan_input, FileOutcome, TimeRange};
use crate::sink::{AlertChange, ChangeKind, Router, SinkError};
use crate::source::{Source, Unit};
use crate::{Setup, Totals};

/// Where a run with a store sends its results: the outputs that take signals and alerts as
/// they come, and the notifying outputs, which go through the store's outbox.
pub struct Outputs<'a> {
    /// Text, JSON lines.
    pub router: &'a mut Router,
    /// Webhook, Slack, OCSF.
    pub outbox: &'a [OutboxOutput],
    /// The rules by id (for routes and notifications).
    pub rules: &'a HashMap<String, Arc<Rule>>,
}

/// What stopped a run with a store.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store failed (nothing of the batch at hand was kept).
    // The store's own message follows as the error's source (`{:#}` prints the chain).
    #[error("failed to {doing} {store}")]
    Store {
        /// What was being done.
        doing: &'static str,
        /// The store's label.
        store: String,
        /// What the store said (boxed: a store error is large, and runs return this often).
        source: Box<StoreError>,
    },
    /// An output failed.
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// At most this many inputs are read and committed together: one transaction per batch keeps
/// commits (and their writes to disk) few; a killed scan redoes at most one batch.
const COMMIT_BATCH: usize = 64;
/// A scan is committed in at least this many batches (when it has that many inputs), so that
/// a killed scan of a few dozen files has still kept most of its work.
const MIN_BATCHES: usize = 4;

/// One input as read.
struct ReadInput<'a> {
    key: Option<&'a InputKey>,
    /// Its (rule, signal) pairs.
    signals: Vec<(usize, Signal)>,
    /// How many records it held.
    records: u64,
    /// For an input read again, the correlations that have not seen it.
    again: Option<&'a [usize]>,
    /// For an input read again in full, the detection rules it was evaluated for.
    revised: Vec<&'a str>,
}

/// What a run keeps across its batches: counts and the alerts it touched (in the order first
/// touched). Signals go to the outputs once their batch is committed and are then dropped, so a
/// long scan holds one batch of them.
#[derive(Default)]
pub struct RunState {
    /// Signals taken so far, this run (alerts keep indexes into them).
    taken: usize,
    /// Signals new to the store, given to the outputs.
    pub fresh: u64,
    /// Signals the store had already.
    pub duplicates: u64,
    order: Vec<String>,
    alerts: HashMap<String, Alert>,
    raised_ids: HashSet<String>,
    /// Alerts raised.
    pub raised: u64,
    /// Alerts not raised because of `max_alerts`.
    pub dropped: u64,
    /// Inputs the store had fully processed already.
    pub already_done: u64,
    /// Inputs read before and evaluated again for new or changed rules (or `--rescan`).
    pub again: u64,
    /// The most rules an input was evaluated again for.
    pub again_rules: usize,
    /// Evaluate every input again for every rule.
    pub rescan: bool,
    /// Signals of inputs evaluated again that their changed rules no longer give.
    pub withdrawn: u64,
    /// Alerts closed by this run's rules: none of their events matches any more.
    pub closed: Vec<Alert>,
    /// The rule set, once kept in the store.
    rule_set: Option<RuleSet>,
}

impl RunState {
    fn absorb(&mut self, ingested: Ingested) {
        self.duplicates += ingested.duplicates;
        self.raised += ingested.raised.len() as u64;
        self.dropped += ingested.dropped.values().sum::<u64>();
        self.raised_ids.extend(ingested.raised.iter().map(|a| a.alert_id.clone()));
        self.withdrawn += ingested.withdrawn;
        for alert in &ingested.closed {
            self.alerts.remove(&alert.alert_id);
            self.order.retain(|id| *id != alert.alert_id);
        }
        self.closed.extend(ingested.closed);
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

    /// Takes one signal: its index.
    fn take(&mut self) -> usize {
        self.taken += 1;
        self.taken - 1
    }

    /// Commits several inputs' signals in one transaction — (key, signals, records) each —
    /// then gives the signals new to the store to the outputs: each input's correlation
    /// signals, then its own.
    fn commit(
        &mut self,
        store: &mut Store,
        setup: &Setup,
        inputs: Vec<ReadInput<'_>>,
        outputs: &mut Outputs<'_>,
    ) -> Result<(), RunError> {
        let base = self.taken;
        let mut spans = Vec::with_capacity(inputs.len());
        let (mut rule_of, mut signals) = (Vec::new(), Vec::new());
        for input in inputs {
            let start = signals.len();
            for (rule, signal) in input.signals {
                self.take();
                rule_of.push(rule);
                signals.push(signal);
            }
            spans.push((
                input.key,
                start..signals.len(),
                input.records,
                input.again,
                input.revised,
            ));
        }
        let rule_set = self.rule_set.as_ref().map(|s| s.digest.as_str());
        let rules = setup.detection.engine.rules();
        let batches: Vec<InputBatch<'_>> = spans
            .iter()
            .map(|(key, span, records, again, revised)| InputBatch {
                key: *key,
                records: *records,
                rule_set,
                again: *again,
                revised,
                incoming: span
                    .clone()
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
        let notifier = OutboxNotifier {
            outputs: outputs.outbox,
            rules: outputs.rules,
            signals: &signals,
            base,
        };
        let results =
            store.ingest_notifying(&batches, correlations, &notifier).map_err(|source| {
                RunError::Store {
                    doing: "record results in",
                    store: store.label().to_owned(),
                    source: Box::new(source),
                }
            })?;
        for mut ingested in results {
            for (_, signal) in std::mem::take(&mut ingested.correlated) {
                let index = self.take();
                self.fresh += 1;
                outputs.router.signal(index, &signal, None)?;
            }
            self.fresh += ingested.new_signals.len() as u64;
            let bodies = std::mem::take(&mut ingested.new_bodies);
            for (&index, body) in ingested.new_signals.iter().zip(&bodies) {
                outputs.router.signal(index, &signals[index - base], Some(body))?;
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

/// Opens the store, saying which one failed.
///
/// # Errors
/// When the store cannot be opened or migrated.
pub fn open(location: &str) -> Result<Store, RunError> {
    Store::open(location).map_err(|source| RunError::Store {
        doing: "open the store",
        store: tripline_store::redact(location),
        source: Box::new(source),
    })
}

/// The units the store has not fully processed with these rules (see [`super::revisit`]);
/// the others are counted, and acknowledged to `source` (their results are durable already).
///
/// # Errors
/// When the store cannot be read.
pub fn pending(
    store: &mut Store,
    setup: &Setup,
    source: &mut dyn Source,
    units: Vec<Unit>,
    run: &mut RunState,
) -> Result<Vec<Todo>, RunError> {
    let failed = |store: &Store, source| RunError::Store {
        doing: "prepare the run in",
        store: store.label().to_owned(),
        source: Box::new(source),
    };
    let rules = setup.detection.engine.rules();
    if run.rule_set.is_none() {
        run.rule_set = Some(RuleSet::keep(store, rules).map_err(|e| failed(store, e))?);
    }
    let set = run.rule_set.as_ref().expect("kept above");
    let plan = &setup.detection.plan;
    let sorted =
        revisit::sort(store, set, rules, plan, units, run.rescan).map_err(|e| failed(store, e))?;
    for unit in &sorted.done {
        run.already_done += 1;
        source.ack(unit);
    }
    source.settle();
    for again in sorted.todo.iter().filter_map(|t| t.again.as_deref()) {
        run.again += 1;
        run.again_rules = run.again_rules.max(again.rules);
    }
    // A rescan is asked once: what a `watch` polls later is read as usual.
    run.rescan = false;
    Ok(sorted.todo)
}

/// Reads `todo` in parallel, in small batches (every core busy, memory bounded, commits never
/// far behind the reading) and commits them in order, feeding the correlations as it goes (the
/// store keeps their windows); each batch's new signals go to the outputs once committed, and
/// its units are acknowledged to `source`. `problem` is called with each problem as it is met;
/// returns whether any was an error.
///
/// # Errors
/// When the store or an output fails.
#[allow(clippy::too_many_arguments)] // one run's parts, each used once; a struct would only rename them
pub fn read_and_commit(
    store: &mut Store,
    setup: &Setup,
    source: &mut dyn Source,
    todo: &[Todo],
    range: TimeRange,
    run: &mut RunState,
    totals: &mut Totals,
    outputs: &mut Outputs<'_>,
    problem: &mut dyn FnMut(&Problem),
) -> Result<bool, RunError> {
    let mut errors = false;
    let rules = setup.detection.engine.rules();
    let size = todo.len().div_ceil(MIN_BATCHES).clamp(
        rayon::current_num_threads() * 2,
        COMMIT_BATCH.max(rayon::current_num_threads() * 2),
    );
    for batch in todo.chunks(size) {
        let outcomes: Vec<FileOutcome> = batch
            .par_iter()
            .map(|todo| scan_input(&setup.detection, &todo.unit.input, range))
            .collect();
        let mut inputs = Vec::with_capacity(batch.len());
        let mut unread = Vec::with_capacity(batch.len());
        for (todo, mut outcome) in batch.iter().zip(outcomes) {
            unread.push(outcome.unread);
            totals.add(&outcome);
            outcome.problems.iter().for_each(&mut *problem);
            errors |= outcome.has_errors();
            let mut signals = std::mem::take(&mut outcome.signals);
            if let Some(again) = &todo.again {
                // The rules that read it before keep what they found then.
                signals.retain(|(rule, _)| again.keep[*rule]);
            }
            // What a rule evaluated over the whole input no longer gives, it takes back;
            // not when records were left out or could not be read.
            let whole = !range.is_set() && !outcome.has_errors();
            let revised = match &todo.again {
                Some(again) if whole => rules
                    .iter()
                    .zip(&again.keep)
                    .filter(|(rule, &keep)| keep && rule.correlation().is_none())
                    .map(|(rule, _)| rule.meta.id.as_str())
                    .collect(),
                _ => Vec::new(),
            };
            inputs.push(ReadInput {
                // Nothing of an input that could not be opened was read: no checkpoint.
                key: todo.unit.key.as_ref().filter(|_| !outcome.unread),
                signals,
                records: outcome.records,
                again: todo.again.as_deref().map(|a| a.correlations.as_slice()),
                revised,
            });
        }
        run.commit(store, setup, inputs, outputs)?;
        // An input that could not be opened is left to be offered again.
        batch.iter().zip(&unread).filter(|(_, unread)| !**unread).for_each(|(todo, _)| {
            source.ack(&todo.unit);
        });
        source.settle();
    }
    Ok(errors)
}

/// Delivers what the outbox holds for the notifying outputs (this run's changes and anything
/// earlier runs could not deliver); (label, report) per output.
///
/// # Errors
/// When the store fails.
pub fn deliver(
    store: &mut Store,
    outbox: &[OutboxOutput],
) -> Result<Vec<(String, crate::notify::outbox::OutboxReport)>, RunError> {
    crate::notify::outbox::deliver_pending(store, outbox).map_err(|source| RunError::Store {
        doing: "deliver notifications from",
        store: store.label().to_owned(),
        source: Box::new(source),
    })
}

/// Forgets what the store holds from before `retention` ago (see
/// [`tripline_store::Store::purge`]).
///
/// # Errors
/// When the store fails.
pub fn apply_retention(
    store: &mut Store,
    retention: std::time::Duration,
) -> Result<tripline_store::Purged, RunError> {
    let span = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    let before =
        chrono::Utc::now().checked_sub_signed(span).unwrap_or(chrono::DateTime::UNIX_EPOCH);
    store.purge(&before.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)).map_err(|source| {
        RunError::Store {
            doing: "apply the retention to",
            store: store.label().to_owned(),
            source: Box::new(source),
        }
    })
}

/// Gives the outputs the alerts this run raised or extended (the signals went out with their
/// batches) and returns them.
///
/// # Errors
/// When an output fails.
pub fn write_results(router: &mut Router, run: &mut RunState) -> Result<Vec<Alert>, RunError> {
    let alerts: Vec<Alert> = run.order.iter().filter_map(|id| run.alerts.remove(id)).collect();
    for alert in &alerts {
        let kind = if run.raised_ids.contains(&alert.alert_id) {
            ChangeKind::Raised
        } else {
            ChangeKind::Extended
        };
        router.alert(AlertChange { kind, alert, rule: None })?;
    }
    for alert in &run.closed {
        router.alert(AlertChange { kind: ChangeKind::Closed, alert, rule: None })?;
    }
    Ok(alerts)
}
