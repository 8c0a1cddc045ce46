//! Where results go. A [`Sink`] takes a run's signals as they come and its alert changes once
//! every signal is in; the terminal table ([`text`]), the JSON-lines contract ([`jsonl`]) and the
//! outputs that reach people are sinks alike, fanned out by a [`Router`] that gives each output
//! only what its [`Route`] asks for. stdout carries results only; progress, problems and the
//! summary go to stderr.

pub mod jsonl;
pub mod output;
pub mod report;
pub mod route;
pub mod stdout;
pub mod text;

use std::sync::Arc;

use tripline_alert::{Alert, Signal};
use tripline_rule::Rule;

pub use output::{OutputFormat, OutputSpec};
pub use route::Route;

/// What a sink could not do.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// Writing to a file or stdout failed.
    #[error("{target}: {source}")]
    Io {
        /// The output, as the user named it (secrets redacted).
        target: String,
        /// What the system said.
        source: std::io::Error,
    },
}

impl SinkError {
    /// Whether it is a closed pipe (`tripline scan … | head`), which is not a failure.
    #[must_use]
    pub fn is_broken_pipe(&self) -> bool {
        matches!(self, Self::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

pub use tripline_alert::ChangeKind;

/// One alert change, as sinks receive it.
#[derive(Debug, Clone, Copy)]
pub struct AlertChange<'a> {
    /// Raised or extended.
    pub kind: ChangeKind,
    /// The alert as it is after the change; `signals` holds the indexes (of this run's
    /// signals, as given to [`Sink::signal`]) of its signals from this run.
    pub alert: &'a Alert,
    /// Its rule, when loaded.
    pub rule: Option<&'a Rule>,
}

/// What an output delivered, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    /// Notifications delivered.
    pub delivered: u64,
    /// Notifications that could not be delivered, every retry spent.
    pub failed: u64,
    /// Why, one line each.
    pub errors: Vec<String>,
}

/// One destination of a run's results.
pub trait Sink {
    /// Takes one signal of the run: `index` is what alerts' `signals` refer to; `json` is the
    /// signal's JSON when a store has serialised it already.
    ///
    /// # Errors
    /// When writing failed.
    fn signal(
        &mut self,
        index: usize,
        signal: &Signal,
        json: Option<&str>,
    ) -> Result<(), SinkError>;

    /// Takes one alert change; called once every signal of the run was taken.
    ///
    /// # Errors
    /// When writing failed.
    fn alert(&mut self, change: AlertChange<'_>) -> Result<(), SinkError>;

    /// Writes what it has taken so far to its destination, for output that follows a live
    /// stream (most sinks have nothing to do until the end).
    ///
    /// # Errors
    /// When writing failed.
    fn flush(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// The run is over: writes what was held back and flushes.
    ///
    /// # Errors
    /// When writing failed.
    fn finish(&mut self) -> Result<Delivery, SinkError>;

    /// How the output is named in messages, secrets redacted.
    fn label(&self) -> String;
}

/// Every output of a run, each with its route.
pub struct Router {
    outputs: Vec<(Route, Box<dyn Sink>)>,
    rules: std::collections::HashMap<String, Arc<Rule>>,
}

impl Router {
    /// Outputs for a run of `rules`.
    #[must_use]
    pub fn new(outputs: Vec<(Route, Box<dyn Sink>)>, rules: &[Arc<Rule>]) -> Self {
        let rules = rules.iter().map(|r| (r.meta.id.clone(), Arc::clone(r))).collect();
        Self { outputs, rules }
    }

    fn routes<'a>(
        &'a mut self,
        rule_id: &str,
        severity: tripline_rule::Severity,
    ) -> impl Iterator<Item = &'a mut Box<dyn Sink>> {
        let rule = self.rules.get(rule_id).cloned();
        self.outputs
            .iter_mut()
            .filter(move |(route, _)| route.accepts(rule.as_deref(), severity))
            .map(|(_, sink)| sink)
    }

    /// Gives a signal to every output whose route takes it.
    ///
    /// # Errors
    /// The first output that failed.
    pub fn signal(
        &mut self,
        index: usize,
        signal: &Signal,
        json: Option<&str>,
    ) -> Result<(), SinkError> {
        self.routes(&signal.rule_id, signal.severity)
            .try_for_each(|s| s.signal(index, signal, json))
    }

    /// Gives an alert change to every output whose route takes it.
    ///
    /// # Errors
    /// The first output that failed.
    pub fn alert(&mut self, change: AlertChange<'_>) -> Result<(), SinkError> {
        let rule = self.rules.get(&change.alert.rule_id).cloned();
        let change = AlertChange { rule: rule.as_deref(), ..change };
        self.routes(&change.alert.rule_id, change.alert.severity).try_for_each(|s| s.alert(change))
    }

    /// Flushes every output (see [`Sink::flush`]).
    ///
    /// # Errors
    /// The first output that failed.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.outputs.iter_mut().try_for_each(|(_, sink)| sink.flush())
    }

    /// Finishes every output: (label, what it delivered) for each.
    ///
    /// # Errors
    /// The first output that failed.
    pub fn finish(&mut self) -> Result<Vec<(String, Delivery)>, SinkError> {
        self.outputs.iter_mut().map(|(_, sink)| Ok((sink.label(), sink.finish()?))).collect()
    }
}
