//! `tripline run`: the long-running service. It follows what `[run]` in `tripline.toml` (or
//! the flags) names — an SQS queue of notifications, or a folder — with the store and outputs
//! of the configuration, answers `/metrics`, `/healthz` and `/readyz`, and drains on SIGTERM or
//! SIGINT: the poll at hand finishes and commits, then it stops taking work and exits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use tripline_pipeline::metrics::Metrics;

use super::follow::{follow, Follow, Followed, QueueArgs};
use super::ExitStatus;
use crate::options::{AwsArgs, DetectArgs, OutputArgs, RuleArgs};

#[derive(clap::Args)]
pub struct Args {
    /// An SQS queue of notifications to follow (else `[run] queue`).
    #[arg(long, value_name = "URL")]
    queue: Option<String>,
    /// A folder to follow instead (else `[run] folder`).
    #[arg(long, value_name = "DIR", conflicts_with = "queue")]
    folder: Option<PathBuf>,
    /// The store: a SQLite path or a `postgres://` URL (several workers share a PostgreSQL one).
    #[arg(long, env = "TRIPLINE_STORE", value_name = "PATH|URL")]
    store: Option<String>,
    /// The address of /metrics, /healthz and /readyz (else `[run] listen`, else
    /// 127.0.0.1:9464); `off` for none.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    #[command(flatten)]
    queue_args: QueueArgs,
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    rules: RuleArgs,
    #[command(flatten)]
    detect: DetectArgs,
    #[command(flatten)]
    output: OutputArgs,
    /// How often to look into a folder.
    #[arg(long, default_value = "5s", value_parser = humantime::parse_duration)]
    interval: Duration,
    /// Leave files modified more recently than this alone until a later poll.
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    settle: Duration,
    /// Stop after this many polls (for scripts and tests); by default, run until stopped.
    #[arg(long)]
    polls: Option<u64>,
    /// Print only problems and findings.
    #[arg(long, short)]
    quiet: bool,
    /// Messages on stderr as text lines, or as JSON objects (time, level, message).
    #[arg(long, value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

const DEFAULT_LISTEN: &str = "127.0.0.1:9464";

pub fn run(args: &Args, config: &tripline_pipeline::Config) -> anyhow::Result<ExitStatus> {
    if matches!(args.log_format, LogFormat::Json) {
        crate::log::set_json();
    }
    let settings = &config.run;
    let queue = args.queue.clone().or_else(|| settings.queue.clone());
    let folder = args.folder.clone().or_else(|| settings.folder.clone());
    let (queue, folder) = if args.queue.is_some() { (queue, None) } else { (queue, folder) };
    let mut queue_args = args.queue_args.clone();
    queue_args.delete_bad_messages |= settings.delete_bad_messages;
    let aws = AwsArgs::with_endpoint(&args.aws, settings.endpoint_url.as_deref());
    let (followed, what) =
        Followed::open(folder.as_ref(), args.settle, queue.as_ref(), &queue_args, &aws)?;
    let location = crate::options::store(args.store.as_ref(), config)?;
    let setup = crate::options::setup(&args.rules, &args.detect, config, args.quiet)?;
    let metrics = Arc::new(Metrics::default());
    let listen =
        args.listen.clone().or_else(|| settings.listen.clone()).unwrap_or(DEFAULT_LISTEN.into());
    if listen != "off" {
        let addr: SocketAddr = listen
            .parse()
            .map_err(|e| anyhow::anyhow!("--listen `{listen}` is not an address: {e}"))?;
        let bound = crate::serve::spawn(addr, Arc::clone(&metrics))
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        note!("serving /metrics, /healthz and /readyz on http://{bound}");
    }
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    if !args.quiet {
        note!("running: following {what} (store {})", tripline_store::redact(&location));
    }
    let how = Follow {
        interval: args.interval,
        polls: args.polls,
        until_empty: args.queue_args.until_empty,
        quiet: args.quiet,
        stop,
        metrics,
    };
    follow(followed, &location, &setup, &args.output, config, &how)
}
