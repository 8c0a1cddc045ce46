//! A seeded generator of realistic CloudTrail: the record mix a real account produces (mostly
//! read-only calls by roles and services, some data events, console sign-ins, failed calls) with
//! security-group changes in every request shape at a low rate — gzipped delivery files in the
//! `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/` layout. Used by benchmarks and to write
//! `examples/`. No downloads; the same seed gives the same bytes.

use std::io::Write;

use chrono::{DateTime, Duration, TimeZone, Utc};
use flate2::write::GzEncoder;
use serde_json::{json, Value};

const ACCOUNTS: [&str; 2] = ["111122223333", "444455556666"];
const REGIONS: [&str; 3] = ["eu-west-1", "us-east-1", "ap-southeast-2"];

/// One generated delivery file.
pub struct GeneratedFile {
    /// Relative path in the `AWSLogs/` layout.
    pub path: String,
    /// Gzipped `{"Records": [...]}`.
    pub gzip: Vec<u8>,
    /// How many records it holds.
    pub records: usize,
}

/// What to generate.
pub struct Spec {
    /// PRNG seed.
    pub seed: u64,
    /// Total records.
    pub records: usize,
    /// Records per delivery file.
    pub per_file: usize,
    /// Per mille of records that are security-group changes.
    pub sg_per_mille: u32,
}

struct Gen {
    rng: fastrand::Rng,
    time: DateTime<Utc>,
    counter: u64,
}

fn pick<'a, T>(rng: &mut fastrand::Rng, items: &'a [T]) -> &'a T {
    &items[rng.usize(..items.len())]
}

impl Gen {
    fn id(&mut self) -> String {
        self.counter += 1;
        let a = self.rng.u64(..);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            (a >> 32) as u32,
            (a >> 16) as u16,
            self.counter & 0xfff,
            (a as u16) | 0x8000,
            self.counter.wrapping_mul(0x9e37_79b9) & 0xffff_ffff_ffff
        )
    }

    fn identity(&mut self, account: &str) -> (Value, String, String) {
        match self.rng.u8(..10) {
            0..=3 => {
                let role = pick(
                    &mut self.rng,
                    &["app-backend", "eks-node-group", "lambda-orders", "github-actions-deploy"],
                )
                .to_string();
                let session = format!("i-0{:016x}", self.rng.u64(..));
                let ua = pick(&mut self.rng, &["aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux md/GOARCH#amd64 api/ec2#1.173.0", "Boto3/1.34.144 md/Botocore#1.34.144 ua/2.0 os/linux#5.10.219-208.866.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.4 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.34.144", "aws-sdk-java/2.26.20 Linux/5.10.220-209.869.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy"]).to_string();
                let ip =
                    format!("10.{}.{}.{}", self.rng.u8(..), self.rng.u8(..), self.rng.u8(1..255));
                (
                    json!({"type": "AssumedRole", "principalId": format!("AROA{account}EXAMPLE:{session}"),
                    "arn": format!("arn:aws:sts::{account}:assumed-role/{role}/{session}"), "accountId": account,
                    "accessKeyId": format!("ASIA{:016X}", self.rng.u64(..)),
                    "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": format!("AROA{account}EXAMPLE"),
                        "arn": format!("arn:aws:iam::{account}:role/{role}"), "accountId": account, "userName": role},
                        "webIdFederationData": {}, "attributes": {"creationDate": self.stamp(-1800), "mfaAuthenticated": "false"}}}),
                    ip,
                    ua,
                )
            }
            4..=6 => {
                let service = pick(
                    &mut self.rng,
                    &[
                        "ec2.amazonaws.com",
                        "lambda.amazonaws.com",
                        "cloudformation.amazonaws.com",
                        "autoscaling.amazonaws.com",
                    ],
                )
                .to_string();
                (json!({"type": "AWSService", "invokedBy": service}), service.clone(), service)
            }
            7 | 8 => {
                let user = pick(
                    &mut self.rng,
                    &["alice@example.com", "carol@example.com", "dan@example.com"],
                )
                .to_string();
                let ip = format!(
                    "{}.{}.{}.{}",
                    pick(&mut self.rng, &[198u8, 203, 192]),
                    self.rng.u8(..),
                    self.rng.u8(..),
                    self.rng.u8(1..255)
                );
                (
                    json!({"type": "AssumedRole", "principalId": format!("AROA{account}SSO:{user}"),
                    "arn": format!("arn:aws:sts::{account}:assumed-role/AWSReservedSSO_PowerUserAccess_0f1e2d3c4b5a6978/{user}"), "accountId": account,
                    "accessKeyId": format!("ASIA{:016X}", self.rng.u64(..)),
                    "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": format!("AROA{account}SSO"),
                        "arn": format!("arn:aws:iam::{account}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_PowerUserAccess_0f1e2d3c4b5a6978"), "accountId": account,
                        "userName": "AWSReservedSSO_PowerUserAccess_0f1e2d3c4b5a6978"}, "webIdFederationData": {},
                        "attributes": {"creationDate": self.stamp(-3600), "mfaAuthenticated": "false"}}}),
                    ip,
                    "AWS Internal".to_owned(),
                )
            }
            _ => {
                let user = pick(&mut self.rng, &["ci-legacy", "backup-bot", "bob"]).to_string();
                let ip = format!(
                    "{}.{}.{}.{}",
                    pick(&mut self.rng, &[3u8, 18, 52, 34]),
                    self.rng.u8(..),
                    self.rng.u8(..),
                    self.rng.u8(1..255)
                );
                (json!({"type": "IAMUser", "principalId": format!("AIDA{account}{user}"), "arn": format!("arn:aws:iam::{account}:user/{user}"),
                    "accountId": account, "accessKeyId": format!("AKIA{:016X}", self.rng.u64(..)), "userName": user}), ip,
                    "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard".to_owned())
            }
        }
    }

    fn stamp(&self, offset_secs: i64) -> String {
        (self.time + Duration::seconds(offset_secs)).format("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    fn cidr(&mut self) -> String {
        match self.rng.u8(..10) {
            0..=1 => "0.0.0.0/0".to_owned(),
            2..=5 => format!("10.{}.0.0/16", self.rng.u8(..)),
            _ => format!(
                "{}.{}.{}.0/24",
                pick(&mut self.rng, &[198u8, 203, 81]),
                self.rng.u8(..),
                self.rng.u8(..)
            ),
        }
    }

    fn sg_change(&mut self, account: &str) -> (&'static str, &'static str, Value, Value) {
        let group = format!("sg-0{:016x}", self.rng.u64(..));
        let port = *pick(&mut self.rng, &[22u16, 443, 80, 3389, 5432, 8080, 6379]);
        let cidr = self.cidr();
        let ok = |rng: &mut fastrand::Rng| json!({"requestId": format!("{:x}", rng.u64(..)), "_return": true});
        match self.rng.u8(..7) {
            0 | 1 => (
                "AuthorizeSecurityGroupIngress",
                "ec2",
                json!({"groupId": group, "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": port, "toPort": port,
                "groups": {}, "ipRanges": {"items": [{"cidrIp": cidr}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}}),
                ok(&mut self.rng),
            ),
            2 => (
                "AuthorizeSecurityGroupIngress",
                "ec2",
                json!({"groupId": group, "cidrIp": cidr, "fromPort": port, "toPort": port, "ipProtocol": "tcp", "ipPermissions": {}}),
                ok(&mut self.rng),
            ),
            3 => (
                "CreateSecurityGroup",
                "ec2",
                json!({"groupName": format!("svc-{}", self.rng.u16(..)), "groupDescription": "managed by terraform", "vpcId": format!("vpc-0{:016x}", self.rng.u64(..))}),
                json!({"requestId": format!("{:x}", self.rng.u64(..)), "_return": true, "groupId": group}),
            ),
            4 => (
                "RevokeSecurityGroupEgress",
                "ec2",
                json!({"groupId": group, "ipPermissions": {"items": [{"ipProtocol": "-1", "groups": {}, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}, "ipv6Ranges": {}, "prefixListIds": {}}]}}),
                ok(&mut self.rng),
            ),
            5 => (
                "ModifySecurityGroupRules",
                "ec2",
                json!({"ModifySecurityGroupRulesRequest": {"GroupId": group, "SecurityGroupRule": {"SecurityGroupRuleId": format!("sgr-0{:016x}", self.rng.u64(..)),
                "SecurityGroupRule": {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "CidrIpv4": cidr, "Description": ""}, "tag": 1}}}),
                json!({"ModifySecurityGroupRulesResponse": {"xmlns": "http://ec2.amazonaws.com/doc/2016-11-15/", "requestId": format!("{:x}", self.rng.u64(..)), "return": true}}),
            ),
            _ => (
                "DeleteSecurityGroup",
                "ec2",
                json!({"groupId": group}),
                json!({"requestId": format!("{:x}", self.rng.u64(..)), "_return": true, "groupId": group, "owner": account}),
            ),
        }
    }

    fn benign(
        &mut self,
        account: &str,
        region: &str,
    ) -> (&'static str, &'static str, Value, Value, bool) {
        let bucket = format!(
            "{}-{account}-{region}",
            pick(&mut self.rng, &["orders-data", "logs-archive", "static-assets"])
        );
        match self.rng.u8(..16) {
            0 => (
                "DescribeInstances",
                "ec2",
                json!({"instancesSet": {}, "filterSet": {"items": [{"name": "tag:Environment", "valueSet": {"items": [{"value": "prod"}]}}]}}),
                Value::Null,
                true,
            ),
            1 => (
                "DescribeSecurityGroups",
                "ec2",
                json!({"securityGroupSet": {}, "securityGroupIdSet": {}, "filterSet": {}}),
                Value::Null,
                true,
            ),
            2 => (
                "AssumeRole",
                "sts",
                json!({"roleArn": format!("arn:aws:iam::{account}:role/app-backend"), "roleSessionName": format!("session-{}", self.rng.u32(..)), "durationSeconds": 3600}),
                json!({"credentials": {"accessKeyId": format!("ASIA{:016X}", self.rng.u64(..)), "sessionToken": "IQoJb3JpZ2luX2VjEOz//////////wEaCWV1LXdlc3QtMSJGMEQCIBexample", "expiration": "Aug 1, 2024, 10:15:02 AM"},
                    "assumedRoleUser": {"assumedRoleId": format!("AROA{account}EXAMPLE:session"), "arn": format!("arn:aws:sts::{account}:assumed-role/app-backend/session")}}),
                false,
            ),
            3 => ("GetCallerIdentity", "sts", Value::Null, Value::Null, true),
            4 | 5 => (
                "GetObject",
                "s3",
                json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{region}.amazonaws.com"), "key": format!("2024/08/01/part-{:05}.parquet", self.rng.u16(..))}),
                Value::Null,
                true,
            ),
            6 => (
                "PutObject",
                "s3",
                json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{region}.amazonaws.com"), "key": format!("uploads/{:x}.json", self.rng.u64(..))}),
                Value::Null,
                false,
            ),
            7 | 8 => (
                "Decrypt",
                "kms",
                json!({"encryptionAlgorithm": "SYMMETRIC_DEFAULT", "encryptionContext": {"aws:s3:arn": format!("arn:aws:s3:::{bucket}")}}),
                Value::Null,
                true,
            ),
            9 => (
                "GenerateDataKey",
                "kms",
                json!({"keyId": format!("arn:aws:kms:{region}:{account}:key/{}", self.id()), "keySpec": "AES_256"}),
                Value::Null,
                true,
            ),
            10 => ("ListRoles", "iam", json!({"maxItems": 100}), Value::Null, true),
            11 => (
                "GetParameter",
                "ssm",
                json!({"name": "/prod/orders/db-password", "withDecryption": true}),
                Value::Null,
                true,
            ),
            12 => (
                "CreateLogStream",
                "logs",
                json!({"logGroupName": "/aws/lambda/orders", "logStreamName": format!("2024/08/01/[$LATEST]{:032x}", self.rng.u128(..))}),
                Value::Null,
                false,
            ),
            13 => (
                "LookupEvents",
                "cloudtrail",
                json!({"maxResults": 50, "lookupAttributes": [{"attributeKey": "EventName", "attributeValue": "ConsoleLogin"}]}),
                Value::Null,
                true,
            ),
            14 => (
                "UpdateItem",
                "dynamodb",
                json!({"tableName": "orders", "key": {"pk": {}}, "returnValues": "NONE"}),
                Value::Null,
                false,
            ),
            _ => (
                "ListBuckets",
                "s3",
                json!({"Host": format!("s3.{region}.amazonaws.com")}),
                Value::Null,
                true,
            ),
        }
    }

    fn record(&mut self, account: &str, region: &str, sg_per_mille: u32) -> Value {
        self.time += Duration::milliseconds(i64::from(self.rng.u32(50..900)));
        let sg_change = self.rng.u32(..1000) < sg_per_mille;
        let (mut identity, mut ip, mut ua) = self.identity(account);
        // AWS services do not change security groups on their own behalf: people and roles do.
        while sg_change && identity["type"] == "AWSService" {
            (identity, ip, ua) = self.identity(account);
        }
        let (name, service, params, response, read_only) = if sg_change {
            let (n, s, p, r) = self.sg_change(account);
            (n, s, p, r, false)
        } else {
            self.benign(account, region)
        };
        let failed = self.rng.u8(..40) == 0;
        let mut r = json!({
            "eventVersion": "1.09", "userIdentity": identity, "eventTime": self.stamp(0),
            "eventSource": format!("{service}.amazonaws.com"), "eventName": name, "awsRegion": region,
            "sourceIPAddress": ip, "userAgent": ua,
        });
        let map = r.as_object_mut().expect("built as an object");
        if failed {
            map.insert("errorCode".into(), json!("AccessDenied"));
            map.insert(
                "errorMessage".into(),
                json!(format!("User is not authorized to perform: {service}:{name}")),
            );
        }
        map.insert("requestParameters".into(), params);
        map.insert("responseElements".into(), if failed { Value::Null } else { response });
        map.insert("requestID".into(), json!(self.id()));
        map.insert("eventID".into(), json!(self.id()));
        map.insert("readOnly".into(), json!(read_only));
        let data_event = service == "s3" && name != "ListBuckets" || service == "dynamodb";
        if data_event {
            map.insert("resources".into(), json!([{"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{name}")}, {"accountId": account, "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::bucket"}]));
        }
        map.insert("eventType".into(), json!("AwsApiCall"));
        map.insert("managementEvent".into(), json!(!data_event));
        map.insert("recipientAccountId".into(), json!(account));
        map.insert("eventCategory".into(), json!(if data_event { "Data" } else { "Management" }));
        map.insert("tlsDetails".into(), json!({"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": format!("{service}.{region}.amazonaws.com")}));
        r
    }
}

/// Generates the corpus described by `spec`.
#[must_use]
pub fn generate(spec: &Spec) -> Vec<GeneratedFile> {
    let start = Utc.with_ymd_and_hms(2024, 8, 1, 9, 0, 0).single().expect("a valid date");
    let mut g = Gen { rng: fastrand::Rng::with_seed(spec.seed), time: start, counter: 0 };
    let mut files = Vec::new();
    let mut made = 0;
    while made < spec.records {
        let n = spec.per_file.min(spec.records - made);
        let account = ACCOUNTS[files.len() % ACCOUNTS.len()];
        let region = REGIONS[(files.len() / ACCOUNTS.len()) % REGIONS.len()];
        let records: Vec<Value> =
            (0..n).map(|_| g.record(account, region, spec.sg_per_mille)).collect();
        let stamp = g.time.format("%Y%m%dT%H%MZ");
        let path = format!("AWSLogs/{account}/CloudTrail/{region}/{}/{account}_CloudTrail_{region}_{stamp}_{:016x}.json.gz", g.time.format("%Y/%m/%d"), g.rng.u64(..));
        let body =
            serde_json::to_vec(&json!({ "Records": records })).expect("JSON values serialize");
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&body).expect("writing to memory");
        files.push(GeneratedFile {
            path,
            gzip: enc.finish().expect("writing to memory"),
            records: n,
        });
        made += n;
    }
    files
}
