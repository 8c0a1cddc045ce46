//! `s3://bucket/prefix` inputs: the bucket walked as its layout allows
//! ([`tripline_io::bucket::walk`]: only the accounts, regions and days asked for are listed),
//! each object a unit named by its URL, its identity the URL and ETag. The S3 client is made
//! on the first such input, and only in a build with the `aws` feature.

use chrono::{Duration, Utc};
use tripline_io::bucket::Narrowing;
use tripline_io::object::AwsOptions;
use tripline_io::Problem;

use super::Listing;
use crate::scan::TimeRange;

/// How `s3://` inputs are reached and which of their objects are wanted.
#[derive(Debug, Clone, Default)]
pub struct Remote {
    /// How to reach AWS.
    pub aws: AwsOptions,
    /// What the key names must say.
    pub narrowing: Narrowing,
}

/// What key names must say for records of `accounts`, `regions` and `range`. CloudTrail files
/// sit under the day they were delivered, up to some minutes after their last record: a
/// record's file is on its own day or the next, so the listing runs to the day after the
/// last record asked for.
#[must_use]
pub fn narrowing(accounts: &[String], regions: &[String], range: TimeRange) -> Narrowing {
    let day = |t: chrono::DateTime<Utc>| t.format("%Y/%m/%d").to_string();
    Narrowing {
        accounts: accounts.to_vec(),
        regions: regions.to_vec(),
        first_day: range.since.map(day),
        last_day: range.until.map(|t| day(t + Duration::days(1))),
    }
}

/// The bucket and prefix of an `s3://` URL.
#[must_use]
pub fn split(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    (!bucket.is_empty()).then_some((bucket, prefix))
}

/// Lists `s3://` inputs, with the client made once.
#[derive(Default)]
pub(super) struct Objects {
    #[cfg_attr(not(feature = "aws"), allow(dead_code))] // what a build with S3 reads
    remote: Remote,
    #[cfg(feature = "aws")]
    client: Option<tripline_io::aws::s3::S3>,
}

impl Objects {
    pub(super) fn new(remote: Remote) -> Self {
        Self {
            remote,
            #[cfg(feature = "aws")]
            client: None,
        }
    }

    /// Adds the objects of `url` to `listing` (or the problem that kept them out).
    pub(super) fn list(&mut self, url: &str, listing: &mut Listing) {
        let Some((bucket, prefix)) = split(url) else {
            listing.problems.push(Problem::file(url, "is not an S3 URL: use s3://bucket/prefix"));
            return;
        };
        if let Err(problem) = self.walk(bucket, prefix, listing) {
            listing.problems.push(Problem::file(url, problem));
        }
    }

    #[cfg(not(feature = "aws"))]
    #[allow(clippy::unused_self)] // the same signature as with the feature
    fn walk(&mut self, _: &str, _: &str, _: &mut Listing) -> Result<(), String> {
        Err("this build of tripline reads no S3 (built without the `aws` feature)".into())
    }

    #[cfg(feature = "aws")]
    fn walk(&mut self, bucket: &str, prefix: &str, listing: &mut Listing) -> Result<(), String> {
        use std::sync::Arc;
        use tripline_io::object::ObjectInput;
        use tripline_io::Input;

        if self.client.is_none() {
            let aws = tripline_io::aws::Aws::connect(&self.remote.aws)
                .map_err(|e| format!("cannot start the AWS client: {e}"))?;
            self.client = Some(tripline_io::aws::s3::S3::new(&aws));
        }
        let client = self.client.as_ref().expect("made above");
        let found =
            tripline_io::bucket::walk(&client.bucket(bucket), prefix, &self.remote.narrowing)?;
        listing.digests += found.digests;
        super::add_counts(&mut listing.other_services, found.other_services);
        super::add_counts(&mut listing.folders_skipped, found.folders_skipped);
        let reader: Arc<dyn tripline_io::object::ObjectReader> = Arc::new(client.clone());
        for object in found.objects {
            let input = ObjectInput {
                bucket: bucket.to_owned(),
                key: object.key,
                etag: object.etag,
                size: object.size,
                reader: Arc::clone(&reader),
            };
            match super::unit_of(Input::Object(input)) {
                Ok(unit) => listing.units.push(unit),
                Err(problem) => listing.problems.push(problem),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        assert_eq!(split("s3://b"), Some(("b", "")));
        assert_eq!(split("s3://b/"), Some(("b", "")));
        assert_eq!(split("s3://b/AWSLogs/1/"), Some(("b", "AWSLogs/1/")));
        assert_eq!(split("s3:///x"), None);
        assert_eq!(split("/tmp/x"), None);
    }

    #[test]
    fn the_days_listed_run_from_the_first_records_day_to_the_day_after_the_last() {
        let at = |d, h| Utc.with_ymd_and_hms(2024, 8, d, h, 0, 0).single().expect("a time");
        let range = TimeRange { since: Some(at(1, 9)), until: Some(at(31, 23)) };
        let n = narrowing(&["111122223333".into()], &[], range);
        assert_eq!(n.first_day.as_deref(), Some("2024/08/01"));
        assert_eq!(n.last_day.as_deref(), Some("2024/09/01"));
        assert_eq!(n.accounts, ["111122223333"]);
        assert_eq!(narrowing(&[], &[], TimeRange::default()), Narrowing::default());
    }
}
