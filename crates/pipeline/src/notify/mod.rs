//! Outputs that reach people: each alert change becomes a [`Notification`] — the alert, its
//! rule, the first signals' context and an idempotency key — which a [`Channel`] delivers
//! (a webhook, Slack, an OCSF file). The same notification is what a store keeps in its outbox,
//! so a notification is delivered the same way with or without one.

mod deliver;
pub mod http;
pub mod ocsf;
pub mod outbox;
pub mod slack;
pub mod webhook;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tripline_alert::{Alert, Signal};
use tripline_rule::{Rule, Severity};

use crate::sink::ChangeKind;

pub use deliver::{deliver_all, NotifySink};

/// Lower-case hexadecimal of `bytes` (digests in keys and headers).
pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut text, b| {
        // Infallible: writing to a String.
        let _ = write!(text, "{b:02x}");
        text
    })
}

/// Signals sent with a notification, for context; the alert's count and ids say the rest.
pub const CONTEXT_SIGNALS: usize = 10;

/// What a notification says of the rule: enough to act without opening the rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleFacts {
    /// The rule's id.
    pub id: String,
    /// Its title (with placeholders, as written).
    pub title: String,
    /// What it detects.
    pub description: String,
    /// Its severity.
    pub severity: Severity,
    /// Its risk score.
    pub risk_score: u8,
    /// ATT&CK ids.
    pub mitre: Vec<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Links.
    pub references: Vec<String>,
    /// The triage guide (markdown).
    pub triage: String,
    /// The vendor rule it reproduces, such as `Elastic 8.2.1`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
}

impl RuleFacts {
    /// The facts of `rule`.
    #[must_use]
    pub fn of(rule: &Rule) -> Self {
        let meta = &rule.meta;
        Self {
            id: meta.id.clone(),
            title: meta.title.clone(),
            description: meta.description.clone(),
            severity: meta.severity(),
            risk_score: meta.risk_score(),
            mitre: meta.mitre.clone(),
            tags: meta.tags.clone(),
            references: meta.references.clone(),
            triage: meta.triage.clone(),
            origin: meta.origin.as_ref().map(ToString::to_string),
        }
    }

    /// What is known of a rule no longer loaded: what its alert says.
    #[must_use]
    pub fn unknown(alert: &Alert) -> Self {
        Self {
            id: alert.rule_id.clone(),
            title: alert.title.clone(),
            description: String::new(),
            severity: alert.severity,
            risk_score: alert.risk_score,
            mitre: Vec::new(),
            tags: Vec::new(),
            references: Vec::new(),
            triage: String::new(),
            origin: None,
        }
    }

    /// The triage guide's first step: its first item (or paragraph) that is not a heading,
    /// with its wrapped lines joined.
    #[must_use]
    pub fn first_triage_step(&self) -> Option<String> {
        let is_item = |l: &str| {
            l.starts_with("- ")
                || l.starts_with("* ")
                || l.split_once(". ")
                    .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()))
        };
        let mut lines =
            self.triage.lines().map(str::trim).skip_while(|l| l.is_empty() || l.starts_with('#'));
        let mut step = lines.next()?.to_owned();
        for line in lines.take_while(|l| !l.is_empty() && !l.starts_with('#') && !is_item(l)) {
            step.push(' ');
            step.push_str(line);
        }
        Some(step)
    }
}

/// One alert change, ready to deliver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// `alert_id:event_count`: every change adds signals, so the count numbers an alert's
    /// changes; the same change always has the same key, with or without a store, and a
    /// receiver can drop repeats.
    pub key: String,
    /// Raised or extended.
    pub change: ChangeKind,
    /// The alert as it is after the change.
    pub alert: Alert,
    /// Its rule (shared by the notifications of one rule's alerts).
    pub rule: Arc<RuleFacts>,
    /// The first [`CONTEXT_SIGNALS`] signals of the alert known to the sender.
    pub signals: Vec<Signal>,
}

impl Notification {
    /// The notification of `alert`'s change.
    #[must_use]
    pub fn new(
        change: ChangeKind,
        alert: Alert,
        rule: Arc<RuleFacts>,
        signals: Vec<Signal>,
    ) -> Self {
        let key = match change {
            ChangeKind::Closed => format!("{}:closed", alert.alert_id),
            ChangeKind::Raised | ChangeKind::Extended => {
                format!("{}:{}", alert.alert_id, alert.event_count)
            }
        };
        Self { key, change, alert, rule, signals }
    }
}

/// Why a notification was not delivered.
#[derive(Debug, Clone, thiserror::Error)]
pub enum DeliveryError {
    /// The receiver refused it for good (a 4xx other than 429): retrying cannot help.
    #[error("refused with HTTP {status}{}", detail(.body))]
    Refused {
        /// The status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// Every attempt failed for a reason that might pass (5xx, 429, timeout, connection).
    #[error("gave up after {attempts} attempt(s): {last}")]
    GaveUp {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// Writing it failed (a file output).
    #[error("{0}")]
    Write(String),
}

fn detail(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

/// Delivers notifications somewhere.
pub trait Channel: Send + Sync {
    /// Delivers one notification (retrying as the channel does).
    ///
    /// # Errors
    /// When it could not be delivered.
    fn deliver(&self, notification: &Notification) -> Result<(), DeliveryError>;

    /// How many notifications it takes at once (a webhook's `batch` option); one by default.
    fn batch_size(&self) -> usize {
        1
    }

    /// Delivers up to [`Channel::batch_size`] notifications together: all or none.
    ///
    /// # Errors
    /// When they could not be delivered.
    fn deliver_batch(&self, batch: &[Notification]) -> Result<(), DeliveryError> {
        batch.iter().try_for_each(|n| self.deliver(n))
    }

    /// Flushes what is buffered (file outputs).
    ///
    /// # Errors
    /// When flushing failed.
    fn flush(&self) -> Result<(), DeliveryError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn alert() -> Alert {
        Alert {
            alert_id: "a".into(),
            rule_id: "r".into(),
            title: "t".into(),
            severity: Severity::High,
            risk_score: 73,
            dedup_key: String::new(),
            first_seen: None,
            last_seen: None,
            event_count: 1,
            event_ids: Vec::new(),
            event_times: Vec::new(),
            representative: Default::default(),
            previous_ids: Vec::new(),
            first_event: None,
            signals: Vec::new(),
        }
    }

    fn facts(triage: &str) -> RuleFacts {
        let alert = alert();
        RuleFacts { triage: triage.into(), ..RuleFacts::unknown(&alert) }
    }

    #[test]
    fn the_first_triage_step_is_the_first_item_with_its_lines_joined() {
        let guide = "## Triage\n\n1. Treat as urgent: the port is\n   scanned within minutes.\n2. Who made the call?\n";
        assert_eq!(
            facts(guide).first_triage_step().as_deref(),
            Some("1. Treat as urgent: the port is scanned within minutes.")
        );
        let prose = "Check the caller.\nThen the group.\n\nMore.";
        assert_eq!(
            facts(prose).first_triage_step().as_deref(),
            Some("Check the caller. Then the group.")
        );
        assert_eq!(facts("").first_triage_step(), None);
    }
}
