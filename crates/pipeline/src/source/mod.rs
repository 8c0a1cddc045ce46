//! Where units of input come from. A [`Source`] yields [`Unit`]s — a file today, an S3 object
//! or a queue message later — each with a stable identity, and is told with
//! [`Source::ack`] once a unit's results are durable (committed to the store, or written by a
//! run without one), never before: a queue deletes its message only then, and a folder being
//! watched stops offering the file.
//!
//! [`Paths`] is the files, folders, `s3://` prefixes ([`objects`]) and `-` given to `scan`;
//! [`Folder`] follows a folder for `watch`, offering each file once it has settled and until
//! it is acknowledged.

pub mod objects;
#[cfg(feature = "aws")]
pub mod queue;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tripline_io::input::{expand, Input};
use tripline_io::Problem;
use tripline_store::InputKey;

/// One unit of input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unit {
    /// What to read.
    pub input: Input,
    /// Its identity: the same content always has the same key (path, size and modification
    /// time for a file); `None` for stdin, which has none to remember.
    pub key: Option<InputKey>,
}

/// What a source met besides units: paths that could not be read, digest files skipped.
#[derive(Debug, Default)]
pub struct Listing {
    /// The units ready now, in order.
    pub units: Vec<Unit>,
    /// Problems met listing (each names its path).
    pub problems: Vec<Problem>,
    /// Integrity digest files, counted and never read as events.
    pub digests: u64,
    /// Other services' log files beside CloudTrail's, counted by service and never read.
    pub other_services: std::collections::BTreeMap<String, u64>,
    /// Folders of a bucket left out without listing them (digests, other services), by what
    /// they hold.
    pub folders_skipped: std::collections::BTreeMap<String, u64>,
}

impl Listing {
    /// Adds what `other` found: its units after these.
    pub fn absorb(&mut self, other: Listing) {
        self.units.extend(other.units);
        self.problems.extend(other.problems);
        self.digests += other.digests;
        add_counts(&mut self.other_services, other.other_services);
        add_counts(&mut self.folders_skipped, other.folders_skipped);
    }
}

/// What a queue source has done, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueCounts {
    /// Messages received.
    pub received: u64,
    /// Messages deleted once their units were committed.
    pub done: u64,
    /// Messages that asked for nothing (S3's test event), deleted.
    pub ignored: u64,
    /// Messages that can never succeed.
    pub bad: u64,
}

/// Adds counts by name to `total`.
fn add_counts(
    total: &mut std::collections::BTreeMap<String, u64>,
    more: impl IntoIterator<Item = (String, u64)>,
) {
    for (name, n) in more {
        *total.entry(name).or_insert(0) += n;
    }
}

/// Yields units of input and learns when their results are durable.
pub trait Source {
    /// The units ready now (possibly none: a folder with nothing new yet).
    fn poll(&mut self) -> Listing;

    /// `unit`'s results are durable: it need not be offered again.
    fn ack(&mut self, unit: &Unit);

    /// The acknowledgements of a batch are all given: a source that settles them together
    /// (a queue deletes its messages ten to a request) does it now.
    fn settle(&mut self) {}
}

/// Whether a path given is an `s3://` URL.
fn is_remote(path: &Path) -> bool {
    path.to_str().is_some_and(|p| p.starts_with("s3://"))
}

/// A unit for `input`, its identity taken now (an object's is its URL and ETag); a file that
/// cannot be inspected is a problem.
fn unit_of(input: Input) -> Result<Unit, Problem> {
    match &input {
        // A named pipe has no identity to remember: what it gives differs every time.
        Input::File(path) if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) => {
            Ok(Unit { input, key: None })
        }
        Input::File(path) => match InputKey::of_file(path) {
            Ok(key) => Ok(Unit { input, key: Some(key) }),
            Err(e) => {
                Err(Problem::file(&path.display().to_string(), format!("cannot inspect: {e}")))
            }
        },
        Input::Stdin => Ok(Unit { input, key: None }),
        Input::Object(object) => {
            let key = InputKey {
                input: object.url(),
                size: i64::try_from(object.size).unwrap_or(i64::MAX),
                version: object.etag.clone(),
            };
            Ok(Unit { input, key: Some(key) })
        }
        // A message's records are known by the message: a delivery of it again after its
        // results were committed is recognised and only acknowledged.
        Input::Inline { label, text } => {
            let key = InputKey {
                input: label.clone(),
                size: i64::try_from(text.len()).unwrap_or(i64::MAX),
                version: String::new(),
            };
            Ok(Unit { input, key: Some(key) })
        }
    }
}

/// The paths given on the command line: files, folders (walked in path order), `s3://`
/// prefixes and `-`, listed once, in the order given.
pub struct Paths {
    paths: Vec<PathBuf>,
    listed: bool,
    objects: objects::Objects,
}

impl Paths {
    /// A source of `paths` (`s3://` ones reached as the default [`objects::Remote`] says).
    #[must_use]
    pub fn new(paths: &[PathBuf]) -> Self {
        Self::with_remote(paths, objects::Remote::default())
    }

    /// A source of `paths`, `s3://` ones reached and narrowed as `remote` says.
    #[must_use]
    pub fn with_remote(paths: &[PathBuf], remote: objects::Remote) -> Self {
        Self { paths: paths.to_vec(), listed: false, objects: objects::Objects::new(remote) }
    }

    /// Lists local paths (files, folders, `-`) into `listing`.
    fn list_local(paths: &[PathBuf], listing: &mut Listing) {
        let expanded = expand(paths);
        listing.problems.extend(expanded.problems);
        listing.digests += expanded.digests.len() as u64;
        add_counts(&mut listing.other_services, expanded.other_services);
        for input in expanded.inputs {
            match unit_of(input) {
                Ok(unit) => listing.units.push(unit),
                Err(problem) => listing.problems.push(problem),
            }
        }
    }
}

impl Source for Paths {
    fn poll(&mut self) -> Listing {
        let mut listing = Listing::default();
        if std::mem::replace(&mut self.listed, true) {
            return listing;
        }
        // Runs of local paths are expanded together, each `s3://` one in its turn.
        let paths = std::mem::take(&mut self.paths);
        for run in paths.chunk_by(|a, b| is_remote(a) == is_remote(b)) {
            if is_remote(&run[0]) {
                run.iter().for_each(|url| self.objects.list(&url.to_string_lossy(), &mut listing));
            } else {
                Self::list_local(run, &mut listing);
            }
        }
        self.paths = paths;
        listing
    }

    /// Files on disk are remembered by the store's checkpoints: nothing to do here.
    fn ack(&mut self, _: &Unit) {}
}

/// A folder followed as files arrive: each poll offers the files that are new or changed
/// since they were acknowledged and have not been modified for `settle` (a file still being
/// written is offered once it is complete).
pub struct Folder {
    dir: PathBuf,
    settle: Duration,
    /// Files acknowledged, as they were then: a poll of a folder holding a year of logs looks
    /// only at files that are new or changed since.
    known: HashMap<PathBuf, (u64, SystemTime)>,
    /// Problems of the last poll's listing (a socket in the folder, an unreadable subfolder):
    /// each is reported once while it lasts, not at every poll.
    reported: std::collections::HashSet<String>,
}

impl Folder {
    /// A source following `dir`.
    #[must_use]
    pub fn new(dir: &Path, settle: Duration) -> Self {
        Self {
            dir: dir.to_owned(),
            settle,
            known: HashMap::new(),
            reported: std::collections::HashSet::new(),
        }
    }
}

fn stamp(path: &Path) -> Option<(u64, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.len(), meta.modified().ok()?))
}

impl Source for Folder {
    fn poll(&mut self) -> Listing {
        let expanded = expand(std::slice::from_ref(&self.dir));
        let now_reported: std::collections::HashSet<String> =
            expanded.problems.iter().map(ToString::to_string).collect();
        let problems = expanded
            .problems
            .into_iter()
            .filter(|p| !self.reported.contains(&p.to_string()))
            .collect();
        self.reported = now_reported;
        let mut listing = Listing { problems, ..Listing::default() };
        for input in expanded.inputs {
            let Input::File(path) = &input else { continue };
            let Some(now) = stamp(path) else { continue };
            let settled =
                SystemTime::now().duration_since(now.1).is_ok_and(|age| age >= self.settle);
            if self.known.get(path) == Some(&now) || !settled {
                continue;
            }
            match unit_of(input) {
                Ok(unit) => listing.units.push(unit),
                Err(problem) => listing.problems.push(problem),
            }
        }
        listing
    }

    fn ack(&mut self, unit: &Unit) {
        if let Input::File(path) = &unit.input {
            if let Some(now) = stamp(path) {
                self.known.insert(path.clone(), now);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_offers_a_settled_file_until_it_is_acknowledged_and_again_once_it_changes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("a.json");
        std::fs::write(&file, "{}").expect("writable");
        let mut folder = Folder::new(dir.path(), Duration::ZERO);
        let first = folder.poll();
        assert_eq!(first.units.len(), 1);
        assert_eq!(folder.poll().units.len(), 1, "not acknowledged: offered again");
        folder.ack(&first.units[0]);
        assert!(folder.poll().units.is_empty());
        std::fs::write(&file, "{\"Records\": []}").expect("writable");
        assert_eq!(folder.poll().units.len(), 1, "changed since it was acknowledged");
        let mut unsettled = Folder::new(dir.path(), Duration::from_secs(3600));
        assert!(unsettled.poll().units.is_empty(), "modified too recently");
    }

    #[test]
    fn a_folder_says_a_listing_problem_once_while_it_lasts() {
        let dir = tempfile::tempdir().expect("temp dir");
        let socket = dir.path().join("s.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        let mut folder = Folder::new(dir.path(), Duration::ZERO);
        let first = folder.poll();
        assert_eq!(first.problems.len(), 1, "{:?}", first.problems);
        assert!(first.problems[0].reason.contains("is a socket"), "{:?}", first.problems);
        assert!(folder.poll().problems.is_empty(), "said once");
        drop(listener);
        std::fs::remove_file(&socket).expect("rm");
        assert!(folder.poll().problems.is_empty(), "gone");
        let _again = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
        assert_eq!(folder.poll().problems.len(), 1, "back: said again");
    }

    #[test]
    fn paths_are_listed_once_with_their_identity_and_problems() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("a.json"), "{}").expect("writable");
        let mut paths =
            Paths::new(&[dir.path().to_owned(), dir.path().join("missing"), PathBuf::from("-")]);
        let listing = paths.poll();
        assert_eq!(listing.units.len(), 2);
        let key = listing.units[0].key.as_ref().expect("a file has an identity");
        assert_eq!(key.size, 2);
        assert_eq!(listing.units[1], Unit { input: Input::Stdin, key: None });
        assert_eq!(listing.problems.len(), 1, "the missing path");
        assert!(paths.poll().units.is_empty(), "listed once");
    }
}
