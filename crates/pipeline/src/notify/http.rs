//! POSTing a body to a URL the way a receiver can rely on: a timeout per attempt, retries with
//! exponential backoff and full jitter on 5xx, 429 (waiting as long as `Retry-After` says, up
//! to a cap) and connection errors, none on other 4xx; an `Idempotency-Key` header; and, with
//! a shared secret, an HMAC-SHA256 signature of the body. TLS is rustls. The secret is never
//! printed: [`Secret`]'s `Debug` hides it, and errors name the URL without its path.

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
    agent: ureq::Agent,
    url: String,
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

impl Poster {
    /// A poster for `url` (named `label` in messages).
    #[must_use]
    pub fn new(url: &str, label: String, retry: Retry, secret: Option<Secret>) -> Self {
        // A timeout for each phase of an attempt rather than one for the whole: with a global
        // timeout ureq resolves every request's host on a thread of its own (to time the
        // lookup out), which cost a thread per notification. Name lookups keep the system
        // resolver's own timeouts.
        let phase = Some(retry.timeout);
        let agent = ureq::Agent::config_builder()
            .timeout_connect(phase)
            .timeout_send_request(phase)
            .timeout_send_body(phase)
            .timeout_recv_response(phase)
            .timeout_recv_body(phase)
            .http_status_as_error(false)
            .user_agent(concat!("tripline/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Self { agent, url: url.to_owned(), label, retry, secret }
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

    fn attempt(&self, body: &[u8], key: &str) -> Attempt {
        let mut request = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header(IDEMPOTENCY_HEADER, key);
        if let Some(secret) = &self.secret {
            request = request.header(SIGNATURE_HEADER, secret.sign(body));
        }
        let mut response = match request.send(body) {
            Ok(response) => response,
            // ureq's errors name the host and what failed, never a header: no secret in them.
            Err(e) => return Attempt::Again(e.to_string(), None),
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            // Reading the answer to its end hands the connection back to the agent's pool;
            // otherwise every notification opens a connection of its own.
            let _ = response.body_mut().with_config().limit(64 * 1024).read_to_vec();
            return Attempt::Done;
        }
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let mut text =
            response.body_mut().with_config().limit(512).read_to_string().unwrap_or_default();
        text.truncate(200);
        if status == 429 || status >= 500 {
            Attempt::Again(format!("HTTP {status}"), retry_after)
        } else {
            Attempt::Refused(status, text)
        }
    }
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
        );
        for attempt in 0..4 {
            let wait = poster.wait(attempt, None);
            assert!(wait <= Duration::from_millis(100) * (1 << attempt), "{wait:?}");
        }
        assert!(poster.wait(0, Some(Duration::from_secs(2))) >= Duration::from_secs(2));
        assert_eq!(poster.wait(0, Some(Duration::from_secs(3600))), MAX_RETRY_AFTER);
    }
}
