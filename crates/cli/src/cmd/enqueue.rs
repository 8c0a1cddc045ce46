//! `tripline enqueue s3://BUCKET/PREFIX --queue URL`: put history on a queue, one S3 event
//! notification per object, so that the workers following the queue process it in parallel.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use tripline_pipeline::scan::TimeRange;
use tripline_pipeline::source::objects::{narrowing, Remote};

use super::ExitStatus;
use crate::options::AwsArgs;

#[derive(clap::Args)]
pub struct Args {
    /// The objects to put on the queue: `s3://bucket/prefix`.
    #[arg(value_name = "S3_URL")]
    url: PathBuf,
    /// The SQS queue the workers follow: its URL, or `sqs://[ACCOUNT/]NAME`.
    #[arg(long, value_name = "URL")]
    queue: String,
    /// Only these accounts' logs (by the AWSLogs/ layout's key names; repeat or separate with
    /// commas).
    #[arg(long = "account", value_name = "ID", value_delimiter = ',')]
    accounts: Vec<String>,
    /// Only these regions' logs (repeat or separate with commas).
    #[arg(long = "region", value_name = "REGION", value_delimiter = ',')]
    regions: Vec<String>,
    /// Only the days holding records from this time (as for scan --since).
    #[arg(long, value_parser = super::scan::parse_time)]
    since: Option<DateTime<Utc>>,
    /// Only the days holding records before this time (as for scan --until).
    #[arg(long, value_parser = super::scan::parse_time)]
    until: Option<DateTime<Utc>>,
    #[command(flatten)]
    aws: AwsArgs,
    /// Print only problems.
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(args: &Args) -> anyhow::Result<ExitStatus> {
    let url = args.url.to_string_lossy();
    let range = TimeRange { since: args.since, until: args.until };
    let remote = Remote {
        aws: args.aws.options(),
        narrowing: narrowing(&args.accounts, &args.regions, range),
    };
    #[cfg(feature = "aws")]
    {
        let done = tripline_pipeline::backfill::enqueue(&remote, &url, &args.queue)
            .map_err(|e| anyhow::anyhow!("{url}: {e}"))?;
        if !args.quiet {
            let skipped: u64 = done.listing.folders_skipped.values().sum();
            note!(
                "enqueued {} object(s) of {url} on {} ({} digest(s) and {} other service file(s) met, {} folder(s) of digests and other services not listed)",
                done.objects,
                args.queue,
                done.listing.digests,
                done.listing.other_services.values().sum::<u64>(),
                skipped
            );
        }
        Ok(ExitStatus::Success)
    }
    #[cfg(not(feature = "aws"))]
    {
        let _ = remote;
        anyhow::bail!("{url}: this build of tripline reads no S3 (built without the `aws` feature)")
    }
}
