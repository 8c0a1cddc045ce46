//! Elastic's KQL over the ECS view: (query, matching record, non-matching record) triples (the
//! corpus rules are in `elastic_corpus.rs`).

mod common;

use serde_json::{json, Value};

fn base() -> Value {
    json!({
        "eventVersion": "1.09",
        "userIdentity": {"type": "AssumedRole", "principalId": "AROA5EXAMPLE:alice", "arn": "arn:aws:sts::111122223333:assumed-role/admin/alice",
            "accountId": "111122223333", "accessKeyId": "ASIA5EXAMPLEKEY0001",
            "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/admin", "userName": "admin", "accountId": "111122223333"},
                "attributes": {"creationDate": "2024-08-01T09:00:00Z", "mfaAuthenticated": "false"}}},
        "eventTime": "2024-08-01T10:00:00Z", "eventSource": "cloudtrail.amazonaws.com", "eventName": "PutEventSelectors",
        "awsRegion": "eu-west-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.17.20 md/awscrt#0.20.11",
        "requestParameters": {"trailName": "org-trail", "eventSelectors": [{"readWriteType": "All", "includeManagementEvents": false, "dataResources": []}]},
        "responseElements": {"trailARN": "arn:aws:cloudtrail:eu-west-1:111122223333:trail/org-trail"},
        "requestID": "0b1c2d3e-4f50-4a6b-8c7d-9e0f1a2b3c4d", "eventID": "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
        "readOnly": false, "eventType": "AwsApiCall", "managementEvent": true, "recipientAccountId": "111122223333", "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "cloudtrail.eu-west-1.amazonaws.com"}
    })
}

fn with(changes: &[(&str, Value)]) -> Value {
    common::edited(base(), changes)
}

fn rule_file(query: &str) -> String {
    format!("[rule]\nname = \"t\"\nrule_id = \"t\"\nseverity = \"low\"\nrisk_score = 21\ntype = \"query\"\nlanguage = \"kuery\"\nquery = '''\n{query}\n'''\n")
}

fn verdicts(text: &str, record: &Value) -> (bool, bool) {
    common::verdicts("t.toml", text, record)
}

#[test]
fn kql_semantics_table() {
    let table: Vec<(&str, Value, Value)> = vec![
        (
            "event.dataset:aws.cloudtrail and event.provider:cloudtrail.amazonaws.com",
            base(),
            with(&[("eventSource", json!("s3.amazonaws.com"))]),
        ),
        // Keyword matching is exact and case-sensitive.
        (
            "event.action:PutEventSelectors",
            base(),
            with(&[("eventName", json!("puteventselectors"))]),
        ),
        (
            "event.action:(StopLogging or PutEventSelectors)",
            base(),
            with(&[("eventName", json!("StartLogging"))]),
        ),
        ("event.action:Put*", base(), with(&[("eventName", json!("DeleteTrail"))])),
        ("event.action:\"Put*\"", with(&[("eventName", json!("Put*"))]), base()),
        ("event.outcome:success", base(), with(&[("errorCode", json!("AccessDenied"))])),
        ("event.outcome:failure", with(&[("errorMessage", json!("denied"))]), base()),
        (
            "aws.cloudtrail.request_parameters:*includeManagementEvents=false*",
            base(),
            with(&[(
                "requestParameters.eventSelectors",
                json!([{"readWriteType": "All", "includeManagementEvents": true}]),
            )]),
        ),
        (
            "aws.cloudtrail.flattened.request_parameters.trailName:org-trail",
            base(),
            with(&[("requestParameters.trailName", json!("other"))]),
        ),
        ("source.ip:*", base(), with(&[("sourceIPAddress", json!("cloudtrail.amazonaws.com"))])),
        (
            "source.ip:198.51.100.7 and not user_agent.original:*terraform*",
            base(),
            with(&[("userAgent", json!("Terraform/1.9 terraform-provider-aws"))]),
        ),
        (
            "aws.cloudtrail.user_identity.session_context.session_issuer.arn:*role/admin",
            base(),
            with(&[(
                "userIdentity.sessionContext.sessionIssuer.arn",
                json!("arn:aws:iam::1:role/ci"),
            )]),
        ),
        (
            "user.name:admin",
            base(),
            with(&[("userIdentity.sessionContext.sessionIssuer.userName", json!("ci"))]),
        ),
        (
            "cloud.account.id:111122223333 and aws.cloudtrail.user_identity.type:AssumedRole",
            base(),
            with(&[("userIdentity.type", json!("IAMUser"))]),
        ),
        ("aws.cloudtrail.read_only:false", base(), with(&[("readOnly", json!(true))])),
        (
            "not (event.action:StopLogging or event.action:DeleteTrail)",
            base(),
            with(&[("eventName", json!("DeleteTrail"))]),
        ),
        (
            "event.action:(PutEventSelectors and not StopLogging)",
            base(),
            with(&[("eventName", json!("StopLogging"))]),
        ),
        (
            "tls.version:1.3 and tls.version_protocol:tls",
            base(),
            with(&[("tlsDetails.tlsVersion", json!("TLSv1.2"))]),
        ),
        (
            "aws.cloudtrail.flattened.request_parameters:{ trailName:org-trail }",
            base(),
            with(&[("requestParameters.trailName", json!("x"))]),
        ),
        (
            "user_agent.original:(*aws-cli* or *Boto3*)",
            base(),
            with(&[("userAgent", json!("console.amazonaws.com"))]),
        ),
        (
            "org-trail",
            base(),
            with(&[
                ("requestParameters.trailName", json!("x")),
                ("responseElements.trailARN", json!("x")),
            ]),
        ),
        ("event.action:Put\\*", with(&[("eventName", json!("Put*"))]), base()),
    ];
    for (query, yes, no) in &table {
        let text = rule_file(query);
        assert_eq!(verdicts(&text, yes), (true, true), "should match: {query}");
        assert_eq!(verdicts(&text, no), (false, false), "should not match: {query}\n{no}");
    }
}
