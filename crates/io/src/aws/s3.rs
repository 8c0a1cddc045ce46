//! S3: listing a bucket ([`Lister`]) and reading its objects as they arrive
//! ([`ObjectReader`]): an object's body is a blocking reader over the SDK's stream, so its bytes
//! are decompressed and parsed as they arrive, never fetched whole first.

use std::io::Read;

use tokio_util::io::SyncIoBridge;

use super::{describe, Aws};
use crate::bucket::{Entry, Listed, Lister};
use crate::object::ObjectReader;

/// An S3 client; cheap to clone.
#[derive(Clone)]
pub struct S3 {
    aws: Aws,
    client: aws_sdk_s3::Client,
}

impl S3 {
    /// A client of `aws`'s configuration. An endpoint of its own (an emulator on 127.0.0.1,
    /// MinIO) seldom resolves `bucket.host` names: the bucket is named in the path there.
    #[must_use]
    pub fn new(aws: &Aws) -> Self {
        let shared = aws.config();
        let path_style = shared.endpoint_url().is_some();
        let config = aws_sdk_s3::config::Builder::from(shared).force_path_style(path_style).build();
        Self { aws: aws.clone(), client: aws_sdk_s3::Client::from_conf(config) }
    }

    /// A lister of `bucket`.
    #[must_use]
    pub fn bucket(&self, bucket: &str) -> BucketLister {
        BucketLister { s3: self.clone(), bucket: bucket.to_owned() }
    }

    /// An object's size and ETag (for a notification that does not say them).
    ///
    /// # Errors
    /// What S3 said.
    pub fn head(&self, bucket: &str, key: &str) -> Result<(u64, String), String> {
        let head = self
            .aws
            .block_on(self.client.head_object().bucket(bucket).key(key).send())
            .map_err(|e| describe(&e))?;
        let size = head.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
        Ok((size, head.e_tag().unwrap_or_default().trim_matches('"').to_owned()))
    }
}

/// Lists one bucket ([`Lister`]).
pub struct BucketLister {
    s3: S3,
    bucket: String,
}

impl Lister for BucketLister {
    fn list(
        &self,
        prefix: &str,
        folders: bool,
        start_after: Option<&str>,
        each: &mut dyn FnMut(Entry) -> bool,
    ) -> Result<(), String> {
        let client = &self.s3.client;
        let mut token: Option<String> = None;
        loop {
            let request = client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_delimiter(folders.then(|| "/".to_owned()))
                .set_start_after(start_after.map(str::to_owned))
                .set_continuation_token(token.take());
            let page = self
                .s3
                .aws
                .block_on(request.send())
                .map_err(|e| format!("cannot be listed: {}", describe(&e)))?;
            // Objects and folders come in two lists, each in key order: merged, they are the
            // bucket's order.
            let mut entries: Vec<(String, Entry)> = page
                .contents()
                .iter()
                .filter_map(|o| {
                    let key = o.key()?.to_owned();
                    let listed = Listed {
                        key: key.clone(),
                        etag: o.e_tag().unwrap_or_default().trim_matches('"').to_owned(),
                        size: o.size().and_then(|s| u64::try_from(s).ok()).unwrap_or(0),
                    };
                    Some((key, Entry::Object(listed)))
                })
                .chain(page.common_prefixes().iter().filter_map(|p| {
                    let folder = p.prefix()?.to_owned();
                    Some((folder.clone(), Entry::Folder(folder)))
                }))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (_, entry) in entries {
                if !each(entry) {
                    return Ok(());
                }
            }
            match page.next_continuation_token() {
                Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                _ => return Ok(()),
            }
        }
    }
}

impl ObjectReader for S3 {
    fn read(&self, bucket: &str, key: &str) -> std::io::Result<Box<dyn Read + Send>> {
        let object = self
            .aws
            .block_on(self.client.get_object().bucket(bucket).key(key).send())
            .map_err(|e| std::io::Error::other(describe(&e)))?;
        let body = object.body.into_async_read();
        Ok(Box::new(SyncIoBridge::new_with_handle(body, self.aws.handle())))
    }
}
