//! Signals to alerts: dedup windows, thresholds and per-execution alert limits, in event time.
//!
//! - With `dedup`, signals of a rule with the same rendered key join the window opened by the
//!   first of them, for `period`; a later signal opens a new window.
//! - Without `dedup`, each signal is its own window (Elastic: one alert per match), unless
//!   `threshold` > 1, when all of a rule's signals share windows of the schedule's interval
//!   (one hour without a schedule).
//! - A window raises its alert when it holds `threshold` signals; later signals extend it.
//! - With a schedule, at most `max_alerts` alerts per rule per `interval` of event time are
//!   raised; the rest are counted as dropped.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tripline_rule::{Rule, Severity};

use crate::signal::Signal;

/// Ids kept on an alert; the count goes on past it.
pub const MAX_EVENT_IDS: usize = 100;
const THRESHOLD_WINDOW_DEFAULT: Duration = Duration::from_secs(3600);

/// An alert: one or more signals grouped by a rule's dedup key within its period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Stable id: the same inputs give the same id.
    pub alert_id: String,
    /// The rule.
    pub rule_id: String,
    /// The first signal's title.
    pub title: String,
    /// The rule's severity.
    pub severity: Severity,
    /// The rule's risk score.
    pub risk_score: u8,
    /// The rendered dedup key (empty without dedup).
    pub dedup_key: String,
    /// Event time of the first signal in the window.
    pub first_seen: Option<String>,
    /// Event time of the last signal in the window.
    pub last_seen: Option<String>,
    /// Signals in the window.
    pub event_count: u64,
    /// The first [`MAX_EVENT_IDS`] event ids.
    pub event_ids: Vec<String>,
    /// Indexes of the window's signals in the scan's signal list.
    #[serde(skip)]
    pub signals: Vec<usize>,
}

/// What alerting produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Alerts, in the order they were raised (event time).
    pub alerts: Vec<Alert>,
    /// Alerts not raised because a rule hit `max_alerts` in an execution, per rule.
    pub dropped: BTreeMap<String, u64>,
    /// Signals in windows that never reached their threshold.
    pub below_threshold: u64,
    /// Signals of `new_terms` rules whose terms were seen within the history window.
    pub not_new: u64,
}

struct Window {
    start: Option<DateTime<Utc>>,
    signals: Vec<usize>,
    /// The alert raised for this window, or `None` while below threshold or when dropped.
    alert: Option<usize>,
    dropped: bool,
}

fn window_period(rule: &Rule) -> Option<Duration> {
    match (&rule.alerting.dedup, rule.alerting.threshold) {
        (Some(d), _) => Some(d.period),
        (None, 1) => None,
        (None, _) => Some(rule.alerting.schedule.map_or(THRESHOLD_WINDOW_DEFAULT, |s| s.interval)),
    }
}

fn in_window(window: &Window, time: Option<DateTime<Utc>>, period: Duration) -> bool {
    match (window.start, time) {
        (Some(start), Some(t)) => t >= start && (t - start).to_std().is_ok_and(|d| d < period),
        // Without times there is no window to leave.
        _ => true,
    }
}

fn alert_id(rule_id: &str, key: &str, first_event: &str, first_seen: &str) -> String {
    let digest = Sha256::digest(format!("{rule_id}\u{0}{key}\u{0}{first_event}\u{0}{first_seen}"));
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// Groups signals into alerts. `rule_of[i]` is the rule of `signals[i]`.
#[must_use]
pub fn raise(rules: &[&Rule], rule_of: &[usize], signals: &[Signal]) -> Outcome {
    raise_selected(rules, rule_of, signals, (0..signals.len()).collect())
}

/// Like [`raise`], over the signals whose indexes are `selected` only.
#[must_use]
pub fn raise_selected(rules: &[&Rule], rule_of: &[usize], signals: &[Signal], selected: Vec<usize>) -> Outcome {
    let mut order = selected;
    // Event time first; input order breaks ties, so the result never depends on threads.
    order.sort_by(|&a, &b| signals[a].time.cmp(&signals[b].time).then(signals[a].input.cmp(&signals[b].input)));
    let mut outcome = Outcome::default();
    let mut windows: HashMap<(usize, String), Window> = HashMap::new();
    let mut per_execution: HashMap<(usize, i64), u32> = HashMap::new();
    let mut seen_terms: HashMap<(usize, Vec<String>), DateTime<Utc>> = HashMap::new();
    for &i in &order {
        let signal = &signals[i];
        let rule_index = rule_of[i];
        let rule = rules[rule_index];
        if let Some(new_terms) = &rule.alerting.new_terms {
            if !is_new_term(new_terms, rule_index, signal, &mut seen_terms) {
                outcome.not_new += 1;
                continue;
            }
        }
        let Some(period) = window_period(rule) else {
            let mut window = Window { start: signal.time, signals: vec![i], alert: None, dropped: false };
            try_raise(rule, rule_index, &mut window, signals, &mut per_execution, &mut outcome);
            continue;
        };
        let key = (rule_index, signal.dedup_key.clone());
        let window = windows.entry(key.clone()).or_insert_with(|| Window { start: signal.time, signals: Vec::new(), alert: None, dropped: false });
        if !window.signals.is_empty() && !in_window(window, signal.time, period) {
            *window = Window { start: signal.time, signals: Vec::new(), alert: None, dropped: false };
        }
        window.signals.push(i);
        match window.alert {
            Some(a) => extend(&mut outcome.alerts[a], signal, i),
            None if !window.dropped => try_raise(rule, rule_index, window, signals, &mut per_execution, &mut outcome),
            None => {}
        }
    }
    for window in windows.values() {
        if window.alert.is_none() && !window.dropped {
            outcome.below_threshold += window.signals.len() as u64;
        }
    }
    outcome
}

/// Elastic's new terms: the combination of the fields' values, new if not seen within the
/// history window before this signal. Signals missing a field are never new (Elastic needs
/// every field to have a value).
fn is_new_term(
    new_terms: &tripline_rule::NewTerms,
    rule_index: usize,
    signal: &Signal,
    seen: &mut HashMap<(usize, Vec<String>), DateTime<Utc>>,
) -> bool {
    let mut term = Vec::with_capacity(new_terms.fields.len());
    for field in &new_terms.fields {
        match signal.captured.get(field.name()).and_then(|v| v.first()) {
            Some(value) => term.push(value.clone()),
            None => return false,
        }
    }
    let Some(time) = signal.time else { return false };
    let previous = seen.insert((rule_index, term), time);
    previous.is_none_or(|last| (time - last).to_std().is_ok_and(|d| d >= new_terms.history))
}

fn try_raise(
    rule: &Rule,
    rule_index: usize,
    window: &mut Window,
    signals: &[Signal],
    per_execution: &mut HashMap<(usize, i64), u32>,
    outcome: &mut Outcome,
) {
    if window.signals.len() < rule.alerting.threshold as usize {
        return;
    }
    if let Some(cardinality) = &rule.alerting.cardinality {
        let distinct: std::collections::BTreeSet<&String> =
            window.signals.iter().filter_map(|&i| signals[i].captured.get(cardinality.field.name())).flatten().collect();
        if distinct.len() < cardinality.min as usize {
            return;
        }
    }
    let last = &signals[*window.signals.last().expect("a window holds at least one signal")];
    if let Some(schedule) = rule.alerting.schedule {
        let interval = i64::try_from(schedule.interval.as_secs().max(1)).unwrap_or(i64::MAX);
        let execution = last.time.map_or(0, |t| t.timestamp().div_euclid(interval));
        let raised = per_execution.entry((rule_index, execution)).or_insert(0);
        if *raised >= schedule.max_alerts {
            window.dropped = true;
            *outcome.dropped.entry(rule.meta.id.clone()).or_insert(0) += 1;
            return;
        }
        *raised += 1;
    }
    let first = &signals[window.signals[0]];
    let mut alert = Alert {
        alert_id: alert_id(&rule.meta.id, &first.dedup_key, first.event_id.as_deref().unwrap_or(""), first.event_time.as_deref().unwrap_or("")),
        rule_id: rule.meta.id.clone(),
        title: first.rule_title.clone(),
        severity: first.severity,
        risk_score: first.risk_score,
        dedup_key: first.dedup_key.clone(),
        first_seen: first.event_time.clone(),
        last_seen: first.event_time.clone(),
        event_count: 0,
        event_ids: Vec::new(),
        signals: Vec::new(),
    };
    for &i in &window.signals {
        extend(&mut alert, &signals[i], i);
    }
    window.alert = Some(outcome.alerts.len());
    outcome.alerts.push(alert);
}

fn extend(alert: &mut Alert, signal: &Signal, index: usize) {
    alert.event_count += 1;
    alert.last_seen.clone_from(&signal.event_time);
    alert.signals.push(index);
    if alert.event_ids.len() < MAX_EVENT_IDS {
        if let Some(id) = &signal.event_id {
            alert.event_ids.push(id.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signal::InputRef;
    use serde_json::json;
    use tripline_event::{Field, OwnedRecord};
    use tripline_rule::{Dedup, Expr, Schedule, Template, Test};

    fn rule(dedup: Option<(&str, u64)>, threshold: u32, schedule: Option<(u64, u32)>) -> Rule {
        let mut rule = Rule::new("r", Expr::pred(Field::resolve("eventName"), Test::Exists));
        rule.alerting.dedup = dedup.map(|(k, secs)| Dedup { key: Template::parse(k).expect("valid"), period: Duration::from_secs(secs) });
        rule.alerting.threshold = threshold;
        rule.alerting.schedule = schedule.map(|(secs, max)| Schedule { interval: Duration::from_secs(secs), lookback: Duration::from_secs(secs), max_alerts: max });
        rule
    }

    /// A signal per (minute offset, account), from complete-enough records.
    fn signals(rule: &Rule, events: &[(u32, &str)]) -> Vec<Signal> {
        events
            .iter()
            .enumerate()
            .map(|(i, (minute, account))| {
                let record = json!({"eventVersion": "1.09", "eventName": "CreateSecurityGroup", "eventSource": "ec2.amazonaws.com",
                    "eventTime": format!("2024-01-01T{:02}:{:02}:00Z", minute / 60, minute % 60), "eventID": format!("e{i}"),
                    "recipientAccountId": account, "userIdentity": {"type": "IAMUser", "accountId": account}});
                let owned = OwnedRecord::from_value(&record).expect("object");
                Signal::build(rule, &owned.record().expect("object"), InputRef { file: "f".into(), record: i, line: None })
            })
            .collect()
    }

    fn run(rule: &Rule, events: &[(u32, &str)]) -> Outcome {
        let s = signals(rule, events);
        raise(&[rule], &vec![0; s.len()], &s)
    }

    #[test]
    fn without_dedup_every_signal_is_an_alert() {
        assert_eq!(run(&rule(None, 1, None), &[(0, "1"), (1, "1")]).alerts.len(), 2);
    }

    #[test]
    fn dedup_groups_by_key_within_the_period_from_the_first_signal() {
        let r = rule(Some(("{recipientAccountId}", 600)), 1, None);
        let out = run(&r, &[(0, "1"), (5, "1"), (9, "2"), (10, "1"), (12, "1")]);
        let summary: Vec<(String, u64)> = out.alerts.iter().map(|a| (a.dedup_key.clone(), a.event_count)).collect();
        // Minute 10 is exactly one period after minute 0: a new window opens there.
        assert_eq!(summary, vec![("1".into(), 2), ("2".into(), 1), ("1".into(), 2)]);
        assert_eq!(out.alerts[0].event_ids, vec!["e0", "e1"]);
        assert_eq!(out.alerts[0].last_seen.as_deref(), Some("2024-01-01T00:05:00Z"));
    }

    #[test]
    fn threshold_waits_for_enough_signals_and_counts_the_rest() {
        let r = rule(Some(("{recipientAccountId}", 3600)), 3, None);
        let out = run(&r, &[(0, "1"), (1, "1"), (2, "2"), (3, "1"), (4, "1")]);
        assert_eq!(out.alerts.len(), 1);
        assert_eq!((out.alerts[0].dedup_key.as_str(), out.alerts[0].event_count), ("1", 4));
        assert_eq!(out.below_threshold, 1);
    }

    #[test]
    fn max_alerts_per_execution_drops_and_counts_the_overflow() {
        let r = rule(None, 1, Some((600, 2)));
        let out = run(&r, &[(0, "1"), (1, "1"), (2, "1"), (11, "1")]);
        assert_eq!(out.alerts.len(), 3);
        assert_eq!(out.dropped.get("r"), Some(&1));
    }

    #[test]
    fn alert_ids_are_stable_and_distinct() {
        let r = rule(None, 1, None);
        let a = run(&r, &[(0, "1"), (1, "1")]);
        let b = run(&r, &[(0, "1"), (1, "1")]);
        assert_eq!(a.alerts[0].alert_id, b.alerts[0].alert_id);
        assert_ne!(a.alerts[0].alert_id, a.alerts[1].alert_id);
    }
}
