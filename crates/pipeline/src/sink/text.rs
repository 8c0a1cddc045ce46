//! Text for people: the table helper every listing uses, security-group changes in words, and
//! the terminal report as a sink (drawn by [`super::report`]).

use std::fmt::Write as _;
use std::io::Write;

use tripline_alert::Signal;
use tripline_event::context::SgChange;

use super::report::{render, Row, TextStyle};

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
    /// `eventName`.
    pub event: String,
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
            event: signal.event_name.clone(),
        }
    }
}

/// The report as a sink: keeps each signal's facts and the run's alerts, and writes the
/// report when the run is over (its columns are as wide as the widest cell).
pub struct TextSink {
    out: Box<dyn Write>,
    label: String,
    style: TextStyle,
    /// Facts by signal index; gaps (signals a store had seen before) stay empty.
    facts: Vec<SignalFacts>,
    rows: Vec<Row>,
}

impl TextSink {
    /// A report written to `out` in `style`, named `label` in messages.
    #[must_use]
    pub fn new(out: Box<dyn Write>, label: String, style: TextStyle) -> Self {
        Self { out, label, style, facts: Vec::new(), rows: Vec::new() }
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
        // The table shows what the run found; an alert its rule no longer matches is counted
        // in the summary instead (and is in `alerts list --status closed`).
        if change.kind != crate::sink::ChangeKind::Closed {
            self.rows.push(Row::new(change.alert.clone(), change.rule));
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<crate::sink::Delivery, crate::sink::SinkError> {
        let io = |e| crate::sink::output::io_error(&self.label, e);
        let report = render(&self.rows, &self.facts, self.style);
        self.out.write_all(report.as_bytes()).map_err(io)?;
        self.out.flush().map_err(|e| crate::sink::output::io_error(&self.label, e))?;
        Ok(crate::sink::Delivery { delivered: self.rows.len() as u64, ..Default::default() })
    }

    fn label(&self) -> String {
        self.label.clone()
    }
}
