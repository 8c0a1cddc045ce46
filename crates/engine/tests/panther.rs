//! Panther rules as they are: a table of match conditions with Panther's semantics, (the
//! corpus rules are in `panther_corpus.rs`).

mod common;

use std::path::Path;

use serde_json::{json, Value};
use tripline_lang::Frontend;

fn base() -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDA5EXAMPLEUSERID01", "arn": "arn:aws:iam::111122223333:user/bob",
            "accountId": "111122223333", "accessKeyId": "AKIA5EXAMPLEKEY00003", "userName": "bob"},
        "eventTime": "2024-08-01T10:00:00Z", "eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress",
        "awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.250", "userAgent": "aws-cli/2.17.20",
        "requestParameters": {"groupId": "sg-1", "ipPermissions": {"items": [
            {"ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}},
            {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}}]}},
        "responseElements": {"_return": true}, "eventID": "e-1", "eventType": "AwsApiCall", "recipientAccountId": "111122223333"
    })
}

fn with(changes: &[(&str, Value)]) -> Value {
    common::edited(base(), changes)
}

fn verdicts(detection: &str, record: &Value) -> (bool, bool) {
    let text = format!("AnalysisType: rule\nRuleID: t\nEnabled: true\nLogTypes: [AWS.CloudTrail]\nSeverity: Low\nDetection:\n{detection}\n");
    assert_eq!(tripline_lang::detect(Path::new("t.yml"), &text), Some(Frontend::Panther));
    common::verdicts("t.yml", &text, record)
}

#[test]
fn panther_conditions_table() {
    let table: Vec<(&str, Value, Value)> = vec![
        // Keys are looked up without regard to case, as Panther does.
        ("  - Key: EVENTNAME\n    Condition: Equals\n    Value: AuthorizeSecurityGroupIngress", base(), with(&[("eventName", json!("RevokeSecurityGroupIngress"))])),
        ("  - Key: eventName\n    Condition: Equals\n    Value: authorizesecuritygroupingress", with(&[("eventName", json!("authorizesecuritygroupingress"))]), base()),
        ("  - Key: eventName\n    Condition: IEquals\n    Value: authorizesecuritygroupingress", base(), with(&[("eventName", json!("X"))])),
        ("  - Key: eventName\n    Condition: DoesNotEqual\n    Value: X", base(), with(&[("eventName", json!("X"))])),
        ("  - Key: eventName\n    Condition: IsIn\n    Values: [A, AuthorizeSecurityGroupIngress]", base(), with(&[("eventName", json!("B"))])),
        ("  - Key: eventName\n    Condition: IsNotIn\n    Values: [A, B]", base(), with(&[("eventName", json!("B"))])),
        ("  - Key: userAgent\n    Condition: StartsWith\n    Value: aws-cli", base(), with(&[("userAgent", json!("Boto3/1.34"))])),
        ("  - Key: userAgent\n    Condition: DoesNotStartWith\n    Value: Boto3", base(), with(&[("userAgent", json!("Boto3/1.34"))])),
        ("  - Key: sourceIPAddress\n    Condition: DoesNotEndWith\n    Value: .amazonaws.com", base(), with(&[("sourceIPAddress", json!("ec2.amazonaws.com"))])),
        ("  - Key: userAgent\n    Condition: IContains\n    Value: CLI", base(), with(&[("userAgent", json!("Boto3"))])),
        ("  - Key: userAgent\n    Condition: DoesNotContain\n    Value: terraform", base(), with(&[("userAgent", json!("Terraform terraform-provider-aws"))])),
        ("  - Key: errorCode\n    Condition: DoesNotExist", base(), with(&[("errorCode", json!("AccessDenied"))])),
        ("  - Key: errorCode\n    Condition: IsNull", with(&[("errorCode", Value::Null)]), with(&[("errorCode", json!("AccessDenied"))])),
        ("  - Key: errorCode\n    Condition: IsNullOrEmpty", with(&[("errorCode", json!(""))]), with(&[("errorCode", json!("AccessDenied"))])),
        ("  - Key: errorCode\n    Condition: IsNotNullOrEmpty", with(&[("errorCode", json!("AccessDenied"))]), with(&[("errorCode", json!(""))])),
        ("  - DeepKey: [userIdentity, type]\n    Condition: Equals\n    Value: IAMUser", base(), with(&[("userIdentity.type", json!("Root"))])),
        ("  - KeyPath: requestParameters.ipPermissions.items[*].fromPort\n    Condition: IsGreaterThan\n    Value: 400", base(), with(&[("requestParameters.ipPermissions.items", json!([{"fromPort": 22}]))])),
        ("  - KeyPath: requestParameters.ipPermissions.items[0].fromPort\n    Condition: IsLessThanOrEquals\n    Value: 22", base(), with(&[("requestParameters.ipPermissions.items", json!([{"fromPort": 80}]))])),
        ("  - Key: sourceIPAddress\n    Condition: IsIPAddress", base(), with(&[("sourceIPAddress", json!("AWS Internal"))])),
        ("  - Key: sourceIPAddress\n    Condition: IsIPAddressPublic", with(&[("sourceIPAddress", json!("8.8.8.8"))]), with(&[("sourceIPAddress", json!("10.1.2.3"))])),
        ("  - Key: sourceIPAddress\n    Condition: IsIPAddressPrivate", with(&[("sourceIPAddress", json!("10.1.2.3"))]), with(&[("sourceIPAddress", json!("8.8.8.8"))])),
        ("  - Any:\n      - Key: eventName\n        Condition: Equals\n        Value: X\n      - Key: awsRegion\n        Condition: Equals\n        Value: eu-west-1", base(), with(&[("awsRegion", json!("us-east-1"))])),
        ("  - OnlyOne:\n      - Key: eventName\n        Condition: Equals\n        Value: AuthorizeSecurityGroupIngress\n      - Key: awsRegion\n        Condition: Equals\n        Value: us-east-1", base(), with(&[("awsRegion", json!("us-east-1"))])),
        ("  - None:\n      - Key: eventName\n        Condition: Equals\n        Value: X", base(), with(&[("eventName", json!("X"))])),
        ("  - DeepKey: [requestParameters, ipPermissions, items]\n    Condition: AnyElement\n    Expressions:\n      - Key: fromPort\n        Condition: Equals\n        Value: 22\n      - DeepKey: [ipRanges, items]\n        Condition: AnyElement\n        Expressions:\n          - Key: cidrIp\n            Condition: Equals\n            Value: 0.0.0.0/0",
            base(), with(&[("requestParameters.ipPermissions.items", json!([{"fromPort": 22, "ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}]}}, {"fromPort": 443, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]))])),
        ("  - DeepKey: [requestParameters, ipPermissions, items]\n    Condition: AllElements\n    Expressions:\n      - Key: ipProtocol\n        Condition: Equals\n        Value: tcp", base(), with(&[("requestParameters.ipPermissions.items", json!([{"ipProtocol": "udp"}, {"ipProtocol": "tcp"}]))])),
        ("  - Values:\n      - DeepKey: [userIdentity, userName]\n      - DeepKey: [requestParameters, userName]\n    Condition: Equals",
            with(&[("requestParameters.userName", json!("bob"))]), with(&[("requestParameters.userName", json!("alice"))])),
        ("  - Values:\n      - Key: userAgent\n      - DeepKey: [requestParameters, prefix]\n    Condition: StartsWith",
            with(&[("requestParameters.prefix", json!("aws-cli"))]), with(&[("requestParameters.prefix", json!("Boto3"))])),
        ("  - Condition: AlwaysTrue", base(), json!({"eventName": "x"})),
    ];
    for (i, (detection, yes, no)) in table.iter().enumerate() {
        assert_eq!(verdicts(detection, yes), (true, true), "row {i} should match:\n{detection}");
        if i + 1 < table.len() {
            assert_eq!(
                verdicts(detection, no),
                (false, false),
                "row {i} should not match:\n{detection}\n{no}"
            );
        }
    }
}
