//! Signals and alerts. A [`Signal`] is one rule matching one record, carrying the context a
//! responder needs; [`alerter::raise`] turns a scan's signals into [`Alert`]s by each rule's
//! dedup key and period, threshold and schedule.
//!
//! The design decision: alerting runs in event time, never wall-clock time, with windows
//! anchored on their first signal (Panther's semantics) — so scanning last month's logs raises
//! the same alerts watching them live would have.
#![deny(missing_docs)]

pub mod alerter;
pub mod change;
pub mod correlate;
pub mod driver;
pub mod signal;
pub mod window;

pub use alerter::{raise, raise_candidates, Alert, Candidate, Outcome};
pub use change::ChangeKind;
pub use correlate::CorrelationPlan;
pub use signal::{InputRef, RecordFacts, Signal};
