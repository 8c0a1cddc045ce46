//! What `scan` and `watch` share: the rules compiled with their correlations and suppressions,
//! and the totals a scan reports.

use chrono::Utc;
use tripline_alert::CorrelationPlan;
use tripline_engine::suppress::SuppressionSet;
use tripline_engine::EngineBuilder;
use tripline_io::scan::{Detection, FileOutcome};

use std::sync::Arc;

use tripline_rule::{Rule, Severity};

use crate::ruleset::{self, RuleArgs};

/// Options of the commands that run rules over logs (`scan`, `watch`).
#[derive(clap::Args, Debug, Clone)]
pub struct DetectArgs {
    /// Leave out rules that can never raise anything this severe (info, low, medium, high,
    /// critical), such as a broad `low` Sigma rule that matches most records. A rule a kept
    /// correlation uses stays.
    #[arg(long, value_name = "LEVEL", env = "TRIPLINE_MIN_SEVERITY", value_parser = str::parse::<Severity>)]
    pub min_severity: Option<Severity>,
}

/// Totals over every input.
#[derive(Default)]
pub(super) struct Totals {
    pub files: u64,
    pub records: u64,
    pub bad_records: u64,
    pub insights: u64,
    pub digests: u64,
    pub outside_range: u64,
    pub bad_files: u64,
    pub bytes: u64,
    /// Signals kept out of alerts, per suppression.
    pub suppressed: Vec<u64>,
}

impl Totals {
    pub fn add(&mut self, outcome: &FileOutcome) {
        self.records += outcome.records;
        self.bytes += outcome.raw_bytes;
        self.bad_records += outcome.bad_records;
        self.insights += outcome.insights;
        self.digests += outcome.digests;
        self.outside_range += outcome.outside_range;
        self.bad_files += u64::from(outcome.has_errors());
        if self.suppressed.len() < outcome.suppressed.len() {
            self.suppressed.resize(outcome.suppressed.len(), 0);
        }
        for (total, n) in self.suppressed.iter_mut().zip(&outcome.suppressed) {
            *total += n;
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "scanned {} file(s), {:.1} MB ({} with errors, {} digest file(s) skipped), {} record(s) ({} bad, {} insight, {} outside --since/--until); {} signal(s) suppressed",
            self.files, self.bytes as f64 / 1e6, self.bad_files, self.digests, self.records, self.bad_records, self.insights, self.outside_range,
            self.suppressed.iter().sum::<u64>()
        )
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
        for reference in rules[i].correlation.iter().flat_map(|c| &c.rules) {
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

/// The rules, compiled, with their correlations and suppressions.
pub(super) struct Setup {
    pub ruleset: ruleset::RuleSet,
    pub detection: Detection,
    pub plan_errors: bool,
}

impl Setup {
    pub fn load(args: &RuleArgs, detect: &DetectArgs, quiet: bool) -> anyhow::Result<Self> {
        let mut ruleset = ruleset::load(args);
        ruleset.report(quiet);
        if let Some(min) = detect.min_severity.or(crate::config::get().min_severity) {
            let before = ruleset.rules.len();
            ruleset.rules = at_least(std::mem::take(&mut ruleset.rules), min);
            if !quiet {
                eprintln!(
                    "rules: {} left out by --min-severity {min}, {} kept",
                    before - ruleset.rules.len(),
                    ruleset.rules.len()
                );
            }
        }
        let mut builder = EngineBuilder::new();
        for rule in &ruleset.rules {
            builder.add(rule.clone());
        }
        let engine = builder.build().map_err(anyhow::Error::msg)?;
        let (plan, plan_errors) = match CorrelationPlan::new(engine.rules()) {
            Ok(plan) => (plan, false),
            Err(errors) => {
                errors.iter().for_each(|e| eprintln!("error: {e}"));
                (CorrelationPlan::default(), true)
            }
        };
        let today = Utc::now().date_naive();
        let suppressions = SuppressionSet::new(ruleset.suppressions.clone(), &engine, today)
            .map_err(anyhow::Error::msg)?;
        for &i in suppressions.expired() {
            let s = &suppressions.suppressions()[i];
            eprintln!(
                "warning: suppression `{}` ({}) expired on {} and no longer applies",
                s.name,
                s.location(),
                s.expires.map(|d| d.to_string()).unwrap_or_default()
            );
        }
        Ok(Self { ruleset, detection: Detection { engine, plan, suppressions }, plan_errors })
    }

    /// Reports suppression counts: how many signals each kept out of alerts, and which
    /// suppressions in force matched nothing in this scan.
    pub fn report_suppressions(&self, counts: &[u64], quiet: bool) {
        let suppressions = self.detection.suppressions.suppressions();
        // Elastic exception lists become one suppression per rule that uses them: count by name.
        let mut by_name: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
        for (i, s) in suppressions.iter().enumerate() {
            if self.detection.suppressions.expired().contains(&i) {
                continue;
            }
            *by_name.entry(s.name.as_str()).or_insert(0) += counts.get(i).copied().unwrap_or(0);
        }
        for (name, n) in &by_name {
            if *n == 0 {
                eprintln!("warning: suppression `{name}` matched no signal in this scan");
            } else if !quiet {
                eprintln!("suppressed: {n} signal(s) by `{name}`");
            }
        }
    }

    /// Whether loading went wrong somewhere (exit 2 even if the scan itself was clean).
    pub fn has_errors(&self) -> bool {
        self.ruleset.has_errors() || self.plan_errors
    }
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
