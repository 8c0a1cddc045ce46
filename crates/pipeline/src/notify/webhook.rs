//! A webhook: each notification POSTed as JSON — the alert (the JSON-lines alert fields), what
//! changed, the rule (severity, ATT&CK, triage guide…) and the first signals whole, context
//! included — with the idempotency key in the body and in the `Idempotency-Key` header.
//!
//! With `batch=N` several changes go in one POST (as Elastic's "summary of alerts" and
//! Alertmanager's grouped webhooks do), for receivers that take them: a scan of months of logs
//! then costs a few requests rather than one per alert. The body is then
//! `{"schema": "tripline.alerts.v1", "key": …, "notifications": [<tripline.alert.v1>…]}`; each
//! element keeps its own key, so a receiver drops repeats element by element, and the
//! batch's `key` (its `Idempotency-Key` header) is a digest of its elements' keys.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::http::Poster;
use super::{Channel, DeliveryError, Notification};

/// The body's `schema`: bumped when a field changes meaning.
pub const SCHEMA: &str = "tripline.alert.v1";
/// The schema of a batch of notifications.
pub const BATCH_SCHEMA: &str = "tripline.alerts.v1";

#[derive(Serialize)]
struct Body<'a> {
    schema: &'static str,
    #[serde(flatten)]
    notification: &'a Notification,
}

#[derive(Serialize)]
struct Batch<'a> {
    schema: &'static str,
    key: &'a str,
    notifications: Vec<Body<'a>>,
}

/// The JSON a webhook receives for `notification`.
#[must_use]
pub fn body(notification: &Notification) -> Vec<u8> {
    serde_json::to_vec(&Body { schema: SCHEMA, notification }).expect("notifications serialise")
}

/// The idempotency key of a batch: the same notifications give the same key.
#[must_use]
pub fn batch_key(batch: &[Notification]) -> String {
    let mut digest = Sha256::new();
    for notification in batch {
        digest.update(notification.key.as_bytes());
        digest.update(b"\n");
    }
    format!("batch:{}", super::hex(&digest.finalize()[..16]))
}

/// The JSON a webhook with `batch` above one receives for `batch`, and its key.
#[must_use]
pub fn batch_body(batch: &[Notification]) -> (Vec<u8>, String) {
    let key = batch_key(batch);
    let notifications =
        batch.iter().map(|notification| Body { schema: SCHEMA, notification }).collect();
    let body = serde_json::to_vec(&Batch { schema: BATCH_SCHEMA, key: &key, notifications })
        .expect("notifications serialise");
    (body, key)
}

/// POSTs each notification, or each batch of them, to one URL.
pub struct Webhook {
    poster: Poster,
    batch: usize,
}

impl Webhook {
    /// A webhook sending with `poster`, `batch` notifications a request (one: no envelope).
    #[must_use]
    pub fn new(poster: Poster, batch: usize) -> Self {
        Self { poster, batch: batch.max(1) }
    }
}

impl Channel for Webhook {
    fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        self.deliver_batch(std::slice::from_ref(notification))
    }

    fn batch_size(&self) -> usize {
        self.batch
    }

    fn deliver_batch(&self, batch: &[Notification]) -> Result<(), DeliveryError> {
        match batch {
            [one] if self.batch == 1 => self.poster.post(&body(one), &one.key),
            _ => {
                let (body, key) = batch_body(batch);
                self.poster.post(&body, &key)
            }
        }
    }
}
