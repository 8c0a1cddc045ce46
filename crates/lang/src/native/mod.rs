//! Tripline's own rule format (DESIGN.md, "The rule format"): one YAML file per rule.

pub(crate) mod reader;
mod tests;

use std::path::Path;

use tripline_rule::{
    Alerting, Dedup, Form, Frontend, Logic, Metadata, Origin, Rule, RuleKind, Schedule, Scope,
    Severity, Template,
};

use crate::detection;
use crate::diagnostic::Diagnostic;
use crate::yaml::{self, Pos};
use reader::Reader;

const KEYS: &[&str] = &[
    "id",
    "title",
    "description",
    "author",
    "references",
    "severity",
    "risk_score",
    "tags",
    "mitre",
    "false_positives",
    "triage",
    "summary_attributes",
    "origin",
    "scope",
    "detection",
    "dedup",
    "threshold",
    "schedule",
    "tests",
];

/// Parses and lowers a native rule file: one rule, or every diagnostic explaining why not.
#[must_use]
pub fn compile(
    path: &Path,
    text: &str,
    options: &detection::Options,
) -> (Vec<Rule>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let root = match yaml::parse_file(path, text) {
        Ok(root) => root,
        Err(d) => return (Vec::new(), vec![d]),
    };
    if root.entries().is_none() {
        let d = Diagnostic::error(
            path,
            root.pos,
            format!("a rule file must be a mapping, found {}", root.describe()),
        )
        .with_hint("start with `id:`, `title:` and `detection:`");
        return (Vec::new(), vec![d]);
    }
    let mut r = Reader { path, node: &root, diagnostics: &mut diagnostics };
    r.warn_unknown_keys(KEYS, "rule");
    let meta = metadata(&mut r);
    let options = &detection::Options { sigma: false, ..options.clone() };
    let scope = match r.string("scope").as_deref() {
        None | Some("events") => Scope::Events,
        Some("insights") => Scope::Insights,
        Some(other) => {
            let node = r.get("scope").expect("string was read from it");
            r.error(
                node,
                format!("unknown scope `{other}`"),
                Some("use `events` (default) or `insights`"),
            );
            Scope::Events
        }
    };
    let alerting = alerting(&mut r);
    let expr = match r.get("detection") {
        Some(node) => detection::lower(path, node, r.diagnostics, options),
        None => {
            let d = Diagnostic::error(path, root.pos, "missing required key `detection`")
                .with_hint("add a `detection:` block with selections and a `condition`");
            r.diagnostics.push(d);
            None
        }
    };
    let tests = tests::read(&mut r);
    let failed = diagnostics.iter().any(|d| d.level == crate::Level::Error);
    match (expr, failed) {
        (Some(expr), false) => (
            vec![Rule {
                meta,
                logic: Logic::Detect(expr),
                scope,
                alerting,
                tests,
                prepared: Default::default(),
            }],
            diagnostics,
        ),
        _ => (Vec::new(), diagnostics),
    }
}

fn metadata(r: &mut Reader<'_>) -> Metadata {
    let id = r.required_string("id", "give the rule a kebab-case id naming the behaviour, such as `ec2-security-group-deleted`").unwrap_or_default();
    let title = r
        .required_string(
            "title",
            "a short title; `{field}` placeholders are filled from the record",
        )
        .unwrap_or_default();
    if let Err(e) = Template::parse(&title) {
        let node = r.get("title").expect("title was read");
        r.error(node, e, None);
    }
    let severity = r.string("severity").and_then(|s| match s.parse::<Severity>() {
        Ok(sev) => Some(sev),
        Err(e) => {
            let node = r.get("severity").expect("severity was read");
            r.error(node, e, None);
            None
        }
    });
    if severity.is_none() && r.get("severity").is_none() {
        let d = Diagnostic::error(r.path, r.node.pos, "missing required key `severity`")
            .with_hint("one of info, low, medium, high, critical");
        r.diagnostics.push(d);
    }
    let risk_score = r.integer("risk_score", 0, 100).and_then(|v| u8::try_from(v).ok());
    let mitre = r.strings("mitre");
    for id in &mitre {
        if !is_attack_id(id) {
            let node = r.get("mitre").expect("mitre was read");
            r.error(
                node,
                format!("`{id}` is not an ATT&CK id"),
                Some("tactics look like `TA0005`, techniques `T1562`, sub-techniques `T1562.007`"),
            );
        }
    }
    Metadata {
        id,
        name: None,
        title,
        description: r.string("description").unwrap_or_default(),
        author: r.strings("author"),
        references: r.strings("references"),
        severity,
        risk_score,
        tags: r.strings("tags"),
        mitre,
        false_positives: r.strings("false_positives"),
        triage: r.string("triage").unwrap_or_default(),
        summary_attributes: r.strings("summary_attributes"),
        alert_context: Vec::new(),
        dynamic_severity: Vec::new(),
        origin: r.string("origin").map(|o| Origin::described(&o)),
        source: Some(r.path.to_owned()),
        kind: RuleKind::new(Frontend::Native, Form::Detection),
    }
}

/// `TA` + 4 digits, or `T` + 4 digits with an optional `.` + 3 digits.
pub(crate) fn is_attack_id(id: &str) -> bool {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = id.strip_prefix("TA") {
        return digits(rest, 4);
    }
    let Some(rest) = id.strip_prefix('T') else { return false };
    match rest.split_once('.') {
        Some((technique, sub)) => digits(technique, 4) && digits(sub, 3),
        None => digits(rest, 4),
    }
}

fn alerting(r: &mut Reader<'_>) -> Alerting {
    let mut alerting = Alerting::default();
    if let Some(node) = r.get("dedup") {
        let mut sub = Reader { path: r.path, node, diagnostics: r.diagnostics };
        sub.warn_unknown_keys(&["key", "period"], "dedup");
        let key =
            sub.required_string("key", "a template such as `{recipientAccountId}`").and_then(|k| {
                match Template::parse(&k) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        let at = sub.get("key").expect("key was read");
                        sub.error(at, e, None);
                        None
                    }
                }
            });
        let period = sub.duration("period");
        if sub.get("period").is_none() {
            let d = Diagnostic::error(r.path, node.pos, "`dedup` needs a `period`")
                .with_hint("such as `period: 12h`");
            r.diagnostics.push(d);
        }
        if let (Some(key), Some(period)) = (key, period) {
            alerting.dedup = Some(Dedup { key, period });
        }
    }
    if let Some(threshold) = r.integer("threshold", 1, i64::from(u32::MAX)) {
        alerting.threshold = u32::try_from(threshold).unwrap_or(1);
    }
    if let Some(node) = r.get("schedule") {
        let mut sub = Reader { path: r.path, node, diagnostics: r.diagnostics };
        sub.warn_unknown_keys(&["interval", "lookback", "max_alerts"], "schedule");
        let interval = sub.duration("interval");
        let lookback = sub.duration("lookback");
        let max_alerts =
            sub.integer("max_alerts", 1, i64::from(u32::MAX)).and_then(|m| u32::try_from(m).ok());
        match interval {
            Some(interval) => {
                alerting.schedule = Some(Schedule {
                    interval,
                    lookback: lookback.unwrap_or(interval).max(interval),
                    max_alerts: max_alerts.unwrap_or(100),
                });
            }
            None if sub.get("interval").is_none() => {
                let d = Diagnostic::error(r.path, node.pos, "`schedule` needs an `interval`")
                    .with_hint("such as `interval: 10m`");
                r.diagnostics.push(d);
            }
            None => {}
        }
    }
    alerting
}

/// Where a rule file's diagnostics point when they concern the whole file.
#[must_use]
pub fn file_start() -> Pos {
    Pos { line: 1, column: 1 }
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::Level;

    fn compile_text(text: &str) -> (Vec<Rule>, Vec<Diagnostic>) {
        compile(Path::new("rule.yml"), text, &detection::Options::default())
    }

    const GOOD: &str = "id: x\ntitle: X by {userIdentity.arn}\nseverity: low\nmitre: [TA0005, T1562.007]\n\
        detection:\n  sel:\n    eventName: [A, B]\n  condition: sel\ndedup: {key: '{recipientAccountId}', period: 12h}\n\
        schedule: {interval: 10m, lookback: 30m, max_alerts: 5}\n";

    #[test]
    fn a_complete_rule_loads_with_its_options() {
        let (rules, diags) = compile_text(GOOD);
        assert!(diags.is_empty(), "{diags:?}");
        let rule = &rules[0];
        assert_eq!(rule.meta.severity, Some(Severity::Low));
        assert_eq!(rule.alerting.dedup.as_ref().map(|d| d.period.as_secs()), Some(12 * 3600));
        assert_eq!(
            rule.alerting.schedule.map(|s| (s.lookback.as_secs(), s.max_alerts)),
            Some((1800, 5))
        );
        assert_eq!(rule.condition().to_string(), r#"eventName in ["A", "B"]"#);
    }

    #[test]
    fn every_problem_is_reported_at_once_with_lines() {
        let text = "id: x\ntitle: X\nseverity: urgent\nmitre: [T15]\ndetection:\n  sel:\n    eventName|contians: A\n  condition: sel and other\n";
        let (rules, diags) = compile_text(text);
        assert!(rules.is_empty());
        let errors: Vec<(usize, &str)> = diags
            .iter()
            .filter(|d| d.level == Level::Error)
            .map(|d| (d.line, d.message.as_str()))
            .collect();
        assert_eq!(errors.len(), 4, "{diags:#?}");
        assert!(errors.iter().any(|(l, m)| *l == 3 && m.contains("urgent")));
        assert!(errors.iter().any(|(l, m)| *l == 4 && m.contains("T15")));
        assert!(errors.iter().any(|(l, m)| *l == 7 && m.contains("contians")));
        assert!(errors.iter().any(|(l, m)| *l == 8 && m.contains("other")));
    }

    #[test]
    fn yaml_syntax_errors_name_the_line() {
        let (rules, diags) = compile_text("id: x\ntitle: [unclosed\nseverity: low\n");
        assert!(rules.is_empty());
        assert!(diags[0].message.starts_with("invalid YAML"), "{diags:?}");
        assert!(diags[0].line >= 2);
    }

    #[test]
    fn unknown_keys_warn_with_a_suggestion() {
        let (rules, diags) = compile_text(&format!("{GOOD}severty: high\n"));
        assert_eq!(rules.len(), 1);
        assert_eq!(diags[0].level, Level::Warning);
        assert_eq!(diags[0].hint.as_deref(), Some("did you mean `severity`?"));
    }

    #[test]
    fn attack_ids_are_validated() {
        assert!(is_attack_id("TA0005") && is_attack_id("T1562") && is_attack_id("T1562.007"));
        assert!(!is_attack_id("T1562.7") && !is_attack_id("TA05") && !is_attack_id("X1234"));
    }
}
