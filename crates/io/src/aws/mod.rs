//! AWS through the official SDK: its credential chain (environment, shared config and
//! credentials files with profiles and SSO, web identity, ECS task role, EC2 instance metadata)
//! and region resolution come with it. The SDK is asynchronous; Tripline reads on plain
//! threads, so [`Aws`] owns a small runtime and each call blocks on it. [`s3`] lists buckets and
//! reads objects, [`sqs`] receives, extends and deletes queue messages.

pub mod s3;
pub mod sqs;

use std::sync::Arc;

use aws_config::meta::region::RegionProviderChain;
use aws_config::BehaviorVersion;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};

use crate::object::AwsOptions;

/// The SDK's configuration and the runtime its calls run on; cheap to clone.
#[derive(Clone)]
pub struct Aws {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: tokio::runtime::Runtime,
    config: aws_config::SdkConfig,
}

impl Aws {
    /// The configuration `options` and the environment say. Nothing is asked of AWS yet:
    /// credentials are looked for on the first request.
    ///
    /// # Errors
    /// When the runtime cannot be started.
    pub fn connect(options: &AwsOptions) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("tripline-aws")
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
        let config = runtime.block_on(loader.load());
        Ok(Self { inner: Arc::new(Inner { runtime, config }) })
    }

    fn config(&self) -> &aws_config::SdkConfig {
        &self.inner.config
    }

    fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.inner.runtime.block_on(future)
    }

    fn handle(&self) -> tokio::runtime::Handle {
        self.inner.runtime.handle().clone()
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
