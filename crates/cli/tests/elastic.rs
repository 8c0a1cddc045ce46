//! Elastic rule types end to end: threshold (with cardinality), new_terms, alert suppression.

mod common;

use common::{ingress_record, jsonl, tripline};
use serde_json::{json, Value};

fn write(dir: &std::path::Path, name: &str, data: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, data).expect("temp dir is writable");
    path.display().to_string()
}

fn rule(kind: &str, extra: &str) -> String {
    format!("[rule]\nname = \"SG ingress\"\nrule_id = \"r-{kind}\"\nseverity = \"medium\"\nrisk_score = 47\ntype = \"{kind}\"\nlanguage = \"kuery\"\ninterval = \"10m\"\nfrom = \"now-30m\"\nquery = '''\nevent.dataset:aws.cloudtrail and event.action:AuthorizeSecurityGroupIngress\n'''\n{extra}\n")
}

fn from(ip: &str, id: &str, time: &str) -> Value {
    let mut r = ingress_record(id, time, 443, "10.0.0.0/8");
    r["sourceIPAddress"] = json!(ip);
    r
}

fn alerts(dir: &std::path::Path, rule_text: &str, events: &[Value]) -> Vec<Value> {
    let rules = write(dir, "r.toml", rule_text);
    let input =
        write(dir, "t.json", &serde_json::to_string(&json!({ "Records": events })).expect("json"));
    let run = tripline(&["scan", &input, "--no-builtin", "--rules", &rules, "--format", "jsonl"]);
    assert!(run.code < 2, "{}", run.stderr);
    jsonl(&run.stdout).into_iter().filter(|l| l["type"] == "alert").collect()
}

#[test]
fn threshold_groups_by_fields_and_needs_cardinality() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = rule("threshold", "[rule.threshold]\nfield = [\"cloud.account.id\"]\nvalue = 3\n[[rule.threshold.cardinality]]\nfield = \"source.ip\"\nvalue = 2\n");
    let same_ip = [
        from("198.51.100.1", "a", "2024-08-01T10:00:00Z"),
        from("198.51.100.1", "b", "2024-08-01T10:01:00Z"),
        from("198.51.100.1", "c", "2024-08-01T10:02:00Z"),
    ];
    assert!(alerts(dir.path(), &text, &same_ip).is_empty(), "three events but one address");
    let two_ips = [
        from("198.51.100.1", "a", "2024-08-01T10:00:00Z"),
        from("198.51.100.1", "b", "2024-08-01T10:01:00Z"),
        from("198.51.100.2", "c", "2024-08-01T10:02:00Z"),
    ];
    let raised = alerts(dir.path(), &text, &two_ips);
    assert_eq!(raised.len(), 1);
    assert_eq!(
        (raised[0]["dedup_key"].as_str(), raised[0]["event_count"].as_u64()),
        (Some("111122223333"), Some(3))
    );
}

#[test]
fn new_terms_alert_only_on_values_unseen_in_the_history_window() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = rule("new_terms", "[rule.new_terms]\nfield = \"new_terms_fields\"\nvalue = [\"source.ip\"]\n[[rule.new_terms.history_window_start]]\nfield = \"history_window_start\"\nvalue = \"now-7d\"\n");
    let events = [
        from("198.51.100.1", "first", "2024-08-01T10:00:00Z"),
        from("198.51.100.1", "again", "2024-08-02T10:00:00Z"),
        from("198.51.100.2", "other", "2024-08-02T11:00:00Z"),
        from("198.51.100.1", "after-a-week", "2024-08-10T10:00:00Z"),
    ];
    let ids: Vec<String> = alerts(dir.path(), &text, &events)
        .iter()
        .map(|a| a["event_ids"][0].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids, vec!["first", "other", "after-a-week"]);
}

#[test]
fn alert_suppression_groups_within_its_duration() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = rule("query", "[rule.alert_suppression]\ngroup_by = [\"source.ip\"]\n[rule.alert_suppression.duration]\nunit = \"m\"\nvalue = 60\n");
    let events = [
        from("198.51.100.1", "a", "2024-08-01T10:00:00Z"),
        from("198.51.100.1", "b", "2024-08-01T10:30:00Z"),
        from("198.51.100.2", "c", "2024-08-01T10:31:00Z"),
        from("198.51.100.1", "d", "2024-08-01T11:05:00Z"),
    ];
    let counts: Vec<(String, u64)> = alerts(dir.path(), &text, &events)
        .iter()
        .map(|a| {
            (
                a["dedup_key"].as_str().unwrap_or_default().to_owned(),
                a["event_count"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(
        counts,
        vec![("198.51.100.1".into(), 2), ("198.51.100.2".into(), 1), ("198.51.100.1".into(), 1)]
    );
}

#[test]
fn exception_lists_from_an_export_file_except_what_their_items_match() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = rule("query", "[[rule.exceptions_list]]\nid = \"f3a1\"\nlist_id = \"trusted-deployers\"\nnamespace_type = \"single\"\ntype = \"detection\"\n");
    let export = [
        r#"{"id":"f3a1","list_id":"trusted-deployers","name":"Trusted deployers","namespace_type":"single","type":"detection","description":"CI"}"#,
        r#"{"item_id":"i1","list_id":"trusted-deployers","name":"Terraform from the CI range","namespace_type":"single","type":"simple","entries":[{"field":"user_agent.original","operator":"included","type":"wildcard","value":"*terraform*"},{"field":"source.ip","operator":"included","type":"match_any","value":["198.51.100.1","198.51.100.2"]}]}"#,
        r#"{"exported_exception_list_count":1,"exported_exception_list_item_count":1,"missing_exception_list_item_count":0}"#,
    ]
    .join("\n");
    let exceptions = write(dir.path(), "exceptions.ndjson", &export);
    let mut ci = from("198.51.100.1", "ci", "2024-08-01T10:00:00Z");
    ci["userAgent"] = json!("APN/1.0 HashiCorp/1.0 Terraform/1.9.3 terraform-provider-aws/5.61.0");
    let mut laptop = from("203.0.113.9", "laptop", "2024-08-01T10:05:00Z");
    laptop["userAgent"] =
        json!("APN/1.0 HashiCorp/1.0 Terraform/1.9.3 terraform-provider-aws/5.61.0");
    let rules = write(dir.path(), "r.toml", &text);
    let input = write(
        dir.path(),
        "t.json",
        &serde_json::to_string(&json!({ "Records": [ci, laptop] })).expect("json"),
    );
    let run = tripline(&[
        "scan",
        &input,
        "--no-builtin",
        "--rules",
        &rules,
        "--exceptions",
        &exceptions,
        "--format",
        "jsonl",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let ids: Vec<String> = jsonl(&run.stdout)
        .iter()
        .filter(|l| l["type"] == "signal")
        .filter_map(|s| s["event_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids, vec!["laptop"]);
    let without =
        tripline(&["scan", &input, "--no-builtin", "--rules", &rules, "--format", "jsonl"]);
    assert!(
        without.stderr.contains("exception list `trusted-deployers` is not loaded"),
        "{}",
        without.stderr
    );
    assert_eq!(jsonl(&without.stdout).iter().filter(|l| l["type"] == "signal").count(), 2);
}

#[test]
fn unsupported_rules_are_one_line_per_kind_and_listed_on_request() {
    let dir = tempfile::tempdir().expect("temp");
    for (i, kind) in ["eql", "eql", "eql", "esql", "machine_learning"].iter().enumerate() {
        let text = rule(kind, "").replace(&format!("r-{kind}"), &format!("r-{kind}-{i}"));
        write(dir.path(), &format!("{kind}-{i}.toml"), &text);
    }
    write(dir.path(), "query.toml", &rule("query", ""));
    let rules = dir.path().to_str().expect("utf-8 path");
    let run = tripline(&["scan", "examples", "--rules", rules]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("unsupported: 3 rule file(s): unsupported rule type `eql`"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("unsupported: 1 rule file(s): unsupported rule type `esql`"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("eql-0.toml"), "no file by file list by default: {}", run.stderr);
    let quiet = tripline(&["scan", "examples", "--rules", rules, "-q"]);
    assert!(!quiet.stderr.contains("unsupported"), "{}", quiet.stderr);
    let verbose = tripline(&["scan", "examples", "--rules", rules, "-v"]);
    assert_eq!(
        verbose.stderr.matches("unsupported: unsupported rule type").count(),
        5,
        "{}",
        verbose.stderr
    );
    let list = tripline(&["rules", "list", "--rules", rules, "--unsupported"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert_eq!(list.stdout.lines().count(), 5, "{}", list.stdout);
    assert!(
        list.stdout.lines().all(|l| l.contains(".toml:") && l.contains("unsupported rule type")),
        "{}",
        list.stdout
    );
}
