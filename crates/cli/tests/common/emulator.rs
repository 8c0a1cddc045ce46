//! moto's S3/SQS/SNS server on 127.0.0.1, one per test (`scripts/test.sh` makes its
//! virtualenv and says where its `moto_server` is), and the plain HTTP calls that fill it.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running emulator; stopped when dropped.
pub struct Emulator {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Emulator {
    /// Starts one on a free port and waits until it answers.
    pub fn start() -> Self {
        let server = std::env::var("TRIPLINE_TEST_MOTO_SERVER").expect(
            "TRIPLINE_TEST_MOTO_SERVER is not set: run the tests with scripts/test.sh, which installs the S3 emulator they need",
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let emulator = Self { child, url: format!("http://127.0.0.1:{port}") };
        let started = Instant::now();
        while ureq::get(&format!("{}/moto-api/", emulator.url)).call().is_err() {
            assert!(started.elapsed() < Duration::from_secs(60), "the emulator did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        emulator
    }

    /// The environment a `tripline` process needs to reach it, and nothing else: fixed
    /// credentials (so the credential chain never asks an instance metadata service), no
    /// shared config files.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.url.clone()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED", "true".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ]
    }

    /// Makes a bucket.
    pub fn bucket(&self, name: &str) {
        ureq::put(&format!("{}/{name}", self.url)).send_empty().expect("bucket made");
    }

    /// Puts an object (over one already there too); its ETag.
    pub fn put(&self, bucket: &str, key: &str, body: &[u8]) -> String {
        let answer = ureq::put(&format!("{}/{bucket}/{key}", self.url))
            .header("Content-Type", "application/octet-stream")
            // Unsigned, it would be anonymous, and may not replace an object.
            .header("Authorization", SIGNED_S3)
            .send(body)
            .expect("object put");
        answer.headers().get("etag").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
    }
}

impl Emulator {
    /// Puts every file under `root` in `bucket`, keyed by its path below `root`; the keys.
    pub fn put_tree(&self, bucket: &str, root: &std::path::Path) -> Vec<String> {
        let mut keys = Vec::new();
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let entry = entry.expect("a readable tree");
            if entry.file_type().is_file() {
                let key = entry.path().strip_prefix(root).expect("below").display().to_string();
                self.put(bucket, &key, &std::fs::read(entry.path()).expect("a readable file"));
                keys.push(key);
            }
        }
        keys
    }

    /// Makes a queue; its URL.
    pub fn queue(&self, name: &str) -> String {
        let answer = self.sqs(&[("Action", "CreateQueue"), ("QueueName", name)]);
        between(&answer, "<QueueUrl>", "</QueueUrl>")
    }

    /// Sends a message; its id.
    pub fn send(&self, queue: &str, body: &str) -> String {
        let answer =
            self.sqs(&[("Action", "SendMessage"), ("QueueUrl", queue), ("MessageBody", body)]);
        between(&answer, "<MessageId>", "</MessageId>")
    }

    /// How many messages a receive by another worker gets now (they stay visible: a
    /// visibility timeout of 0).
    pub fn receivable(&self, queue: &str) -> usize {
        let answer = self.sqs(&[
            ("Action", "ReceiveMessage"),
            ("QueueUrl", queue),
            ("MaxNumberOfMessages", "10"),
            ("VisibilityTimeout", "0"),
            ("WaitTimeSeconds", "0"),
        ]);
        answer.matches("<MessageId>").count()
    }

    /// Messages in the queue, visible or in flight.
    pub fn messages(&self, queue: &str) -> u64 {
        let answer = self.sqs(&[
            ("Action", "GetQueueAttributes"),
            ("QueueUrl", queue),
            ("AttributeName.1", "All"),
        ]);
        ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
            .iter()
            .map(|name| {
                let at = answer.find(&format!("<Name>{name}</Name>")).expect("attribute listed");
                between(&answer[at..], "<Value>", "</Value>").parse::<u64>().expect("a count")
            })
            .sum()
    }

    /// Has `bucket` notify `queue` of every object created (S3 sends its test event then).
    pub fn notify(&self, bucket: &str, queue: &str) {
        let arn = format!(
            "arn:aws:sqs:us-east-1:123456789012:{}",
            queue.rsplit('/').next().expect("name")
        );
        let config = format!(
            "<NotificationConfiguration><QueueConfiguration><Id>to-tripline</Id><Queue>{arn}</Queue><Event>s3:ObjectCreated:*</Event></QueueConfiguration></NotificationConfiguration>"
        );
        ureq::put(&format!("{}/{bucket}?notification", self.url))
            .header("Content-Type", "application/xml")
            .header("Authorization", SIGNED_S3)
            .send(config.as_bytes())
            .expect("notification configured");
    }

    /// One SQS call in the query protocol; the XML answer.
    fn sqs(&self, form: &[(&str, &str)]) -> String {
        let mut answer = ureq::post(&format!("{}/", self.url))
            .header("Authorization", SIGNED_SQS)
            .send_form(form.iter().copied())
            .expect("SQS answered");
        answer.body_mut().read_to_string().expect("an XML answer")
    }
}

/// Signatures moto accepts as such (it verifies none, but tells an unsigned request for an
/// anonymous one, and the service by the signature's scope).
const SIGNED_S3: &str = "AWS4-HMAC-SHA256 Credential=testing/20240801/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0";
const SIGNED_SQS: &str = "AWS4-HMAC-SHA256 Credential=testing/20240801/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0";

/// The text between two markers.
fn between(text: &str, start: &str, end: &str) -> String {
    let from =
        text.find(start).map(|i| i + start.len()).unwrap_or_else(|| panic!("no {start} in {text}"));
    let to = text[from..].find(end).map(|i| from + i).expect("closed");
    text[from..to].to_owned()
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
