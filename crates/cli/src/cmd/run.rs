//! `tripline run`: the long-running service. It follows what `[run]` in `tripline.toml` (or
//! the flags) names — SQS queues of notifications, folders, or both — with the store and outputs
//! of the configuration, answers `/metrics`, `/healthz` and `/readyz`, and drains on SIGTERM or
//! SIGINT: the poll at hand finishes and commits, then it stops taking work and exits.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use tripline_pipeline::metrics::Metrics;

use super::follow::{follow, FollowArgs, Followed};
use super::ExitStatus;
use crate::options::{AwsArgs, DetectArgs, OutputArgs, RuleArgs};

#[derive(clap::Args)]
pub struct Args {
    /// An SQS queue of notifications to follow: its URL or `sqs://NAME` (repeat for several;
    /// else `[run] queue`).
    #[arg(long, value_name = "URL")]
    queue: Vec<String>,
    /// A folder to follow (repeat for several; else `[run] folder`). Given flags replace
    /// what `[run]` names.
    #[arg(long, value_name = "DIR")]
    folder: Vec<PathBuf>,
    /// The store: a SQLite path or a `postgres://` URL (several workers share a PostgreSQL one).
    #[arg(long, env = "TRIPLINE_STORE", value_name = "PATH|URL")]
    store: Option<String>,
    /// The address of /metrics, /healthz and /readyz (else `[run] listen`, else
    /// 127.0.0.1:9464); `off` for none.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    #[command(flatten)]
    rules: RuleArgs,
    #[command(flatten)]
    detect: DetectArgs,
    #[command(flatten)]
    output: OutputArgs,
    #[command(flatten)]
    follow: FollowArgs,
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
    let flagged = !args.queue.is_empty() || !args.folder.is_empty();
    let (queues, folders) = if flagged {
        (args.queue.clone(), args.folder.clone())
    } else {
        (settings.queue.clone(), settings.folder.clone())
    };
    let f = &args.follow;
    let mut queue_args = f.queue.clone();
    queue_args.delete_bad_messages |= settings.delete_bad_messages;
    let aws = AwsArgs::with_endpoint(&f.aws, settings.endpoint_url.as_deref());
    let (followed, what) = Followed::open(&folders, f.settle, &queues, &queue_args, &aws)?;
    let location = crate::options::store(args.store.as_ref(), config)?;
    let setup = crate::options::setup(&args.rules, &args.detect, config, f.quiet)?;
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
    if !f.quiet {
        note!("running: following {what} (store {})", tripline_store::redact(&location));
    }
    let how = f.how(stop, metrics);
    follow(followed, &location, &setup, &args.output, config, &how)
}
