//! Suppressions: signals a team has decided not to be alerted on, on purpose and on record.
//! A suppression names who owns it and why, may expire, applies to some rules (by id or name,
//! by tag, or all), and matches records with a condition in the rules' own IR. Sigma meta
//! filters and Elastic exception lists become suppressions too, so every silenced signal is
//! counted under a name.

use std::path::PathBuf;

use chrono::NaiveDate;

use crate::expr::Expr;
use crate::meta::Rule;

/// Where a suppression came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressionKind {
    /// A Tripline suppression file.
    File,
    /// A Sigma meta filter (the filter's condition must hold; a record it excludes is suppressed).
    SigmaFilter,
    /// An Elastic exception list referenced by a rule's `exceptions_list`.
    ElasticException,
}

/// Which rules a suppression applies to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Applies {
    /// Every rule.
    pub all: bool,
    /// Rules by id or name.
    pub rules: Vec<String>,
    /// Rules carrying any of these tags (ATT&CK ids count as tags).
    pub tags: Vec<String>,
}

impl Applies {
    /// Whether `rule` is among them: every rule, or named by id or name, or carrying a tag.
    #[must_use]
    pub fn matches(&self, rule: &Rule) -> bool {
        self.all
            || self.rules.iter().any(|r| rule.is_named(r))
            || self.tags.iter().any(|t| {
                rule.meta.tags.iter().chain(&rule.meta.mitre).any(|own| own.eq_ignore_ascii_case(t))
            })
    }
}

/// One suppression.
#[derive(Debug, Clone, PartialEq)]
pub struct Suppression {
    /// Its name, unique within a run (counts are reported under it).
    pub name: String,
    /// Why these signals are not alerts.
    pub reason: String,
    /// Who answers for it.
    pub owner: String,
    /// The last day it applies (inclusive, UTC).
    pub expires: Option<NaiveDate>,
    /// The rules it applies to.
    pub applies: Applies,
    /// The records it suppresses.
    pub expr: Expr,
    /// Where it came from.
    pub kind: SuppressionKind,
    /// The file and line that defined it.
    pub source: Option<(PathBuf, usize)>,
}

impl Suppression {
    /// Whether it applies to `rule`.
    #[must_use]
    pub fn applies_to(&self, rule: &Rule) -> bool {
        self.applies.matches(rule)
    }

    /// Whether it has expired by `today`.
    #[must_use]
    pub fn is_expired(&self, today: NaiveDate) -> bool {
        self.expires.is_some_and(|last| today > last)
    }

    /// `file:line`, or the kind, for messages.
    #[must_use]
    pub fn location(&self) -> String {
        match &self.source {
            Some((path, line)) => format!("{}:{line}", path.display()),
            None => match self.kind {
                SuppressionKind::File => "suppression".to_owned(),
                SuppressionKind::SigmaFilter => "Sigma filter".to_owned(),
                SuppressionKind::ElasticException => "Elastic exception list".to_owned(),
            },
        }
    }
}
