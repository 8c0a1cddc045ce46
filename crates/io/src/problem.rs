//! A problem with the input, located as precisely as it can be.

use std::fmt;

/// One problem in one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file (or `<stdin>`).
    pub file: String,
    /// The record's index in the file (0-based), when the problem is one record's.
    pub record: Option<usize>,
    /// The line (1-based), when known.
    pub line: Option<usize>,
    /// The byte offset in the decompressed text, when known.
    pub offset: Option<usize>,
    /// What was wrong.
    pub reason: String,
    /// A warning: the input was still read in full (a UTF-8 byte-order mark, say).
    pub warning: bool,
}

impl Problem {
    /// A problem with the whole file.
    #[must_use]
    pub fn file(file: &str, reason: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            record: None,
            line: None,
            offset: None,
            reason: reason.into(),
            warning: false,
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(record) = self.record {
            write!(f, ": record {record}")?;
        }
        if let Some(offset) = self.offset {
            write!(f, " (byte {offset})")?;
        }
        let level = if self.warning { "warning" } else { "error" };
        write!(f, ": {level}: {}", self.reason)
    }
}
