//! The working set of one write transaction: rule and correlation state and alerts, read once
//! and written back once at the end, and what each input's signals do to them.

mod withdraw;

use std::collections::{BTreeMap, HashMap, HashSet};

use tripline_alert::correlate::{CorrelationState, Settled};
use tripline_alert::driver::{self, AlertState, Change, Withdrawal};
use tripline_alert::rule_state::RuleState;
use tripline_alert::window::{new_terms_of, Member, Slot};
use tripline_alert::{ChangeKind, Signal};
use tripline_rule::Rule;

use crate::backend::{Backend, Value};
use crate::ingest::{Correlations, Incoming, Ingested, InputBatch};
use crate::outbox::Notifier;
use crate::packed::pack_signal;
use crate::queries::{load_alert, load_alerts, now, save_alerts, Note, Status, StoredAlert};
use crate::rulesets::{checkpoint, Checkpoint};
use crate::{Result, StoreError};
use withdraw::input_digest;

fn load_state<T: serde::de::DeserializeOwned + Default>(
    backend: &mut dyn Backend,
    key: &str,
) -> Result<T> {
    let sql = "SELECT state FROM rule_state WHERE rule_id = $1";
    Ok(crate::backend::query_json(backend, sql, key, "state")?.unwrap_or_default())
}

fn save_state(backend: &mut dyn Backend, key: &str, json: String) -> Result<()> {
    backend.execute("INSERT INTO rule_state (rule_id, state) VALUES ($1, $2) ON CONFLICT (rule_id) DO UPDATE SET state = excluded.state", &[key.into(), json.into()])?;
    Ok(())
}

/// A signal's identity within its rule: the event id, else where it was read.
fn signal_key(signal: &Signal) -> String {
    signal
        .event_id
        .clone()
        .unwrap_or_else(|| format!("{}#{}", signal.input.file, signal.input.record))
}

/// The transaction's working set: rule states and alerts read once, written once at the end.
pub(crate) struct Work<'b, 'c> {
    backend: &'b mut dyn Backend,
    correlations: Correlations<'c>,
    notifier: &'c dyn Notifier,
    windows: HashMap<usize, CorrelationState>,
    states: HashMap<String, RuleState>,
    alerts: BTreeMap<String, StoredAlert>,
    /// Alerts looked for and not in the store (until raised here, when `alerts` has them).
    absent: HashSet<String>,
    out: Ingested,
    raised: Vec<String>,
    extended: Vec<String>,
    /// Alerts raised in this transaction (one taken back before it ends was never told).
    fresh: HashSet<String>,
    /// Alerts taken back, and why: their rows go, and the outputs are told.
    taken_back: Vec<(StoredAlert, Withdrawal)>,
    /// Per rule evaluated again over whole inputs: per input (digest), the signal keys that
    /// evaluation gave.
    revised: BTreeMap<String, HashMap<i64, HashSet<String>>>,
}

/// What one input did, with the ids of the alerts it raised and extended.
pub(crate) type InputResult = (Ingested, Vec<String>, Vec<String>);

impl<'b, 'c> Work<'b, 'c> {
    pub(crate) fn new(
        backend: &'b mut dyn Backend,
        correlations: Correlations<'c>,
        notifier: &'c dyn Notifier,
    ) -> Self {
        Self {
            backend,
            correlations,
            notifier,
            windows: HashMap::new(),
            states: HashMap::new(),
            alerts: BTreeMap::new(),
            absent: HashSet::new(),
            out: Ingested::default(),
            raised: Vec::new(),
            extended: Vec::new(),
            fresh: HashSet::new(),
            taken_back: Vec::new(),
            revised: BTreeMap::new(),
        }
    }

    /// Closes the windows event time has passed, writes everything back, and puts each
    /// input's alerts (as they are at the end) in its result.
    pub(crate) fn finish(
        mut self,
        inputs: &[InputBatch<'_>],
        mut results: Vec<InputResult>,
    ) -> Result<Vec<Ingested>> {
        self.settle_windows()?;
        let (withdrawn, closed) = self.withdraw()?;
        if let Some(last) = results.last_mut() {
            last.0.withdrawn = withdrawn + self.out.withdrawn;
            last.0.correlated.append(&mut self.out.correlated);
            last.1.append(&mut self.raised);
            last.2.append(&mut self.extended);
        }
        // One alert raised by an input is not also extended by it.
        for (_, raised, extended) in &mut results {
            for ids in [&mut *raised, &mut *extended] {
                let mut seen = HashSet::new();
                ids.retain(|id| seen.insert(id.clone()));
            }
            extended.retain(|id| !raised.contains(id));
        }
        let rules: HashMap<&str, &Rule> = inputs
            .iter()
            .flat_map(|b| &b.incoming)
            .map(|i| (i.rule.meta.id.as_str(), i.rule))
            .collect();
        self.save(&rules)?;
        // The outbox entries of every change, in the transaction that makes it.
        let mut entries = Vec::new();
        for (_, raised, extended) in &results {
            for (kind, ids) in [(ChangeKind::Raised, raised), (ChangeKind::Extended, extended)] {
                for alert in ids.iter().filter_map(|id| self.alerts.get(id)) {
                    entries.extend(self.notifier.entries(kind, &alert.alert));
                }
            }
        }
        for alert in closed.iter().filter_map(|id| self.alerts.get(id)) {
            entries.extend(self.notifier.entries(ChangeKind::Closed, &alert.alert));
        }
        let taken_back: Vec<tripline_alert::Alert> = std::mem::take(&mut self.taken_back)
            .into_iter()
            .filter(|(stored, _)| !self.fresh.contains(&stored.alert.alert_id))
            .map(|(stored, _)| stored.alert)
            .collect();
        for alert in &taken_back {
            entries.extend(self.notifier.entries(ChangeKind::Closed, alert));
        }
        crate::outbox::keep(self.backend, &entries)?;
        let alert_of = |id: &String| self.alerts.get(id).map(|a| a.alert.clone());
        let mut results: Vec<Ingested> = results
            .into_iter()
            .map(|(mut out, raised, extended)| {
                out.raised = raised.iter().filter_map(alert_of).collect();
                out.extended = extended.iter().filter_map(alert_of).collect();
                out
            })
            .collect();
        if let Some(last) = results.last_mut() {
            last.closed = closed.iter().filter_map(alert_of).chain(taken_back).collect();
        }
        Ok(results)
    }

    fn state(&mut self, rule_id: &str) -> Result<&mut RuleState> {
        if !self.states.contains_key(rule_id) {
            let state = load_state(self.backend, rule_id)?;
            self.states.insert(rule_id.to_owned(), state);
        }
        Ok(self.states.get_mut(rule_id).expect("inserted above"))
    }

    /// A correlation rule's windows, kept under `correlation:<id>`.
    fn windows(&mut self, correlation: usize) -> Result<&mut CorrelationState> {
        if !self.windows.contains_key(&correlation) {
            let id = &self.correlations.rules[correlation].meta.id;
            let state = load_state(self.backend, &format!("correlation:{id}"))?;
            self.windows.insert(correlation, state);
        }
        Ok(self.windows.get_mut(&correlation).expect("inserted above"))
    }

    /// Feeds a new signal to the correlations that use its rule.
    fn correlate(&mut self, rule_index: usize, signal: &Signal) -> Result<()> {
        let consumers: Vec<usize> = self.correlations.plan.consumers(rule_index).collect();
        self.correlate_only(rule_index, signal, &consumers)
    }

    /// Feeds a signal to those of `correlations` that use its rule.
    fn correlate_only(
        &mut self,
        rule_index: usize,
        signal: &Signal,
        correlations: &[usize],
    ) -> Result<()> {
        let Correlations { plan, rules } = self.correlations;
        let consumers = plan.consumers(rule_index).filter(|c| correlations.contains(c));
        for correlation in consumers.collect::<Vec<_>>() {
            plan.feed(rules, correlation, self.windows(correlation)?, signal);
        }
        Ok(())
    }

    /// A correlation's signal: recorded once, then through its rule's alerting.
    fn correlated(&mut self, correlation: usize, signal: Signal) -> Result<()> {
        let rule = self.correlations.rules[correlation].clone();
        if self.record(&signal, None)?.is_none() {
            return Ok(());
        }
        if !self.correlations.plan.is_silenced(correlation) {
            self.apply(&rule, &signal, None)?;
        }
        self.out.correlated.push((correlation, signal));
        Ok(())
    }

    /// The alert `alert_id` changed: it goes to the outputs as extended (unless raised now).
    fn updated(&mut self, alert_id: String) {
        if let Some(alert) = self.alerts.get_mut(&alert_id) {
            alert.updated_at = now();
        }
        if !self.raised.contains(&alert_id) && !self.extended.contains(&alert_id) {
            self.extended.push(alert_id);
        }
    }

    /// Stores `signal` made again under its id (a correlation window that changed).
    fn remake(&mut self, signal: &Signal) -> Result<()> {
        let body = serde_json::to_string(signal).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let packed = pack_signal(&body, signal.request_parameters.as_deref());
        self.backend.execute(
            "UPDATE signals SET packed = $1, event_time = $2 WHERE rule_id = $3 AND signal_key = $4",
            &[packed.into(), signal.event_time.as_deref().into(), signal.rule_id.as_str().into(), signal_key(signal).into()],
        )?;
        Ok(())
    }

    /// Records a signal read from `input`, packed, with its record's request parameters; its
    /// JSON, or `None` when the store had it already.
    fn record(&mut self, signal: &Signal, input: Option<i64>) -> Result<Option<String>> {
        Ok(self.record_all(&[signal], input)?.pop().flatten())
    }

    /// Records signals (an input's, read together), packed, with their records' request
    /// parameters, in a few statements: for each, its JSON when it is new to the store, else
    /// `None` (also for a repeat within `signals`, whose first sighting is the one recorded).
    fn record_all(
        &mut self,
        signals: &[&Signal],
        input: Option<i64>,
    ) -> Result<Vec<Option<String>>> {
        let mut bodies = Vec::with_capacity(signals.len());
        let mut rows = Vec::with_capacity(signals.len());
        let mut first = HashSet::new();
        for signal in signals {
            let key = (signal.rule_id.as_str(), signal_key(signal));
            if !first.insert(key.clone()) {
                bodies.push(None);
                continue;
            }
            let body =
                serde_json::to_string(signal).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let packed = pack_signal(&body, signal.request_parameters.as_deref());
            rows.push(vec![
                key.0.into(),
                key.1.as_str().into(),
                signal.event_time.as_deref().into(),
                packed.into(),
                input.map_or(Value::Null, Value::Int),
            ]);
            bodies.push(Some((key, body)));
        }
        let inserted: HashSet<(String, String)> = crate::backend::insert_rows(
            self.backend,
            "INSERT INTO signals (rule_id, signal_key, event_id, event_time, body, packed, input_digest)",
            "($, $, NULL, $, '', $, $)",
            rows,
            "ON CONFLICT (rule_id, signal_key) DO NOTHING RETURNING rule_id, signal_key",
            true,
        )?
        .into_iter()
        .filter_map(|row| {
            let mut row = row.into_iter().map(Value::into_text);
            Some((row.next()??, row.next()??))
        })
        .collect();
        Ok(bodies
            .into_iter()
            .map(|b| {
                b.and_then(|((rule, key), body)| {
                    inserted.contains(&(rule.to_owned(), key)).then_some(body)
                })
            })
            .collect())
    }

    /// Reads the alerts `ids` not read yet, a few statements for all; the ones the store does
    /// not have are remembered as such.
    fn prefetch(&mut self, mut ids: Vec<String>) -> Result<()> {
        ids.sort_unstable();
        ids.dedup();
        ids.retain(|id| !self.alerts.contains_key(id) && !self.absent.contains(id));
        for chunk in ids.chunks(128) {
            for alert in load_alerts(self.backend, chunk)? {
                self.alerts.insert(alert.alert.alert_id.clone(), alert);
            }
            let missing = chunk.iter().filter(|id| !self.alerts.contains_key(*id));
            self.absent.extend(missing.cloned());
        }
        Ok(())
    }

    fn alert(&mut self, alert_id: &str) -> Result<Option<&mut StoredAlert>> {
        if !self.alerts.contains_key(alert_id) {
            if self.taken_back.iter().any(|(taken, _)| taken.alert.alert_id == alert_id) {
                // Taken back in this transaction: its row goes at the end.
                return Ok(None);
            }
            if self.absent.contains(alert_id) {
                return Ok(None);
            }
            match load_alert(self.backend, alert_id)? {
                Some(alert) => self.alerts.insert(alert_id.to_owned(), alert),
                None => return Ok(None),
            };
        }
        Ok(self.alerts.get_mut(alert_id))
    }

    /// One new signal through the alerting driver, over this transaction's state.
    fn apply(&mut self, rule: &Rule, signal: &Signal, index: Option<usize>) -> Result<()> {
        let mut member = Member::of(rule, signal, index.unwrap_or_default());
        member.index = index;
        let terms = new_terms_of(rule, signal);
        for change in driver::apply(self, rule, member, terms)? {
            match change {
                Change::Raised(alert_id) => {
                    self.fresh.insert(alert_id.clone());
                    self.raised.push(alert_id);
                }
                Change::Extended(alert_id) | Change::Reduced(alert_id) => self.updated(alert_id),
                Change::Dropped => {
                    *self.out.dropped.entry(rule.meta.id.clone()).or_insert(0) += 1;
                }
                Change::NotNew => self.out.not_new += 1,
                Change::Withdrawn(..) | Change::Nothing => {}
            }
        }
        Ok(())
    }
}

/// The transaction's working set is the driver's state: rule windows and alerts are read from
/// the store when first needed and written back at the end.
impl AlertState for Work<'_, '_> {
    type Error = StoreError;

    fn rule_state(&mut self, rule: &Rule) -> Result<&mut RuleState> {
        self.state(&rule.meta.id)
    }

    fn alert(&mut self, alert_id: &str) -> Result<Option<&mut tripline_alert::Alert>> {
        Ok(Work::alert(self, alert_id)?.map(|stored| &mut stored.alert))
    }

    fn is_closed(&mut self, alert_id: &str) -> Result<bool> {
        Ok(Work::alert(self, alert_id)?.is_some_and(|a| a.status == Status::Closed))
    }

    fn raise(&mut self, alert: tripline_alert::Alert) -> Result<()> {
        self.alerts.insert(alert.alert_id.clone(), StoredAlert::new(alert));
        Ok(())
    }

    fn withdraw(&mut self, alert_id: &str, why: Withdrawal) -> Result<()> {
        if Work::alert(self, alert_id)?.is_some() {
            if let Some(mut stored) = self.alerts.remove(alert_id) {
                stored.status = Status::Closed;
                stored.notes.push(Note {
                    at: now(),
                    status: Some(Status::Closed),
                    text: why.reason().to_owned(),
                });
                self.taken_back.push((stored, why));
            }
        }
        Ok(())
    }
}

impl Work<'_, '_> {
    /// One input: its new signals through the rules' state, then its checkpoint.
    pub(crate) fn input(&mut self, batch: &InputBatch<'_>) -> Result<InputResult> {
        self.out = Ingested::default();
        self.raised.clear();
        self.extended.clear();
        if let (Some(key), None) = (batch.key, batch.again) {
            // Another process read it meanwhile.
            if checkpoint(self.backend, key)? != Checkpoint::Unread {
                return Ok((
                    Ingested { skipped: true, ..Ingested::default() },
                    Vec::new(),
                    Vec::new(),
                ));
            }
        }
        let mut order: Vec<&Incoming<'_>> = batch.incoming.iter().collect();
        order.sort_by(|a, b| {
            a.signal.time.cmp(&b.signal.time).then(a.signal.input.cmp(&b.signal.input))
        });
        // The input's digest, once for all of its signals.
        let input = batch.key.map(|k| input_digest(&k.input));
        let signals: Vec<&Signal> = order.iter().map(|i| i.signal).collect();
        let recorded = self.record_all(&signals, input)?;
        // The alerts the new signals' windows start from, read together: the driver asks for
        // each of them first.
        let windows = order.iter().zip(&recorded).filter(|(i, body)| i.alerts && body.is_some());
        let first_ids: Vec<String> = windows
            .map(|(i, _)| Slot::of(i.rule, &Member::of(i.rule, i.signal, i.index)).alert_id)
            .collect();
        self.prefetch(first_ids)?;
        for (incoming, body) in order.into_iter().zip(recorded) {
            let signal = incoming.signal;
            let Some(body) = body else {
                self.out.duplicates += 1;
                if let Some(correlations) = batch.again {
                    self.correlate_only(incoming.rule_index, signal, correlations)?;
                }
                continue;
            };
            self.out.new_signals.push(incoming.index);
            self.out.new_bodies.push(body);
            if incoming.alerts {
                self.apply(incoming.rule, signal, Some(incoming.index))?;
            }
            self.correlate(incoming.rule_index, signal)?;
        }
        if let Some(key) = batch.key {
            self.revised_in(batch, key);
            self.backend.execute(
                "INSERT INTO checkpoints (input, size, version, records, signals, completed_at, rule_set) VALUES ($1, $2, $3, $4, $5, $6, $7)
                 ON CONFLICT (input) DO UPDATE SET size = excluded.size, version = excluded.version, records = excluded.records,
                 signals = excluded.signals, completed_at = excluded.completed_at, rule_set = excluded.rule_set",
                &[key.input.as_str().into(), key.size.into(), key.version.as_str().into(), i64::try_from(batch.records).unwrap_or(i64::MAX).into(),
                  i64::try_from(self.out.new_signals.len()).unwrap_or(i64::MAX).into(), now().into(), batch.rule_set.into()],
            )?;
        }
        Ok((
            std::mem::take(&mut self.out),
            std::mem::take(&mut self.raised),
            std::mem::take(&mut self.extended),
        ))
    }

    /// Settles the correlation windows this transaction fed: new signals of windows that hold
    /// now (they go to the last input of the transaction), signals made again for windows
    /// that changed, signals taken back from windows past an upper bound.
    fn settle_windows(&mut self) -> Result<()> {
        let Correlations { plan, rules } = self.correlations;
        let fed: Vec<usize> = self.windows.keys().copied().collect();
        for correlation in fed {
            let rule = rules[correlation].clone();
            let alerts = !plan.is_silenced(correlation);
            for settled in plan.settle(rules, correlation, self.windows(correlation)?) {
                match settled {
                    Settled::New(signal) => self.correlated(correlation, signal)?,
                    Settled::Changed(signal) => {
                        self.remake(&signal)?;
                        if alerts {
                            let member = Member::of(&rule, &signal, 0);
                            if let Some(id) =
                                driver::refresh(self, &rule, Member { index: None, ..member })?
                            {
                                self.updated(id);
                            }
                        }
                    }
                    Settled::Gone(signal) => {
                        self.backend.execute(
                            "DELETE FROM signals WHERE rule_id = $1 AND signal_key = $2",
                            &[signal.rule_id.as_str().into(), signal_key(&signal).into()],
                        )?;
                        self.out.withdrawn += 1;
                        if alerts {
                            let member = Member { index: None, ..Member::of(&rule, &signal, 0) };
                            if let Change::Reduced(id) =
                                driver::withdraw_signal(self, &rule, &member)?
                            {
                                self.updated(id);
                            }
                        }
                    }
                }
            }
        }
        for (&correlation, state) in &self.windows {
            let json =
                serde_json::to_string(state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let key = format!("correlation:{}", rules[correlation].meta.id);
            save_state(self.backend, &key, json)?;
        }
        Ok(())
    }

    /// Writes back every rule state and alert the transaction touched.
    fn save(&mut self, rules: &HashMap<&str, &Rule>) -> Result<()> {
        for (rule_id, state) in &self.states {
            let json =
                serde_json::to_string(state).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            save_state(self.backend, rule_id, json)?;
        }
        // An alert taken back goes: its window may be raised again, under the same id.
        for (stored, _) in &self.taken_back {
            let id = stored.alert.alert_id.as_str();
            self.backend.execute("DELETE FROM alerts WHERE alert_id = $1", &[id.into()])?;
        }
        save_alerts(self.backend, self.alerts.values())?;
        // The guides of the rules whose alerts this transaction touched, for `alerts show`.
        let changed: std::collections::BTreeSet<&str> =
            self.alerts.values().map(|a| a.alert.rule_id.as_str()).collect();
        for rule in changed.into_iter().filter_map(|id| rules.get(id)) {
            crate::guides::keep(self.backend, rule)?;
        }
        Ok(())
    }
}
