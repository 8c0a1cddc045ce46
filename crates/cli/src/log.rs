//! Messages on stderr: lines of text, or one JSON object per line for a service whose logs a
//! collector reads (`tripline run --log-format json`): `{"time", "level", "message"}`, the
//! level read from the message's own `error:`/`warning:` mark.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};

/// Whether messages are JSON. A process-wide switch: it is how this process talks, set once
/// from the command line before anything is said.
static JSON: AtomicBool = AtomicBool::new(false);

/// Messages from now on are JSON objects.
pub fn set_json() {
    JSON.store(true, Ordering::Relaxed);
}

/// How severe a message says it is.
fn level(message: &str) -> &'static str {
    let head = message.lines().next().unwrap_or_default();
    if head.starts_with("error") || head.contains(": error:") {
        "error"
    } else if head.starts_with("warning") || head.contains(": warning:") {
        "warning"
    } else {
        "info"
    }
}

/// Writes one message to stderr; a stderr that is closed or full loses it, never the run.
pub fn write(message: &str) {
    let mut stderr = std::io::stderr().lock();
    if JSON.load(Ordering::Relaxed) {
        let line = serde_json::json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "level": level(message),
            "message": message,
        });
        let _ = writeln!(stderr, "{line}");
    } else {
        let _ = writeln!(stderr, "{message}");
    }
}

#[cfg(test)]
mod tests {
    use super::level;

    #[test]
    fn the_level_is_the_messages_own_mark() {
        assert_eq!(level("s3://b/k: error: cannot be read"), "error");
        assert_eq!(level("warning: rule `x` reached max_alerts"), "warning");
        assert_eq!(level("error: output webhook:…: 2 dead-lettered"), "error");
        assert_eq!(level("scanned 3 file(s)"), "info");
    }
}
