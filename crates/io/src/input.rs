//! Turning the paths a user gives into an ordered list of inputs.

use std::path::{Path, PathBuf};

use walkdir::WalkDir;

use crate::problem::Problem;

/// One thing to read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Input {
    /// A file.
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
}

impl Input {
    /// How problems name this input.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Stdin => "<stdin>".to_owned(),
        }
    }
}

/// What `expand` found.
#[derive(Debug, Default)]
pub struct Expanded {
    /// Inputs to read, sorted by path within each argument, arguments in order.
    pub inputs: Vec<Input>,
    /// Integrity digest files (`CloudTrail-Digest/`), counted and never read as events.
    pub digests: Vec<PathBuf>,
    /// Paths that could not be read.
    pub problems: Vec<Problem>,
}

/// Whether a path is a CloudTrail integrity digest by its location or name.
#[must_use]
pub fn is_digest_path(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "CloudTrail-Digest")
        || path.file_name().is_some_and(|n| n.to_string_lossy().contains("_CloudTrail-Digest_"))
}

fn is_hidden(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// Expands files, folders (recursively, in path order) and `-`.
#[must_use]
pub fn expand(paths: &[PathBuf]) -> Expanded {
    let mut out = Expanded::default();
    for path in paths {
        if path.as_os_str() == "-" {
            out.inputs.push(Input::Stdin);
            continue;
        }
        if !path.exists() {
            out.problems.push(Problem::file(&path.display().to_string(), "no such file or folder"));
            continue;
        }
        let walker = WalkDir::new(path).follow_links(true).sort_by_file_name();
        for entry in walker.into_iter().filter_entry(|e| e.depth() == 0 || !is_hidden(e.path())) {
            match entry {
                Ok(e) if e.file_type().is_file() => {
                    if is_digest_path(e.path()) {
                        out.digests.push(e.into_path());
                    } else {
                        out.inputs.push(Input::File(e.into_path()));
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let at = e
                        .path()
                        .map_or_else(|| path.display().to_string(), |p| p.display().to_string());
                    out.problems.push(Problem::file(&at, format!("cannot read: {e}")));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_paths_are_recognised_by_folder_or_name() {
        assert!(is_digest_path(Path::new(
            "AWSLogs/1/CloudTrail-Digest/us-east-1/2024/01/01/x.json.gz"
        )));
        assert!(is_digest_path(Path::new(
            "x/1_CloudTrail-Digest_us-east-1_t_20240101T0000Z.json.gz"
        )));
        assert!(!is_digest_path(Path::new("AWSLogs/1/CloudTrail/us-east-1/2024/01/01/x.json.gz")));
    }
}
