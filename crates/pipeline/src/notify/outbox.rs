//! Notifying outputs with a store: each alert change becomes a notification in the store's
//! outbox, in the transaction that makes the change ([`OutboxNotifier`]), and
//! [`deliver_pending`] sends what is pending and marks it, in order, output by output. A kill
//! at any moment loses nothing: what was not marked delivered is sent again by the next run,
//! under the same idempotency key.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tripline_alert::{Alert, Signal};
use tripline_rule::Rule;
use tripline_store::{DeliveryOutcome, Notifier, OutboxEntry, Store, StoreError};

use super::{deliver_all, Channel, DeliveryError, Notification, RuleFacts, CONTEXT_SIGNALS};
use crate::sink::{ChangeKind, Route};

/// Notifications taken from the outbox per round.
const ROUND: usize = 256;

/// One notifying output of a run with a store.
pub struct OutboxOutput {
    /// Its identity in the outbox: a digest of its kind and target, stable across runs.
    pub id: String,
    /// Its name for people (secrets redacted).
    pub label: String,
    /// What it takes.
    pub route: Route,
    /// How it delivers.
    pub channel: Box<dyn Channel>,
    /// Deliveries at once.
    pub workers: usize,
    /// Failed rounds before a notification is dead-lettered.
    pub dead_after: u32,
}

/// The outbox identity of the output `kind:target`.
#[must_use]
pub fn output_id(kind: &str, target: &str) -> String {
    let digest = Sha256::digest(format!("{kind}:{target}").as_bytes());
    super::hex(&digest[..8])
}

/// Makes the outbox entries of one batch: `signals[i - base]` is the batch signal with index
/// `i` (what alerts' `signals` hold).
pub struct OutboxNotifier<'a> {
    /// The notifying outputs.
    pub outputs: &'a [OutboxOutput],
    /// The rules, by id.
    pub rules: &'a HashMap<String, Arc<Rule>>,
    /// The batch's signals.
    pub signals: &'a [Signal],
    /// The index of `signals[0]`.
    pub base: usize,
}

impl Notifier for OutboxNotifier<'_> {
    fn entries(&self, kind: ChangeKind, alert: &Alert) -> Vec<OutboxEntry> {
        let rule = self.rules.get(&alert.rule_id).map(AsRef::as_ref);
        let wanted: Vec<&OutboxOutput> =
            self.outputs.iter().filter(|o| o.route.accepts(rule, alert.severity)).collect();
        if wanted.is_empty() {
            return Vec::new();
        }
        let signals = alert
            .signals
            .iter()
            .filter_map(|&i| i.checked_sub(self.base).and_then(|i| self.signals.get(i)))
            .take(CONTEXT_SIGNALS)
            .cloned()
            .collect();
        let facts = rule.map_or_else(|| RuleFacts::unknown(alert), RuleFacts::of);
        let notification = Notification::new(kind, alert.clone(), Arc::new(facts), signals);
        let body = serde_json::to_string(&notification).expect("notifications serialise");
        wanted
            .into_iter()
            .map(|o| OutboxEntry {
                output: o.id.clone(),
                key: notification.key.clone(),
                label: o.label.clone(),
                body: body.clone(),
            })
            .collect()
    }
}

/// What delivering the outbox did, per output.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxReport {
    /// Delivered now.
    pub delivered: u64,
    /// Failed now and left pending for a later run.
    pub failed: u64,
    /// Dead-lettered now.
    pub dead: u64,
    /// Why deliveries failed, one line each.
    pub errors: Vec<String>,
}

/// Delivers every pending notification of each output, oldest first, in rounds; an output
/// whose round had a failure is left for a later run (its receiver is likely down), so a run
/// never spins on it. Returns (label, report) per output.
///
/// # Errors
/// When the store fails.
pub fn deliver_pending(
    store: &mut Store,
    outputs: &[OutboxOutput],
) -> Result<Vec<(String, OutboxReport)>, StoreError> {
    let mut reports = Vec::with_capacity(outputs.len());
    for output in outputs {
        let mut report = OutboxReport::default();
        loop {
            let rows = store.pending_notifications(&output.id, ROUND)?;
            if rows.is_empty() {
                break;
            }
            let parsed: Vec<Result<Notification, String>> = rows
                .iter()
                .map(|r| {
                    serde_json::from_str(&r.body)
                        .map_err(|e| format!("unreadable notification: {e}"))
                })
                .collect();
            let readable: Vec<Notification> =
                parsed.iter().filter_map(|p| p.as_ref().ok().cloned()).collect();
            let mut sent =
                deliver_all(output.channel.as_ref(), &readable, output.workers).into_iter();
            let mut outcomes = Vec::with_capacity(rows.len());
            let mut not_attempted = 0;
            for (row, parsed) in rows.into_iter().zip(parsed) {
                let outcome = match parsed {
                    Err(reason) => DeliveryOutcome::Failed { reason, permanent: true },
                    Ok(_) => match sent.next().expect("one outcome per readable notification") {
                        Some(Ok(())) => DeliveryOutcome::Delivered,
                        Some(Err(e)) => DeliveryOutcome::Failed {
                            permanent: matches!(e, DeliveryError::Refused { .. }),
                            reason: e.to_string(),
                        },
                        // Left pending as it is: it was never tried.
                        None => {
                            not_attempted += 1;
                            continue;
                        }
                    },
                };
                if let DeliveryOutcome::Failed { reason, .. } = &outcome {
                    report.errors.push(format!("{}: {reason}", row.key));
                }
                outcomes.push((row, outcome));
            }
            let failed =
                outcomes.iter().filter(|(_, o)| o != &DeliveryOutcome::Delivered).count() as u64;
            let (delivered, dead) = store.record_deliveries(&outcomes, output.dead_after)?;
            report.delivered += delivered;
            report.dead += dead;
            report.failed += failed - dead + not_attempted;
            if let Err(e) = output.channel.flush() {
                report.errors.push(e.to_string());
            }
            if failed + not_attempted > 0 {
                break;
            }
        }
        reports.push((output.label.clone(), report));
    }
    Ok(reports)
}
