//! Alternatives on one field merged into one test: `a|contains: x or a|contains: y` is
//! `a|contains: [x, y]` (a test over a list means any of it), so a Sigma rule of 100,000
//! keywords is one predicate whose patterns are matched together ([`crate::matcher`] gives a
//! long substring list to Aho-Corasick) instead of 100,000 walks over the record.

use std::collections::HashMap;

use tripline_event::Field;
use tripline_rule::{Case, Expr, Predicate, Test};

/// The kind of list test two predicates must share to merge.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum ListKind {
    Equals(Case),
    Contains(Case),
    StartsWith(Case),
    EndsWith(Case),
    Regex,
}

fn list_kind(test: &Test) -> Option<ListKind> {
    Some(match test {
        Test::Equals(_, case) => ListKind::Equals(*case),
        Test::Contains(_, case) => ListKind::Contains(*case),
        Test::StartsWith(_, case) => ListKind::StartsWith(*case),
        Test::EndsWith(_, case) => ListKind::EndsWith(*case),
        Test::Regex(_) => ListKind::Regex,
        _ => return None,
    })
}

/// Appends `from`'s list to `into`'s (both of the same [`ListKind`]).
fn extend(into: &mut Test, from: &Test) {
    match (into, from) {
        (Test::Equals(a, _), Test::Equals(b, _)) => a.extend(b.iter().cloned()),
        (Test::Contains(a, _), Test::Contains(b, _))
        | (Test::StartsWith(a, _), Test::StartsWith(b, _))
        | (Test::EndsWith(a, _), Test::EndsWith(b, _))
        | (Test::Regex(a), Test::Regex(b)) => a.extend(b.iter().cloned()),
        _ => unreachable!("merged only within one list kind"),
    }
}

/// The children of an `or`, with the list tests on one field merged into the first of them;
/// `None` when nothing merges (the common case: the children are used as they are).
pub(crate) fn alternatives(children: &[Expr]) -> Option<Vec<Expr>> {
    let mut first: HashMap<(&Field, ListKind), usize> = HashMap::new();
    let mut merged: Vec<Expr> = Vec::new();
    let mut any = false;
    for child in children {
        if let Expr::Pred(Predicate { field, test }) = child {
            if let Some(kind) = list_kind(test) {
                if let Some(&at) = first.get(&(field, kind)) {
                    if let Expr::Pred(p) = &mut merged[at] {
                        extend(&mut p.test, test);
                    }
                    any = true;
                    continue;
                }
                first.insert((field, kind), merged.len());
            }
        }
        merged.push(child.clone());
    }
    any.then_some(merged)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tripline_rule::Literal;

    fn pred(field: &str, test: Test) -> Expr {
        Expr::pred(Field::resolve(field), test)
    }

    #[test]
    fn list_tests_on_one_field_merge_and_the_rest_stay_in_order() {
        let ci = Case::Insensitive;
        let children = vec![
            pred("a", Test::Contains(vec!["x".into()], ci)),
            pred("b", Test::Exists),
            pred("a", Test::Contains(vec!["y".into(), "z".into()], ci)),
            pred("a", Test::Contains(vec!["w".into()], Case::Sensitive)),
            pred("a", Test::Equals(vec![Literal::Str("q".into())], ci)),
            pred("a", Test::Equals(vec![Literal::Num(1.0)], ci)),
        ];
        let merged = alternatives(&children).expect("some merge");
        assert_eq!(
            merged,
            vec![
                pred("a", Test::Contains(vec!["x".into(), "y".into(), "z".into()], ci)),
                pred("b", Test::Exists),
                pred("a", Test::Contains(vec!["w".into()], Case::Sensitive)),
                pred("a", Test::Equals(vec![Literal::Str("q".into()), Literal::Num(1.0)], ci)),
            ]
        );
        assert!(alternatives(&merged).is_none(), "nothing more to merge");
    }
}
