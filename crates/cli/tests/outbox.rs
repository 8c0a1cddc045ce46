//! Delivery that survives restarts: with a store, each alert change's notification is kept in
//! the outbox in the transaction that makes the change, delivered after the commit, and kept
//! for the next run when the receiver is down; a notification that keeps failing is
//! dead-lettered, listed and can be put back in line. Kills at random moments during delivery
//! lose nothing: every change arrives, and no key arrives that the store does not know.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::receiver::{Answer, Receiver};
use common::{jsonl, postgres_database, tripline};

fn outbox(store: &str, status: &str) -> Vec<serde_json::Value> {
    let run =
        tripline(&["alerts", "outbox", "--store", store, "--status", status, "--format", "jsonl"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    jsonl(&run.stdout)
}

/// The keys of every alert's final state: `alert_id:event_count`.
fn final_keys(store: &str) -> BTreeSet<String> {
    common::stored_alerts(store)
        .iter()
        .map(|a| format!("{}:{}", a["alert_id"].as_str().expect("id"), a["event_count"]))
        .collect()
}

/// The keys of every alert change the store recorded (an alert extended by a later batch has a
/// change, and a key, per batch).
fn change_keys(store: &str) -> BTreeSet<String> {
    let run = tripline(&["alerts", "outbox", "--store", store, "--format", "jsonl"]);
    jsonl(&run.stdout).iter().map(|n| n["key"].as_str().expect("a key").to_owned()).collect()
}

fn received_keys(receiver: &Receiver) -> Vec<String> {
    receiver
        .requests()
        .iter()
        .filter_map(|r| r.header("idempotency-key").map(str::to_owned))
        .collect()
}

fn a_receiver_that_is_down_gets_everything_when_it_comes_back(store: &str) {
    let receiver = Receiver::start(vec![Answer::Status(503, Vec::new()); 3]);
    let spec = format!("webhook:{}#retries=1,backoff=10ms,workers=1", receiver.url);
    let down = tripline(&["scan", "examples", "--store", store, "--output", &spec]);
    assert_eq!(down.code, 1, "alerts raised; failures left pending are warnings: {}", down.stderr);
    assert!(down.stderr.contains("not delivered yet; kept in the outbox"), "{}", down.stderr);
    assert_eq!(
        receiver.requests().len(),
        1,
        "the first failure ends the round: the receiver is down"
    );
    let pending = outbox(store, "pending");
    assert!(pending.len() >= 35, "a notification per alert change: {}", pending.len());
    assert!(
        final_keys(store).is_subset(&change_keys(store)),
        "every alert's final state is among them"
    );
    assert_eq!(pending[0]["attempts"], 1);
    // Back up (the script now answers 200 after what is left of it): the next run, with no new
    // input, delivers the backlog.
    while receiver.unused() > 0 {
        let again = tripline(&["scan", "examples", "--store", store, "--output", &spec, "-q"]);
        assert!(again.code == 0 || again.code == 1, "{}", again.stderr);
    }
    let last = tripline(&["scan", "examples", "--store", store, "--output", &spec]);
    assert_eq!(last.code, 0, "nothing new raised: {}", last.stderr);
    assert!(outbox(store, "pending").is_empty());
    assert_eq!(outbox(store, "delivered").len(), pending.len());
    let delivered: BTreeSet<String> =
        received_keys(&receiver).into_iter().filter(|k| !k.is_empty()).collect();
    assert_eq!(delivered, change_keys(store), "every change's key arrived, and no other");
}

#[test]
fn a_down_receiver_gets_its_backlog_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    a_receiver_that_is_down_gets_everything_when_it_comes_back(
        &dir.path().join("s.db").display().to_string(),
    );
}

#[test]
fn a_down_receiver_gets_its_backlog_on_postgres() {
    a_receiver_that_is_down_gets_everything_when_it_comes_back(&postgres_database());
}

#[test]
fn what_keeps_failing_is_dead_lettered_listed_and_can_be_retried() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("s.db").display().to_string();
    let receiver = Receiver::start(vec![Answer::Status(500, Vec::new()); 2]);
    let spec = format!("webhook:{}#rules=ec2-security-group-admin-port-opened-to-world,retries=1,backoff=10ms,dead_after=2", receiver.url);
    let first = tripline(&["scan", "examples", "--store", &store, "--output", &spec]);
    assert_eq!(first.code, 1, "{}", first.stderr);
    let second = tripline(&["scan", "examples", "--store", &store, "--output", &spec]);
    assert_eq!(second.code, 2, "a dead letter is a failure: {}", second.stderr);
    assert!(second.stderr.contains("1 notification(s) dead-lettered"), "{}", second.stderr);
    let dead = outbox(&store, "dead");
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0]["attempts"].as_u64(), dead[0]["rule_id"].as_str()),
        (Some(2), Some("ec2-security-group-admin-port-opened-to-world"))
    );
    assert!(dead[0]["last_error"].as_str().is_some_and(|e| e.contains("HTTP 500")), "{dead:?}");
    let listed = tripline(&["alerts", "outbox", "--store", &store]);
    assert!(
        listed.stdout.contains("dead") && listed.stdout.contains("webhook:http://127.0.0.1"),
        "{}",
        listed.stdout
    );
    assert!(!listed.stdout.contains("s3cr3t-path"), "output names are redacted: {}", listed.stdout);
    let retried = tripline(&["alerts", "outbox", "--store", &store, "--retry-dead"]);
    assert!(
        retried.stdout.contains("1 dead-lettered notification(s) put back in line"),
        "{}",
        retried.stdout
    );
    let third = tripline(&["scan", "examples", "--store", &store, "--output", &spec]);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert_eq!(outbox(&store, "delivered").len(), 1);
    assert_eq!(receiver.requests().len(), 3);
}

/// Kills `tripline scan --store` with SIGKILL at random moments while it delivers to a slow
/// receiver, many times, then lets it finish: every alert change arrived at least once, and
/// every key that arrived is one the store knows.
#[test]
fn kills_during_delivery_lose_no_notification() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("s.db").display().to_string();
    let receiver = Receiver::start_slow(Vec::new(), Duration::from_millis(15));
    let spec = format!("webhook:{}#workers=2,backoff=10ms", receiver.url);
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut killed = 0;
    for _ in 0..12 {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tripline"))
            .args(["scan", "examples", "--store", &store, "--output", &spec, "-q"])
            .current_dir(common::workspace())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("tripline runs");
        std::thread::sleep(Duration::from_millis(rng.u64(20..400)));
        if child.try_wait().expect("waitable").is_none() {
            child.kill().expect("SIGKILL");
            killed += 1;
        }
        child.wait().expect("reaped");
    }
    assert!(killed >= 3, "runs were killed part-way (seed {seed}): {killed}");
    let last = tripline(&["scan", "examples", "--store", &store, "--output", &spec]);
    assert!(last.code == 0 || last.code == 1, "{}", last.stderr);
    assert!(outbox(&store, "pending").is_empty(), "seed {seed}: {}", last.stderr);
    assert_eq!(common::stored_alerts(&store).len(), 35, "every alert once (seed {seed})");
    let known = change_keys(&store);
    assert!(final_keys(&store).is_subset(&known), "seed {seed}");
    let arrived: BTreeSet<String> = received_keys(&receiver).into_iter().collect();
    assert_eq!(arrived, known, "every change arrived and nothing unknown did (seed {seed})");
}
