//! Front-ends: rule text in, [`tripline_rule::Rule`] out, with every problem as a
//! [`Diagnostic`] that names the file, line and column and, where the fix is known, a hint.
//!
//! The design decision: each front-end parses to a tree that keeps positions, then lowers it
//! to the shared IR in one pass that collects diagnostics instead of stopping at the first —
//! a rule author sees everything wrong with a file at once. The Sigma-style `detection:`
//! block lives in [`detection`], shared by every front-end that speaks it.
#![deny(missing_docs)]

pub mod detection;
pub mod diagnostic;
pub mod duplicate_keys;
pub mod elastic;
pub mod kql;
pub mod native;
pub mod panther;
pub mod sigma;
pub mod suppression;
pub mod yaml;

use std::path::{Path, PathBuf};

pub use detection::Options;
pub use diagnostic::{Diagnostic, Level};
use tripline_rule::Rule;

pub use tripline_rule::Frontend;

/// Recognises a rule file's format from its content.
#[must_use]
pub fn detect(path: &Path, text: &str) -> Option<Frontend> {
    if elastic::is_elastic(path, text) {
        return Some(Frontend::Elastic);
    }
    let first = yaml::parse(text).ok()?;
    Some(if sigma::is_sigma(&first) {
        Frontend::Sigma
    } else if panther::is_panther(&first) {
        Frontend::Panther
    } else {
        Frontend::Native
    })
}

/// What loading one rule file produced.
pub struct Loaded {
    /// The file.
    pub path: PathBuf,
    /// The format it was read as.
    pub frontend: Frontend,
    /// The rules it defined (none when it has errors).
    pub rules: Vec<Rule>,
    /// Every problem found, errors and warnings.
    pub diagnostics: Vec<Diagnostic>,
    /// Sigma meta filters and Elastic exception lists, as suppressions of the rules they name.
    pub suppressions: Vec<tripline_rule::Suppression>,
}

impl Loaded {
    /// Whether any diagnostic is an error (the file's rules were refused).
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(|d| d.level == Level::Error)
    }

    /// Whether the file holds a rule Tripline does not run (and nothing worse).
    #[must_use]
    pub fn is_unsupported(&self) -> bool {
        !self.has_errors() && self.diagnostics.iter().any(|d| d.level == Level::Unsupported)
    }
}

/// Parses and lowers one rule file, recognising its format from its content.
#[must_use]
pub fn compile(path: &Path, text: &str, options: &Options) -> Loaded {
    let frontend = detect(path, text).unwrap_or(Frontend::Native);
    let (rules, diagnostics, suppressions) = match frontend {
        Frontend::Native => {
            let (rules, diagnostics) = native::compile(path, text, options);
            (rules, diagnostics, Vec::new())
        }
        Frontend::Sigma => {
            let file = sigma::compile(path, text, options);
            let suppressions =
                file.filters.into_iter().map(|f| sigma::filter_suppression(path, f)).collect();
            (file.rules, file.diagnostics, suppressions)
        }
        Frontend::Elastic => elastic::compile(path, text, options),
        Frontend::Panther => {
            let (rules, diagnostics) = panther::compile(path, text, options);
            (rules, diagnostics, Vec::new())
        }
    };
    let mut loaded = Loaded { path: path.to_owned(), frontend, rules, diagnostics, suppressions };
    if frontend != Frontend::Elastic {
        let repeated = duplicate_keys::check(path, text);
        if !repeated.is_empty() {
            // Which of the two the loader kept is not what the author meant: the file is refused.
            loaded.rules.clear();
            loaded.suppressions.clear();
            loaded.diagnostics.extend(repeated);
        }
    }
    loaded
}
