//! Rules with very long value lists (thousands of keywords, `|contains` or `|startswith` values)
//! mean what they say: the merged, multi-pattern matching of the engine gives the naive
//! interpreter's verdict, value by value.

mod common;

use serde_json::{json, Value};

// Long enough for the automata (and for a quadratic cost to show); the 100,000-value figure is
// measured by the benchmarks, not here.
const N: usize = 20_000;

fn record(user_agent: &str) -> Value {
    json!({
        "eventVersion": "1.09", "eventTime": "2024-08-01T10:00:00Z", "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject", "awsRegion": "eu-west-1", "sourceIPAddress": "198.51.100.7",
        "userAgent": user_agent, "eventID": "e-1", "eventType": "AwsApiCall", "recipientAccountId": "111122223333",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "accountId": "111122223333"},
        "requestParameters": {"bucketName": "logs", "key": "a/b.txt"}
    })
}

fn sigma(detection: &str) -> String {
    format!("title: Long list\nid: 0b0c0d0e-0000-4000-8000-000000000001\nlogsource:\n  product: aws\n  service: cloudtrail\ndetection:\n{detection}\nlevel: low\n")
}

fn items(prefix: &str) -> String {
    (0..N).map(|i| format!("      - '{prefix}{i}-tool'\n")).collect()
}

#[test]
fn twenty_thousand_keywords_contains_and_prefixes_match_exactly_their_values() {
    let keywords: String = (0..N).map(|i| format!("    - 'kw{i}-tool'\n")).collect();
    let cases = [
        (
            format!("  keywords:\n{keywords}  condition: keywords"),
            "x kw17777-tool y",
            "kw17777-too",
        ),
        (
            format!("  sel:\n    userAgent|contains:\n{}  condition: sel", items("agent")),
            "my agent19999-tool/1",
            "agent19999-tol",
        ),
        (
            format!("  sel:\n    userAgent|startswith:\n{}  condition: sel", items("ua")),
            "ua12345-tool/2.0",
            "x ua12345-tool",
        ),
    ];
    for (detection, yes, no) in cases {
        let text = sigma(&detection);
        assert_eq!(common::verdicts("long.yml", &text, &record(yes)), (true, true), "{yes}");
        assert_eq!(common::verdicts("long.yml", &text, &record(no)), (false, false), "{no}");
        // Case is ignored by default, with many patterns as with few.
        let upper = yes.to_uppercase();
        assert_eq!(common::verdicts("long.yml", &text, &record(&upper)), (true, true), "{upper}");
    }
}
