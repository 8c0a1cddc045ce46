//! One rule's alerting state between signals: the windows waiting for their threshold, what
//! `max_alerts` let each execution raise, and the new-terms sightings. Plain data (serde), so
//! a scan keeps it in memory and a store between runs.
//!
//! Nothing here depends on the order signals arrive in: a window waits until its signals meet
//! the threshold (and cardinality), whichever came first; an execution raises the alerts of
//! the `max_alerts` windows that come first by their fixed [`Rank`], so a window that arrives
//! late and ranks before one already raised takes its place (and the other is taken back).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tripline_rule::Rule;

use crate::terms::Sightings;
use crate::window::{Member, Rank, Slot};

/// One rule's alerting state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// Signals of windows below the threshold, by the id their alert will have.
    #[serde(default)]
    waiting: BTreeMap<String, Vec<Member>>,
    /// With a schedule: per execution, the windows raised and dropped.
    #[serde(default)]
    executed: BTreeMap<i64, Execution>,
    /// New-terms sightings, by term.
    #[serde(default)]
    pub(crate) sightings: BTreeMap<String, Sightings>,
    /// For a new-terms rule with windows: the signals of each alert, so that one taken back
    /// (not new after all) leaves the alert as the others alone make it. New signals are few.
    #[serde(default)]
    pub(crate) members: BTreeMap<String, Vec<Member>>,
}

/// What `max_alerts` let one execution raise.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Execution {
    /// The windows whose alerts are raised, in rank order: at most `max_alerts`.
    raised: Vec<(Rank, String)>,
    /// The latest window time seen in it (Unix seconds), for retention.
    #[serde(default)]
    latest: i64,
    /// The windows whose alerts are not: `max_alerts` others rank before them.
    dropped: BTreeSet<String>,
}

/// Whether a window that reached its threshold raises its alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Admission {
    /// It does.
    Raise,
    /// It does, and the alert of this window, which ranks after it, is taken back.
    RaiseInstead(String),
    /// It does not: `max_alerts` windows of its execution rank before it.
    Drop,
}

impl RuleState {
    /// Whether the window `alert_id` of `slot`'s execution was dropped by `max_alerts`.
    #[must_use]
    pub fn is_dropped(&self, slot: &Slot, alert_id: &str) -> bool {
        slot.execution
            .and_then(|e| self.executed.get(&e))
            .is_some_and(|e| e.dropped.contains(alert_id))
    }

    /// Adds `member` to the window `alert_id`; returns the window's signals once they meet
    /// the threshold and cardinality (the window then waits no more).
    pub fn wait(&mut self, rule: &Rule, alert_id: &str, member: Member) -> Option<Vec<Member>> {
        let alerting = &rule.alerting;
        if alerting.threshold <= 1 && alerting.cardinality.is_none() {
            return Some(vec![member]);
        }
        let members = self.waiting.entry(alert_id.to_owned()).or_default();
        members.push(member);
        if members.len() < alerting.threshold as usize {
            return None;
        }
        if let Some(cardinality) = &alerting.cardinality {
            let distinct: BTreeSet<&String> = members.iter().flat_map(|m| &m.distinct).collect();
            if distinct.len() < cardinality.min as usize {
                return None;
            }
        }
        self.waiting.remove(alert_id)
    }

    /// Takes the signal `event_id` out of the waiting window `alert_id`; whether it was there.
    pub fn take_waiting(&mut self, alert_id: &str, event_id: Option<&str>) -> bool {
        let Some(members) = self.waiting.get_mut(alert_id) else { return false };
        let Some(at) = members.iter().position(|m| m.event_id.as_deref() == event_id) else {
            return false;
        };
        members.remove(at);
        if members.is_empty() {
            self.waiting.remove(alert_id);
        }
        true
    }

    /// Whether the window `alert_id` at `slot`, which just reached its threshold, raises its
    /// alert under `rule`'s `max_alerts`.
    pub fn admit(&mut self, rule: &Rule, slot: &Slot, alert_id: &str) -> Admission {
        let (Some(schedule), Some(execution)) = (rule.alerting.schedule, slot.execution) else {
            return Admission::Raise;
        };
        let execution = self.executed.entry(execution).or_default();
        execution.latest = execution.latest.max(slot.rank.0);
        let entry = (slot.rank.clone(), alert_id.to_owned());
        let at = execution.raised.partition_point(|raised| *raised < entry);
        execution.raised.insert(at, entry);
        if execution.raised.len() <= schedule.max_alerts as usize {
            return Admission::Raise;
        }
        let Some((_, last)) = execution.raised.pop() else { return Admission::Raise };
        execution.dropped.insert(last.clone());
        if last == alert_id {
            Admission::Drop
        } else {
            Admission::RaiseInstead(last)
        }
    }

    /// Forgets what only signals older than `before` decide (retention): windows still below
    /// their threshold, executions, new-terms sightings and kept signals of that age. Returns
    /// how many entries went. A signal of that age read later is judged as if nothing older
    /// had been seen.
    pub fn forget_before(&mut self, before: DateTime<Utc>) -> u64 {
        let recent =
            |members: &Vec<Member>| members.iter().any(|m| m.time.is_none_or(|t| t >= before));
        let mut forgotten = 0;
        let mut count = |kept: bool| {
            forgotten += u64::from(!kept);
            kept
        };
        self.waiting.retain(|_, members| count(recent(members)));
        self.members.retain(|_, members| count(recent(members)));
        self.executed.retain(|_, e| count(e.latest >= before.timestamp()));
        for sightings in self.sightings.values_mut() {
            sightings.forget_before(before);
        }
        self.sightings.retain(|_, s| count(!s.is_empty()));
        forgotten
    }

    /// Signals in windows that never reached their threshold.
    #[must_use]
    pub fn below_threshold(&self) -> u64 {
        self.waiting.values().map(|m| m.len() as u64).sum()
    }

    /// Windows whose alerts `max_alerts` dropped.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.executed.values().map(|e| e.dropped.len() as u64).sum()
    }
}
