//! `tripline scan` as a process: shapes, bad input, exit codes, output contract.

mod common;

use common::{
    describe_record, example_copies, gzip, ingress_record, jsonl, tripline, tripline_with,
    tripline_with_stdin,
};
use serde_json::{json, Value};

fn write(dir: &std::path::Path, name: &str, data: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("has a parent")).expect("temp dir is writable");
    std::fs::write(&path, data).expect("temp dir is writable");
    path.display().to_string()
}

fn records(values: &[Value]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "Records": values })).expect("serializable")
}

fn summary_number(stderr: &str, label: &str) -> u64 {
    let summary = stderr.lines().find(|l| l.starts_with("scanned ")).expect("a summary line");
    let at = summary.find(label).unwrap_or_else(|| panic!("`{label}` in `{summary}`"));
    let digits: String =
        summary[..at].trim_end().chars().rev().take_while(char::is_ascii_digit).collect();
    digits.chars().rev().collect::<String>().parse().expect("a count before the label")
}

#[test]
fn examples_raise_alerts_and_exit_1() {
    let run = tripline(&["scan", "examples", "--format", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = jsonl(&run.stdout);
    let signals: Vec<&Value> = lines.iter().filter(|l| l["type"] == "signal").collect();
    let alerts: Vec<&Value> = lines.iter().filter(|l| l["type"] == "alert").collect();
    assert!(!signals.is_empty() && !alerts.is_empty());
    for key in [
        "rule_id",
        "rule_title",
        "severity",
        "risk_score",
        "event_id",
        "event_time",
        "event_name",
        "event_source",
        "aws_region",
        "account_id",
        "actor",
        "source_ip",
        "user_agent",
        "summary",
        "context",
        "input",
    ] {
        assert!(signals[0].get(key).is_some(), "signal lacks `{key}`: {}", signals[0]);
    }
    for key in [
        "alert_id",
        "rule_id",
        "title",
        "severity",
        "dedup_key",
        "first_seen",
        "last_seen",
        "event_count",
        "event_ids",
    ] {
        assert!(alerts[0].get(key).is_some(), "alert lacks `{key}`: {}", alerts[0]);
    }
    assert_eq!(summary_number(&run.stderr, "digest file(s) skipped"), 1);
    assert_eq!(summary_number(&run.stderr, "record(s)"), 480);
    // Panther's seed dedups for 12 hours on its title: one alert holds every change.
    let panther: Vec<&&Value> =
        alerts.iter().filter(|a| a["rule_id"] == "AWS.EC2.SecurityGroupModified").collect();
    assert_eq!(panther.len(), 1);
    let panther_signals =
        signals.iter().filter(|s| s["rule_id"] == "AWS.EC2.SecurityGroupModified").count();
    assert_eq!(panther[0]["event_count"], json!(panther_signals));
}

#[test]
fn output_is_deterministic_across_parallel_runs() {
    let a = tripline(&["scan", "examples", "--format", "jsonl", "-q"]);
    let b = tripline(&["scan", "examples", "--format", "jsonl", "-q"]);
    assert_eq!(a.stdout, b.stdout);
    let inputs: Vec<(String, u64)> = jsonl(&a.stdout)
        .iter()
        .filter(|l| l["type"] == "signal")
        .map(|s| {
            (
                s["input"]["file"].as_str().unwrap_or_default().to_owned(),
                s["input"]["record"].as_u64().unwrap_or_default(),
            )
        })
        .collect();
    let mut sorted = inputs.clone();
    sorted.sort();
    assert_eq!(inputs, sorted, "signals are ordered by file, then record");
}

#[test]
fn streamed_output_is_the_same_on_one_thread_and_on_many() {
    // Many inputs over more threads than cores: inputs finish out of order, and the scan must
    // still take them (and write their signals) in input order.
    let dir = tempfile::tempdir().expect("temp dir");
    example_copies(dir.path(), 12);
    let path = dir.path().to_string_lossy().into_owned();
    let args = ["scan", path.as_str(), "--format", "jsonl", "-q"];
    let one = tripline_with(&args, None, &[("RAYON_NUM_THREADS", "1")]);
    let many = tripline_with(&args, None, &[("RAYON_NUM_THREADS", "8")]);
    assert_eq!(one.code, 1, "{}", one.stderr);
    assert_eq!(many.code, 1, "{}", many.stderr);
    assert_eq!(one.stdout, many.stdout);
    let lines = jsonl(&many.stdout);
    let files: Vec<&str> = lines
        .iter()
        .filter(|l| l["type"] == "signal")
        .filter_map(|s| s["input"]["file"].as_str())
        .collect();
    assert!(
        files.iter().collect::<std::collections::BTreeSet<_>>().len() >= 24,
        "signals from many inputs"
    );
    assert!(files.windows(2).all(|w| w[0] <= w[1]), "signals in input order");
    let first_alert = lines.iter().position(|l| l["type"] == "alert").expect("alerts");
    assert!(
        lines[first_alert..].iter().all(|l| l["type"] == "alert"),
        "every signal, then every alert"
    );
}

#[test]
fn world_open_ssh_carries_the_change_list_and_actor() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "a.json",
        &records(&[ingress_record("e-1", "2024-08-01T10:00:00Z", 22, "0.0.0.0/0")]),
    );
    let run = tripline(&["scan", &file, "--format", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let lines = jsonl(&run.stdout);
    let signal = lines
        .iter()
        .find(|l| {
            l["rule_id"] == "ec2-security-group-admin-port-opened-to-world" && l["type"] == "signal"
        })
        .expect("the admin-port rule fired");
    assert_eq!(signal["severity"], "high");
    assert_eq!(signal["actor"]["arn"], "arn:aws:iam::111122223333:user/bob");
    assert_eq!(signal["source_ip"], "203.0.113.250");
    assert_eq!(
        signal["context"]["security_group_changes"],
        json!([{
        "group": "sg-0a1b2c3d4e5f60718", "action": "grant", "direction": "ingress", "protocol": "tcp",
        "from_port": 22, "to_port": 22, "peer": "0.0.0.0/0", "peer_kind": "cidr", "exposure": "world"}])
    );
    assert!(signal["context"]["indicators"]["ips"]
        .as_array()
        .expect("ips")
        .contains(&json!("203.0.113.250")));
    assert_eq!(signal["input"], json!({"file": file, "record": 0}));
}

#[test]
fn every_shape_is_read_in_any_mix() {
    let dir = tempfile::tempdir().expect("temp dir");
    let r = |id: &str| ingress_record(id, "2024-08-01T10:00:00Z", 443, "10.0.0.0/8");
    write(dir.path(), "1-envelope.json.gz", &gzip(&records(&[r("a")])));
    write(dir.path(), "2-array.json", &serde_json::to_vec(&json!([r("b")])).expect("json"));
    write(dir.path(), "3-object.json", &serde_json::to_vec_pretty(&r("c")).expect("json"));
    let lines = format!(
        "{}\n{}\n",
        serde_json::to_string(&r("d")).expect("json"),
        serde_json::to_string(&describe_record("x", "2024-08-01T10:00:00Z")).expect("json")
    );
    write(dir.path(), "4-lines.jsonl", lines.as_bytes());
    let bridge = json!({"version": "0", "id": "5e1c", "detail-type": "AWS API Call via CloudTrail", "source": "aws.ec2", "account": "111122223333",
        "time": "2024-08-01T10:00:00Z", "region": "eu-west-1", "resources": [], "detail": r("e")});
    write(dir.path(), "5-eventbridge.json", &serde_json::to_vec(&bridge).expect("json"));
    // A gzip file without the .gz name is still gzip.
    write(dir.path(), "6-misnamed.json", &gzip(&records(&[r("f")])));
    let run = tripline(&[
        "scan",
        &dir.path().display().to_string(),
        "--format",
        "jsonl",
        "--no-builtin",
        "--rules",
        "rules/ec2/ec2-security-group-ingress-changed.yml",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let ids: Vec<String> = jsonl(&run.stdout)
        .iter()
        .filter(|l| l["type"] == "signal")
        .map(|s| s["event_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids, vec!["a", "b", "c", "d", "e", "f"]);
    assert_eq!(summary_number(&run.stderr, "record(s)"), 7);
}

#[test]
fn bad_input_is_reported_counted_and_the_rest_still_scanned() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = |id: &str| ingress_record(id, "2024-08-01T10:00:00Z", 22, "0.0.0.0/0");
    let whole = gzip(&records(&[good("t1"), good("t2"), good("t3")]));
    write(dir.path(), "a-truncated.json.gz", &whole[..whole.len() * 2 / 3]);
    let jsonl_text = format!(
        "{}\n{{\"eventName\": tru}}\n[1, 2]\n{{\"eventSource\": \"ec2.amazonaws.com\"}}\n{}\n",
        serde_json::to_string(&good("l1")).expect("json"),
        serde_json::to_string(&good("l5")).expect("json")
    );
    write(dir.path(), "b-lines.jsonl", jsonl_text.as_bytes());
    write(dir.path(), "c-empty.json", b"");
    let mut bom = "\u{feff}".as_bytes().to_vec();
    bom.extend(records(&[good("bom")]));
    write(dir.path(), "d-bom.json", &bom);
    write(dir.path(), "e-not-json.json", b"this is not json at all");
    write(dir.path(), "f-good.json", &records(&[good("ok")]));
    let run = tripline(&["scan", &dir.path().display().to_string(), "--format", "jsonl"]);
    assert_eq!(run.code, 2, "bad input exits 2\n{}", run.stderr);
    let ids: Vec<String> = jsonl(&run.stdout)
        .iter()
        .filter(|l| {
            l["type"] == "signal" && l["rule_id"] == "ec2-security-group-admin-port-opened-to-world"
        })
        .map(|s| s["event_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(ids.contains(&"l1".to_owned()) && ids.contains(&"l5".to_owned()), "{ids:?}");
    assert!(ids.contains(&"bom".to_owned()) && ids.contains(&"ok".to_owned()), "{ids:?}");
    let err = &run.stderr;
    let expect = [
        ("a-truncated.json.gz", "truncated"),
        ("b-lines.jsonl:2: record 1", "malformed JSON"),
        ("b-lines.jsonl:3: record 2", "not a JSON object"),
        ("b-lines.jsonl:4: record 3", "eventName"),
        ("c-empty.json", "empty file"),
        ("d-bom.json", "byte-order mark"),
        ("e-not-json.json", "malformed JSON"),
    ];
    for (place, reason) in expect {
        assert!(
            err.lines().any(|l| l.contains(place) && l.contains(reason)),
            "no `{place}` … `{reason}` in:\n{err}"
        );
    }
    assert!(err.contains("b-lines.jsonl:2: record 1 (byte "), "{err}");
    assert!(summary_number(err, "bad") >= 4, "{err}");
}

#[test]
fn digests_and_insights_are_never_evaluated_as_events() {
    let dir = tempfile::tempdir().expect("temp dir");
    let digest = json!({"awsAccountId": "111122223333", "digestStartTime": "2024-08-01T09:00:00Z", "digestEndTime": "2024-08-01T10:00:00Z", "logFiles": []});
    write(
        dir.path(),
        "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2024/08/01/d.json.gz",
        &gzip(&serde_json::to_vec(&digest).expect("json")),
    );
    write(dir.path(), "elsewhere/digest-shaped.json", &serde_json::to_vec(&digest).expect("json"));
    let mut insight = ingress_record("ins", "2024-08-01T10:00:00Z", 22, "0.0.0.0/0");
    insight["eventType"] = "AwsCloudTrailInsight".into();
    insight["eventCategory"] = "Insight".into();
    insight["insightDetails"] = json!({"state": "Start", "eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress", "insightType": "ApiCallRateInsight"});
    write(
        dir.path(),
        "AWSLogs/111122223333/CloudTrail-Insight/eu-west-1/2024/08/01/i.json.gz",
        &gzip(&records(&[insight])),
    );
    let run = tripline(&["scan", &dir.path().display().to_string(), "--format", "jsonl"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert_eq!(summary_number(&run.stderr, "digest file(s) skipped"), 2);
    assert_eq!(summary_number(&run.stderr, "insight"), 1);
}

#[test]
fn stdin_and_time_window() {
    let body = records(&[
        ingress_record("early", "2024-07-31T23:59:59Z", 22, "0.0.0.0/0"),
        ingress_record("inside", "2024-08-01T12:00:00Z", 22, "0.0.0.0/0"),
        ingress_record("late", "2024-08-02T00:00:00Z", 22, "0.0.0.0/0"),
    ]);
    let run = tripline_with_stdin(
        &["scan", "-", "--format", "jsonl", "--since", "2024-08-01", "--until", "2024-08-02"],
        Some(&gzip(&body)),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let ids: std::collections::BTreeSet<String> = jsonl(&run.stdout)
        .iter()
        .filter_map(|l| l["event_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids.into_iter().collect::<Vec<_>>(), vec!["inside"]);
    assert_eq!(summary_number(&run.stderr, "outside --since/--until"), 2);
}

#[test]
fn nothing_found_exits_0_and_missing_paths_exit_2() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file =
        write(dir.path(), "benign.json", &records(&[describe_record("d", "2024-08-01T10:00:00Z")]));
    assert_eq!(tripline(&["scan", &file]).code, 0);
    let missing = tripline(&["scan", "/definitely/not/here"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("/definitely/not/here: error: no such file or folder"),
        "{}",
        missing.stderr
    );
}

#[test]
fn text_format_is_a_table_with_the_change() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write(
        dir.path(),
        "a.json",
        &records(&[ingress_record("e-1", "2024-08-01T10:00:00Z", 3389, "::/0")]),
    );
    let run = tripline(&["scan", &file]);
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.starts_with("high 2024-08-01T10:00:00Z  AuthorizeSecurityGroupIngress"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("grant ingress sg-0a1b2c3d4e5f60718 tcp 3389 from ::/0 (world)"),
        "{}",
        run.stdout
    );
}

#[test]
fn max_alerts_overflow_is_counted_and_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rule = "id: burst\ntitle: Burst\nseverity: low\ndetection:\n  sel:\n    eventName: AuthorizeSecurityGroupIngress\n  condition: sel\nschedule: {interval: 10m, max_alerts: 2}\n";
    let rule_file = write(dir.path(), "burst.yml", rule.as_bytes());
    let events: Vec<Value> = (0..5)
        .map(|i| {
            ingress_record(&format!("e{i}"), &format!("2024-08-01T10:0{i}:00Z"), 443, "10.0.0.0/8")
        })
        .collect();
    let file = write(dir.path(), "a.json", &records(&events));
    let run =
        tripline(&["scan", &file, "--no-builtin", "--rules", &rule_file, "--format", "jsonl"]);
    assert_eq!(jsonl(&run.stdout).iter().filter(|l| l["type"] == "alert").count(), 2);
    assert_eq!(summary_number(&run.stderr, "dropped by max_alerts"), 3);
    assert!(
        run.stderr.contains("rule `burst` reached max_alerts: 3 alert(s) not raised"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_empty_folder_is_a_warning_not_a_quiet_day() {
    let dir = tempfile::tempdir().expect("temp");
    let run = tripline(&["scan", dir.path().to_str().expect("utf-8 path"), "-q"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("warning: no CloudTrail log file found in"), "{}", run.stderr);
    let examples = tripline(&["scan", "examples", "-q"]);
    assert!(!examples.stderr.contains("no CloudTrail log file"), "{}", examples.stderr);
}

#[test]
fn a_store_in_a_folder_that_does_not_exist_is_an_error() {
    let dir = tempfile::tempdir().expect("temp");
    let store = dir.path().join("typo").join("alerts.db");
    let run = tripline(&["scan", "examples", "--store", store.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    assert_eq!(run.stderr.matches("does not exist").count(), 1, "said once: {}", run.stderr);
    assert!(!dir.path().join("typo").exists(), "no folder is created");
}

#[test]
fn since_takes_a_span_back_from_now_and_must_come_before_until() {
    // The examples are from 2024: seven days back from now holds none of them, 9999 days all.
    let recent = tripline(&["scan", "examples", "--since", "7d", "--format", "jsonl"]);
    assert_eq!(recent.code, 0, "{}", recent.stderr);
    assert!(recent.stderr.contains("480 outside --since/--until"), "{}", recent.stderr);
    let all = tripline(&["scan", "examples", "--since", "9999d", "--format", "jsonl"]);
    assert_eq!(all.code, 1, "{}", all.stderr);
    assert!(all.stderr.contains("0 outside --since/--until"), "{}", all.stderr);
    let backwards =
        tripline(&["scan", "examples", "--since", "2024-08-02", "--until", "2024-08-01"]);
    assert_eq!(backwards.code, 2);
    assert!(backwards.stderr.contains("is not before --until"), "{}", backwards.stderr);
    let bogus = tripline(&["scan", "examples", "--since", "yesterday-ish"]);
    assert_eq!(bogus.code, 2);
    assert!(bogus.stderr.contains("a span back from now (24h, 7d)"), "{}", bogus.stderr);
}

#[test]
fn other_services_logs_in_a_bucket_are_skipped_and_counted_not_errors() {
    let dir = tempfile::tempdir().expect("temp");
    let bucket = dir.path().join("bucket");
    example_copies(&bucket, 1);
    let account = bucket.join("AWSLogs").join("111122223333");
    let config = account.join("Config").join("eu-west-1").join("2024").join("8").join("1");
    std::fs::create_dir_all(&config).expect("mkdir");
    let snapshot = br#"{"fileVersion":"1.0","configSnapshotId":"x","configurationItems":[]}"#;
    std::fs::write(
        config.join("111122223333_Config_eu-west-1_ConfigSnapshot.json.gz"),
        gzip(snapshot),
    )
    .expect("write");
    std::fs::write(account.join("Config").join("ConfigWritabilityCheckFile"), b"").expect("write");
    let flows = account.join("vpcflowlogs").join("eu-west-1");
    std::fs::create_dir_all(&flows).expect("mkdir");
    std::fs::write(flows.join("flows.log.gz"), gzip(b"version account-id interface-id\n"))
        .expect("write");
    let run = tripline(&["scan", bucket.to_str().expect("utf-8 path"), "--format", "jsonl"]);
    assert_eq!(run.code, 1, "findings, and no error: {}", run.stderr);
    assert!(
        run.stderr.contains("3 other service log file(s) skipped (Config 2, vpcflowlogs 1)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("(0 with errors"), "{}", run.stderr);
    // The same file outside the layout is still an error: it holds no CloudTrail.
    let loose = dir.path().join("loose.json.gz");
    std::fs::write(&loose, gzip(snapshot)).expect("write");
    let run = tripline(&["scan", loose.to_str().expect("utf-8 path")]);
    assert_eq!(run.code, 2, "{}", run.stderr);
}

#[test]
fn the_report_is_one_block_per_event_in_colour_on_request_and_cut_to_the_width() {
    let plain = tripline(&["scan", "examples"]);
    // The SSH-to-the-world change: one block, its event's rules most severe first.
    let block: Vec<&str> = plain
        .stdout
        .split("\n\n")
        .find(|b| b.contains("sg-08e043ff624b2b580 tcp 22 from 0.0.0.0/0"))
        .expect("the admin-port block")
        .lines()
        .collect();
    assert!(
        block[0].starts_with("high 2024-08-01T09:02:48Z  AuthorizeSecurityGroupIngress by "),
        "{block:?}"
    );
    assert!(block[0].ends_with("[account 111122223333 us-east-1]"), "{block:?}");
    assert!(block[1].contains("ec2-security-group-admin-port-opened-to-world"), "{block:?}");
    let severities: Vec<&str> =
        block[1..].iter().filter_map(|l| l.split_whitespace().next()).take(3).collect();
    assert_eq!(severities, ["high", "low", "info"]);
    assert!(!plain.stdout.contains('\x1b'), "no colour off a terminal");
    let colour = tripline(&["scan", "examples", "--color", "always"]);
    assert!(colour.stdout.contains("\x1b[1;31mhigh\x1b[0m"), "{}", colour.stdout);
    let never = tripline_with(&["scan", "examples", "--color", "auto"], None, &[("NO_COLOR", "1")]);
    assert!(!never.stdout.contains('\x1b'));
    let narrow = tripline_with(&["scan", "examples"], None, &[("COLUMNS", "80")]);
    assert!(narrow.stdout.lines().all(|l| l.chars().count() <= 80), "{}", narrow.stdout);
    assert!(narrow.stdout.contains('…'));
}

#[test]
fn a_queue_given_to_scan_is_refused_with_the_command_that_follows_it() {
    let run = common::tripline(&["scan", "examples", "sqs://cloudtrail-notifications"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("sqs://cloudtrail-notifications: a queue is followed, not scanned"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("tripline watch sqs://cloudtrail-notifications --store"),
        "{}",
        run.stderr
    );
}
