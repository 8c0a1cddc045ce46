//! Closed and full output streams: a reader that leaves early (`| head -1`) ends a command
//! quietly with the status it earned; a stream that cannot take what is written
//! (`>/dev/full`) is exit 2; no command panics on either stream.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use common::workspace;

fn tripline() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tripline"));
    command.current_dir(workspace()).stdin(Stdio::null());
    command
}

/// Runs `args` with stdout read for one line and then closed, as `| head -1` does; returns
/// the exit code and stderr.
fn first_line_only(args: &[&str]) -> (i32, String) {
    let mut child =
        tripline().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("runs");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    stdout.read_line(&mut line).expect("a first line");
    assert!(!line.is_empty(), "{args:?} wrote nothing");
    drop(stdout);
    let output = child.wait_with_output().expect("finishes");
    let code = output.status.code().expect("an exit code, not a signal");
    (code, String::from_utf8_lossy(&output.stderr).into_owned())
}

/// Runs `args` with `stream` ("stdout" or "stderr") on /dev/full.
fn into_full(args: &[&str], stream: &str) -> (i32, String) {
    let full = || std::fs::OpenOptions::new().write(true).open("/dev/full").expect("/dev/full");
    let mut command = tripline();
    command.args(args);
    if stream == "stdout" {
        command.stdout(full()).stderr(Stdio::piped());
    } else {
        command.stdout(Stdio::null()).stderr(full());
    }
    let output = command.output().expect("runs");
    let code = output.status.code().expect("an exit code, not a signal");
    (code, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn a_reader_that_leaves_early_ends_the_command_quietly_with_its_status() {
    // Every built-in rule's tests pass: 0, even though the report was cut.
    let (code, stderr) = first_line_only(&["test"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("panicked") && !stderr.contains("error"), "{stderr}");
    // The examples raise alerts: 1, and the summary still goes to stderr.
    let (code, stderr) = first_line_only(&["scan", "examples", "--format", "jsonl"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("alert(s)") && !stderr.contains("panicked"), "{stderr}");
    let (code, stderr) = first_line_only(&["--help"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = first_line_only(&["rules", "list"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    let dir = tempfile::tempdir().expect("temp");
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    let scan =
        tripline().args(["scan", "examples", "-q", "--store", &store]).output().expect("runs");
    assert_eq!(scan.status.code(), Some(1));
    let (code, stderr) =
        first_line_only(&["alerts", "list", "--store", &store, "--format", "jsonl"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn output_that_cannot_be_written_is_an_error() {
    for args in [&["test"][..], &["--help"], &["scan", "examples", "--format", "jsonl"]] {
        let (code, stderr) = into_full(args, "stdout");
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains("No space left on device"), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn a_closed_or_full_stderr_loses_messages_not_the_run() {
    // A full stderr: the scan still runs and says, by its status, that it found alerts.
    let (code, _) = into_full(&["scan", "examples", "--format", "jsonl"], "stderr");
    assert_eq!(code, 1);
    // A stderr whose reader has gone.
    let mut child = tripline()
        .args(["scan", "examples", "--format", "jsonl"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    drop(child.stderr.take());
    let status = child.wait().expect("finishes");
    assert_eq!(status.code(), Some(1), "no panic (101), the status it earned");
}
