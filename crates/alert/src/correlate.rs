//! Correlation rules over a scan's signals, in event time.
//!
//! Windows are anchored on their first signal (as dedup windows are) and last `timespan`, per
//! group (the values of the `group-by` fields). `event_count` counts signals, `value_count`
//! distinct values of a field; a condition without an upper bound fires as soon as it holds,
//! one with an upper bound when the window closes. `temporal` fires when every referenced rule
//! has fired in the window, `temporal_ordered` when they fired in the listed order.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tripline_event::{Field, Record};
use tripline_rule::{CorrelationKind, Rule};

use crate::signal::Signal;

/// What a correlation's signal carries about what it correlated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrelationContext {
    /// `event_count`, `value_count`, `temporal` or `temporal_ordered`.
    #[serde(rename = "type")]
    pub kind: &'static str,
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

impl CorrelationPlan {
    /// Resolves every correlation's references.
    ///
    /// # Errors
    /// One message per reference that names no loaded rule.
    pub fn new(rules: &[Arc<Rule>]) -> Result<Self, Vec<String>> {
        let mut plan = Self::default();
        let mut errors = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            let Some(c) = &rule.correlation else { continue };
            let mut referenced = Vec::new();
            for reference in &c.rules {
                match rules.iter().position(|r| r.is_named(reference)) {
                    Some(r) => referenced.push(r),
                    None => errors.push(format!("correlation `{}` refers to `{reference}`, which is not a loaded rule", rule.meta.id)),
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
        if errors.is_empty() { Ok(plan) } else { Err(errors) }
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
            signal.captured.insert(field.name().to_owned(), crate::signal::field_texts(field, record));
        }
    }

    /// Runs every correlation over the signals; returns (correlation rule index, signal).
    #[must_use]
    pub fn run(&self, rules: &[Arc<Rule>], rule_of: &[usize], signals: &[Signal]) -> Vec<(usize, Signal)> {
        let mut out = Vec::new();
        for plan in &self.plans {
            let rule = &rules[plan.rule];
            let Some(c) = &rule.correlation else { continue };
            let mut order: Vec<usize> = (0..signals.len()).filter(|&i| plan.referenced.contains(&rule_of[i])).collect();
            order.sort_by(|&a, &b| signals[a].time.cmp(&signals[b].time).then(signals[a].input.cmp(&signals[b].input)));
            let mut windows: BTreeMap<Vec<String>, Window> = BTreeMap::new();
            for i in order {
                let group: Vec<String> = c.group_by.iter().map(|f| first_captured(&signals[i], f)).collect();
                let time = signals[i].time;
                let window = windows.entry(group.clone()).or_insert_with(|| Window::new(time));
                if window.expired(time, c.timespan) {
                    if let Some(s) = window.close(plan, rule, rule_of, signals, &group) {
                        out.push((plan.rule, s));
                    }
                    *window = Window::new(time);
                }
                window.signals.push(i);
                if !window.fired && window.fires_now(plan, rule, rule_of, signals) {
                    window.fired = true;
                    out.push((plan.rule, window.signal(rule, signals, &group)));
                }
            }
            for (group, window) in &windows {
                if let Some(s) = window.close(plan, rule, rule_of, signals, group) {
                    out.push((plan.rule, s));
                }
            }
        }
        out
    }
}

fn first_captured(signal: &Signal, field: &Field) -> String {
    signal.captured.get(field.name()).and_then(|v| v.first()).cloned().unwrap_or_default()
}

struct Window {
    start: Option<DateTime<Utc>>,
    signals: Vec<usize>,
    fired: bool,
}

impl Window {
    fn new(start: Option<DateTime<Utc>>) -> Self {
        Self { start, signals: Vec::new(), fired: false }
    }

    fn expired(&self, time: Option<DateTime<Utc>>, timespan: std::time::Duration) -> bool {
        match (self.start, time) {
            (Some(start), Some(t)) => (t - start).to_std().is_ok_and(|d| d >= timespan),
            _ => false,
        }
    }

    fn count(&self, rule: &Rule, signals: &[Signal]) -> u64 {
        match rule.correlation.as_ref().map(|c| &c.kind) {
            Some(CorrelationKind::ValueCount(field)) => {
                let distinct: BTreeSet<String> = self.signals.iter().flat_map(|&i| signals[i].captured.get(field.name()).cloned().unwrap_or_default()).collect();
                distinct.len() as u64
            }
            _ => self.signals.len() as u64,
        }
    }

    /// Whether the window's signals satisfy the correlation now.
    fn holds(&self, plan: &Plan, rule: &Rule, rule_of: &[usize], signals: &[Signal]) -> bool {
        let Some(c) = &rule.correlation else { return false };
        match &c.kind {
            CorrelationKind::EventCount | CorrelationKind::ValueCount(_) => {
                c.condition.as_ref().is_some_and(|cond| cond.holds(self.count(rule, signals) as f64))
            }
            CorrelationKind::Temporal => {
                let seen: HashSet<usize> = self.signals.iter().map(|&i| rule_of[i]).collect();
                plan.referenced.iter().all(|r| seen.contains(r))
            }
            CorrelationKind::TemporalOrdered => {
                let mut next = plan.referenced.iter().peekable();
                for &i in &self.signals {
                    if next.peek().is_some_and(|&&r| r == rule_of[i]) {
                        next.next();
                    }
                }
                next.peek().is_none()
            }
        }
    }

    fn fires_now(&self, plan: &Plan, rule: &Rule, rule_of: &[usize], signals: &[Signal]) -> bool {
        let early = rule.correlation.as_ref().is_some_and(|c| c.condition.as_ref().is_none_or(tripline_rule::CountCondition::fires_early));
        early && self.holds(plan, rule, rule_of, signals)
    }

    fn close(&self, plan: &Plan, rule: &Rule, rule_of: &[usize], signals: &[Signal], group: &[String]) -> Option<Signal> {
        (!self.fired && !self.signals.is_empty() && self.holds(plan, rule, rule_of, signals)).then(|| self.signal(rule, signals, group))
    }

    fn signal(&self, rule: &Rule, signals: &[Signal], group: &[String]) -> Signal {
        let c = rule.correlation.as_ref().expect("only correlation rules have windows");
        let last = &signals[*self.signals.last().expect("a window that holds has signals")];
        let mut signal = last.clone();
        let group: BTreeMap<String, String> = c.group_by.iter().map(|f| f.name().to_owned()).zip(group.iter().cloned()).collect();
        let rules: BTreeSet<String> = self.signals.iter().map(|&i| signals[i].rule_id.clone()).collect();
        signal.rule_id.clone_from(&rule.meta.id);
        signal.rule_title.clone_from(&rule.meta.title);
        signal.severity = rule.meta.severity();
        signal.risk_score = rule.meta.risk_score();
        signal.summary = group.iter().map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone()))).collect();
        signal.dedup_key = group.values().cloned().collect::<Vec<_>>().join("|");
        signal.captured.clear();
        signal.context.correlation = Some(CorrelationContext {
            kind: match c.kind {
                CorrelationKind::EventCount => "event_count",
                CorrelationKind::ValueCount(_) => "value_count",
                CorrelationKind::Temporal => "temporal",
                CorrelationKind::TemporalOrdered => "temporal_ordered",
            },
            rules: rules.into_iter().collect(),
            group,
            count: self.count(rule, signals),
            window_start: self.signals.first().and_then(|&i| signals[i].event_time.clone()),
            event_ids: self.signals.iter().filter_map(|&i| signals[i].event_id.clone()).take(crate::window::MAX_EVENT_IDS).collect(),
        });
        signal
    }
}
