//! `watch --queue`: an SQS queue of notifications against a real emulator (moto's server on
//! 127.0.0.1): S3 notifying the queue as objects are put, and messages of every shape a
//! CloudTrail delivery reaches a queue in.

mod common;

use std::collections::BTreeSet;

use common::emulator::Emulator;
use common::{jsonl, tripline_with, workspace, Run};

const BUCKET: &str = "trail-bucket";

fn watch(emulator: &Emulator, queue: &str, store: &str, more: &[&str]) -> Run {
    let env = emulator.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // A queue named `sqs://NAME` goes where a folder would.
    let mut args = if queue.starts_with("sqs://") {
        vec!["watch", queue]
    } else {
        vec!["watch", "--queue", queue]
    };
    args.extend(["--store", store, "--wait", "1s", "--until-empty"]);
    args.extend(["--format", "jsonl"]);
    args.extend(more);
    tripline_with(&args, None, &env)
}

/// The example logs put in the bucket under the layout; their keys.
fn put_examples(emulator: &Emulator) -> Vec<String> {
    emulator.put_tree(BUCKET, &workspace().join("examples"))
}

/// The (rule, event) pairs of a JSON-lines run's signals.
fn signals(stdout: &str) -> BTreeSet<(String, String)> {
    jsonl(stdout)
        .into_iter()
        .filter(|l| l["type"] == "signal")
        .map(|l| {
            (
                l["rule_id"].as_str().unwrap_or_default().into(),
                l["event_id"].as_str().unwrap_or_default().into(),
            )
        })
        .collect()
}

#[test]
fn s3_notifications_are_read_and_each_message_deleted_once_its_objects_are_committed() {
    let emulator = Emulator::start();
    emulator.bucket(BUCKET);
    let queue = emulator.queue("cloudtrail-notifications");
    emulator.notify(BUCKET, &queue);
    let keys = put_examples(&emulator);
    let dir = tempfile::tempdir().expect("temp");
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    let run = watch(&emulator, &queue, &store, &[]);
    assert_eq!(run.code, 1, "alerts raised: {}", run.stderr);
    let disk = common::tripline(&["scan", "examples", "--format", "jsonl"]);
    assert_eq!(signals(&run.stdout), signals(&disk.stdout), "what a scan of the files finds");
    assert_eq!(emulator.messages(&queue), 0, "every message deleted");
    // One message per object and S3's test event; the test event and the digest's notification
    // ask for nothing (the digest is counted, not fetched).
    let said = format!("queue: {} message(s) received, {} done and deleted, 2 asking for nothing, 0 that can never succeed, 0 in flight", keys.len() + 1, keys.len() - 1);
    assert!(run.stderr.contains("1 digest file(s) skipped"), "{}", run.stderr);
    assert!(run.stderr.contains(&said), "{said}\n{}", run.stderr);
    // The same notifications again (a redelivery): recognised, deleted, nothing raised.
    for key in &keys {
        emulator.put(
            BUCKET,
            key,
            &std::fs::read(workspace().join("examples").join(key)).expect("example"),
        );
    }
    let again = watch(&emulator, &queue, &store, &[]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(signals(&again.stdout).is_empty());
    assert_eq!(emulator.messages(&queue), 0);
}

#[test]
fn every_shape_of_message_is_read_and_what_can_never_succeed_is_said_with_its_id() {
    let emulator = Emulator::start();
    emulator.bucket(BUCKET);
    let queue = emulator.queue("mixed");
    let keys = put_examples(&emulator);
    let trail: Vec<&String> = keys.iter().filter(|k| k.contains("/CloudTrail/")).collect();
    let etag = |key: &str| {
        // The ETag moto gives the same bytes again.
        emulator.put(
            BUCKET,
            key,
            &std::fs::read(workspace().join("examples").join(key)).expect("example"),
        )
    };
    let s3_event = |key: &str| {
        serde_json::json!({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2024-08-01T09:05:00.000Z", "eventName": "ObjectCreated:Put",
            "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET, "arn": format!("arn:aws:s3:::{BUCKET}")},
                   "object": {"key": key, "size": 1, "eTag": etag(key).trim_matches('"'), "sequencer": "00"}}}]})
        .to_string()
    };
    let sns = |message: &str| {
        serde_json::json!({"Type": "Notification", "MessageId": "6a1f0e8a-0000-4000-8000-00000000000a",
            "TopicArn": "arn:aws:sns:us-east-1:111122223333:cloudtrail", "Message": message,
            "Timestamp": "2024-08-01T09:05:01.000Z"})
        .to_string()
    };
    // Straight from S3, through SNS (not raw), CloudTrail's own notification (two keys, no
    // ETag: asked of S3), EventBridge's Object Created, and records EventBridge delivered.
    emulator.send(&queue, &s3_event(trail[0]));
    emulator.send(&queue, &sns(&s3_event(trail[1])));
    let own = serde_json::json!({"s3Bucket": BUCKET, "s3ObjectKey": [trail[2], trail[3]]});
    emulator.send(&queue, &sns(&own.to_string()));
    let bridge = serde_json::json!({"version": "0", "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created", "source": "aws.s3", "account": "111122223333",
        "time": "2024-08-01T09:05:00Z", "region": "us-east-1", "resources": [],
        "detail": {"version": "0", "bucket": {"name": BUCKET},
                   "object": {"key": trail[4], "size": 1, "etag": etag(trail[4]).trim_matches('"')}}});
    emulator.send(&queue, &bridge.to_string());
    let record = common::ingress_record("bridge-0001", "2024-08-01T10:00:00Z", 22, "0.0.0.0/0");
    let api_call = serde_json::json!({"version": "0", "id": "x", "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.ec2", "account": "111122223333", "detail": record});
    emulator.send(&queue, &api_call.to_string());
    emulator
        .send(&queue, r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Bucket":"trail-bucket"}"#);
    // A CloudTrail notification naming no key asks for nothing either.
    let no_keys = serde_json::json!({"s3Bucket": BUCKET, "s3ObjectKey": []});
    emulator.send(&queue, &sns(&no_keys.to_string()));
    // Two that can never succeed: not a notification, and an object that is not there.
    let stranger = emulator.send(&queue, "hello");
    let gone = emulator.send(
        &queue,
        &serde_json::json!({"s3Bucket": BUCKET, "s3ObjectKey": ["AWSLogs/gone.json.gz"]})
            .to_string(),
    );

    let dir = tempfile::tempdir().expect("temp");
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    let run = watch(&emulator, &queue, &store, &["--visibility", "2s"]);
    assert_eq!(run.code, 2, "bad messages are errors: {}", run.stderr);
    assert!(
        run.stderr.contains(&format!("sqs message {stranger}: error: the message is not JSON")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("sqs message {gone}: error: s3://{BUCKET}/AWSLogs/gone.json.gz")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("9 message(s) received, 5 done and deleted, 2 asking for nothing, 2 that can never succeed"), "{}", run.stderr);
    let found = signals(&run.stdout);
    assert!(
        found.iter().any(|(_, event)| event == "bridge-0001"),
        "the record EventBridge carried"
    );
    let objects: Vec<String> = trail[..5]
        .iter()
        .map(|k| workspace().join("examples").join(k).to_string_lossy().into_owned())
        .collect();
    let mut args = vec!["scan", "--format", "jsonl"];
    args.extend(objects.iter().map(String::as_str));
    let disk = common::tripline(&args);
    let from_objects: BTreeSet<_> =
        found.iter().filter(|(_, e)| e != "bridge-0001").cloned().collect();
    assert_eq!(from_objects, signals(&disk.stdout), "the five objects' signals");
    // Left for the redrive policy: they come back after their visibility timeout.
    assert_eq!(emulator.messages(&queue), 2);
    std::thread::sleep(std::time::Duration::from_secs(3));
    let deleting = watch(&emulator, &queue, &store, &["--delete-bad-messages"]);
    assert!(deleting.stderr.contains("2 message(s) received, 0 done and deleted, 0 asking for nothing, 2 that can never succeed"), "{}", deleting.stderr);
    assert_eq!(emulator.messages(&queue), 0, "deleted as asked");
}

#[test]
fn a_backfill_enqueued_is_read_by_the_workers_as_the_files_are_by_a_scan() {
    let emulator = Emulator::start();
    emulator.bucket(BUCKET);
    let queue = emulator.queue("backfill");
    let keys = put_examples(&emulator);
    let env = emulator.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let url = format!("s3://{BUCKET}/");
    // Named by its name, whose URL SQS gives: as an operator would write it.
    let enqueue = |more: &[&str]| {
        let mut args = vec!["enqueue", url.as_str(), "--queue", "sqs://backfill"];
        args.extend(more);
        tripline_with(&args, None, &env)
    };
    // Days the logs do not hold: nothing to send.
    let none = enqueue(&["--since", "2024-09-01", "--until", "2024-09-02"]);
    assert_eq!(none.code, 0, "{}", none.stderr);
    assert!(none.stderr.contains("enqueued 0 object(s)"), "{}", none.stderr);
    assert_eq!(emulator.messages(&queue), 0);
    let run = enqueue(&["--since", "2024-08-01", "--until", "2024-08-02"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let trail = keys.iter().filter(|k| k.contains("/CloudTrail/")).count();
    assert!(run.stderr.contains(&format!("enqueued {trail} object(s)")), "{}", run.stderr);
    assert!(run.stderr.contains("1 folder(s) of digests"), "{}", run.stderr);
    assert_eq!(emulator.messages(&queue), trail as u64);
    let dir = tempfile::tempdir().expect("temp");
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    let worker = watch(&emulator, "sqs://backfill", &store, &[]);
    assert_eq!(worker.code, 1, "{}", worker.stderr);
    let disk = common::tripline(&["scan", "examples", "--format", "jsonl"]);
    assert_eq!(signals(&worker.stdout), signals(&disk.stdout));
    assert_eq!(emulator.messages(&queue), 0);
}

#[test]
fn a_queue_named_that_does_not_exist_is_an_error_that_names_it() {
    let emulator = Emulator::start();
    let dir = tempfile::tempdir().expect("temp");
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    let run = watch(&emulator, "sqs://no-such-queue", &store, &[]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("sqs://no-such-queue: "), "{}", run.stderr);
    assert!(run.stderr.to_lowercase().contains("queue"), "{}", run.stderr);
    let bad = watch(&emulator, "sqs://a/b/c", &store, &[]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("sqs://NAME or sqs://ACCOUNT/NAME"), "{}", bad.stderr);
}

#[test]
fn run_follows_every_queue_and_folder_it_is_given_each_told_apart() {
    let emulator = Emulator::start();
    emulator.bucket(BUCKET);
    let (east, west) = (emulator.queue("east"), emulator.queue("west"));
    let keys = put_examples(&emulator);
    let trail: Vec<&String> = keys.iter().filter(|k| k.contains("/CloudTrail/")).collect();
    // Half the objects announced on each queue, as two regions' trails would be.
    for (i, key) in trail.iter().enumerate() {
        let queue = if i % 2 == 0 { &east } else { &west };
        emulator.send(
            queue,
            &serde_json::json!({"s3Bucket": BUCKET, "s3ObjectKey": [key]}).to_string(),
        );
    }
    let dir = tempfile::tempdir().expect("temp");
    let config = dir.path().join("tripline.toml");
    std::fs::write(&config, format!("[run]\nqueue = [\"{east}\", \"{west}\"]\nlisten = \"off\"\n"))
        .expect("config written");
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    let env = emulator.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let config = config.to_string_lossy().into_owned();
    let args =
        ["run", "--config", &config, "--store", &store, "--until-empty", "--format", "jsonl"];
    let run = tripline_with(&args, None, &env);
    assert_eq!(run.code, 1, "alerts raised: {}", run.stderr);
    let disk = common::tripline(&["scan", "examples", "--format", "jsonl"]);
    assert_eq!(signals(&run.stdout), signals(&disk.stdout), "what a scan of the files finds");
    for (queue, n) in [(&east, trail.len().div_ceil(2)), (&west, trail.len() / 2)] {
        let said = format!("queue {queue}: {n} message(s) received, {n} done and deleted");
        assert!(run.stderr.contains(&said), "{said}\n{}", run.stderr);
        assert_eq!(emulator.messages(queue), 0);
    }

    // A queue and a folder at once, by flags (which replace what [run] names): the folder's
    // files and the queue's objects are all read, once.
    let folder = tempfile::tempdir().expect("temp");
    let local = workspace().join("examples").join(trail[0]);
    std::fs::copy(&local, folder.path().join("local.json.gz")).expect("copied");
    emulator.send(
        &east,
        &serde_json::json!({"s3Bucket": BUCKET, "s3ObjectKey": [trail[1]]}).to_string(),
    );
    let fresh = dir.path().join("fresh.db").to_string_lossy().into_owned();
    let folder_arg = folder.path().to_string_lossy().into_owned();
    let args = [
        "run",
        "--config",
        &config,
        "--store",
        &fresh,
        "--queue",
        &east,
        "--folder",
        &folder_arg,
        "--settle",
        "0s",
        "--polls",
        "3",
        "--format",
        "jsonl",
    ];
    let both = tripline_with(&args, None, &env);
    assert!(both.code <= 1, "{}", both.stderr);
    let only = |paths: &[&std::path::Path]| {
        let mut args = vec!["scan", "--format", "jsonl"];
        args.extend(paths.iter().filter_map(|p| p.to_str()));
        signals(&common::tripline(&args).stdout)
    };
    let second = workspace().join("examples").join(trail[1]);
    let expected = only(&[&local, &second]);
    assert!(!expected.is_empty(), "the two files hold signals");
    assert_eq!(signals(&both.stdout), expected);
    assert!(
        both.stderr.contains("queue: 1 message(s) received, 1 done and deleted"),
        "{}",
        both.stderr
    );
    assert_eq!(emulator.messages(&east), 0);
    assert_eq!(emulator.messages(&west), 0, "not followed this time");
}

#[test]
fn notifications_of_digests_and_other_services_logs_are_counted_and_deleted_unread() {
    let emulator = Emulator::start();
    emulator.bucket(BUCKET);
    let queue = emulator.queue("whole-prefix");
    // A notification on `AWSLogs/` also names these; none of them is put in the bucket, so
    // fetching one would fail.
    let digest = "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2024/08/01/111122223333_CloudTrail-Digest_eu-west-1_trail_eu-west-1_20240801T100000Z.json.gz";
    let config = "AWSLogs/111122223333/Config/eu-west-1/2024/8/1/ConfigSnapshot/111122223333_Config_eu-west-1_ConfigSnapshot_20240801T100000Z.json.gz";
    let lb = "AWSLogs/111122223333/elasticloadbalancing/eu-west-1/2024/08/01/111122223333_elasticloadbalancing_eu-west-1_app.lb.log.gz";
    emulator.send(
        &queue,
        &serde_json::json!({"s3Bucket": BUCKET, "s3ObjectKey": [digest, config, lb]}).to_string(),
    );
    let dir = tempfile::tempdir().expect("temp");
    let store = dir.path().join("alerts.db").to_string_lossy().into_owned();
    let run = watch(&emulator, &queue, &store, &[]);
    assert_eq!(run.code, 0, "nothing wrong: {}", run.stderr);
    assert!(run.stderr.contains("1 digest file(s) skipped"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Config 1") && run.stderr.contains("elasticloadbalancing 1"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("1 message(s) received, 0 done and deleted, 1 asking for nothing"),
        "{}",
        run.stderr
    );
    assert_eq!(emulator.messages(&queue), 0);
}
