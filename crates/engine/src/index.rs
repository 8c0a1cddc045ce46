//! The (`eventSource`, `eventName`) index: which rules can match a record with a given source
//! and name.
//!
//! Each rule's condition implies a "header" condition over those two fields alone (the
//! conjuncts that test them, in any form: equality, wildcard, prefix, regex). The candidates
//! for a (source, name) pair are the rules whose header holds for it, worked out the first time
//! a thread sees the pair and remembered by that thread: real CloudTrail has a few hundred
//! distinct pairs, so after warm-up a record costs one map lookup, with no lock. What a thread
//! remembers is bounded ([`REMEMBERED`] pairs), so a worker fed names it never saw before —
//! made up by whoever wrote the logs — keeps flat memory. Rules with no header are candidates
//! for every record.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::json;
use tripline_event::{fields, FieldKind, OwnedRecord};
use tripline_rule::{Expr, Rule};

use crate::naive;

type Candidates = Arc<[usize]>;

pub(crate) struct HeaderIndex {
    /// Per rule: the condition over `eventSource`/`eventName` its condition implies, if any.
    headers: Vec<Option<Expr>>,
    unindexed: usize,
    /// This index among the others of the process, for what threads remember of it.
    id: u64,
}

/// The most (source, name) pairs a thread remembers the candidates of, over every index;
/// past it, it forgets them all and starts again. Real logs have a few hundred pairs.
pub(crate) const REMEMBERED: usize = 4096;

/// What a thread remembers: index → source → name → candidates.
#[derive(Default)]
struct Seen {
    pairs: usize,
    by_index: HashMap<u64, HashMap<String, HashMap<String, Candidates>>>,
}

thread_local! {
    static SEEN: RefCell<Seen> = RefCell::new(Seen::default());
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

pub(crate) fn is_header_field(expr: &Expr) -> bool {
    let Expr::Pred(p) = expr else { return false };
    // A comparison with another field cannot be decided from the two header fields alone.
    if matches!(p.test, tripline_rule::Test::FieldRef(..)) {
        return false;
    }
    let FieldKind::Path(path) = p.field.kind() else { return false };
    path.is_top_level(fields::EVENT_NAME) || path.is_top_level(fields::EVENT_SOURCE)
}

/// The part of `expr` that only tests `eventSource`/`eventName` and must hold whenever `expr`
/// holds; `None` when nothing can be said.
fn header(expr: &Expr) -> Option<Expr> {
    match expr {
        Expr::Pred(_) if is_header_field(expr) => Some(expr.clone()),
        Expr::And(children) => {
            let parts: Vec<Expr> = children.iter().filter_map(header).collect();
            (!parts.is_empty()).then_some(Expr::And(parts))
        }
        Expr::Or(children) => children.iter().map(header).collect::<Option<Vec<_>>>().map(Expr::Or),
        Expr::Const(false) => Some(Expr::Const(false)),
        Expr::Not(_) | Expr::Pred(_) | Expr::Const(true) | Expr::Elements { .. } => None,
    }
}

/// What is left of `expr` to evaluate once the index has found its header true: its
/// conjuncts that test only `eventSource`/`eventName` are dropped (the header evaluated them
/// on the same two values).
pub(crate) fn residual(expr: &Expr) -> Expr {
    match expr {
        Expr::Pred(_) if is_header_field(expr) => Expr::Const(true),
        Expr::And(children) => {
            Expr::And(children.iter().filter(|c| !is_header_field(c)).cloned().collect())
        }
        other => other.clone(),
    }
}

impl HeaderIndex {
    pub(crate) fn build(rules: &[Arc<Rule>]) -> Self {
        let headers: Vec<Option<Expr>> = rules.iter().map(|r| header(r.condition())).collect();
        let unindexed = headers.iter().filter(|h| h.is_none()).count();
        Self { headers, unindexed, id: NEXT_ID.fetch_add(1, Ordering::Relaxed) }
    }

    /// Candidate rules for a record with this source and name, sorted.
    pub(crate) fn candidates(&self, source: &str, name: &str) -> Candidates {
        let known = SEEN.with_borrow(|seen| {
            let names = seen.by_index.get(&self.id)?.get(source)?;
            names.get(name).map(Arc::clone)
        });
        if let Some(hit) = known {
            return hit;
        }
        let computed = self.compute(source, name);
        SEEN.with_borrow_mut(|seen| {
            if seen.pairs >= REMEMBERED {
                *seen = Seen::default();
            }
            seen.pairs += 1;
            let names = seen.by_index.entry(self.id).or_default();
            names
                .entry(source.to_owned())
                .or_default()
                .insert(name.to_owned(), Arc::clone(&computed));
        });
        computed
    }

    /// How many pairs this thread remembers now, over every index.
    #[cfg(test)]
    pub(crate) fn remembered() -> usize {
        SEEN.with_borrow(|seen| seen.pairs)
    }

    fn compute(&self, source: &str, name: &str) -> Candidates {
        let probe = OwnedRecord::from_value(
            &json!({ fields::EVENT_SOURCE: source, fields::EVENT_NAME: name }),
        )
        .expect("an object with two strings is a record");
        let record = probe.record().expect("checked when built");
        self.headers
            .iter()
            .enumerate()
            .filter(|(_, h)| h.as_ref().is_none_or(|h| naive::evaluate(h, &record)))
            .map(|(i, _)| i)
            .collect()
    }

    /// Every rule: for records whose source or name is not a plain string.
    pub(crate) fn all(&self) -> Candidates {
        (0..self.headers.len()).collect()
    }

    pub(crate) fn unindexed(&self) -> usize {
        self.unindexed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tripline_event::Field;
    use tripline_rule::{Case, Test};

    fn rule(id: &str, name: Test) -> Arc<Rule> {
        Arc::new(Rule::new(id, Expr::pred(Field::resolve(fields::EVENT_NAME), name)))
    }

    #[test]
    fn names_never_seen_before_keep_what_a_thread_remembers_bounded_and_the_answers_right() {
        let rules = [
            rule("create", Test::StartsWith(vec!["Create".into()], Case::Insensitive)),
            rule(
                "one",
                Test::Equals(
                    vec![tripline_rule::Literal::Str("DeleteTrail".into())],
                    Case::Insensitive,
                ),
            ),
        ];
        let index = HeaderIndex::build(&rules);
        for i in 0..3 * REMEMBERED {
            let name = if i % 2 == 0 { format!("Create{i}") } else { format!("Made{i}Up") };
            let expected: &[usize] = if i % 2 == 0 { &[0] } else { &[] };
            assert_eq!(&*index.candidates("ec2.amazonaws.com", &name), expected, "{name}");
            assert!(HeaderIndex::remembered() <= REMEMBERED);
        }
        assert_eq!(&*index.candidates("cloudtrail.amazonaws.com", "DeleteTrail"), &[1]);
        // Another thread remembers for itself, and answers the same.
        std::thread::scope(|s| {
            s.spawn(|| {
                assert_eq!(HeaderIndex::remembered(), 0);
                assert_eq!(&*index.candidates("cloudtrail.amazonaws.com", "DeleteTrail"), &[1]);
                assert_eq!(HeaderIndex::remembered(), 1);
            });
        });
    }
}
