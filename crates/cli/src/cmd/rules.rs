//! `tripline rules list` and `tripline rules show ID`.

use std::io::Write;

use anyhow::bail;
use serde_json::json;
use tripline_pipeline::sink::text::table;
use tripline_rule::Rule;

use super::ExitStatus;
use crate::options::{Format, RuleArgs};

#[derive(clap::Subcommand)]
pub enum Command {
    /// List the loaded rules.
    List {
        #[command(flatten)]
        rules: RuleArgs,
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// List the rule files of kinds Tripline does not run (Elastic EQL, ES|QL, machine
        /// learning…) instead, each with the reason.
        #[arg(long)]
        unsupported: bool,
    },
    /// Show one rule: metadata, condition, alerting options and triage guide.
    Show {
        /// The rule id or name, or a prefix of one id only.
        id: String,
        /// Print the lowered IR the engine runs, as a tree, instead of the metadata.
        #[arg(long)]
        ir: bool,
        #[command(flatten)]
        rules: RuleArgs,
    },
}

fn rule_json(rule: &Rule) -> serde_json::Value {
    let m = &rule.meta;
    json!({
        "id": m.id, "title": m.title, "severity": m.severity(), "risk_score": m.risk_score(),
        "origin": m.origin.as_ref().map(ToString::to_string), "kind": m.kind.to_string(),
        "format": m.kind.frontend.name(),
        "vendor_version": m.origin.as_ref().and_then(|o| o.version.clone()), "tags": m.tags, "mitre": m.mitre, "tests": rule.tests.len(),
        "source": m.source.as_ref().map(|p| p.display().to_string()),
        "description": m.description, "references": m.references, "false_positives": m.false_positives,
    })
}

pub fn run(command: &Command, config: &tripline_pipeline::Config) -> anyhow::Result<ExitStatus> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    match command {
        Command::List { rules, format, unsupported: true } => {
            let set = rules.load(config, true);
            let unsupported =
                set.diagnostics.iter().filter(|d| d.level == tripline_lang::Level::Unsupported);
            for d in unsupported {
                match format {
                    Format::Jsonl => writeln!(
                        out,
                        "{}",
                        json!({"path": d.path.display().to_string(), "line": d.line, "reason": d.message})
                    )?,
                    Format::Text => {
                        writeln!(out, "{}:{}  {}", d.path.display(), d.line, d.message)?
                    }
                }
            }
            Ok(ExitStatus::Success)
        }
        Command::List { rules, format, unsupported: false } => {
            let set = rules.load(config, false);
            match format {
                Format::Jsonl => {
                    for (rule, off) in set.rules.iter().zip(&set.off) {
                        let mut json = rule_json(rule);
                        json["off"] = json!(off);
                        writeln!(out, "{json}")?;
                    }
                }
                Format::Text => {
                    let rows: Vec<Vec<String>> = set
                        .rules
                        .iter()
                        .zip(&set.off)
                        .map(|(r, off)| {
                            vec![
                                r.meta.id.clone(),
                                off.as_ref()
                                    .map_or_else(|| "on".to_owned(), |why| format!("off: {why}")),
                                r.meta.severity().to_string(),
                                r.meta.risk_score().to_string(),
                                r.meta
                                    .origin
                                    .as_ref()
                                    .map(ToString::to_string)
                                    .and_then(|o| o.split_whitespace().next().map(str::to_owned))
                                    .unwrap_or_else(|| "tripline".to_owned()),
                                r.tests.len().to_string(),
                                r.meta.title.clone(),
                            ]
                        })
                        .collect();
                    out.write_all(
                        table(
                            &["ID", "STATUS", "SEVERITY", "RISK", "ORIGIN", "TESTS", "TITLE"],
                            &rows,
                        )
                        .as_bytes(),
                    )?;
                    writeln!(out, "{} rule(s)", set.rules.len())?;
                }
            }
            Ok(if set.has_errors() { ExitStatus::Error } else { ExitStatus::Success })
        }
        Command::Show { id, rules, ir } => {
            let set = rules.load(config, true);
            // The id, else a name, else a prefix of one id only (as `alerts show` takes).
            let exact = set.rules.iter().find(|r| r.is_named(id));
            let prefixed: Vec<&std::sync::Arc<Rule>> =
                set.rules.iter().filter(|r| r.meta.id.starts_with(id.as_str())).collect();
            let rule = match (exact, prefixed.as_slice()) {
                (Some(rule), _) => rule,
                (None, [rule]) => *rule,
                (None, []) => {
                    bail!("no rule with id `{id}`; `tripline rules list` shows the loaded rules")
                }
                (None, several) => {
                    let ids: Vec<&str> = several.iter().map(|r| r.meta.id.as_str()).collect();
                    bail!("`{id}` is the start of several rule ids: {}", ids.join(", "))
                }
            };
            let text = if *ir { rule.condition().tree() } else { show(rule) };
            out.write_all(text.as_bytes())?;
            Ok(ExitStatus::Success)
        }
    }
}

fn show(rule: &Rule) -> String {
    use std::fmt::Write as _;
    let m = &rule.meta;
    let mut s = String::new();
    let list = |v: &[String]| if v.is_empty() { "-".to_owned() } else { v.join(", ") };
    let _ = writeln!(s, "id:          {}", m.id);
    let _ = writeln!(s, "title:       {}", m.title);
    let _ = writeln!(
        s,
        "origin:      {}",
        m.origin.as_ref().map_or_else(|| "tripline".to_owned(), ToString::to_string)
    );
    let _ = writeln!(
        s,
        "source:      {}",
        m.source.as_ref().map_or("-".into(), |p| p.display().to_string())
    );
    let _ = writeln!(s, "severity:    {} (risk score {})", m.severity(), m.risk_score());
    let _ = writeln!(s, "mitre:       {}", list(&m.mitre));
    let _ = writeln!(s, "tags:        {}", list(&m.tags));
    let _ = writeln!(s, "author:      {}", list(&m.author));
    let _ = writeln!(s, "condition:   {}", rule.condition());
    let _ = writeln!(s, "scope:       {:?}", rule.scope);
    match &rule.alerting.dedup {
        Some(d) => {
            let _ = writeln!(
                s,
                "dedup:       key `{}`, period {}",
                d.key.source(),
                humantime::format_duration(d.period)
            );
        }
        None => {
            let _ = writeln!(s, "dedup:       none (one alert per signal)");
        }
    }
    let _ = writeln!(s, "threshold:   {}", rule.alerting.threshold);
    if let Some(sch) = rule.alerting.schedule {
        let _ = writeln!(
            s,
            "schedule:    every {}, looking back {}, at most {} alerts per execution",
            humantime::format_duration(sch.interval),
            humantime::format_duration(sch.lookback),
            sch.max_alerts
        );
    }
    let _ = writeln!(s, "summary:     {}", list(&m.summary_attributes));
    let _ = writeln!(s, "tests:       {}", rule.tests.len());
    let _ = writeln!(s, "\ndescription:\n  {}", m.description.trim().replace('\n', "\n  "));
    for (heading, items) in [("references", &m.references), ("false positives", &m.false_positives)]
    {
        if !items.is_empty() {
            let _ = writeln!(s, "\n{heading}:");
            for item in items {
                let _ = writeln!(s, "  - {item}");
            }
        }
    }
    if !m.triage.trim().is_empty() {
        let _ = writeln!(s, "\ntriage:\n  {}", m.triage.trim().replace('\n', "\n  "));
    }
    s
}
