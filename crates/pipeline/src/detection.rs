//! Building the detection: the rule set (less the rules turned off and what `min_severity`
//! leaves out) compiled into one
//! engine, with its correlations and the suppressions in force today.

use std::sync::Arc;

use chrono::NaiveDate;
use tripline_alert::CorrelationPlan;
use tripline_engine::suppress::SuppressionSet;
use tripline_engine::EngineBuilder;
use tripline_rule::{Rule, Severity};

use crate::ruleset::RuleSet;
use crate::scan::Detection;

/// Why the rules could not be compiled into a detection.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The engine refused the rule set.
    #[error("the rules could not be compiled: {0}")]
    Engine(tripline_engine::BuildError),
    /// The suppressions could not be compiled.
    #[error("the suppressions could not be compiled: {0}")]
    Suppressions(tripline_engine::BuildError),
}

/// The rule set, compiled, with what building it had to say.
pub struct Setup {
    /// The rules loaded (after `min_severity`).
    pub ruleset: RuleSet,
    /// What scans evaluate records with.
    pub detection: Detection,
    /// Correlations that could not be planned (each printed as an error; exit 2).
    pub plan_errors: Vec<tripline_alert::correlate::PlanError>,
    /// Rules left out by `min_severity`.
    pub left_out: usize,
    /// What building had to warn about (disabled rules a correlation keeps on).
    pub warnings: Vec<String>,
}

impl Setup {
    /// Compiles `ruleset`, leaving out the rules that can never raise anything `min_severity`
    /// severe, with the suppressions in force on `today`.
    ///
    /// # Errors
    /// When the engine or the suppressions cannot be compiled.
    pub fn build(
        mut ruleset: RuleSet,
        min_severity: Option<Severity>,
        today: NaiveDate,
    ) -> Result<Self, BuildError> {
        let off: std::collections::HashSet<String> = ruleset
            .rules
            .iter()
            .zip(&ruleset.off)
            .filter(|(_, off)| off.is_some())
            .map(|(rule, _)| rule.meta.id.clone())
            .collect();
        let on = ruleset.rules.len() - off.len();
        let keep: Vec<bool> = ruleset
            .rules
            .iter()
            .map(|r| !off.contains(&r.meta.id) && min_severity.is_none_or(|m| most_severe(r) >= m))
            .collect();
        let (rules, kept_for) = with_references(std::mem::take(&mut ruleset.rules), keep);
        // One warning per disabled rule a correlation keeps on.
        let warnings: Vec<String> = kept_for
            .iter()
            .filter(|(rule, _)| off.contains(rule))
            .map(|(rule, correlation)| format!("warning: rule `{rule}` is disabled, but correlation `{correlation}` uses it: it stays on"))
            .collect();
        let left_out = (on + warnings.len()).saturating_sub(rules.len());
        ruleset.rules = rules;
        ruleset.off = vec![None; ruleset.rules.len()];
        let mut builder = EngineBuilder::new();
        for rule in &ruleset.rules {
            builder.add(rule.clone());
        }
        let engine = builder.build().map_err(BuildError::Engine)?;
        let (plan, plan_errors) = match CorrelationPlan::new(engine.rules()) {
            Ok(plan) => (plan, Vec::new()),
            Err(errors) => (CorrelationPlan::default(), errors),
        };
        let suppressions = SuppressionSet::new(ruleset.suppressions.clone(), &engine, today)
            .map_err(BuildError::Suppressions)?;
        Ok(Self {
            ruleset,
            detection: Detection { engine, plan, suppressions },
            plan_errors,
            left_out,
            warnings,
        })
    }

    /// Warnings about suppressions that expired and no longer apply.
    #[must_use]
    pub fn expiry_warnings(&self) -> Vec<String> {
        let suppressions = &self.detection.suppressions;
        suppressions
            .expired()
            .iter()
            .map(|&i| {
                let s = &suppressions.suppressions()[i];
                format!(
                    "warning: suppression `{}` ({}) expired on {} and no longer applies",
                    s.name,
                    s.location(),
                    s.expires.map(|d| d.to_string()).unwrap_or_default()
                )
            })
            .collect()
    }

    /// Suppression counts by name — (name, signals kept out of alerts) — for the suppressions
    /// in force; `counts` is per suppression index. Elastic exception lists become one
    /// suppression per rule that uses them, so they are counted by name.
    #[must_use]
    pub fn suppression_counts(&self, counts: &[u64]) -> Vec<(String, u64)> {
        let suppressions = self.detection.suppressions.suppressions();
        let mut by_name: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        for (i, s) in suppressions.iter().enumerate() {
            if self.detection.suppressions.expired().contains(&i) {
                continue;
            }
            *by_name.entry(s.name.as_str()).or_insert(0) += counts.get(i).copied().unwrap_or(0);
        }
        by_name.into_iter().map(|(name, n)| (name.to_owned(), n)).collect()
    }

    /// Whether loading went wrong somewhere (exit 2 even if the scan itself was clean).
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.ruleset.has_errors() || !self.plan_errors.is_empty()
    }
}

/// The most severe thing a rule can raise: its own severity or any dynamic one.
fn most_severe(rule: &Rule) -> Severity {
    rule.meta
        .dynamic_severity
        .iter()
        .map(|(severity, _)| *severity)
        .fold(rule.meta.severity(), Severity::max)
}

/// The rules `keep` marks, and the rules the kept correlations use; with (rule id, correlation
/// id) for each rule kept only because a correlation uses it.
fn with_references(
    rules: Vec<Arc<Rule>>,
    mut keep: Vec<bool>,
) -> (Vec<Arc<Rule>>, Vec<(String, String)>) {
    let mut kept_for = Vec::new();
    // A kept correlation keeps what it refers to, which may be a correlation itself.
    let mut pending: Vec<usize> = (0..rules.len()).filter(|&i| keep[i]).collect();
    while let Some(i) = pending.pop() {
        for reference in rules[i].correlation().into_iter().flat_map(|c| &c.rules) {
            for (j, rule) in rules.iter().enumerate() {
                if !keep[j] && rule.is_named(reference) {
                    keep[j] = true;
                    pending.push(j);
                    kept_for.push((rule.meta.id.clone(), rules[i].meta.id.clone()));
                }
            }
        }
    }
    let kept =
        rules.into_iter().zip(keep).filter_map(|(rule, keep)| keep.then_some(rule)).collect();
    (kept, kept_for)
}

/// The rules that can raise something at least `min` severe, and the rules the kept
/// correlations use.
#[cfg(test)]
fn at_least(rules: Vec<Arc<Rule>>, min: Severity) -> Vec<Arc<Rule>> {
    let keep = rules.iter().map(|r| most_severe(r) >= min).collect();
    with_references(rules, keep).0
}
#[cfg(test)]
mod tests {
    use super::*;
    use tripline_event::Field;
    use tripline_rule::{Expr, Test};

    fn rule(id: &str, severity: Severity, dynamic: &[Severity]) -> Arc<Rule> {
        let mut rule = Rule::new(id, Expr::pred(Field::resolve("eventName"), Test::Exists));
        rule.meta.severity = Some(severity);
        rule.meta.dynamic_severity = dynamic
            .iter()
            .map(|&s| (s, Expr::pred(Field::resolve("errorCode"), Test::Exists)))
            .collect();
        Arc::new(rule)
    }

    #[test]
    fn a_rule_stays_when_its_severity_or_any_dynamic_one_reaches_the_minimum() {
        let rules = vec![
            rule("low", Severity::Low, &[]),
            rule("low-or-high", Severity::Low, &[Severity::Info, Severity::High]),
            rule("medium", Severity::Medium, &[]),
        ];
        let kept = |min| {
            at_least(rules.clone(), min).iter().map(|r| r.meta.id.clone()).collect::<Vec<_>>()
        };
        assert_eq!(kept(Severity::Medium), ["low-or-high", "medium"]);
        assert_eq!(kept(Severity::High), ["low-or-high"]);
        assert_eq!(kept(Severity::Low).len(), 3);
        assert!(kept(Severity::Critical).is_empty());
    }
}
