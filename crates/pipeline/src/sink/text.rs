//! A readable table for the terminal: one row per alert, with the first signal's actor,
//! source and what changed.

use std::fmt::Write as _;
use std::io::{self, Write};

use tripline_alert::{Alert, Signal};
use tripline_event::context::SgChange;

/// Pads cells to the widest in each column.
#[must_use]
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                let _ = write!(out, "{cell:<w$}  ");
            }
        }
        out.push('\n');
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
    out
}

/// One line per normalised security-group change: `sg-1 ingress tcp 22 from 0.0.0.0/0 (world)`.
#[must_use]
pub fn describe_change(c: &SgChange) -> String {
    let ports = match (c.from_port, c.to_port) {
        (Some(f), Some(t)) if f == t => f.to_string(),
        (Some(-1), _) | (None, _) | (_, None) => "all ports".to_owned(),
        (Some(f), Some(t)) => format!("{f}-{t}"),
    };
    let action = serde_json::to_value(c.action)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let direction = serde_json::to_value(c.direction)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let protocol = match c.protocol.as_deref() {
        None | Some("-1") => "all protocols",
        Some(p) => p,
    };
    let direction = if c.direction == tripline_event::context::Direction::Unspecified {
        String::new()
    } else {
        format!(" {direction}")
    };
    format!(
        "{action}{direction} {} {protocol} {ports} {} {} ({})",
        c.group.as_deref().unwrap_or("<group?>"),
        if c.direction == tripline_event::context::Direction::Egress { "to" } else { "from" },
        c.peer.as_deref().unwrap_or("<peer?>"),
        c.exposure.as_str()
    )
}

/// What the table shows of one signal: a scan keeps these rather than whole signals.
#[derive(Debug, Clone, Default)]
pub struct SignalFacts {
    /// The caller's ARN, else its identity type.
    pub actor: String,
    /// The source IP address or service.
    pub source: String,
    /// The normalised security-group changes.
    pub changes: Vec<SgChange>,
}

impl SignalFacts {
    /// The facts of one signal.
    #[must_use]
    pub fn of(signal: &Signal) -> Self {
        Self {
            actor: signal
                .actor
                .arn
                .clone()
                .or_else(|| signal.actor.kind.clone())
                .unwrap_or_default(),
            source: signal.source_ip.clone().unwrap_or_default(),
            changes: signal.context.security_group_changes.clone(),
        }
    }
}

/// Writes the alerts table, and under it each alert's changes. `facts[i]` is of the run's
/// `i`th signal (the indexes alerts keep).
///
/// # Errors
/// Writing to `out` failed.
pub fn write_alerts(
    out: &mut dyn Write,
    alerts: &[Alert],
    facts: &[SignalFacts],
) -> io::Result<()> {
    if alerts.is_empty() {
        return writeln!(out, "no alerts");
    }
    let rows: Vec<Vec<String>> = alerts
        .iter()
        .map(|a| {
            let first = a.signals.first().and_then(|&i| facts.get(i));
            vec![
                a.first_seen.clone().unwrap_or_default(),
                a.severity.to_string(),
                a.rule_id.clone(),
                a.event_count.to_string(),
                first.map(|f| f.actor.clone()).unwrap_or_default(),
                first.map(|f| f.source.clone()).unwrap_or_default(),
                a.title.clone(),
            ]
        })
        .collect();
    out.write_all(
        table(&["FIRST SEEN", "SEVERITY", "RULE", "EVENTS", "ACTOR", "SOURCE", "TITLE"], &rows)
            .as_bytes(),
    )?;
    let mut details = String::new();
    for a in alerts {
        let changes: Vec<&SgChange> =
            a.signals.iter().filter_map(|&i| facts.get(i)).flat_map(|f| &f.changes).collect();
        if changes.is_empty() {
            continue;
        }
        let _ = writeln!(
            details,
            "\n{} {} ({}):",
            a.rule_id,
            a.first_seen.as_deref().unwrap_or(""),
            a.alert_id
        );
        for c in changes.iter().take(20) {
            let _ = writeln!(details, "  {}", describe_change(c));
        }
        if changes.len() > 20 {
            let _ = writeln!(details, "  … and {} more changes", changes.len() - 20);
        }
    }
    out.write_all(details.as_bytes())
}

/// The table as a sink: keeps each signal's facts and the run's alerts, and writes the table
/// when the run is over (its columns are as wide as the widest cell).
pub struct TextSink {
    out: Box<dyn Write>,
    label: String,
    /// Facts by signal index; gaps (signals a store had seen before) stay empty.
    facts: Vec<SignalFacts>,
    alerts: Vec<Alert>,
}

impl TextSink {
    /// A table written to `out`, named `label` in messages.
    #[must_use]
    pub fn new(out: Box<dyn Write>, label: String) -> Self {
        Self { out, label, facts: Vec::new(), alerts: Vec::new() }
    }
}

impl crate::sink::Sink for TextSink {
    fn signal(
        &mut self,
        index: usize,
        signal: &Signal,
        _: Option<&str>,
    ) -> Result<(), crate::sink::SinkError> {
        if self.facts.len() <= index {
            self.facts.resize_with(index + 1, SignalFacts::default);
        }
        self.facts[index] = SignalFacts::of(signal);
        Ok(())
    }

    fn alert(
        &mut self,
        change: crate::sink::AlertChange<'_>,
    ) -> Result<(), crate::sink::SinkError> {
        self.alerts.push(change.alert.clone());
        Ok(())
    }

    fn finish(&mut self) -> Result<crate::sink::Delivery, crate::sink::SinkError> {
        let io = |e| crate::sink::output::io_error(&self.label, e);
        write_alerts(&mut self.out, &self.alerts, &self.facts).map_err(io)?;
        self.out.flush().map_err(|e| crate::sink::output::io_error(&self.label, e))?;
        Ok(crate::sink::Delivery { delivered: self.alerts.len() as u64, ..Default::default() })
    }

    fn label(&self) -> String {
        self.label.clone()
    }
}
