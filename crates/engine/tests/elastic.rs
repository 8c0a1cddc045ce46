//! Elastic's KQL over the ECS view: (query, matching record, non-matching record) triples, the
//! corpus of Elastic AWS rules loading as they are, and the seeds' TOML agreeing with the
//! built-in pack's reproductions of them.

mod common;

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use tripline_engine::naive;
use tripline_event::OwnedRecord;
use tripline_lang::{Level, Options};

fn corpus(dir: &str) -> PathBuf {
    common::corpus("elastic-rules/rules").join(dir)
}

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
        ("event.dataset:aws.cloudtrail and event.provider:cloudtrail.amazonaws.com", base(), with(&[("eventSource", json!("s3.amazonaws.com"))])),
        // Keyword matching is exact and case-sensitive.
        ("event.action:PutEventSelectors", base(), with(&[("eventName", json!("puteventselectors"))])),
        ("event.action:(StopLogging or PutEventSelectors)", base(), with(&[("eventName", json!("StartLogging"))])),
        ("event.action:Put*", base(), with(&[("eventName", json!("DeleteTrail"))])),
        ("event.action:\"Put*\"", with(&[("eventName", json!("Put*"))]), base()),
        ("event.outcome:success", base(), with(&[("errorCode", json!("AccessDenied"))])),
        ("event.outcome:failure", with(&[("errorMessage", json!("denied"))]), base()),
        ("aws.cloudtrail.request_parameters:*includeManagementEvents=false*", base(),
            with(&[("requestParameters.eventSelectors", json!([{"readWriteType": "All", "includeManagementEvents": true}]))])),
        ("aws.cloudtrail.flattened.request_parameters.trailName:org-trail", base(), with(&[("requestParameters.trailName", json!("other"))])),
        ("source.ip:*", base(), with(&[("sourceIPAddress", json!("cloudtrail.amazonaws.com"))])),
        ("source.ip:198.51.100.7 and not user_agent.original:*terraform*", base(), with(&[("userAgent", json!("Terraform/1.9 terraform-provider-aws"))])),
        ("aws.cloudtrail.user_identity.session_context.session_issuer.arn:*role/admin", base(), with(&[("userIdentity.sessionContext.sessionIssuer.arn", json!("arn:aws:iam::1:role/ci"))])),
        ("user.name:admin", base(), with(&[("userIdentity.sessionContext.sessionIssuer.userName", json!("ci"))])),
        ("cloud.account.id:111122223333 and aws.cloudtrail.user_identity.type:AssumedRole", base(), with(&[("userIdentity.type", json!("IAMUser"))])),
        ("aws.cloudtrail.read_only:false", base(), with(&[("readOnly", json!(true))])),
        ("not (event.action:StopLogging or event.action:DeleteTrail)", base(), with(&[("eventName", json!("DeleteTrail"))])),
        ("event.action:(PutEventSelectors and not StopLogging)", base(), with(&[("eventName", json!("StopLogging"))])),
        ("tls.version:1.3 and tls.version_protocol:tls", base(), with(&[("tlsDetails.tlsVersion", json!("TLSv1.2"))])),
        ("aws.cloudtrail.flattened.request_parameters:{ trailName:org-trail }", base(), with(&[("requestParameters.trailName", json!("x"))])),
        ("user_agent.original:(*aws-cli* or *Boto3*)", base(), with(&[("userAgent", json!("console.amazonaws.com"))])),
        ("org-trail", base(), with(&[("requestParameters.trailName", json!("x")), ("responseElements.trailARN", json!("x"))])),
        ("event.action:Put\\*", with(&[("eventName", json!("Put*"))]), base()),
    ];
    for (query, yes, no) in &table {
        let text = rule_file(query);
        assert_eq!(verdicts(&text, yes), (true, true), "should match: {query}");
        assert_eq!(verdicts(&text, no), (false, false), "should not match: {query}\n{no}");
    }
}

#[test]
fn every_kuery_rule_in_the_aws_integration_loads() {
    let dir = corpus("integrations/aws");
    let (mut loaded, mut unsupported) = (0, 0);
    for entry in std::fs::read_dir(&dir).expect("the corpus is present").flatten() {
        let path = entry.path();
        let text = std::fs::read_to_string(&path).expect("readable");
        let result = tripline_lang::compile(&path, &text, &Options::default());
        assert!(!result.has_errors(), "{}: {:?}", path.display(), result.diagnostics);
        let is_kuery = text.contains("language = \"kuery\"");
        if is_kuery {
            assert_eq!(result.rules.len(), 1, "{}", path.display());
            loaded += 1;
        } else {
            assert_eq!(result.diagnostics.len(), 1, "{}", path.display());
            assert_eq!(result.diagnostics[0].level, Level::Unsupported);
            unsupported += 1;
        }
    }
    assert_eq!((loaded, unsupported), (139, 55));
}

#[test]
fn the_deprecated_seed_rules_agree_with_the_builtin_reproductions() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for (toml, native) in [
        ("_deprecated/defense_evasion_elasticache_security_group_creation.toml", "rules/seeds/elastic-7b3da11a-60a2-412e-8aa7-011e1eb9ed47.yml"),
        ("_deprecated/persistence_rds_group_creation.toml", "rules/seeds/elastic-378f9024-8a0c-46a5-aa08-ce147ac73a4e.yml"),
    ] {
        let toml_path = corpus(toml);
        let from_elastic = tripline_lang::compile(&toml_path, &std::fs::read_to_string(&toml_path).expect("readable"), &Options::default());
        let native_path = workspace.join(native);
        let from_native = tripline_lang::compile(&native_path, &std::fs::read_to_string(&native_path).expect("readable"), &Options::default());
        let (e, n) = (&from_elastic.rules[0], &from_native.rules[0]);
        assert_eq!(e.meta.id, n.meta.id);
        assert_eq!((e.meta.severity, e.meta.risk_score()), (n.meta.severity, n.meta.risk_score()));
        assert!(!n.tests.is_empty());
        for case in &n.tests {
            let owned = OwnedRecord::from_value(&case.log).expect("object");
            let rec = owned.record().expect("object");
            assert_eq!(naive::evaluate(&e.expr, &rec), case.expected, "{toml}: {}", case.name);
        }
    }
}
