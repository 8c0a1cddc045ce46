//! Suppression files (YAML): one suppression, a list of them, or a `suppressions:` list.
//!
//! ```yaml
//! suppressions:
//!   - name: terraform-ci
//!     reason: Terraform applies from CI are reviewed in pull requests
//!     owner: platform-team@example.com
//!     expires: 2027-03-31          # optional, inclusive
//!     rules: [ec2-security-group-created]   # ids or names, or `all`
//!     tags: [attack.t1562]          # and/or rules carrying a tag
//!     detection:                    # the native detection syntax
//!       terraform:
//!         userAgent|contains: Terraform
//!       condition: terraform
//! ```

use std::path::Path;

use chrono::NaiveDate;
use tripline_rule::{Applies, Suppression, SuppressionKind};

use crate::detection::{self, Options};
use crate::diagnostic::Diagnostic;
use crate::native::reader::Reader;
use crate::yaml::{self, Kind, Node};

const KEYS: &[&str] = &["name", "reason", "owner", "expires", "rules", "tags", "detection"];

/// Parses a suppression file: every suppression, or every diagnostic explaining why not.
#[must_use]
pub fn compile(path: &Path, text: &str, options: &Options) -> (Vec<Suppression>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let root = match yaml::parse_file(path, text) {
        Ok(root) => root,
        Err(d) => return (Vec::new(), vec![d]),
    };
    let repeated = crate::duplicate_keys::check(path, text);
    if !repeated.is_empty() {
        return (Vec::new(), repeated);
    }
    let entries: Vec<&Node> = match (&root.kind, root.get("suppressions")) {
        (_, Some(Node { kind: Kind::Seq(items), .. })) | (Kind::Seq(items), None) => {
            items.iter().collect()
        }
        (Kind::Map(_), None) => vec![&root],
        _ => {
            let d = Diagnostic::error(path, root.pos, format!("a suppression file must be a mapping or a list, found {}", root.describe()))
                .with_hint("start with `suppressions:` and a list of entries with `name`, `reason`, `owner`, `rules` and `detection`");
            return (Vec::new(), vec![d]);
        }
    };
    let options = Options { sigma: false, ..options.clone() };
    let suppressions = entries
        .into_iter()
        .filter_map(|node| one(path, node, &options, &mut diagnostics))
        .collect();
    if diagnostics.iter().any(|d| d.level == crate::Level::Error) {
        return (Vec::new(), diagnostics);
    }
    (suppressions, diagnostics)
}

fn one(
    path: &Path,
    node: &Node,
    options: &Options,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Suppression> {
    if node.entries().is_none() {
        diagnostics.push(Diagnostic::error(
            path,
            node.pos,
            format!("a suppression must be a mapping, found {}", node.describe()),
        ));
        return None;
    }
    let mut r = Reader { path, node, diagnostics };
    r.warn_unknown_keys(KEYS, "suppression");
    let name = r.required_string("name", "a short unique name; counts are reported under it");
    let reason = r.required_string(
        "reason",
        "say why these signals are not alerts, for whoever reads this next",
    );
    let owner = r.required_string("owner", "who answers for this suppression (a person or team)");
    let expires =
        r.string("expires").and_then(|text| match NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
            Ok(date) => Some(date),
            Err(_) => {
                let at = r.get("expires").expect("read above");
                r.error(
                    at,
                    format!("`expires` must be a date such as 2027-03-31, found `{text}`"),
                    None,
                );
                None
            }
        });
    let mut applies = Applies { tags: r.strings("tags"), ..Applies::default() };
    for rule in r.strings("rules") {
        if rule == "all" {
            applies.all = true;
        } else {
            applies.rules.push(rule);
        }
    }
    if !applies.all && applies.rules.is_empty() && applies.tags.is_empty() {
        r.error(
            node,
            "the suppression applies to no rule",
            Some("add `rules: all`, a list of rule ids, or `tags`"),
        );
    }
    let expr = match r.get("detection") {
        Some(detection) => detection::lower(path, detection, r.diagnostics, options),
        None => {
            r.error(
                node,
                "missing required key `detection`",
                Some("add a `detection:` block with selections and a `condition`, as in a rule"),
            );
            None
        }
    };
    Some(Suppression {
        name: name?,
        reason: reason?,
        owner: owner?,
        expires,
        applies,
        expr: expr?,
        kind: SuppressionKind::File,
        source: Some((path.to_owned(), node.pos.line)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Level;

    fn load(text: &str) -> (Vec<Suppression>, Vec<Diagnostic>) {
        compile(Path::new("s.yml"), text, &Options::default())
    }

    const TERRAFORM: &str = "suppressions:
  - name: terraform-ci
    reason: applies from CI are reviewed in pull requests
    owner: platform-team
    expires: 2027-03-31
    rules: [ec2-security-group-created, ec2-security-group-deleted]
    tags: [attack.t1562.007]
    detection:
      terraform:
        userAgent|contains: Terraform
      condition: terraform
  - name: aws-internal
    reason: AWS acting for us
    owner: secops
    rules: all
    detection:
      internal:
        sourceIPAddress: AWS Internal
      condition: internal
";

    #[test]
    fn a_list_of_suppressions_loads_with_its_metadata() {
        let (suppressions, diagnostics) = load(TERRAFORM);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        let names: Vec<&str> = suppressions.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["terraform-ci", "aws-internal"]);
        let terraform = &suppressions[0];
        assert_eq!(terraform.expires, NaiveDate::from_ymd_opt(2027, 3, 31));
        assert_eq!(
            terraform.applies.rules,
            ["ec2-security-group-created", "ec2-security-group-deleted"]
        );
        assert_eq!(terraform.applies.tags, ["attack.t1562.007"]);
        assert_eq!(terraform.source.as_ref().map(|s| s.1), Some(2));
        assert!(suppressions[1].applies.all);
        assert!(terraform.is_expired(NaiveDate::from_ymd_opt(2027, 4, 1).expect("date")));
        assert!(!terraform.is_expired(NaiveDate::from_ymd_opt(2027, 3, 31).expect("date")));
    }

    #[test]
    fn a_single_suppression_may_be_the_whole_file() {
        let text = "name: one\nreason: r\nowner: o\nrules: all\ndetection:\n  s:\n    eventName: DescribeInstances\n  condition: s\n";
        let (suppressions, diagnostics) = load(text);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        assert_eq!(suppressions.len(), 1);
    }

    #[test]
    fn every_problem_of_a_file_is_reported_at_once() {
        let text = "suppressions:\n  - name: x\n    expires: next week\n    detection:\n      s:\n        eventName: A\n      condition: s\n    rulez: all\n";
        let (suppressions, diagnostics) = load(text);
        assert!(suppressions.is_empty());
        let messages: Vec<String> = diagnostics
            .iter()
            .map(|d| format!("{}:{} {:?} {}", d.line, d.column, d.level, d.message))
            .collect();
        for expected in [
            "missing required key `reason`",
            "missing required key `owner`",
            "`expires` must be a date such as 2027-03-31, found `next week`",
            "applies to no rule",
            "unknown suppression key `rulez`",
        ] {
            assert!(messages.iter().any(|m| m.contains(expected)), "`{expected}` in {messages:?}");
        }
        assert!(diagnostics
            .iter()
            .any(|d| d.level == Level::Warning && d.message.contains("rulez")));
    }

    #[test]
    fn a_bad_condition_refuses_the_file() {
        let text = "name: x\nreason: r\nowner: o\nrules: all\ndetection:\n  s:\n    eventName: A\n  condition: s and t\n";
        let (suppressions, diagnostics) = load(text);
        assert!(suppressions.is_empty());
        assert!(diagnostics.iter().any(|d| d.level == Level::Error), "{diagnostics:?}");
    }
}
