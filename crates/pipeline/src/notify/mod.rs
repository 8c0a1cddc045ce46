//! Outputs that reach people: each alert change becomes a [`Notification`] — the alert, its
//! rule, the first signals' context and an idempotency key — which a [`Channel`] delivers
//! (a webhook, Slack, an OCSF file). The same notification is what a store keeps in its outbox,
//! so a notification is delivered the same way with or without one.

pub mod http;
pub mod ocsf;
pub mod outbox;
pub mod slack;
pub mod webhook;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tripline_alert::{Alert, Signal};
use tripline_rule::{Rule, Severity};

use crate::sink::{AlertChange, ChangeKind, Delivery, Sink, SinkError};

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
    /// Its rule.
    pub rule: RuleFacts,
    /// The first [`CONTEXT_SIGNALS`] signals of the alert known to the sender.
    pub signals: Vec<Signal>,
}

impl Notification {
    /// The notification of `alert`'s change.
    #[must_use]
    pub fn new(change: ChangeKind, alert: &Alert, rule: RuleFacts, signals: Vec<Signal>) -> Self {
        let key = format!("{}:{}", alert.alert_id, alert.event_count);
        Self { key, change, alert: alert.clone(), rule, signals }
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

    /// Flushes what is buffered (file outputs).
    ///
    /// # Errors
    /// When flushing failed.
    fn flush(&self) -> Result<(), DeliveryError> {
        Ok(())
    }
}

/// A channel as a run's sink, without a store: it keeps the signals it is routed (for the
/// alerts' context), turns each alert change into a notification and delivers them all when
/// the run ends, on a few threads at once. Delivery is best effort within the run: what fails
/// after every retry is counted and reported.
pub struct NotifySink {
    channel: Box<dyn Channel>,
    label: String,
    workers: usize,
    signals: HashMap<usize, Signal>,
    pending: Vec<Notification>,
}

impl NotifySink {
    /// A sink delivering through `channel` with `workers` deliveries at once.
    #[must_use]
    pub fn new(channel: Box<dyn Channel>, label: String, workers: usize) -> Self {
        Self {
            channel,
            label,
            workers: workers.max(1),
            signals: HashMap::new(),
            pending: Vec::new(),
        }
    }
}

impl Sink for NotifySink {
    fn signal(&mut self, index: usize, signal: &Signal, _: Option<&str>) -> Result<(), SinkError> {
        self.signals.insert(index, signal.clone());
        Ok(())
    }

    fn alert(&mut self, change: AlertChange<'_>) -> Result<(), SinkError> {
        let signals = change
            .alert
            .signals
            .iter()
            .filter_map(|i| self.signals.get(i))
            .take(CONTEXT_SIGNALS)
            .cloned()
            .collect();
        let rule = change.rule.map_or_else(|| RuleFacts::unknown(change.alert), RuleFacts::of);
        self.pending.push(Notification::new(change.kind, change.alert, rule, signals));
        Ok(())
    }

    fn finish(&mut self) -> Result<Delivery, SinkError> {
        let pending = std::mem::take(&mut self.pending);
        let outcomes = deliver_all(self.channel.as_ref(), &pending, self.workers);
        let mut delivery = Delivery::default();
        let mut skipped = 0;
        for (notification, outcome) in pending.iter().zip(outcomes) {
            match outcome {
                Some(Ok(())) => delivery.delivered += 1,
                Some(Err(e)) => {
                    delivery.failed += 1;
                    delivery.errors.push(format!(
                        "alert {} ({}): {e}",
                        notification.alert.alert_id, notification.key
                    ));
                }
                None => skipped += 1,
            }
        }
        if skipped > 0 {
            delivery.failed += skipped;
            delivery
                .errors
                .push(format!("{skipped} more not attempted: the receiver gave no good answer"));
        }
        if let Err(e) = self.channel.flush() {
            delivery.errors.push(e.to_string());
        }
        Ok(delivery)
    }

    fn label(&self) -> String {
        self.label.clone()
    }
}

/// Delivers `notifications` on up to `workers` threads; the outcomes in the same order. Once a
/// delivery has given up (every retry of a failure that might pass spent), the receiver is
/// taken to be down and the rest are not attempted (`None`), so a run does not spend every
/// retry of every notification on it.
pub fn deliver_all(
    channel: &dyn Channel,
    notifications: &[Notification],
    workers: usize,
) -> Vec<Option<Result<(), DeliveryError>>> {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let down = AtomicBool::new(false);
    let outcomes: Vec<std::sync::Mutex<Option<Result<(), DeliveryError>>>> =
        notifications.iter().map(|_| std::sync::Mutex::new(None)).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers.min(notifications.len()) {
            scope.spawn(|| loop {
                if down.load(Ordering::Relaxed) {
                    break;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(notification) = notifications.get(i) else { break };
                let outcome = channel.deliver(notification);
                if matches!(outcome, Err(DeliveryError::GaveUp { .. })) {
                    down.store(true, Ordering::Relaxed);
                }
                *outcomes[i].lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
                    Some(outcome);
            });
        }
    });
    outcomes
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> Alert {
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

    /// A channel that fails as told, counting attempts.
    struct Flaky(std::sync::atomic::AtomicUsize, fn(usize) -> Result<(), DeliveryError>);

    impl Channel for Flaky {
        fn deliver(&self, _: &Notification) -> Result<(), DeliveryError> {
            (self.1)(self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
        }
    }

    fn notifications(n: usize) -> Vec<Notification> {
        let alert = alert();
        (0..n)
            .map(|_| {
                Notification::new(
                    ChangeKind::Raised,
                    &alert,
                    RuleFacts::unknown(&alert),
                    Vec::new(),
                )
            })
            .collect()
    }

    #[test]
    fn a_receiver_that_gave_up_is_not_tried_again_in_the_same_round_but_a_refusal_does_not_stop_it()
    {
        let down = Flaky(0.into(), |_| {
            Err(DeliveryError::GaveUp { attempts: 5, last: "HTTP 503".into() })
        });
        let outcomes = deliver_all(&down, &notifications(10), 1);
        assert!(matches!(outcomes[0], Some(Err(DeliveryError::GaveUp { .. }))));
        assert!(outcomes[1..].iter().all(Option::is_none), "the rest wait for a later round");
        let picky = Flaky(0.into(), |i| {
            if i % 2 == 0 {
                Err(DeliveryError::Refused { status: 400, body: String::new() })
            } else {
                Ok(())
            }
        });
        let outcomes = deliver_all(&picky, &notifications(10), 3);
        assert!(outcomes.iter().all(Option::is_some), "a refusal is about one notification");
        assert_eq!(outcomes.iter().filter(|o| matches!(o, Some(Ok(())))).count(), 5);
    }
}
