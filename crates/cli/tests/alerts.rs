//! Working through many alerts at once: several ids per `ack`/`close`/`reopen`, `list` by
//! assignee and severity with a limit, `rules show` by a prefix.

mod common;

use common::{jsonl, tripline};

fn listed(store: &str, extra: &[&str]) -> Vec<serde_json::Value> {
    let mut args = vec!["alerts", "list", "--store", store, "--format", "jsonl"];
    args.extend_from_slice(extra);
    let run = tripline(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    jsonl(&run.stdout)
}

fn id(alert: &serde_json::Value) -> String {
    alert["alert_id"].as_str().expect("id").to_owned()
}

#[test]
fn several_alerts_are_acknowledged_closed_and_filtered_at_once() {
    let dir = tempfile::tempdir().expect("temp");
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    assert_eq!(tripline(&["scan", "examples", "--store", &store, "-q"]).code, 1);
    let all = listed(&store, &[]);
    assert!(all.len() > 5, "{}", all.len());
    let (first, second, third) = (id(&all[0]), id(&all[1]), id(&all[2]));

    let ack =
        tripline(&["alerts", "ack", &first, &second[..8], "--store", &store, "--assignee", "dana"]);
    assert_eq!(ack.code, 0, "{}", ack.stderr);
    assert_eq!(ack.stdout.lines().count(), 2, "{}", ack.stdout);
    let dana: Vec<String> = listed(&store, &["--assignee", "dana"]).iter().map(id).collect();
    assert_eq!(dana, [first.clone(), second.clone()]);
    assert!(listed(&store, &["--assignee", "erin"]).is_empty());

    // An unknown id is an error, and the others are still changed.
    let close = tripline(&["alerts", "close", &third, "no-such-alert", &first, "--store", &store]);
    assert_eq!(close.code, 2, "{}", close.stderr);
    assert!(close.stderr.contains("no alert `no-such-alert`"), "{}", close.stderr);
    let closed: Vec<String> = listed(&store, &["--status", "closed"]).iter().map(id).collect();
    assert_eq!(closed, [first.clone(), third.clone()]);

    // The newest N, still oldest first; the severity filter has the name scan gives it.
    let last_two: Vec<String> = listed(&store, &["--limit", "2"]).iter().map(id).collect();
    assert_eq!(last_two, [id(&all[all.len() - 2]), id(&all[all.len() - 1])]);
    let high = listed(&store, &["--min-severity", "high"]);
    assert_eq!(high.len(), 1);
    assert_eq!(high[0]["rule_id"], "ec2-security-group-admin-port-opened-to-world");
}

#[test]
fn rules_show_takes_a_prefix_of_one_id() {
    let one = tripline(&["rules", "show", "ec2-security-group-ad"]);
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert!(
        one.stdout.starts_with("id:          ec2-security-group-admin-port-opened-to-world"),
        "{}",
        one.stdout
    );
    let several = tripline(&["rules", "show", "ec2-security-group-"]);
    assert_eq!(several.code, 2);
    assert!(several.stderr.contains("is the start of several rule ids"), "{}", several.stderr);
}

#[test]
fn an_alert_shows_its_rules_guide_without_the_rule_files_and_its_events_in_time_order() {
    let dir = tempfile::tempdir().expect("temp");
    let rules = dir.path().join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    std::fs::write(
        rules.join("deleted.yml"),
        "id: team-sg-deleted
title: Security group deleted (team rule)
severity: medium
mitre: [TA0005, T1562.007]
references: [https://wiki.example.internal/runbooks/sg-deleted]
detection:
  deleted:
    eventName: DeleteSecurityGroup
  condition: deleted
dedup: {key: 'all', period: 1h}
summary_attributes: [requestParameters.groupId, userAgent]
triage: |
  1. Ask the owner of the group whether the deletion was planned.
",
    )
    .expect("rule");
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    let rules_arg = rules.to_str().expect("utf-8 path");
    assert_eq!(
        tripline(&["scan", "examples", "--store", &store, "--rules", rules_arg, "-q"]).code,
        1
    );
    let alert = listed(&store, &["--rule", "team-sg-deleted"]).pop().expect("an alert");
    assert!(alert["event_count"].as_u64().expect("count") >= 2, "{alert}");
    // Shown without --rules: the store kept the guide.
    let show = tripline(&["alerts", "show", &id(&alert), "--store", &store]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    for expected in [
        "Security group deleted (team rule)",
        "att&ck:    TA0005, T1562.007",
        "https://wiki.example.internal/runbooks/sg-deleted",
        "1. Ask the owner of the group",
        "requestParameters.groupId: sg-",
        "who:       arn:aws:",
    ] {
        assert!(show.stdout.contains(expected), "`{expected}` in:\n{}", show.stdout);
    }
    let times: Vec<&str> = show
        .stdout
        .lines()
        .filter(|l| l.starts_with("  2024-"))
        .map(|l| l.split_whitespace().next().expect("time"))
        .collect();
    assert!(times.len() >= 2 && times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
}

fn purge_forgets_closed_alerts_and_old_signals_but_not_open_alerts_events(store: &str) {
    assert_eq!(tripline(&["scan", "examples", "--store", store, "-q"]).code, 1);
    let all = listed(store, &[]);
    let (closed, open) = (id(&all[0]), id(&all[1]));
    assert_eq!(tripline(&["alerts", "close", &closed, "--store", store]).code, 0);
    // Nothing is older than 2020: nothing goes.
    let early = tripline(&["alerts", "purge", "--before", "2020-01-01", "--store", store]);
    assert_eq!(early.code, 0, "{}", early.stderr);
    assert!(early.stdout.starts_with("purged 0 closed alert(s), 0 signal(s)"), "{}", early.stdout);
    let purge = tripline(&["alerts", "purge", "--before", "1d", "--store", store]);
    assert_eq!(purge.code, 0, "{}", purge.stderr);
    assert!(purge.stdout.starts_with("purged 1 closed alert(s), "), "{}", purge.stdout);
    let left: Vec<String> = listed(store, &[]).iter().map(id).collect();
    assert_eq!(left.len(), all.len() - 1);
    assert!(!left.contains(&closed) && left.contains(&open));
    // The open alert still has its events.
    let show = tripline(&["alerts", "show", &open, "--store", store, "--format", "jsonl"]);
    let shown = jsonl(&show.stdout).pop().expect("the alert");
    assert!(!shown["signals"].as_array().expect("signals").is_empty(), "{shown}");
}

#[test]
fn purge_forgets_closed_alerts_and_old_signals_but_not_open_alerts_events_in_sqlite() {
    let dir = tempfile::tempdir().expect("temp");
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    purge_forgets_closed_alerts_and_old_signals_but_not_open_alerts_events(&store);
}

#[test]
fn purge_forgets_closed_alerts_and_old_signals_but_not_open_alerts_events_in_postgres() {
    purge_forgets_closed_alerts_and_old_signals_but_not_open_alerts_events(
        &common::postgres_database(),
    );
}

#[test]
fn the_retention_setting_purges_after_each_scan() {
    let dir = tempfile::tempdir().expect("temp");
    std::fs::write(
        dir.path().join("tripline.toml"),
        "store = \"alerts.db\"\nretention = \"30d\"\n",
    )
    .expect("write");
    let config = dir.path().join("tripline.toml").to_string_lossy().into_owned();
    assert_eq!(tripline(&["scan", "examples", "--config", &config, "-q"]).code, 1);
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    let first = id(&listed(&store, &[])[0]);
    assert_eq!(tripline(&["alerts", "close", &first, "--store", &store]).code, 0);
    let again = tripline(&["scan", "examples", "--config", &config]);
    assert!(again.stderr.contains("retention: forgot 1 closed alert(s)"), "{}", again.stderr);
    assert!(!listed(&store, &[]).iter().any(|a| id(a) == first));
    std::fs::write(dir.path().join("tripline.toml"), "retention = \"a while\"\n").expect("write");
    let bad = tripline(&["scan", "examples", "--config", &config]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("is not a span such as 90d"), "{}", bad.stderr);
}
