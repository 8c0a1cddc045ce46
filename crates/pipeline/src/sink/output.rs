//! Naming outputs: `--output KIND:TARGET[#OPTIONS]` on the command line and `[[outputs]]` in
//! `tripline.toml`, parsed into an [`OutputSpec`] and opened as a [`Sink`].
//!
//! ```toml
//! [[outputs]]
//! to = "slack:https://hooks.slack.com/services/…"
//! min_severity = "high"
//!
//! [[outputs]]
//! to = "jsonl:/var/log/tripline/alerts.jsonl"
//! ```
//!
//! On the command line the options follow a `#` (a URL fragment is never sent, so the URL is
//! never ambiguous): `--output 'slack:https://…#min_severity=high,tags=network-security'`.
//!
//! Kinds: `text:PATH|-`, `jsonl:PATH|-` (the contract), `ocsf:PATH|-` (Detection Findings),
//! `webhook:URL` and `slack:URL` (an incoming-webhook URL). Options: `min_severity`, `rules`,
//! `tags` (the route); for webhook and Slack `retries` (attempts in all, default 5), `timeout`
//! (per attempt, default 10s), `backoff` (first wait, default 500ms), `workers` (deliveries at
//! once, default 4); with a store, `dead_after` (failed delivery rounds before a notification
//! is dead-lettered, default 5) for every notifying output; for a webhook `secret_env`, the
//! environment variable holding the shared secret that signs each body (the secret itself is
//! never written anywhere), and `batch` (alert changes per POST, default 1: see
//! [`crate::notify::webhook`]).

use std::fs::OpenOptions;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::Deserialize;
use tripline_rule::{Applies, Severity};

use super::{jsonl::JsonlSink, text::TextSink, Route, Sink, SinkError};

/// The format of the default output on stdout (`--format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputFormat {
    /// A readable table of alerts.
    #[default]
    Text,
    /// One JSON object per line: every signal, then every alert (the contract in the README).
    Jsonl,
}

/// The kinds of output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// The alert table (`text:-` or a file).
    Text,
    /// The JSON-lines contract, to a file or `-`.
    Jsonl,
    /// OCSF Detection Findings, one per line, to a file or `-`.
    Ocsf,
    /// A JSON POST per alert change.
    Webhook,
    /// A Slack message per alert change, through an incoming webhook.
    Slack,
}

impl OutputKind {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "text" => Some(Self::Text),
            "jsonl" => Some(Self::Jsonl),
            "ocsf" => Some(Self::Ocsf),
            "webhook" => Some(Self::Webhook),
            "slack" => Some(Self::Slack),
            _ => None,
        }
    }

    /// The kind's name, as written in a spec.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Jsonl => "jsonl",
            Self::Ocsf => "ocsf",
            Self::Webhook => "webhook",
            Self::Slack => "slack",
        }
    }

    /// Whether it posts to a URL.
    #[must_use]
    pub fn is_http(self) -> bool {
        matches!(self, Self::Webhook | Self::Slack)
    }
}

/// How an HTTP output delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpOptions {
    /// Attempts, backoff and timeout.
    pub retry: crate::notify::http::Retry,
    /// Deliveries at once.
    pub workers: usize,
    /// The environment variable holding the signing secret.
    pub secret_env: Option<String>,
    /// Webhook: alert changes per request.
    pub batch: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            retry: crate::notify::http::Retry::default(),
            workers: 4,
            secret_env: None,
            batch: 1,
        }
    }
}

/// What the user asked of one output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    /// What kind of output.
    pub kind: OutputKind,
    /// A path, `-` for stdout, or a URL.
    pub target: String,
    /// What it takes.
    pub route: Route,
    /// For webhook and Slack outputs: how they deliver.
    pub http: HttpOptions,
    /// With a store, failed delivery rounds before a notification is dead-lettered.
    pub dead_after: u32,
    /// For the text report: colour and width (set for a terminal by the command).
    pub style: super::report::TextStyle,
}

/// Failed delivery rounds (runs, or polls of `watch`) before a notification is dead-lettered.
pub const DEAD_AFTER: u32 = 5;

/// The most alert changes one webhook request carries: a receiver's body limit (often 1 MB
/// or a few) must hold a batch, and one notification is a few kB.
pub const MAX_BATCH: usize = 100;

/// Why an output could not be named or opened.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The spec is not `KIND:TARGET[#OPTIONS]`.
    #[error("`{spec}` is not an output: {reason}; write KIND:TARGET, such as jsonl:- or webhook:https://… (kinds: text, jsonl, ocsf, webhook, slack)")]
    Spec {
        /// The text given (secrets redacted).
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The secret's environment variable is not set (its value is never shown).
    #[error("output {output}: the environment variable `{var}` named by secret_env is not set")]
    Secret {
        /// The output (redacted).
        output: String,
        /// The variable.
        var: String,
    },
    /// The output's file could not be opened.
    #[error("cannot open the output {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
}

/// An `[[outputs]]` table of the configuration file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// `KIND:TARGET`.
    pub to: String,
    /// Only signals and alerts this severe or more.
    pub min_severity: Option<Severity>,
    /// Only these rules (ids or names).
    #[serde(default)]
    pub rules: Vec<String>,
    /// Only rules carrying these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Webhook and Slack: attempts in all.
    pub retries: Option<u32>,
    /// Webhook and Slack: per attempt (`10s`).
    pub timeout: Option<String>,
    /// Webhook and Slack: the first wait between attempts (`500ms`).
    pub backoff: Option<String>,
    /// Webhook and Slack: deliveries at once.
    pub workers: Option<usize>,
    /// Webhook: the environment variable holding the signing secret.
    pub secret_env: Option<String>,
    /// Webhook: alert changes per request.
    pub batch: Option<usize>,
    /// With a store: failed delivery rounds before dead-lettering.
    pub dead_after: Option<u32>,
}

impl TryFrom<RawOutput> for OutputSpec {
    type Error = OutputError;

    fn try_from(raw: RawOutput) -> Result<Self, OutputError> {
        let mut spec = Self::parse(&raw.to)?;
        spec.route = Route {
            min_severity: raw.min_severity,
            only: Applies { all: false, rules: raw.rules, tags: raw.tags },
        };
        let fail = |reason: String| OutputError::Spec { spec: redact(&raw.to), reason };
        let options = [
            ("retries", raw.retries.map(|n| n.to_string())),
            ("timeout", raw.timeout),
            ("backoff", raw.backoff),
            ("workers", raw.workers.map(|n| n.to_string())),
            ("secret_env", raw.secret_env),
            ("batch", raw.batch.map(|n| n.to_string())),
            ("dead_after", raw.dead_after.map(|n| n.to_string())),
        ];
        for (key, value) in options {
            if let Some(value) = value {
                spec.set(key, &value).map_err(fail)?;
            }
        }
        Ok(spec)
    }
}

impl std::str::FromStr for OutputSpec {
    type Err = OutputError;

    fn from_str(text: &str) -> Result<Self, OutputError> {
        Self::parse(text)
    }
}

impl OutputSpec {
    /// Parses `KIND:TARGET[#OPTIONS]`; options are `min_severity=LEVEL`, `rules=A|B` and
    /// `tags=A|B`, separated by commas.
    ///
    /// # Errors
    /// When the text names no known kind or its options are wrong.
    pub fn parse(text: &str) -> Result<Self, OutputError> {
        let fail = |reason: String| OutputError::Spec { spec: redact(text), reason };
        let (kind, rest) = text.split_once(':').ok_or_else(|| fail("no `:`".into()))?;
        let kind = OutputKind::parse(kind).ok_or_else(|| fail(format!("unknown kind `{kind}`")))?;
        let (target, options) = match rest.rsplit_once('#') {
            Some((target, options)) => (target, Some(options)),
            None => (rest, None),
        };
        if target.is_empty() {
            return Err(fail("no target after the kind".into()));
        }
        if kind.is_http() && !(target.starts_with("http://") || target.starts_with("https://")) {
            return Err(fail(format!("a {} output needs an http:// or https:// URL", kind.name())));
        }
        let mut spec = Self {
            kind,
            target: target.to_owned(),
            route: Route::default(),
            http: HttpOptions::default(),
            dead_after: DEAD_AFTER,
            style: Default::default(),
        };
        for option in options.into_iter().flat_map(|o| o.split(',')).filter(|o| !o.is_empty()) {
            let (key, value) = option
                .split_once('=')
                .ok_or_else(|| fail(format!("option `{option}` is not KEY=VALUE")))?;
            spec.set(key, value).map_err(fail)?;
        }
        Ok(spec)
    }

    /// Sets one option.
    fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let list = || value.split('|').map(str::to_owned).collect::<Vec<_>>();
        let duration =
            || humantime::parse_duration(value).map_err(|e| format!("`{value}` for {key}: {e}"));
        let http_only = |spec: &Self| {
            if spec.kind.is_http() {
                Ok(())
            } else {
                Err(format!("option `{key}` is for webhook and slack outputs"))
            }
        };
        match key {
            "min_severity" => self.route.min_severity = Some(value.parse::<Severity>().map_err(|e| e.to_string())?),
            "rules" => self.route.only.rules = list(),
            "tags" => self.route.only.tags = list(),
            "retries" => {
                http_only(self)?;
                self.http.retry.attempts = value.parse().ok().filter(|&n| n >= 1).ok_or(format!("retries must be a number from 1, not `{value}`"))?;
            }
            "timeout" => {
                http_only(self)?;
                self.http.retry.timeout = duration()?;
            }
            "backoff" => {
                http_only(self)?;
                self.http.retry.backoff = duration()?;
            }
            "workers" => {
                http_only(self)?;
                self.http.workers = value.parse().ok().filter(|&n| n >= 1).ok_or(format!("workers must be a number from 1, not `{value}`"))?;
            }
            "dead_after" if self.notifies() => {
                self.dead_after = value.parse().ok().filter(|&n| n >= 1).ok_or(format!("dead_after must be a number from 1, not `{value}`"))?;
            }
            "dead_after" => return Err("option `dead_after` is for webhook, slack and ocsf outputs".into()),
            "secret_env" if self.kind == OutputKind::Webhook => self.http.secret_env = Some(value.to_owned()),
            "secret_env" => return Err("option `secret_env` is for webhook outputs".into()),
            "batch" if self.kind == OutputKind::Webhook => {
                self.http.batch = value.parse().ok().filter(|n| (1..=MAX_BATCH).contains(n)).ok_or(format!("batch must be a number from 1 to {MAX_BATCH}, not `{value}`"))?;
            }
            "batch" => return Err("option `batch` is for webhook outputs".into()),
            _ => return Err(format!("unknown option `{key}` (options: min_severity, rules, tags, retries, timeout, backoff, workers, secret_env, batch, dead_after)")),
        }
        Ok(())
    }

    /// Whether it writes to stdout.
    #[must_use]
    pub fn is_stdout(&self) -> bool {
        self.target == "-"
    }

    /// Whether it writes to a file (a path the configuration may give relative to itself).
    #[must_use]
    pub fn is_file(&self) -> bool {
        !self.is_stdout() && !self.kind.is_http()
    }

    /// The default output: `format` on stdout, everything.
    #[must_use]
    pub fn stdout(format: OutputFormat) -> Self {
        let kind = match format {
            OutputFormat::Text => OutputKind::Text,
            OutputFormat::Jsonl => OutputKind::Jsonl,
        };
        Self {
            kind,
            target: "-".into(),
            route: Route::default(),
            http: HttpOptions::default(),
            dead_after: DEAD_AFTER,
            style: Default::default(),
        }
    }

    /// Opens the output. Files are appended to, so a service writing the same file run after
    /// run keeps every line.
    ///
    /// # Errors
    /// When a file cannot be opened.
    pub fn open(&self) -> Result<Box<dyn Sink>, OutputError> {
        use crate::notify::NotifySink;
        let label = self.label();
        if let Some(channel) = self.channel()? {
            return Ok(Box::new(NotifySink::new(channel, label, self.workers())));
        }
        Ok(match self.kind {
            OutputKind::Text => Box::new(TextSink::new(self.writer()?, label, self.style)),
            _ => Box::new(JsonlSink::new(self.writer()?, label)),
        })
    }

    /// Whether it notifies (a notification per alert change: webhook, Slack, OCSF); with a
    /// store, such outputs deliver through the outbox.
    #[must_use]
    pub fn notifies(&self) -> bool {
        !matches!(self.kind, OutputKind::Text | OutputKind::Jsonl)
    }

    /// The output as the outbox delivers it, for notifying outputs.
    ///
    /// # Errors
    /// When its file cannot be opened or its secret is missing.
    pub fn open_outbox(&self) -> Result<Option<crate::notify::outbox::OutboxOutput>, OutputError> {
        let Some(channel) = self.channel()? else { return Ok(None) };
        Ok(Some(crate::notify::outbox::OutboxOutput {
            id: crate::notify::outbox::output_id(self.kind.name(), &self.target),
            label: self.label(),
            route: self.route.clone(),
            channel,
            workers: self.workers(),
            dead_after: self.dead_after,
        }))
    }

    /// How messages name it.
    #[must_use]
    pub fn label(&self) -> String {
        redact(&format!("{}:{}", self.kind.name(), self.target))
    }

    /// One at a time for files, so they keep the order of the changes.
    fn workers(&self) -> usize {
        if self.kind.is_http() {
            self.http.workers
        } else {
            1
        }
    }

    /// How a notifying output delivers; `None` for the table and JSON lines.
    fn channel(&self) -> Result<Option<Box<dyn crate::notify::Channel>>, OutputError> {
        use crate::notify::{
            http::Poster, http::Secret, ocsf::OcsfWriter, slack::Slack, webhook::Webhook,
        };
        let label = self.label();
        let poster = || -> Result<Poster, OutputError> {
            let secret = match &self.http.secret_env {
                Some(var) => Some(Secret::new(&std::env::var(var).map_err(|_| {
                    OutputError::Secret { output: label.clone(), var: var.clone() }
                })?)),
                None => None,
            };
            Poster::new(&self.target, label.clone(), self.http.retry.clone(), secret)
                .map_err(|reason| OutputError::Spec { spec: label.clone(), reason })
        };
        Ok(Some(match self.kind {
            OutputKind::Webhook => Box::new(Webhook::new(poster()?, self.http.batch)),
            OutputKind::Slack => Box::new(Slack::new(poster()?)),
            OutputKind::Ocsf => Box::new(OcsfWriter::new(self.writer()?)),
            OutputKind::Text | OutputKind::Jsonl => return Ok(None),
        }))
    }

    fn writer(&self) -> Result<Box<dyn Write + Send>, OutputError> {
        if self.is_stdout() {
            return Ok(Box::new(BufWriter::new(
                super::stdout::UntilClosed::new(std::io::stdout()),
            )));
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(Path::new(&self.target))
            .map_err(|source| OutputError::Open { path: self.target.clone(), source })?;
        Ok(Box::new(BufWriter::new(file)))
    }
}

/// An output's name for messages: a URL keeps its scheme and host, the rest (which for Slack
/// and most webhooks is the secret) is hidden.
#[must_use]
pub fn redact(text: &str) -> String {
    let Some(at) = text.find("://") else { return text.to_owned() };
    let host_end = text[at + 3..].find('/').map_or(text.len(), |i| at + 3 + i);
    if host_end == text.len() {
        return text.to_owned();
    }
    format!("{}/***", &text[..host_end])
}

/// Makes a [`SinkError`] for an output from an I/O error.
pub(crate) fn io_error(target: &str, source: std::io::Error) -> SinkError {
    SinkError::Io { target: target.to_owned(), source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_kind_target_and_options() {
        let spec =
            OutputSpec::parse("jsonl:out/alerts.jsonl#min_severity=high,tags=a|b").expect("valid");
        assert_eq!(spec.kind, OutputKind::Jsonl);
        assert_eq!(spec.target, "out/alerts.jsonl");
        assert_eq!(spec.route.min_severity, Some(Severity::High));
        assert_eq!(spec.route.only.tags, ["a", "b"]);
        assert!(OutputSpec::parse("jsonl:-").expect("valid").is_stdout());
        for bad in
            ["jsonl", "mail:x", "jsonl:", "jsonl:-#min_severity=urgent", "jsonl:-#colour=red"]
        {
            assert!(OutputSpec::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn urls_lose_their_path_in_messages() {
        assert_eq!(
            redact("slack:https://hooks.slack.com/services/T0/B0/secret"),
            "slack:https://hooks.slack.com/***"
        );
        assert_eq!(redact("webhook:http://127.0.0.1:8080"), "webhook:http://127.0.0.1:8080");
        assert_eq!(redact("jsonl:-"), "jsonl:-");
    }
}
