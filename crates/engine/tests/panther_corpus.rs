//! Panther's rules from the corpus: simple detections passing their own tests, Python rules
//! loading their metadata, and the built-in reproduction of the seed passing Panther's tests.

mod common;

use std::path::{Path, PathBuf};

use serde_json::json;
use tripline_engine::naive;
use tripline_event::OwnedRecord;
use tripline_lang::{Frontend, Level, Options};
use tripline_rule::Severity;

fn corpus(dir: &str) -> PathBuf {
    common::corpus("panther").join(dir)
}

#[test]
fn every_cloudtrail_simple_detection_loads_and_passes_its_own_tests() {
    let dir = corpus("simple-detections");
    let mut cloudtrail = 0;
    for entry in std::fs::read_dir(&dir).expect("the corpus is present").flatten() {
        let path = entry.path();
        let text = std::fs::read_to_string(&path).expect("readable");
        let loaded = tripline_lang::compile(&path, &text, &Options::default());
        assert_eq!(loaded.frontend, Frontend::Panther, "{}", path.display());
        if !text.contains("AWS.CloudTrail") {
            continue;
        }
        cloudtrail += 1;
        assert!(
            loaded.diagnostics.iter().all(|d| d.level < Level::Unsupported),
            "{}: {:?}",
            path.display(),
            loaded.diagnostics
        );
        let rule = &loaded.rules[0];
        assert!(!rule.tests.is_empty(), "{}", path.display());
        for case in &rule.tests {
            let owned = OwnedRecord::from_value(&case.log).expect("object");
            let record = owned.record().expect("object");
            assert_eq!(
                naive::evaluate(rule.condition(), &record),
                case.expected,
                "{}: {}",
                path.display(),
                case.name
            );
        }
    }
    assert_eq!(cloudtrail, 4);
}

#[test]
fn python_rules_load_metadata_and_tests_with_one_diagnostic() {
    for entry in std::fs::read_dir(corpus("rules")).expect("the corpus is present").flatten() {
        let path = entry.path();
        let loaded = tripline_lang::compile(
            &path,
            &std::fs::read_to_string(&path).expect("readable"),
            &Options::default(),
        );
        assert_eq!(loaded.diagnostics.len(), 1, "{}: {:?}", path.display(), loaded.diagnostics);
        assert_eq!(loaded.diagnostics[0].level, Level::Unsupported);
        assert!(loaded.diagnostics[0].message.contains("Python logic is not executed"));
        let rule = &loaded.rules[0];
        assert!(
            !rule.tests.is_empty() && !rule.meta.title.is_empty() && !rule.meta.mitre.is_empty(),
            "{}",
            path.display()
        );
    }
}

#[test]
fn the_builtin_panther_seed_passes_panthers_own_tests() {
    let spec = corpus("rules/aws_ec2_security_group_modified.yml");
    let python = tripline_lang::compile(
        &spec,
        &std::fs::read_to_string(&spec).expect("readable"),
        &Options::default(),
    );
    let builtin_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../rules/seeds/panther-aws-ec2-security-group-modified.yml");
    let builtin = tripline_lang::compile(
        &builtin_path,
        &std::fs::read_to_string(&builtin_path).expect("readable"),
        &Options::default(),
    );
    let (spec_rule, rule) = (&python.rules[0], &builtin.rules[0]);
    assert_eq!(spec_rule.meta.id, rule.meta.id);
    assert_eq!(rule.meta.severity, Some(Severity::Info));
    for case in &spec_rule.tests {
        let owned = OwnedRecord::from_value(&case.log).expect("object");
        let record = owned.record().expect("object");
        assert_eq!(naive::evaluate(rule.condition(), &record), case.expected, "{}", case.name);
    }
}

#[test]
fn dynamic_severity_alert_title_and_context() {
    let path = corpus("simple-detections/test.rule.with.dynamic.funcs.yml");
    let loaded = tripline_lang::compile(
        &path,
        &std::fs::read_to_string(&path).expect("readable"),
        &Options::default(),
    );
    let rule = &loaded.rules[0];
    let record = json!({"userAgent": "Max", "actionName": "Beans"});
    let owned = OwnedRecord::from_value(&record).expect("object");
    let rec = owned.record().expect("object");
    assert_eq!(tripline_engine::severity_for(rule, &rec), Severity::High);
    let signal = tripline_alert::Signal::build(
        rule,
        &rec,
        tripline_alert::InputRef { file: "t".into(), record: 0, line: None },
    );
    assert_eq!(signal.rule_title, "The user agent was Max");
    assert_eq!(signal.context.alert_context.get("foo"), Some(&json!("Beans")));
    assert_eq!(signal.dedup_key, "Beans|Max");
}
