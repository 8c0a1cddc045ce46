//! `Engine` is the compiled plan: rules indexed by what they require of `eventSource` and
//! `eventName`, each condition compiled to matchers with patterns prepared once (lower-cased,
//! regexes built).
//!
//! The design decision: the index is only a pre-filter. A record's candidates are the rules
//! whose source/name conditions its pair meets plus the few that cannot be indexed; each candidate's whole
//! condition is still evaluated, so the index can never change what matches — a property test
//! checks it against [`naive::evaluate`], the slow, obviously-correct interpreter of the IR that
//! also backs [`explain::explain`].
#![deny(missing_docs)]

mod elements;
pub mod explain;
mod index;
mod matcher;
mod merge;
pub mod naive;
mod patterns;
pub mod suppress;
pub mod text;

use std::sync::Arc;

use tripline_event::interest::Interest;
use tripline_event::{fields, FieldKind, Record};
use tripline_rule::{Expr, Rule, Scope};

use crate::index::HeaderIndex;
use crate::matcher::Node;

/// Collects rules, then compiles them into an [`Engine`].
#[derive(Default)]
pub struct EngineBuilder {
    rules: Vec<Arc<Rule>>,
}

impl EngineBuilder {
    /// An empty builder.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a rule.
    pub fn add(&mut self, rule: Arc<Rule>) -> &mut Self {
        self.rules.push(rule);
        self
    }

    /// Compiles every rule and builds the index.
    ///
    /// # Errors
    /// A regex the `regex` crate rejects, with the rule id. Front-ends check regexes when
    /// lowering, so this only fires for hand-built rules.
    pub fn build(self) -> Result<Engine, BuildError> {
        let interest = Arc::new(interest(&self.rules));
        let mut compiled = Vec::with_capacity(self.rules.len());
        let mut residuals = Vec::with_capacity(self.rules.len());
        for rule in &self.rules {
            let error = |message: String| BuildError { rule: rule.meta.id.clone(), message };
            compiled.push(Node::compile(rule.condition(), &interest).map_err(error)?);
            residuals
                .push(Node::compile(&index::residual(rule.condition()), &interest).map_err(error)?);
        }
        let index = HeaderIndex::build(&self.rules);
        Ok(Engine { rules: self.rules, compiled, residuals, index, interest })
    }
}

/// Whether the engine can compile `rule`'s condition: what [`EngineBuilder::build`] would
/// refuse it for (a regular expression that does not compile or compiles too large). Loaders
/// ask first, so that such a rule is a diagnostic of its own and the other rules still run.
///
/// # Errors
/// The field whose test could not be compiled (its name as written), and why.
pub fn check(rule: &Rule) -> Result<(), (String, String)> {
    rule.condition().predicates().into_iter().try_for_each(|p| match &p.test {
        tripline_rule::Test::Regex(patterns) => {
            matcher::regex_set(patterns).map(drop).map_err(|e| (p.field.name().to_owned(), e))
        }
        _ => Ok(()),
    })
}

/// A rule the engine cannot compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule `{rule}`: {message}")]
pub struct BuildError {
    /// The rule's id.
    pub rule: String,
    /// What could not be compiled.
    pub message: String,
}

/// The compiled plan.
pub struct Engine {
    rules: Vec<Arc<Rule>>,
    compiled: Vec<Node>,
    /// Each rule's condition without the conjuncts its index entry already decided.
    residuals: Vec<Node>,
    index: HeaderIndex,
    /// The nested paths the rules read, for selective parsing of records.
    interest: Arc<Interest>,
}

/// The nested CloudTrail paths the rules' conditions read.
fn interest(rules: &[Arc<Rule>]) -> Interest {
    fn collect<'e>(expr: &'e Expr, out: &mut Vec<&'e [String]>) {
        match expr {
            Expr::And(c) | Expr::Or(c) => c.iter().for_each(|e| collect(e, out)),
            Expr::Not(e) => collect(e, out),
            // Inside a list comprehension paths are relative to the element.
            Expr::Elements { .. } | Expr::Const(_) => {}
            Expr::Pred(p) => {
                let other = match &p.test {
                    tripline_rule::Test::FieldRef(other, ..) => Some(other),
                    _ => None,
                };
                for field in std::iter::once(&p.field).chain(other) {
                    if let (FieldKind::Path(path), false) = (field.kind(), field.ignores_case()) {
                        out.push(path.segments());
                    }
                }
            }
        }
    }
    let mut paths = Vec::new();
    for rule in rules {
        collect(rule.condition(), &mut paths);
    }
    Interest::new(paths)
}

impl Engine {
    /// The rules, in the order they were added; match results index into this.
    #[must_use]
    pub fn rules(&self) -> &[Arc<Rule>] {
        &self.rules
    }

    /// Pushes the index of every rule that matches `record` onto `matches`, in rule order.
    pub fn evaluate(&self, record: &Record<'_>, matches: &mut Vec<usize>) {
        let name = record.str(fields::EVENT_NAME);
        let source = record.str(fields::EVENT_SOURCE);
        // A source or name that is not a plain string (a malformed record) gets every rule.
        let odd =
            (source.is_none() && record.raw(fields::EVENT_SOURCE).is_some()) || name.is_none();
        let candidates = if odd {
            self.index.all()
        } else {
            self.index.candidates(source.as_deref().unwrap_or(""), name.as_deref().unwrap_or(""))
        };
        if candidates.is_empty() {
            return;
        }
        record.set_interest(&self.interest);
        let insight = record.is_insight();
        let start = matches.len();
        for &rule in candidates.iter() {
            let wanted = match self.rules[rule].scope {
                Scope::Events => !insight,
                Scope::Insights => insight,
                Scope::Inactive => false,
            };
            // Found through the index, a rule's header conjuncts are known to hold.
            let plan = if odd { &self.compiled[rule] } else { &self.residuals[rule] };
            if wanted && plan.evaluate(record, &self.interest) {
                matches.push(rule);
            }
        }
        debug_assert!(matches[start..].is_sorted(), "candidates are sorted, so matches are");
    }

    /// How many rules could not be indexed by `eventSource`/`eventName` and are tried on every
    /// record.
    #[must_use]
    pub fn unindexed_rules(&self) -> usize {
        self.index.unindexed()
    }
}

/// Whether `rule` sees `record` at all (its scope).
#[must_use]
pub fn in_scope(rule: &Rule, record: &Record<'_>) -> bool {
    match rule.scope {
        Scope::Events => !record.is_insight(),
        Scope::Insights => record.is_insight(),
        Scope::Inactive => false,
    }
}

/// The severity of `rule` for a record it matched: the first dynamic severity whose condition
/// holds, else the rule's own.
#[must_use]
pub fn severity_for(rule: &Rule, record: &Record<'_>) -> tripline_rule::Severity {
    rule.meta
        .dynamic_severity
        .iter()
        .find(|(_, condition)| naive::evaluate(condition, record))
        .map_or_else(|| rule.meta.severity(), |(s, _)| *s)
}
