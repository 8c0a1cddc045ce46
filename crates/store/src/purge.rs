//! Retention: what a store may forget. Closed alerts whose last event is older than a date go,
//! with the signals of that age, delivered notifications and the alerting state only such
//! signals decide; an open or acknowledged alert
//! keeps every event it holds, whatever its age. Checkpoints stay, so files already read are
//! not read again (a record re-delivered from before the date would count as new).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use tripline_alert::correlate::CorrelationState;
use tripline_alert::rule_state::RuleState;

use crate::backend::Backend;
use crate::queries::Status;
use crate::{Result, Store, StoreError, Value};

/// What a purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    /// Closed alerts.
    pub alerts: u64,
    /// Signals.
    pub signals: u64,
    /// Delivered notifications.
    pub notifications: u64,
    /// Entries of alerting and correlation state (windows below their threshold, new-terms
    /// sightings, correlation windows) whose signals are all older.
    pub windows: u64,
}

/// Each alert still open or acknowledged: its rule and the span of its events. A signal of that
/// rule within that span may be one of its events (an alert names its first 100 only), so it
/// is kept.
fn open_spans(backend: &mut dyn Backend) -> Result<HashMap<String, Vec<(String, String)>>> {
    let rows = backend.query(
        "SELECT rule_id, first_seen, last_seen FROM alerts WHERE status <> $1",
        &[Status::Closed.as_str().into()],
    )?;
    let mut spans: HashMap<String, Vec<(String, String)>> = HashMap::new();
    for row in rows {
        let mut row = row.into_iter();
        let rule = row.next().and_then(Value::into_text).unwrap_or_default();
        let first = row.next().and_then(Value::into_text).unwrap_or_default();
        // Without a last event time the alert spans everything from its first.
        let last = row.next().and_then(Value::into_text).unwrap_or_else(|| "~".to_owned());
        spans.entry(rule).or_default().push((first, last));
    }
    Ok(spans)
}

/// Forgets, in every rule's and correlation's state, what only signals older than `before`
/// decide; returns how many entries went.
fn forget_state(backend: &mut dyn Backend, before: DateTime<Utc>) -> Result<u64> {
    let mut forgotten = 0;
    for row in backend.query("SELECT rule_id, state FROM rule_state", &[])? {
        let mut row = row.into_iter().map(Value::into_text);
        let (Some(Some(key)), Some(Some(json))) = (row.next(), row.next()) else { continue };
        let corrupt = |_| StoreError::Corrupt(format!("the state of `{key}`"));
        let (gone, json) = if key.starts_with("correlation:") {
            let mut state: CorrelationState = serde_json::from_str(&json).map_err(corrupt)?;
            (state.forget_before(before), serde_json::to_string(&state))
        } else {
            let mut state: RuleState = serde_json::from_str(&json).map_err(corrupt)?;
            (state.forget_before(before), serde_json::to_string(&state))
        };
        if gone > 0 {
            let json = json.map_err(|e| StoreError::Corrupt(e.to_string()))?;
            backend.execute(
                "UPDATE rule_state SET state = $1 WHERE rule_id = $2",
                &[json.into(), key.as_str().into()],
            )?;
            forgotten += gone;
        }
    }
    Ok(forgotten)
}

impl Store {
    /// Forgets what is older than `before` (RFC 3339), in one transaction.
    ///
    /// # Errors
    /// When the store fails; nothing is removed then.
    pub fn purge(&mut self, before: &str) -> Result<Purged> {
        self.write(|backend| {
            let mut purged = Purged {
                alerts: backend.execute(
                    "DELETE FROM alerts WHERE status = $1 AND last_seen < $2",
                    &[Status::Closed.as_str().into(), before.into()],
                )?,
                ..Purged::default()
            };
            let spans = open_spans(backend)?;
            let old = backend.query(
                "SELECT rule_id, signal_key, event_time FROM signals WHERE event_time < $1",
                &[before.into()],
            )?;
            for row in old {
                let mut row = row.into_iter();
                let rule = row.next().and_then(Value::into_text).unwrap_or_default();
                let key = row.next().and_then(Value::into_text).unwrap_or_default();
                let time = row.next().and_then(Value::into_text).unwrap_or_default();
                // RFC 3339 times in UTC compare as text.
                let held = spans.get(&rule).is_some_and(|spans| {
                    spans.iter().any(|(first, last)| *first <= time && time <= *last)
                });
                if held {
                    continue;
                }
                purged.signals += backend.execute(
                    "DELETE FROM signals WHERE rule_id = $1 AND signal_key = $2",
                    &[rule.as_str().into(), key.as_str().into()],
                )?;
            }
            purged.notifications = backend.execute(
                "DELETE FROM outbox WHERE status = $1 AND updated_at < $2",
                &[crate::OutboxStatus::Delivered.as_str().into(), before.into()],
            )?;
            if let Ok(before) = DateTime::parse_from_rfc3339(before) {
                let before = before.with_timezone(&Utc);
                purged.windows = forget_state(backend, before)?;
            }
            Ok(purged)
        })
    }
}
