//! Why a rule did or did not match a record: the condition tree with each part's verdict and
//! the values the record had. The slow path, for `tripline test` and lint.

use std::fmt::Write;

use tripline_event::path::scalar_text;
use tripline_event::Record;
use tripline_rule::{Expr, Rule};

use crate::naive;

/// A verdict with its reasons.
pub struct Explanation {
    /// Whether the rule matched.
    pub matched: bool,
    /// The condition tree, one line per part, `✓`/`✗` per verdict.
    pub tree: String,
}

/// Explains `rule` over `record`.
#[must_use]
pub fn explain(rule: &Rule, record: &Record<'_>) -> Explanation {
    let mut tree = String::new();
    if !crate::in_scope(rule, record) {
        tree.push_str("✗ record kind is outside the rule's scope (insight vs event)\n");
        return Explanation { matched: false, tree };
    }
    let matched = walk(rule.condition(), record, 0, &mut tree);
    Explanation { matched, tree }
}

fn values(expr: &Expr, record: &Record<'_>) -> String {
    let Expr::Pred(p) = expr else { return String::new() };
    let mut seen = Vec::new();
    p.field.any_value(record, &mut |v| {
        seen.push(scalar_text(v).unwrap_or_else(|| v.to_string()));
        seen.len() >= 5
    });
    if seen.is_empty() {
        "  [field absent]".to_owned()
    } else {
        format!("  [record has: {}]", seen.join(", "))
    }
}

fn walk(expr: &Expr, record: &Record<'_>, depth: usize, out: &mut String) -> bool {
    let verdict = naive::evaluate(expr, record);
    let mark = if verdict { '✓' } else { '✗' };
    let indent = "  ".repeat(depth);
    match expr {
        Expr::And(children) | Expr::Or(children) => {
            let word = if matches!(expr, Expr::And(_)) { "all of" } else { "any of" };
            let _ = writeln!(out, "{indent}{mark} {word}:");
            for child in children {
                walk(child, record, depth + 1, out);
            }
        }
        Expr::Not(child) => {
            let _ = writeln!(out, "{indent}{mark} not:");
            walk(child, record, depth + 1, out);
        }
        Expr::Elements { field, quantifier, expr } => {
            let _ =
                writeln!(out, "{indent}{mark} {quantifier:?} element of {field} satisfies: {expr}");
        }
        Expr::Pred(_) => {
            let _ = writeln!(out, "{indent}{mark} {expr}{}", values(expr, record));
        }
        Expr::Const(b) => {
            let _ = writeln!(out, "{indent}{mark} {b}");
        }
    }
    verdict
}
