//! New terms (Elastic's `new_terms`) in any order: a signal is new when no signal of its rule
//! with the same terms comes before it (by event time, ties by event id) within the history
//! window. A sighting that arrives late can make the next one not new after all; that one is
//! handed back so its alert can be taken back.
//!
//! Only the sightings that can still decide something are kept: one between two others less
//! than the history window apart never does (the outer two answer for it), so a term keeps
//! about two sightings per history window however often it is seen.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a new signal went: its window's alert id and its event id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Taken {
    /// The id of the window's alert (raised or still waiting).
    pub alert_id: String,
    /// The signal's event id.
    pub event_id: Option<String>,
}

/// One sighting of a term.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sighting {
    at: DateTime<Utc>,
    event_id: Option<String>,
    /// Set when the sighting was new.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new: Option<Taken>,
}

impl Sighting {
    fn key(&self) -> (DateTime<Utc>, Option<&str>) {
        (self.at, self.event_id.as_deref())
    }
}

/// A term's sightings, in order.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sightings(Vec<Sighting>);

/// What one more sighting decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighted {
    /// The sighting is new.
    pub new: bool,
    /// The next sighting, new until now, is not new any more.
    pub no_longer_new: Option<Taken>,
}

impl Sightings {
    /// Adds a sighting at `at` of the signal `event_id`, which goes to `taken` if new.
    pub fn sight(&mut self, at: DateTime<Utc>, taken: Taken, history: Duration) -> Sighted {
        let within = |earlier: DateTime<Utc>, later: DateTime<Utc>| {
            (later - earlier).to_std().map_or(true, |gap| gap < history)
        };
        let key = (at, taken.event_id.as_deref());
        let p = self.0.partition_point(|s| s.key() < key);
        if self.0.get(p).is_some_and(|s| s.key() == key) {
            // The same signal again: it was decided when first seen.
            return Sighted { new: false, no_longer_new: None };
        }
        let new = p == 0 || !within(self.0[p - 1].at, at);
        let no_longer_new = match self.0.get_mut(p) {
            Some(next) if next.new.is_some() && within(at, next.at) => next.new.take(),
            _ => None,
        };
        let event_id = taken.event_id.clone();
        self.0.insert(p, Sighting { at, event_id, new: new.then_some(taken) });
        self.compact(p, history);
        Sighted { new, no_longer_new }
    }

    /// Drops the sightings around `p` that decide nothing any more.
    fn compact(&mut self, p: usize, history: Duration) {
        for j in [p + 1, p, p.saturating_sub(1)] {
            let redundant = j > 0
                && j + 1 < self.0.len()
                && self.0[j].new.is_none()
                && (self.0[j + 1].at - self.0[j - 1].at).to_std().is_ok_and(|gap| gap < history);
            if redundant {
                self.0.remove(j);
            }
        }
    }

    /// Forgets the sightings older than `before` (retention).
    pub fn forget_before(&mut self, before: DateTime<Utc>) {
        self.0.retain(|s| s.at >= before);
    }

    /// How many sightings are kept.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
