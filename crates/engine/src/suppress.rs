//! Suppressions compiled like rules: their conditions in an [`Engine`] of their own, and for
//! each detection rule the suppressions that apply to it. Only records that produced a signal
//! are checked, so suppressions cost nothing on the rest.

use std::sync::Arc;

use chrono::NaiveDate;
use tripline_event::Record;
use tripline_rule::{Rule, Suppression};

use crate::{Engine, EngineBuilder};

/// The suppressions in force for a run.
#[derive(Default)]
pub struct SuppressionSet {
    suppressions: Vec<Suppression>,
    conditions: Option<Engine>,
    /// For each detection rule (by engine index), the suppressions that apply to it.
    by_rule: Vec<Vec<usize>>,
    expired: Vec<usize>,
}

impl SuppressionSet {
    /// Compiles `suppressions` for the rules of `engine`, leaving out those expired by `today`.
    ///
    /// # Errors
    /// When a condition cannot be compiled.
    pub fn new(
        suppressions: Vec<Suppression>,
        engine: &Engine,
        today: NaiveDate,
    ) -> Result<Self, crate::BuildError> {
        let mut builder = EngineBuilder::new();
        let mut expired = Vec::new();
        for (i, s) in suppressions.iter().enumerate() {
            // An expired suppression keeps its place (so indexes stay put) but can never match.
            let expr = if s.is_expired(today) {
                expired.push(i);
                tripline_rule::Expr::Const(false)
            } else {
                s.expr.clone()
            };
            builder.add(Arc::new(Rule::new(&format!("suppression:{}", s.name), expr)));
        }
        let conditions = if suppressions.is_empty() { None } else { Some(builder.build()?) };
        let by_rule = engine
            .rules()
            .iter()
            .map(|rule| {
                (0..suppressions.len())
                    .filter(|&i| !expired.contains(&i) && suppressions[i].applies_to(rule))
                    .collect()
            })
            .collect();
        Ok(Self { suppressions, conditions, by_rule, expired })
    }

    /// Every suppression, in the order given (counts are indexed the same way).
    #[must_use]
    pub fn suppressions(&self) -> &[Suppression] {
        &self.suppressions
    }

    /// Indexes of the suppressions that had expired.
    #[must_use]
    pub fn expired(&self) -> &[usize] {
        &self.expired
    }

    /// Whether no suppression applies to `rule` (skips evaluating anything).
    #[must_use]
    pub fn applies_to_none(&self, rule: usize) -> bool {
        self.by_rule.get(rule).is_none_or(Vec::is_empty)
    }

    /// The suppressions whose conditions `record` meets, into `matched` (sorted).
    pub fn matching(&self, record: &Record<'_>, matched: &mut Vec<usize>) {
        matched.clear();
        if let Some(conditions) = &self.conditions {
            conditions.evaluate(record, matched);
            matched.sort_unstable();
        }
    }

    /// The first suppression that applies to `rule` among `matched`.
    #[must_use]
    pub fn suppressing(&self, rule: usize, matched: &[usize]) -> Option<usize> {
        self.by_rule.get(rule)?.iter().copied().find(|s| matched.binary_search(s).is_ok())
    }
}
