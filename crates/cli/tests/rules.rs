//! `tripline test` and `tripline rules` as processes.

mod common;

use common::{jsonl, tripline};

fn write_rule(dir: &std::path::Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("temp dir is writable");
    path.display().to_string()
}

#[test]
fn every_builtin_rule_passes_its_tests_with_both_kinds_of_case() {
    let run = tripline(&["test", "--min-tests", "2"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("17 rule(s) passed, 0 failed, 0 skipped"), "{}", run.stdout);
    for id in [
        "cca-fc9-b0e",
        "AWS.EC2.SecurityGroupModified",
        "29052c19-ff3e-42fd-8363-7be14d7c5469",
        "7b3da11a-60a2-412e-8aa7-011e1eb9ed47",
        "378f9024-8a0c-46a5-aa08-ce147ac73a4e",
    ] {
        assert!(run.stdout.contains(&format!("ok    {id}")), "seed {id} missing:\n{}", run.stdout);
    }
}

#[test]
fn a_failing_case_is_explained_and_exits_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_rule(dir.path(), "r.yml", "id: needs-error\ntitle: T\nseverity: low\ndetection:\n  sel:\n    eventName: CreateSecurityGroup\n    errorCode|exists: true\n  condition: sel\ntests:\n  - name: matches\n    expected: true\n    log: {eventVersion: '1.09', eventName: CreateSecurityGroup, eventSource: ec2.amazonaws.com, eventTime: '2024-08-01T10:00:00Z'}\n");
    let run = tripline(&["test", "--no-builtin", &file]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("FAIL  needs-error"), "{}", run.stdout);
    assert!(run.stdout.contains("expected a match, got none"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("✓ eventName == \"CreateSecurityGroup\"  [record has: CreateSecurityGroup]"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("✗ errorCode exists  [field absent]"), "{}", run.stdout);
}

#[test]
fn min_tests_needs_positive_and_negative_cases() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = write_rule(dir.path(), "r.yml", "id: only-positive\ntitle: T\nseverity: low\ndetection:\n  sel:\n    eventName: CreateSecurityGroup\n  condition: sel\ntests:\n  - name: a\n    expected: true\n    log: {eventName: CreateSecurityGroup}\n  - name: b\n    expected: true\n    log: {eventName: CreateSecurityGroup}\n");
    assert_eq!(tripline(&["test", "--no-builtin", &file, "--min-tests", "1"]).code, 0);
    let run = tripline(&["test", "--no-builtin", &file, "--min-tests", "2"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("needs both a matching and a non-matching test"), "{}", run.stdout);
}

#[test]
fn a_bad_rule_file_reports_every_problem_and_the_others_still_load() {
    let dir = tempfile::tempdir().expect("temp dir");
    write_rule(dir.path(), "bad.yml", "id: bad\ntitle: Bad\nseverity: urgent\ndetection:\n  sel:\n    eventName|contians: X\n  condition: sel or missing\n");
    write_rule(dir.path(), "good.yml", "id: good\ntitle: Good\nseverity: low\ndetection:\n  sel:\n    eventName: X\n  condition: sel\n");
    let run = tripline(&[
        "rules",
        "list",
        "--no-builtin",
        "--rules",
        &dir.path().display().to_string(),
        "--format",
        "jsonl",
    ]);
    assert_eq!(run.code, 2);
    let ids: Vec<String> = jsonl(&run.stdout)
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids, vec!["good"]);
    for needle in [
        "bad.yml:3:11: error: unknown severity `urgent`",
        "bad.yml:6:5: error: unknown modifier `contians`",
        "bad.yml:7:14: error: the condition names `missing`",
        "hint: supported modifiers",
    ] {
        assert!(run.stderr.contains(needle), "no `{needle}` in:\n{}", run.stderr);
    }
}

#[test]
fn rules_list_and_show() {
    let list = tripline(&["rules", "list", "--format", "jsonl"]);
    assert_eq!(list.code, 0);
    let rules = jsonl(&list.stdout);
    assert_eq!(rules.len(), 17);
    let elastic = rules
        .iter()
        .find(|r| r["id"] == "29052c19-ff3e-42fd-8363-7be14d7c5469")
        .expect("the Elastic seed");
    assert_eq!(
        (elastic["severity"].as_str(), elastic["risk_score"].as_u64()),
        (Some("low"), Some(21))
    );
    let show = tripline(&["rules", "show", "378f9024-8a0c-46a5-aa08-ce147ac73a4e"]);
    assert_eq!(show.code, 0);
    for needle in [
        "schedule:    every 10m, looking back 1h, at most 100 alerts per execution",
        "Investigating AWS RDS Security Group Creation",
        "mitre:       TA0003, T1136, T1136.003",
    ] {
        assert!(show.stdout.contains(needle), "no `{needle}` in:\n{}", show.stdout);
    }
    let missing = tripline(&["rules", "show", "nope"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains("no rule with id `nope`"));
}

#[test]
fn panther_tests_look_keys_up_without_regard_to_case_as_panther_does() {
    let dir = tempfile::tempdir().expect("temp dir");
    let rule = "AnalysisType: rule
RuleID: Lowercase.Keys
Enabled: true
LogTypes: [AWS.CloudTrail]
Severity: Medium
Detection:
  - Key: eventName
    Condition: Equals
    Value: AuthorizeSecurityGroupIngress
  - DeepKey: [requestParameters, groupId]
    Condition: Equals
    Value: sg-0123456789abcdef0
Tests:
  - Name: keys as a log export wrote them
    ExpectedResult: true
    Log:
      eventversion: '1.09'
      eventtime: '2024-08-01T10:00:00Z'
      eventsource: ec2.amazonaws.com
      eventname: AuthorizeSecurityGroupIngress
      awsregion: eu-west-1
      sourceipaddress: 203.0.113.250
      useridentity: {type: IAMUser, arn: 'arn:aws:iam::111122223333:user/bob', accountid: '111122223333'}
      requestparameters: {groupid: sg-0123456789abcdef0}
      eventid: 5b4a1f4e-8d2c-4e8b-9c1a-0f1e2d3c4b5a
      recipientaccountid: '111122223333'
  - Name: another group
    ExpectedResult: false
    Log:
      eventversion: '1.09'
      eventtime: '2024-08-01T10:00:00Z'
      eventsource: ec2.amazonaws.com
      eventname: AuthorizeSecurityGroupIngress
      requestparameters: {groupid: sg-0fedcba9876543210}
      eventid: 6c5b2e5f-9e3d-4f9c-8d2b-1e2f3a4b5c6d
";
    let file = write_rule(dir.path(), "lowercase.yml", rule);
    let run = tripline(&["test", "--no-builtin", &file]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("ok    Lowercase.Keys"), "{}", run.stdout);
    assert!(!run.stdout.contains("not a usable record"), "{}", run.stdout);
}

#[test]
fn a_byte_order_mark_at_the_start_of_a_rule_file_is_accepted() {
    let dir = tempfile::tempdir().expect("temp");
    let bom = "\u{feff}";
    let native = "id: bom-native\ntitle: Written on Windows\nseverity: low\ndetection:\n  created:\n    eventName: CreateSecurityGroup\n  condition: created\n";
    let sigma = "title: Written on Windows too\nid: 5b0a5a4e-2f49-4c1e-9d7e-1c2b3a4d5e6f\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  created:\n    eventName: CreateSecurityGroup\n  condition: created\nlevel: low\n";
    std::fs::write(dir.path().join("native.yml"), format!("{bom}{native}")).expect("write");
    std::fs::write(dir.path().join("sigma.yml"), format!("{bom}{sigma}")).expect("write");
    // Diagnostics still point at the right place: the mark takes no column.
    std::fs::write(
        dir.path().join("broken.yml"),
        format!("{bom}id: bom-broken\ntitle: x\nseverity: loud\n"),
    )
    .expect("write");
    let rules = dir.path().to_string_lossy().into_owned();
    let lint = tripline(&["lint", "--rules", &rules]);
    assert!(!lint.stderr.contains("unknown rule key"), "{}", lint.stderr);
    assert!(
        !lint.stderr.contains("native.yml") && !lint.stderr.contains("sigma.yml"),
        "{}",
        lint.stderr
    );
    assert!(lint.stderr.contains("broken.yml:3:"), "{}", lint.stderr);
    let list = tripline(&["rules", "list", "--rules", &rules, "--no-builtin"]);
    assert!(list.stdout.contains("bom-native"), "{}", list.stdout);
    assert!(list.stdout.contains("5b0a5a4e-2f49-4c1e-9d7e-1c2b3a4d5e6f"), "{}", list.stdout);
}

#[test]
fn a_correlation_naming_a_rule_that_is_not_loaded_is_an_error_at_its_line_everywhere() {
    let dir = tempfile::tempdir().expect("temp");
    let correlation = "title: Many deletions\nid: 5b0a5a4e-2f49-4c1e-9d7e-1c2b3a4d5e61\ncorrelation:\n  type: event_count\n  rules:\n    - ec2-security-group-deleted\n    - no-such-rule\n  group-by: [recipientAccountId]\n  timespan: 1h\n  condition:\n    gte: 2\nlevel: low\n";
    std::fs::write(dir.path().join("many.yml"), correlation).expect("write");
    let rules = dir.path().to_string_lossy().into_owned();
    let expected = "many.yml:7:7: error: correlation `5b0a5a4e-2f49-4c1e-9d7e-1c2b3a4d5e61` refers to `no-such-rule`, which is not a loaded rule";
    // lint: 1, a file refused; test and scan: 2, a rule file was bad.
    for (args, code) in [(&["lint"][..], 1), (&["test"], 2), (&["scan", "examples"], 2)] {
        let run = tripline(&[args, &["--rules", &rules][..]].concat());
        assert_eq!(run.code, code, "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.matches(expected).count(), 1, "{args:?}: {}", run.stderr);
    }
    // The other rules still run.
    let scan = tripline(&["scan", "examples", "--rules", &rules, "--format", "jsonl"]);
    assert!(jsonl(&scan.stdout).iter().any(|l| l["rule_id"] == "ec2-security-group-deleted"));
}

#[test]
fn a_key_given_twice_refuses_the_rule_file_at_the_second_key() {
    let dir = tempfile::tempdir().expect("temp");
    let twice = "id: sg-twice\ntitle: Said twice\nseverity: low\ndetection:\n  s:\n    eventName: CreateSecurityGroup\n  condition: s\nseverity: high\n";
    std::fs::write(dir.path().join("twice.yml"), twice).expect("write");
    let rules = dir.path().to_string_lossy().into_owned();
    let lint = tripline(&["lint", "--rules", &rules]);
    assert_eq!(lint.code, 1, "{}", lint.stderr);
    assert!(
        lint.stderr.contains("twice.yml:8:1: error: key `severity` is given twice in this mapping"),
        "{}",
        lint.stderr
    );
    assert!(lint.stderr.contains("it was first given at line 3"), "{}", lint.stderr);
    let list = tripline(&["rules", "list", "--rules", &rules]);
    assert!(!list.stdout.contains("sg-twice"), "refused, not loaded with one of the two");
}

/// A Sigma rule of `detection` (YAML lines indented two spaces) and `condition`.
fn sigma_rule(id: &str, detection: &str, condition: &str) -> String {
    format!("title: Hostile {id}\nid: {id}\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n{detection}\n  condition: {condition}\nlevel: low\n")
}

#[test]
fn hostile_rule_files_are_diagnostics_at_their_lines_and_the_other_rules_still_run() {
    let dir = tempfile::tempdir().expect("temp");
    let sel = "  sel:\n    eventName: CreateSecurityGroup";
    let deep = format!("{}sel{}", "(".repeat(100_000), ")".repeat(100_000));
    write_rule(
        dir.path(),
        "parens.yml",
        &sigma_rule("5d6b1a00-0000-4000-8000-000000000001", sel, &deep),
    );
    let nots = format!("{}sel", "not ".repeat(100_000));
    write_rule(
        dir.path(),
        "nots.yml",
        &sigma_rule("5d6b1a00-0000-4000-8000-000000000002", sel, &nots),
    );
    let mut bomb = String::from(
        "  sel:\n    eventName: CreateSecurityGroup\n  a: &a [x, x, x, x, x, x, x, x, x]\n",
    );
    for (name, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip("abcdefgh".chars()) {
        bomb.push_str(&format!("  {name}: &{name} [{}]\n", vec![format!("*{prev}"); 9].join(", ")));
    }
    write_rule(
        dir.path(),
        "bomb.yml",
        &sigma_rule("5d6b1a00-0000-4000-8000-000000000003", bomb.trim_end(), "sel"),
    );
    let wild = format!("  sel:\n    eventName: '{}'", "?".repeat(30_000));
    write_rule(
        dir.path(),
        "wild.yml",
        &sigma_rule("5d6b1a00-0000-4000-8000-000000000004", &wild, "sel"),
    );
    // 20,000 selections in one `or` chain: loads and runs.
    let many: String = (0..20_000).map(|i| format!("  s{i}:\n    eventName: Nope{i}\n")).collect();
    let chain: Vec<String> = (0..20_000).map(|i| format!("s{i}")).collect();
    let many = format!("{many}  sg:\n    eventName: CreateSecurityGroup");
    write_rule(
        dir.path(),
        "chain.yml",
        &sigma_rule(
            "5d6b1a00-0000-4000-8000-000000000005",
            &many,
            &format!("{} or sg", chain.join(" or ")),
        ),
    );
    let rules = dir.path().to_string_lossy().into_owned();
    let lint = tripline(&["lint", "--rules", &rules]);
    assert_eq!(lint.code, 1, "{}", lint.stderr);
    for expected in [
        "parens.yml:9:14: error: invalid condition",
        "nots.yml:9:14: error: invalid condition",
        "bomb.yml:14:",
        "wild.yml:8:5: error: rule `5d6b1a00-0000-4000-8000-000000000004` cannot run: `eventName`: a pattern compiles to more than 10 MB",
    ] {
        assert_eq!(lint.stderr.matches(expected).count(), 1, "{expected}: {}", lint.stderr);
    }
    assert!(lint.stderr.contains("nest deeper than 100 levels"), "{}", lint.stderr);
    assert!(lint.stderr.contains("alias bomb"), "{}", lint.stderr);
    assert!(lint.stderr.contains("4 file(s) refused"), "{}", lint.stderr);
    let scan = tripline(&["scan", "examples", "--rules", &rules, "--format", "jsonl"]);
    assert_eq!(scan.code, 2, "a rule file was bad: {}", scan.stderr);
    let signals = jsonl(&scan.stdout);
    assert!(signals.iter().any(|l| l["rule_id"] == "5d6b1a00-0000-4000-8000-000000000005"));
    assert!(signals.iter().any(|l| l["rule_id"] == "ec2-security-group-created"));
}
