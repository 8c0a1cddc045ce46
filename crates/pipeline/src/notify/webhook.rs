//! A webhook: each notification POSTed as JSON — the alert (the JSON-lines alert fields), what
//! changed, the rule (severity, ATT&CK, triage guide…) and the first signals whole, context
//! included — with the idempotency key in the body and in the `Idempotency-Key` header.

use serde::Serialize;

use super::http::Poster;
use super::{Channel, DeliveryError, Notification};

/// The body's `schema`: bumped when a field changes meaning.
pub const SCHEMA: &str = "tripline.alert.v1";

#[derive(Serialize)]
struct Body<'a> {
    schema: &'static str,
    #[serde(flatten)]
    notification: &'a Notification,
}

/// The JSON a webhook receives for `notification`.
#[must_use]
pub fn body(notification: &Notification) -> Vec<u8> {
    serde_json::to_vec(&Body { schema: SCHEMA, notification }).expect("notifications serialise")
}

/// POSTs each notification to one URL.
pub struct Webhook {
    poster: Poster,
}

impl Webhook {
    /// A webhook sending with `poster`.
    #[must_use]
    pub fn new(poster: Poster) -> Self {
        Self { poster }
    }
}

impl Channel for Webhook {
    fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError> {
        self.poster.post(&body(notification), &notification.key)
    }
}
