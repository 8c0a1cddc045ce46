//! A scan without a store, streamed: inputs are scanned on every core and their outcomes taken
//! in input order as soon as each is ready; signals are written as they come and only what
//! alerting needs is kept of them. A rule set that flags most records (SigmaHQ's
//! `aws_sts_assumerole_misuse` matches every assumed-role call) so holds a few hundred bytes
//! per signal rather than every signal whole until the end.

use std::collections::{BTreeMap, VecDeque};
use std::sync::mpsc;

use rayon::iter::{ParallelBridge, ParallelIterator};
use tripline_alert::{raise_candidates, Candidate, Outcome, Signal};
use tripline_io::input::Input;
use tripline_rule::Rule;

use crate::scan::{scan_input_in_parts, Detection, FileOutcome, TimeRange};
use crate::sink::{AlertChange, ChangeKind, Router, SinkError};

/// Scans `inputs` on every core and calls `consume` with each outcome in input order, as soon
/// as it and every one before it are done; a stream's outcome comes in parts, each as soon as
/// it is ready (see [`scan_input_in_parts`]). Inputs are handed to the threads in order, so with
/// inputs of similar size about one outcome per thread waits for an earlier one; a much larger
/// input holds the outcomes after it back until it is done.
///
/// # Errors
/// The first error `consume` returned; inputs after it are still scanned but not consumed.
pub fn scan_in_order<E>(
    detection: &Detection,
    inputs: &[Input],
    range: TimeRange,
    mut consume: impl FnMut(FileOutcome) -> Result<(), E>,
) -> Result<(), E> {
    let (sender, receiver) = mpsc::sync_channel(rayon::current_num_threads() * 2);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            inputs.iter().enumerate().par_bridge().for_each_with(sender, |sender, (i, input)| {
                // The receiver is gone only when consuming failed: nothing is waiting any more.
                scan_input_in_parts(detection, input, range, &mut |part| {
                    sender.send((i, part)).is_ok()
                });
            });
        });
        let mut waiting: BTreeMap<usize, VecDeque<FileOutcome>> = BTreeMap::new();
        let mut next = 0;
        for (i, outcome) in receiver {
            waiting.entry(i).or_default().push_back(outcome);
            while let Some(outcome) = waiting.get_mut(&next).and_then(VecDeque::pop_front) {
                if !outcome.partial {
                    waiting.remove(&next);
                    next += 1;
                }
                consume(outcome)?;
            }
        }
        Ok(())
    })
}

/// Takes a scan's signals in order: gives each to the outputs, keeps what alerting needs, and
/// keeps whole only the signals correlations consume.
pub struct Collector<'a> {
    detection: &'a Detection,
    rules: Vec<&'a Rule>,
    router: &'a mut Router,
    /// Signals taken so far (their indexes are what alerts keep).
    taken: usize,
    candidates: Vec<Candidate>,
    /// (rule, signal) of the rules some correlation consumes.
    correlated: Vec<(usize, Signal)>,
}

impl<'a> Collector<'a> {
    /// A collector giving signals and alerts to `router`.
    pub fn new(detection: &'a Detection, router: &'a mut Router) -> Self {
        let rules = detection.engine.rules().iter().map(AsRef::as_ref).collect();
        Self { detection, rules, router, taken: 0, candidates: Vec::new(), correlated: Vec::new() }
    }

    /// Takes one signal of the rule with index `rule`.
    ///
    /// # Errors
    /// An output failed.
    pub fn take(&mut self, rule: usize, signal: Signal) -> Result<(), SinkError> {
        self.keep(rule, &signal)?;
        if self.detection.plan.consumers(rule).next().is_some() {
            self.correlated.push((rule, signal));
        }
        Ok(())
    }

    /// Writes the signals taken so far to the outputs (a live stream's, as they are found).
    ///
    /// # Errors
    /// An output failed.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.router.flush()
    }

    fn keep(&mut self, rule: usize, signal: &Signal) -> Result<(), SinkError> {
        self.router.signal(self.taken, signal, None)?;
        // Rules a correlation uses with `generate: false` raise no alerts of their own.
        if !self.detection.plan.is_silenced(rule) {
            self.candidates.push(Candidate::of(&self.rules, rule, signal, self.taken));
        }
        self.taken += 1;
        Ok(())
    }

    /// Runs the correlations over what they consumed (their signals follow the others), groups
    /// every signal into alerts and gives them to the outputs. Returns the alerting outcome and
    /// how many signals there were in all.
    ///
    /// # Errors
    /// An output failed.
    pub fn finish(mut self) -> Result<(Outcome, usize), SinkError> {
        let plan = &self.detection.plan;
        let (rule_of, signals): (Vec<usize>, Vec<Signal>) =
            std::mem::take(&mut self.correlated).into_iter().unzip();
        for (rule, signal) in plan.run(self.detection.engine.rules(), &rule_of, &signals) {
            self.keep(rule, &signal)?;
        }
        let outcome = raise_candidates(&self.rules, std::mem::take(&mut self.candidates));
        for alert in &outcome.alerts {
            self.router.alert(AlertChange { kind: ChangeKind::Raised, alert, rule: None })?;
        }
        Ok((outcome, self.taken))
    }
}
