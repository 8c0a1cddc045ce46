//! The optional configuration file: defaults for what a deployment sets once — where the store
//! is, which rules and suppressions to load. Flags and environment variables win over it.
//!
//! ```toml
//! store = "/var/lib/tripline/alerts.db"     # or "postgres://tripline@db/tripline"
//! rules = ["/etc/tripline/rules"]
//! suppressions = ["/etc/tripline/suppressions"]
//! min_severity = "medium"                    # scan and watch leave out rules below it
//! ```
//!
//! Found at `--config PATH`, `TRIPLINE_CONFIG`, or `tripline.toml` in the current folder.
//! Relative paths in it are relative to the file.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::Context;
use serde::Deserialize;

/// What the file may set.
#[derive(Debug, Default, Deserialize)]
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
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// The configuration in force (empty when there is no file).
pub fn get() -> &'static Config {
    CONFIG.get_or_init(Config::default)
}

/// Reads the configuration file, if any: `explicit` (from `--config` or `TRIPLINE_CONFIG`)
/// must exist; `tripline.toml` in the current folder is used when present.
///
/// # Errors
/// When the file cannot be read or is not a valid configuration.
pub fn load(explicit: Option<&Path>) -> anyhow::Result<()> {
    let path = match explicit {
        Some(path) => Some(path.to_owned()),
        None => Some(PathBuf::from("tripline.toml")).filter(|p| p.is_file()),
    };
    let config = match path {
        Some(path) => read(&path)?,
        None => Config::default(),
    };
    // Set once, before any command runs.
    let _ = CONFIG.set(config);
    Ok(())
}

fn read(path: &Path) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("failed to read the configuration {}", path.display()))?;
    let mut config: Config = toml::from_str(&text)
        .with_context(|| format!("{} is not a valid configuration", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let relative = |p: &mut PathBuf| {
        if p.is_relative() {
            *p = base.join(&*p);
        }
    };
    config.rules.iter_mut().for_each(relative);
    config.suppressions.iter_mut().for_each(relative);
    if let Some(store) = &mut config.store {
        if !store.contains("://") && Path::new(store.as_str()).is_relative() {
            *store = base.join(store.as_str()).to_string_lossy().into_owned();
        }
    }
    Ok(config)
}

/// The store from a flag (or its environment variable), else from the configuration.
///
/// # Errors
/// When neither names one.
pub fn store(flag: Option<&String>) -> anyhow::Result<String> {
    flag.cloned().or_else(|| get().store.clone()).context("no store given: pass --store PATH|URL, set TRIPLINE_STORE, or set `store` in tripline.toml")
}
