//! The `eventName` index: which rules can only match records with certain event names.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use tripline_event::{fields, FieldKind};
use tripline_rule::{Expr, Literal, Rule, Test};

pub(crate) struct NameIndex {
    by_name: HashMap<String, Vec<usize>>,
    unindexed: Vec<usize>,
    /// `by_name` entries already merged with `unindexed`, so lookups never allocate.
    merged: HashMap<String, Vec<usize>>,
}

/// The event names (lower-cased) a record must have for `expr` to hold, when the expression
/// says; `None` when any name could match.
fn required_names(expr: &Expr) -> Option<HashSet<String>> {
    match expr {
        Expr::Pred(p) => {
            let FieldKind::Path(path) = p.field.kind() else { return None };
            if !path.is_top_level(fields::EVENT_NAME) {
                return None;
            }
            let Test::Equals(literals, _) = &p.test else { return None };
            literals
                .iter()
                .map(|l| match l {
                    Literal::Str(s) => Some(s.to_lowercase()),
                    _ => None,
                })
                .collect()
        }
        Expr::And(children) => children
            .iter()
            .filter_map(required_names)
            .reduce(|a, b| a.intersection(&b).cloned().collect()),
        Expr::Or(children) => {
            let mut union = HashSet::new();
            for child in children {
                union.extend(required_names(child)?);
            }
            Some(union)
        }
        Expr::Const(false) => Some(HashSet::new()),
        Expr::Not(_) | Expr::Const(true) | Expr::Elements { .. } => None,
    }
}

impl NameIndex {
    pub(crate) fn build(rules: &[Arc<Rule>]) -> Self {
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut unindexed = Vec::new();
        for (i, rule) in rules.iter().enumerate() {
            match required_names(&rule.expr) {
                Some(names) => names.into_iter().for_each(|n| by_name.entry(n).or_default().push(i)),
                None => unindexed.push(i),
            }
        }
        let merged = by_name
            .iter()
            .map(|(name, list)| {
                let mut all: Vec<usize> = list.iter().chain(&unindexed).copied().collect();
                all.sort_unstable();
                all.dedup();
                (name.clone(), all)
            })
            .collect();
        Self { by_name, unindexed, merged }
    }

    /// Candidate rules for a record with this event name, sorted.
    pub(crate) fn candidates(&self, name: &str) -> &[usize] {
        if self.by_name.is_empty() {
            return &self.unindexed;
        }
        let mut buf = [0u8; 96];
        let lowered: Option<&str> = if name.len() <= buf.len() && name.is_ascii() {
            buf[..name.len()].copy_from_slice(name.as_bytes());
            buf[..name.len()].make_ascii_lowercase();
            std::str::from_utf8(&buf[..name.len()]).ok()
        } else {
            None
        };
        let hit = match lowered {
            Some(key) => self.merged.get(key),
            None => self.merged.get(&name.to_lowercase()),
        };
        hit.map_or(&self.unindexed, Vec::as_slice)
    }

    pub(crate) fn unindexed(&self) -> usize {
        self.unindexed.len()
    }
}
