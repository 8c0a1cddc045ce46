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
