//! Rules written after the logs were scanned: a store remembers which rules read each input,
//! so a new or changed rule (and a new correlation) evaluates the inputs already read, and only
//! it does; `--rescan` evaluates everything again without raising anything twice. On SQLite
//! and on PostgreSQL.

mod common;

use std::path::Path;

use common::{example_copies, jsonl, postgres_database, stored_alerts, tripline};

/// A rule the built-in pack does not have, as a responder writes it after an incident.
const LATER_RULE: &str = "id: later-sg-deleted
title: Security group deleted (written after the incident)
severity: medium
detection:
  deleted:
    eventSource: ec2.amazonaws.com
    eventName: DeleteSecurityGroup
  condition: deleted
";

/// A correlation over a built-in rule's signals (they are all in the store already).
const LATER_CORRELATION: &str = "title: Several security groups deleted
id: later-many-deletions
correlation:
  type: event_count
  rules: [ec2-security-group-deleted]
  timespan: 1h
  condition: {gte: 2}
level: high
";

fn scan(logs: &Path, store: &str, extra: &[&str]) -> common::Run {
    let logs = logs.to_str().expect("utf-8 path");
    let mut args = vec!["scan", logs, "--store", store, "--format", "jsonl"];
    args.extend_from_slice(extra);
    tripline(&args)
}

fn alerts_by_rule(run: &common::Run) -> Vec<String> {
    let mut rules: Vec<String> = jsonl(&run.stdout)
        .into_iter()
        .filter(|l| l["type"] == "alert")
        .map(|a| a["rule_id"].as_str().expect("rule id").to_owned())
        .collect();
    rules.sort();
    rules
}

fn new_rules_see_the_logs_already_scanned(store: &str) {
    let dir = tempfile::tempdir().expect("temp");
    let logs = dir.path().join("logs");
    example_copies(&logs, 1);
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("rules folder");
    let first = scan(&logs, store, &[]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    let before = stored_alerts(store).len();

    std::fs::write(rules.join("later.yml"), LATER_RULE).expect("rule");
    std::fs::write(rules.join("later-correlation.yml"), LATER_CORRELATION).expect("rule");
    let rules_arg = rules.to_str().expect("utf-8 path");
    let second = scan(&logs, store, &["--rules", rules_arg]);
    assert_eq!(second.code, 1, "{}", second.stderr);
    assert!(
        second
            .stderr
            .contains("12 input(s) read before evaluated again for 2 new or changed rule(s)"),
        "{}",
        second.stderr
    );
    // What a fresh store raises for the two rules, and nothing else.
    let fresh = tempfile::tempdir().expect("temp");
    let reference = fresh.path().join("reference.db").to_string_lossy().into_owned();
    let expected: Vec<String> = alerts_by_rule(&scan(&logs, &reference, &["--rules", rules_arg]))
        .into_iter()
        .filter(|r| r.starts_with("later-"))
        .collect();
    assert!(expected.iter().any(|r| r == "later-sg-deleted"), "{expected:?}");
    assert!(expected.iter().any(|r| r == "later-many-deletions"), "{expected:?}");
    assert_eq!(alerts_by_rule(&second), expected, "only the new rules raise: {}", second.stderr);
    assert_eq!(stored_alerts(store).len(), before + expected.len());

    // Read by these rules now: nothing to do.
    let third = scan(&logs, store, &["--rules", rules_arg]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert!(third.stderr.contains("12 input(s) already processed"), "{}", third.stderr);

    // A changed rule is evaluated again; what it matched before is not raised again.
    let changed = LATER_RULE.replace(
        "condition: deleted",
        "condition: deleted or created\n  created:\n    eventName: CreateSecurityGroup",
    );
    std::fs::write(rules.join("later.yml"), changed).expect("rule");
    let fourth = scan(&logs, store, &["--rules", rules_arg]);
    assert!(
        fourth.stderr.contains("evaluated again for 1 new or changed rule(s)"),
        "{}",
        fourth.stderr
    );
    let raised = alerts_by_rule(&fourth);
    assert!(!raised.is_empty() && raised.iter().all(|r| r == "later-sg-deleted"), "{raised:?}");
    let signals: Vec<serde_json::Value> =
        jsonl(&fourth.stdout).into_iter().filter(|l| l["type"] == "signal").collect();
    assert!(
        !signals.is_empty() && signals.iter().all(|s| s["event_name"] == "CreateSecurityGroup"),
        "only the new matches are new signals: {signals:?}"
    );

    // A rescan reads everything again for every rule and raises nothing twice.
    let total = stored_alerts(store).len();
    let rescan = scan(&logs, store, &["--rules", rules_arg, "--rescan"]);
    assert_eq!(rescan.code, 0, "{}", rescan.stderr);
    assert!(rescan.stdout.is_empty(), "{}", rescan.stdout);
    assert!(rescan.stderr.contains("0 new signal(s)"), "{}", rescan.stderr);
    assert_eq!(stored_alerts(store).len(), total);
}

#[test]
fn new_rules_see_the_logs_already_scanned_in_sqlite() {
    let dir = tempfile::tempdir().expect("temp");
    new_rules_see_the_logs_already_scanned(&dir.path().join("alerts.db").to_string_lossy());
}

#[test]
fn new_rules_see_the_logs_already_scanned_in_postgres() {
    new_rules_see_the_logs_already_scanned(&postgres_database());
}

#[test]
fn rescan_needs_a_store() {
    let run = tripline(&["scan", "examples", "--rescan"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--store"), "{}", run.stderr);
}
