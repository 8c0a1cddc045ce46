//! What alerting keeps of a signal ([`Member`]), the alert it builds ([`Alert`]), and the
//! window a signal belongs to ([`Slot`]).
//!
//! Windows are aligned in event time: a window of `period` covers `[k·period, (k+1)·period)`
//! counted from the Unix epoch in UTC — a one-day period is a UTC day, an hour a clock hour.
//! A signal's window follows from its own time and dedup key alone, never from the signals
//! read before it, so the alerts are a function of the set of signals: whatever the order of
//! reading, the split into runs or workers, and any kills.
//!
//! - With `dedup`, signals of a rule with the same rendered key and the same window share it.
//! - Without `dedup`, each signal is its own window (Elastic: one alert per match), unless
//!   `threshold` > 1, when all of a rule's signals share windows of the schedule's interval
//!   (one hour without a schedule).
//! - A window's alert id is made from the rule, the key and the window (or, for a window of
//!   one signal, from its event), so it never changes as signals join.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tripline_event::time::parse_event_time;
use tripline_rule::{Rule, Severity};

use crate::signal::Signal;

/// Ids kept on an alert; the count goes on past it.
pub const MAX_EVENT_IDS: usize = 100;
const THRESHOLD_WINDOW_DEFAULT: Duration = Duration::from_secs(3600);

/// An alert: one or more signals grouped by a rule's dedup key within its period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id, from the rule, the dedup key and the window (from the event, for an alert
    /// per signal): the same events give the same id whatever the order they were read in.
    pub alert_id: String,
    /// The rule.
    pub rule_id: String,
    /// The first signal's title.
    pub title: String,
    /// The rule's severity.
    pub severity: Severity,
    /// The rule's risk score.
    pub risk_score: u8,
    /// The rendered dedup key (empty without dedup).
    pub dedup_key: String,
    /// Event time of the first signal in the window.
    pub first_seen: Option<String>,
    /// Event time of the last signal in the window.
    pub last_seen: Option<String>,
    /// Signals in the window.
    pub event_count: u64,
    /// The ids of the earliest [`MAX_EVENT_IDS`] events, in event order (time, ties by id):
    /// the same whatever the order they were read in.
    pub event_ids: Vec<String>,
    /// The event times of `event_ids`, as written, in the same order (not part of the
    /// alert's JSON; the store keeps them): what a later event is placed among.
    #[serde(skip)]
    pub event_times: Vec<Option<String>>,
    /// Who did it and where, as the alert's first event says.
    #[serde(flatten)]
    pub representative: Representative,
    /// Ids it was known by in stores written before window ids (empty for every alert raised
    /// since).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_ids: Vec<String>,
    /// The earliest event's id, which the alert id is made from (not part of its JSON).
    #[serde(skip)]
    pub first_event: Option<String>,
    /// Indexes of the window's signals in the scan's signal list (this run's signals only).
    #[serde(skip)]
    pub signals: Vec<usize>,
}

impl Alert {
    /// The alert `alert_id` of `rule` for a window's signals (at least one): the earliest
    /// speaks for it — title, who and where.
    #[must_use]
    pub fn of_window(rule: &Rule, alert_id: String, members: Vec<Member>) -> Self {
        let mut alert = Self {
            alert_id,
            rule_id: rule.meta.id.clone(),
            title: String::new(),
            // Both follow the earliest signal, as the title does.
            severity: Severity::Info,
            risk_score: 0,
            dedup_key: String::new(),
            first_seen: None,
            last_seen: None,
            event_count: 0,
            event_ids: Vec::new(),
            event_times: Vec::new(),
            representative: Representative::default(),
            previous_ids: Vec::new(),
            first_event: None,
            signals: Vec::new(),
        };
        for member in members {
            alert.dedup_key.clone_from(&member.dedup_key);
            alert.extend(&member);
        }
        alert
    }

    /// Adds one more signal to the alert. When it is earlier than every event so far, it
    /// speaks for the alert from now on: title and who and where.
    pub fn extend(&mut self, member: &Member) {
        self.event_count += 1;
        // A late record can be older than the first one seen, or older than the last.
        let parsed = |t: &Option<String>| t.as_deref().and_then(parse_event_time);
        let first = (parsed(&self.first_seen), self.first_event.as_deref());
        if self.first_seen.is_none() || earlier(member, first) {
            // The earliest event speaks for the alert, whatever the order of reading.
            self.title.clone_from(&member.title);
            self.severity = member.severity;
            self.risk_score = member.risk_score;
            self.representative.clone_from(&member.representative);
            self.first_seen.clone_from(&member.event_time);
            self.first_event.clone_from(&member.event_id);
        }
        if member.time >= parsed(&self.last_seen) {
            self.last_seen.clone_from(&member.event_time);
        }
        self.signals.extend(member.index);
        if let Some(id) = &member.event_id {
            self.list(id, member.time, member.event_time.as_ref());
        }
    }

    /// Places an event among the listed ones, in event order; past [`MAX_EVENT_IDS`], the
    /// latest is left out. Listed times that are missing (alerts stored before times were
    /// kept) count as latest.
    fn list(&mut self, id: &str, time: Option<DateTime<Utc>>, written: Option<&String>) {
        self.event_times.resize(self.event_ids.len(), None);
        let key = (time.is_none(), time, id);
        let at = self.event_ids.iter().zip(&self.event_times).position(|(listed, when)| {
            let when = when.as_deref().and_then(parse_event_time);
            (when.is_none(), when, listed.as_str()) > key
        });
        let at = at.unwrap_or(self.event_ids.len());
        let listed_already = at > 0 && self.event_ids[at - 1] == id;
        if at >= MAX_EVENT_IDS || listed_already {
            return;
        }
        self.event_ids.insert(at, id.to_owned());
        self.event_times.insert(at, written.cloned());
        self.event_ids.truncate(MAX_EVENT_IDS);
        self.event_times.truncate(MAX_EVENT_IDS);
    }
}

/// Whether `member` comes before the event at `first` (time, event id): by event time, ties
/// by event id, so that which of two events of one second comes first does not depend on the
/// order of reading. An event without a time is never earlier.
pub(crate) fn earlier(member: &Member, first: (Option<DateTime<Utc>>, Option<&str>)) -> bool {
    match (member.time, first.0) {
        (Some(t), Some(f)) => (t, member.event_id.as_deref()) < (f, first.1),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// The fields of an alert's first event a responder reads first: the account, the region,
/// the caller and where the call came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Representative {
    /// The caller's account (`userIdentity.accountId`, else `recipientAccountId`).
    #[serde(default)]
    pub account_id: Option<String>,
    /// `awsRegion`.
    #[serde(default)]
    pub region: Option<String>,
    /// The caller: `userIdentity.arn`, else its type (`AWSService`, say).
    #[serde(default)]
    pub actor: Option<String>,
    /// `sourceIPAddress`.
    #[serde(default)]
    pub source_ip: Option<String>,
}

impl Representative {
    /// The representative fields of `signal`.
    #[must_use]
    pub fn of(signal: &Signal) -> Self {
        Self {
            account_id: signal.account_id.clone(),
            region: signal.aws_region.clone(),
            actor: signal.actor.arn.clone().or_else(|| signal.actor.kind.clone()),
            source_ip: signal.source_ip.clone(),
        }
    }
}

/// What alerting needs to remember of a signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// `eventID`.
    pub event_id: Option<String>,
    /// `eventTime` as written.
    pub event_time: Option<String>,
    /// Parsed `eventTime`.
    pub time: Option<DateTime<Utc>>,
    /// The rendered title.
    pub title: String,
    /// The signal's severity (dynamic severities differ per signal).
    pub severity: Severity,
    /// The rule's risk score.
    pub risk_score: u8,
    /// The rendered dedup key.
    pub dedup_key: String,
    /// Values of the cardinality field.
    pub distinct: Vec<String>,
    /// Who and where (state saved before this was kept reads as unknown).
    #[serde(default)]
    pub representative: Representative,
    /// The signal's index in this run's signal list; none for signals of earlier runs.
    #[serde(skip)]
    pub index: Option<usize>,
}

impl Member {
    /// What `rule` needs to remember of `signal`, the `index`th of this run.
    #[must_use]
    pub fn of(rule: &Rule, signal: &Signal, index: usize) -> Self {
        let distinct = rule
            .alerting
            .cardinality
            .as_ref()
            .and_then(|c| signal.captured.get(c.field.name()))
            .cloned()
            .unwrap_or_default();
        Self {
            event_id: signal.event_id.clone(),
            event_time: signal.event_time.clone(),
            time: signal.time,
            title: signal.rule_title.clone(),
            severity: signal.severity,
            risk_score: signal.risk_score,
            dedup_key: signal.dedup_key.clone(),
            distinct,
            representative: Representative::of(signal),
            index: Some(index),
        }
    }
}

/// Where a signal goes: the id of its window's alert and, for `max_alerts`, the execution the
/// window counts in and its fixed place there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// The alert id of the window.
    pub alert_id: String,
    /// The execution (event time / interval) the window counts in, with a schedule.
    pub execution: Option<i64>,
    /// The window's place among the execution's windows: by its event for an alert per
    /// signal, by its dedup key otherwise — never by the order of reading.
    pub rank: Rank,
}

/// A window's place among its execution's: (event time in seconds, dedup key or event id).
pub type Rank = (i64, String);

/// The length of `rule`'s windows; `None` when every signal is its own window.
#[must_use]
pub fn window_period(rule: &Rule) -> Option<Duration> {
    match (&rule.alerting.dedup, rule.alerting.threshold) {
        (Some(d), _) => Some(d.period),
        (None, 1) => None,
        (None, _) => Some(rule.alerting.schedule.map_or(THRESHOLD_WINDOW_DEFAULT, |s| s.interval)),
    }
}

/// `length` in whole seconds, at least one.
fn seconds(length: Duration) -> i64 {
    i64::try_from(length.as_secs().max(1)).unwrap_or(i64::MAX)
}

impl Slot {
    /// The window of `member`, a signal of `rule`.
    #[must_use]
    pub fn of(rule: &Rule, member: &Member) -> Self {
        let time = member.time.map(|t| t.timestamp());
        let (alert_id, rank, start) = match window_period(rule) {
            None => {
                let event = member.event_id.clone().unwrap_or_default();
                (
                    alert_id(&rule.meta.id, &member.dedup_key, member),
                    (time.unwrap_or(0), event),
                    time,
                )
            }
            Some(period) => {
                let length = seconds(period);
                let start = time.map(|t| t.div_euclid(length) * length);
                let id = window_id(&rule.meta.id, &member.dedup_key, start);
                (id, (start.unwrap_or(0), member.dedup_key.clone()), start)
            }
        };
        let execution =
            rule.alerting.schedule.map(|s| start.unwrap_or(0).div_euclid(seconds(s.interval)));
        Self { alert_id, execution, rank }
    }
}

/// The id of `rule_id`'s alert for a window of one signal, `first`.
fn alert_id(rule_id: &str, key: &str, first: &Member) -> String {
    let first_event = first.event_id.as_deref().unwrap_or("");
    let first_seen = first.event_time.as_deref().unwrap_or("");
    digest(&[rule_id, key, first_event, first_seen])
}

/// The id of `rule_id`'s alert for `key`'s window starting at `start` (Unix seconds).
fn window_id(rule_id: &str, key: &str, start: Option<i64>) -> String {
    let start = start.map_or_else(|| "untimed".to_owned(), |s| s.to_string());
    digest(&[rule_id, key, "window", &start])
}

/// The id of the alert that takes over a window after a responder closed its alert `closed`:
/// new activity raises a new alert.
#[must_use]
pub fn successor(closed: &str) -> String {
    digest(&["after", closed])
}

/// Sixteen hex digits of the SHA-256 of `parts`, each ended by a zero byte.
pub(crate) fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update([0]);
        }
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut id = String::with_capacity(16);
    for b in digest.iter().take(8) {
        // Infallible: writing to a String.
        let _ = std::fmt::Write::write_fmt(&mut id, format_args!("{b:02x}"));
    }
    id
}

/// The new-terms values of a signal, or `None` when a field has none.
#[must_use]
pub fn new_terms_of(rule: &Rule, signal: &Signal) -> Option<Vec<String>> {
    let new_terms = rule.alerting.new_terms.as_ref()?;
    new_terms
        .fields
        .iter()
        .map(|field| signal.captured.get(field.name()).and_then(|v| v.first()).cloned())
        .collect()
}
