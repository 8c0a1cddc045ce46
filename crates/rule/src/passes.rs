//! IR passes. `simplify` keeps meaning and removes shape the engine should not pay for.

use crate::expr::Expr;

/// Flattens nested `and`/`or`, folds constants, removes double negation, and unwraps
/// single-child groups. The result evaluates exactly as the input does.
#[must_use]
pub fn simplify(expr: Expr) -> Expr {
    match expr {
        Expr::And(children) => group(children, true),
        Expr::Or(children) => group(children, false),
        Expr::Not(child) => match simplify(*child) {
            Expr::Not(inner) => *inner,
            Expr::Const(b) => Expr::Const(!b),
            other => other.not(),
        },
        Expr::Elements { field, quantifier, expr } => {
            Expr::Elements { field, quantifier, expr: Box::new(simplify(*expr)) }
        }
        other => other,
    }
}

fn group(children: Vec<Expr>, is_and: bool) -> Expr {
    let mut flat = Vec::with_capacity(children.len());
    for child in children.into_iter().map(simplify) {
        match child {
            // `true` in an `and` (or `false` in an `or`) changes nothing.
            Expr::Const(b) if b == is_and => {}
            // `false` in an `and` (or `true` in an `or`) decides the group.
            Expr::Const(b) => return Expr::Const(b),
            Expr::And(grand) if is_and => flat.extend(grand),
            Expr::Or(grand) if !is_and => flat.extend(grand),
            other => flat.push(other),
        }
    }
    match flat.len() {
        0 => Expr::Const(is_and),
        1 => flat.pop().expect("length checked"),
        _ if is_and => Expr::And(flat),
        _ => Expr::Or(flat),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::Test;
    use tripline_event::Field;

    fn p(name: &str) -> Expr {
        Expr::pred(Field::resolve(name), Test::Exists)
    }

    #[test]
    fn nested_groups_flatten_and_constants_fold() {
        let e = Expr::And(vec![
            p("a"),
            Expr::And(vec![p("b"), Expr::Const(true)]),
            Expr::Or(vec![p("c")]),
        ]);
        assert_eq!(simplify(e), Expr::And(vec![p("a"), p("b"), p("c")]));
        assert_eq!(simplify(Expr::Or(vec![p("a"), Expr::Const(true)])), Expr::Const(true));
        assert_eq!(simplify(p("a").not().not()), p("a"));
    }
}
