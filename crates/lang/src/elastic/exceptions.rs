//! Elastic exception lists, read from Kibana's NDJSON export: every item is a set of entries
//! that all must match; a rule that references the list does not match records that any item
//! matches. Values compare as keyword fields do: exact and case-sensitive.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;
use tripline_event::Field;
use tripline_rule::{Case, Expr, Literal, Quantifier, Test};

use crate::detection::wildcard;
use crate::diagnostic::Diagnostic;
use crate::yaml::Pos;

/// Exception lists by `list_id`: the condition under which a record is excepted.
pub type ExceptionLists = BTreeMap<String, Expr>;

fn text_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn entry(entry: &Value, prefix: &str) -> Result<Expr, String> {
    let name = entry["field"].as_str().ok_or("an entry has no `field`")?;
    let full = if prefix.is_empty() { name.to_owned() } else { format!("{prefix}.{name}") };
    let field = Field::resolve(&full);
    let kind = entry["type"].as_str().unwrap_or("match");
    let test = match kind {
        "match" => Expr::pred(field, Test::Equals(vec![Literal::Str(text_of(&entry["value"]).ok_or("a `match` entry needs a value")?)], Case::Sensitive)),
        "match_any" => {
            let values = entry["value"].as_array().ok_or("a `match_any` entry needs a list of values")?;
            Expr::pred(field, Test::Equals(values.iter().filter_map(text_of).map(Literal::Str).collect(), Case::Sensitive))
        }
        "exists" => Expr::pred(field, Test::Exists),
        "wildcard" => Expr::pred(field, wildcard::value_test(&text_of(&entry["value"]).ok_or("a `wildcard` entry needs a value")?, Case::Sensitive)),
        "nested" => {
            let inner = entry["entries"].as_array().ok_or("a `nested` entry needs `entries`")?;
            let parts = inner.iter().map(|e| self::entry(e, "")).collect::<Result<Vec<_>, _>>()?;
            return Ok(Expr::Elements { field, quantifier: Quantifier::Any, expr: Box::new(Expr::And(parts)) });
        }
        other => return Err(format!("exception entries of type `{other}` are not supported (value lists live in Elasticsearch)")),
    };
    Ok(if entry["operator"].as_str() == Some("excluded") { test.not() } else { test })
}

/// Reads an exported exception-list file; items are grouped by their `list_id`.
pub fn parse(
    path: &Path,
    text: &str,
    lists: &mut ExceptionLists,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (i, line) in text.lines().enumerate() {
        let at = Pos { line: i + 1, column: 1 };
        if line.trim().is_empty() {
            continue;
        }
        let item: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                diagnostics.push(Diagnostic::error(path, at, format!("invalid JSON: {e}")));
                continue;
            }
        };
        // The container line, and the export summary, have no entries.
        let (Some(list_id), Some(entries)) = (item["list_id"].as_str(), item["entries"].as_array())
        else {
            continue;
        };
        match entries.iter().map(|e| entry(e, "")).collect::<Result<Vec<_>, _>>() {
            Ok(parts) => {
                let list = lists.entry(list_id.to_owned()).or_insert_with(|| Expr::Or(Vec::new()));
                if let Expr::Or(items) = list {
                    items.push(Expr::And(parts));
                }
            }
            Err(message) => diagnostics.push(Diagnostic::error(path, at, message)),
        }
    }
}
