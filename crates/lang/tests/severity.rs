//! An unknown severity is an error with its position in every format, never a silent `info`.

use std::path::Path;

use tripline_lang::{compile, Level, Options};

/// The (line, message) of every error compiling `text` as the file `name`.
fn errors(name: &str, text: &str) -> Vec<(usize, String)> {
    let loaded = compile(Path::new(name), text, &Options::default());
    loaded
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Error)
        .map(|d| (d.line, d.message.clone()))
        .collect()
}

fn assert_unknown_severity_at(name: &str, text: &str, line: usize) {
    let found = errors(name, text);
    assert!(
        found.iter().any(|(l, m)| *l == line && m.contains("unknown severity `urgent`")),
        "{name}: expected an error on line {line}, got {found:?}"
    );
}

#[test]
fn native_rules() {
    let text = "id: x\ntitle: X\nseverity: urgent\ndetection:\n  sel:\n    eventName: A\n  condition: sel\n";
    assert_unknown_severity_at("x.yml", text, 3);
}

#[test]
fn sigma_rules() {
    let text = "title: X\nid: 5f6c2a1e-0000-4000-8000-000000000001\nlevel: urgent\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n  sel:\n    eventName: A\n  condition: sel\n";
    let found = errors("x.yml", text);
    assert!(found.iter().any(|(l, m)| *l == 3 && m.contains("urgent")), "{found:?}");
}

#[test]
fn elastic_rules() {
    let text = "[rule]\nname = \"X\"\nrule_id = \"x\"\nseverity = \"urgent\"\nrisk_score = 21\ntype = \"query\"\nlanguage = \"kuery\"\nquery = 'event.action:\"A\"'\n";
    assert_unknown_severity_at("x.toml", text, 4);
}

#[test]
fn panther_rules_and_their_dynamic_severities() {
    let text = "AnalysisType: rule\nRuleID: x\nEnabled: true\nLogTypes: [AWS.CloudTrail]\nSeverity: Urgent\nDetection:\n  - Key: eventName\n    Condition: Equals\n    Value: A\n";
    let found = errors("x.yml", text);
    assert!(
        found.iter().any(|(l, m)| *l == 5 && m.contains("unknown severity `Urgent`")),
        "{found:?}"
    );
    let dynamic = "AnalysisType: rule\nRuleID: x\nEnabled: true\nLogTypes: [AWS.CloudTrail]\nSeverity: Low\nDetection:\n  - Key: eventName\n    Condition: Equals\n    Value: A\nDynamicSeverities:\n  - ChangeTo: urgent\n    Conditions:\n      - Key: errorCode\n        Condition: Exists\n";
    assert_unknown_severity_at("x.yml", dynamic, 11);
}
