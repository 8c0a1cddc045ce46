//! Rule metadata, alerting options and inline tests.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;

use crate::expr::Expr;
use crate::template::Template;

/// How urgent an alert is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a record, not a page.
    Info,
    /// Review in working hours.
    Low,
    /// Review today.
    Medium,
    /// Act now.
    High,
    /// Act now, wake people.
    Critical,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 5] =
        [Self::Info, Self::Low, Self::Medium, Self::High, Self::Critical];

    /// The lower-case name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Info => "info",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// Elastic's default risk score for the severity (21/47/73/99), 0 for info.
    #[must_use]
    pub fn default_risk_score(self) -> u8 {
        match self {
            Self::Info => 0,
            Self::Low => 21,
            Self::Medium => 47,
            Self::High => 73,
            Self::Critical => 99,
        }
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|sev| {
                sev.as_str().eq_ignore_ascii_case(s)
                    || (s.eq_ignore_ascii_case("informational") && *sev == Self::Info)
            })
            .ok_or_else(|| {
                format!("unknown severity `{s}` (expected info, low, medium, high or critical)")
            })
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which kinds of CloudTrail record a rule sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// Management and data events: everything but Insights records.
    #[default]
    Events,
    /// CloudTrail Insights records only.
    Insights,
    /// No scanned record: a disabled rule, or one written for another log type. Its inline
    /// tests still run against its condition.
    Inactive,
}

/// What a rule is and where it came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// Stable id; for vendor rules, the vendor's id.
    pub id: String,
    /// A second name other rules may use to refer to this one (Sigma's `name`).
    pub name: Option<String>,
    /// Alert title; may contain `{field}` placeholders.
    pub title: String,
    /// What the rule detects and why it matters.
    pub description: String,
    /// Who wrote it.
    pub author: Vec<String>,
    /// Links for the responder.
    pub references: Vec<String>,
    /// Severity when it fires.
    pub severity: Option<Severity>,
    /// 0–100; defaults from severity.
    pub risk_score: Option<u8>,
    /// Free tags.
    pub tags: Vec<String>,
    /// ATT&CK tactic, technique and sub-technique ids (`TA0005`, `T1562.007`).
    pub mitre: Vec<String>,
    /// Known benign causes.
    pub false_positives: Vec<String>,
    /// Markdown steps for the responder.
    pub triage: String,
    /// Fields to show in a signal's summary (`any_aws_arns` for every ARN in the record).
    pub summary_attributes: Vec<String>,
    /// Named values added to a signal's context (Panther's `AlertContext`).
    pub alert_context: Vec<(String, tripline_event::Field)>,
    /// Severity by condition, first match wins (Panther's `DynamicSeverities`).
    pub dynamic_severity: Vec<(Severity, crate::expr::Expr)>,
    /// The vendor rule it reproduces or comes from.
    pub origin: Option<crate::identity::Origin>,
    /// Its format and the kind of rule it is in that format.
    pub kind: crate::identity::RuleKind,
    /// The rule file, when loaded from disk (`rules/…` for built-ins).
    pub source: Option<PathBuf>,
}

impl Metadata {
    /// The severity, `info` when unset.
    #[must_use]
    pub fn severity(&self) -> Severity {
        self.severity.unwrap_or(Severity::Info)
    }

    /// The risk score, from the severity when unset.
    #[must_use]
    pub fn risk_score(&self) -> u8 {
        self.risk_score.unwrap_or_else(|| self.severity().default_risk_score())
    }
}

/// Group signals into one alert per key and period.
#[derive(Debug, Clone, PartialEq)]
pub struct Dedup {
    /// The key; signals with equal rendered keys share an alert.
    pub key: Template,
    /// How long after the first signal later ones join its alert.
    pub period: Duration,
}

/// Elastic's schedule, honoured over event time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Execution length: records are grouped into executions of this length.
    pub interval: Duration,
    /// How far back each execution looks; what exceeds `interval` is allowed lateness.
    pub lookback: Duration,
    /// At most this many alerts per rule per execution; the rest are counted as dropped.
    pub max_alerts: u32,
}

/// Elastic's `new_terms`: alert only on a combination of field values not seen in the history
/// window before.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTerms {
    /// The fields whose values form the term.
    pub fields: Vec<tripline_event::Field>,
    /// How far back a term counts as seen.
    pub history: Duration,
}

/// Elastic's threshold `cardinality`: a window also needs this many distinct values of a field.
#[derive(Debug, Clone, PartialEq)]
pub struct Cardinality {
    /// The field counted.
    pub field: tripline_event::Field,
    /// Distinct values needed.
    pub min: u32,
}

/// How signals become alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct Alerting {
    /// Dedup key and period; `None` raises an alert per signal.
    pub dedup: Option<Dedup>,
    /// Signals needed in one dedup window before the alert is raised.
    pub threshold: u32,
    /// Distinct values of a field needed in one window, besides `threshold`.
    pub cardinality: Option<Cardinality>,
    /// Alert only on terms new within a history window.
    pub new_terms: Option<NewTerms>,
    /// Elastic-style schedule.
    pub schedule: Option<Schedule>,
}

impl Default for Alerting {
    fn default() -> Self {
        Self { dedup: None, threshold: 1, cardinality: None, new_terms: None, schedule: None }
    }
}

impl Alerting {
    /// Fields whose values alerting needs from each signal's record.
    #[must_use]
    pub fn capture_fields(&self) -> Vec<&tripline_event::Field> {
        let mut fields: Vec<&tripline_event::Field> =
            self.new_terms.iter().flat_map(|n| &n.fields).collect();
        fields.extend(self.cardinality.iter().map(|c| &c.field));
        fields
    }
}

/// An inline test case: a record and whether the rule must match it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleTest {
    /// What the case shows.
    pub name: String,
    /// Whether the rule should match.
    pub expected: bool,
    /// A complete CloudTrail record.
    pub log: Value,
    /// The alert title the case expects, when checked.
    pub expect_title: Option<String>,
    /// The severity the case expects, when checked.
    pub expect_severity: Option<crate::meta::Severity>,
    /// The dedup key the case expects, when checked.
    pub expect_dedup_key: Option<String>,
    /// The line of the case in its file, for failure messages.
    pub line: Option<usize>,
}

/// A complete rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// What it is.
    pub meta: Metadata,
    /// When it fires: a condition over records, or a pattern over other rules' signals.
    pub logic: Logic,
    /// Which records it sees.
    pub scope: Scope,
    /// How its signals become alerts.
    pub alerting: Alerting,
    /// Its inline tests.
    pub tests: Vec<RuleTest>,
    /// What signal building needs from the metadata, prepared once (not per signal).
    pub prepared: Prepared,
}

/// What makes a rule fire: detections and correlations are the two kinds of rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Logic {
    /// A condition each record is tested against.
    Detect(Expr),
    /// A pattern over the signals of other rules, within a time window.
    Correlate(crate::correlation::Correlation),
}

/// The condition of a rule that matches no record by itself.
static NO_RECORD: Expr = Expr::Const(false);

/// Parsed forms of a rule's title and summary attributes, made on first use.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    title: std::sync::OnceLock<Template>,
    summary: std::sync::OnceLock<Vec<tripline_event::Field>>,
}

impl PartialEq for Prepared {
    /// Derived data: two rules are equal whatever has been prepared.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Rule {
    /// The title as a template (a title that does not parse is used literally).
    #[must_use]
    pub fn title_template(&self) -> &Template {
        self.prepared.title.get_or_init(|| {
            Template::parse(&self.meta.title)
                .unwrap_or_else(|_| Template::literal(&self.meta.title))
        })
    }

    /// The summary attributes as fields, looked up without regard to case (as Panther's are).
    #[must_use]
    pub fn summary_fields(&self) -> &[tripline_event::Field] {
        self.prepared.summary.get_or_init(|| {
            self.meta
                .summary_attributes
                .iter()
                .map(|name| tripline_event::Field::resolve(name).ignoring_case())
                .collect()
        })
    }

    /// The condition over single records. A correlation rule matches no record by itself, so
    /// its condition is `false` and the engine can hold every rule at one index.
    #[must_use]
    pub fn condition(&self) -> &Expr {
        match &self.logic {
            Logic::Detect(expr) => expr,
            Logic::Correlate(_) => &NO_RECORD,
        }
    }

    /// The correlation, for a correlation rule.
    #[must_use]
    pub fn correlation(&self) -> Option<&crate::correlation::Correlation> {
        match &self.logic {
            Logic::Detect(_) => None,
            Logic::Correlate(correlation) => Some(correlation),
        }
    }

    /// A digest of what decides the rule's signals and alerts — its logic, scope and alerting
    /// options, not its title or guide — so a store can tell which inputs a new or changed
    /// rule has not yet seen. The derived `Debug` text is the serialisation: every part is
    /// plain data in a fixed order (no hash maps), so equal rules give equal digests.
    #[must_use]
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let text = format!("{:?}|{:?}|{:?}", self.logic, self.scope, self.alerting);
        Sha256::digest(text.as_bytes())[..12].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Whether `reference` (from a correlation or filter) names this rule, by id or name.
    #[must_use]
    pub fn is_named(&self, reference: &str) -> bool {
        self.meta.id == reference || self.meta.name.as_deref() == Some(reference)
    }

    /// A rule with just an id and a condition (for tests and tools).
    #[must_use]
    pub fn new(id: &str, expr: Expr) -> Self {
        Self {
            meta: Metadata { id: id.to_owned(), title: id.to_owned(), ..Metadata::default() },
            logic: Logic::Detect(expr),
            scope: Scope::default(),
            alerting: Alerting::default(),
            tests: Vec::new(),
            prepared: Prepared::default(),
        }
    }
}
