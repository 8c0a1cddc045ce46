//! The output contract byte for byte (the signal and alert lines as the release before the pipeline
//! and sinks existed), and `--output` / `[[outputs]]` with their routes.

mod common;

use common::{jsonl, tripline, workspace};

fn golden(name: &str) -> String {
    std::fs::read_to_string(workspace().join("crates/cli/tests/golden").join(name))
        .expect("golden files are in the repository")
}

#[test]
fn the_table_and_the_json_lines_are_what_they_were() {
    let table = tripline(&["scan", "examples"]);
    assert_eq!(table.code, 1, "{}", table.stderr);
    assert_eq!(table.stdout, golden("examples-table.txt"));
    let lines = tripline(&["scan", "examples", "--format", "jsonl"]);
    let first_signal = lines.stdout.lines().next().expect("signals");
    assert_eq!(format!("{first_signal}\n"), golden("examples-first-signal.jsonl"));
    let first_alert =
        lines.stdout.lines().find(|l| l.contains(r#""type":"alert""#)).expect("alerts");
    // The alert line has grown fields at its end (README, "Output contract"): the old line's
    // bytes are its start.
    let old = golden("examples-first-alert.jsonl");
    let old_fields = old.trim_end().strip_suffix('}').expect("an object");
    assert!(first_alert.starts_with(old_fields), "{first_alert}\n{old}");
    let alert: serde_json::Value = serde_json::from_str(first_alert).expect("json");
    assert_eq!(alert["account_id"], "444455556666");
    assert_eq!(alert["region"], "us-east-1");
    assert_eq!(alert["actor"], "arn:aws:iam::444455556666:user/backup-bot");
    assert_eq!(alert["source_ip"], "3.76.175.176");
    assert_eq!(alert["change"], "raised");
    assert!(alert["mitre"].as_array().is_some_and(|m| !m.is_empty()), "{alert}");
}

#[test]
fn a_jsonl_file_output_gets_what_stdout_would_and_stdout_keeps_the_table() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("all.jsonl");
    let spec = format!("jsonl:{}", file.display());
    let run = tripline(&["scan", "examples", "--output", &spec]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, golden("examples-table.txt"), "stdout keeps --format");
    let expected = tripline(&["scan", "examples", "--format", "jsonl"]).stdout;
    assert_eq!(std::fs::read_to_string(&file).expect("written"), expected);
    // Files are appended to: a second run adds its lines after the first's.
    tripline(&["scan", "examples", "--output", &spec, "-q"]);
    assert_eq!(std::fs::read_to_string(&file).expect("written").len(), 2 * expected.len());
}

#[test]
fn a_route_sends_only_what_is_severe_enough_or_of_the_rules_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let high = dir.path().join("high.jsonl");
    let ec2 = dir.path().join("deleted.jsonl");
    let run = tripline(&[
        "scan",
        "examples",
        "--output",
        &format!("jsonl:{}#min_severity=high", high.display()),
        "--output",
        &format!("jsonl:{}#rules=ec2-security-group-deleted", ec2.display()),
        "--output",
        "jsonl:-",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let all = jsonl(&run.stdout);
    let read = |p: &std::path::Path| jsonl(&std::fs::read_to_string(p).expect("written"));
    let high = read(&high);
    assert!(!high.is_empty());
    assert!(high.iter().all(|l| matches!(l["severity"].as_str(), Some("high" | "critical"))));
    let expected_high =
        all.iter().filter(|l| matches!(l["severity"].as_str(), Some("high" | "critical"))).count();
    assert_eq!(high.len(), expected_high);
    let deleted = read(&ec2);
    assert!(!deleted.is_empty());
    assert!(deleted.iter().all(|l| l["rule_id"] == "ec2-security-group-deleted"));
}

#[test]
fn outputs_come_from_the_configuration_file_too() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("tripline.toml"),
        "[[outputs]]\nto = \"jsonl:alerts.jsonl\"\nmin_severity = \"high\"\n",
    )
    .expect("writable");
    let config = dir.path().join("tripline.toml");
    let run = tripline(&["scan", "examples", "--config", &config.display().to_string(), "-q"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let written =
        std::fs::read_to_string(dir.path().join("alerts.jsonl")).expect("relative to the file");
    assert!(jsonl(&written).iter().all(|l| l["severity"] == "high"));
    assert!(!written.is_empty());
}

#[test]
fn bad_outputs_are_refused_with_a_reason() {
    let run = tripline(&["scan", "examples", "--output", "mail:someone"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown kind `mail`"), "{}", run.stderr);
    let twice = tripline(&["scan", "examples", "--output", "jsonl:-", "--output", "text:-"]);
    assert_eq!(twice.code, 2);
    assert!(twice.stderr.contains("more than one output writes to stdout"), "{}", twice.stderr);
}
