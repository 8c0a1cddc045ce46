//! Which signals and alerts an output takes: a minimum severity and, optionally, the rules
//! (by id or name, or by tag) it is for — so `high` can go to Slack and everything to a file.

use tripline_rule::{Applies, Rule, Severity};

/// An output's filter. The default takes everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    /// Only this severe or more.
    pub min_severity: Option<Severity>,
    /// Only these rules (ids or names) and rules carrying these tags; every rule when both
    /// lists are empty.
    pub only: Applies,
}

impl Route {
    /// Whether a signal or alert of `rule` (unknown for a rule no longer loaded) at `severity`
    /// goes to this output.
    #[must_use]
    pub fn accepts(&self, rule: Option<&Rule>, severity: Severity) -> bool {
        if self.min_severity.is_some_and(|min| severity < min) {
            return false;
        }
        if self.only.rules.is_empty() && self.only.tags.is_empty() {
            return true;
        }
        rule.is_some_and(|rule| self.only.matches(rule))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tripline_event::Field;
    use tripline_rule::{Expr, Test};

    fn rule(id: &str, tags: &[&str]) -> Rule {
        let mut rule = Rule::new(id, Expr::pred(Field::resolve("eventName"), Test::Exists));
        rule.meta.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        rule
    }

    #[test]
    fn a_route_filters_by_severity_then_by_rule_or_tag() {
        let everything = Route::default();
        assert!(everything.accepts(None, Severity::Info));
        let high = Route { min_severity: Some(Severity::High), ..Route::default() };
        assert!(!high.accepts(Some(&rule("a", &[])), Severity::Medium));
        assert!(high.accepts(Some(&rule("a", &[])), Severity::Critical));
        let only = Route {
            min_severity: None,
            only: Applies { all: false, rules: vec!["a".into()], tags: vec!["network".into()] },
        };
        assert!(only.accepts(Some(&rule("a", &[])), Severity::Info));
        assert!(only.accepts(Some(&rule("b", &["Network"])), Severity::Info));
        assert!(!only.accepts(Some(&rule("c", &["iam"])), Severity::Info));
        assert!(!only.accepts(None, Severity::Info), "a rule no longer loaded matches no list");
    }
}
