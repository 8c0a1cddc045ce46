//! What the native detection syntax means: (detection, matching record, non-matching record)
//! triples, each evaluated by the compiled engine and by the naive interpreter.

mod common;

use serde_json::{json, Value};

fn base() -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/deployer/ci", "accountId": "111122223333"},
        "eventTime": "2024-08-01T10:00:00Z", "eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress",
        "awsRegion": "eu-west-1", "sourceIPAddress": "198.51.100.7", "userAgent": "Terraform/1.9.3 terraform-provider-aws/5.61.0",
        "requestParameters": {"groupId": "sg-1", "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}, {"cidrIp": "0.0.0.0/0"}]}}]}},
        "responseElements": {"_return": true}, "eventID": "e-1", "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    })
}

fn with(changes: &[(&str, Value)]) -> Value {
    common::edited(base(), changes)
}

fn verdicts(detection: &str, record: &Value) -> (bool, bool) {
    common::verdicts(
        "t.yml",
        &format!("id: t\ntitle: t\nseverity: low\ndetection:\n{detection}\n"),
        record,
    )
}

#[test]
fn detection_semantics_table() {
    let table: Vec<(&str, Value, Value)> = vec![
        ("  s:\n    eventName: authorizesecuritygroupingress\n  condition: s", base(), with(&[("eventName", json!("RevokeSecurityGroupIngress"))])),
        ("  s:\n    eventName|cased: AuthorizeSecurityGroupIngress\n  condition: s", base(), with(&[("eventName", json!("authorizesecuritygroupingress"))])),
        ("  s:\n    userAgent: terraform*\n  condition: s", base(), with(&[("userAgent", json!("aws-cli/2"))])),
        ("  s:\n    userAgent: '*provider-aws/5.?1.0'\n  condition: s", base(), with(&[("userAgent", json!("provider-aws/5.1.0"))])),
        ("  s:\n    userAgent|contains|all: [terraform, provider]\n  condition: s", base(), with(&[("userAgent", json!("Terraform/1.9.3"))])),
        ("  s:\n    userIdentity.arn|endswith: /ci\n  condition: s", base(), with(&[("userIdentity.arn", json!("arn:aws:iam::1:user/ci-bot"))])),
        ("  s:\n    requestParameters.ipPermissions.items.ipRanges.items.cidrIp: 0.0.0.0/0\n  condition: s", base(), with(&[("requestParameters.ipPermissions.items", json!([{"ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}}]))])),
        ("  s:\n    sourceIPAddress|cidr: 198.51.100.0/24\n  condition: s", base(), with(&[("sourceIPAddress", json!("AWS Internal"))])),
        ("  s:\n    requestParameters.ipPermissions.items.fromPort|lte: 22\n  condition: s", base(), with(&[("requestParameters.ipPermissions.items", json!([{"fromPort": 443}]))])),
        ("  s:\n    requestParameters.ipPermissions.items.fromPort: 22\n  condition: s", base(), with(&[("requestParameters.ipPermissions.items", json!([{"fromPort": "23"}]))])),
        ("  s:\n    eventID|re: '^e-\\d+$'\n  condition: s", base(), with(&[("eventID", json!("x-1"))])),
        ("  s:\n    errorCode: null\n  condition: s", base(), with(&[("errorCode", json!("AccessDenied"))])),
        ("  s:\n    errorCode: null\n  condition: s", with(&[("errorCode", json!(""))]), with(&[("errorCode", json!("AccessDenied"))])),
        ("  s:\n    errorCode|exists: false\n  condition: s", base(), with(&[("errorCode", json!("AccessDenied"))])),
        ("  s:\n    event.outcome|cased: success\n    event.action|cased: AuthorizeSecurityGroupIngress\n  condition: s", base(), with(&[("errorMessage", json!("denied"))])),
        ("  sel_a:\n    eventName: X\n  sel_b:\n    awsRegion: eu-west-1\n  condition: 1 of sel_*", base(), with(&[("awsRegion", json!("us-east-1"))])),
        ("  a:\n    awsRegion: eu-west-1\n  _skip:\n    eventName: X\n  condition: all of them", base(), with(&[("awsRegion", json!("us-east-1"))])),
        ("  a:\n    awsRegion: eu-west-1\n  b:\n    eventName: X\n  condition: a and not b", base(), with(&[("eventName", json!("X"))])),
        ("  s:\n    - awsRegion: us-east-1\n    - eventSource: ec2.amazonaws.com\n  condition: s", base(), with(&[("eventSource", json!("rds.amazonaws.com"))])),
        ("  s:\n    requestParameters|contains: '\"cidrIp\":\"0.0.0.0/0\"'\n  condition: s", base(), with(&[("requestParameters.ipPermissions", json!({}))])),
    ];
    for (detection, yes, no) in &table {
        assert_eq!(verdicts(detection, yes), (true, true), "should match:\n{detection}");
        assert_eq!(verdicts(detection, no), (false, false), "should not match:\n{detection}\n{no}");
    }
}

#[test]
fn a_key_given_twice_means_its_last_value_to_every_reader() {
    let detection = |d: &str| format!("id: t\ntitle: t\nseverity: low\ndetection:\n{d}\n");
    let text = base().to_string();
    // The top level: `eventName` given again, last; nested: `groupId` given again, last.
    let top = text.replacen("{", "{\"eventName\":\"DeleteSecurityGroup\",", 1);
    let top = format!("{},\"eventName\":\"RevokeSecurityGroupIngress\"}}", &top[..top.len() - 1]);
    let nested =
        text.replace("\"groupId\":\"sg-1\"", "\"groupId\":\"sg-first\",\"groupId\":\"sg-last\"");
    assert_ne!(nested, text, "the nested key was repeated");
    for (record, d, expected) in [
        (&top, "  s:\n    eventName: RevokeSecurityGroupIngress\n  condition: s", true),
        (&top, "  s:\n    eventName: DeleteSecurityGroup\n  condition: s", false),
        (&nested, "  s:\n    requestParameters.groupId: sg-last\n  condition: s", true),
        (&nested, "  s:\n    requestParameters.groupId: sg-first\n  condition: s", false),
        (&nested, "  s:\n    requestParameters|contains: sg-first\n  condition: s", false),
    ] {
        let verdicts = common::verdicts_on_text("t.yml", &detection(d), record);
        assert_eq!(verdicts, (expected, expected), "{d}\n{record}");
    }
}
