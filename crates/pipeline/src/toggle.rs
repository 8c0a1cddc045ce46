//! Turning rules off and on, as every SIEM lets its users: by id or name, tag, format or pack
//! (`--disable`, `--enable`, and `[rules] disable = […]` in `tripline.toml`). A rule is off
//! when a disable selector names it and no enable selector does; `rules list` says which
//! selector turned it off.

use std::fmt;
use std::str::FromStr;

use tripline_rule::{Frontend, Rule};

/// What a `--disable` or `--enable` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A rule by id or name (`rule:ID`, or the bare id).
    Rule(String),
    /// Every rule carrying a tag (`tag:network-security`).
    Tag(String),
    /// Every rule of a format (`format:sigma`, `elastic`, `panther`, `native`).
    Format(Frontend),
    /// The built-in pack (`pack:builtin`).
    Builtin,
}

impl FromStr for Selector {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (kind, value) = text.split_once(':').unwrap_or(("rule", text));
        if value.is_empty() {
            return Err(format!("`{text}` names nothing"));
        }
        match kind {
            "rule" | "id" => Ok(Self::Rule(value.to_owned())),
            "tag" => Ok(Self::Tag(value.to_owned())),
            "format" => [Frontend::Native, Frontend::Sigma, Frontend::Elastic, Frontend::Panther]
                .into_iter()
                .find(|f| f.name() == value)
                .map(Self::Format)
                .ok_or_else(|| {
                    format!("unknown format `{value}` (native, sigma, elastic, panther)")
                }),
            "pack" if value == "builtin" => Ok(Self::Builtin),
            "pack" => Err(format!("unknown pack `{value}` (the one pack is `builtin`)")),
            // A rule id with a colon of its own.
            _ => Ok(Self::Rule(text.to_owned())),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rule(id) => write!(f, "rule:{id}"),
            Self::Tag(tag) => write!(f, "tag:{tag}"),
            Self::Format(frontend) => write!(f, "format:{}", frontend.name()),
            Self::Builtin => f.write_str("pack:builtin"),
        }
    }
}

impl Selector {
    /// Whether it names `rule` (`builtin`: the rule is from the built-in pack).
    #[must_use]
    pub fn names(&self, rule: &Rule, builtin: bool) -> bool {
        match self {
            Self::Rule(id) => rule.is_named(id),
            Self::Tag(tag) => rule.meta.tags.iter().any(|t| t.eq_ignore_ascii_case(tag)),
            Self::Format(frontend) => rule.meta.kind.frontend == *frontend,
            Self::Builtin => builtin,
        }
    }
}

/// The selectors in force, each with where it was given.
#[derive(Debug, Clone, Default)]
pub struct Toggles {
    /// Rules to turn off: (selector, where it was given).
    pub disable: Vec<(Selector, &'static str)>,
    /// Rules to keep on whatever disables them.
    pub enable: Vec<(Selector, &'static str)>,
}

impl Toggles {
    /// For each rule, why it is off (`None`: on). `builtin` is how many of `rules` come first
    /// from the built-in pack.
    #[must_use]
    pub fn off(&self, rules: &[std::sync::Arc<Rule>], builtin: usize) -> Vec<Option<String>> {
        rules
            .iter()
            .enumerate()
            .map(|(i, rule)| {
                let named = |(s, _): &&(Selector, &str)| s.names(rule, i < builtin);
                if self.enable.iter().any(|t| named(&t)) {
                    return None;
                }
                self.disable
                    .iter()
                    .find(named)
                    .map(|(s, from)| format!("disabled by `{s}` ({from})"))
            })
            .collect()
    }

    /// Warnings for selectors that name no loaded rule (a typo must not pass silently).
    #[must_use]
    pub fn unused(&self, rules: &[std::sync::Arc<Rule>], builtin: usize) -> Vec<String> {
        self.disable
            .iter()
            .chain(&self.enable)
            .filter(|(s, _)| !rules.iter().enumerate().any(|(i, r)| s.names(r, i < builtin)))
            .map(|(s, from)| format!("warning: `{s}` ({from}) names no loaded rule"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tripline_event::Field;
    use tripline_rule::{Expr, Test};

    fn rule(id: &str, tags: &[&str], frontend: Frontend) -> Arc<Rule> {
        let mut rule = Rule::new(id, Expr::pred(Field::resolve("eventName"), Test::Exists));
        rule.meta.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        rule.meta.kind.frontend = frontend;
        Arc::new(rule)
    }

    #[test]
    fn a_rule_is_off_when_disabled_and_not_enabled_and_says_why() {
        let rules = vec![
            rule("a", &["network"], Frontend::Native),
            rule("b", &["network"], Frontend::Native),
            rule("c", &[], Frontend::Sigma),
        ];
        let toggles = Toggles {
            disable: vec![
                ("tag:network".parse().expect("valid"), "--disable"),
                ("format:sigma".parse().expect("valid"), "tripline.toml"),
            ],
            enable: vec![("b".parse().expect("valid"), "--enable")],
        };
        let off = toggles.off(&rules, 2);
        assert_eq!(off[0].as_deref(), Some("disabled by `tag:network` (--disable)"));
        assert_eq!(off[1], None, "enabled by id");
        assert_eq!(off[2].as_deref(), Some("disabled by `format:sigma` (tripline.toml)"));
        let builtin =
            Toggles { disable: vec![(Selector::Builtin, "--disable")], ..Toggles::default() };
        assert_eq!(builtin.off(&rules, 2).iter().filter(|o| o.is_some()).count(), 2);
        let typo = Toggles {
            disable: vec![("tag:netwrok".parse().expect("valid"), "--disable")],
            ..Toggles::default()
        };
        assert_eq!(
            typo.unused(&rules, 2),
            ["warning: `tag:netwrok` (--disable) names no loaded rule"]
        );
        assert!("format:splunk".parse::<Selector>().is_err());
        assert!("tag:".parse::<Selector>().is_err());
    }
}
