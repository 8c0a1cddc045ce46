//! Sigma correlations and meta filters, end to end through `tripline scan`.

mod common;

use common::{ingress_record, jsonl, tripline};
use serde_json::{json, Value};

fn write(dir: &std::path::Path, name: &str, data: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, data).expect("temp dir is writable");
    path.display().to_string()
}

/// A failed console sign-in, as CloudTrail records it.
fn failed_login(id: &str, time: &str, user: &str, ip: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDA5EXAMPLEUSERID01", "accountId": "111122223333", "accessKeyId": "", "userName": user},
        "eventTime": time, "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "awsRegion": "us-east-1",
        "sourceIPAddress": ip, "userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        "errorMessage": "Failed authentication", "requestParameters": null, "responseElements": {"ConsoleLogin": "Failure"},
        "additionalEventData": {"LoginTo": "https://console.aws.amazon.com/console/home", "MobileVersion": "No", "MFAUsed": "No"},
        "eventID": id, "readOnly": false, "eventType": "AwsConsoleSignIn", "managementEvent": true,
        "recipientAccountId": "111122223333", "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "signin.aws.amazon.com"}
    })
}

const RULES: &str = r"
title: Console login failed
id: 11111111-0000-4000-8000-000000000001
name: console_login_failed
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: ConsoleLogin
    errorMessage: Failed authentication
  condition: selection
level: low
---
title: Security group ingress authorised
id: 11111111-0000-4000-8000-000000000002
name: sg_ingress
logsource: {product: aws, service: cloudtrail}
detection:
  selection:
    eventName: AuthorizeSecurityGroupIngress
  condition: selection
level: low
---
title: Password spraying against one user
id: 11111111-0000-4000-8000-000000000003
correlation:
  type: event_count
  rules: [console_login_failed]
  group-by: [userIdentity.userName]
  timespan: 10m
  condition: {gte: 3}
level: high
---
title: One user failing from many addresses
id: 11111111-0000-4000-8000-000000000004
correlation:
  type: value_count
  rules: [console_login_failed]
  group-by: [userIdentity.userName]
  timespan: 1h
  condition: {field: sourceIPAddress, gte: 2}
level: medium
---
title: Failed logins then a security group opened
id: 11111111-0000-4000-8000-000000000005
correlation:
  type: temporal_ordered
  rules: [console_login_failed, sg_ingress]
  timespan: 1h
  generate: true
level: critical
";

fn records(values: &[Value]) -> String {
    serde_json::to_string(&json!({ "Records": values })).expect("serializable")
}

#[test]
fn correlations_fire_in_event_time_per_group() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = write(dir.path(), "rules.yml", RULES);
    let events = vec![
        failed_login("a1", "2024-08-01T10:00:00Z", "alice", "198.51.100.1"),
        failed_login("b1", "2024-08-01T10:01:00Z", "bob", "198.51.100.1"),
        failed_login("a2", "2024-08-01T10:02:00Z", "alice", "198.51.100.1"),
        failed_login("a3", "2024-08-01T10:03:00Z", "alice", "198.51.100.2"),
        failed_login("b2", "2024-08-01T10:30:00Z", "bob", "198.51.100.1"),
        failed_login("b3", "2024-08-01T10:45:00Z", "bob", "198.51.100.1"),
        ingress_record("sg", "2024-08-01T10:50:00Z", 22, "0.0.0.0/0"),
    ];
    let input = write(dir.path(), "trail.json", &records(&events));
    let run = tripline(&["scan", &input, "--no-builtin", "--rules", &rules, "--format", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = jsonl(&run.stdout);
    let correlated = |id: &str| -> Vec<&Value> {
        lines.iter().filter(|l| l["type"] == "signal" && l["rule_id"] == id).collect()
    };
    // alice fails 3 times in 3 minutes; bob's 3 failures span 44 minutes.
    let spray = correlated("11111111-0000-4000-8000-000000000003");
    assert_eq!(spray.len(), 1, "{spray:?}");
    assert_eq!(
        spray[0]["context"]["correlation"]["group"],
        json!({"userIdentity.userName": "alice"})
    );
    assert_eq!(spray[0]["context"]["correlation"]["event_ids"], json!(["a1", "a2", "a3"]));
    assert_eq!(spray[0]["severity"], "high");
    let many = correlated("11111111-0000-4000-8000-000000000004");
    assert_eq!(many.len(), 1);
    assert_eq!(many[0]["context"]["correlation"]["count"], 2);
    let ordered = correlated("11111111-0000-4000-8000-000000000005");
    assert_eq!(ordered.len(), 1);
    // A correlation's signal is its window's: its id and time are the window's, whatever
    // order its events came in; its events are listed in event order.
    let event_id = ordered[0]["event_id"].as_str().expect("an id");
    assert!(event_id.starts_with("correlation-"), "{event_id}");
    assert_eq!(ordered[0]["event_time"], "2024-08-01T10:00:00Z");
    let ids = &ordered[0]["context"]["correlation"]["event_ids"];
    assert_eq!(ids.as_array().and_then(|a| a.last()), Some(&json!("sg")), "{ids}");
    // The base rule's own alerts are silenced (generate defaults to false), unless a
    // correlation asks for them: sg_ingress is used with `generate: true`.
    let alert_rules: Vec<&str> = lines
        .iter()
        .filter(|l| l["type"] == "alert")
        .filter_map(|a| a["rule_id"].as_str())
        .collect();
    assert!(!alert_rules.contains(&"11111111-0000-4000-8000-000000000001"), "{alert_rules:?}");
    assert!(alert_rules.contains(&"11111111-0000-4000-8000-000000000003"));
}

#[test]
fn min_severity_leaves_out_rules_below_it_but_keeps_what_kept_correlations_use() {
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "rules.yml", RULES);
    let lone_low = "title: Any console login\nid: 11111111-0000-4000-8000-000000000006\nlogsource: {product: aws, service: cloudtrail}\n\
        detection:\n  selection:\n    eventName: ConsoleLogin\n  condition: selection\nlevel: low\n";
    write(dir.path(), "lone.yml", lone_low);
    let events = vec![
        failed_login("a1", "2024-08-01T10:00:00Z", "alice", "198.51.100.1"),
        failed_login("a2", "2024-08-01T10:02:00Z", "alice", "198.51.100.2"),
        failed_login("a3", "2024-08-01T10:03:00Z", "alice", "198.51.100.2"),
        ingress_record("sg", "2024-08-01T10:50:00Z", 22, "0.0.0.0/0"),
    ];
    let input = write(dir.path(), "trail.json", &records(&events));
    let rules_dir = dir.path().to_string_lossy().into_owned();
    let rule_ids = |min: &str| -> (Vec<String>, String) {
        let run = tripline(&[
            "scan",
            &input,
            "--no-builtin",
            "--rules",
            &rules_dir,
            "--format",
            "jsonl",
            "--min-severity",
            min,
        ]);
        assert_eq!(run.code, 1, "{}", run.stderr);
        let mut ids: Vec<String> = jsonl(&run.stdout)
            .iter()
            .filter(|l| l["type"] == "signal")
            .filter_map(|l| l["rule_id"].as_str().map(str::to_owned))
            .collect();
        ids.sort();
        ids.dedup();
        (ids, run.stderr)
    };
    let suffixes = |ids: &[String]| {
        ids.iter().map(|id| id[id.len() - 1..].to_owned()).collect::<Vec<_>>().join("")
    };
    // Everything fires without a minimum.
    let (ids, _) = rule_ids("info");
    assert_eq!(suffixes(&ids), "123456");
    // `high`: the medium value_count correlation and the lone low rule go; the low base rules
    // stay, because the high and critical correlations use them.
    let (ids, stderr) = rule_ids("high");
    assert_eq!(suffixes(&ids), "1235", "{stderr}");
    assert!(stderr.contains("2 left out by --min-severity high, 4 kept"), "{stderr}");
    // `critical`: only the temporal correlation and the two rules it uses.
    let (ids, _) = rule_ids("critical");
    assert_eq!(suffixes(&ids), "125");
    let bad = tripline(&["scan", &input, "--min-severity", "severe"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("unknown severity `severe`"), "{}", bad.stderr);
}

#[test]
fn a_correlation_naming_an_unknown_rule_is_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = write(dir.path(), "c.yml", "title: C\nid: c\ncorrelation:\n  type: event_count\n  rules: [nope]\n  timespan: 5m\n  condition: {gte: 2}\nlevel: low\n");
    let input = write(
        dir.path(),
        "t.json",
        &records(&[failed_login("x", "2024-08-01T10:00:00Z", "alice", "198.51.100.1")]),
    );
    let run = tripline(&["scan", &input, "--no-builtin", "--rules", &rules]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("correlation `c` refers to `nope`, which is not a loaded rule"),
        "{}",
        run.stderr
    );
}

#[test]
fn meta_filters_narrow_the_rules_they_name() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = write(dir.path(), "rules.yml", RULES);
    let filter = write(dir.path(), "filter.yml", "title: Ignore the office\nlogsource: {product: aws, service: cloudtrail}\nfilter:\n  rules: [console_login_failed]\n  office:\n    sourceIPAddress|cidr: 198.51.100.0/24\n  condition: not office\n");
    let events = vec![
        failed_login("office", "2024-08-01T10:00:00Z", "alice", "198.51.100.1"),
        failed_login("away", "2024-08-01T10:01:00Z", "alice", "192.0.2.9"),
    ];
    let input = write(dir.path(), "t.json", &records(&events));
    let run = tripline(&[
        "scan",
        &input,
        "--no-builtin",
        "--rules",
        &rules,
        "--rules",
        &filter,
        "--format",
        "jsonl",
    ]);
    let ids: Vec<&str> = jsonl(&run.stdout)
        .iter()
        .filter(|l| l["rule_id"] == "11111111-0000-4000-8000-000000000001")
        .filter_map(|l| l["event_id"].as_str().map(|_| ""))
        .collect();
    assert_eq!(ids.len(), 1, "{}", run.stdout);
    assert!(run.stdout.contains("\"event_id\":\"away\""));
    assert!(!run.stdout.contains("\"event_id\":\"office\""));
}

/// The same logs delivered in three files and scanned by three runs with a store: the
/// correlation windows are kept between runs, so the correlations fire as one scan of
/// everything would have them fire — once each.
#[test]
fn correlation_windows_carry_over_between_runs_with_a_store() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rules = write(dir.path(), "rules.yml", RULES);
    let deliveries = [
        vec![
            failed_login("a1", "2024-08-01T10:00:00Z", "alice", "198.51.100.1"),
            failed_login("b1", "2024-08-01T10:01:00Z", "bob", "198.51.100.1"),
        ],
        vec![
            failed_login("a2", "2024-08-01T10:02:00Z", "alice", "198.51.100.1"),
            failed_login("a3", "2024-08-01T10:03:00Z", "alice", "198.51.100.2"),
        ],
        vec![
            failed_login("b2", "2024-08-01T10:30:00Z", "bob", "198.51.100.1"),
            ingress_record("sg", "2024-08-01T10:50:00Z", 22, "0.0.0.0/0"),
        ],
    ];
    let correlated = |lines: &[Value]| -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = lines
            .iter()
            .filter(|l| l["type"] == "signal" && !l["context"]["correlation"].is_null())
            .map(|l| {
                (
                    l["rule_id"].as_str().unwrap_or_default().to_owned(),
                    l["event_id"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        out.sort();
        out
    };
    let everything: Vec<Value> = deliveries.iter().flatten().cloned().collect();
    let all = write(dir.path(), "all.json", &records(&everything));
    let expected = correlated(&jsonl(
        &tripline(&["scan", &all, "--no-builtin", "--rules", &rules, "--format", "jsonl"]).stdout,
    ));
    assert_eq!(expected.len(), 3, "{expected:?}");

    let store = dir.path().join("alerts.db").display().to_string();
    let mut seen = Vec::new();
    for (i, delivery) in deliveries.iter().enumerate() {
        let file = write(dir.path(), &format!("part{i}.json"), &records(delivery));
        let run = tripline(&[
            "scan",
            &file,
            "--no-builtin",
            "--rules",
            &rules,
            "--store",
            &store,
            "--format",
            "jsonl",
        ]);
        assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
        seen.extend(correlated(&jsonl(&run.stdout)));
    }
    seen.sort();
    assert_eq!(seen, expected);
    let alerts = jsonl(
        &tripline(&[
            "alerts",
            "list",
            "--store",
            &store,
            "--rule",
            "11111111-0000-4000-8000-000000000003",
            "--format",
            "jsonl",
        ])
        .stdout,
    );
    assert_eq!(alerts.len(), 1, "the spraying correlation raised one alert");
}
