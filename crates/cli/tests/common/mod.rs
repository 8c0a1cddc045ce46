//! Running the `tripline` binary as a process, and writing inputs for it.

#![allow(dead_code)]

pub mod emulator;
pub mod receiver;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn tripline(args: &[&str]) -> Run {
    tripline_with_stdin(args, None)
}

pub fn tripline_with_stdin(args: &[&str], stdin: Option<&[u8]>) -> Run {
    tripline_with(args, stdin, &[])
}

/// Runs `tripline` with extra environment variables.
pub fn tripline_with(args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Run {
    run(Command::new(env!("CARGO_BIN_EXE_tripline")).args(args).envs(env.iter().copied()), stdin)
}

/// Runs another program from the workspace root, feeding it `stdin`.
pub fn run_with_stdin(program: &str, args: &[&str], stdin: &[u8]) -> Run {
    run(Command::new(program).args(args), Some(stdin))
}

fn run(command: &mut Command, stdin: Option<&[u8]>) -> Run {
    let mut child = command
        .current_dir(workspace())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the program runs");
    if let Some(input) = stdin {
        // A program that stops reading early (and says why on its output) closes the pipe.
        if let Err(e) = child.stdin.take().expect("stdin is piped").write_all(input) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "writing stdin: {e}");
        }
    }
    let Output { status, stdout, stderr } = child.wait_with_output().expect("the program finishes");
    Run {
        code: status.code().expect("the program exits with a code, not a signal"),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("in memory");
    enc.finish().expect("in memory")
}

pub fn jsonl(stdout: &str) -> Vec<serde_json::Value> {
    stdout.lines().map(|l| serde_json::from_str(l).expect("every output line is JSON")).collect()
}

/// A complete, realistic AuthorizeSecurityGroupIngress record opening `port` to `cidr`.
pub fn ingress_record(event_id: &str, time: &str, port: u16, cidr: &str) -> serde_json::Value {
    serde_json::json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDA5EXAMPLEUSERID01", "arn": "arn:aws:iam::111122223333:user/bob",
            "accountId": "111122223333", "accessKeyId": "AKIA5EXAMPLEKEY00003", "userName": "bob"},
        "eventTime": time, "eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress",
        "awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.250",
        "userAgent": "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.9",
        "requestParameters": {"groupId": "sg-0a1b2c3d4e5f60718", "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": port, "toPort": port,
            "groups": {}, "ipRanges": {"items": [{"cidrIp": cidr}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}},
        "responseElements": {"requestId": "6a1f0c2e-8d3b-4c5a-9e7f-0b1c2d3e4f50", "_return": true},
        "requestID": "6a1f0c2e-8d3b-4c5a-9e7f-0b1c2d3e4f50", "eventID": event_id, "readOnly": false, "eventType": "AwsApiCall",
        "managementEvent": true, "recipientAccountId": "111122223333", "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "ec2.eu-west-1.amazonaws.com"}
    })
}

/// A complete, benign read-only record.
pub fn describe_record(event_id: &str, time: &str) -> serde_json::Value {
    let mut r = ingress_record(event_id, time, 22, "10.0.0.0/8");
    r["eventName"] = "DescribeSecurityGroups".into();
    r["readOnly"] = true.into();
    r["requestParameters"] =
        serde_json::json!({"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}});
    r["responseElements"] = serde_json::Value::Null;
    r
}

/// A CloudTrail tree of `copies` copies of the bundled examples, each copy's records with their
/// own event ids and times shifted by the copy's number of seconds: many delivery files whose
/// signals fall into the same dedup windows across files.
pub fn example_copies(dir: &Path, copies: usize) {
    example_copies_every(dir, copies, 1);
}

/// Like [`example_copies`], each copy shifted by `step` seconds more than the one before.
pub fn example_copies_every(dir: &Path, copies: usize, step: i64) {
    let examples = workspace().join("examples");
    let files: Vec<PathBuf> = walkdir::WalkDir::new(&examples)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| {
            p.to_string_lossy().ends_with(".json.gz") && !p.to_string_lossy().contains("Digest")
        })
        .collect();
    for copy in 0..copies {
        for file in &files {
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(file).expect("example")),
                &mut text,
            )
            .expect("gzip");
            let mut doc: serde_json::Value = serde_json::from_str(&text).expect("example JSON");
            for record in doc["Records"].as_array_mut().expect("Records") {
                let id = record["eventID"].as_str().expect("eventID").to_owned();
                record["eventID"] = format!("{}{copy:04x}", &id[..id.len() - 4]).into();
                let time = chrono::DateTime::parse_from_rfc3339(
                    record["eventTime"].as_str().expect("eventTime"),
                )
                .expect("time");
                let shifted = time + chrono::Duration::seconds(copy as i64 * step);
                record["eventTime"] = shifted.format("%Y-%m-%dT%H:%M:%SZ").to_string().into();
            }
            let relative = file.strip_prefix(&examples).expect("under examples");
            let name = relative
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .replace(".json.gz", &format!("_{copy:03}.json.gz"));
            let target = dir.join(relative.parent().expect("folder")).join(name);
            std::fs::create_dir_all(target.parent().expect("folder")).expect("mkdir");
            std::fs::write(target, gzip(doc.to_string().as_bytes())).expect("write copy");
        }
    }
}

/// A new, empty database on the test PostgreSQL server (`scripts/test.sh` starts it).
pub fn postgres_database() -> String {
    let admin = std::env::var("TRIPLINE_TEST_POSTGRES")
        .expect("TRIPLINE_TEST_POSTGRES is not set: run the tests with scripts/test.sh, which starts the PostgreSQL server they need");
    let name = format!("cli{}_{}", std::process::id(), fastrand::u32(..));
    let mut client = postgres::Client::connect(&admin, postgres::NoTls)
        .expect("test PostgreSQL server reachable");
    client.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

/// Every alert in a store, as JSON objects without the wall-clock fields, sorted by id.
pub fn stored_alerts(store: &str) -> Vec<serde_json::Value> {
    let run = tripline(&["alerts", "list", "--store", store, "--format", "jsonl"]);
    assert_eq!(run.code, 0, "alerts list failed: {}", run.stderr);
    let mut alerts = jsonl(&run.stdout);
    for alert in &mut alerts {
        let object = alert.as_object_mut().expect("an alert object");
        object.remove("created_at");
        object.remove("updated_at");
    }
    alerts.sort_by(|a, b| a["alert_id"].as_str().cmp(&b["alert_id"].as_str()));
    alerts
}
