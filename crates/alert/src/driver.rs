//! The one alerting driver: what one signal does to its rule's windows and to the alerts, over
//! an [`AlertState`] that holds them — in memory for a scan without a store
//! ([`MemoryState`]), in the store's transaction with one. The rules of the windows themselves
//! are in [`crate::window`]; this adds what a stateful deployment needs: a closed alert stays
//! closed, and new activity for its key raises a new alert.

use std::collections::HashMap;

use tripline_rule::Rule;

use crate::window::{Effect, Member, RuleState};
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

    /// The alert `from` is now `to` (an earlier event joined it, and an alert's id follows its
    /// earliest event): whatever the state keeps by id moves.
    ///
    /// # Errors
    /// When the state cannot be written.
    fn rename(&mut self, from: &str, to: &str) -> Result<(), Self::Error>;
}

/// What one signal changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// It raised this alert (its window reached the threshold).
    Raised(String),
    /// It joined this alert (by its id after the signal: an earlier event renames it).
    Extended(String),
    /// Its window's alert was not raised because of `max_alerts` (counted once per window).
    Dropped,
    /// A `new_terms` rule's terms were not new.
    NotNew,
    /// Nothing yet: the window waits for more signals, or its alert was dropped.
    Nothing,
}

/// Applies one signal of `rule` (its `member`, and for `new_terms` rules its `terms`).
///
/// # Errors
/// When the state fails.
pub fn apply<S: AlertState>(
    state: &mut S,
    rule: &Rule,
    member: Member,
    terms: Option<Vec<String>>,
) -> Result<Change, S::Error> {
    let mut effect = state.rule_state(rule)?.apply(rule, member.clone(), terms.clone());
    if let Effect::Extended { alert_id, .. } = &effect {
        if state.is_closed(alert_id)? {
            // A closed alert stays closed: new activity raises a new one.
            let windows = state.rule_state(rule)?;
            windows.forget_alert(alert_id);
            effect = windows.apply(rule, member, terms);
        }
    }
    Ok(match effect {
        Effect::Raised(alert) => {
            let id = alert.alert_id.clone();
            state.raise(alert)?;
            Change::Raised(id)
        }
        Effect::Extended { alert_id, member } => {
            let Some(alert) = state.alert(&alert_id)? else {
                return Ok(Change::Extended(alert_id));
            };
            if alert.extend(&member).is_none() {
                return Ok(Change::Extended(alert_id));
            }
            let renamed = alert.alert_id.clone();
            state.rule_state(rule)?.rename_alert(&alert_id, &renamed);
            state.rename(&alert_id, &renamed)?;
            Change::Extended(renamed)
        }
        Effect::Dropped => Change::Dropped,
        Effect::NotNew => Change::NotNew,
        Effect::Pending | Effect::DroppedWindow => Change::Nothing,
    })
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

    fn rename(&mut self, from: &str, to: &str) -> Result<(), Self::Error> {
        if let Some(at) = self.at.remove(from) {
            // Nothing of a run held in memory is published before its end: the id the alert
            // had is nobody's to look up.
            self.alerts[at].previous_ids.clear();
            self.at.insert(to.to_owned(), at);
        }
        Ok(())
    }
}
