//! Sigma correlation rules and meta filters.

use std::path::Path;

use tripline_event::Field;
use tripline_rule::{
    CmpOp, Correlation, CorrelationKind, CountCondition, Filter, Logic, Rule, Scope,
};

use super::{logsource_is_cloudtrail, metadata};
use crate::detection::{self, Options};
use crate::diagnostic::Diagnostic;
use crate::native::reader::Reader;
use crate::yaml::{Kind, Node};

const KINDS: &str = "event_count, value_count, temporal, temporal_ordered";

fn condition(
    path: &Path,
    node: &Node,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Option<CountCondition>, Option<String>) {
    let Some(entries) = node.entries() else {
        diagnostics.push(Diagnostic::error(
            path,
            node.pos,
            "a correlation `condition` is a mapping such as `{gte: 100}`",
        ));
        return (None, None);
    };
    let mut bounds = Vec::new();
    let mut field = None;
    for (key, value) in entries {
        let bound = || value.scalar_text().and_then(|t| t.parse::<f64>().ok());
        let op = match key.text.as_str() {
            "field" => {
                field = value.scalar_text();
                continue;
            }
            "gt" => vec![CmpOp::Gt],
            "gte" => vec![CmpOp::Gte],
            "lt" => vec![CmpOp::Lt],
            "lte" => vec![CmpOp::Lte],
            "eq" => vec![CmpOp::Gte, CmpOp::Lte],
            other => {
                diagnostics.push(
                    Diagnostic::error(
                        path,
                        key.pos,
                        format!("unknown correlation condition `{other}`"),
                    )
                    .with_hint("use gt, gte, lt, lte, eq (and `field` for value_count)"),
                );
                continue;
            }
        };
        match bound() {
            Some(b) => bounds.extend(op.into_iter().map(|o| (o, b))),
            None => diagnostics.push(Diagnostic::error(
                path,
                value.pos,
                format!("`{}` needs a number", key.text),
            )),
        }
    }
    (Some(CountCondition { bounds }), field)
}

/// A correlation document as a rule whose `correlation` holds the logic.
pub(super) fn correlation_rule(
    path: &Path,
    doc: &Node,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Rule> {
    let mut r = Reader { path, node: doc, diagnostics };
    let mut meta = metadata(&mut r, path);
    meta.kind = tripline_rule::RuleKind::new(
        tripline_rule::Frontend::Sigma,
        tripline_rule::Form::Correlation,
    );
    let node = doc.get("correlation").expect("checked by the caller");
    let mut c = Reader { path, node, diagnostics };
    c.warn_unknown_keys(
        &["type", "rules", "group-by", "timespan", "condition", "generate", "aliases"],
        "correlation",
    );
    let kind_name = c.required_string("type", KINDS).unwrap_or_default();
    let rules = c.strings("rules");
    let group_by: Vec<Field> = c.strings("group-by").iter().map(|f| Field::resolve(f)).collect();
    let timespan = c.duration("timespan");
    if c.get("timespan").is_none() {
        let d = Diagnostic::error(path, node.pos, "a correlation needs a `timespan`")
            .with_hint("such as `timespan: 1h`");
        c.diagnostics.push(d);
    }
    let generate = matches!(c.get("generate").map(|n| &n.kind), Some(Kind::Bool(true)));
    if c.get("aliases").is_some() {
        let at = c.get("aliases").expect("checked");
        c.error(
            at,
            "correlation `aliases` are not supported",
            Some("group by a field every referenced rule's records have"),
        );
    }
    let (count, field) = match c.get("condition") {
        Some(n) => condition(path, n, c.diagnostics),
        None => (None, None),
    };
    let kind = match kind_name.as_str() {
        "event_count" => CorrelationKind::EventCount,
        "value_count" => match field {
            Some(f) => CorrelationKind::ValueCount(Field::resolve(&f)),
            None => {
                c.error(node, "a value_count correlation needs `condition.field`", None);
                return None;
            }
        },
        "temporal" => CorrelationKind::Temporal,
        "temporal_ordered" => CorrelationKind::TemporalOrdered,
        other => {
            let hint = format!("Sigma correlation types: {KINDS}");
            c.error(node, format!("unknown correlation type `{other}`"), Some(&hint));
            return None;
        }
    };
    let counts = matches!(kind, CorrelationKind::EventCount | CorrelationKind::ValueCount(_));
    if counts && count.as_ref().is_none_or(|c| c.bounds.is_empty()) {
        c.error(
            node,
            format!("a {kind_name} correlation needs a `condition` such as `{{gte: 10}}`"),
            None,
        );
        return None;
    }
    if rules.is_empty() {
        c.error(
            node,
            "a correlation needs `rules`",
            Some("list the ids or names of the rules it correlates"),
        );
        return None;
    }
    let correlation = Correlation {
        kind,
        rules,
        group_by,
        timespan: timespan?,
        condition: count,
        generate,
        positions: reference_positions(node),
    };
    Some(Rule {
        meta,
        logic: Logic::Correlate(correlation),
        scope: Scope::Events,
        alerting: Default::default(),
        tests: Vec::new(),
        prepared: Default::default(),
    })
}

/// Where each entry of the correlation's `rules` is written.
fn reference_positions(correlation: &Node) -> Vec<(usize, usize)> {
    match correlation.get("rules") {
        Some(Node { kind: Kind::Seq(items), .. }) => {
            items.iter().map(|n| (n.pos.line, n.pos.column)).collect()
        }
        Some(n) => vec![(n.pos.line, n.pos.column)],
        None => Vec::new(),
    }
}

/// A meta filter: `filter: {rules: [...], <selections>, condition}`.
pub(super) fn filter(
    path: &Path,
    doc: &Node,
    options: &Options,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Filter> {
    let mut r = Reader { path, node: doc, diagnostics };
    let title = r.required_string("title", "every Sigma filter has a `title`").unwrap_or_default();
    logsource_is_cloudtrail(&mut r);
    let node = doc.get("filter").expect("checked by the caller");
    let mut f = Reader { path, node, diagnostics };
    let rules = f.strings("rules");
    if rules.is_empty() {
        f.error(
            node,
            "a filter needs `rules`",
            Some("list the ids or names of the rules it applies to"),
        );
        return None;
    }
    // The rest of the mapping is a detection block: selections and a condition.
    let entries: Vec<_> = node
        .entries()
        .unwrap_or_default()
        .iter()
        .filter(|(k, _)| k.text != "rules")
        .cloned()
        .collect();
    let detection = Node { pos: node.pos, kind: Kind::Map(entries) };
    let options = Options { sigma: true, ..options.clone() };
    let expr = detection::lower(path, &detection, diagnostics, &options)?;
    Some(Filter { title, rules, expr })
}
