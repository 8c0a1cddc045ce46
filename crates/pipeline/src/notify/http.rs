//! POSTing a body to a URL the way a receiver can rely on: a timeout per attempt, retries with
//! exponential backoff and full jitter on 5xx, 429 (waiting as long as `Retry-After` says, up
//! to a cap) and connection errors, none on other 4xx; an `Idempotency-Key` header; and, with
//! a shared secret, an HMAC-SHA256 signature of the body. The client is hyper over rustls
//! (webpki roots). The secret is never printed: [`Secret`]'s `Debug` hides it, and errors name
//! the URL without its path.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::DeliveryError;

/// The signature header: `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Tripline-Signature";
/// The idempotency key header.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";
/// The longest `Retry-After` honoured; a receiver asking for more is retried after this.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A shared secret, kept out of every message.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    /// A secret from its text.
    #[must_use]
    pub fn new(text: &str) -> Self {
        Self(text.as_bytes().to_vec())
    }

    /// `sha256=<hex>` of `body`.
    #[must_use]
    pub fn sign(&self, body: &[u8]) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(body);
        format!("sha256={}", super::hex(&mac.finalize().into_bytes()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How hard to try.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (at least 1).
    pub attempts: u32,
    /// The first backoff; each later one doubles, with full jitter.
    pub backoff: Duration,
    /// The whole of one attempt: connecting, sending, reading the answer.
    pub timeout: Duration,
}

impl Default for Retry {
    fn default() -> Self {
        Self { attempts: 5, backoff: Duration::from_millis(500), timeout: Duration::from_secs(10) }
    }
}

/// A URL to POST JSON to.
pub struct Poster {
    url: hyper::Uri,
    label: String,
    retry: Retry,
    secret: Option<Secret>,
}

/// What one attempt came to.
enum Attempt {
    Done,
    /// Worth retrying, after at least this long (from `Retry-After`).
    Again(String, Option<Duration>),
    Refused(u16, String),
}

/// The HTTP client: hyper over rustls, pooling connections per host.
type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    http_body_util::Full<bytes::Bytes>,
>;

/// Each delivering thread's own runtime and client: a connection is driven by the runtime
/// that opened it, so one thread's pooled connections are only ever used by that thread, and
/// a POST costs a write and a read (hyper), not a dozen system calls (ureq's probe of a pooled
/// connection and its timeouts set per read and write, which made a scan's webhook cost twice
/// the requests themselves).
struct Local {
    runtime: tokio::runtime::Runtime,
    client: Client,
}

thread_local! {
    static LOCAL: std::cell::OnceCell<Result<Local, String>> = const { std::cell::OnceCell::new() };
}

impl Local {
    fn new() -> Result<Self, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the HTTP client: {e}"))?;
        let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        // The provider named, not the process default: with the AWS SDK linked too, rustls
        // has two and would choose neither.
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(std::sync::Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .map_err(|e| format!("cannot start TLS: {e}"))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(https);
        Ok(Self { runtime, client })
    }
}

impl Poster {
    /// A poster for `url` (named `label` in messages).
    ///
    /// # Errors
    /// When `url` is not an `http://` or `https://` URL.
    pub fn new(
        url: &str,
        label: String,
        retry: Retry,
        secret: Option<Secret>,
    ) -> Result<Self, String> {
        let parsed: hyper::Uri = url.parse().map_err(|e| format!("not a URL: {e}"))?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
            return Err("not an http:// or https:// URL".into());
        }
        Ok(Self { url: parsed, label, retry, secret })
    }

    /// POSTs `body` with `key` as its idempotency key, retrying as configured.
    ///
    /// # Errors
    /// When the receiver refused it or every attempt failed.
    pub fn post(&self, body: &[u8], key: &str) -> Result<(), DeliveryError> {
        let attempts = self.retry.attempts.max(1);
        let mut last = String::new();
        for attempt in 0..attempts {
            match self.attempt(body, key) {
                Attempt::Done => return Ok(()),
                Attempt::Refused(status, body) => {
                    return Err(DeliveryError::Refused { status, body })
                }
                Attempt::Again(why, after) => {
                    last = why;
                    if attempt + 1 < attempts {
                        std::thread::sleep(self.wait(attempt, after));
                    }
                }
            }
        }
        Err(DeliveryError::GaveUp { attempts, last: format!("{}: {last}", self.label) })
    }

    /// Full jitter (a random wait up to the doubled backoff), or what `Retry-After` asked.
    fn wait(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.retry.backoff.saturating_mul(1 << attempt.min(16));
        let jittered = ceiling.mul_f64(fastrand::f64());
        retry_after.map_or(jittered, |after| after.min(MAX_RETRY_AFTER).max(jittered))
    }

    /// One attempt, on this thread's client, within the timeout.
    fn attempt(&self, body: &[u8], key: &str) -> Attempt {
        LOCAL.with(|local| match local.get_or_init(Local::new) {
            Ok(local) => {
                let exchange = self.exchange(&local.client, body, key);
                // The timer is made inside the runtime, which it needs.
                let timed = async { tokio::time::timeout(self.retry.timeout, exchange).await };
                local.runtime.block_on(timed).unwrap_or_else(|_| {
                    Attempt::Again(format!("no answer within {:?}", self.retry.timeout), None)
                })
            }
            Err(e) => Attempt::Again(e.clone(), None),
        })
    }

    /// Sends the request and reads the answer.
    async fn exchange(&self, client: &Client, body: &[u8], key: &str) -> Attempt {
        let mut request = hyper::Request::post(self.url.clone())
            .header("Content-Type", "application/json")
            .header("User-Agent", concat!("tripline/", env!("CARGO_PKG_VERSION")))
            .header(IDEMPOTENCY_HEADER, key);
        if let Some(secret) = &self.secret {
            request = request.header(SIGNATURE_HEADER, secret.sign(body));
        }
        let request = match request.body(http_body_util::Full::new(body.to_vec().into())) {
            Ok(request) => request,
            Err(e) => return Attempt::Refused(0, format!("the request cannot be made: {e}")),
        };
        let response = match client.request(request).await {
            Ok(response) => response,
            // The error and its causes name what failed (connecting, the connection closed),
            // never the URL's path or a header: no secret in them.
            Err(e) => return Attempt::Again(chain(&e), None),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if (200..300).contains(&status) {
            // Reading the answer to its end hands the connection back to the pool; otherwise
            // every notification opens a connection of its own.
            let _ = read_up_to(response.into_body(), 64 * 1024).await;
            return Attempt::Done;
        }
        let text = read_up_to(response.into_body(), 512).await;
        let mut text = String::from_utf8_lossy(&text).into_owned();
        text.truncate(200);
        if status == 429 || status >= 500 {
            Attempt::Again(format!("HTTP {status}"), retry_after)
        } else {
            Attempt::Refused(status, text)
        }
    }
}

/// Up to `limit` bytes of `body` (the rest left unread).
async fn read_up_to(mut body: hyper::body::Incoming, limit: usize) -> Vec<u8> {
    use http_body_util::BodyExt;
    let mut out = Vec::new();
    while out.len() < limit {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    out.extend_from_slice(&data[..data.len().min(limit - out.len())]);
                }
            }
            _ => break,
        }
    }
    out
}

/// An error with its causes, `: `-separated.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_rfc_4231s_hmac_sha256() {
        // RFC 4231, test case 2.
        let secret = Secret::new("Jefe");
        assert_eq!(
            secret.sign(b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(format!("{secret:?}"), "Secret(***)");
    }

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let poster = Poster::new(
            "http://127.0.0.1:9/",
            "test".into(),
            Retry {
                attempts: 3,
                backoff: Duration::from_millis(100),
                timeout: Duration::from_secs(1),
            },
            None,
        )
        .expect("a URL");
        for attempt in 0..4 {
            let wait = poster.wait(attempt, None);
            assert!(wait <= Duration::from_millis(100) * (1 << attempt), "{wait:?}");
        }
        assert!(poster.wait(0, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
        assert_eq!(poster.wait(0, Some(Duration::from_secs(3600))), MAX_RETRY_AFTER);
    }
}
