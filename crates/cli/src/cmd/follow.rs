//! Following a source with a store, poll after poll — what `watch` and `run` share. Each poll
//! evaluates what the store has not processed yet, commits it, acknowledges it to the source
//! (a queue deletes its messages then), delivers the outbox and applies the retention. A stop
//! asked for (SIGTERM, SIGINT) is taken between polls: the poll at hand finishes and commits,
//! then no more is taken.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tripline_pipeline::metrics::Metrics;
use tripline_pipeline::run::stored::{
    apply_retention, deliver, open, pending, read_and_commit, write_results, Outputs, RunState,
};
use tripline_pipeline::scan::TimeRange;
use tripline_pipeline::source::Source;
use tripline_pipeline::{Config, Setup, Totals};

pub use super::followed::Followed;
use super::ExitStatus;
use crate::options::{AwsArgs, OutputArgs};

/// How often to look, and when to stop: what `watch` and `run` take alike.
#[derive(clap::Args)]
pub struct FollowArgs {
    /// How often to look into a folder (a queue's receive waits for messages itself).
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    pub interval: Duration,
    /// Leave files modified more recently than this alone until a later poll (a file still
    /// being written is read once it is complete).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    pub settle: Duration,
    /// Stop after this many polls (for scripts and tests); by default, run until stopped.
    #[arg(long)]
    pub polls: Option<u64>,
    /// Print only problems and findings, not a line per poll that found files.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub queue: QueueArgs,
    #[command(flatten)]
    pub aws: AwsArgs,
}

impl FollowArgs {
    /// How to follow, stopping when `stop` is set, counting into `metrics`.
    pub fn how(&self, stop: Arc<AtomicBool>, metrics: Arc<Metrics>) -> Follow {
        Follow {
            interval: self.interval,
            polls: self.polls,
            until_empty: self.queue.until_empty,
            quiet: self.quiet,
            stop,
            metrics,
        }
    }
}

/// How a queue is read.
#[derive(clap::Args, Clone)]
pub struct QueueArgs {
    /// How long one receive waits for messages (long polling, at most 20s).
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    pub wait: Duration,
    /// How long a received message stays hidden from other workers; extended while its
    /// objects are processed.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub visibility: Duration,
    /// Delete messages that can never succeed (not a notification, an object that is gone);
    /// by default they are left for the queue's redrive policy (a dead-letter queue).
    #[arg(long)]
    pub delete_bad_messages: bool,
    /// Stop once a poll receives nothing and no message is in flight (drain the queue).
    #[arg(long)]
    pub until_empty: bool,
}

/// When to stop, and what to tell.
pub struct Follow {
    /// How long to wait between polls of a folder (a queue's receive waits itself).
    pub interval: Duration,
    /// Stop after this many polls.
    pub polls: Option<u64>,
    /// Stop once a queue is drained.
    pub until_empty: bool,
    /// Print only problems and findings.
    pub quiet: bool,
    /// Set when a stop is asked for: the poll at hand finishes, then the loop ends.
    pub stop: Arc<AtomicBool>,
    /// Where the counts go, for `/metrics`.
    pub metrics: Arc<Metrics>,
}

/// Follows `followed` with the store at `location` until told to stop.
///
/// # Errors
/// When the store or an output fails.
pub fn follow(
    mut followed: Followed,
    location: &str,
    setup: &Setup,
    output: &OutputArgs,
    config: &Config,
    how: &Follow,
) -> anyhow::Result<ExitStatus> {
    let mut store = open(location)?;
    // Notifying outputs are opened once and fed from the outbox; the others once per poll.
    let specs = output.specs(config)?;
    let outbox = OutputArgs::outbox_of(&specs)?;
    let rules = setup.ruleset.rules.iter().map(|r| (r.meta.id.clone(), Arc::clone(r))).collect();
    let metrics = &how.metrics;
    metrics.ready.store(true, Ordering::Relaxed);
    let mut status = ExitStatus::Success;
    let mut poll = 0;
    let started = std::time::Instant::now();
    loop {
        let received_before = followed.received();
        let source = &mut followed;
        let listing = source.poll();
        for problem in &listing.problems {
            note!("{problem}");
            if !problem.warning {
                status = ExitStatus::Error;
            }
        }
        // What the listing skipped (a queue's notifications of digests and other services'
        // logs), counted with the poll.
        let listed = Totals::listed(&listing);
        let skipped = listed.digests + listed.other_services.values().sum::<u64>();
        let mut run = RunState::default();
        let todo = pending(&mut store, setup, source, listing.units, &mut run)?;
        if todo.is_empty() && skipped > 0 && !how.quiet {
            note!("{}", listed.describe());
        }
        if !todo.is_empty() {
            let mut totals = Totals { files: todo.len() as u64, ..listed };
            // Outputs are opened for each poll that found files: the table is one per poll.
            let mut router = OutputArgs::router_of(&specs, setup, true)?;
            let mut print = |problem: &tripline_io::Problem| note!("{problem}");
            if read_and_commit(
                &mut store,
                setup,
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
            if crate::options::finish_outputs(&mut router, how.quiet)? {
                status = ExitStatus::Error;
            }
            if !alerts.is_empty() && status == ExitStatus::Success {
                status = ExitStatus::Findings;
            }
            crate::options::report_suppressions(setup, &totals.suppressed, true);
            if !how.quiet {
                note!(
                    "{}; {} new signal(s), {} alert(s) raised or extended",
                    totals.describe(),
                    run.fresh,
                    alerts.len()
                );
            }
            Metrics::add(&metrics.records, totals.records);
            Metrics::add(&metrics.bytes, totals.bytes);
            Metrics::add(&metrics.bad_records, totals.bad_records);
            Metrics::add(&metrics.bad_inputs, totals.bad_files);
            Metrics::add(&metrics.signals, run.fresh);
            Metrics::add(&metrics.alerts_raised, run.raised);
            let extended = alerts.len() as u64 - run.raised.min(alerts.len() as u64);
            Metrics::add(&metrics.alerts_extended, extended);
            if let Some(newest) = &totals.newest_event {
                metrics.saw_event(newest);
            }
        }
        // Every poll, new files or not: a receiver that was down gets its backlog.
        let delivered = deliver(&mut store, &outbox)?;
        for (_, report) in &delivered {
            Metrics::add(&metrics.notifications_sent, report.delivered);
            Metrics::add(&metrics.notifications_failed, report.failed);
            Metrics::add(&metrics.notifications_dead, report.dead);
        }
        if crate::options::report_outbox(&delivered, how.quiet) {
            status = ExitStatus::Error;
        }
        if let Some(retention) = config.retention {
            apply_retention(&mut store, retention)?;
        }
        poll += 1;
        Metrics::add(&metrics.polls, 1);
        followed.measure(metrics);
        metrics.store_timings(&store.write_timings());
        let drained = how.until_empty && followed.drained(received_before);
        let stopping = how.stop.load(Ordering::Relaxed);
        if how.polls.is_some_and(|n| poll >= n) || drained || stopping {
            metrics.ready.store(false, Ordering::Relaxed);
            if stopping {
                note!("stopping: every unit taken was committed; no more will be taken");
            }
            if !how.quiet {
                followed.describe().iter().for_each(|counts| note!("{counts}"));
            }
            if !how.quiet {
                note!("{}", describe_writing(&store.write_timings(), started.elapsed()));
            }
            return Ok(status);
        }
        // A queue's receive waits for messages itself.
        if !followed.has_queue() {
            sleep_unless_stopped(how.interval, &how.stop);
        }
    }
}

/// Where the store's writing time went, against the time followed: what a worker of a fleet
/// spends waiting for the others at the store's lock.
fn describe_writing(timings: &tripline_store::WriteTimings, running: Duration) -> String {
    let share = |d: Duration| 100.0 * d.as_secs_f64() / running.as_secs_f64().max(1e-9);
    format!(
        "store: {} write transaction(s) in {:.2}s running; {:.3}s ({:.1}%) waiting for the write lock, {:.3}s ({:.1}%) holding it",
        timings.transactions,
        running.as_secs_f64(),
        timings.waiting.as_secs_f64(),
        share(timings.waiting),
        timings.holding.as_secs_f64(),
        share(timings.holding)
    )
}

/// Sleeps for `span`, waking early when a stop is asked for.
fn sleep_unless_stopped(span: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(100);
    let mut slept = Duration::ZERO;
    while slept < span && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step.min(span - slept));
        slept += step;
    }
}
