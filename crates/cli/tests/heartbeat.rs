//! A message whose objects take longer than its visibility timeout stays hidden from the other
//! workers while they are processed (the queue source's heartbeat extends it), and is deleted
//! once they are acknowledged. Against moto's server on 127.0.0.1, with the queue source used
//! as a library; its own test binary, because the AWS client reads its credentials from this
//! process's environment.

mod common;

use std::time::Duration;

use common::emulator::Emulator;
use tripline_io::object::AwsOptions;
use tripline_pipeline::source::queue::{QueueOptions, QueueSource};
use tripline_pipeline::source::Source;

#[test]
fn a_message_held_past_its_visibility_timeout_is_kept_from_other_workers_until_acknowledged() {
    let emulator = Emulator::start();
    for (name, value) in emulator.env() {
        std::env::set_var(name, value); // the only test in this binary: no thread reads it
    }
    emulator.bucket("held");
    let key = "AWSLogs/111122223333/CloudTrail/eu-west-1/2024/08/01/held.json.gz";
    let record = common::ingress_record("held-1", "2024-08-01T09:00:00Z", 22, "0.0.0.0/0");
    let body = serde_json::json!({"Records": [record]}).to_string();
    emulator.put("held", key, &common::gzip(body.as_bytes()));
    let queue = emulator.queue("held");
    emulator
        .send(&queue, &serde_json::json!({"s3Bucket": "held", "s3ObjectKey": [key]}).to_string());
    let options = QueueOptions {
        url: queue.clone(),
        aws: AwsOptions { endpoint_url: Some(emulator.url.clone()), ..AwsOptions::default() },
        wait: Duration::from_secs(1),
        visibility: Duration::from_secs(2),
        delete_bad: false,
    };
    let mut source = QueueSource::new(options).expect("the client starts");
    let listing = source.poll();
    assert!(listing.problems.is_empty(), "{:?}", listing.problems);
    assert_eq!(listing.units.len(), 1);
    assert_eq!(source.in_flight(), 1);
    // Three times its visibility timeout, in steps: another worker never sees it.
    for _ in 0..6 {
        std::thread::sleep(Duration::from_secs(1));
        assert_eq!(emulator.receivable(&queue), 0, "the message came back while held");
    }
    source.ack(&listing.units[0]);
    source.settle();
    assert_eq!(source.in_flight(), 0);
    assert_eq!(emulator.messages(&queue), 0, "deleted once acknowledged");
}
