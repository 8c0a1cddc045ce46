//! A rule's inline `tests:`: name, expected verdict, a complete record, and optionally the
//! alert title, severity and dedup key the case expects.

use tripline_rule::{RuleTest, Severity};

use super::reader::Reader;
use crate::yaml::Kind;

const KEYS: &[&str] = &["name", "expected", "log", "title", "severity", "dedup_key"];

pub(super) fn read(r: &mut Reader<'_>) -> Vec<RuleTest> {
    let Some(node) = r.get("tests") else { return Vec::new() };
    let Kind::Seq(items) = &node.kind else {
        r.error(
            node,
            format!("`tests` must be a list, found {}", node.describe()),
            Some("each item has `name`, `expected` and `log`"),
        );
        return Vec::new();
    };
    let mut tests = Vec::new();
    for item in items {
        if item.entries().is_none() {
            r.error(item, format!("a test must be a mapping, found {}", item.describe()), None);
            continue;
        }
        let mut t = Reader { path: r.path, node: item, diagnostics: r.diagnostics };
        t.warn_unknown_keys(KEYS, "test");
        let name = t.required_string("name", "say what the case shows").unwrap_or_default();
        let expected = match t.get("expected").map(|n| &n.kind) {
            Some(Kind::Bool(b)) => Some(*b),
            _ => {
                t.error(
                    item,
                    format!("test `{name}` needs `expected: true` or `expected: false`"),
                    None,
                );
                None
            }
        };
        let log = match t.get("log") {
            Some(log) if log.entries().is_some() => Some(log.to_json()),
            Some(log) => {
                t.error(
                    log,
                    format!(
                        "test `{name}`: `log` must be a CloudTrail record (a mapping), found {}",
                        log.describe()
                    ),
                    None,
                );
                None
            }
            None => {
                t.error(
                    item,
                    format!("test `{name}` has no `log`"),
                    Some("paste a complete CloudTrail record"),
                );
                None
            }
        };
        let expect_severity = t.string("severity").and_then(|s| s.parse::<Severity>().ok());
        let (expect_title, expect_dedup_key) = (t.string("title"), t.string("dedup_key"));
        if let (Some(expected), Some(log)) = (expected, log) {
            tests.push(RuleTest {
                name,
                expected,
                log,
                expect_title,
                expect_severity,
                expect_dedup_key,
                line: Some(item.pos.line),
            });
        }
    }
    tests
}
