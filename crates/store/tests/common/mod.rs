//! Both stores behind one test suite: SQLite in a temporary folder, and a fresh database on
//! the PostgreSQL server `scripts/test.sh` starts (its admin URL in `TRIPLINE_TEST_POSTGRES`).
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use serde_json::json;
use tripline_alert::{InputRef, Signal};
use tripline_event::{Field, OwnedRecord};
use tripline_rule::{Dedup, Expr, Rule, Template, Test};

/// A store location and what keeps it alive.
pub struct Location {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

pub fn sqlite() -> Location {
    let dir = tempfile::tempdir().expect("temporary folder");
    let url = dir.path().join("alerts.db").to_string_lossy().into_owned();
    Location { url, _dir: Some(dir) }
}

/// A new, empty database on the test server.
pub fn postgres() -> Location {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let admin = std::env::var("TRIPLINE_TEST_POSTGRES")
        .expect("TRIPLINE_TEST_POSTGRES is not set: run the tests with scripts/test.sh, which starts the PostgreSQL server they need");
    let name = format!(
        "t{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        fastrand::u32(..)
    );
    let mut client = postgres::Client::connect(&admin, postgres::NoTls)
        .expect("test PostgreSQL server reachable");
    client.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    Location { url: format!("{base}/{name}"), _dir: None }
}

/// Runs one test body against both stores.
#[macro_export]
macro_rules! both_stores {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[test]
            fn sqlite() {
                ($body)(common::sqlite());
            }
            #[test]
            fn postgres() {
                ($body)(common::postgres());
            }
        }
    };
}

/// A rule matching `CreateSecurityGroup`, with a dedup key on the account and period.
pub fn rule(id: &str, dedup_minutes: Option<u64>, threshold: u32) -> Rule {
    let mut rule = Rule::new(id, Expr::pred(Field::resolve("eventName"), Test::Exists));
    rule.meta.title = format!("{id} title");
    rule.alerting.dedup = dedup_minutes.map(|m| Dedup {
        key: Template::parse("{recipientAccountId}").expect("valid"),
        period: Duration::from_secs(m * 60),
    });
    rule.alerting.threshold = threshold;
    rule
}

/// A complete `CreateSecurityGroup` record at `minute` past 2024-08-01T10:00Z.
pub fn record(event_id: &str, minute: u32, account: &str) -> serde_json::Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDA6ON6E4XEGITEXAMPLE", "arn": format!("arn:aws:iam::{account}:user/alice"),
            "accountId": account, "accessKeyId": "AKIA6ON6E4XEEXAMPLE1", "userName": "alice"},
        "eventTime": format!("2024-08-01T{:02}:{:02}:00Z", 10 + minute / 60, minute % 60),
        "eventSource": "ec2.amazonaws.com",
        "eventName": "CreateSecurityGroup",
        "awsRegion": "eu-west-1",
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.1 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe md/distrib#debian.12 md/prompt#off md/command#ec2.create-security-group",
        "requestParameters": {"groupName": "web", "groupDescription": "web tier", "vpcId": "vpc-0a1b2c3d4e5f60718"},
        "responseElements": {"requestId": "5f4c1b2a-8e7d-4c3b-9a1f-2e3d4c5b6a79", "_return": true, "groupId": "sg-0123456789abcdef0"},
        "requestID": "5f4c1b2a-8e7d-4c3b-9a1f-2e3d4c5b6a79",
        "eventID": event_id,
        "readOnly": false,
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": account,
        "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "ec2.eu-west-1.amazonaws.com"}
    })
}

/// The signal of `rule` on `record`, read as record `index` of `file`.
pub fn signal(rule: &Rule, record: &serde_json::Value, file: &str, index: usize) -> Signal {
    let owned = OwnedRecord::from_value(record).expect("an object");
    Signal::build(
        rule,
        &owned.record().expect("an object"),
        InputRef { file: file.into(), record: index, line: None },
    )
}

pub fn key(input: &str) -> tripline_store::InputKey {
    tripline_store::InputKey { input: input.to_owned(), size: 100, version: "v1".to_owned() }
}

/// The store's view of `signals`: each with its rule (an index into `rules`), in order.
pub fn incoming_of<'a>(
    rules: &'a [Rule],
    signals: &'a [(usize, Signal)],
) -> Vec<tripline_store::Incoming<'a>> {
    signals
        .iter()
        .enumerate()
        .map(|(i, (r, s))| tripline_store::Incoming {
            rule: &rules[*r],
            rule_index: *r,
            signal: s,
            index: i,
            alerts: true,
        })
        .collect()
}
