//! `tripline store check`: the store's full integrity check, read-only. A store SQLite finds
//! damaged is refused by every other command before anything is written to it; this says what
//! is wrong with it.

use std::io::Write;

use anyhow::{bail, Context};

use super::ExitStatus;

#[derive(clap::Subcommand)]
pub enum Command {
    /// Run the store's full integrity check (it is only read); exit 2 when it is damaged.
    Check {
        /// The store: a SQLite file path or a `postgres://` URL.
        #[arg(long, env = "TRIPLINE_STORE", value_name = "PATH|URL")]
        store: Option<String>,
    },
}

pub fn run(command: &Command, config: &tripline_pipeline::Config) -> anyhow::Result<ExitStatus> {
    let Command::Check { store } = command;
    let location = crate::options::store(store.as_ref(), config)?;
    let label = tripline_store::redact(&location);
    if !location.contains("://") && !std::path::Path::new(&location).exists() {
        bail!("no store at {label}");
    }
    let findings = tripline_store::check(&location)
        .with_context(|| format!("failed to check the store {label}"))?;
    let mut out = std::io::stdout().lock();
    if findings.is_empty() {
        writeln!(out, "store {label}: ok (integrity check passed)")?;
        return Ok(ExitStatus::Success);
    }
    writeln!(out, "store {label}: damaged")?;
    for finding in &findings {
        writeln!(out, "  {finding}")?;
    }
    Ok(ExitStatus::Error)
}
