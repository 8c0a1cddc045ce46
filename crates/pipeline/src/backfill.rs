//! `tripline enqueue`: history put on a queue. The objects of an `s3://` prefix that the same
//! narrowing as a scan's selects ([`crate::source::objects`]) are sent to the queue as the S3
//! event notifications S3 itself would have sent, so a fleet of workers reads a backfill
//! exactly as it reads live deliveries, each object by whichever worker receives it.

use tripline_io::aws::s3::S3;
use tripline_io::aws::sqs::Queue;
use tripline_io::aws::Aws;
use tripline_io::bucket::BucketListing;
use tripline_io::notification::{object_created, ObjectRef};

use crate::source::objects::{split, Remote};

/// What a backfill put on the queue, and what it left out.
#[derive(Debug, Default)]
pub struct Enqueued {
    /// Notifications sent, one per object.
    pub objects: u64,
    /// What the walk of the bucket found besides.
    pub listing: BucketListing,
}

/// Sends a notification for each object of `url` (`s3://bucket/prefix`) that `remote`'s
/// narrowing selects to the queue at `queue_url`.
///
/// # Errors
/// When the bucket cannot be listed or the queue refuses messages (what was sent before stays
/// sent: sending again is harmless, as workers recognise what they have read).
pub fn enqueue(remote: &Remote, url: &str, queue_url: &str) -> Result<Enqueued, String> {
    let (bucket, prefix) = split(url).ok_or("is not an S3 URL: use s3://bucket/prefix")?;
    let aws = Aws::connect(&remote.aws).map_err(|e| format!("cannot start the AWS client: {e}"))?;
    let mut listing =
        tripline_io::bucket::walk(&S3::new(&aws).bucket(bucket), prefix, &remote.narrowing)?;
    let queue = Queue::locate(&aws, queue_url)?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let region = remote.aws.region.as_deref().unwrap_or("us-east-1");
    let bodies: Vec<String> = listing
        .objects
        .iter()
        .map(|o| {
            let object = ObjectRef {
                bucket: bucket.to_owned(),
                key: o.key.clone(),
                size: Some(o.size),
                etag: Some(o.etag.clone()),
            };
            object_created(&object, region, &now)
        })
        .collect();
    queue.send_all(&bodies).map_err(|e| format!("{queue_url}: {e}"))?;
    let objects = std::mem::take(&mut listing.objects).len() as u64;
    Ok(Enqueued { objects, listing })
}
