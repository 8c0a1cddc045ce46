//! The one alerting driver: what one signal does to its rule's windows and to the alerts, over
//! an [`AlertState`] that holds them — in memory for a scan without a store
//! ([`MemoryState`]), in the store's transaction with one. The rules of the windows themselves
//! are in [`crate::window`], [`crate::rule_state`] and [`crate::terms`]; this adds what a
//! stateful deployment needs: a closed alert stays closed, and new activity in its window
//! raises a new alert.

use std::collections::HashMap;

use tripline_rule::Rule;

use crate::rule_state::{Admission, RuleState};
use crate::terms::Taken;
use crate::window::{successor, window_period, Member, Slot};
use crate::Alert;

/// Where alerting keeps its state.
pub trait AlertState {
    /// What reading or writing the state can fail with.
    type Error;

    /// The rule's windows (created empty when it has none yet).
    ///
    /// # Errors
    /// When the state cannot be read.
    fn rule_state(&mut self, rule: &Rule) -> Result<&mut RuleState, Self::Error>;

    /// The alert `alert_id`, if known.
    ///
    /// # Errors
    /// When the state cannot be read.
    fn alert(&mut self, alert_id: &str) -> Result<Option<&mut Alert>, Self::Error>;

    /// Whether a responder closed the alert `alert_id`.
    ///
    /// # Errors
    /// When the state cannot be read.
    fn is_closed(&mut self, alert_id: &str) -> Result<bool, Self::Error>;

    /// Keeps a newly raised alert.
    ///
    /// # Errors
    /// When the state cannot be written.
    fn raise(&mut self, alert: Alert) -> Result<(), Self::Error>;

    /// Takes back the alert `alert_id`: a signal that arrived later showed it should never
    /// have been raised.
    ///
    /// # Errors
    /// When the state cannot be written.
    fn withdraw(&mut self, alert_id: &str, why: Withdrawal) -> Result<(), Self::Error>;
}

/// Why an alert was taken back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawal {
    /// `max_alerts` alerts of its execution come before it.
    Displaced,
    /// Its only signal's terms turned out to have been seen within the history window.
    NotNew,
    /// Its correlation window took more signals and its condition's upper bound no longer holds.
    NoLongerHolds,
}

impl Withdrawal {
    /// Why, in words, for the alert's notes and the outputs.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::Displaced => {
                "taken back: a window read later ranks before it, and the rule raises at most `max_alerts` alerts per execution"
            }
            Self::NotNew => {
                "taken back: an event read later shows its terms were seen within the history window before it"
            }
            Self::NoLongerHolds => {
                "taken back: events read later put its correlation window past the condition's upper bound"
            }
        }
    }
}

/// What one signal changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// It raised this alert (its window reached the threshold).
    Raised(String),
    /// It joined this alert.
    Extended(String),
    /// This alert, raised before, was taken back.
    Withdrawn(String, Withdrawal),
    /// This alert lost a signal that turned out not to be new.
    Reduced(String),
    /// A window's alert was not raised because of `max_alerts` (once per window).
    Dropped,
    /// A `new_terms` signal was not new (this one, or one it made not new after all).
    NotNew,
    /// Nothing yet: the window waits for more signals, or its alert was dropped.
    Nothing,
}

/// Applies one signal of `rule` (its `member`, and for `new_terms` rules its `terms`); returns
/// every change it made, in order.
///
/// # Errors
/// When the state fails.
pub fn apply<S: AlertState>(
    state: &mut S,
    rule: &Rule,
    member: Member,
    terms: Option<Vec<String>>,
) -> Result<Vec<Change>, S::Error> {
    let slot = Slot::of(rule, &member);
    let mut changes = Vec::new();
    let alert_id = open_alert_id(state, &slot)?;
    if let Some(new_terms) = &rule.alerting.new_terms {
        let taken = Taken { alert_id: alert_id.clone(), event_id: member.event_id.clone() };
        let (Some(terms), Some(time)) = (terms, member.time) else {
            // Elastic needs every field to have a value.
            return Ok(vec![Change::NotNew]);
        };
        let key = serde_json::to_string(&terms).unwrap_or_default();
        let sightings = state.rule_state(rule)?.sightings.entry(key).or_default();
        let sighted = sightings.sight(time, taken, new_terms.history);
        if let Some(taken) = sighted.no_longer_new {
            changes.push(take_back(state, rule, &taken, Withdrawal::NotNew)?);
        }
        if !sighted.new {
            changes.push(Change::NotNew);
            return Ok(changes);
        }
    }
    if state.rule_state(rule)?.is_dropped(&slot, &alert_id) {
        changes.push(Change::Nothing);
        return Ok(changes);
    }
    if keeps_members(rule) {
        let members = state.rule_state(rule)?.members.entry(alert_id.clone()).or_default();
        members.push(member.clone());
    }
    if let Some(alert) = state.alert(&alert_id)? {
        alert.extend(&member);
        changes.push(Change::Extended(alert_id));
        return Ok(changes);
    }
    let Some(members) = state.rule_state(rule)?.wait(rule, &alert_id, member) else {
        changes.push(Change::Nothing);
        return Ok(changes);
    };
    match state.rule_state(rule)?.admit(rule, &slot, &alert_id) {
        Admission::Drop => changes.push(Change::Dropped),
        admission => {
            if let Admission::RaiseInstead(displaced) = admission {
                state.withdraw(&displaced, Withdrawal::Displaced)?;
                changes.push(Change::Withdrawn(displaced, Withdrawal::Displaced));
                changes.push(Change::Dropped);
            }
            state.raise(Alert::of_window(rule, alert_id.clone(), members))?;
            changes.push(Change::Raised(alert_id));
        }
    }
    Ok(changes)
}

/// The id of the alert `slot`'s window has now: past those a responder closed, since new
/// activity raises a new alert.
fn open_alert_id<S: AlertState>(state: &mut S, slot: &Slot) -> Result<String, S::Error> {
    let mut alert_id = slot.alert_id.clone();
    while state.is_closed(&alert_id)? {
        alert_id = successor(&alert_id);
    }
    Ok(alert_id)
}

/// Whether `rule`'s state keeps the signals of its alerts, so that one taken back leaves the
/// alert as the others make it: new-terms and correlation rules with windows, whose signals
/// are few.
fn keeps_members(rule: &Rule) -> bool {
    (rule.alerting.new_terms.is_some() || rule.correlation().is_some())
        && window_period(rule).is_some()
}

/// A signal of `rule` made again with the same id (a correlation window that changed): the
/// alert holding it speaks with its new version where it spoke with the old one.
///
/// # Errors
/// When the state fails.
pub fn refresh<S: AlertState>(
    state: &mut S,
    rule: &Rule,
    member: Member,
) -> Result<Option<String>, S::Error> {
    let alert_id = open_alert_id(state, &Slot::of(rule, &member))?;
    if keeps_members(rule) {
        let kept = state.rule_state(rule)?.members.entry(alert_id.clone()).or_default();
        for m in kept.iter_mut().filter(|m| m.event_id == member.event_id) {
            *m = member.clone();
        }
    }
    let Some(alert) = state.alert(&alert_id)? else { return Ok(None) };
    if alert.first_event == member.event_id {
        alert.title.clone_from(&member.title);
        alert.representative.clone_from(&member.representative);
    }
    Ok(Some(alert_id))
}

/// Takes back a signal of `rule` that no longer holds (a correlation window past its upper
/// bound): out of its alert, which is taken back when it held nothing else.
///
/// # Errors
/// When the state fails.
pub fn withdraw_signal<S: AlertState>(
    state: &mut S,
    rule: &Rule,
    member: &Member,
) -> Result<Change, S::Error> {
    let alert_id = open_alert_id(state, &Slot::of(rule, member))?;
    let taken = Taken { alert_id, event_id: member.event_id.clone() };
    take_back(state, rule, &taken, Withdrawal::NoLongerHolds)
}

/// Takes a signal that is not new after all out of where it went: its alert (taken back when
/// it was the only signal) or its waiting window.
fn take_back<S: AlertState>(
    state: &mut S,
    rule: &Rule,
    taken: &Taken,
    why: Withdrawal,
) -> Result<Change, S::Error> {
    let event_id = taken.event_id.as_deref();
    let id = &taken.alert_id;
    let windows = state.rule_state(rule)?;
    windows.take_waiting(id, event_id);
    let mut left = windows.members.remove(id).unwrap_or_default();
    left.retain(|m| m.event_id.as_deref() != event_id);
    if !left.is_empty() {
        windows.members.insert(id.clone(), left.clone());
    }
    let Some(alert) = state.alert(id)? else {
        return Ok(if why == Withdrawal::NotNew { Change::NotNew } else { Change::Nothing });
    };
    if left.is_empty() {
        state.withdraw(id, why)?;
        return Ok(Change::Withdrawn(id.clone(), why));
    }
    // What the other signals alone make of the alert.
    *alert = Alert::of_window(rule, id.clone(), left);
    Ok(Change::Reduced(id.clone()))
}

/// Alerting state held in memory for one run: every rule's windows and the alerts in the
/// order raised. Nothing is ever closed.
#[derive(Debug, Default)]
pub struct MemoryState {
    states: HashMap<String, RuleState>,
    /// The alerts, in the order raised.
    pub alerts: Vec<Alert>,
    at: HashMap<String, usize>,
}

impl MemoryState {
    /// Signals in windows that never reached their threshold.
    #[must_use]
    pub fn below_threshold(&self) -> u64 {
        self.states.values().map(RuleState::below_threshold).sum()
    }
}

impl AlertState for MemoryState {
    type Error = std::convert::Infallible;

    fn rule_state(&mut self, rule: &Rule) -> Result<&mut RuleState, Self::Error> {
        Ok(self.states.entry(rule.meta.id.clone()).or_default())
    }

    fn alert(&mut self, alert_id: &str) -> Result<Option<&mut Alert>, Self::Error> {
        Ok(self.at.get(alert_id).map(|&i| &mut self.alerts[i]))
    }

    fn is_closed(&mut self, _: &str) -> Result<bool, Self::Error> {
        Ok(false)
    }

    fn raise(&mut self, alert: Alert) -> Result<(), Self::Error> {
        self.at.insert(alert.alert_id.clone(), self.alerts.len());
        self.alerts.push(alert);
        Ok(())
    }

    fn withdraw(&mut self, alert_id: &str, _: Withdrawal) -> Result<(), Self::Error> {
        // Nothing of a run held in memory is published before its end: the alert just goes.
        if let Some(at) = self.at.remove(alert_id) {
            self.alerts.remove(at);
            for i in self.at.values_mut().filter(|i| **i > at) {
                *i -= 1;
            }
        }
        Ok(())
    }
}
