//! A scan without a store, streamed: inputs are scanned on every core and their outcomes taken
//! in input order as soon as each is ready; signals are written as they come and only what
//! alerting needs is kept of them. A rule set that flags most records (SigmaHQ's
//! `aws_sts_assumerole_misuse` matches every assumed-role call) so holds a few hundred bytes
//! per signal rather than every signal whole until the end.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc;

use rayon::iter::{ParallelBridge, ParallelIterator};
use tripline_alert::{raise_candidates, Candidate, Outcome, Signal};
use tripline_io::input::Input;
use tripline_pipeline::scan::{scan_input, Detection, FileOutcome, TimeRange};
use tripline_pipeline::sink::{jsonl, text};
use tripline_rule::Rule;

use super::scan::Format;

/// Scans `inputs` on every core and calls `consume` with each outcome in input order, as soon
/// as it and every one before it are done. Inputs are handed to the threads in order, so with
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
                let _ = sender.send((i, scan_input(detection, input, range)));
            });
        });
        let mut waiting = BTreeMap::new();
        let mut next = 0;
        for (i, outcome) in receiver {
            waiting.insert(i, outcome);
            while let Some(outcome) = waiting.remove(&next) {
                next += 1;
                consume(outcome)?;
            }
        }
        Ok(())
    })
}

/// Takes a scan's signals in order: writes each (JSON lines) or keeps what the table shows
/// (text), keeps what alerting needs, and keeps whole only the signals correlations consume.
pub struct Collector<'a, W: Write> {
    detection: &'a Detection,
    rules: Vec<&'a Rule>,
    format: Format,
    out: W,
    /// Signals taken so far (their indexes are what alerts keep).
    taken: usize,
    candidates: Vec<Candidate>,
    facts: Vec<text::SignalFacts>,
    /// (rule, signal) of the rules some correlation consumes.
    correlated: Vec<(usize, Signal)>,
}

impl<'a, W: Write> Collector<'a, W> {
    /// A collector writing to `out`.
    pub fn new(detection: &'a Detection, format: Format, out: W) -> Self {
        let rules = detection.engine.rules().iter().map(AsRef::as_ref).collect();
        Self {
            detection,
            rules,
            format,
            out,
            taken: 0,
            candidates: Vec::new(),
            facts: Vec::new(),
            correlated: Vec::new(),
        }
    }

    /// Takes one signal of the rule with index `rule`.
    ///
    /// # Errors
    /// Writing the signal failed.
    pub fn take(&mut self, rule: usize, signal: Signal) -> std::io::Result<()> {
        self.keep(rule, &signal)?;
        if self.detection.plan.consumers(rule).next().is_some() {
            self.correlated.push((rule, signal));
        }
        Ok(())
    }

    fn keep(&mut self, rule: usize, signal: &Signal) -> std::io::Result<()> {
        match self.format {
            Format::Jsonl => jsonl::write_signal(&mut self.out, signal)?,
            Format::Text => self.facts.push(text::SignalFacts::of(signal)),
        }
        // Rules a correlation uses with `generate: false` raise no alerts of their own.
        if !self.detection.plan.is_silenced(rule) {
            self.candidates.push(Candidate::of(&self.rules, rule, signal, self.taken));
        }
        self.taken += 1;
        Ok(())
    }

    /// Runs the correlations over what they consumed (their signals follow the others), groups
    /// every signal into alerts and writes them (JSON lines) or the table (text). Returns the
    /// alerting outcome and how many signals there were in all.
    ///
    /// # Errors
    /// Writing failed.
    pub fn finish(mut self) -> std::io::Result<(Outcome, usize)> {
        let plan = &self.detection.plan;
        let (rule_of, signals): (Vec<usize>, Vec<Signal>) =
            std::mem::take(&mut self.correlated).into_iter().unzip();
        for (rule, signal) in plan.run(self.detection.engine.rules(), &rule_of, &signals) {
            self.keep(rule, &signal)?;
        }
        let outcome = raise_candidates(&self.rules, std::mem::take(&mut self.candidates));
        match self.format {
            Format::Jsonl => {
                for alert in &outcome.alerts {
                    jsonl::write_alert(&mut self.out, alert)?;
                }
            }
            Format::Text => text::write_alerts(&mut self.out, &outcome.alerts, &self.facts)?,
        }
        self.out.flush()?;
        Ok((outcome, self.taken))
    }
}
