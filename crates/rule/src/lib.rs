//! `Rule` is what every front-end lowers to and all the engine ever sees: metadata, an
//! [`Expr`] over resolved fields, alerting options and inline tests.
//!
//! The design decision: the IR knows nothing of YAML, Sigma, KQL or Panther. A front-end's
//! quirks are settled when it lowers (case rules, field names, list semantics), so the engine
//! has one meaning to implement and `Display` shows a user exactly what a foreign rule became.
#![deny(missing_docs)]

pub mod attack;
pub mod correlation;
pub mod expr;
pub mod identity;
pub mod meta;
pub mod passes;
pub mod suppression;
pub mod template;

pub use correlation::{Correlation, CorrelationKind, CountCondition, Filter};
pub use expr::{wildcard_matches, Case, CmpOp, Expr, Literal, Predicate, Quantifier, RefOp, Test};
pub use identity::{Form, Frontend, Origin, RuleKind, Vendor};
pub use meta::{
    Alerting, Cardinality, Dedup, Logic, Metadata, NewTerms, Prepared, Rule, RuleTest, Schedule,
    Scope, Severity,
};
pub use suppression::{Applies, Suppression, SuppressionKind};
pub use template::Template;
