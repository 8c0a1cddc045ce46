//! Suppressions end to end: counted per suppression, kept out of alerts, expiry, never-matching
//! ones reported, `tripline lint`, and the same through a store.

mod common;

use common::{ingress_record, jsonl, tripline};
use serde_json::Value;

fn write(dir: &std::path::Path, name: &str, data: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, data).expect("write");
    path.to_string_lossy().into_owned()
}

/// Three records opening SSH to the world: two by Terraform from CI, one by hand.
fn input(dir: &std::path::Path) -> String {
    let mut records = Vec::new();
    for (i, ua) in [
        "Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.62.0",
        "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.5.0",
        "Terraform/1.9.5 (+https://www.terraform.io) terraform-provider-aws/5.62.0",
    ]
    .iter()
    .enumerate()
    {
        let mut r = ingress_record(
            &format!("7c1e9a3b-0d2f-4e5a-8b6c-9d0e1f2a3b4{i}"),
            &format!("2024-08-01T10:0{i}:00Z"),
            22,
            "0.0.0.0/0",
        );
        r["userAgent"] = (*ua).into();
        r["requestParameters"]["groupId"] = format!("sg-0a1b2c3d4e5f6071{i}").into();
        records.push(r);
    }
    write(dir, "trail.json", &serde_json::json!({ "Records": records }).to_string())
}

fn suppression(name: &str, rules: &str, expires: &str) -> String {
    format!(
        "suppressions:\n  - name: {name}\n    reason: Terraform applies are reviewed in pull requests\n    owner: platform-team\n{expires}    rules: {rules}\n    detection:\n      terraform:\n        userAgent|startswith: 'Terraform/'\n      condition: terraform\n"
    )
}

fn of_rule<'a>(lines: &'a [Value], kind: &str, rule: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == kind && l["rule_id"] == rule).collect()
}

const ADMIN: &str = "ec2-security-group-admin-port-opened-to-world";

#[test]
fn suppressed_signals_are_counted_and_kept_out_of_alerts() {
    let dir = tempfile::tempdir().expect("temp");
    let input = input(dir.path());
    let file =
        write(dir.path(), "terraform.yml", &suppression("terraform-ci", &format!("[{ADMIN}]"), ""));
    let run = tripline(&["scan", &input, "--suppressions", &file, "--format", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = jsonl(&run.stdout);
    let signals = of_rule(&lines, "signal", ADMIN);
    assert_eq!(signals.len(), 1);
    assert_eq!(signals[0]["user_agent"], "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.5.0");
    let alerts = of_rule(&lines, "alert", ADMIN);
    assert_eq!(alerts.iter().map(|a| a["event_count"].as_u64().expect("count")).sum::<u64>(), 1);
    assert!(run.stderr.contains("suppressed: 2 signal(s) by `terraform-ci`"), "{}", run.stderr);
    // Other rules the suppression does not name still see the Terraform records.
    assert_eq!(of_rule(&lines, "signal", "ec2-security-group-ingress-changed").len(), 3);
    let unsuppressed = tripline(&["scan", &input, "--format", "jsonl"]);
    assert_eq!(of_rule(&jsonl(&unsuppressed.stdout), "signal", ADMIN).len(), 3);
}

#[test]
fn suppressions_apply_to_all_rules_or_by_tag() {
    let dir = tempfile::tempdir().expect("temp");
    let input = input(dir.path());
    let all = write(dir.path(), "all.yml", &suppression("terraform-everywhere", "all", ""));
    let lines = jsonl(
        &tripline(&["scan", &input, "--suppressions", &all, "--format", "jsonl", "-q"]).stdout,
    );
    assert!(lines
        .iter()
        .filter(|l| l["type"] == "signal")
        .all(|s| s["user_agent"].as_str().is_some_and(|ua| ua.starts_with("aws-cli"))));
    let tagged = write(
        dir.path(),
        "tag.yml",
        &suppression("terraform-network", "[]\n    tags: [network-security]", ""),
    );
    let run = tripline(&["scan", &input, "--suppressions", &tagged, "--format", "jsonl"]);
    let lines = jsonl(&run.stdout);
    assert_eq!(of_rule(&lines, "signal", ADMIN).len(), 1, "{}", run.stderr);
    assert_eq!(of_rule(&lines, "signal", "ec2-security-group-ingress-changed").len(), 1);
}

#[test]
fn an_expired_suppression_stops_applying_and_lint_warns() {
    let dir = tempfile::tempdir().expect("temp");
    let input = input(dir.path());
    let file = write(
        dir.path(),
        "old.yml",
        &suppression("terraform-2023", &format!("[{ADMIN}]"), "    expires: 2023-12-31\n"),
    );
    let run = tripline(&["scan", &input, "--suppressions", &file, "--format", "jsonl"]);
    assert_eq!(of_rule(&jsonl(&run.stdout), "signal", ADMIN).len(), 3);
    assert!(
        run.stderr.contains("suppression `terraform-2023`")
            && run.stderr.contains("expired on 2023-12-31"),
        "{}",
        run.stderr
    );
    let lint = tripline(&["lint", "--suppressions", &file]);
    assert_eq!(lint.code, 0, "an expired suppression is a warning: {}", lint.stderr);
    assert!(
        lint.stderr
            .contains("old.yml:2: warning: suppression `terraform-2023` expired on 2023-12-31"),
        "{}",
        lint.stderr
    );
    assert!(lint.stderr.contains("1 warning(s)"), "{}", lint.stderr);
}

#[test]
fn a_suppression_that_never_matches_is_reported() {
    let dir = tempfile::tempdir().expect("temp");
    let input = input(dir.path());
    let file = write(
        dir.path(),
        "s.yml",
        &suppression("terraform-rds", "[rds-db-security-group-created]", ""),
    );
    let run = tripline(&["scan", &input, "--suppressions", &file, "-q"]);
    assert!(
        run.stderr.contains("warning: suppression `terraform-rds` matched no signal in this scan"),
        "{}",
        run.stderr
    );
    let unknown =
        write(dir.path(), "u.yml", &suppression("typo", "[ec2-security-group-opened-to-wrld]", ""));
    let lint = tripline(&["lint", "--suppressions", &unknown]);
    assert!(
        lint.stderr.contains(
            "suppression `typo` applies to no loaded rule (ec2-security-group-opened-to-wrld)"
        ),
        "{}",
        lint.stderr
    );
}

#[test]
fn lint_refuses_a_broken_suppression_file_with_its_position() {
    let dir = tempfile::tempdir().expect("temp");
    let file = write(dir.path(), "bad.yml", "suppressions:\n  - name: half\n    rules: all\n    detection:\n      s:\n        eventName: A\n      condition: s\n");
    let lint = tripline(&["lint", "--suppressions", &file]);
    assert_eq!(lint.code, 1, "{}", lint.stderr);
    assert!(
        lint.stderr.contains("bad.yml:2:5: error: missing required key `reason`"),
        "{}",
        lint.stderr
    );
    let scan = tripline(&["scan", "examples", "--suppressions", &file, "-q"]);
    assert_eq!(
        scan.code, 2,
        "a refused file makes the run exit 2, after scanning: {}",
        scan.stderr
    );
}

#[test]
fn suppressed_signals_never_reach_the_store() {
    let dir = tempfile::tempdir().expect("temp");
    let input = input(dir.path());
    let file =
        write(dir.path(), "terraform.yml", &suppression("terraform-ci", &format!("[{ADMIN}]"), ""));
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    let run = tripline(&[
        "scan",
        &input,
        "--suppressions",
        &file,
        "--store",
        &store,
        "--format",
        "jsonl",
    ]);
    assert!(run.stderr.contains("suppressed: 2 signal(s) by `terraform-ci`"), "{}", run.stderr);
    let stored = jsonl(
        &tripline(&["alerts", "list", "--store", &store, "--rule", ADMIN, "--format", "jsonl"])
            .stdout,
    );
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["event_ids"], serde_json::json!(["7c1e9a3b-0d2f-4e5a-8b6c-9d0e1f2a3b41"]));
}
