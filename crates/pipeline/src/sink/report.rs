//! The terminal report: one block per event with every rule that matched it (an SSH port
//! opened to the world is one block, not four unrelated rows), blocks ordered by severity then
//! time, rows cut to the terminal's width, severity in colour on a terminal.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use tripline_alert::Alert;
use tripline_event::context::SgChange;
use tripline_rule::{Rule, Severity};

use super::text::{describe_change, SignalFacts};

/// How the report is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextStyle {
    /// Severity in colour (ANSI).
    pub color: bool,
    /// Lines cut to this many characters, with `…`.
    pub width: Option<usize>,
}

/// What the report shows of one alert.
pub struct Row {
    /// The alert.
    pub alert: Alert,
    /// How the rule is named: its id when readable, else its name or title (a UUID says
    /// nothing to a reader).
    pub rule: String,
}

impl Row {
    /// The row of `alert`, raised by `rule` when it is known.
    #[must_use]
    pub fn new(alert: Alert, rule: Option<&Rule>) -> Self {
        let rule = match rule {
            Some(r) if looks_like_uuid(&r.meta.id) => {
                r.meta.name.clone().unwrap_or_else(|| r.meta.title.clone())
            }
            _ => alert.rule_id.clone(),
        };
        Self { alert, rule }
    }
}

fn looks_like_uuid(id: &str) -> bool {
    id.len() == 36 && id.bytes().filter(|&b| b == b'-').count() == 4
}

/// ANSI colour of a severity, as SIEM consoles use them.
fn paint(severity: Severity, text: &str, style: TextStyle) -> String {
    if !style.color {
        return text.to_owned();
    }
    let code = match severity {
        Severity::Critical => "1;35",
        Severity::High => "1;31",
        Severity::Medium => "33",
        Severity::Low => "36",
        Severity::Info => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// `text` cut to `width` characters, the last one `…`.
fn cut(text: &str, width: Option<usize>) -> String {
    match width {
        Some(w) if text.chars().count() > w && w > 0 => {
            let mut cut: String = text.chars().take(w - 1).collect();
            cut.push('…');
            cut
        }
        _ => text.to_owned(),
    }
}

/// The alerts grouped by their first event: (event key, rows), most severe first, then by
/// time. An alert without events is a block of its own.
fn blocks<'r>(rows: &'r [Row], facts: &[SignalFacts]) -> Vec<Vec<&'r Row>> {
    let mut by_event: BTreeMap<String, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        let a = &row.alert;
        let first = a.signals.first().and_then(|&i| facts.get(i));
        let key = a
            .event_ids
            .first()
            .cloned()
            .or_else(|| first.map(|f| f.event.clone()).filter(|e| !e.is_empty()))
            .unwrap_or_else(|| a.alert_id.clone());
        by_event.entry(key).or_default().push(row);
    }
    let mut blocks: Vec<Vec<&Row>> = by_event.into_values().collect();
    for block in &mut blocks {
        block.sort_by(|x, y| y.alert.severity.cmp(&x.alert.severity).then(x.rule.cmp(&y.rule)));
    }
    let top = |b: &Vec<&Row>| b.first().map(|r| r.alert.severity);
    let time = |b: &Vec<&Row>| b.first().and_then(|r| r.alert.first_seen.clone());
    blocks.sort_by(|x, y| top(y).cmp(&top(x)).then(time(x).cmp(&time(y))));
    blocks
}

/// The report of `rows`; `facts[i]` is of the run's `i`th signal (the indexes alerts keep).
#[must_use]
pub fn render(rows: &[Row], facts: &[SignalFacts], style: TextStyle) -> String {
    if rows.is_empty() {
        return "no alerts\n".to_owned();
    }
    let mut out = String::new();
    let line = |out: &mut String, text: String, severity: Option<(Severity, usize)>| {
        let text = cut(&text, style.width);
        // Colour the severity word only (it leads the line after `indent` spaces).
        match severity {
            Some((s, indent)) if style.color => {
                let word = s.to_string();
                let rest = text.get(indent + word.len()..).unwrap_or("");
                let _ = writeln!(out, "{}{}{rest}", &text[..indent], paint(s, &word, style));
            }
            _ => {
                let _ = writeln!(out, "{text}");
            }
        }
    };
    let rule_width = rows.iter().map(|r| r.rule.chars().count()).max().unwrap_or(0);
    for (n, block) in blocks(rows, facts).iter().enumerate() {
        let lead = &block[0].alert;
        let first = lead.signals.first().and_then(|&i| facts.get(i));
        let r = &lead.representative;
        let or = |v: &Option<String>| v.clone().unwrap_or_else(|| "?".to_owned());
        if n > 0 {
            out.push('\n');
        }
        line(
            &mut out,
            format!(
                "{} {}  {} by {} from {}  [account {} {}]",
                lead.severity,
                lead.first_seen.as_deref().unwrap_or("?"),
                first.map_or("?", |f| f.event.as_str()),
                or(&r.actor),
                or(&r.source_ip),
                or(&r.account_id),
                or(&r.region),
            ),
            Some((lead.severity, 0)),
        );
        for row in block {
            let a = &row.alert;
            let events = if a.event_count > 1 {
                format!(
                    "  ({} events, until {})",
                    a.event_count,
                    a.last_seen.as_deref().unwrap_or("?")
                )
            } else {
                String::new()
            };
            line(
                &mut out,
                format!(
                    "  {:<8}  {}  {:<rule_width$}  {}{events}",
                    a.severity.to_string(),
                    &a.alert_id[..a.alert_id.len().min(8)],
                    row.rule,
                    a.title
                ),
                Some((a.severity, 2)),
            );
        }
        // What the block's event changed (each rule's first signal is that event).
        let mut changes: Vec<&SgChange> = Vec::new();
        for row in block {
            let event = row.alert.signals.first().and_then(|&i| facts.get(i));
            for change in event.into_iter().flat_map(|f| &f.changes) {
                if !changes.contains(&change) {
                    changes.push(change);
                }
            }
        }
        for c in changes.iter().take(20) {
            line(&mut out, format!("    {}", describe_change(c)), None);
        }
        if changes.len() > 20 {
            line(&mut out, format!("    … and {} more changes", changes.len() - 20), None);
        }
    }
    out
}
