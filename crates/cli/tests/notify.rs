//! Outputs that reach people, against a real HTTP server on 127.0.0.1 that the test starts:
//! webhook bodies, headers, signatures and idempotency keys; retries on 500, 429 (honouring
//! `Retry-After`), hangs and closed connections; no retry on other 4xx; secrets kept out of
//! every message; Slack's Block Kit structure; OCSF findings validated by an OCSF model library.

mod common;

use std::time::Duration;

use common::receiver::{Answer, Receiver};
use common::{jsonl, tripline, tripline_with};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SECRET: &str = "correct horse battery staple";
const ONE_ALERT: &str = "rules=ec2-security-group-admin-port-opened-to-world";

fn hmac_hex(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// The examples' alerts as the JSON-lines contract gives them.
fn example_alerts() -> Vec<serde_json::Value> {
    let run = tripline(&["scan", "examples", "--format", "jsonl"]);
    jsonl(&run.stdout).into_iter().filter(|l| l["type"] == "alert").collect()
}

#[test]
fn every_alert_is_posted_once_signed_with_its_context_and_key() {
    let receiver = Receiver::start(Vec::new());
    let spec = format!("webhook:{}#secret_env=HOOK_SECRET,backoff=10ms", receiver.url);
    let run =
        tripline_with(&["scan", "examples", "--output", &spec], None, &[("HOOK_SECRET", SECRET)]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let alerts = example_alerts();
    let requests = receiver.requests();
    assert_eq!(requests.len(), alerts.len(), "one POST per alert");
    for request in &requests {
        let body = request.json();
        assert_eq!(request.header("content-type"), Some("application/json"));
        let signature = request.header("x-tripline-signature").expect("signed");
        assert_eq!(signature, format!("sha256={}", hmac_hex(&request.body)));
        let alert = &body["alert"];
        let key = format!("{}:{}", alert["alert_id"].as_str().expect("id"), alert["event_count"]);
        assert_eq!(request.header("idempotency-key"), Some(key.as_str()));
        assert_eq!(body["key"], key);
        assert_eq!(body["schema"], "tripline.alert.v1");
        assert_eq!(body["change"], "raised");
        let expected = alerts
            .iter()
            .find(|a| a["alert_id"] == alert["alert_id"])
            .expect("the same alerts as JSON lines");
        for field in [
            "rule_id",
            "title",
            "severity",
            "dedup_key",
            "first_seen",
            "last_seen",
            "event_count",
            "event_ids",
        ] {
            assert_eq!(alert[field], expected[field], "{field}");
        }
        assert_eq!(body["rule"]["id"], alert["rule_id"]);
        let signals = body["signals"].as_array().expect("signals");
        assert!(!signals.is_empty() && signals.len() <= 10);
        assert!(signals[0]["context"]["indicators"].is_object(), "signals carry their context");
    }
    let world = requests
        .iter()
        .map(|r| r.json())
        .find(|b| b["alert"]["rule_id"] == "ec2-security-group-admin-port-opened-to-world")
        .expect("the admin-port alert was posted");
    assert_eq!(world["rule"]["severity"], "high");
    assert!(world["rule"]["triage"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(world["signals"][0]["context"]["security_group_changes"][0]["exposure"], "world");
    assert!(!run.stderr.contains(SECRET));
}

#[test]
fn a_batching_webhook_posts_every_alert_in_signed_batches_with_a_stable_key() {
    let receiver = Receiver::start(Vec::new());
    let spec = format!("webhook:{}#secret_env=HOOK_SECRET,batch=3", receiver.url);
    let env = [("HOOK_SECRET", SECRET)];
    let run = tripline_with(&["scan", "examples", "--output", &spec], None, &env);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let alerts = example_alerts();
    let requests = receiver.requests();
    assert!(alerts.len() > 3, "the examples make more than one batch");
    assert_eq!(requests.len(), alerts.len().div_ceil(3), "three alerts a request");
    let mut posted = Vec::new();
    for request in &requests {
        let body = request.json();
        assert_eq!(body["schema"], "tripline.alerts.v1");
        let key = body["key"].as_str().expect("a batch key");
        assert!(key.starts_with("batch:"), "{key}");
        assert_eq!(request.header("idempotency-key"), Some(key));
        let signature = request.header("x-tripline-signature").expect("signed");
        assert_eq!(signature, format!("sha256={}", hmac_hex(&request.body)));
        let members = body["notifications"].as_array().expect("notifications");
        assert!((1..=3).contains(&members.len()));
        for member in members {
            assert_eq!(member["schema"], "tripline.alert.v1");
            let alert = &member["alert"];
            assert_eq!(
                member["key"],
                format!("{}:{}", alert["alert_id"].as_str().expect("id"), alert["event_count"])
            );
            posted.push(alert["alert_id"].as_str().expect("id").to_owned());
        }
    }
    posted.sort();
    let mut expected: Vec<String> =
        alerts.iter().map(|a| a["alert_id"].as_str().expect("id").to_owned()).collect();
    expected.sort();
    assert_eq!(posted, expected, "every alert once");
    // The same run again gives the same batches, so a receiver can drop a repeated request.
    let again = Receiver::start(Vec::new());
    let spec = format!("webhook:{}#secret_env=HOOK_SECRET,batch=3", again.url);
    tripline_with(&["scan", "examples", "--output", &spec], None, &env);
    let keys = |r: &Receiver| {
        let mut keys: Vec<String> = r
            .requests()
            .iter()
            .map(|q| q.json()["key"].as_str().expect("key").to_owned())
            .collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(&receiver), keys(&again));
    let slack = tripline(&["scan", "examples", "--output", "slack:http://127.0.0.1:9/x#batch=3"]);
    assert_eq!(slack.code, 2);
    assert!(slack.stderr.contains("option `batch` is for webhook outputs"), "{}", slack.stderr);
}

#[test]
fn failures_that_may_pass_are_retried_and_retry_after_is_honoured() {
    let receiver = Receiver::start(vec![
        Answer::Status(500, Vec::new()),
        Answer::Status(429, vec![("Retry-After", "1".into())]),
        Answer::Hang(Duration::from_secs(3)),
        Answer::Close,
        Answer::Status(503, Vec::new()),
    ]);
    let spec = format!("webhook:{}#{ONE_ALERT},backoff=10ms,timeout=1s,retries=6", receiver.url);
    let run = tripline(&["scan", "examples", "--output", &spec]);
    assert_eq!(run.code, 1, "delivered in the end: {}", run.stderr);
    let requests = receiver.requests();
    assert_eq!(requests.len(), 6, "five failures, then the delivery");
    let key = requests[0].header("idempotency-key").expect("keyed").to_owned();
    assert!(
        requests.iter().all(|r| r.header("idempotency-key") == Some(key.as_str())),
        "every attempt carries the same key"
    );
    assert!(
        requests[2].at - requests[1].at >= Duration::from_secs(1),
        "Retry-After: 1 was waited for"
    );
    assert!(run.stderr.contains("1 delivered"), "{}", run.stderr);
}

#[test]
fn a_refusal_is_not_retried_and_is_reported_without_secrets() {
    let receiver = Receiver::start(vec![Answer::Status(400, Vec::new())]);
    let spec = format!("webhook:{}#{ONE_ALERT},secret_env=HOOK_SECRET,backoff=10ms", receiver.url);
    let run =
        tripline_with(&["scan", "examples", "--output", &spec], None, &[("HOOK_SECRET", SECRET)]);
    assert_eq!(run.code, 2, "an undelivered alert is a failure: {}", run.stderr);
    assert_eq!(receiver.requests().len(), 1, "a 4xx is final");
    assert!(run.stderr.contains("1 notification(s) not delivered"), "{}", run.stderr);
    assert!(run.stderr.contains("refused with HTTP 400"), "{}", run.stderr);
    assert!(!run.stderr.contains(SECRET) && !run.stderr.contains("s3cr3t-path"), "{}", run.stderr);
}

#[test]
fn a_receiver_that_never_answers_well_is_given_up_on_and_counted() {
    let receiver = Receiver::start(vec![Answer::Status(502, Vec::new()); 3]);
    let spec = format!("webhook:{}#{ONE_ALERT},backoff=10ms,retries=3", receiver.url);
    let run = tripline(&["scan", "examples", "--output", &spec]);
    assert_eq!(run.code, 2);
    assert_eq!(receiver.requests().len(), 3);
    assert!(
        run.stderr.contains("gave up after 3 attempt(s)") && run.stderr.contains("HTTP 502"),
        "{}",
        run.stderr
    );
    let missing = tripline(&[
        "scan",
        "examples",
        "--output",
        &format!("webhook:{}#secret_env=TRIPLINE_NO_SUCH_VAR", receiver.url),
    ]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("`TRIPLINE_NO_SUCH_VAR` named by secret_env is not set"),
        "{}",
        missing.stderr
    );
}

/// Block Kit's structure, as Slack documents it, for the blocks Tripline sends.
fn assert_block_kit(message: &serde_json::Value) {
    let text = |t: &serde_json::Value, kinds: &[&str], max: usize| {
        assert!(kinds.contains(&t["type"].as_str().unwrap_or("")), "text object type in {t}");
        let s = t["text"].as_str().expect("text is a string");
        assert!(
            !s.is_empty() && s.chars().count() <= max,
            "text length {} in {t}",
            s.chars().count()
        );
    };
    assert!(message["text"].as_str().is_some_and(|t| !t.is_empty()), "a fallback text");
    let blocks = message["blocks"].as_array().expect("blocks");
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    for block in blocks {
        match block["type"].as_str().expect("a block type") {
            "header" => text(&block["text"], &["plain_text"], 150),
            "section" => {
                assert!(block.get("text").is_some() || block.get("fields").is_some(), "{block}");
                if let Some(t) = block.get("text") {
                    text(t, &["mrkdwn", "plain_text"], 3000);
                }
                if let Some(fields) = block.get("fields") {
                    let fields = fields.as_array().expect("fields is a list");
                    assert!(!fields.is_empty() && fields.len() <= 10);
                    fields.iter().for_each(|f| text(f, &["mrkdwn", "plain_text"], 2000));
                }
            }
            "context" => {
                let elements = block["elements"].as_array().expect("elements");
                assert!(!elements.is_empty() && elements.len() <= 10);
                elements.iter().for_each(|e| text(e, &["mrkdwn", "plain_text"], 3000));
            }
            other => panic!("unexpected block type {other}"),
        }
    }
}

#[test]
fn slack_gets_a_readable_block_kit_message_per_alert() {
    let receiver = Receiver::start(Vec::new());
    let spec = format!("slack:{}#min_severity=high,backoff=10ms", receiver.url);
    let run = tripline(&["scan", "examples", "--output", &spec]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let high = example_alerts().into_iter().filter(|a| a["severity"] == "high").count();
    let requests = receiver.requests();
    assert_eq!(requests.len(), high, "only high alerts go to this Slack output");
    for request in &requests {
        assert_block_kit(&request.json());
    }
    let message = requests
        .iter()
        .map(|r| r.json())
        .find(|m| m.to_string().contains("admin-port-opened-to-world"))
        .expect("posted");
    let flat = message.to_string();
    for needle in [
        "High",
        "*Actor*",
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_PowerUserAccess",
        "*Source*",
        "*Account / region*",
        "grant ingress sg-08e043ff624b2b580 tcp 22 from 0.0.0.0/0 (world)",
        "*First triage step*",
        "*First seen*",
        "*Events*",
    ] {
        assert!(flat.contains(needle), "no `{needle}` in {message:#}");
    }
}

#[test]
fn ocsf_findings_validate_against_the_ocsf_model() {
    let python = std::env::var("TRIPLINE_TEST_OCSF_PYTHON")
        .expect("TRIPLINE_TEST_OCSF_PYTHON is not set: run the tests with scripts/test.sh, which installs the OCSF model library");
    let run = tripline(&["scan", "examples", "--output", "ocsf:-"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let findings = jsonl(&run.stdout);
    assert_eq!(findings.len(), example_alerts().len(), "a finding per alert");
    let validator = common::workspace().join("crates/cli/tests/ocsf_validate.py");
    let checked = common::run_with_stdin(
        &python,
        &[validator.to_str().expect("UTF-8 path")],
        run.stdout.as_bytes(),
    );
    assert_eq!(
        checked.code, 0,
        "the OCSF model refused a finding:\n{}\n{}",
        checked.stdout, checked.stderr
    );
    assert!(
        checked.stdout.contains(&format!("{} finding(s) valid", findings.len())),
        "{}",
        checked.stdout
    );
    let world = findings
        .iter()
        .find(|f| {
            f["finding_info"]["analytic"]["uid"] == "ec2-security-group-admin-port-opened-to-world"
        })
        .expect("found");
    assert_eq!(
        (world["class_uid"].as_u64(), world["type_uid"].as_u64(), world["severity_id"].as_u64()),
        (Some(2004), Some(200_401), Some(4))
    );
    assert_eq!(world["evidences"][0]["api"]["operation"], "AuthorizeSecurityGroupIngress");
    assert_eq!(world["cloud"]["provider"], "AWS");
    assert!(world["finding_info"]["attacks"].as_array().is_some_and(|a| !a.is_empty()));
}
