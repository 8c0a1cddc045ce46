//! Building the detection: the rule set (less what `min_severity` leaves out) compiled into one
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
        let mut left_out = 0;
        if let Some(min) = min_severity {
            let before = ruleset.rules.len();
            ruleset.rules = at_least(std::mem::take(&mut ruleset.rules), min);
            left_out = before - ruleset.rules.len();
        }
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

/// The rules that can raise something at least `min` severe (their own severity or any dynamic
/// one), and the rules the kept correlations use.
fn at_least(rules: Vec<Arc<Rule>>, min: Severity) -> Vec<Arc<Rule>> {
    let most_severe = |rule: &Rule| {
        rule.meta
            .dynamic_severity
            .iter()
            .map(|(severity, _)| *severity)
            .fold(rule.meta.severity(), Severity::max)
    };
    let mut keep: Vec<bool> = rules.iter().map(|r| most_severe(r) >= min).collect();
    // A kept correlation keeps what it refers to, which may be a correlation itself.
    let mut pending: Vec<usize> = (0..rules.len()).filter(|&i| keep[i]).collect();
    while let Some(i) = pending.pop() {
        for reference in rules[i].correlation().into_iter().flat_map(|c| &c.rules) {
            for (j, rule) in rules.iter().enumerate() {
                if !keep[j] && rule.is_named(reference) {
                    keep[j] = true;
                    pending.push(j);
                }
            }
        }
    }
    rules.into_iter().zip(keep).filter_map(|(rule, keep)| keep.then_some(rule)).collect()
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
