//! `tripline test [PATH...]`: run every rule's inline tests offline, explaining each failure.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use tripline_alert::{InputRef, Signal};
use tripline_engine::{explain::explain, naive, Engine, EngineBuilder};
use tripline_event::OwnedRecord;
use tripline_rule::{Frontend, Rule, RuleTest, Scope};

use super::ExitStatus;
use crate::options::RuleArgs;

#[derive(clap::Args)]
pub struct Args {
    /// Rule files or folders to test, beside the built-in pack (same as --rules).
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    #[command(flatten)]
    rules: RuleArgs,
    /// Fail rules with fewer tests than this; above 1, also rules without both a matching and
    /// a non-matching case.
    #[arg(long, default_value_t = 0, value_name = "N")]
    min_tests: usize,
    /// Print only failures.
    #[arg(long, short)]
    quiet: bool,
}

fn indent(text: &str, by: &str) -> String {
    text.lines().map(|l| format!("{by}{l}\n")).collect()
}

/// Runs one case; `None` when it passes, else why not.
fn run_case(engine: &Engine, index: usize, rule: &Rule, case: &RuleTest) -> Option<String> {
    let owned = match OwnedRecord::from_value(&case.log) {
        Ok(owned) => owned,
        Err(e) => return Some(format!("the test's log is not a usable record: {e}")),
    };
    let record = owned.record().expect("from_value checked the record");
    // An inactive rule (disabled, or for another log type) never sees scanned records; its
    // tests check its condition alone, on whatever log type it was written for.
    let inactive = rule.scope == Scope::Inactive;
    let valid = if rule.meta.kind.frontend == Frontend::Panther {
        record.validate_ignoring_case()
    } else {
        record.validate()
    };
    if let (false, Err(e)) = (inactive, valid) {
        return Some(format!("the test's log is not a usable record: {e}"));
    }
    let reference = (inactive || tripline_engine::in_scope(rule, &record))
        && naive::evaluate(rule.condition(), &record);
    let matched = if inactive {
        reference
    } else {
        let mut matches = Vec::new();
        engine.evaluate(&record, &mut matches);
        matches.contains(&index)
    };
    if matched != reference {
        return Some(format!("internal error: the compiled engine says {matched}, the reference evaluator {reference}; please report this"));
    }
    if matched != case.expected {
        let verdict = if case.expected {
            "expected a match, got none"
        } else {
            "expected no match, but the rule matched"
        };
        return Some(format!("{verdict}\n{}", indent(&explain(rule, &record).tree, "    ")));
    }
    if !matched {
        return None;
    }
    let mut signal =
        Signal::build(rule, &record, InputRef { file: "<test>".into(), record: 0, line: None });
    signal.severity = tripline_engine::severity_for(rule, &record);
    let mut wrong = Vec::new();
    if let Some(title) = case.expect_title.as_ref().filter(|t| **t != signal.rule_title) {
        wrong.push(format!("title: expected `{title}`, got `{}`", signal.rule_title));
    }
    if let Some(sev) = case.expect_severity.filter(|s| *s != signal.severity) {
        wrong.push(format!("severity: expected {sev}, got {}", signal.severity));
    }
    if let Some(key) = case.expect_dedup_key.as_ref().filter(|k| **k != signal.dedup_key) {
        wrong.push(format!("dedup key: expected `{key}`, got `{}`", signal.dedup_key));
    }
    (!wrong.is_empty()).then(|| wrong.join("; "))
}

fn coverage_problem(rule: &Rule, min_tests: usize) -> Option<String> {
    let n = rule.tests.len();
    if n < min_tests {
        return Some(format!("has {n} test(s); --min-tests needs {min_tests}"));
    }
    let positive = rule.tests.iter().any(|t| t.expected);
    let negative = rule.tests.iter().any(|t| !t.expected);
    (min_tests > 1 && !(positive && negative))
        .then(|| "needs both a matching and a non-matching test".to_owned())
}

pub fn run(args: &Args, config: &tripline_pipeline::Config) -> anyhow::Result<ExitStatus> {
    let mut rule_args = args.rules.clone();
    rule_args.rules.extend(args.paths.iter().cloned());
    let ruleset = rule_args.load(config, args.quiet);
    let mut builder = EngineBuilder::new();
    for rule in &ruleset.rules {
        builder.add(Arc::clone(rule));
    }
    let engine = builder.build().map_err(anyhow::Error::msg)?;
    let (mut passed, mut failed, mut skipped, mut cases) = (0, 0, 0, 0);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut report = || -> std::io::Result<()> {
        for (index, rule) in engine.rules().iter().enumerate() {
            if rule.meta.kind.form == tripline_rule::Form::Python {
                skipped += 1;
                writeln!(
                    out,
                    "skip  {}  ({} test(s) not run: its Python logic is not executed)",
                    rule.meta.id,
                    rule.tests.len()
                )?;
                continue;
            }
            let mut failures = Vec::new();
            if let Some(problem) = coverage_problem(rule, args.min_tests) {
                failures.push(problem);
            }
            for case in &rule.tests {
                cases += 1;
                if let Some(why) = run_case(&engine, index, rule, case) {
                    let at = case.line.map(|l| format!(" (line {l})")).unwrap_or_default();
                    failures.push(format!("test `{}`{at}: {why}", case.name));
                }
            }
            if failures.is_empty() {
                passed += 1;
                if !args.quiet {
                    writeln!(out, "ok    {}  ({} test(s))", rule.meta.id, rule.tests.len())?;
                }
            } else {
                failed += 1;
                let file = rule
                    .meta
                    .source
                    .as_ref()
                    .map(|p| format!("  [{}]", p.display()))
                    .unwrap_or_default();
                writeln!(out, "FAIL  {}{file}", rule.meta.id)?;
                for f in failures {
                    write!(out, "{}", indent(&format!("✗ {f}"), "      "))?;
                }
            }
        }
        writeln!(
            out,
            "{passed} rule(s) passed, {failed} failed, {skipped} skipped; {cases} test case(s)"
        )?;
        out.flush()
    };
    // A closed stdout (`tripline test | head`) ends the report, not the verdict: the status
    // is what the rules tested so far earned. Any other write error loses output: exit 2.
    match report() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => return Err(e.into()),
        _ => {}
    }
    Ok(if ruleset.has_errors() {
        ExitStatus::Error
    } else if failed > 0 {
        ExitStatus::Findings
    } else {
        ExitStatus::Success
    })
}
