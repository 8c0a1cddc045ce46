//! Scanning one input: decode, find records, filter by time, evaluate, build signals.
//! Callers scan inputs in parallel; each yields a [`FileOutcome`], merged in input order.

use chrono::{DateTime, Utc};
use tripline_alert::{CorrelationPlan, InputRef, RecordFacts, Signal};
use tripline_engine::suppress::SuppressionSet;
use tripline_engine::Engine;
use tripline_event::{fields, time::parse_event_time};
use tripline_io::decode::{read_input, Decoded};
use tripline_io::shape::{parse, Item};
use tripline_io::{Input, Problem};

/// `--since`/`--until` bounds on `eventTime` (inclusive since, exclusive until).
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeRange {
    /// Records before this are skipped.
    pub since: Option<DateTime<Utc>>,
    /// Records at or after this are skipped.
    pub until: Option<DateTime<Utc>>,
}

impl TimeRange {
    /// Whether either bound is set.
    #[must_use]
    pub fn is_set(&self) -> bool {
        self.since.is_some() || self.until.is_some()
    }

    fn contains(&self, t: DateTime<Utc>) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }
}

/// Everything a scan evaluates records with.
pub struct Detection {
    /// The compiled rules.
    pub engine: Engine,
    /// Their correlations.
    pub plan: CorrelationPlan,
    /// The suppressions in force.
    pub suppressions: SuppressionSet,
}

/// What scanning one input found.
#[derive(Default)]
pub struct FileOutcome {
    /// Records read.
    pub records: u64,
    /// Records that could not be used (each has a problem).
    pub bad_records: u64,
    /// CloudTrail Insights records among `records`.
    pub insights: u64,
    /// Digest documents found inside the input.
    pub digests: u64,
    /// Records skipped by `--since`/`--until` (or without a usable `eventTime` when filtering).
    pub outside_range: u64,
    /// Problems, in the order met.
    pub problems: Vec<Problem>,
    /// (rule index, signal), in record order.
    pub signals: Vec<(usize, Signal)>,
    /// Signals suppressed, per suppression index (empty when none were).
    pub suppressed: Vec<u64>,
    /// Bytes read before decompression.
    pub raw_bytes: u64,
}

impl FileOutcome {
    /// Any problem that is not a warning: the run exits 2.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| !p.warning)
    }
}

/// Reads and scans one input.
#[must_use]
pub fn scan_input(detection: &Detection, input: &Input, range: TimeRange) -> FileOutcome {
    scan_decoded(detection, &input.label(), read_input(input), range)
}

/// Scans text already read (benchmarks feed it from memory).
#[must_use]
pub fn scan_decoded(
    detection: &Detection,
    label: &str,
    decoded: Decoded,
    range: TimeRange,
) -> FileOutcome {
    let Detection { engine, plan, suppressions } = detection;
    let mut out = FileOutcome {
        problems: decoded.problems,
        raw_bytes: decoded.raw_bytes,
        ..FileOutcome::default()
    };
    let mut matches = Vec::new();
    let mut suppressing = Vec::new();
    // The matched rules no suppression silences.
    let mut kept = Vec::new();
    let file: std::sync::Arc<str> = label.into();
    parse(label, &decoded.text, &mut |item| match item {
        Item::Record { index, line, record } => {
            out.records += 1;
            if record.is_insight() {
                out.insights += 1;
            }
            if range.is_set() {
                let time = record.str(fields::EVENT_TIME).and_then(|t| parse_event_time(&t));
                if !time.is_some_and(|t| range.contains(t)) {
                    out.outside_range += 1;
                    return;
                }
            }
            matches.clear();
            engine.evaluate(&record, &mut matches);
            if matches.iter().any(|&rule| !suppressions.applies_to_none(rule)) {
                suppressions.matching(&record, &mut suppressing);
            } else {
                suppressing.clear();
            }
            kept.clear();
            for &rule in &matches {
                match suppressions.suppressing(rule, &suppressing) {
                    Some(s) => {
                        out.suppressed.resize(suppressions.suppressions().len(), 0);
                        out.suppressed[s] += 1;
                    }
                    None => kept.push(rule),
                }
            }
            // The record's facts, found once for all of its signals; the last one takes them.
            if kept.is_empty() {
                return;
            }
            let mut facts = RecordFacts::of(&record);
            for (i, &rule) in kept.iter().enumerate() {
                let input = InputRef { file: std::sync::Arc::clone(&file), record: index, line };
                let matched = &engine.rules()[rule];
                let facts_of_this =
                    if i + 1 == kept.len() { std::mem::take(&mut facts) } else { facts.clone() };
                let mut signal = Signal::with_facts(matched, &record, facts_of_this, input);
                if !matched.meta.dynamic_severity.is_empty() {
                    signal.severity = tripline_engine::severity_for(matched, &record);
                }
                plan.capture(rule, &record, &mut signal);
                out.signals.push((rule, signal));
            }
        }
        Item::Problem(problem) => {
            if problem.record.is_some() {
                out.bad_records += 1;
            }
            out.problems.push(problem);
        }
        Item::Digest => out.digests += 1,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tripline_event::{Field, OwnedRecord};
    use tripline_rule::{Expr, Rule, Test};

    #[test]
    fn a_record_matched_by_several_rules_gives_each_signal_the_same_facts() {
        let record = serde_json::json!({"eventVersion": "1.09", "eventTime": "2024-08-01T10:00:00Z",
            "eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress", "eventID": "e1",
            "awsRegion": "eu-west-1", "sourceIPAddress": "198.51.100.7", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333"},
            "requestParameters": {"groupId": "sg-1", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": 22,
                "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}});
        let rules: Vec<Arc<Rule>> = ["a", "b", "c"]
            .iter()
            .map(|id| {
                Arc::new(Rule::new(id, Expr::pred(Field::resolve("eventName"), Test::Exists)))
            })
            .collect();
        let mut builder = tripline_engine::EngineBuilder::new();
        for rule in &rules {
            builder.add(Arc::clone(rule));
        }
        let engine = builder.build().expect("rules compile");
        let suppressions =
            SuppressionSet::new(Vec::new(), &engine, chrono::Utc::now().date_naive())
                .expect("none");
        let detection = Detection { engine, plan: CorrelationPlan::default(), suppressions };
        let text = record.to_string();
        let decoded = Decoded { text, problems: Vec::new(), raw_bytes: 0 };
        let out = scan_decoded(&detection, "f.json", decoded, TimeRange::default());
        assert_eq!(out.signals.len(), 3);
        let owned = OwnedRecord::from_value(&record).expect("an object");
        let input = InputRef { file: "f.json".into(), record: 0, line: None };
        for (rule, signal) in &out.signals {
            let alone =
                Signal::build(&rules[*rule], &owned.record().expect("an object"), input.clone());
            assert_eq!(signal.context, alone.context, "rule {rule}");
            assert_eq!(
                (&signal.actor, &signal.account_id, &signal.event_id),
                (&alone.actor, &alone.account_id, &alone.event_id)
            );
            assert_eq!(signal.context.security_group_changes.len(), 1);
        }
    }
}
