//! The configuration file: the store, rules and suppressions a deployment sets once.

mod common;

use common::{jsonl, tripline, workspace};

#[test]
fn the_configuration_names_the_store_and_the_suppressions() {
    let dir = tempfile::tempdir().expect("temp");
    std::fs::create_dir_all(dir.path().join("state")).expect("mkdir");
    std::fs::write(
        dir.path().join("suppressions.yml"),
        "name: backup-bot\nreason: the nightly backup job deletes its own groups\nowner: platform-team\nrules: [ec2-security-group-deleted]\ndetection:\n  bot:\n    userIdentity.arn|endswith: ':user/backup-bot'\n  condition: bot\n",
    )
    .expect("write");
    // Relative paths are relative to the file, not to where tripline runs.
    std::fs::write(
        dir.path().join("tripline.toml"),
        "store = \"state/alerts.db\"\nsuppressions = [\"suppressions.yml\"]\n",
    )
    .expect("write");
    let config = dir.path().join("tripline.toml").to_string_lossy().into_owned();
    let examples = workspace().join("examples").to_string_lossy().into_owned();

    let run = tripline(&["scan", &examples, "--config", &config, "--format", "jsonl"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("suppressed: 1 signal(s) by `backup-bot`"), "{}", run.stderr);
    assert!(
        dir.path().join("state/alerts.db").is_file(),
        "the store is where the configuration says"
    );
    let listed = tripline(&["alerts", "list", "--config", &config, "--format", "jsonl"]);
    assert_eq!(listed.code, 0, "{}", listed.stderr);
    let alerts = jsonl(&listed.stdout);
    assert_eq!(alerts.len(), jsonl(&run.stdout).iter().filter(|l| l["type"] == "alert").count());
    // A flag wins over the file.
    let elsewhere = dir.path().join("other.db").to_string_lossy().into_owned();
    assert_eq!(
        tripline(&["scan", &examples, "--config", &config, "--store", &elsewhere, "-q"]).code,
        1
    );
    assert!(std::path::Path::new(&elsewhere).is_file());
}

#[test]
fn a_bad_configuration_is_refused_with_its_name() {
    let dir = tempfile::tempdir().expect("temp");
    let config = dir.path().join("tripline.toml");
    std::fs::write(&config, "stor = \"x.db\"\n").expect("write");
    let run = tripline(&["alerts", "list", "--config", &config.to_string_lossy()]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("tripline.toml is not a valid configuration")
            && run.stderr.contains("unknown field `stor`"),
        "{}",
        run.stderr
    );
    let none = tripline(&["alerts", "list"]);
    assert_eq!(none.code, 2);
    assert!(none.stderr.contains("no store given"), "{}", none.stderr);
}

#[test]
fn the_configuration_sets_a_minimum_severity_and_the_flag_wins() {
    let dir = tempfile::tempdir().expect("temp");
    let config = dir.path().join("tripline.toml");
    std::fs::write(&config, "min_severity = \"high\"\n").expect("write");
    let config = config.to_string_lossy().into_owned();
    let examples = workspace().join("examples").to_string_lossy().into_owned();
    let severities = |args: &[&str]| -> Vec<String> {
        let run = tripline(args);
        assert!(run.code <= 1, "{}", run.stderr);
        let mut found: Vec<String> = jsonl(&run.stdout)
            .iter()
            .filter(|l| l["type"] == "alert")
            .filter_map(|a| a["severity"].as_str().map(str::to_owned))
            .collect();
        found.sort();
        found.dedup();
        found
    };
    assert_eq!(
        severities(&["scan", &examples, "--format", "jsonl", "-q"]),
        ["high", "info", "low"]
    );
    assert_eq!(
        severities(&["scan", &examples, "--config", &config, "--format", "jsonl", "-q"]),
        ["high"]
    );
    assert_eq!(
        severities(&[
            "scan",
            &examples,
            "--config",
            &config,
            "--min-severity",
            "low",
            "--format",
            "jsonl",
            "-q"
        ]),
        ["high", "low"]
    );
    std::fs::write(dir.path().join("tripline.toml"), "min_severity = \"severe\"\n").expect("write");
    let bad = tripline(&["scan", &examples, "--config", &config]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("unknown variant `severe`"), "{}", bad.stderr);
}

fn alert_rules(run: &common::Run) -> std::collections::BTreeSet<String> {
    jsonl(&run.stdout)
        .into_iter()
        .filter(|l| l["type"] == "alert")
        .map(|a| a["rule_id"].as_str().expect("rule id").to_owned())
        .collect()
}

#[test]
fn rules_are_turned_off_by_tag_format_or_pack_and_kept_on_by_id() {
    let examples = workspace().join("examples").to_string_lossy().into_owned();
    let all = alert_rules(&tripline(&["scan", &examples, "--format", "jsonl"]));
    assert!(all.contains("ec2-security-group-deleted"), "{all:?}");
    let admin = "ec2-security-group-admin-port-opened-to-world";
    let args = [
        "scan",
        &examples,
        "--format",
        "jsonl",
        "--disable",
        "tag:network-security",
        "--enable",
        admin,
    ];
    let some = tripline(&args);
    assert_eq!(some.code, 1, "{}", some.stderr);
    let raised = alert_rules(&some);
    assert!(raised.contains(admin), "enabled by id: {raised:?}");
    assert!(!raised.contains("ec2-security-group-deleted"), "disabled by tag: {raised:?}");
    assert!(raised.len() < all.len() && raised.len() > 1, "{raised:?}");
    // `rules list` says which are off and why.
    let list =
        tripline(&["rules", "list", "--format", "jsonl", "--disable", "tag:network-security"]);
    let listed = jsonl(&list.stdout);
    let deleted = listed.iter().find(|r| r["id"] == "ec2-security-group-deleted").expect("listed");
    assert_eq!(deleted["off"], "disabled by `tag:network-security` (--disable)");
    // The configuration's `[rules]` table, and a selector that names nothing is a warning.
    let dir = tempfile::tempdir().expect("temp");
    std::fs::write(
        dir.path().join("tripline.toml"),
        "[rules]\ndisable = [\"pack:builtin\", \"tag:no-such-tag\"]\n",
    )
    .expect("write");
    let config = dir.path().join("tripline.toml").to_string_lossy().into_owned();
    let none = tripline(&["scan", &examples, "--config", &config, "--format", "jsonl"]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(alert_rules(&none).is_empty());
    assert!(none.stderr.contains("17 disabled"), "{}", none.stderr);
    assert!(
        none.stderr.contains("warning: `tag:no-such-tag` (tripline.toml) names no loaded rule"),
        "{}",
        none.stderr
    );
    std::fs::write(dir.path().join("tripline.toml"), "[rules]\ndisable = [\"format:splunk\"]\n")
        .expect("write");
    let bad = tripline(&["scan", &examples, "--config", &config]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("unknown format `splunk`"), "{}", bad.stderr);
}

#[test]
fn the_example_configuration_in_the_repository_loads() {
    let example = workspace().join("tripline.example.toml").to_string_lossy().into_owned();
    let run = tripline(&["rules", "list", "--config", &example, "--format", "jsonl"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.stderr.contains("warning:"), "{}", run.stderr);
    assert_eq!(jsonl(&run.stdout).len(), 17, "the built-in pack, nothing off");
}

#[test]
fn completions_and_the_man_page_come_from_the_command_definitions() {
    for shell in ["bash", "zsh", "fish"] {
        let run = tripline(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        for word in ["scan", "min-severity", "rescan", "outbox"] {
            assert!(run.stdout.contains(word), "{shell} completions lack `{word}`");
        }
    }
    assert_eq!(tripline(&["completions", "tcsh"]).code, 2);
    let man = tripline(&["man"]);
    assert_eq!(man.code, 0, "{}", man.stderr);
    assert!(man.stdout.contains(".TH tripline 1"), "{}", man.stdout);
    assert!(man.stdout.contains("scan"), "{}", man.stdout);
}
