//! Alerts as a responder works with them: stored with a status, an assignee and notes; listed,
//! shown with their signals, acknowledged and closed.

use serde::{Deserialize, Serialize};
use tripline_alert::Alert;
use tripline_rule::Severity;

use crate::backend::{Backend, Row, Value};
use crate::packed::{pack, unpack, unpack_signal};
use crate::{Result, Store, StoreError};

/// Where an alert is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Raised, nobody has looked yet.
    Open,
    /// Someone is on it.
    Acknowledged,
    /// Dealt with; new activity raises a new alert.
    Closed,
}

impl Status {
    /// The lower-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Closed => "closed",
        }
    }

    /// Parses the lower-case name.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Open, Self::Acknowledged, Self::Closed].into_iter().find(|s| s.as_str() == text)
    }
}

/// A note on an alert: a status change or a comment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// When (RFC 3339, wall-clock).
    pub at: String,
    /// The status set, if this note changed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    /// The text.
    #[serde(skip_serializing_if = "String::is_empty", default)]
    pub text: String,
}

/// An alert with its life in the store.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StoredAlert {
    /// The alert as detection raised it.
    #[serde(flatten)]
    pub alert: Alert,
    /// Its status.
    pub status: Status,
    /// Who is on it.
    pub assignee: Option<String>,
    /// Status changes and comments, oldest first.
    pub notes: Vec<Note>,
    /// When it was first stored (wall-clock).
    pub created_at: String,
    /// When it last changed (wall-clock).
    pub updated_at: String,
}

impl StoredAlert {
    /// A newly raised alert.
    #[must_use]
    pub fn new(alert: Alert) -> Self {
        let at = now();
        Self {
            alert,
            status: Status::Open,
            assignee: None,
            notes: Vec::new(),
            created_at: at.clone(),
            updated_at: at,
        }
    }
}

/// One of an alert's signals, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSignal {
    /// Its JSON, as the output contract writes a signal.
    pub body: String,
    /// Its record's `requestParameters` (JSON text), when the record had them and the store
    /// kept them (from schema 6).
    pub request_parameters: Option<String>,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// Only this rule.
    pub rule: Option<String>,
    /// Only at or above this severity.
    pub min_severity: Option<Severity>,
    /// Only this status.
    pub status: Option<Status>,
    /// Only alerts whose last event is at or after this time (RFC 3339).
    pub since: Option<String>,
    /// Only alerts assigned to this person.
    pub assignee: Option<String>,
}

/// Wall-clock now, RFC 3339 (for status changes; alerting itself runs in event time).
#[must_use]
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

const COLUMNS: &str = "alert_id, rule_id, title, severity, risk_score, dedup_key, first_seen, last_seen, event_count, event_ids, status, assignee, notes, created_at, updated_at, representative, packed_representative, first_event, previous_ids";

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("alert column `{what}` is missing or malformed"))
}

fn from_row(row: Row) -> Result<StoredAlert> {
    let mut it = row.into_iter();
    let mut next_text = |what: &str| it.next().ok_or_else(|| corrupt(what)).map(Value::into_text);
    let alert_id = next_text("alert_id")?.ok_or_else(|| corrupt("alert_id"))?;
    let rule_id = next_text("rule_id")?.ok_or_else(|| corrupt("rule_id"))?;
    let title = next_text("title")?.unwrap_or_default();
    let severity = next_text("severity")?
        .and_then(|s| s.parse::<Severity>().ok())
        .ok_or_else(|| corrupt("severity"))?;
    let risk_score = next_text("risk_score")?
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| corrupt("risk_score"))?;
    let dedup_key = next_text("dedup_key")?.unwrap_or_default();
    let first_seen = next_text("first_seen")?;
    let last_seen = next_text("last_seen")?;
    let event_count = next_text("event_count")?
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| corrupt("event_count"))?;
    let (event_ids, event_times) = decode_event_ids(&next_text("event_ids")?.unwrap_or_default())
        .ok_or_else(|| corrupt("event_ids"))?;
    let status =
        next_text("status")?.as_deref().and_then(Status::parse).ok_or_else(|| corrupt("status"))?;
    let assignee = next_text("assignee")?;
    let notes = serde_json::from_str(&next_text("notes")?.unwrap_or_default())
        .map_err(|_| corrupt("notes"))?;
    let created_at = next_text("created_at")?.unwrap_or_default();
    let updated_at = next_text("updated_at")?.unwrap_or_default();
    let text = next_text("representative")?;
    let packed = it.next().ok_or_else(|| corrupt("packed_representative"))?.into_bytes();
    let mut next_text = |what: &str| it.next().ok_or_else(|| corrupt(what)).map(Value::into_text);
    // NULL when it is the first listed event, as it is for nearly every alert.
    let first_event = next_text("first_event")?.or_else(|| event_ids.first().cloned());
    let previous_ids = next_text("previous_ids")?
        .map(|ids| serde_json::from_str(&ids).map_err(|_| corrupt("previous_ids")))
        .transpose()?
        .unwrap_or_default();
    // Packed from schema 6, text before; alerts stored before schema 4 have none.
    let text = packed.map(|p| unpack(&p)).transpose()?.or(text);
    let representative = text
        .map(|text| serde_json::from_str(&text).map_err(|_| corrupt("representative")))
        .transpose()?
        .unwrap_or_default();
    let alert = Alert {
        alert_id,
        rule_id,
        title,
        severity,
        risk_score,
        dedup_key,
        first_seen,
        last_seen,
        event_count,
        event_ids,
        event_times,
        representative,
        previous_ids,
        first_event,
        signals: Vec::new(),
    };
    Ok(StoredAlert { alert, status, assignee, notes, created_at, updated_at })
}

pub fn load_alert(backend: &mut dyn Backend, alert_id: &str) -> Result<Option<StoredAlert>> {
    let rows = backend
        .query(&format!("SELECT {COLUMNS} FROM alerts WHERE alert_id = $1"), &[alert_id.into()])?;
    rows.into_iter().next().map(from_row).transpose()
}

/// The alerts of `ids` the store has (in no particular order), one statement for all.
pub(crate) fn load_alerts(backend: &mut dyn Backend, ids: &[String]) -> Result<Vec<StoredAlert>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    // Padded to a power of two with the last id again, so the statement has few shapes.
    let size = ids.len().next_power_of_two();
    let marks: Vec<String> = (1..=size).map(|n| format!("${n}")).collect();
    let sql = format!("SELECT {COLUMNS} FROM alerts WHERE alert_id IN ({})", marks.join(", "));
    let last = ids.last().map_or("", String::as_str);
    let padded = ids.iter().map(String::as_str).chain(std::iter::repeat(last));
    let params: Vec<Value> = padded.take(size).map(Value::from).collect();
    backend.query(&sql, &params)?.into_iter().map(from_row).collect()
}

/// The `event_ids` column: the listed ids, with their event times when any is known
/// (`{"ids": […], "times": […]}`); a plain list of ids, as stores kept before times were.
pub(crate) fn encode_event_ids(alert: &Alert) -> String {
    if alert.event_times.iter().all(Option::is_none) {
        return json(&alert.event_ids);
    }
    serde_json::json!({"ids": alert.event_ids, "times": alert.event_times}).to_string()
}

/// Reads the `event_ids` column (see [`encode_event_ids`]); `None` when it is neither form.
pub(crate) fn decode_event_ids(text: &str) -> Option<(Vec<String>, Vec<Option<String>>)> {
    #[derive(serde::Deserialize)]
    struct Timed {
        ids: Vec<String>,
        times: Vec<Option<String>>,
    }
    if let Ok(ids) = serde_json::from_str::<Vec<String>>(text) {
        return Some((ids, Vec::new()));
    }
    let Timed { ids, mut times } = serde_json::from_str(text).ok()?;
    times.resize(ids.len(), None);
    Some((ids, times))
}

pub fn save_alert(backend: &mut dyn Backend, stored: &StoredAlert) -> Result<()> {
    save_alerts(backend, [stored])
}

/// Writes `alerts`, new or changed, a few statements for all of them.
pub(crate) fn save_alerts<'a>(
    backend: &mut dyn Backend,
    alerts: impl IntoIterator<Item = &'a StoredAlert>,
) -> Result<()> {
    let rows: Vec<Vec<Value>> = alerts.into_iter().map(alert_row).collect();
    crate::backend::insert_rows(
        backend,
        &format!("INSERT INTO alerts ({COLUMNS})"),
        "($, $, $, $, $, $, $, $, $, $, $, $, $, $, $, NULL, $, $, $)",
        rows,
        "ON CONFLICT (alert_id) DO UPDATE SET title = excluded.title, representative = NULL,
         first_event = excluded.first_event, previous_ids = excluded.previous_ids,
         packed_representative = excluded.packed_representative,
         first_seen = excluded.first_seen, last_seen = excluded.last_seen, event_count = excluded.event_count,
         event_ids = excluded.event_ids, status = excluded.status, assignee = excluded.assignee, notes = excluded.notes,
         updated_at = excluded.updated_at",
        false,
    )?;
    Ok(())
}

/// An alert's row, in the order of `COLUMNS` (the representative's text column left NULL: it
/// is kept packed).
fn alert_row(stored: &StoredAlert) -> Vec<Value> {
    let a = &stored.alert;
    vec![
        a.alert_id.as_str().into(),
        a.rule_id.as_str().into(),
        a.title.as_str().into(),
        a.severity.as_str().into(),
        i64::from(a.risk_score).into(),
        a.dedup_key.as_str().into(),
        a.first_seen.as_deref().into(),
        a.last_seen.as_deref().into(),
        i64::try_from(a.event_count).unwrap_or(i64::MAX).into(),
        encode_event_ids(a).into(),
        stored.status.as_str().into(),
        stored.assignee.as_deref().into(),
        json(&stored.notes).into(),
        stored.created_at.as_str().into(),
        stored.updated_at.as_str().into(),
        pack(&json(&a.representative)).into(),
        a.first_event
            .as_deref()
            .filter(|first| a.event_ids.first().map(String::as_str) != Some(*first))
            .into(),
        (!a.previous_ids.is_empty())
            .then(|| json(&a.previous_ids))
            .map_or(Value::Null, Value::from),
    ]
}

/// JSON text of a list column.
fn json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "[]".to_owned())
}

impl Store {
    /// Alerts matching `filter`, oldest first (by first event).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn alerts(&mut self, filter: &AlertFilter) -> Result<Vec<StoredAlert>> {
        let mut sql = format!("SELECT {COLUMNS} FROM alerts WHERE 1 = 1");
        let mut params: Vec<Value> = Vec::new();
        let mut condition = |sql: &mut String, column: &str, op: &str, value: Value| {
            params.push(value);
            sql.push_str(&format!(" AND {column} {op} ${}", params.len()));
        };
        if let Some(rule) = &filter.rule {
            condition(&mut sql, "rule_id", "=", rule.as_str().into());
        }
        if let Some(status) = filter.status {
            condition(&mut sql, "status", "=", status.as_str().into());
        }
        if let Some(since) = &filter.since {
            condition(&mut sql, "last_seen", ">=", since.as_str().into());
        }
        if let Some(assignee) = &filter.assignee {
            condition(&mut sql, "assignee", "=", assignee.as_str().into());
        }
        sql.push_str(" ORDER BY first_seen, alert_id");
        let rows = self.backend.query(&sql, &params)?;
        let alerts = rows.into_iter().map(from_row).collect::<Result<Vec<_>>>()?;
        Ok(alerts
            .into_iter()
            .filter(|a| filter.min_severity.is_none_or(|min| a.alert.severity >= min))
            .collect())
    }

    /// One alert by id (or by a unique prefix of it).
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn alert(&mut self, id: &str) -> Result<Option<StoredAlert>> {
        if let Some(found) = load_alert(self.backend.as_mut(), id)? {
            return Ok(Some(found));
        }
        let id = id.replace(['%', '_', '"'], "");
        let mut rows = self.backend.query(
            &format!("SELECT {COLUMNS} FROM alerts WHERE alert_id LIKE $1 LIMIT 2"),
            &[format!("{id}%").into()],
        )?;
        if rows.is_empty() {
            // An id it had before an earlier event renamed it, as a notification or an
            // earlier listing gave it.
            rows = self.backend.query(
                &format!("SELECT {COLUMNS} FROM alerts WHERE previous_ids LIKE $1 LIMIT 2"),
                &[format!("%\"{id}%").into()],
            )?;
        }
        if rows.len() != 1 {
            return Ok(None);
        }
        rows.into_iter().next().map(from_row).transpose()
    }

    /// The stored signals of an alert's events, in the order the alert lists them.
    ///
    /// # Errors
    /// When the store cannot be read, or a signal does not unpack.
    pub fn signals_of(&mut self, alert: &Alert) -> Result<Vec<StoredSignal>> {
        let mut out = Vec::new();
        for event_id in &alert.event_ids {
            let rows = self.backend.query(
                // An event's signal is keyed by its event id (see `work::signal_key`).
                "SELECT body, packed FROM signals WHERE rule_id = $1 AND signal_key = $2",
                &[alert.rule_id.as_str().into(), event_id.as_str().into()],
            )?;
            for row in rows {
                let [body, packed]: [Value; 2] =
                    row.try_into().map_err(|_| StoreError::Corrupt("signal row".into()))?;
                out.push(match packed.into_bytes() {
                    Some(packed) => {
                        let (body, request_parameters) = unpack_signal(&packed)?;
                        StoredSignal { body, request_parameters }
                    }
                    // Rows from before schema 6 hold their JSON in `body`.
                    None => StoredSignal {
                        body: body.into_text().unwrap_or_default(),
                        request_parameters: None,
                    },
                });
            }
        }
        Ok(out)
    }

    /// Sets an alert's status (and assignee), with a note. Returns the alert as it is now, or
    /// `None` when no alert has that id.
    ///
    /// # Errors
    /// When the store fails.
    pub fn set_status(
        &mut self,
        id: &str,
        status: Status,
        assignee: Option<&str>,
        text: &str,
    ) -> Result<Option<StoredAlert>> {
        let Some(found) = self.alert(id)? else { return Ok(None) };
        self.write(|backend| {
            // Read again under the lock: a scan may have extended it meanwhile.
            let Some(mut alert) = load_alert(backend, &found.alert.alert_id)? else {
                return Ok(None);
            };
            alert.status = status;
            if let Some(who) = assignee {
                alert.assignee = Some(who.to_owned());
            }
            alert.updated_at = now();
            alert.notes.push(Note {
                at: alert.updated_at.clone(),
                status: Some(status),
                text: text.to_owned(),
            });
            save_alert(backend, &alert)?;
            Ok(Some(alert))
        })
    }
}
