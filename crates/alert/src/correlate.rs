//! Correlation rules over a scan's signals, in event time.
//!
//! Windows of `timespan` are aligned in event time (as alert windows are), per group (the
//! values of the `group-by` fields), and hold their signals in event order whatever order they
//! arrived in — so what a correlation gives is a function of the set of signals. `event_count`
//! counts signals, `value_count` distinct values of a field; `temporal` holds when every
//! referenced rule fired in the window, `temporal_ordered` when they fired in the listed order.
//! A window that holds gives one signal, with the window's id and start; when more signals
//! join, the signal is made again, and when a window with an upper bound passes it, the signal
//! is taken back.
//!
//! The windows are plain data ([`CorrelationState`], one per correlation rule), so a scan can
//! keep them in memory and a store between runs; [`CorrelationPlan::settle`] says what the
//! windows fed since it was last called give.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tripline_event::time::parse_event_time;
use tripline_event::{Field, Record};
use tripline_rule::{CorrelationKind, Rule};

use crate::signal::Signal;
use crate::window::digest;

/// What a correlation's signal carries about what it correlated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CorrelationContext {
    /// `event_count`, `value_count`, `temporal` or `temporal_ordered`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The referenced rules' ids.
    pub rules: Vec<String>,
    /// The group: `group-by` field → value.
    pub group: BTreeMap<String, String>,
    /// Signals (event_count, temporal) or distinct values (value_count) in the window.
    pub count: u64,
    /// Event time of the window's first signal.
    pub window_start: Option<String>,
    /// The first 100 event ids of the correlated signals.
    pub event_ids: Vec<String>,
}

struct Plan {
    rule: usize,
    referenced: Vec<usize>,
}

/// The correlations of a rule set, resolved to rule indexes.
#[derive(Default)]
pub struct CorrelationPlan {
    plans: Vec<Plan>,
    capture: HashMap<usize, Vec<Field>>,
    silenced: HashSet<usize>,
}

/// Why a correlation cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// It refers to a rule that is not loaded.
    #[error("correlation `{correlation}` refers to `{reference}`, which is not a loaded rule")]
    UnknownRule {
        /// The correlation's id.
        correlation: String,
        /// The reference, as written.
        reference: String,
    },
}

impl CorrelationPlan {
    /// Resolves every correlation's references.
    ///
    /// # Errors
    /// One message per reference that names no loaded rule.
    pub fn new(rules: &[Arc<Rule>]) -> Result<Self, Vec<PlanError>> {
        let mut plan = Self::default();
        let mut errors = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let Some(c) = rule.correlation() else { continue };
            let mut referenced = Vec::new();
            for reference in &c.rules {
                match rules.iter().position(|r| r.is_named(reference)) {
                    Some(r) => referenced.push(r),
                    None => errors.push(PlanError::UnknownRule {
                        correlation: rule.meta.id.clone(),
                        reference: reference.clone(),
                    }),
                }
            }
            for &r in &referenced {
                let fields = plan.capture.entry(r).or_default();
                fields.extend(c.group_by.iter().cloned());
                if let CorrelationKind::ValueCount(f) = &c.kind {
                    fields.push(f.clone());
                }
                if !c.generate {
                    plan.silenced.insert(r);
                }
            }
            plan.plans.push(Plan { rule: index, referenced });
        }
        if errors.is_empty() {
            Ok(plan)
        } else {
            Err(errors)
        }
    }

    /// Whether any correlation is loaded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.plans.is_empty()
    }

    /// Whether a rule's own alerts are silenced (a correlation uses it with `generate: false`).
    #[must_use]
    pub fn is_silenced(&self, rule: usize) -> bool {
        self.silenced.contains(&rule)
    }

    /// Keeps, on a signal of `rule`, the field values correlations will group by.
    pub fn capture(&self, rule: usize, record: &Record<'_>, signal: &mut Signal) {
        for field in self.capture.get(&rule).into_iter().flatten() {
            signal
                .captured
                .insert(field.name().to_owned(), crate::signal::field_texts(field, record));
        }
    }

    /// Every correlation rule, by index.
    pub fn correlations(&self) -> impl Iterator<Item = usize> + '_ {
        self.plans.iter().map(|p| p.rule)
    }

    /// The correlation rules (by index) that consume signals of `rule`.
    pub fn consumers(&self, rule: usize) -> impl Iterator<Item = usize> + '_ {
        self.plans.iter().filter(move |p| p.referenced.contains(&rule)).map(|p| p.rule)
    }

    fn plan(&self, correlation: usize) -> Option<&Plan> {
        self.plans.iter().find(|p| p.rule == correlation)
    }

    /// Feeds one signal of a referenced rule to the correlation rule `correlation`: it joins
    /// its group's window. What that changes is found by [`CorrelationPlan::settle`].
    pub fn feed(
        &self,
        rules: &[Arc<Rule>],
        correlation: usize,
        state: &mut CorrelationState,
        signal: &Signal,
    ) {
        let Some(c) = rules.get(correlation).and_then(|r| r.correlation()) else { return };
        let group: Vec<String> = c.group_by.iter().map(|f| first_captured(signal, f)).collect();
        let length = i64::try_from(c.timespan.as_secs().max(1)).unwrap_or(i64::MAX);
        let start = signal.time.map(|t| t.timestamp().div_euclid(length) * length);
        let key = serde_json::to_string(&(&group, start)).unwrap_or_default();
        let window = state.windows.entry(key).or_insert_with(|| Window::new(group, start));
        let values = match &c.kind {
            CorrelationKind::ValueCount(field) => {
                signal.captured.get(field.name()).cloned().unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let member = Member {
            rule: signal.rule_id.clone(),
            event_id: signal.event_id.clone(),
            event_time: signal.event_time.clone(),
            time: signal.time,
            values,
        };
        if window.join(member, signal) {
            window.changed = true;
        }
    }

    /// What the windows changed since the last call say now, for `correlation`: a window
    /// that holds for the first time gives a new signal, one that holds and changed gives its
    /// signal made again, one that held and holds no more (an upper bound passed) takes its
    /// signal back.
    #[must_use]
    pub fn settle(
        &self,
        rules: &[Arc<Rule>],
        correlation: usize,
        state: &mut CorrelationState,
    ) -> Vec<Settled> {
        let (Some(plan), Some(rule)) = (self.plan(correlation), rules.get(correlation)) else {
            return Vec::new();
        };
        let names: Vec<&str> = plan.referenced.iter().map(|&r| rules[r].meta.id.as_str()).collect();
        let mut out = Vec::new();
        for window in state.windows.values_mut().filter(|w| w.changed) {
            window.changed = false;
            let holds = window.holds(&names, rule);
            let Some(signal) = window.signal(rule) else { continue };
            match (window.emitted, holds) {
                (false, true) => out.push(Settled::New(signal)),
                (true, true) => out.push(Settled::Changed(signal)),
                (true, false) => out.push(Settled::Gone(signal)),
                (false, false) => {}
            }
            window.emitted = holds;
        }
        out
    }

    /// Runs every correlation over the signals of one scan held in memory; returns
    /// (correlation rule index, signal) for every window that holds.
    #[must_use]
    pub fn run(
        &self,
        rules: &[Arc<Rule>],
        rule_of: &[usize],
        signals: &[Signal],
    ) -> Vec<(usize, Signal)> {
        let mut out = Vec::new();
        for plan in &self.plans {
            let mut state = CorrelationState::default();
            for (i, signal) in signals.iter().enumerate() {
                if plan.referenced.contains(&rule_of[i]) {
                    self.feed(rules, plan.rule, &mut state, signal);
                }
            }
            for settled in self.settle(rules, plan.rule, &mut state) {
                if let Settled::New(signal) = settled {
                    out.push((plan.rule, signal));
                }
            }
        }
        out.sort_by(|a, b| a.1.time.cmp(&b.1.time).then_with(|| a.1.event_id.cmp(&b.1.event_id)));
        out
    }
}

/// What a correlation window's change says.
#[derive(Debug, Clone, PartialEq)]
pub enum Settled {
    /// The window holds for the first time: its signal.
    New(Signal),
    /// The window held and changed: its signal, made again (same id).
    Changed(Signal),
    /// The window held and holds no more: the signal it gave, to take back.
    Gone(Signal),
}

fn first_captured(signal: &Signal, field: &Field) -> String {
    signal.captured.get(field.name()).and_then(|v| v.first()).cloned().unwrap_or_default()
}

/// One correlation rule's windows, by group and start.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorrelationState {
    /// (Named apart from the anchored windows of earlier versions, which are not read.)
    #[serde(default, rename = "aligned")]
    windows: BTreeMap<String, Window>,
}

impl CorrelationState {
    /// Forgets the windows whose signals are all older than `before` (retention); returns how
    /// many went. A signal of that age read later starts its window again.
    pub fn forget_before(&mut self, before: DateTime<Utc>) -> u64 {
        let count = self.windows.len();
        self.windows.retain(|_, w| w.members.iter().any(|m| m.time.is_none_or(|t| t >= before)));
        (count - self.windows.len()) as u64
    }
}

/// What a window remembers of a signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Member {
    rule: String,
    event_id: Option<String>,
    event_time: Option<String>,
    time: Option<DateTime<Utc>>,
    /// The `value_count` field's values.
    values: Vec<String>,
}

impl Member {
    fn order(&self) -> (Option<DateTime<Utc>>, Option<&str>, &str) {
        (self.time, self.event_id.as_deref(), self.rule.as_str())
    }
}

/// One group's window of `timespan`, aligned in event time like alert windows: its members in
/// event order, whatever order they came in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Window {
    group: Vec<String>,
    start: Option<i64>,
    members: Vec<Member>,
    /// Its signal was given (and not taken back).
    emitted: bool,
    /// Members joined since the last settling.
    #[serde(default)]
    changed: bool,
    /// The earliest member's signal, which the correlation's own signal is made from.
    earliest: Option<Box<Signal>>,
}

impl Window {
    fn new(group: Vec<String>, start: Option<i64>) -> Self {
        Self { group, start, members: Vec::new(), emitted: false, changed: false, earliest: None }
    }

    /// Adds a member in event order; whether it is new to the window.
    fn join(&mut self, member: Member, signal: &Signal) -> bool {
        let at = match self.members.binary_search_by(|m| m.order().cmp(&member.order())) {
            Ok(_) => return false,
            Err(at) => at,
        };
        if at == 0 {
            self.earliest = Some(Box::new(signal.clone()));
        }
        self.members.insert(at, member);
        true
    }

    fn count(&self, rule: &Rule) -> u64 {
        match rule.correlation().map(|c| &c.kind) {
            Some(CorrelationKind::ValueCount(_)) => {
                self.members.iter().flat_map(|m| &m.values).collect::<BTreeSet<_>>().len() as u64
            }
            _ => self.members.len() as u64,
        }
    }

    /// Whether the window's signals satisfy the correlation.
    fn holds(&self, referenced: &[&str], rule: &Rule) -> bool {
        let Some(c) = rule.correlation() else { return false };
        match &c.kind {
            CorrelationKind::EventCount | CorrelationKind::ValueCount(_) => {
                c.condition.as_ref().is_some_and(|cond| cond.holds(self.count(rule) as f64))
            }
            CorrelationKind::Temporal => {
                let seen: HashSet<&str> = self.members.iter().map(|m| m.rule.as_str()).collect();
                referenced.iter().all(|r| seen.contains(r))
            }
            CorrelationKind::TemporalOrdered => {
                // In event order: the members are kept sorted.
                let mut next = referenced.iter().peekable();
                for m in &self.members {
                    if next.peek().is_some_and(|&&r| r == m.rule) {
                        next.next();
                    }
                }
                next.peek().is_none()
            }
        }
    }

    /// The correlation's signal for this window: its id and time are the window's, so it is
    /// the same signal however its members arrived; the rest comes from the earliest member.
    fn signal(&self, rule: &Rule) -> Option<Signal> {
        let c = rule.correlation()?;
        let mut signal = (**self.earliest.as_ref()?).clone();
        let start = self.start.and_then(|s| DateTime::<Utc>::from_timestamp(s, 0));
        let start_text = start.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        let group: BTreeMap<String, String> = c
            .group_by
            .iter()
            .map(|f| f.name().to_owned())
            .zip(self.group.iter().cloned())
            .collect();
        let rules: BTreeSet<String> = self.members.iter().map(|m| m.rule.clone()).collect();
        let key = serde_json::to_string(&(&self.group, self.start)).unwrap_or_default();
        signal.event_id = Some(format!("correlation-{}", digest(&[&rule.meta.id, &key])));
        signal.event_time.clone_from(&start_text);
        signal.time = start.or_else(|| signal.event_time.as_deref().and_then(parse_event_time));
        signal.rule_id.clone_from(&rule.meta.id);
        signal.rule_title.clone_from(&rule.meta.title);
        signal.severity = rule.meta.severity();
        signal.risk_score = rule.meta.risk_score();
        signal.summary =
            group.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        signal.dedup_key = group.values().cloned().collect::<Vec<_>>().join("|");
        signal.captured.clear();
        signal.context.correlation = Some(CorrelationContext {
            kind: match c.kind {
                CorrelationKind::EventCount => "event_count",
                CorrelationKind::ValueCount(_) => "value_count",
                CorrelationKind::Temporal => "temporal",
                CorrelationKind::TemporalOrdered => "temporal_ordered",
            }
            .to_owned(),
            rules: rules.into_iter().collect(),
            group,
            count: self.count(rule),
            window_start: start_text,
            event_ids: self
                .members
                .iter()
                .filter_map(|m| m.event_id.clone())
                .take(crate::window::MAX_EVENT_IDS)
                .collect(),
        });
        Some(signal)
    }
}
