//! The reference interpreter: evaluates the IR directly, preparing nothing. Slow on purpose;
//! it is the oracle the compiled plan is tested against and the basis of `explain`.

use std::net::IpAddr;

use serde_json::Value;
use tripline_event::Record;
use tripline_rule::{Case, Expr, Literal, Predicate, Test};

use crate::text::{value_bool, value_number, value_text};

/// Evaluates `expr` over `record`.
#[must_use]
pub fn evaluate(expr: &Expr, record: &Record<'_>) -> bool {
    match expr {
        Expr::And(children) => children.iter().all(|c| evaluate(c, record)),
        Expr::Or(children) => children.iter().any(|c| evaluate(c, record)),
        Expr::Not(child) => !evaluate(child, record),
        Expr::Elements { field, quantifier, expr } => {
            crate::elements::quantify(field, *quantifier, record, &mut |element| {
                evaluate(expr, element)
            })
        }
        Expr::Pred(p) => predicate(p, record),
        Expr::Const(b) => *b,
    }
}

/// Evaluates one predicate.
#[must_use]
pub fn predicate(p: &Predicate, record: &Record<'_>) -> bool {
    if p.test == Test::Exists {
        return p.field.exists(record);
    }
    if let Test::FieldRef(other, op, case) = &p.test {
        let mut wanted = Vec::new();
        other.any_value(record, &mut |v| {
            wanted.extend(value_text(v).map(|t| fold(&t, *case)));
            false
        });
        return p.field.any_value(record, &mut |v| {
            value_text(v).is_some_and(|t| wanted.iter().any(|w| op.holds(&fold(&t, *case), w)))
        });
    }
    p.field.any_value(record, &mut |v| value_passes(&p.test, v))
}

fn fold(text: &str, case: Case) -> String {
    match case {
        Case::Sensitive => text.to_owned(),
        Case::Insensitive => text.to_lowercase(),
    }
}

/// Whether one value passes a test.
#[must_use]
pub fn value_passes(test: &Test, value: &Value) -> bool {
    if matches!(value, Value::Object(_) | Value::Array(_))
        && matches!(
            test,
            Test::Contains(..)
                | Test::Regex(_)
                | Test::Wildcard { anchored_start: false, anchored_end: false, .. }
        )
    {
        let mut strings = Vec::new();
        crate::text::nested_strings(value, &mut strings);
        if strings.into_iter().any(|s| scalar_passes(test, &Value::String(s.to_owned()))) {
            return true;
        }
    }
    scalar_passes(test, value)
}

fn scalar_passes(test: &Test, value: &Value) -> bool {
    let text = || value_text(value);
    let text_test = |patterns: &[String], case: Case, f: fn(&str, &str) -> bool| {
        text().is_some_and(|t| {
            let t = fold(&t, case);
            patterns.iter().any(|p| f(&t, &fold(p, case)))
        })
    };
    match test {
        Test::Exists => !tripline_event::path::is_empty(value),
        Test::Equals(literals, case) => literals.iter().any(|lit| match lit {
            Literal::Str(s) => text().is_some_and(|t| fold(&t, *case) == fold(s, *case)),
            Literal::Num(n) => value_number(value) == Some(*n),
            Literal::Bool(b) => value_bool(value) == Some(*b),
        }),
        Test::Contains(p, case) => text_test(p, *case, |t, p| t.contains(p)),
        Test::StartsWith(p, case) => text_test(p, *case, |t, p| t.starts_with(p)),
        Test::EndsWith(p, case) => text_test(p, *case, |t, p| t.ends_with(p)),
        Test::Wildcard { parts, anchored_start, anchored_end, case } => text().is_some_and(|t| {
            // The reference reads the pattern as a regex; the engine matches it without one.
            let body: Vec<String> = parts.iter().map(|p| regex::escape(p)).collect();
            let pattern = format!(
                "{}{}{}{}",
                if *case == Case::Insensitive { "(?is)" } else { "(?s)" },
                if *anchored_start { "^" } else { "" },
                body.join(".*"),
                if *anchored_end { "$" } else { "" }
            );
            regex::Regex::new(&pattern).is_ok_and(|re| re.is_match(&t))
        }),
        Test::Regex(patterns) => text().is_some_and(|t| {
            patterns.iter().any(|p| regex::Regex::new(p).is_ok_and(|re| re.is_match(&t)))
        }),
        Test::Cidr(nets) => text()
            .and_then(|t| t.trim().parse::<IpAddr>().ok())
            .is_some_and(|ip| nets.iter().any(|n| n.contains(&ip))),
        Test::Compare(op, bound) => value_number(value).is_some_and(|n| op.holds(n, *bound)),
        // Needs the record: `predicate` handles it.
        Test::FieldRef(..) => false,
    }
}
