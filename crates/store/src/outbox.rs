//! The outbox: a notification for each alert change an output should hear of, written in the
//! same transaction as the change, then delivered and marked. A process killed between the two
//! leaves the notification pending, so every change is delivered at least once; its key lets
//! the receiver process it once. A notification that keeps failing is dead-lettered after a
//! number of delivery rounds, counted, listed, and can be put back in line.

use std::collections::BTreeMap;

use tripline_alert::{Alert, ChangeKind};

use crate::backend::{Backend, Row, Value};
use crate::queries::now;
use crate::{Result, Store, StoreError};

/// One notification to keep, made by a [`Notifier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The output's identity (stable across runs for the same output).
    pub output: String,
    /// The idempotency key: one row per output and key.
    pub key: String,
    /// The output's name for people (secrets redacted).
    pub label: String,
    /// What to deliver.
    pub body: String,
}

/// Turns an alert change into the notifications to keep, inside the transaction making it.
pub trait Notifier {
    /// The entries for `alert`, just raised, extended or closed (`kind`); `alert.signals`
    /// holds the caller's indexes of this batch's signals of it.
    fn entries(&self, kind: ChangeKind, alert: &Alert) -> Vec<OutboxEntry>;
}

/// No outputs: nothing to keep.
pub struct NoNotifier;

impl Notifier for NoNotifier {
    fn entries(&self, _: ChangeKind, _: &Alert) -> Vec<OutboxEntry> {
        Vec::new()
    }
}

/// Where a notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutboxStatus {
    /// Waiting to be delivered (again).
    Pending,
    /// Delivered.
    Delivered,
    /// Given up on after too many failed rounds.
    Dead,
}

impl OutboxStatus {
    /// The stored name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Dead => "dead",
        }
    }

    /// From the stored name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "delivered" => Some(Self::Delivered),
            "dead" => Some(Self::Dead),
            _ => None,
        }
    }
}

/// A notification as the outbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// The output's identity.
    pub output: String,
    /// The idempotency key.
    pub key: String,
    /// The order written.
    pub seq: i64,
    /// The output's name for people.
    pub label: String,
    /// What to deliver.
    pub body: String,
    /// Where it stands.
    pub status: OutboxStatus,
    /// Delivery rounds that failed.
    pub attempts: i64,
    /// Why the last round failed.
    pub last_error: Option<String>,
    /// When it was written (wall clock).
    pub created_at: String,
    /// When it last changed.
    pub updated_at: String,
}

/// How one delivery round went for one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Delivered.
    Delivered,
    /// Failed, for this reason; dead-lettered when `final` (a refusal retrying cannot help)
    /// or when too many rounds have failed.
    Failed {
        /// Why.
        reason: String,
        /// Retrying cannot help.
        permanent: bool,
    },
}

const COLUMNS: &str =
    "output, notification_key, seq, label, body, status, attempts, last_error, created_at, updated_at";

fn from_row(row: Row) -> Result<OutboxRow> {
    let corrupt =
        |what: &str| StoreError::Corrupt(format!("outbox column `{what}` is missing or malformed"));
    let mut it = row.into_iter();
    let mut text = |what: &str| it.next().and_then(Value::into_text).ok_or_else(|| corrupt(what));
    let output = text("output")?;
    let key = text("notification_key")?;
    let seq = text("seq")?.parse().map_err(|_| corrupt("seq"))?;
    let label = text("label")?;
    let body = text("body")?;
    let status = OutboxStatus::parse(&text("status")?).ok_or_else(|| corrupt("status"))?;
    let attempts = text("attempts")?.parse().map_err(|_| corrupt("attempts"))?;
    let last_error = text("last_error").ok();
    let created_at = text("created_at")?;
    let updated_at = text("updated_at")?;
    Ok(OutboxRow {
        output,
        key,
        seq,
        label,
        body,
        status,
        attempts,
        last_error,
        created_at,
        updated_at,
    })
}

/// Writes `entries` (a row already there for the output and key is kept as it is: the same
/// change, reported again).
pub(crate) fn keep(backend: &mut dyn Backend, entries: &[OutboxEntry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let rows = backend.query("SELECT COALESCE(MAX(seq), 0) FROM outbox", &[])?;
    let mut seq = rows.first().and_then(|r| r.first()).and_then(Value::as_int).unwrap_or(0);
    let at = now();
    // A notification already kept (or listed twice) stays as it is; one statement may not
    // name a row twice, so repeats within `entries` are dropped here.
    let mut listed = std::collections::HashSet::new();
    let rows: Vec<Vec<Value>> = entries
        .iter()
        .filter(|e| listed.insert((e.output.as_str(), e.key.as_str())))
        .map(|entry| {
            seq += 1;
            vec![
                entry.output.as_str().into(),
                entry.key.as_str().into(),
                seq.into(),
                entry.label.as_str().into(),
                entry.body.as_str().into(),
                at.as_str().into(),
                at.as_str().into(),
            ]
        })
        .collect();
    crate::backend::insert_rows(
        backend,
        &format!("INSERT INTO outbox ({COLUMNS})"),
        "($, $, $, $, $, 'pending', 0, NULL, $, $)",
        rows,
        "ON CONFLICT (output, notification_key) DO NOTHING",
        false,
    )?;
    Ok(())
}

impl Store {
    /// Up to `limit` pending notifications of `output`, oldest first.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn pending_notifications(&mut self, output: &str, limit: usize) -> Result<Vec<OutboxRow>> {
        let rows = self.backend.query(
            &format!("SELECT {COLUMNS} FROM outbox WHERE output = $1 AND status = 'pending' ORDER BY seq LIMIT $2"),
            &[output.into(), i64::try_from(limit).unwrap_or(i64::MAX).into()],
        )?;
        rows.into_iter().map(from_row).collect()
    }

    /// Records how a round went: delivered rows are marked so; failed ones count an attempt,
    /// and are dead-lettered when the failure is permanent or `dead_after` rounds have failed.
    /// Returns (delivered, dead-lettered now).
    ///
    /// # Errors
    /// When the store fails; then nothing is recorded and the round counts as not made.
    pub fn record_deliveries(
        &mut self,
        outcomes: &[(OutboxRow, DeliveryOutcome)],
        dead_after: u32,
    ) -> Result<(u64, u64)> {
        self.write(|backend| {
            let (mut delivered, mut dead) = (0, 0);
            let at = now();
            for (row, outcome) in outcomes {
                let (status, attempts, error) = match outcome {
                    DeliveryOutcome::Delivered => {
                        delivered += 1;
                        (OutboxStatus::Delivered, row.attempts, None)
                    }
                    DeliveryOutcome::Failed { reason, permanent } => {
                        let attempts = row.attempts + 1;
                        let give_up = *permanent || attempts >= i64::from(dead_after.max(1));
                        dead += u64::from(give_up);
                        let status =
                            if give_up { OutboxStatus::Dead } else { OutboxStatus::Pending };
                        (status, attempts, Some(reason.as_str()))
                    }
                };
                backend.execute(
                    "UPDATE outbox SET status = $1, attempts = $2, last_error = $3, updated_at = $4
                     WHERE output = $5 AND notification_key = $6 AND status = 'pending'",
                    &[
                        status.as_str().into(),
                        attempts.into(),
                        error.into(),
                        at.as_str().into(),
                        row.output.as_str().into(),
                        row.key.as_str().into(),
                    ],
                )?;
            }
            Ok((delivered, dead))
        })
    }

    /// Notifications, oldest first, of one status or all.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn outbox(&mut self, status: Option<OutboxStatus>) -> Result<Vec<OutboxRow>> {
        let rows = match status {
            Some(s) => self.backend.query(
                &format!("SELECT {COLUMNS} FROM outbox WHERE status = $1 ORDER BY seq"),
                &[s.as_str().into()],
            )?,
            None => {
                self.backend.query(&format!("SELECT {COLUMNS} FROM outbox ORDER BY seq"), &[])?
            }
        };
        rows.into_iter().map(from_row).collect()
    }

    /// How many notifications each output has in each status: label → status → count.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn outbox_counts(&mut self) -> Result<BTreeMap<String, BTreeMap<OutboxStatus, u64>>> {
        let rows = self
            .backend
            .query("SELECT label, status, COUNT(*) FROM outbox GROUP BY label, status", &[])?;
        let mut counts: BTreeMap<String, BTreeMap<OutboxStatus, u64>> = BTreeMap::new();
        for row in rows {
            let mut it = row.into_iter();
            let (Some(label), Some(status), Some(n)) = (
                it.next().and_then(Value::into_text),
                it.next().and_then(Value::into_text),
                it.next(),
            ) else {
                continue;
            };
            if let Some(status) = OutboxStatus::parse(&status) {
                *counts.entry(label).or_default().entry(status).or_insert(0) +=
                    n.as_int().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
            }
        }
        Ok(counts)
    }

    /// Puts dead-lettered notifications (of the outputs whose label contains `output`, or all)
    /// back in line, their attempts reset. Returns how many.
    ///
    /// # Errors
    /// When the store fails.
    pub fn retry_dead(&mut self, output: Option<&str>) -> Result<u64> {
        let pattern = format!("%{}%", output.unwrap_or(""));
        self.write(|backend| {
            let n = backend.execute(
                "UPDATE outbox SET status = 'pending', attempts = 0, updated_at = $1 WHERE status = 'dead' AND label LIKE $2",
                &[now().into(), pattern.into()],
            )?;
            Ok(n)
        })
    }
}
