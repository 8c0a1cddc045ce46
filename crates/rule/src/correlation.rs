//! Rules over rules: Sigma correlations (`event_count`, `value_count`, `temporal`,
//! `temporal_ordered`) and meta filters, in the shared IR.

use std::time::Duration;

use tripline_event::Field;

use crate::expr::{CmpOp, Expr};

/// What a correlation counts.
#[derive(Debug, Clone, PartialEq)]
pub enum CorrelationKind {
    /// Signals of the referenced rules in one window and group.
    EventCount,
    /// Distinct values of a field among those signals.
    ValueCount(Field),
    /// Every referenced rule fired in one window and group, in any order.
    Temporal,
    /// Every referenced rule fired in one window and group, in the listed order.
    TemporalOrdered,
}

/// A bound on the count: all must hold (`gte: 10` and `lte: 20` together mean a range).
#[derive(Debug, Clone, PartialEq)]
pub struct CountCondition {
    /// (operator, bound) pairs; `Eq` is expressed as `Gte` and `Lte` of the same bound.
    pub bounds: Vec<(CmpOp, f64)>,
}

impl CountCondition {
    /// Whether `count` satisfies every bound.
    #[must_use]
    pub fn holds(&self, count: f64) -> bool {
        self.bounds.iter().all(|(op, bound)| op.holds(count, *bound))
    }
}

/// A correlation rule's logic.
#[derive(Debug, Clone, PartialEq)]
pub struct Correlation {
    /// What is counted.
    pub kind: CorrelationKind,
    /// The referenced rules, by id or name.
    pub rules: Vec<String>,
    /// Fields whose values must be equal among the correlated signals.
    pub group_by: Vec<Field>,
    /// The window length.
    pub timespan: Duration,
    /// The bound on the count (for `event_count` and `value_count`).
    pub condition: Option<CountCondition>,
    /// Whether the referenced rules still raise alerts of their own.
    pub generate: bool,
    /// Where each of `rules` is written (line, column), for diagnostics; empty when unknown.
    pub positions: Vec<(usize, usize)>,
}

/// A Sigma meta filter: an extra condition for the rules it names.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// The filter's title.
    pub title: String,
    /// The rules it applies to, by id or name.
    pub rules: Vec<String>,
    /// The condition a record must also meet for those rules to match.
    pub expr: Expr,
}
