//! Panther rules, loaded as they are. YAML "simple detections" (`Detection:`) are lowered with
//! Panther's semantics — case-insensitive key lookup, its match conditions, combinators and
//! list comprehensions — and their `Tests:` run offline under `tripline test`, which Panther's
//! own tool cannot do. Python rules (`Filename: x.py`) load their metadata and tests and report
//! that their logic is not executed.

mod detection;

use std::path::Path;
use std::time::Duration;

use tripline_rule::{
    Alerting, Dedup, Expr, Form, Frontend, Logic, Metadata, Origin, Rule, RuleKind, RuleTest,
    Scope, Severity, Template, Vendor,
};

use crate::diagnostic::Diagnostic;
use crate::native::reader::Reader;
use crate::yaml::{self, Kind, Node, Pos};

/// Whether a YAML document is a Panther analysis file.
#[must_use]
pub fn is_panther(root: &Node) -> bool {
    root.get("AnalysisType").is_some() || root.get("RuleID").is_some()
}

fn mitre(root: &Node) -> Vec<String> {
    let Some(items) = root.get("Reports").and_then(|r| r.get("MITRE ATT&CK")) else {
        return Vec::new();
    };
    let Kind::Seq(items) = &items.kind else { return Vec::new() };
    let mut ids = Vec::new();
    for item in items.iter().filter_map(Node::scalar_text) {
        for id in item.split(':') {
            let id = id.trim().to_owned();
            if crate::native::is_attack_id(&id) && !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    ids
}

fn tests(r: &mut Reader<'_>) -> Vec<RuleTest> {
    let Some(Node { kind: Kind::Seq(items), .. }) = r.get("Tests") else { return Vec::new() };
    let mut out = Vec::new();
    for item in items {
        let name = item.get("Name").and_then(Node::scalar_text).unwrap_or_default();
        let expected = match item.get("ExpectedResult").map(|n| &n.kind) {
            Some(Kind::Bool(b)) => *b,
            _ => {
                r.error(
                    item,
                    format!("test `{name}` needs `ExpectedResult: true` or `false`"),
                    None,
                );
                continue;
            }
        };
        match item.get("Log") {
            Some(log) if log.entries().is_some() => out.push(RuleTest {
                name,
                expected,
                log: log.to_json(),
                expect_title: None,
                expect_severity: None,
                expect_dedup_key: None,
                line: Some(item.pos.line),
            }),
            _ => r.error(item, format!("test `{name}` has no `Log` mapping"), None),
        }
    }
    out
}

/// Parses and lowers a Panther file.
#[must_use]
pub fn compile(path: &Path, text: &str, options: &crate::Options) -> (Vec<Rule>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let root = match yaml::parse(text) {
        Ok(root) => root,
        Err(e) => {
            return (
                Vec::new(),
                vec![Diagnostic::error(path, e.pos, format!("invalid YAML: {}", e.message))],
            )
        }
    };
    let mut r = Reader { path, node: &root, diagnostics: &mut diagnostics };
    let id = r.required_string("RuleID", "every Panther rule has a `RuleID`").unwrap_or_default();
    let display = r.string("DisplayName");
    let title = r.string("AlertTitle").or_else(|| display.clone()).unwrap_or_else(|| id.clone());
    if let Err(e) = Template::parse(&title) {
        r.error(&root, e, None);
    }
    let severity = r.string("Severity").and_then(|s| match s.parse::<Severity>() {
        Ok(severity) => Some(severity),
        Err(e) => {
            let node = r.get("Severity").expect("Severity was read");
            r.error(node, e, Some("Panther severities: Info, Low, Medium, High, Critical"));
            None
        }
    });
    let enabled = !matches!(r.get("Enabled").map(|n| &n.kind), Some(Kind::Bool(false)));
    let log_types = r.strings("LogTypes");
    let cloudtrail = log_types.is_empty() || log_types.iter().any(|t| t == "AWS.CloudTrail");
    let python = r.string("Filename").filter(|f| f.ends_with(".py"));
    let runbook = r.string("Runbook").unwrap_or_default();
    let mut references: Vec<String> = r.strings("Reference");
    if runbook.starts_with("http") {
        references.push(runbook.clone());
    }
    let mut meta = Metadata {
        id,
        name: None,
        title,
        description: r.string("Description").unwrap_or_default().trim().to_owned(),
        author: Vec::new(),
        references,
        severity,
        risk_score: None,
        tags: r.strings("Tags"),
        mitre: mitre(&root),
        false_positives: Vec::new(),
        triage: runbook,
        summary_attributes: r.strings("SummaryAttributes"),
        alert_context: Vec::new(),
        dynamic_severity: Vec::new(),
        origin: Some(Origin::vendor(Vendor::Panther, None, None)),
        source: Some(path.to_owned()),
        kind: RuleKind::new(
            Frontend::Panther,
            if python.is_some() { Form::Python } else { Form::Detection },
        ),
    };
    let period =
        r.integer("DedupPeriodMinutes", 5, 1_440).map_or(Duration::from_secs(3_600), |m| {
            Duration::from_secs(u64::try_from(m).unwrap_or(60) * 60)
        });
    let threshold = r
        .integer("Threshold", 1, i64::from(u32::MAX))
        .and_then(|t| u32::try_from(t).ok())
        .unwrap_or(1);
    let tests = tests(&mut r);
    let mut lowering = detection::Lowering { path, diagnostics: &mut diagnostics };
    // Panther dedups by the alert title unless the rule groups by fields.
    let group_by = root.get("GroupBy").map(|g| lowering.key_list(g)).unwrap_or_default();
    let key = if group_by.is_empty() {
        Template::parse(&meta.title).unwrap_or_else(|_| Template::literal(&meta.title))
    } else {
        let text: Vec<String> = group_by.iter().map(|f| format!("{{{}}}", f.name())).collect();
        Template::parse(&text.join("|")).unwrap_or_else(|_| Template::literal(""))
    };
    if let Some(context) = root.get("AlertContext") {
        meta.alert_context = lowering.alert_context(context);
    }
    if let Some(dynamic) = root.get("DynamicSeverities") {
        meta.dynamic_severity = lowering.dynamic_severities(dynamic);
    }
    let expr = match (root.get("Detection"), &python) {
        (Some(detection), _) => {
            let main = lowering.expr(detection);
            let filters = root.get("InlineFilters").map(|f| lowering.expr(f));
            match (main, filters) {
                (Some(main), Some(Some(filter))) => Some(Expr::And(vec![filter, main])),
                (Some(main), None) => Some(main),
                _ => None,
            }
        }
        (None, Some(file)) => {
            let d = Diagnostic::unsupported(path, Pos { line: 1, column: 1 }, format!("Python logic is not executed (`{file}`): the rule's metadata and tests are loaded, but it never matches"))
                .with_hint("rewrite the logic as a `Detection:` block (a Panther simple detection) or as a native rule");
            diagnostics.push(d);
            Some(Expr::Const(false))
        }
        (None, None) => {
            diagnostics.push(Diagnostic::error(
                path,
                root.pos,
                "the rule has neither `Detection:` nor a Python `Filename`",
            ));
            None
        }
    };
    let scope = if python.is_some() || !enabled || !cloudtrail {
        if python.is_none() {
            let why = if enabled {
                format!("written for {}", log_types.join(", "))
            } else {
                "disabled (`Enabled: false`)".to_owned()
            };
            diagnostics.push(Diagnostic::warning(
                path,
                root.pos,
                format!(
                    "rule `{}` is {why}: its tests run, but it never matches scanned CloudTrail",
                    meta.id
                ),
            ));
        }
        Scope::Inactive
    } else {
        Scope::Events
    };
    if diagnostics.iter().any(|d| d.level == crate::Level::Error) {
        return (Vec::new(), diagnostics);
    }
    let alerting =
        Alerting { dedup: Some(Dedup { key, period }), threshold, ..Alerting::default() };
    let rules = expr
        .map(|expr| Rule {
            meta,
            logic: Logic::Detect(options.finish(expr)),
            scope,
            alerting,
            tests,
            prepared: Default::default(),
        })
        .into_iter()
        .collect();
    (rules, diagnostics)
}
