//! The (`eventSource`, `eventName`) index: which rules can match a record with a given source
//! and name.
//!
//! Each rule's condition implies a "header" condition over those two fields alone (the
//! conjuncts that test them, in any form: equality, wildcard, prefix, regex). The candidates
//! for a (source, name) pair are the rules whose header holds for it, worked out the first time
//! the pair is seen and remembered: real CloudTrail has a few hundred distinct pairs, so after
//! warm-up a record costs one map lookup. Rules with no header are candidates for every record.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::json;
use tripline_event::{fields, FieldKind, OwnedRecord};
use tripline_rule::{Expr, Rule};

use crate::naive;

type Candidates = Arc<[usize]>;

pub(crate) struct HeaderIndex {
    /// Per rule: the condition over `eventSource`/`eventName` its condition implies, if any.
    headers: Vec<Option<Expr>>,
    unindexed: usize,
    /// source → name → candidates, filled on first sight of each pair.
    seen: RwLock<HashMap<String, HashMap<String, Candidates>>>,
}

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
        Self { headers, unindexed, seen: RwLock::new(HashMap::new()) }
    }

    /// Candidate rules for a record with this source and name, sorted.
    pub(crate) fn candidates(&self, source: &str, name: &str) -> Candidates {
        if let Ok(seen) = self.seen.read() {
            if let Some(hit) = seen.get(source).and_then(|names| names.get(name)) {
                return Arc::clone(hit);
            }
        }
        let computed = self.compute(source, name);
        if let Ok(mut seen) = self.seen.write() {
            seen.entry(source.to_owned())
                .or_default()
                .insert(name.to_owned(), Arc::clone(&computed));
        }
        computed
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
