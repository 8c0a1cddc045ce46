//! Elastic detection rules, loaded from their TOML files as they are: `query` rules in KQL,
//! `threshold` (group-by fields, value, cardinality) and `new_terms` rules, with `interval`,
//! `from` and `max_signals` honoured as a schedule and `alert_suppression` as dedup.
//! EQL, ES|QL and machine-learning rules get one "unsupported rule type" diagnostic each.

pub mod exceptions;
mod toml_read;

use std::path::Path;
use std::time::Duration;

use tripline_event::Field;
use tripline_rule::{
    Alerting, Applies, Cardinality, Dedup, Form, Frontend, Logic, Metadata, NewTerms, Origin, Rule,
    RuleKind, Schedule, Scope, Severity, Suppression, SuppressionKind, Template, Vendor,
};

use crate::diagnostic::Diagnostic;
use crate::kql;
use crate::yaml::Pos;
use toml_read::Doc;

/// Whether text is an Elastic rule file.
#[must_use]
pub fn is_elastic(path: &Path, text: &str) -> bool {
    path.extension().is_some_and(|e| e == "toml") || text.lines().any(|l| l.trim() == "[rule]")
}

/// Elastic date math for `from`: `now-6m` → 6 minutes.
fn date_math(text: &str) -> Option<Duration> {
    let rest = text.trim().strip_prefix("now-")?;
    humantime::parse_duration(rest).ok()
}

fn template_of(fields: &[String]) -> Template {
    let text: Vec<String> = fields.iter().map(|f| format!("{{{f}}}")).collect();
    Template::parse(&text.join("|")).unwrap_or_else(|_| Template::literal(""))
}

fn mitre(doc: &Doc<'_>) -> Vec<String> {
    let mut ids = Vec::new();
    for threat in doc.tables(&["rule", "threat"]) {
        ids.extend(
            threat
                .get("tactic")
                .and_then(|t| t.get("id"))
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        );
        for technique in threat.get("technique").and_then(|t| t.as_array()).into_iter().flatten() {
            ids.extend(technique.get("id").and_then(|v| v.as_str()).map(str::to_owned));
            for sub in
                technique.get("subtechnique").and_then(|t| t.as_array()).into_iter().flatten()
            {
                ids.extend(sub.get("id").and_then(|v| v.as_str()).map(str::to_owned));
            }
        }
    }
    ids.dedup();
    ids
}

/// Parses and lowers one Elastic rule file.
#[must_use]
/// Parses and lowers one Elastic rule; its exception lists come back as suppressions.
pub fn compile(
    path: &Path,
    text: &str,
    options: &crate::Options,
) -> (Vec<Rule>, Vec<Diagnostic>, Vec<Suppression>) {
    let mut diagnostics = Vec::new();
    let doc = match Doc::parse(path, text) {
        Ok(doc) => doc,
        Err(d) => return (Vec::new(), vec![d], Vec::new()),
    };
    let rule_type = doc.str(&["rule", "type"]).unwrap_or("query").to_owned();
    let language = doc.str(&["rule", "language"]).unwrap_or("kuery").to_owned();
    if !matches!(rule_type.as_str(), "query" | "threshold" | "new_terms") || language != "kuery" {
        let what = if matches!(rule_type.as_str(), "query" | "threshold" | "new_terms") {
            format!("query language `{language}`")
        } else {
            format!("rule type `{rule_type}`")
        };
        let d = Diagnostic::unsupported(path, doc.pos_of("type"), format!("unsupported {what}: Tripline runs Elastic's KQL rules (query, threshold, new_terms)"))
            .with_hint("EQL, ES|QL and machine-learning rules need Elasticsearch itself");
        return (Vec::new(), vec![d], Vec::new());
    }
    let Some(query) = doc.str(&["rule", "query"]) else {
        return (
            Vec::new(),
            vec![Diagnostic::error(path, doc.pos_of("query"), "the rule has no `query`")],
            Vec::new(),
        );
    };
    let expr = match kql::parse(query).and_then(|k| kql::lower(&k, options)) {
        Ok(expr) => Some(expr),
        Err(e) => {
            let d = Diagnostic::error(
                path,
                doc.pos_in_string("query", query, e.offset),
                format!("invalid KQL: {}", e.message),
            );
            diagnostics.push(d);
            None
        }
    };
    let severity = doc.str(&["rule", "severity"]).and_then(|s| match s.parse::<Severity>() {
        Ok(severity) => Some(severity),
        Err(e) => {
            let d = Diagnostic::error(path, doc.pos_of("severity"), e)
                .with_hint("Elastic severities: low, medium, high, critical");
            diagnostics.push(d);
            None
        }
    });
    let version = doc.int(&["rule", "version"]);
    let meta = Metadata {
        id: doc.str(&["rule", "rule_id"]).unwrap_or_default().to_owned(),
        name: None,
        title: doc.str(&["rule", "name"]).unwrap_or_default().replace('{', "{{").replace('}', "}}"),
        description: doc.str(&["rule", "description"]).unwrap_or_default().trim().to_owned(),
        author: doc.strings(&["rule", "author"]),
        references: doc.strings(&["rule", "references"]),
        severity,
        risk_score: doc.int(&["rule", "risk_score"]).and_then(|r| u8::try_from(r).ok()),
        tags: doc.strings(&["rule", "tags"]),
        mitre: mitre(&doc),
        false_positives: doc
            .strings(&["rule", "false_positives"])
            .iter()
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect(),
        triage: doc.str(&["rule", "note"]).unwrap_or_default().to_owned(),
        summary_attributes: doc.strings(&["rule", "investigation_fields", "field_names"]),
        alert_context: Vec::new(),
        dynamic_severity: Vec::new(),
        origin: Some(Origin::vendor(Vendor::Elastic, version.map(|v| v.to_string()), None)),
        source: Some(path.to_owned()),
        kind: RuleKind::new(
            Frontend::Elastic,
            match rule_type.as_str() {
                "threshold" => Form::Threshold,
                "new_terms" => Form::NewTerms,
                _ => Form::Query,
            },
        ),
    };
    if meta.id.is_empty() {
        diagnostics.push(Diagnostic::error(
            path,
            Pos { line: 1, column: 1 },
            "the rule has no `rule_id`",
        ));
    }
    let alerting = alerting(&doc, &rule_type, &mut diagnostics);
    let suppressions = exceptions(&doc, &meta.id, options, &mut diagnostics);
    match expr {
        Some(expr) if !diagnostics.iter().any(|d| d.level == crate::Level::Error) => (
            vec![Rule {
                meta,
                logic: Logic::Detect(expr),
                scope: Scope::Events,
                alerting,
                tests: Vec::new(),
                prepared: Default::default(),
            }],
            diagnostics,
            suppressions,
        ),
        _ => (Vec::new(), diagnostics, Vec::new()),
    }
}

/// The rule's `exceptions_list`: each referenced list becomes a suppression of this rule, so
/// the records its items match are counted under the list's name, never alerted on.
fn exceptions(
    doc: &Doc<'_>,
    rule_id: &str,
    options: &crate::Options,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<Suppression> {
    let mut out = Vec::new();
    for reference in doc.tables(&["rule", "exceptions_list"]) {
        let Some(list_id) = reference.get("list_id").and_then(|v| v.as_str()) else { continue };
        match options.exceptions.get(list_id) {
            Some(list) => out.push(Suppression {
                name: format!("exception list {list_id}"),
                reason: "Elastic exception list".to_owned(),
                owner: String::new(),
                expires: None,
                applies: Applies { rules: vec![rule_id.to_owned()], ..Applies::default() },
                expr: list.clone(),
                kind: SuppressionKind::ElasticException,
                source: Some((doc.path.to_owned(), doc.pos_of("exceptions_list").line)),
            }),
            None => diagnostics.push(
                Diagnostic::warning(
                    doc.path,
                    doc.pos_of("exceptions_list"),
                    format!("exception list `{list_id}` is not loaded; the rule runs without it"),
                )
                .with_hint("pass the exported list with `--exceptions FILE.ndjson`"),
            ),
        }
    }
    out
}

fn alerting(doc: &Doc<'_>, rule_type: &str, diagnostics: &mut Vec<Diagnostic>) -> Alerting {
    let interval = doc
        .str(&["rule", "interval"])
        .and_then(|i| humantime::parse_duration(i).ok())
        .unwrap_or(Duration::from_secs(300));
    let lookback = doc
        .str(&["rule", "from"])
        .and_then(date_math)
        .unwrap_or(Duration::from_secs(360))
        .max(interval);
    let max_alerts =
        doc.int(&["rule", "max_signals"]).and_then(|m| u32::try_from(m).ok()).unwrap_or(100);
    let mut alerting = Alerting {
        schedule: Some(Schedule { interval, lookback, max_alerts }),
        ..Alerting::default()
    };
    if rule_type == "threshold" {
        let fields = doc.strings(&["rule", "threshold", "field"]);
        let value = doc
            .int(&["rule", "threshold", "value"])
            .and_then(|v| u32::try_from(v).ok())
            .unwrap_or(1);
        // Elastic counts per execution over `from`; a window anchored on the first match with
        // the same length gives the same groups in event time.
        alerting.dedup = Some(Dedup { key: template_of(&fields), period: lookback });
        alerting.threshold = value.max(1);
        if let Some(card) = doc.tables(&["rule", "threshold", "cardinality"]).first() {
            let field = card.get("field").and_then(|v| v.as_str()).unwrap_or_default();
            let min = card
                .get("value")
                .and_then(toml::Value::as_integer)
                .and_then(|v| u32::try_from(v).ok())
                .unwrap_or(1);
            alerting.cardinality = Some(Cardinality { field: Field::resolve(field), min });
        }
    }
    if rule_type == "new_terms" {
        let fields = doc.strings(&["rule", "new_terms", "value"]);
        let history = doc
            .tables(&["rule", "new_terms", "history_window_start"])
            .first()
            .and_then(|h| h.get("value").and_then(|v| v.as_str()).and_then(date_math))
            .unwrap_or(Duration::from_secs(7 * 86_400));
        alerting.new_terms =
            Some(NewTerms { fields: fields.iter().map(|f| Field::resolve(f)).collect(), history });
    }
    if doc.has(&["rule", "alert_suppression"]) {
        let fields = doc.strings(&["rule", "alert_suppression", "group_by"]);
        let duration = doc.table(&["rule", "alert_suppression", "duration"]).and_then(|d| {
            let value = d.get("value").and_then(toml::Value::as_integer)?;
            let unit = d.get("unit").and_then(|u| u.as_str())?;
            humantime::parse_duration(&format!("{value}{unit}")).ok()
        });
        if alerting.dedup.is_some() {
            diagnostics.push(Diagnostic::warning(doc.path, doc.pos_of("alert_suppression"), "alert suppression on a threshold rule is ignored; the threshold's grouping applies"));
        } else {
            // Without a duration Elastic suppresses within one execution.
            alerting.dedup =
                Some(Dedup { key: template_of(&fields), period: duration.unwrap_or(interval) });
        }
    }
    alerting
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = r#"[metadata]
creation_date = "2020/07/21"

[rule]
author = ["Elastic"]
description = "Identifies a security group opened to the world."
from = "now-30m"
interval = "10m"
language = "kuery"
max_signals = 50
name = "Security Group Opened"
risk_score = 47
rule_id = "00000000-1111-2222-3333-444444444444"
severity = "medium"
tags = ["Domain: Cloud"]
type = "threshold"
version = 3

query = '''
event.dataset:aws.cloudtrail and event.action:AuthorizeSecurityGroupIngress and
event.outcome:success
'''

[[rule.threat]]
framework = "MITRE ATT&CK"
[[rule.threat.technique]]
id = "T1562"
[[rule.threat.technique.subtechnique]]
id = "T1562.007"
[rule.threat.tactic]
id = "TA0005"

[rule.threshold]
field = ["cloud.account.id"]
value = 3
[[rule.threshold.cardinality]]
field = "source.ip"
value = 2
"#;

    #[test]
    fn a_threshold_rule_loads_with_schedule_grouping_and_attack() {
        let (rules, diags, _) = compile(Path::new("r.toml"), RULE, &crate::Options::default());
        assert!(diags.is_empty(), "{diags:?}");
        let rule = &rules[0];
        assert_eq!(rule.meta.mitre, vec!["TA0005", "T1562", "T1562.007"]);
        assert_eq!(rule.meta.kind.to_string(), "elastic threshold");
        let s = rule.alerting.schedule.expect("a schedule");
        assert_eq!((s.interval.as_secs(), s.lookback.as_secs(), s.max_alerts), (600, 1800, 50));
        assert_eq!(rule.alerting.threshold, 3);
        assert_eq!(
            rule.alerting.dedup.as_ref().map(|d| d.key.source().to_owned()),
            Some("{cloud.account.id}".to_owned())
        );
        assert_eq!(
            rule.alerting.cardinality.as_ref().map(|c| (c.field.name(), c.min)),
            Some(("source.ip", 2))
        );
    }

    #[test]
    fn kql_errors_point_into_the_query() {
        let bad = RULE.replace("event.outcome:success", "event.outcome:)");
        let (rules, diags, _) = compile(Path::new("r.toml"), &bad, &crate::Options::default());
        assert!(rules.is_empty());
        assert_eq!((diags[0].line, diags[0].column), (21, 15), "{}", diags[0]);
        assert!(diags[0].message.starts_with("invalid KQL"), "{}", diags[0]);
    }

    #[test]
    fn eql_rules_are_unsupported_with_one_diagnostic() {
        let eql = RULE
            .replace("type = \"threshold\"", "type = \"eql\"")
            .replace("language = \"kuery\"", "language = \"eql\"");
        let (rules, diags, _) = compile(Path::new("r.toml"), &eql, &crate::Options::default());
        assert!(rules.is_empty());
        assert_eq!(diags.len(), 1);
        assert_eq!(diags[0].level, crate::Level::Unsupported);
        assert!(diags[0].message.contains("`eql`"), "{}", diags[0]);
    }
}
