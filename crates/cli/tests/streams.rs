//! Input read as a stream: stdin evaluated as it arrives, documents one after another, a gzip
//! stream damaged part-way, a record over the size limit, and a reader of stdout that leaves
//! an endless stdin.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{describe_record, gzip, ingress_record, jsonl, tripline, workspace};

fn spawn(args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .current_dir(workspace())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tripline runs")
}

/// The next line of `lines`, or `None` after `wait`.
fn line_within(lines: &mpsc::Receiver<String>, wait: Duration) -> Option<String> {
    lines.recv_timeout(wait).ok()
}

fn lines_of(stdout: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

#[test]
fn stdin_is_evaluated_as_it_arrives() {
    let mut child = spawn(&["scan", "-", "--format", "jsonl", "-q"]);
    let mut stdin = child.stdin.take().expect("piped");
    let lines = lines_of(child.stdout.take().expect("piped"));
    let record = ingress_record("e-live-1", "2024-08-01T10:00:00Z", 22, "0.0.0.0/0");
    writeln!(stdin, "{record}").expect("tripline reads");
    stdin.flush().expect("flushed");
    // Stdin is still open: the signal comes before the input ends.
    let first = line_within(&lines, Duration::from_secs(20)).expect("a signal before stdin closed");
    let first: serde_json::Value = serde_json::from_str(&first).expect("JSON");
    assert_eq!(first["type"], "signal");
    assert_eq!(first["event_id"], "e-live-1");
    drop(stdin);
    let status = child.wait().expect("ends once stdin closes");
    assert_eq!(status.code(), Some(1), "findings");
    let rest: Vec<String> = lines.iter().collect();
    assert!(rest.iter().any(|l| l.contains("\"type\":\"alert\"")), "{rest:?}");
}

#[test]
fn an_endless_stdin_ends_when_the_reader_of_the_only_output_leaves() {
    let mut child = spawn(&["scan", "-", "--format", "jsonl"]);
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || {
        let record = ingress_record("e-1", "2024-08-01T10:00:00Z", 22, "0.0.0.0/0").to_string();
        // Until tripline stops reading (a broken pipe), like `yes`.
        while writeln!(stdin, "{record}").is_ok() {}
    });
    let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    stdout.read_line(&mut line).expect("a first line");
    assert!(line.contains("\"type\":\"signal\""), "{line}");
    drop(stdout);
    let (done, finished) = mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let output = child.wait_with_output().expect("waited");
        let _ = done.send(());
        output
    });
    assert!(finished.recv_timeout(Duration::from_secs(60)).is_ok(), "tripline kept reading");
    let output = waiter.join().expect("waiter");
    writer.join().expect("the writer stops at the broken pipe");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "the status it earned: {stderr}");
    assert!(stderr.contains("scanned 1 file(s)") && !stderr.contains("panicked"), "{stderr}");
}

#[test]
fn documents_one_after_another_and_a_damaged_gzip_stream_give_every_intact_record() {
    let dir = tempfile::tempdir().expect("temp");
    let doc = |id: &str| {
        serde_json::json!({"Records": [describe_record(id, "2024-08-01T10:00:00Z"), ingress_record(&format!("{id}-b"), "2024-08-01T10:01:00Z", 22, "0.0.0.0/0")]}).to_string()
    };
    let both = dir.path().join("both.json");
    std::fs::write(&both, format!("{}{}\n{}", doc("a"), doc("b"), doc("c"))).expect("write");
    let scan = tripline(&["scan", both.to_str().expect("utf-8"), "--format", "jsonl"]);
    assert!(scan.stderr.contains("6 record(s) (0 bad"), "{}", scan.stderr);
    let ids: Vec<String> = jsonl(&scan.stdout)
        .iter()
        .filter(|l| l["type"] == "signal")
        .map(|l| l["event_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    for id in ["a-b", "b-b", "c-b"] {
        assert!(ids.iter().any(|i| i == id), "{id}: {ids:?}");
    }
    // 300 records, the gzip stream cut in the middle: the records before the cut are read and
    // the damage is said once, with no "empty file" or "ends early" besides.
    let records: Vec<serde_json::Value> = (0..300)
        .map(|i| ingress_record(&format!("g-{i}"), "2024-08-01T10:00:00Z", 22, "0.0.0.0/0"))
        .collect();
    let whole = gzip(serde_json::json!({ "Records": records }).to_string().as_bytes());
    let cut = dir.path().join("cut.json.gz");
    std::fs::write(&cut, &whole[..whole.len() / 2]).expect("write");
    let scan = tripline(&["scan", cut.to_str().expect("utf-8"), "--format", "jsonl"]);
    assert_eq!(scan.code, 2, "{}", scan.stderr);
    assert_eq!(scan.stderr.matches(": error:").count(), 1, "{}", scan.stderr);
    assert!(scan.stderr.contains("gzip stream is damaged or truncated"), "{}", scan.stderr);
    let read = jsonl(&scan.stdout).iter().filter(|l| l["type"] == "signal").count();
    assert!(read > 50 && read < 300 * 4, "signals of the intact records: {read}");
}

#[test]
fn a_record_over_the_size_limit_is_reported_and_skipped_and_the_next_still_read() {
    let dir = tempfile::tempdir().expect("temp");
    let mut huge = describe_record("too-big", "2024-08-01T10:00:00Z");
    huge["requestParameters"] = serde_json::json!({"padding": "x".repeat(33 << 20)});
    let next = ingress_record("after", "2024-08-01T10:00:00Z", 22, "0.0.0.0/0");
    let path = dir.path().join("huge.json");
    std::fs::write(&path, format!("{huge}\n{next}\n")).expect("write");
    let scan = tripline(&["scan", path.to_str().expect("utf-8"), "--format", "jsonl"]);
    assert_eq!(scan.code, 2, "{}", scan.stderr);
    assert!(
        scan.stderr.contains("huge.json:1: record 0 (byte 0): error: record 0 is 34.6 MB, over the limit of 32 MB for one record; it was skipped"),
        "{}",
        scan.stderr
    );
    assert!(jsonl(&scan.stdout).iter().any(|l| l["event_id"] == "after"));
    // Records read are the good ones; the skipped one is counted as bad.
    assert!(scan.stderr.contains("1 record(s) (1 bad"), "{}", scan.stderr);
}

#[test]
fn inputs_that_are_not_files_say_what_they_are_and_a_named_pipe_is_read() {
    let dir = tempfile::tempdir().expect("temp");
    let fifo = dir.path().join("live.pipe");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let record = ingress_record("through-a-pipe", "2024-08-01T10:00:00Z", 22, "0.0.0.0/0");
            std::fs::write(&fifo, format!("{record}\n")).expect("tripline opens the pipe");
        })
    };
    let scan = tripline(&["scan", fifo.to_str().expect("utf-8"), "--format", "jsonl"]);
    // A writer whose file tripline read to its end is done, or about to be.
    std::thread::sleep(Duration::from_millis(200));
    if !writer.is_finished() {
        // Tripline never opened the pipe: open it here so that the writer is not left waiting.
        let _ = std::io::Read::read_to_end(
            &mut std::fs::File::open(&fifo).expect("open"),
            &mut Vec::new(),
        );
    }
    writer.join().expect("written");
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    assert!(jsonl(&scan.stdout).iter().any(|l| l["event_id"] == "through-a-pipe"));

    let socket = dir.path().join("s.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).expect("bind");
    let loop_a = dir.path().join("loop-a");
    std::os::unix::fs::symlink(dir.path().join("loop-b"), &loop_a).expect("symlink");
    std::os::unix::fs::symlink(&loop_a, dir.path().join("loop-b")).expect("symlink");
    for (path, expected) in [
        (
            "/dev/null".to_owned(),
            "/dev/null: error: is a character device, not a log file or a folder of them",
        ),
        (
            socket.display().to_string(),
            "s.sock: error: is a socket, not a log file or a folder of them",
        ),
        (
            loop_a.display().to_string(),
            "loop-a: error: cannot be read: Too many levels of symbolic links",
        ),
    ] {
        let scan = tripline(&["scan", &path]);
        assert_eq!(scan.code, 2, "{path}: {}", scan.stderr);
        assert_eq!(scan.stderr.matches(": error:").count(), 1, "{path}: {}", scan.stderr);
        assert!(scan.stderr.contains(expected), "{path}: {}", scan.stderr);
        assert!(!scan.stderr.contains("no CloudTrail log file found"), "{path}: {}", scan.stderr);
    }
    // Inside a folder, the socket is said and skipped; the logs beside it are read.
    std::fs::write(
        dir.path().join("a.json"),
        format!("{}\n", ingress_record("in-folder", "2024-08-01T10:00:00Z", 22, "0.0.0.0/0")),
    )
    .expect("write");
    std::fs::remove_file(dir.path().join("loop-a")).expect("rm");
    std::fs::remove_file(dir.path().join("loop-b")).expect("rm");
    std::fs::remove_file(&fifo).expect("rm");
    let scan = tripline(&["scan", dir.path().to_str().expect("utf-8"), "--format", "jsonl"]);
    assert_eq!(scan.code, 1, "a warning only: {}", scan.stderr);
    assert!(
        scan.stderr.contains("s.sock: warning: is a socket, not a log file; skipped"),
        "{}",
        scan.stderr
    );
    assert!(jsonl(&scan.stdout).iter().any(|l| l["event_id"] == "in-folder"));
}

#[test]
fn a_record_giving_a_key_twice_is_read_with_its_last_value_and_a_warning() {
    let dir = tempfile::tempdir().expect("temp");
    let record = ingress_record("twice", "2024-08-01T10:00:00Z", 22, "0.0.0.0/0").to_string();
    // `eventName` said first as a harmless read, then as the ingress change it really is.
    let record = record.replacen('{', "{\"eventName\":\"DescribeSecurityGroups\",", 1);
    let path = dir.path().join("twice.json");
    std::fs::write(&path, format!("{record}\n")).expect("write");
    let scan = tripline(&["scan", path.to_str().expect("utf-8"), "--format", "jsonl"]);
    assert_eq!(scan.code, 1, "a warning, and findings: {}", scan.stderr);
    assert!(
        scan.stderr.contains("twice.json: record 0: warning: key `eventName` given more than once in this record; the last value is used"),
        "{}",
        scan.stderr
    );
    assert!(scan.stderr.contains("1 record(s) (0 bad"), "{}", scan.stderr);
    // The ingress rule matched: the change is what the record says last.
    let signals = jsonl(&scan.stdout);
    assert!(
        signals.iter().any(|l| l["rule_id"] == "ec2-security-group-ingress-changed"),
        "{signals:?}"
    );
}
