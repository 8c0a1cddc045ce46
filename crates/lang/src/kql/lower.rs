//! KQL to the IR, with Elasticsearch's keyword semantics: matching is exact and
//! case-sensitive; an unquoted value may hold `*` (any run) and `?` wildcards; a quoted value
//! is literal. Field names are ECS names from the Elastic AWS integration, resolved once.

use tripline_event::Field;
use tripline_rule::{Case, CmpOp, Expr, Literal, Test};

use super::parse::{Kql, KqlError, Value, ValueExpr};
use crate::detection::wildcard;

/// KQL's escapes (`\:`, `\(`, `\"` …) become the character; `\*`, `\?` and `\\` stay escaped
/// for the wildcard matcher.
fn unescape_for_wildcards(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('*' | '?' | '\\')) => {
                    out.push('\\');
                    out.push(n);
                }
                Some(n) => out.push(n),
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn value_test(value: &Value) -> Test {
    // A bare `*` asks whether the field has a value at all, in a value list as alone.
    if !value.quoted && value.text == "*" {
        return Test::Exists;
    }
    if value.quoted {
        Test::Equals(vec![Literal::Str(value.text.clone())], Case::Sensitive)
    } else {
        wildcard::value_test(&unescape_for_wildcards(&value.text), Case::Sensitive)
    }
}

fn values(field: &Field, expr: &ValueExpr) -> Expr {
    match expr {
        ValueExpr::Or(parts) => {
            // Plain values merge into one test, so `event.action:(A or B)` stays indexable.
            let mut literals = Vec::new();
            let mut others = Vec::new();
            for part in parts {
                match values(field, part) {
                    Expr::Pred(p) if matches!(p.test, Test::Equals(_, Case::Sensitive)) => {
                        if let Test::Equals(mut l, _) = p.test {
                            literals.append(&mut l);
                        }
                    }
                    other => others.push(other),
                }
            }
            if !literals.is_empty() {
                others
                    .insert(0, Expr::pred(field.clone(), Test::Equals(literals, Case::Sensitive)));
            }
            Expr::Or(others)
        }
        ValueExpr::And(parts) => Expr::And(parts.iter().map(|p| values(field, p)).collect()),
        ValueExpr::Not(inner) => values(field, inner).not(),
        ValueExpr::One(value) => Expr::pred(field.clone(), value_test(value)),
    }
}

fn resolve(prefix: &str, name: &str) -> Field {
    if prefix.is_empty() {
        Field::resolve(name)
    } else {
        Field::resolve(&format!("{prefix}.{name}"))
    }
}

fn lower_in(kql: &Kql, prefix: &str) -> Result<Expr, KqlError> {
    Ok(match kql {
        Kql::And(parts) => {
            Expr::And(parts.iter().map(|p| lower_in(p, prefix)).collect::<Result<_, _>>()?)
        }
        Kql::Or(parts) => {
            Expr::Or(parts.iter().map(|p| lower_in(p, prefix)).collect::<Result<_, _>>()?)
        }
        Kql::Not(inner) => lower_in(inner, prefix)?.not(),
        Kql::Match { field, values: v } => values(&resolve(prefix, field), v),
        Kql::Exists(field) => Expr::pred(resolve(prefix, field), Test::Exists),
        Kql::Range { field, op, value } => {
            let bound: f64 = value.text.parse().map_err(|_| KqlError {
                offset: 0,
                message: format!(
                    "`{field} {op} {}`: only numeric ranges are supported",
                    value.text
                ),
            })?;
            let op = match op.as_str() {
                "<" => CmpOp::Lt,
                "<=" => CmpOp::Lte,
                ">" => CmpOp::Gt,
                _ => CmpOp::Gte,
            };
            Expr::pred(resolve(prefix, field), Test::Compare(op, bound))
        }
        Kql::Nested { field, query } => {
            let nested =
                if prefix.is_empty() { field.clone() } else { format!("{prefix}.{field}") };
            lower_in(query, &nested)?
        }
        Kql::FreeText(v) => values(&Field::resolve("tripline.any_value"), v),
    })
}

/// Lowers a parsed query.
///
/// # Errors
/// A range over a value that is not a number.
pub fn lower(kql: &Kql, options: &crate::Options) -> Result<Expr, KqlError> {
    Ok(options.finish(lower_in(kql, "")?))
}
