//! How an alert changed: what outputs and the outbox are told.

/// How an alert changed in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Raised by this run.
    Raised,
    /// An alert raised earlier took more signals.
    Extended,
    /// Closed by a later rule run: the rule, changed since, was evaluated again over the
    /// alert's inputs and none of its events matches any more.
    Closed,
}
