//! Signals and alerts. A [`Signal`] is one rule matching one record, carrying the context a
//! responder needs; [`alerter::raise`] turns a scan's signals into [`Alert`]s by each rule's
//! dedup key and period, threshold and schedule.
//!
//! The design decision: alerting runs in event time, never wall-clock time, over windows
//! aligned in event time — so the alerts are a function of the set of signals, and scanning
//! last month's logs in any order, split any way, raises the same alerts watching them live
//! would have.
#![deny(missing_docs)]

pub mod alerter;
pub mod change;
pub mod correlate;
pub mod driver;
pub mod rule_state;
pub mod signal;
pub mod terms;
pub mod window;

pub use alerter::{raise, raise_candidates, Alert, Candidate, Outcome};
pub use change::ChangeKind;
pub use correlate::CorrelationPlan;
pub use signal::{InputRef, RecordFacts, Signal};
