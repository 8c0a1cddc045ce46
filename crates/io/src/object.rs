//! An object in a bucket as an input: where it is, its identity, and how to read it. The
//! reading is a trait so that this crate's decoding and the pipeline's sources do not depend on
//! a cloud client: the S3 client ([`crate::s3`], behind the `aws` feature) is one implementation.

use std::fmt;
use std::io::Read;
use std::sync::Arc;

/// How to reach AWS, beyond what the environment and the shared config files say (plain data,
/// so that a build without the `aws` feature still takes the same options).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AwsOptions {
    /// Another endpoint (an emulator, an S3-compatible store); also `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// The region of the client (else the SDK's chain, else `us-east-1`).
    pub region: Option<String>,
    /// A profile of the shared config files (else `AWS_PROFILE`, else `default`).
    pub profile: Option<String>,
}

/// Reads objects of a bucket as a stream of their bytes.
pub trait ObjectReader: Send + Sync {
    /// The object's bytes, as they arrive.
    ///
    /// # Errors
    /// When the object cannot be fetched (gone, access denied, the service unreachable); the
    /// message says what the service said.
    fn read(&self, bucket: &str, key: &str) -> std::io::Result<Box<dyn Read + Send>>;
}

/// One object to read.
#[derive(Clone)]
pub struct ObjectInput {
    /// The bucket.
    pub bucket: String,
    /// The object's key.
    pub key: String,
    /// Its ETag, as listed (the identity of its content).
    pub etag: String,
    /// Its size in bytes, as listed.
    pub size: u64,
    /// What reads it.
    pub reader: Arc<dyn ObjectReader>,
}

impl ObjectInput {
    /// The object's URL, `s3://bucket/key`: how problems and checkpoints name it.
    #[must_use]
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }

    fn identity(&self) -> (&str, &str, &str) {
        (&self.bucket, &self.key, &self.etag)
    }
}

impl fmt::Debug for ObjectInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} bytes, ETag {})", self.url(), self.size, self.etag)
    }
}

// Objects are the same input when bucket, key and ETag are; the reader is how, not what.
impl PartialEq for ObjectInput {
    fn eq(&self, other: &Self) -> bool {
        self.identity() == other.identity()
    }
}

impl Eq for ObjectInput {}

impl PartialOrd for ObjectInput {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ObjectInput {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.identity().cmp(&other.identity())
    }
}
