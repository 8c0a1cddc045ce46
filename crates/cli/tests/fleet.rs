//! A fleet on one queue and one PostgreSQL store, killed at random: three `tripline run`
//! workers follow an SQS queue of S3 notifications (moto's server on 127.0.0.1) with a webhook
//! output, and are killed with SIGKILL at random moments and restarted, many times. In the
//! end the queue is empty, the store holds what one scan of the same files raises, every
//! alert once, and every alert change the store recorded reached the receiver under its own
//! idempotency key, with no key the store does not know.

mod common;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::emulator::Emulator;
use common::receiver::Receiver;
use common::{jsonl, postgres_database, tripline};

const BUCKET: &str = "fleet-trail";

/// Worker processes, killed when the test ends however it ends.
struct Fleet(Vec<Child>);

impl Drop for Fleet {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn worker(emulator: &Emulator, queue: &str, store: &str, output: &str, more: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(["run", "--queue", queue, "--store", store, "--listen", "off", "--wait", "1s"])
        .args(["--visibility", "2s", "--output", output, "-q"])
        .args(more)
        .envs(emulator.env())
        .current_dir(common::workspace())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("a worker starts")
}

/// Alerts as a set, their event ids sorted (which worker read an event first decides only
/// the order they are listed in).
fn alerts(store: &str) -> Vec<serde_json::Value> {
    let mut alerts = common::stored_alerts(store);
    for alert in &mut alerts {
        if let Some(ids) = alert["event_ids"].as_array_mut() {
            ids.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
    alerts
}

#[test]
fn three_workers_killed_at_random_end_with_one_scans_alerts_and_every_notification_once() {
    let emulator = Emulator::start();
    emulator.bucket(BUCKET);
    let queue = emulator.queue("fleet");
    emulator.notify(BUCKET, &queue);
    let dir = tempfile::tempdir().expect("temp");
    let logs = dir.path().join("logs");
    common::example_copies(&logs, 10);
    let objects = emulator.put_tree(BUCKET, &logs).len();
    assert!(objects >= 100, "{objects} objects");
    let store = postgres_database();
    let receiver = Receiver::start_slow(Vec::new(), Duration::from_millis(20));
    let output = format!("webhook:{}#workers=2,backoff=10ms", receiver.url);

    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut fleet =
        Fleet((0..3).map(|_| worker(&emulator, &queue, &store, &output, &[])).collect());
    let (mut killed, mut mid_work) = (0, 0);
    let started = Instant::now();
    while killed < 12 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(rng.u64(100..700)));
        mid_work += u32::from(emulator.messages(&queue) > 0);
        let victim = rng.usize(..fleet.0.len());
        fleet.0[victim].kill().expect("SIGKILL");
        fleet.0[victim].wait().expect("reaped");
        killed += 1;
        fleet.0[victim] = worker(&emulator, &queue, &store, &output, &[]);
    }
    drop(fleet);
    assert!(killed >= 12, "seed {seed}");
    assert!(mid_work >= 3, "workers were killed with work in the queue (seed {seed}): {mid_work}");
    // What the killed workers held comes back after its visibility timeout: workers that are
    // left alone drain the queue.
    let deadline = Instant::now() + Duration::from_secs(90);
    while emulator.messages(&queue) > 0 {
        assert!(Instant::now() < deadline, "the queue drains (seed {seed})");
        std::thread::sleep(Duration::from_secs(2));
        let drained = worker(&emulator, &queue, &store, &output, &["--until-empty"])
            .wait()
            .expect("a drain finishes");
        assert!(matches!(drained.code(), Some(0..=2)), "seed {seed}");
    }
    // The outbox's last deliveries.
    let last = worker(&emulator, &queue, &store, &output, &["--until-empty"]).wait().expect("ends");
    assert!(matches!(last.code(), Some(0 | 1)), "seed {seed}");

    let reference = dir.path().join("reference.db").to_string_lossy().into_owned();
    let scan = tripline(&["scan", &logs.to_string_lossy(), "--store", &reference, "-q"]);
    assert_eq!(scan.code, 1, "{}", scan.stderr);
    let (got, expected) = (alerts(&store), alerts(&reference));
    if got != expected {
        let lines = |a: &[serde_json::Value]| {
            a.iter().map(|x| x.to_string()).collect::<Vec<_>>().join("\n")
        };
        std::fs::write("/tmp/fleet-got.jsonl", lines(&got)).ok();
        std::fs::write("/tmp/fleet-expected.jsonl", lines(&expected)).ok();
    }
    assert_eq!(got.len(), expected.len(), "as many alerts (seed {seed})");
    assert_eq!(got, expected, "one scan's alerts (seed {seed})");
    let known: BTreeSet<String> = {
        let run = tripline(&["alerts", "outbox", "--store", &store, "--format", "jsonl"]);
        jsonl(&run.stdout).iter().map(|n| n["key"].as_str().expect("a key").to_owned()).collect()
    };
    let pending = tripline(&[
        "alerts", "outbox", "--store", &store, "--status", "pending", "--format", "jsonl",
    ]);
    assert!(jsonl(&pending.stdout).is_empty(), "all delivered (seed {seed})");
    let arrived: BTreeSet<String> = receiver
        .requests()
        .iter()
        .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(arrived, known, "every change arrived and nothing unknown did (seed {seed})");
}
