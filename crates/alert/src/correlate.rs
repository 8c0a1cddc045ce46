//! Correlation rules over a scan's signals, in event time.
//!
//! Windows are anchored on their first signal (as dedup windows are) and last `timespan`, per
//! group (the values of the `group-by` fields). `event_count` counts signals, `value_count`
//! distinct values of a field; a condition without an upper bound fires as soon as it holds,
//! one with an upper bound when the window closes. `temporal` fires when every referenced rule
//! has fired in the window, `temporal_ordered` when they fired in the listed order.
//!
//! The windows are plain data ([`CorrelationState`], one per correlation rule), so a scan can
//! keep them in memory and close them all at its end, and a store can keep them between runs
//! and close them only when event time has moved past them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tripline_event::time::parse_event_time;
use tripline_event::{Field, Record};
use tripline_rule::{CorrelationKind, Rule};

use crate::signal::Signal;

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

    /// Feeds one signal of a referenced rule to the correlation rule `correlation`; returns the
    /// correlation's signals this caused (a window it closed, the window firing now).
    #[must_use]
    pub fn feed(
        &self,
        rules: &[Arc<Rule>],
        correlation: usize,
        state: &mut CorrelationState,
        signal: &Signal,
    ) -> Vec<Signal> {
        let (Some(plan), Some(rule)) = (self.plan(correlation), rules.get(correlation)) else {
            return Vec::new();
        };
        let Some(c) = rule.correlation() else { return Vec::new() };
        let names: Vec<&str> = plan.referenced.iter().map(|&r| rules[r].meta.id.as_str()).collect();
        let group: Vec<String> = c.group_by.iter().map(|f| first_captured(signal, f)).collect();
        let key = serde_json::to_string(&group).unwrap_or_default();
        let mut out = Vec::new();
        let window = state.windows.entry(key).or_insert_with(|| Window::new(signal.time));
        if window.expired(signal.time, c.timespan) {
            out.extend(window.close(&names, rule, &group));
            *window = Window::new(signal.time);
        }
        let values = match &c.kind {
            CorrelationKind::ValueCount(field) => {
                signal.captured.get(field.name()).cloned().unwrap_or_default()
            }
            _ => Vec::new(),
        };
        window.members.push(Member {
            rule: signal.rule_id.clone(),
            event_id: signal.event_id.clone(),
            event_time: signal.event_time.clone(),
            values,
        });
        window.last = Some(Box::new(signal.clone()));
        if !window.fired && window.fires_now(&names, rule) {
            window.fired = true;
            out.extend(window.signal(rule, &group));
        }
        out
    }

    /// Closes the windows of `correlation` that ended at or before `now` (all of them without
    /// `now`: the end of a scan held in memory); returns the signals of those that held.
    #[must_use]
    pub fn close(
        &self,
        rules: &[Arc<Rule>],
        correlation: usize,
        state: &mut CorrelationState,
        now: Option<DateTime<Utc>>,
    ) -> Vec<Signal> {
        let (Some(plan), Some(rule)) = (self.plan(correlation), rules.get(correlation)) else {
            return Vec::new();
        };
        let Some(c) = rule.correlation() else { return Vec::new() };
        let names: Vec<&str> = plan.referenced.iter().map(|&r| rules[r].meta.id.as_str()).collect();
        let mut out = Vec::new();
        state.windows.retain(|key, window| {
            let ended = now.is_none_or(|now| window.expired(Some(now), c.timespan));
            if ended {
                let group: Vec<String> = serde_json::from_str(key).unwrap_or_default();
                out.extend(window.close(&names, rule, &group));
            }
            !ended
        });
        out
    }

    /// Runs every correlation over the signals of one scan held in memory, closing every
    /// window at the end; returns (correlation rule index, signal).
    #[must_use]
    pub fn run(
        &self,
        rules: &[Arc<Rule>],
        rule_of: &[usize],
        signals: &[Signal],
    ) -> Vec<(usize, Signal)> {
        let mut out = Vec::new();
        for plan in &self.plans {
            let mut order: Vec<usize> =
                (0..signals.len()).filter(|&i| plan.referenced.contains(&rule_of[i])).collect();
            order.sort_by(|&a, &b| {
                signals[a].time.cmp(&signals[b].time).then(signals[a].input.cmp(&signals[b].input))
            });
            let mut state = CorrelationState::default();
            for i in order {
                out.extend(
                    self.feed(rules, plan.rule, &mut state, &signals[i])
                        .into_iter()
                        .map(|s| (plan.rule, s)),
                );
            }
            out.extend(
                self.close(rules, plan.rule, &mut state, None).into_iter().map(|s| (plan.rule, s)),
            );
        }
        out
    }
}

fn first_captured(signal: &Signal, field: &Field) -> String {
    signal.captured.get(field.name()).and_then(|v| v.first()).cloned().unwrap_or_default()
}

/// One correlation rule's open windows, by group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CorrelationState {
    windows: BTreeMap<String, Window>,
}

/// What a window remembers of a signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Member {
    rule: String,
    event_id: Option<String>,
    event_time: Option<String>,
    /// The `value_count` field's values.
    values: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Window {
    start: Option<DateTime<Utc>>,
    members: Vec<Member>,
    fired: bool,
    /// The latest signal, which the correlation's own signal is made from.
    last: Option<Box<Signal>>,
}

impl Window {
    fn new(start: Option<DateTime<Utc>>) -> Self {
        Self { start, members: Vec::new(), fired: false, last: None }
    }

    fn expired(&self, time: Option<DateTime<Utc>>, timespan: Duration) -> bool {
        match (self.start, time) {
            (Some(start), Some(t)) => (t - start).to_std().is_ok_and(|d| d >= timespan),
            _ => false,
        }
    }

    fn count(&self, rule: &Rule) -> u64 {
        match rule.correlation().map(|c| &c.kind) {
            Some(CorrelationKind::ValueCount(_)) => {
                self.members.iter().flat_map(|m| &m.values).collect::<BTreeSet<_>>().len() as u64
            }
            _ => self.members.len() as u64,
        }
    }

    /// Whether the window's signals satisfy the correlation now.
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

    fn fires_now(&self, referenced: &[&str], rule: &Rule) -> bool {
        let early = rule.correlation().is_some_and(|c| {
            c.condition.as_ref().is_none_or(tripline_rule::CountCondition::fires_early)
        });
        early && self.holds(referenced, rule)
    }

    fn close(&self, referenced: &[&str], rule: &Rule, group: &[String]) -> Option<Signal> {
        if self.fired || self.members.is_empty() || !self.holds(referenced, rule) {
            return None;
        }
        self.signal(rule, group)
    }

    fn signal(&self, rule: &Rule, group: &[String]) -> Option<Signal> {
        let c = rule.correlation()?;
        let mut signal = (**self.last.as_ref()?).clone();
        // A signal read back from a store has no parsed time: work it out again.
        signal.time = signal.event_time.as_deref().and_then(parse_event_time);
        let group: BTreeMap<String, String> =
            c.group_by.iter().map(|f| f.name().to_owned()).zip(group.iter().cloned()).collect();
        let rules: BTreeSet<String> = self.members.iter().map(|m| m.rule.clone()).collect();
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
            window_start: self.members.first().and_then(|m| m.event_time.clone()),
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
