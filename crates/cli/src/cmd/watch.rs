//! `tripline watch DIR --store …`: follow a folder as CloudTrail (or a sync of its bucket)
//! delivers files into it. Each poll evaluates the files the store has not processed yet —
//! each exactly once, across restarts, because the store keeps the checkpoints — and prints
//! their new signals and the alerts they raised or extended.
//!
//! Files come from a `Folder` source, which offers each file once it has settled and until
//! its results are committed. Polling, not file-system events: it works the same on local disks, network mounts and
//! synced folders, and a poll every few seconds is plenty for logs delivered every 5 minutes.
//!
//! `watch --queue URL` follows an SQS queue of notifications instead (`QueueSource`): each
//! poll is one receive with long polling, and a message is deleted once everything it named is
//! committed.

use std::path::PathBuf;
use std::time::Duration;

use tripline_pipeline::scan::TimeRange;
use tripline_pipeline::source::{Folder, Source};

use tripline_pipeline::run::stored::{
    apply_retention, deliver, open, pending, read_and_commit, write_results, Outputs, RunState,
};
use tripline_pipeline::Totals;

use super::ExitStatus;
use crate::options::{AwsArgs, DetectArgs, OutputArgs, RuleArgs};

#[derive(clap::Args)]
pub struct Args {
    /// The folder to follow (any `AWSLogs/…` layout under it).
    #[arg(required_unless_present = "queue", conflicts_with = "queue")]
    dir: Option<PathBuf>,
    /// Follow this SQS queue of S3 (or SNS, EventBridge, CloudTrail) notifications instead.
    #[arg(long, value_name = "URL")]
    queue: Option<String>,
    #[command(flatten)]
    queue_args: QueueArgs,
    #[command(flatten)]
    aws: AwsArgs,
    /// The store that remembers processed files and alerts: a SQLite path or `postgres://` URL.
    #[arg(long, env = "TRIPLINE_STORE", value_name = "PATH|URL")]
    store: Option<String>,
    #[command(flatten)]
    rules: RuleArgs,
    #[command(flatten)]
    detect: DetectArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// How often to look for new files.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Leave files modified more recently than this alone until a later poll (a file still
    /// being written is read once it is complete).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    settle: Duration,
    /// Stop after this many polls (for scripts and tests); by default, run until stopped.
    #[arg(long)]
    polls: Option<u64>,
    /// Print only problems and findings, not a line per poll that found files.
    #[arg(long, short)]
    quiet: bool,
}

/// How a queue is read.
#[derive(clap::Args)]
struct QueueArgs {
    /// How long one receive waits for messages (long polling, at most 20s).
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    wait: Duration,
    /// How long a received message stays hidden from other workers; extended while its
    /// objects are processed.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    visibility: Duration,
    /// Delete messages that can never succeed (not a notification, an object that is gone);
    /// by default they are left for the queue's redrive policy (a dead-letter queue).
    #[arg(long)]
    delete_bad_messages: bool,
    /// Stop once a poll receives nothing and no message is in flight (drain the queue).
    #[arg(long)]
    until_empty: bool,
}

/// What is followed.
enum Followed {
    Folder(Folder),
    #[cfg(feature = "aws")]
    Queue(tripline_pipeline::source::queue::QueueSource),
}

impl Followed {
    fn open(args: &Args) -> anyhow::Result<(Self, String)> {
        if let Some(dir) = &args.dir {
            if !dir.is_dir() {
                anyhow::bail!("{} is not a folder to watch", dir.display());
            }
            return Ok((Self::Folder(Folder::new(dir, args.settle)), dir.display().to_string()));
        }
        let url = args.queue.clone().unwrap_or_default();
        #[cfg(feature = "aws")]
        {
            use tripline_pipeline::source::queue::{QueueOptions, QueueSource};
            let options = QueueOptions {
                url: url.clone(),
                aws: args.aws.options(),
                wait: args.queue_args.wait.min(Duration::from_secs(20)),
                visibility: args.queue_args.visibility.max(Duration::from_secs(1)),
                delete_bad: args.queue_args.delete_bad_messages,
            };
            let source = QueueSource::new(options)
                .map_err(|e| anyhow::anyhow!("cannot start the AWS client: {e}"))?;
            Ok((Self::Queue(source), url))
        }
        #[cfg(not(feature = "aws"))]
        anyhow::bail!(
            "{url}: this build of tripline reads no queue (built without the `aws` feature)"
        )
    }

    fn source(&mut self) -> &mut dyn Source {
        match self {
            Self::Folder(folder) => folder,
            #[cfg(feature = "aws")]
            Self::Queue(queue) => queue,
        }
    }

    /// For a queue: nothing received by the last poll and nothing in flight.
    #[cfg_attr(not(feature = "aws"), allow(unused_variables))] // only a queue drains
    fn drained(&self, received_before: u64) -> bool {
        match self {
            Self::Folder(_) => false,
            #[cfg(feature = "aws")]
            Self::Queue(queue) => {
                queue.counts.received == received_before && queue.in_flight() == 0
            }
        }
    }

    fn received(&self) -> u64 {
        match self {
            Self::Folder(_) => 0,
            #[cfg(feature = "aws")]
            Self::Queue(queue) => queue.counts.received,
        }
    }

    /// The queue's counts, for the summary.
    fn describe(&self) -> Option<String> {
        match self {
            Self::Folder(_) => None,
            #[cfg(feature = "aws")]
            Self::Queue(queue) => {
                let c = &queue.counts;
                Some(format!(
                    "queue: {} message(s) received, {} done and deleted, {} asking for nothing, {} that can never succeed, {} in flight",
                    c.received, c.done, c.ignored, c.bad, queue.in_flight()
                ))
            }
        }
    }
}

pub fn run(args: &Args, config: &tripline_pipeline::Config) -> anyhow::Result<ExitStatus> {
    let (mut followed, what) = Followed::open(args)?;
    let location = crate::options::store(args.store.as_ref(), config)?;
    let setup = crate::options::setup(&args.rules, &args.detect, config, args.quiet)?;
    let mut store = open(&location)?;
    // Notifying outputs are opened once and fed from the outbox; the others once per poll.
    let specs = args.output.specs(config)?;
    let outbox = OutputArgs::outbox_of(&specs)?;
    let rules =
        setup.ruleset.rules.iter().map(|r| (r.meta.id.clone(), std::sync::Arc::clone(r))).collect();
    if !args.quiet {
        note!(
            "watching {} every {} (store {})",
            what,
            humantime::format_duration(args.interval),
            store.label()
        );
    }
    let mut status = ExitStatus::Success;
    let mut poll = 0;
    loop {
        let received_before = followed.received();
        let source = followed.source();
        let listing = source.poll();
        for problem in &listing.problems {
            note!("{problem}");
            if !problem.warning {
                status = ExitStatus::Error;
            }
        }
        let mut run = RunState::default();
        let todo = pending(&mut store, &setup, source, listing.units, &mut run)?;
        if !todo.is_empty() {
            let mut totals = Totals { files: todo.len() as u64, ..Totals::default() };
            // Outputs are opened for each poll that found files: the table is one per poll.
            let mut router = OutputArgs::router_of(&specs, &setup, true)?;
            let mut print = |problem: &tripline_io::Problem| note!("{problem}");
            if read_and_commit(
                &mut store,
                &setup,
                source,
                &todo,
                TimeRange::default(),
                &mut run,
                &mut totals,
                &mut Outputs { router: &mut router, outbox: &outbox, rules: &rules },
                &mut print,
            )? {
                status = ExitStatus::Error;
            }
            let alerts = write_results(&mut router, &mut run)?;
            if crate::options::finish_outputs(&mut router, args.quiet)? {
                status = ExitStatus::Error;
            }
            if !alerts.is_empty() && status == ExitStatus::Success {
                status = ExitStatus::Findings;
            }
            crate::options::report_suppressions(&setup, &totals.suppressed, true);
            if !args.quiet {
                note!(
                    "{}; {} new signal(s), {} alert(s) raised or extended",
                    totals.describe(),
                    run.fresh,
                    alerts.len()
                );
            }
        }
        // Every poll, new files or not: a receiver that was down gets its backlog.
        if crate::options::report_outbox(&deliver(&mut store, &outbox)?, args.quiet) {
            status = ExitStatus::Error;
        }
        if let Some(retention) = config.retention {
            apply_retention(&mut store, retention)?;
        }
        poll += 1;
        let drained = args.queue_args.until_empty && followed.drained(received_before);
        if args.polls.is_some_and(|n| poll >= n) || drained {
            if let (false, Some(counts)) = (args.quiet, followed.describe()) {
                note!("{counts}");
            }
            return Ok(status);
        }
        // A queue's receive waits for messages itself.
        if matches!(followed, Followed::Folder(_)) {
            std::thread::sleep(args.interval);
        }
    }
}
