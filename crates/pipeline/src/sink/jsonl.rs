//! The JSON-lines output contract (DESIGN.md, "Output contract"; documented in the README).
//! One object per line; `type` is `signal` or `alert`. Field names are stable.

use std::io::{self, Write};

use serde::Serialize;
use tripline_alert::{Alert, Signal};

use crate::sink::output::io_error;
use crate::sink::{AlertChange, ChangeKind, Delivery, SinkError};

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line<'a> {
    Signal(&'a Signal),
    Alert(AlertLine<'a>),
}

/// An alert line: the alert, what this run did to it, and its rule's ATT&CK ids.
#[derive(Serialize)]
struct AlertLine<'a> {
    #[serde(flatten)]
    alert: &'a Alert,
    change: ChangeKind,
    mitre: &'a [String],
}

/// Serialises into a buffer first: serde_json writes each line in dozens of small pieces, and
/// through `dyn Write` each piece was a call of its own (a noisy rule set writes a line per
/// record).
fn write_line(out: &mut dyn Write, line: &Line<'_>) -> io::Result<()> {
    let mut buffer = Vec::with_capacity(2048);
    serde_json::to_writer(&mut buffer, line)?;
    buffer.push(b'\n');
    out.write_all(&buffer)
}

/// Writes one signal line.
///
/// # Errors
/// Writing to `out` failed.
pub fn write_signal(out: &mut dyn Write, signal: &Signal) -> io::Result<()> {
    write_line(out, &Line::Signal(signal))
}

/// Writes one signal line from the signal's own JSON (as a store keeps it): the same bytes as
/// [`write_signal`] without serialising again.
///
/// # Errors
/// Writing to `out` failed.
pub fn write_signal_json(out: &mut dyn Write, body: &str) -> io::Result<()> {
    let fields = body.strip_prefix('{').unwrap_or(body);
    out.write_all(b"{\"type\":\"signal\"")?;
    if fields != "}" {
        out.write_all(b",")?;
    }
    out.write_all(fields.as_bytes())?;
    out.write_all(b"\n")
}

/// Writes one alert line for `change`.
///
/// # Errors
/// Writing to `out` failed.
pub fn write_alert(out: &mut dyn Write, change: &AlertChange<'_>) -> io::Result<()> {
    let mitre = change.rule.map_or(&[][..], |r| r.meta.mitre.as_slice());
    write_line(out, &Line::Alert(AlertLine { alert: change.alert, change: change.kind, mitre }))
}

/// The JSON-lines contract as a sink: signals written as they come, alerts as they are given.
pub struct JsonlSink {
    out: Box<dyn Write>,
    label: String,
    lines: u64,
}

impl JsonlSink {
    /// Lines written to `out`, named `label` in messages.
    #[must_use]
    pub fn new(out: Box<dyn Write>, label: String) -> Self {
        Self { out, label, lines: 0 }
    }
}

impl crate::sink::Sink for JsonlSink {
    fn signal(&mut self, _: usize, signal: &Signal, json: Option<&str>) -> Result<(), SinkError> {
        self.lines += 1;
        match json {
            Some(body) => write_signal_json(&mut self.out, body),
            None => write_signal(&mut self.out, signal),
        }
        .map_err(|e| io_error(&self.label, e))
    }

    fn alert(&mut self, change: AlertChange<'_>) -> Result<(), SinkError> {
        self.lines += 1;
        write_alert(&mut self.out, &change).map_err(|e| io_error(&self.label, e))
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        self.out.flush().map_err(|e| io_error(&self.label, e))
    }

    fn finish(&mut self) -> Result<Delivery, SinkError> {
        self.out.flush().map_err(|e| io_error(&self.label, e))?;
        Ok(Delivery { delivered: self.lines, ..Delivery::default() })
    }

    fn label(&self) -> String {
        self.label.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tripline_alert::InputRef;
    use tripline_event::{Field, OwnedRecord};
    use tripline_rule::{Expr, Rule, Test};

    #[test]
    fn a_stored_signal_is_written_byte_for_byte_as_serialising_it() {
        let record = serde_json::json!({"eventVersion": "1.09", "eventTime": "2024-08-01T10:00:00Z", "eventSource": "ec2.amazonaws.com",
            "eventName": "DeleteSecurityGroup", "eventID": "e1", "sourceIPAddress": "198.51.100.7", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333"},
            "requestParameters": {"groupId": "sg-0123456789abcdef0"}});
        let owned = OwnedRecord::from_value(&record).expect("an object");
        let rule = Rule::new("r", Expr::pred(Field::resolve("eventName"), Test::Exists));
        let signal = Signal::build(
            &rule,
            &owned.record().expect("an object"),
            InputRef { file: "f.json".into(), record: 0, line: None },
        );
        let mut direct = Vec::new();
        write_signal(&mut direct, &signal).expect("write");
        let mut stored = Vec::new();
        write_signal_json(&mut stored, &serde_json::to_string(&signal).expect("json"))
            .expect("write");
        assert_eq!(String::from_utf8_lossy(&stored), String::from_utf8_lossy(&direct));
    }
}
