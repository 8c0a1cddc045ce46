//! Memory bounded by the record, not the input: a gzip file that expands to hundreds of
//! megabytes, and a long stdin stream, are read in a few tens of megabytes. The peak is the
//! process's high-water mark (`VmHWM` in `/proc/PID/status`, which only grows), read every few
//! milliseconds while it runs.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{gzip, ingress_record, workspace};

/// Follows `pid`'s high-water mark until it ends; the last value read, in megabytes.
fn watch_peak(pid: u32) -> std::thread::JoinHandle<f64> {
    std::thread::spawn(move || {
        let mut peak_kb = 0u64;
        while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let Some(kb) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            else {
                break; // a zombie: its memory is gone
            };
            peak_kb = peak_kb.max(kb);
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        peak_kb as f64 / 1024.0
    })
}

/// Expanded size of the gzip bomb's padding, in megabytes.
const BOMB_MB: usize = 300;
/// Size of the stdin stream, in megabytes.
const STREAM_MB: usize = 100;
/// What either may take: the whole-file buffer (32 MB, the most one record or small file
/// holds, briefly beside its previous allocation as it grows) and the process itself — about
/// half of what holding the bomb's text alone would.
const BOUND_MB: f64 = 160.0;

#[test]
fn a_gzip_bomb_and_a_long_stdin_are_read_in_bounded_memory() {
    let dir = tempfile::tempdir().expect("temp");
    // A delivery file whose one array holds two records around 300 MB of whitespace: gzip
    // members one after another, the padding's compressed once and repeated.
    let first = ingress_record("before", "2024-08-01T10:00:00Z", 22, "0.0.0.0/0");
    let last = ingress_record("after", "2024-08-01T10:05:00Z", 3389, "0.0.0.0/0");
    let mut bomb = gzip(format!("{{\"Records\":[{first},").as_bytes());
    let padding = gzip(&vec![b' '; 1 << 20]);
    for _ in 0..BOMB_MB {
        bomb.extend_from_slice(&padding);
    }
    bomb.extend(gzip(format!("{last}]}}").as_bytes()));
    let path = dir.path().join("bomb.json.gz");
    std::fs::write(&path, &bomb).expect("write");
    let child = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["scan", path.to_str().expect("utf-8"), "--format", "jsonl"])
        .current_dir(workspace())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let watcher = watch_peak(child.id());
    let scan = child.wait_with_output().expect("ends");
    let stdout = String::from_utf8_lossy(&scan.stdout);
    let stderr = String::from_utf8_lossy(&scan.stderr);
    assert_eq!(scan.status.code(), Some(1), "{stderr}");
    assert!(
        stdout.contains("\"event_id\":\"before\"") && stdout.contains("\"event_id\":\"after\"")
    );
    let bomb_peak = watcher.join().expect("watched");
    assert!(bomb_peak > 1.0, "the watcher read the process");
    assert!(bomb_peak < BOUND_MB, "{BOMB_MB} MB expanded took {bomb_peak:.0} MB");

    // 100 MB of records on stdin, none of which any rule matches.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["scan", "-", "-q"])
        .current_dir(workspace())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("runs");
    let watcher = watch_peak(child.id());
    let mut stdin = child.stdin.take().expect("piped");
    let writer = std::thread::spawn(move || {
        let mut record = ingress_record("quiet", "2024-08-01T10:00:00Z", 443, "10.0.0.0/8");
        record["eventName"] = "DescribeInstances".into();
        record["requestParameters"] = serde_json::json!({"padding": "y".repeat(10_000)});
        let line = format!("{record}\n");
        for _ in 0..(STREAM_MB << 20) / line.len() {
            stdin.write_all(line.as_bytes()).expect("tripline reads it all");
        }
    });
    writer.join().expect("written");
    let output = child.wait_with_output().expect("ends");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let peak = watcher.join().expect("watched");
    assert!(peak < BOUND_MB, "{STREAM_MB} MB of stdin took {peak:.0} MB");
    eprintln!("peak resident memory: {bomb_peak:.0} MB for the bomb, {peak:.0} MB with the stream");
}
