//! The configuration file, `tripline.toml`: what a deployment sets once — where the store is,
//! which rules and suppressions to load, the severity floor. Flags and environment variables
//! win over it; the binary merges them and passes the result down, so nothing reads a global.
//!
//! ```toml
//! store = "/var/lib/tripline/alerts.db"     # or "postgres://tripline@db/tripline"
//! rules = ["/etc/tripline/rules"]
//! suppressions = ["/etc/tripline/suppressions"]
//! min_severity = "medium"                    # scan and watch leave out rules below it
//!
//! [[outputs]]                                # besides stdout; see `sink::output`
//! to = "jsonl:/var/log/tripline/alerts.jsonl"
//! min_severity = "high"
//! ```
//!
//! Relative paths in it are relative to the file.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// What the file may set.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The store: a SQLite path or a `postgres://` URL.
    pub store: Option<String>,
    /// Rule files or folders, added to the built-in pack.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Suppression files or folders.
    #[serde(default)]
    pub suppressions: Vec<PathBuf>,
    /// Rules that can never raise anything this severe are left out (`--min-severity`).
    pub min_severity: Option<tripline_rule::Severity>,
    /// Where results go besides stdout (`[[outputs]]`).
    #[serde(default, deserialize_with = "outputs")]
    pub outputs: Vec<crate::sink::OutputSpec>,
}

fn outputs<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<crate::sink::OutputSpec>, D::Error> {
    let raw: Vec<crate::sink::output::RawOutput> = Vec::deserialize(d)?;
    raw.into_iter()
        .map(|r| crate::sink::OutputSpec::try_from(r).map_err(serde::de::Error::custom))
        .collect()
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("failed to read the configuration {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file is not a valid configuration (the message carries line and column).
    #[error("{path} is not a valid configuration: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What the TOML reader said.
        message: String,
    },
}

impl Config {
    /// The configuration to use: `explicit` (from `--config` or `TRIPLINE_CONFIG`) must
    /// exist; else `tripline.toml` in the current folder when present; else none.
    ///
    /// # Errors
    /// When the file cannot be read or is not a valid configuration.
    pub fn find(explicit: Option<&Path>) -> Result<Self, ConfigError> {
        match explicit {
            Some(path) => Self::read(path),
            None => match Some(PathBuf::from("tripline.toml")).filter(|p| p.is_file()) {
                Some(path) => Self::read(&path),
                None => Ok(Self::default()),
            },
        }
    }

    /// Reads one configuration file; relative paths in it become relative to its folder.
    ///
    /// # Errors
    /// When the file cannot be read or is not a valid configuration.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let mut config: Self = toml::from_str(&text)
            .map_err(|e| ConfigError::Invalid { path: path.to_owned(), message: e.to_string() })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let relative = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        config.rules.iter_mut().for_each(relative);
        config.suppressions.iter_mut().for_each(relative);
        for output in &mut config.outputs {
            if output.is_file() && Path::new(&output.target).is_relative() {
                output.target = base.join(&output.target).to_string_lossy().into_owned();
            }
        }
        if let Some(store) = &mut config.store {
            if !store.contains("://") && Path::new(store.as_str()).is_relative() {
                *store = base.join(store.as_str()).to_string_lossy().into_owned();
            }
        }
        Ok(config)
    }
}
