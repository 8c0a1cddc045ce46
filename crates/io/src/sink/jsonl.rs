//! The JSON-lines output contract (DESIGN.md, "Output contract"; documented in the README).
//! One object per line; `type` is `signal` or `alert`. Field names are stable.

use std::io::{self, Write};

use serde::Serialize;
use tripline_alert::{Alert, Signal};

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Line<'a> {
    Signal(&'a Signal),
    Alert(&'a Alert),
}

fn write_line(out: &mut dyn Write, line: &Line<'_>) -> io::Result<()> {
    serde_json::to_writer(&mut *out, line)?;
    out.write_all(b"\n")
}

/// Writes one signal line.
///
/// # Errors
/// Writing to `out` failed.
pub fn write_signal(out: &mut dyn Write, signal: &Signal) -> io::Result<()> {
    write_line(out, &Line::Signal(signal))
}

/// Writes one alert line.
///
/// # Errors
/// Writing to `out` failed.
pub fn write_alert(out: &mut dyn Write, alert: &Alert) -> io::Result<()> {
    write_line(out, &Line::Alert(alert))
}
