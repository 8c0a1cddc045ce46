//! Durable alert state. The central type is [`Store`]: alerts, the rules' open windows, the
//! signals already seen and per-input checkpoints, in SQLite (embedded, the default) or
//! PostgreSQL (shared by several processes).
//!
//! The design decision: everything one input changes — its signals, the alerts they raise or
//! extend, the rules' window state and the input's checkpoint — is written in one transaction,
//! under a store-wide write lock. A process killed at any moment leaves either all of an input
//! or none of it, so running again processes exactly what is missing; two processes never
//! interleave their updates to the same alert.
#![deny(missing_docs)]

mod backend;
mod guides;
mod ingest;
mod outbox;
mod packed;
mod postgres;
mod purge;
mod queries;
mod rulesets;
mod schema;
mod sqlite;
mod work;

use std::path::Path;

pub use backend::Value;
pub use guides::RuleGuide;
pub use ingest::{Correlations, Incoming, Ingested, InputBatch};
pub use outbox::{DeliveryOutcome, NoNotifier, Notifier, OutboxEntry, OutboxRow, OutboxStatus};
pub use purge::Purged;
pub use queries::{AlertFilter, Note, Status, StoredAlert, StoredSignal};
pub use rulesets::{rule_set_digest, Checkpoint, RuleFingerprints};

use backend::Backend;

/// What went wrong with a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed. The message is SQLite's alone (the path is what every caller names the
    /// store by already, and SQLite's own error chain would repeat its message).
    #[error("SQLite: {cause}")]
    Sqlite {
        /// The database file.
        path: String,
        /// What SQLite said.
        cause: rusqlite::Error,
    },
    /// SQLite's integrity check found the store damaged; nothing was written to it.
    #[error("damaged ({findings}); nothing was written to it. Restore it from a backup, or start a new store (which raises every alert again); `tripline store check --store {path}` lists what SQLite found")]
    Damaged {
        /// The database file.
        path: String,
        /// What the check found, first findings.
        findings: String,
    },
    /// A SQLite store's folder does not exist.
    #[error("sqlite store `{path}`: the folder `{folder}` does not exist (create it first if the path is right: a new store raises every alert again)")]
    NoFolder {
        /// The database file.
        path: String,
        /// Its folder.
        folder: String,
    },
    /// PostgreSQL failed.
    #[error("postgres store: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// The store's schema is newer than this build knows.
    #[error("the store's schema is version {found}, newer than this build of tripline ({known}); upgrade tripline")]
    SchemaTooNew {
        /// The version in the store.
        found: i64,
        /// The newest version this build has.
        known: i64,
    },
    /// A stored value could not be read back.
    #[error("corrupt store data: {0}")]
    Corrupt(String),
}

/// Shorthand for store results.
pub type Result<T> = std::result::Result<T, StoreError>;

/// Identifies one input's content: a file by path, size and modification time (or an S3 object
/// by key and ETag). A file that changed is processed again; its old signals are recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputKey {
    /// The canonical path or URL.
    pub input: String,
    /// Size in bytes.
    pub size: i64,
    /// Modification time (RFC 3339) or ETag.
    pub version: String,
}

impl InputKey {
    /// The key of a file as it is now.
    ///
    /// # Errors
    /// When the file cannot be inspected.
    pub fn of_file(path: &Path) -> std::io::Result<Self> {
        let canonical = std::fs::canonicalize(path)?;
        let meta = std::fs::metadata(&canonical)?;
        let modified = meta
            .modified()
            .map(chrono::DateTime::<chrono::Utc>::from)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
            .unwrap_or_default();
        Ok(Self {
            input: canonical.to_string_lossy().into_owned(),
            size: i64::try_from(meta.len()).unwrap_or(i64::MAX),
            version: modified,
        })
    }
}

/// The alert store.
pub struct Store {
    backend: Box<dyn Backend>,
    label: String,
    timings: WriteTimings,
}

/// Where this connection's writing time went: what a fleet's workers spend waiting for one
/// another at the store-wide lock, beside what they spend holding it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WriteTimings {
    /// Write transactions run.
    pub transactions: u64,
    /// Time spent starting them: waiting for the write lock (SQLite's `BEGIN IMMEDIATE`,
    /// PostgreSQL's advisory lock), which other writers hold meanwhile.
    pub waiting: std::time::Duration,
    /// Time spent inside them, lock held, commit included.
    pub holding: std::time::Duration,
}

impl Store {
    /// Opens (creating and migrating as needed) the store at `location`: a `postgres://` or
    /// `postgresql://` URL, else a SQLite file path.
    ///
    /// # Errors
    /// When the store cannot be opened or migrated.
    pub fn open(location: &str) -> Result<Self> {
        let backend: Box<dyn Backend> =
            if location.starts_with("postgres://") || location.starts_with("postgresql://") {
                Box::new(postgres::Postgres::connect(location)?)
            } else {
                Box::new(sqlite::Sqlite::open(Path::new(location))?)
            };
        let mut store = Self { backend, label: redact(location), timings: WriteTimings::default() };
        // Up to date is the usual case: then no write lock is taken just to open.
        if schema::version(store.backend.as_mut()).ok() != Some(schema::latest()) {
            store.write(|b| schema::migrate(b))?;
        }
        Ok(store)
    }

    /// The location, with any password removed.
    #[must_use]
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The schema version in use.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn schema_version(&mut self) -> Result<i64> {
        schema::version(self.backend.as_mut())
    }

    /// Whether `key` was fully processed already (same path, size and version).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn is_done(&mut self, key: &InputKey) -> Result<bool> {
        Ok(self.checkpoint(key)? != Checkpoint::Unread)
    }

    /// Where this connection's writing time went, since it was opened.
    #[must_use]
    pub fn write_timings(&self) -> WriteTimings {
        self.timings
    }

    /// Runs `f` in one write transaction under the store-wide lock; commits when it returns
    /// `Ok`, rolls back otherwise.
    fn write<T>(&mut self, f: impl FnOnce(&mut dyn Backend) -> Result<T>) -> Result<T> {
        let asked = std::time::Instant::now();
        self.backend.begin_write()?;
        let locked = std::time::Instant::now();
        let result = match f(self.backend.as_mut()) {
            Ok(value) => self.backend.commit().map(|()| value),
            Err(e) => {
                // The error that matters is the first one; a failed rollback ends the session.
                let _ = self.backend.rollback();
                Err(e)
            }
        };
        self.timings.transactions += 1;
        self.timings.waiting += locked - asked;
        self.timings.holding += locked.elapsed();
        result
    }
}

/// The full integrity check of the store at `location`, which is only read (a damaged store
/// cannot be opened for use, so this opens it on its own): what it found wrong, nothing when
/// sound. SQLite's `integrity_check`; a PostgreSQL server checks its own pages, so there the
/// check is that the store answers and its schema is one this build knows.
///
/// # Errors
/// When the store cannot be reached at all.
pub fn check(location: &str) -> Result<Vec<String>> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        let mut backend = postgres::Postgres::connect(location)?;
        backend.integrity(true)?;
        let version = schema::version(&mut backend)?;
        return Ok(if version > schema::latest() {
            vec![format!(
                "schema version {version} is newer than this build knows ({})",
                schema::latest()
            )]
        } else {
            Vec::new()
        });
    }
    sqlite::check_file(Path::new(location))
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`, for messages.
#[must_use]
pub fn redact(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else { return location.to_owned() };
    match rest.split_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None => location.to_owned(),
        },
        None => location.to_owned(),
    }
}
