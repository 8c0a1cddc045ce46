//! `tripline watch`: follows a folder as files arrive, evaluates each file once, and keeps its
//! state across restarts.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{jsonl, stored_alerts, tripline, workspace};

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let target = to.join(entry.path().strip_prefix(from).expect("under"));
        std::fs::create_dir_all(target.parent().expect("folder")).expect("mkdir");
        std::fs::copy(entry.path(), target).expect("copy");
    }
}

fn watch(dir: &Path, store: &str, polls: &str) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args([
            "watch",
            dir.to_str().expect("utf-8"),
            "--store",
            store,
            "--interval",
            "100ms",
            "--settle",
            "0s",
            "--polls",
            polls,
            "--format",
            "jsonl",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tripline watch starts")
}

fn finish(child: std::process::Child) -> (i32, Vec<serde_json::Value>, String) {
    let out = child.wait_with_output().expect("watch ends after its polls");
    let stdout = String::from_utf8(out.stdout).expect("utf-8");
    (
        out.status.code().expect("exit code"),
        jsonl(&stdout),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn watch_evaluates_files_as_they_arrive_and_each_only_once_across_restarts() {
    let dir = tempfile::tempdir().expect("temp");
    let logs = dir.path().join("logs");
    std::fs::create_dir_all(&logs).expect("mkdir");
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    let accounts = workspace().join("examples/AWSLogs");

    // Files delivered while it runs: one account's logs shortly after it starts.
    let running = watch(&logs, &store, "25");
    std::thread::sleep(Duration::from_millis(500));
    copy_tree(&accounts.join("111122223333"), &logs.join("AWSLogs/111122223333"));
    let (code, first, stderr) = finish(running);
    assert_eq!(code, 1, "{stderr}");
    let signals =
        |lines: &[serde_json::Value]| lines.iter().filter(|l| l["type"] == "signal").count();
    assert!(signals(&first) > 0, "{stderr}");
    assert!(first
        .iter()
        .filter(|l| l["type"] == "signal")
        .all(|s| s["account_id"] == "111122223333"));

    // Restarted: the first account's files are not read again; the second account's are.
    copy_tree(&accounts.join("444455556666"), &logs.join("AWSLogs/444455556666"));
    let (code, second, stderr) = finish(watch(&logs, &store, "2"));
    assert_eq!(code, 1, "{stderr}");
    assert!(signals(&second) > 0);
    assert!(
        second.iter().filter(|l| l["type"] == "signal").all(|s| s["account_id"] == "444455556666"),
        "{second:?}"
    );

    // And nothing new on a third start.
    let (code, third, _) = finish(watch(&logs, &store, "2"));
    assert_eq!((code, third.len()), (0, 0));

    // In the end the store holds what one scan of everything would.
    let reference = dir.path().join("reference.db").to_string_lossy().into_owned();
    assert_eq!(
        tripline(&["scan", logs.to_str().expect("utf-8"), "--store", &reference, "-q"]).code,
        1
    );
    let events = |alerts: Vec<serde_json::Value>| -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = alerts
            .into_iter()
            .map(|a| {
                let mut ids: Vec<String> = a["event_ids"]
                    .as_array()
                    .expect("ids")
                    .iter()
                    .map(|i| i.as_str().expect("id").to_owned())
                    .collect();
                ids.sort();
                (a["rule_id"].as_str().expect("rule").to_owned(), ids)
            })
            .collect();
        out.sort();
        out
    };
    assert_eq!(events(stored_alerts(&store)), events(stored_alerts(&reference)));
    let plain =
        jsonl(&tripline(&["scan", logs.to_str().expect("utf-8"), "--format", "jsonl"]).stdout);
    assert_eq!(signals(&first) + signals(&second), signals(&plain), "every matching record once");
}

#[test]
fn watch_refuses_a_missing_folder() {
    let run =
        tripline(&["watch", "no/such/folder", "--store", "/tmp/never-created.db", "--polls", "1"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("no/such/folder is not a folder to watch"), "{}", run.stderr);
}
