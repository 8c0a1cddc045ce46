//! Amazon S3 (and S3-compatible stores) through the official AWS SDK: its credential chain
//! (environment, shared config and credentials files with profiles and SSO, web identity, ECS
//! task role, EC2 instance metadata) and region resolution come with it. The SDK is
//! asynchronous; Tripline reads on plain threads, so the client owns a small runtime and each
//! call blocks on it, and an object's body is a blocking reader over the SDK's stream — its
//! bytes are decompressed and parsed as they arrive, never fetched whole first.

use std::io::Read;
use std::sync::Arc;

use aws_config::meta::region::RegionProviderChain;
use aws_config::BehaviorVersion;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use tokio_util::io::SyncIoBridge;

use crate::bucket::{Entry, Listed, Lister};
use crate::object::{AwsOptions, ObjectReader};

/// A connected S3 client; cheap to clone.
#[derive(Clone)]
pub struct S3 {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: tokio::runtime::Runtime,
    client: aws_sdk_s3::Client,
}

impl S3 {
    /// A client as `options` and the environment say. Nothing is asked of AWS yet:
    /// credentials are looked for on the first request.
    ///
    /// # Errors
    /// When the runtime cannot be started.
    pub fn connect(options: &AwsOptions) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tripline-s3")
            .enable_all()
            .build()?;
        let region =
            RegionProviderChain::first_try(options.region.clone().map(aws_config::Region::new))
                .or_default_provider()
                .or_else("us-east-1");
        let mut loader = aws_config::defaults(BehaviorVersion::latest()).region(region);
        if let Some(endpoint) = &options.endpoint_url {
            loader = loader.endpoint_url(endpoint);
        }
        if let Some(profile) = &options.profile {
            loader = loader.profile_name(profile);
        }
        let shared = runtime.block_on(loader.load());
        // An endpoint of its own (an emulator on 127.0.0.1, MinIO) seldom resolves
        // `bucket.host` names: name the bucket in the path there.
        let path_style = shared.endpoint_url().is_some();
        let config =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(path_style).build();
        let client = aws_sdk_s3::Client::from_conf(config);
        Ok(Self { inner: Arc::new(Inner { runtime, client }) })
    }

    /// A lister of `bucket`.
    #[must_use]
    pub fn bucket(&self, bucket: &str) -> BucketLister {
        BucketLister { s3: self.clone(), bucket: bucket.to_owned() }
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
        let Inner { runtime, client } = self.s3.inner.as_ref();
        let mut token: Option<String> = None;
        loop {
            let request = client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_delimiter(folders.then(|| "/".to_owned()))
                .set_start_after(start_after.map(str::to_owned))
                .set_continuation_token(token.take());
            let page = runtime
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
        let Inner { runtime, client } = self.inner.as_ref();
        let object = runtime
            .block_on(client.get_object().bucket(bucket).key(key).send())
            .map_err(|e| std::io::Error::other(describe(&e)))?;
        let body = object.body.into_async_read();
        Ok(Box::new(SyncIoBridge::new_with_handle(body, runtime.handle().clone())))
    }
}

/// What went wrong, in a line: the service's code and message when it answered (`NoSuchKey:
/// The specified key does not exist.`), else why it could not be asked (no credentials, no
/// connection), without the raw response the SDK's own message carries.
fn describe<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(
    error: &SdkError<E, R>,
) -> String {
    match error {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("error");
            match e.message() {
                Some(message) => format!("{code}: {message}"),
                None => code.to_owned(),
            }
        }
        other => {
            // Each cause in turn (the SDK's own context adds the debug form of the failure).
            let mut causes = Vec::new();
            let mut cause: Option<&dyn std::error::Error> = Some(other);
            while let Some(e) = cause {
                let text = e.to_string();
                if !causes.contains(&text) {
                    causes.push(text);
                }
                cause = e.source();
            }
            let text = causes.join(": ");
            let reach = matches!(other, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_));
            if reach {
                format!("could not reach S3: {text}")
            } else {
                text
            }
        }
    }
}
