//! A problem in a rule file: where, what, and how to fix it.

use std::fmt;
use std::path::PathBuf;

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// The rule still loads.
    Warning,
    /// The rule uses something Tripline does not run (an EQL query, Sigma's old aggregation
    /// syntax, Python logic): it is not loaded, and counted apart from errors.
    Unsupported,
    /// The rule is refused.
    Error,
}

/// One problem, with its position (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file.
    pub path: PathBuf,
    /// 1-based line; 0 when the problem concerns the whole file.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// Error or warning.
    pub level: Level,
    /// What is wrong, with the offending input in backticks.
    pub message: String,
    /// How to fix it, when known.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// An error about a whole file (line 0): it could not be read, say.
    #[must_use]
    pub fn file_error(path: &std::path::Path, message: impl Into<String>) -> Self {
        Self::error(path, crate::yaml::Pos { line: 0, column: 0 }, message)
    }

    /// An error at a position.
    #[must_use]
    pub fn error(path: &std::path::Path, at: crate::yaml::Pos, message: impl Into<String>) -> Self {
        Self {
            path: path.to_owned(),
            line: at.line,
            column: at.column,
            level: Level::Error,
            message: message.into(),
            hint: None,
        }
    }

    /// Something the rule needs that Tripline does not run.
    #[must_use]
    pub fn unsupported(
        path: &std::path::Path,
        at: crate::yaml::Pos,
        message: impl Into<String>,
    ) -> Self {
        Self { level: Level::Unsupported, ..Self::error(path, at, message) }
    }

    /// A warning at a position.
    #[must_use]
    pub fn warning(
        path: &std::path::Path,
        at: crate::yaml::Pos,
        message: impl Into<String>,
    ) -> Self {
        Self { level: Level::Warning, ..Self::error(path, at, message) }
    }

    /// Adds a hint.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            Level::Warning => "warning",
            Level::Unsupported => "unsupported",
            Level::Error => "error",
        };
        write!(
            f,
            "{}:{}:{}: {level}: {}",
            self.path.display(),
            self.line,
            self.column,
            self.message
        )?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}
