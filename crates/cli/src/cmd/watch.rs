//! `tripline watch DIR --store …`: follow a folder as CloudTrail (or a sync of its bucket)
//! delivers files into it. Each poll evaluates the files the store has not processed yet —
//! each exactly once, across restarts, because the store keeps the checkpoints — and prints
//! their new signals and the alerts they raised or extended.
//!
//! Files come from a `Folder` source, which offers each file once it has settled and until
//! its results are committed. Polling, not file-system events: it works the same on local disks, network mounts and
//! synced folders, and a poll every few seconds is plenty for logs delivered every 5 minutes.
//!
//! `watch --queue URL` (or `watch sqs://NAME`) follows an SQS queue of notifications instead (`QueueSource`): each
//! poll is one receive with long polling, and a message is deleted once everything it named is
//! committed.

use std::path::PathBuf;

use super::follow::{follow, FollowArgs, Followed};
use super::ExitStatus;
use crate::options::{DetectArgs, OutputArgs, RuleArgs};

#[derive(clap::Args)]
pub struct Args {
    /// The folder to follow (any `AWSLogs/…` layout under it), or a queue as `sqs://NAME`.
    #[arg(required_unless_present = "queue", conflicts_with = "queue", value_name = "DIR|SQS")]
    dir: Option<PathBuf>,
    /// Follow this SQS queue of S3 (or SNS, EventBridge, CloudTrail) notifications instead: its
    /// URL, or `sqs://[ACCOUNT/]NAME`.
    #[arg(long, value_name = "URL")]
    queue: Option<String>,
    /// The store that remembers processed files and alerts: a SQLite path or `postgres://` URL.
    #[arg(long, env = "TRIPLINE_STORE", value_name = "PATH|URL")]
    store: Option<String>,
    #[command(flatten)]
    rules: RuleArgs,
    #[command(flatten)]
    detect: DetectArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    follow: FollowArgs,
}

pub fn run(args: &Args, config: &tripline_pipeline::Config) -> anyhow::Result<ExitStatus> {
    let f = &args.follow;
    // `watch sqs://NAME` names a queue where a folder would go.
    let named_queue =
        args.dir.as_ref().and_then(|d| d.to_str()).filter(|d| d.starts_with("sqs://"));
    let (dir, queue) = match named_queue {
        Some(queue) => (None, Some(queue.to_owned())),
        None => (args.dir.clone(), args.queue.clone()),
    };
    let (folders, queues): (Vec<PathBuf>, Vec<String>) =
        (dir.into_iter().collect(), queue.into_iter().collect());
    let (followed, what) = Followed::open(&folders, f.settle, &queues, &f.queue, &f.aws)?;
    let location = crate::options::store(args.store.as_ref(), config)?;
    let setup = crate::options::setup(&args.rules, &args.detect, config, f.quiet)?;
    if !f.quiet {
        note!(
            "watching {} every {} (store {})",
            what,
            humantime::format_duration(f.interval),
            tripline_store::redact(&location)
        );
    }
    let how = f.how(std::sync::Arc::default(), std::sync::Arc::default());
    follow(followed, &location, &setup, &args.output, config, &how)
}
