//! The incremental core of alerting: one rule's open windows, executions and seen terms, and
//! what one more signal does to them.
//!
//! The state is plain data (serde), so a scan can keep it in memory and a store can keep it
//! between runs: applying the same signals to a saved and reloaded state gives the same alerts
//! as applying them in one go.
//!
//! - With `dedup`, signals of a rule with the same rendered key join the window opened by the
//!   first of them, for `period`; a later signal opens a new window.
//! - Without `dedup`, each signal is its own window (Elastic: one alert per match), unless
//!   `threshold` > 1, when all of a rule's signals share windows of the schedule's interval
//!   (one hour without a schedule).
//! - A window raises its alert when it holds `threshold` signals (and, with `cardinality`,
//!   enough distinct values); later signals extend it.
//! - With a schedule, at most `max_alerts` alerts per rule per `interval` of event time are
//!   raised; the rest are dropped and counted.

use std::collections::{BTreeMap, BTreeSet};
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
/// How late a record may arrive (after the latest one seen) and still join the windows it
/// belongs to. CloudTrail delivers within about 15 minutes; a day covers re-delivery and
/// scans of folders out of order. Later records open windows of their own.
pub const ALLOWED_LATENESS: Duration = Duration::from_secs(86_400);

/// An alert: one or more signals grouped by a rule's dedup key within its period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id, from the rule, the dedup key and the earliest event: the same events give
    /// the same id whatever the order they were read in (an earlier event that joins later
    /// renames the alert, see [`Alert::previous_ids`]).
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
    /// The first [`MAX_EVENT_IDS`] event ids.
    pub event_ids: Vec<String>,
    /// Who did it and where, as the alert's first event says.
    #[serde(flatten)]
    pub representative: Representative,
    /// The ids it had before an earlier event joined it, oldest first (empty for most).
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
    /// Adds one more signal to the alert. When it is earlier than every event so far, it
    /// speaks for the alert from now on — title, who and where, and the id; returns the id
    /// the alert had then.
    pub fn extend(&mut self, member: &Member) -> Option<String> {
        self.event_count += 1;
        let mut renamed = None;
        // A late record can be older than the first one seen, or older than the last.
        let parsed = |t: &Option<String>| t.as_deref().and_then(parse_event_time);
        let first = (parsed(&self.first_seen), self.first_event.as_deref());
        if self.first_seen.is_none() || earlier(member, first) {
            // The earliest event speaks for the alert, whatever the order of reading: a store
            // that read a later file first corrects the title, who-and-where and id here.
            if self.first_seen.is_some() {
                self.title.clone_from(&member.title);
                self.representative.clone_from(&member.representative);
                let id = alert_id(&self.rule_id, &self.dedup_key, member);
                let old = std::mem::replace(&mut self.alert_id, id);
                self.previous_ids.push(old.clone());
                renamed = Some(old);
            }
            self.first_seen.clone_from(&member.event_time);
            self.first_event.clone_from(&member.event_id);
        }
        if member.time >= parsed(&self.last_seen) {
            self.last_seen.clone_from(&member.event_time);
        }
        self.signals.extend(member.index);
        if self.event_ids.len() < MAX_EVENT_IDS {
            if let Some(id) = &member.event_id {
                self.event_ids.push(id.clone());
            }
        }
        renamed
    }
}

/// Whether `member` comes before the event at `first` (time, event id): by event time, ties
/// by event id, so that which of two events of one second comes first does not depend on the
/// order of reading. An event without a time is never earlier.
fn earlier(member: &Member, first: (Option<DateTime<Utc>>, Option<&str>)) -> bool {
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

/// A dedup or threshold window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    start: Option<DateTime<Utc>>,
    /// Signals waiting for the threshold; emptied when the alert is raised.
    pending: Vec<Member>,
    /// The alert raised for this window.
    alert: Option<String>,
    /// The alert was not raised because of `max_alerts`.
    dropped: bool,
}

/// One rule's alerting state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RuleState {
    /// Open windows by dedup key.
    windows: BTreeMap<String, Window>,
    /// Alerts raised per execution (event time / interval), for `max_alerts`.
    executions: BTreeMap<i64, u32>,
    /// New-terms history: each term's last sighting.
    terms: BTreeMap<String, DateTime<Utc>>,
}

/// What one signal did.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// A new alert (holding every signal of its window so far).
    Raised(Alert),
    /// The signal joined an existing alert.
    Extended {
        /// The alert it joined.
        alert_id: String,
        /// The signal.
        member: Member,
    },
    /// The window waits for more signals.
    Pending,
    /// The window's alert was dropped by `max_alerts` (counted once per window).
    Dropped,
    /// The signal joined a window whose alert was dropped.
    DroppedWindow,
    /// A `new_terms` rule's terms were seen within the history window.
    NotNew,
}

fn window_period(rule: &Rule) -> Option<Duration> {
    match (&rule.alerting.dedup, rule.alerting.threshold) {
        (Some(d), _) => Some(d.period),
        (None, 1) => None,
        (None, _) => Some(rule.alerting.schedule.map_or(THRESHOLD_WINDOW_DEFAULT, |s| s.interval)),
    }
}

/// Whether a signal at `time` belongs to the window opened at `start`: within `period` after
/// it, or — a record delivered late, as CloudTrail's files from other regions and accounts
/// are — within `period` before it.
fn within(start: Option<DateTime<Utc>>, time: Option<DateTime<Utc>>, period: Duration) -> bool {
    match (start, time) {
        (Some(start), Some(t)) => (t - start).abs().to_std().is_ok_and(|d| d < period),
        // Without times there is no window to leave.
        _ => true,
    }
}

/// The id of `rule_id`'s alert for `key` whose earliest event is `first`.
fn alert_id(rule_id: &str, key: &str, first: &Member) -> String {
    let first_event = first.event_id.as_deref().unwrap_or("");
    let first_seen = first.event_time.as_deref().unwrap_or("");
    let mut hasher = Sha256::new();
    for (i, part) in [rule_id, key, first_event, first_seen].into_iter().enumerate() {
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

impl RuleState {
    /// Applies one signal of `rule`. Signals should come in event-time order; a signal older
    /// than its key's open window opens a new window.
    pub fn apply(&mut self, rule: &Rule, member: Member, terms: Option<Vec<String>>) -> Effect {
        if let Some(new_terms) = &rule.alerting.new_terms {
            if !self.is_new_term(new_terms.history, terms, member.time) {
                return Effect::NotNew;
            }
        }
        let Some(period) = window_period(rule) else {
            let mut window =
                Window { start: member.time, pending: vec![member], ..Window::default() };
            return try_raise(rule, &mut self.executions, &mut window);
        };
        let window = self.windows.entry(member.dedup_key.clone()).or_default();
        let open = window.alert.is_some() || window.dropped || !window.pending.is_empty();
        if !open || !within(window.start, member.time, period) {
            *window = Window { start: member.time, ..Window::default() };
        }
        if let Some(alert_id) = &window.alert {
            return Effect::Extended { alert_id: alert_id.clone(), member };
        }
        if window.dropped {
            return Effect::DroppedWindow;
        }
        window.pending.push(member);
        try_raise(rule, &mut self.executions, window)
    }

    /// The window of the alert `from` now belongs to the alert `to` (the alert was renamed
    /// after its earliest event).
    pub fn rename_alert(&mut self, from: &str, to: &str) {
        for window in self.windows.values_mut().filter(|w| w.alert.as_deref() == Some(from)) {
            window.alert = Some(to.to_owned());
        }
    }

    /// Closes the window of `alert_id` (a responder closed the alert): the rule's next signal
    /// for that key opens a new window and so a new alert.
    pub fn forget_alert(&mut self, alert_id: &str) {
        self.windows.retain(|_, w| w.alert.as_deref() != Some(alert_id));
    }

    /// Signals in windows that never reached their threshold.
    #[must_use]
    pub fn below_threshold(&self) -> u64 {
        self.windows
            .values()
            .filter(|w| w.alert.is_none() && !w.dropped)
            .map(|w| w.pending.len() as u64)
            .sum()
    }

    /// Forgets what no signal can touch any more, given that records arrive at most
    /// [`ALLOWED_LATENESS`] after the latest one seen (`now`): windows closed for longer than
    /// that, executions and new-terms sightings older than that plus their span.
    pub fn prune(&mut self, rule: &Rule, now: DateTime<Utc>) {
        let keep = |start: Option<DateTime<Utc>>, span: Duration| {
            start.is_none_or(|s| {
                (now - s).to_std().map_or(true, |age| age < span.saturating_add(ALLOWED_LATENESS))
            })
        };
        if let Some(period) = window_period(rule) {
            self.windows.retain(|_, w| keep(w.start, period));
        }
        if let Some(schedule) = rule.alerting.schedule {
            let interval = i64::try_from(schedule.interval.as_secs().max(1)).unwrap_or(i64::MAX);
            let lateness = i64::try_from(ALLOWED_LATENESS.as_secs()).unwrap_or(i64::MAX);
            let oldest = (now.timestamp() - lateness).div_euclid(interval) - 1;
            self.executions.retain(|&e, _| e >= oldest);
        }
        if let Some(new_terms) = &rule.alerting.new_terms {
            self.terms.retain(|_, &mut t| keep(Some(t), new_terms.history));
        }
    }

    /// Elastic's new terms: the combination of the fields' values is new if not seen within the
    /// history window before this signal. Signals missing a field are never new (Elastic needs
    /// every field to have a value).
    fn is_new_term(
        &mut self,
        history: Duration,
        terms: Option<Vec<String>>,
        time: Option<DateTime<Utc>>,
    ) -> bool {
        let (Some(terms), Some(time)) = (terms, time) else { return false };
        let key = serde_json::to_string(&terms).unwrap_or_default();
        let previous = self.terms.insert(key, time);
        previous.is_none_or(|last| (time - last).to_std().is_ok_and(|d| d >= history))
    }
}

fn try_raise(rule: &Rule, executions: &mut BTreeMap<i64, u32>, window: &mut Window) -> Effect {
    if window.pending.len() < rule.alerting.threshold as usize {
        return Effect::Pending;
    }
    if let Some(cardinality) = &rule.alerting.cardinality {
        let distinct: BTreeSet<&String> = window.pending.iter().flat_map(|m| &m.distinct).collect();
        if distinct.len() < cardinality.min as usize {
            return Effect::Pending;
        }
    }
    let Some(last) = window.pending.last() else { return Effect::Pending };
    if let Some(schedule) = rule.alerting.schedule {
        let interval = i64::try_from(schedule.interval.as_secs().max(1)).unwrap_or(i64::MAX);
        let execution = last.time.map_or(0, |t| t.timestamp().div_euclid(interval));
        let raised = executions.entry(execution).or_insert(0);
        if *raised >= schedule.max_alerts {
            window.dropped = true;
            window.pending.clear();
            return Effect::Dropped;
        }
        *raised += 1;
    }
    // The earliest of the window's signals, whatever order they came in.
    let mut first = &window.pending[0];
    for member in &window.pending[1..] {
        if earlier(member, (first.time, first.event_id.as_deref())) {
            first = member;
        }
    }
    let mut alert = Alert {
        alert_id: alert_id(&rule.meta.id, &first.dedup_key, first),
        rule_id: rule.meta.id.clone(),
        title: first.title.clone(),
        severity: first.severity,
        risk_score: first.risk_score,
        dedup_key: first.dedup_key.clone(),
        first_seen: first.event_time.clone(),
        last_seen: first.event_time.clone(),
        event_count: 0,
        event_ids: Vec::new(),
        representative: first.representative.clone(),
        previous_ids: Vec::new(),
        first_event: first.event_id.clone(),
        signals: Vec::new(),
    };
    for member in window.pending.drain(..) {
        // The earliest is already first: nothing renames an alert being raised.
        let _ = alert.extend(&member);
    }
    window.alert = Some(alert.alert_id.clone());
    Effect::Raised(alert)
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
