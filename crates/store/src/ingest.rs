//! One input's signals into the store, atomically: new signals recorded (a signal seen before,
//! from this input or a duplicate delivery, is recognised by rule and event id), each through
//! its rule's window state, the alerts raised or extended, the state and the checkpoint saved.

use std::collections::BTreeMap;
use std::sync::Arc;

use tripline_alert::{Alert, CorrelationPlan, Signal};
use tripline_rule::Rule;

use crate::work::Work;
use crate::{InputKey, Result, Store};

/// A signal to ingest, with its rule and its index in the caller's list.
#[derive(Clone, Copy)]
pub struct Incoming<'a> {
    /// The rule that matched.
    pub rule: &'a Rule,
    /// The rule's index among the rules correlations refer to.
    pub rule_index: usize,
    /// The signal.
    pub signal: &'a Signal,
    /// The signal's index in the caller's list.
    pub index: usize,
    /// Whether the rule raises alerts of its own (not when a correlation silences it).
    pub alerts: bool,
}

/// The correlations of a rule set, and the rules they index into.
#[derive(Clone, Copy)]
pub struct Correlations<'a> {
    /// The correlations.
    pub plan: &'a CorrelationPlan,
    /// The rules, as the plan indexes them.
    pub rules: &'a [Arc<Rule>],
}

/// What ingesting one input did.
#[derive(Debug, Default, PartialEq)]
pub struct Ingested {
    /// The input had been fully processed before: nothing was done.
    pub skipped: bool,
    /// Indexes of the signals seen for the first time.
    pub new_signals: Vec<usize>,
    /// Their JSON, as stored (in the same order), so output need not serialise them again.
    pub new_bodies: Vec<String>,
    /// Signals the store had already (same rule and event).
    pub duplicates: u64,
    /// Alerts raised, as they are after this input (`signals` holds the caller's indexes).
    pub raised: Vec<Alert>,
    /// Existing alerts that new signals extended, as they are after this input (`signals`
    /// holds the caller's indexes of this input's signals only).
    pub extended: Vec<Alert>,
    /// Alerts not raised because of `max_alerts`, per rule.
    pub dropped: BTreeMap<String, u64>,
    /// Signals of `new_terms` rules whose terms were not new.
    pub not_new: u64,
    /// Signals correlations produced (correlation rule index, signal), new to the store.
    pub correlated: Vec<(usize, Signal)>,
    /// Signals an input's earlier reading kept that its rule, evaluated again, no longer
    /// gives: removed, and from their alerts (on the batch's last input).
    pub withdrawn: u64,
    /// Alerts closed because none of their events matches their rule any more (on the
    /// batch's last input).
    pub closed: Vec<Alert>,
}

/// One input's part of a batch.
pub struct InputBatch<'a> {
    /// The input's key (`None` for stdin, which has no identity to remember).
    pub key: Option<&'a InputKey>,
    /// How many records it held.
    pub records: u64,
    /// Its signals.
    pub incoming: Vec<Incoming<'a>>,
    /// The digest of the rule set that evaluated it, for its checkpoint (see
    /// [`Store::keep_rule_set`]).
    pub rule_set: Option<&'a str>,
    /// For an input read before and evaluated again (for new or changed rules, or a rescan):
    /// the correlations (rule indexes) that have not seen it. It is not skipped for being
    /// checkpointed, and its signals the store has already are fed to those correlations
    /// alone, so a new correlation sees old signals and nothing else sees them twice.
    pub again: Option<&'a [usize]>,
    /// The rules the input was evaluated again for in full (new, changed, or a rescan): the
    /// signals of theirs an earlier reading kept and this one did not give are withdrawn, and
    /// an alert left with no event is closed. Empty when part of the input was left out
    /// (`--since`), so that nothing is withdrawn for not having been looked at.
    pub revised: &'a [&'a str],
}

impl Store {
    /// Records one input's signals and what they change, atomically, and checkpoints the input
    /// (`None` for stdin, which has no identity to remember). `records` is how many records the
    /// input held. An input already done is skipped.
    ///
    /// # Errors
    /// When the store fails; nothing of the input is kept then.
    pub fn ingest(
        &mut self,
        input: Option<&InputKey>,
        records: u64,
        incoming: &[Incoming<'_>],
    ) -> Result<Ingested> {
        let incoming = incoming.to_vec();
        let plan = CorrelationPlan::default();
        Ok(self
            .ingest_all(
                &[InputBatch {
                    key: input,
                    records,
                    incoming,
                    rule_set: None,
                    again: None,
                    revised: &[],
                }],
                Correlations { plan: &plan, rules: &[] },
            )?
            .pop()
            .unwrap_or_default())
    }

    /// Like [`Store::ingest`] for several inputs, in order, in one transaction: all of them
    /// are kept, or none. Fewer commits make a scan of many small files cheaper; a crash
    /// costs redoing the batch.
    ///
    /// Correlation windows are kept in the store too: fed as signals arrive, closed when event
    /// time moves past them; their signals belong to the input that caused them (a closing
    /// window's, to the batch's last input).
    ///
    /// # Errors
    /// When the store fails; nothing of the batch is kept then.
    pub fn ingest_all(
        &mut self,
        inputs: &[InputBatch<'_>],
        correlations: Correlations<'_>,
    ) -> Result<Vec<Ingested>> {
        self.ingest_notifying(inputs, correlations, &crate::outbox::NoNotifier)
    }

    /// Like [`Store::ingest_all`], also keeping in the outbox, in the same transaction, the
    /// notifications `notifier` makes of each alert raised or extended.
    ///
    /// # Errors
    /// When the store fails; nothing of the batch is kept then.
    pub fn ingest_notifying(
        &mut self,
        inputs: &[InputBatch<'_>],
        correlations: Correlations<'_>,
        notifier: &dyn crate::outbox::Notifier,
    ) -> Result<Vec<Ingested>> {
        self.write(|backend| {
            let mut work = Work::new(backend, correlations, notifier);
            let mut results = Vec::with_capacity(inputs.len());
            for batch in inputs {
                results.push(work.input(batch)?);
            }
            work.finish(inputs, results)
        })
    }
}
