//! Turning the paths a user gives into an ordered list of inputs.

use std::collections::BTreeMap;
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
    /// An object in a bucket.
    Object(crate::object::ObjectInput),
    /// Records a message carried itself (CloudTrail records EventBridge delivered to a
    /// queue): the text, and how problems name it.
    Inline {
        /// How problems name it (`sqs:<message id>`).
        label: String,
        /// The records' JSON.
        text: std::sync::Arc<str>,
    },
}

impl Input {
    /// How problems name this input.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Self::File(p) => p.display().to_string(),
            Self::Stdin => "<stdin>".to_owned(),
            Self::Object(object) => object.url(),
            Self::Inline { label, .. } => label.clone(),
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
    /// Files the `AWSLogs/` layout marks as another service's logs, counted by service.
    pub other_services: BTreeMap<String, u64>,
    /// Paths that could not be read.
    pub problems: Vec<Problem>,
}

/// Whether a path is a CloudTrail integrity digest by its location or name.
#[must_use]
pub fn is_digest_path(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str() == "CloudTrail-Digest")
        || path.file_name().is_some_and(|n| n.to_string_lossy().contains("_CloudTrail-Digest_"))
}

/// What a file holds, by where the `AWSLogs/` layout puts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// CloudTrail events (or Insights), or a file outside the layout: read.
    CloudTrail,
    /// A CloudTrail integrity digest: counted, never read as events.
    Digest,
    /// Another service's logs beside CloudTrail's in the same bucket (`Config`,
    /// `elasticloadbalancing`, `vpcflowlogs`…, and AWS Config's `ConfigWritabilityCheckFile`):
    /// counted by service, never read.
    OtherService(String),
}

/// Where `path` sits in a log bucket's layout: `AWSLogs/[<org id>/]<account>/<service>/…`.
/// Only a path that names another service there is skipped; a file of unknown shape anywhere
/// else is still read, and an error when it holds no CloudTrail.
#[must_use]
pub fn layout(path: &Path) -> Layout {
    if is_digest_path(path) {
        return Layout::Digest;
    }
    if path.file_name().is_some_and(|n| n == "ConfigWritabilityCheckFile") {
        return Layout::OtherService("Config".into());
    }
    let parts: Vec<String> =
        path.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    let Some(start) = parts.iter().rposition(|c| c == "AWSLogs") else { return Layout::CloudTrail };
    // The folders between `AWSLogs` and the file: organisation and account ids, then the service.
    let folders = &parts[start + 1..parts.len().saturating_sub(1)];
    let is_owner =
        |c: &str| c.starts_with("o-") || (c.len() == 12 && c.bytes().all(|b| b.is_ascii_digit()));
    match folders.iter().find(|c| !is_owner(c)) {
        Some(service) if !service.starts_with("CloudTrail") => {
            Layout::OtherService(service.clone())
        }
        _ => Layout::CloudTrail,
    }
}

/// Whether a file type is a named pipe.
fn is_stream(kind: &std::fs::FileType) -> bool {
    use std::os::unix::fs::FileTypeExt;
    kind.is_fifo()
}

/// What a file that is neither a regular file nor a folder is, for messages.
fn special_kind(kind: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() {
        "a character device"
    } else if kind.is_block_device() {
        "a block device"
    } else {
        "not a regular file"
    }
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
        let label = path.display().to_string();
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                out.problems.push(Problem::file(&label, "no such file or folder"));
                continue;
            }
            // A loop of symbolic links, a component that is not a folder, no permission.
            Err(e) => {
                out.problems.push(Problem::file(&label, format!("cannot be read: {e}")));
                continue;
            }
            Ok(meta) if is_stream(&meta.file_type()) => {
                // A named pipe is read as a stream, as stdin is.
                out.inputs.push(Input::File(path.clone()));
                continue;
            }
            Ok(meta) if !meta.is_file() && !meta.is_dir() => {
                let what = special_kind(&meta.file_type());
                out.problems.push(Problem::file(
                    &label,
                    format!("is {what}, not a log file or a folder of them"),
                ));
                continue;
            }
            Ok(_) => {}
        }
        let walker = WalkDir::new(path).follow_links(true).sort_by_file_name();
        for entry in walker.into_iter().filter_entry(|e| e.depth() == 0 || !is_hidden(e.path())) {
            match entry {
                Ok(e) if e.file_type().is_file() => match layout(e.path()) {
                    Layout::CloudTrail => out.inputs.push(Input::File(e.into_path())),
                    Layout::Digest => out.digests.push(e.into_path()),
                    Layout::OtherService(service) => {
                        *out.other_services.entry(service).or_insert(0) += 1;
                    }
                },
                // A pipe, socket or device inside a folder is not a log: said, not read.
                Ok(e) if !e.file_type().is_dir() => {
                    let mut p = Problem::file(
                        &e.path().display().to_string(),
                        format!("is {}, not a log file; skipped", special_kind(&e.file_type())),
                    );
                    p.warning = true;
                    out.problems.push(p);
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

    #[test]
    fn the_bucket_layout_says_which_files_are_another_services() {
        let other = |s: &str| Layout::OtherService(s.into());
        for (path, expected) in [
            (
                "b/AWSLogs/111122223333/CloudTrail/us-east-1/2024/08/01/x.json.gz",
                Layout::CloudTrail,
            ),
            ("AWSLogs/o-abc123/111122223333/CloudTrail/eu-west-1/x.json.gz", Layout::CloudTrail),
            ("AWSLogs/111122223333/CloudTrail-Insight/us-east-1/x.json.gz", Layout::CloudTrail),
            ("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/x.json.gz", Layout::Digest),
            (
                "AWSLogs/111122223333/Config/us-east-1/2024/8/1/ConfigSnapshot/x.json.gz",
                other("Config"),
            ),
            ("AWSLogs/111122223333/Config/ConfigWritabilityCheckFile", other("Config")),
            ("AWSLogs/111122223333/ConfigWritabilityCheckFile", other("Config")),
            (
                "AWSLogs/111122223333/elasticloadbalancing/us-east-1/x.log.gz",
                other("elasticloadbalancing"),
            ),
            ("AWSLogs/o-abc123/111122223333/vpcflowlogs/us-east-1/x.log.gz", other("vpcflowlogs")),
            // Outside the layout every file is read (and one that is not CloudTrail is an error).
            ("exports/Config/x.json.gz", Layout::CloudTrail),
            ("AWSLogs/x.json.gz", Layout::CloudTrail),
        ] {
            assert_eq!(layout(Path::new(path)), expected, "{path}");
        }
    }
}
