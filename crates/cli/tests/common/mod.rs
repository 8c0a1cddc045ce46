//! Running the `tripline` binary as a process, and writing inputs for it.

#![allow(dead_code)]

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_tripline"))
        .args(args)
        .current_dir(workspace())
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the tripline binary runs");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin is piped").write_all(input).expect("writing stdin");
    }
    let Output { status, stdout, stderr } = child.wait_with_output().expect("tripline finishes");
    Run {
        code: status.code().expect("tripline exits with a code, not a signal"),
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
    r["requestParameters"] = serde_json::json!({"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}});
    r["responseElements"] = serde_json::Value::Null;
    r
}
