//! Signals to alerts for one scan held in memory: every signal through the alerting driver
//! ([`crate::driver`]) over a [`MemoryState`], in event-time order. The rules of alerting are
//! in [`crate::window`].

use std::collections::BTreeMap;

use tripline_rule::Rule;

use crate::driver::{self, Change, MemoryState};
use crate::signal::{InputRef, Signal};
use crate::window::{new_terms_of, Member};
pub use crate::window::{Alert, MAX_EVENT_IDS};

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

/// What alerting keeps of one signal until the scan's signals are grouped: its rule, where it
/// came from (to order ties) and what its rule's state needs. A scan that writes its signals as
/// it goes keeps these instead of the signals.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The rule's index.
    pub rule: usize,
    /// Where the signal's record came from.
    pub input: InputRef,
    /// What the rule's windows remember.
    pub member: Member,
    /// The new-terms values, for `new_terms` rules.
    pub terms: Option<Vec<String>>,
}

impl Candidate {
    /// What alerting keeps of `signal`, of the rule `rules[rule]`, the `index`th signal of the run.
    #[must_use]
    pub fn of(rules: &[&Rule], rule: usize, signal: &Signal, index: usize) -> Self {
        Self {
            rule,
            input: signal.input.clone(),
            member: Member::of(rules[rule], signal, index),
            terms: new_terms_of(rules[rule], signal),
        }
    }
}

/// Groups signals into alerts. `rule_of[i]` is the rule of `signals[i]`.
#[must_use]
pub fn raise(rules: &[&Rule], rule_of: &[usize], signals: &[Signal]) -> Outcome {
    raise_candidates(
        rules,
        signals
            .iter()
            .enumerate()
            .map(|(i, signal)| Candidate::of(rules, rule_of[i], signal, i))
            .collect(),
    )
}

/// Groups candidates into alerts, every one through its rule's [`RuleState`] in event-time
/// order; ties keep the order given (input order), so the result never depends on threads.
#[must_use]
pub fn raise_candidates(rules: &[&Rule], mut candidates: Vec<Candidate>) -> Outcome {
    candidates
        .sort_by(|a, b| a.member.time.cmp(&b.member.time).then_with(|| a.input.cmp(&b.input)));
    let mut state = MemoryState::default();
    let mut outcome = Outcome::default();
    for Candidate { rule: index, member, terms, .. } in candidates {
        let rule = rules[index];
        let Ok(changes) = driver::apply(&mut state, rule, member, terms);
        for change in changes {
            match change {
                Change::Dropped => *outcome.dropped.entry(rule.meta.id.clone()).or_insert(0) += 1,
                Change::NotNew => outcome.not_new += 1,
                Change::Raised(_)
                | Change::Extended(_)
                | Change::Withdrawn(..)
                | Change::Reduced(_)
                | Change::Nothing => {}
            }
        }
    }
    outcome.below_threshold = state.below_threshold();
    outcome.alerts = state.alerts;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;
    use tripline_event::{Field, OwnedRecord};
    use tripline_rule::{Dedup, Expr, Schedule, Template, Test};

    fn rule(dedup: Option<(&str, u64)>, threshold: u32, schedule: Option<(u64, u32)>) -> Rule {
        let mut rule = Rule::new("r", Expr::pred(Field::resolve("eventName"), Test::Exists));
        rule.alerting.dedup = dedup.map(|(k, secs)| Dedup {
            key: Template::parse(k).expect("valid"),
            period: Duration::from_secs(secs),
        });
        rule.alerting.threshold = threshold;
        rule.alerting.schedule = schedule.map(|(secs, max)| Schedule {
            interval: Duration::from_secs(secs),
            lookback: Duration::from_secs(secs),
            max_alerts: max,
        });
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
    fn dedup_groups_by_key_within_windows_aligned_on_the_period() {
        let r = rule(Some(("{recipientAccountId}", 600)), 1, None);
        let out = run(&r, &[(0, "1"), (5, "1"), (9, "2"), (10, "1"), (12, "1")]);
        let summary: Vec<(String, u64)> =
            out.alerts.iter().map(|a| (a.dedup_key.clone(), a.event_count)).collect();
        // Windows of ten minutes from the hour: minute 10 starts the second.
        assert_eq!(summary, vec![("1".into(), 2), ("2".into(), 1), ("1".into(), 2)]);
        assert_eq!(out.alerts[0].event_ids, vec!["e0", "e1"]);
        assert_eq!(out.alerts[0].last_seen.as_deref(), Some("2024-01-01T00:05:00Z"));
    }

    #[test]
    fn an_alert_of_more_events_than_it_lists_lists_the_earliest_in_any_order() {
        // 150 events in one day's window, read forwards, backwards and shuffled.
        let r = rule(Some(("{recipientAccountId}", 86_400)), 1, None);
        let events: Vec<(u32, &str)> = (0..150).map(|m| (m * 7 % 150, "1")).collect();
        let all = signals(&r, &events);
        let listed = |order: Vec<usize>| {
            let picked: Vec<Signal> = order.iter().map(|&i| all[i].clone()).collect();
            let out = raise(&[&r], &vec![0; picked.len()], &picked);
            assert_eq!(out.alerts.len(), 1);
            assert_eq!(out.alerts[0].event_count, 150);
            out.alerts[0].event_ids.clone()
        };
        let forwards = listed((0..150).collect());
        assert_eq!(forwards.len(), MAX_EVENT_IDS);
        // The earliest hundred: minutes 0 to 99, in time order.
        let by_minute: Vec<String> = (0..100)
            .map(|minute| format!("e{}", events.iter().position(|e| e.0 == minute).expect("there")))
            .collect();
        assert_eq!(forwards, by_minute);
        assert_eq!(listed((0..150).rev().collect()), forwards);
        // A fixed shuffle: every 11th, wrapping (11 and 150 are coprime).
        let shuffled: Vec<usize> = (0..150).map(|i| i * 11 % 150).collect();
        assert_eq!(listed(shuffled), forwards);
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

    /// Applies `signals` in the given order, straight through the driver (no sorting).
    fn in_order(rule: &Rule, signals: &[Signal], order: &[usize]) -> (Vec<Alert>, Vec<Change>) {
        let mut state = MemoryState::default();
        let changes = order
            .iter()
            .flat_map(|&i| {
                let Ok(changes) =
                    driver::apply(&mut state, rule, Member::of(rule, &signals[i], i), None);
                changes
            })
            .collect();
        (state.alerts, changes)
    }

    #[test]
    fn an_alert_id_and_its_title_follow_its_earliest_event_whatever_the_order() {
        let r = rule(Some(("{recipientAccountId}", 3600)), 1, None);
        // e0 at minute 0, e1 and e2 in the same minute 5.
        let s = signals(&r, &[(0, "1"), (5, "1"), (5, "1")]);
        let reference = run(&r, &[(0, "1"), (5, "1"), (5, "1")]).alerts.remove(0);
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1], [1, 0, 2]] {
            let (alerts, changes) = in_order(&r, &s, &order);
            assert_eq!(alerts.len(), 1, "{order:?}");
            let alert = &alerts[0];
            assert_eq!(alert.alert_id, reference.alert_id, "{order:?}");
            assert_eq!(alert.first_seen.as_deref(), Some("2024-01-01T00:00:00Z"));
            assert_eq!((alert.event_count, alert.title.as_str()), (3, reference.title.as_str()));
            assert!(alert.previous_ids.is_empty(), "nothing in memory was published");
            // The alert keeps its window's id from the start.
            let last = changes.last().expect("three changes");
            assert_eq!(last, &Change::Extended(reference.alert_id.clone()), "{order:?}");
        }
        // Two events of one second: the smaller event id comes first, whichever is read first.
        let pair = signals(&r, &[(5, "1"), (5, "1")]);
        let (a, _) = in_order(&r, &pair, &[0, 1]);
        let (b, _) = in_order(&r, &pair, &[1, 0]);
        assert_eq!(a[0].first_event, b[0].first_event);
        assert_eq!(a[0].first_event.as_deref(), Some("e0"));
        // The window names the alert, not its first event: the same hour, the same alert.
        assert_eq!(a[0].alert_id, reference.alert_id);
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
