//! The pipeline: configuration → build → run. [`ruleset::load`] reads the rules a command was
//! told about (explicitly: no global configuration), [`detection::Setup::build`] compiles them
//! with their correlations and suppressions, and [`scan`] runs one input through them into
//! signals, which the [`sink`]s take.
//!
//! The design decision: everything between the inputs and the outputs lives here, once, so the
//! binary's subcommands stay thin and a new source or output is one module that touches no
//! command.
#![deny(missing_docs)]

#[cfg(feature = "aws")]
pub mod backfill;
pub mod config;
pub mod detection;
pub mod metrics;
pub mod notify;
pub mod ruleset;
pub mod run;
pub mod scan;
pub mod sink;
pub mod source;
mod suppressions;
pub mod toggle;
pub mod totals;

pub use config::Config;
pub use detection::Setup;
pub use ruleset::{RuleSet, RuleSources};
pub use totals::Totals;
