//! The subcommands: a plain enum and a `match`.

mod alerts;
mod docs;
mod enqueue;
mod follow;
mod followed;
mod lint;
mod outbox;
mod rules;
mod run;
mod scan;
mod scan_store;
mod store;
mod test;
mod watch;

use std::process::ExitCode;

use clap::Subcommand;

/// How a run ended; the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitStatus {
    /// 0: ran, nothing found.
    Success,
    /// 1: alerts raised (scan) or failures found (test).
    Findings,
    /// 2: input or rule errors; what could be processed still was.
    Error,
}

impl From<ExitStatus> for ExitCode {
    fn from(status: ExitStatus) -> Self {
        match status {
            ExitStatus::Success => Self::SUCCESS,
            ExitStatus::Findings => Self::from(1),
            ExitStatus::Error => Self::from(2),
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Scan CloudTrail logs (files, folders, `-` for stdin) with the rules.
    Scan(scan::Args),
    /// Follow a folder as CloudTrail delivers files into it, or an SQS queue of notifications
    /// (--queue); each file is evaluated once, and the store keeps state across restarts.
    Watch(watch::Args),
    /// Put the objects of an s3:// prefix on an SQS queue as S3 notifications, for the workers
    /// following it (`watch --queue`) to process in parallel (a backfill).
    Enqueue(enqueue::Args),
    /// The long-running service: follow the queue or folder `[run]` names, with the store and
    /// outputs of the configuration; /metrics, /healthz, /readyz; SIGTERM or SIGINT drains.
    Run(run::Args),
    /// Run every rule's inline tests, offline.
    Test(test::Args),
    /// List rules or show one.
    #[command(subcommand)]
    Rules(rules::Command),
    /// Check rules and suppressions: diagnostics, expired suppressions, ones that apply to nothing.
    Lint(lint::Args),
    /// Work with the alerts a store keeps: list, show, acknowledge, close.
    #[command(subcommand)]
    Alerts(alerts::Command),
    /// Check a store: SQLite's full integrity check.
    #[command(subcommand)]
    Store(store::Command),
    /// Print the completion script for a shell (`tripline completions bash > …`).
    Completions(docs::CompletionArgs),
    /// Print the man page (`tripline man > tripline.1`).
    Man,
}

pub fn run(command: Command, config: &tripline_pipeline::Config) -> anyhow::Result<ExitStatus> {
    match command {
        Command::Scan(args) => scan::run(&args, config),
        Command::Completions(args) => docs::completions(&args),
        Command::Man => docs::man(),
        Command::Test(args) => test::run(&args, config),
        Command::Watch(args) => watch::run(&args, config),
        Command::Enqueue(args) => enqueue::run(&args),
        Command::Run(args) => run::run(&args, config),
        Command::Rules(command) => rules::run(&command, config),
        Command::Alerts(command) => alerts::run(&command, config),
        Command::Lint(args) => lint::run(&args, config),
        Command::Store(command) => store::run(&command, config),
    }
}
