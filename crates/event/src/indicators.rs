//! The indicators a responder pivots on — ARNs, IP addresses, AWS account ids — found anywhere
//! in a record.
//!
//! Every signal carries them, so a rule set that flags most records (SigmaHQ's
//! `aws_sts_assumerole_misuse` matches every assumed-role call) reads every string of nearly
//! every record. The record's raw text is walked with a byte scanner rather than serde's
//! visitor machinery: it jumps from quote to quote with `memchr`, copies only what it files,
//! and is about twice as fast (measured in `crates/bench/RESULTS.md`). No crate walks JSON
//! strings together with the key each sits under.

use std::borrow::Cow;
use std::net::IpAddr;

use serde::Serialize;
use serde_json::Value;

use crate::record::Record;

/// Indicators found anywhere in a record. Sorted vectors rather than sets: a record has a
/// handful of each, and a scan that flags most records keeps one of these per signal.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Indicators {
    /// Every ARN, sorted, once.
    pub arns: Vec<String>,
    /// Every IP address (not CIDR), sorted, once.
    pub ips: Vec<String>,
    /// Every 12-digit AWS account id, sorted, once.
    pub account_ids: Vec<String>,
}

impl Indicators {
    /// Sorts each list and drops repeats (they are filled in document order).
    fn sorted(mut self) -> Self {
        for list in [&mut self.arns, &mut self.ips, &mut self.account_ids] {
            list.sort_unstable();
            list.dedup();
        }
        self
    }
}

/// Walks a whole record for ARNs, IP addresses and account ids, over its raw text: no DOM is
/// built, and only the indicators found are copied.
#[must_use]
pub fn record_indicators(record: &Record<'_>) -> Indicators {
    let mut found = Indicators::default();
    for key in record.keys() {
        if let Some(raw) = record.raw(key) {
            each_string(raw.get(), key, &mut |key, s| classify(Some(key), s, &mut found));
        }
    }
    found.sorted()
}

/// Walks a JSON value for ARNs, IP addresses and account ids.
#[must_use]
pub fn indicators(value: &Value) -> Indicators {
    let mut found = Indicators::default();
    walk_strings(value, None, &mut |key, s| classify(key, s, &mut found));
    found.sorted()
}

/// Calls `on(key, text)` for every string value in `raw` (JSON validated when the record was
/// read) with the key it sits under: an object member's own key, an array element its array's
/// key, a bare string `top`. Keys themselves are not values.
fn each_string(raw: &str, top: &str, on: &mut dyn FnMut(&str, &str)) {
    let bytes = raw.as_bytes();
    // The key in force at the current position, and the one to go back to as each open
    // object or array closes.
    let mut key: Cow<'_, str> = Cow::Borrowed(top);
    let mut open: Vec<Cow<'_, str>> = Vec::new();
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            b'"' => {
                let Some((text, end)) = string_at(raw, at) else { return };
                at = end;
                while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
                    at += 1;
                }
                if bytes.get(at) == Some(&b':') {
                    key = text;
                    at += 1;
                } else {
                    on(&key, &text);
                }
            }
            b'{' | b'[' => {
                open.push(key.clone());
                at += 1;
            }
            b'}' | b']' => {
                key = open.pop().unwrap_or(Cow::Borrowed(top));
                at += 1;
            }
            _ => at += 1,
        }
    }
}

/// The string starting at the quote at `start`, unescaped, and the offset past its closing
/// quote; `None` when it does not close (not JSON).
fn string_at(raw: &str, start: usize) -> Option<(Cow<'_, str>, usize)> {
    let bytes = raw.as_bytes();
    let mut at = start + 1;
    let mut escaped = false;
    loop {
        at += memchr::memchr2(b'"', b'\\', bytes.get(at..)?)?;
        if bytes[at] == b'\\' {
            escaped = true;
            at += 2;
        } else {
            let end = at + 1;
            let text = if escaped {
                Cow::Owned(serde_json::from_str::<String>(raw.get(start..end)?).ok()?)
            } else {
                Cow::Borrowed(raw.get(start + 1..at)?)
            };
            return Some((text, end));
        }
    }
}

/// Files one string under the indicators it is.
fn classify(key: Option<&str>, s: &str, found: &mut Indicators) {
    if s.starts_with("arn:") && s.split(':').count() >= 6 {
        let mut parts = s.split(':');
        if let Some(account) = parts.nth(4).filter(|a| is_account_id(a)) {
            insert(&mut found.account_ids, account);
        }
        insert(&mut found.arns, s);
    } else if looks_like_ip(s) && s.parse::<IpAddr>().is_ok() {
        insert(&mut found.ips, s);
    } else if is_account_id(s)
        && key.is_some_and(|k| k.as_bytes().windows(7).any(|w| w.eq_ignore_ascii_case(b"account")))
    {
        insert(&mut found.account_ids, s);
    }
}

/// How many indicators of a kind are looked through for a repeat before adding one.
const REPEAT_CHECK: usize = 16;

/// Adds `s`. A record repeats the same ARN many times, so while the list is short a repeat is
/// not copied; a long list (a record of 100,000 ARNs) is only appended to, and its repeats go
/// when it is sorted, so that the cost stays linear in the record.
fn insert(list: &mut Vec<String>, s: &str) {
    let repeat = if list.len() <= REPEAT_CHECK {
        list.iter().any(|seen| seen == s)
    } else {
        list.last().is_some_and(|last| last == s)
    };
    if !repeat {
        list.push(s.to_owned());
    }
}

/// A cheap pre-check before parsing: an IPv6 address has a `:` and only hex digits, `:` and
/// `.`; an IPv4 address only digits and three dots.
fn looks_like_ip(s: &str) -> bool {
    if !(2..=45).contains(&s.len()) {
        return false;
    }
    let bytes = s.as_bytes();
    if bytes.contains(&b':') {
        bytes.iter().all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        bytes.iter().all(|&b| b.is_ascii_digit() || b == b'.')
            && bytes.iter().filter(|&&b| b == b'.').count() == 3
    }
}

fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

fn walk_strings(value: &Value, key: Option<&str>, f: &mut dyn FnMut(Option<&str>, &str)) {
    match value {
        Value::String(s) => f(key, s),
        Value::Array(items) => items.iter().for_each(|v| walk_strings(v, key, f)),
        Value::Object(map) => map.iter().for_each(|(k, v)| walk_strings(v, Some(k), f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::OwnedRecord;
    use serde_json::json;

    fn scanned(value: &Value) -> Indicators {
        let owned = OwnedRecord::from_value(value).expect("object");
        record_indicators(&owned.record().expect("object"))
    }

    #[test]
    fn the_scanner_and_the_dom_walk_agree() {
        let value = json!({"userIdentity": {"arn": "arn:aws:iam::123456789012:user/a", "accountId": "123456789012"},
            "sourceIPAddress": "203.0.113.9", "resources": [{"ARN": "arn:aws:s3:::b", "accountId": "210987654321"}, "333344445555"],
            "requestParameters": {"cidr": "10.0.0.1", "n": 5, "nested": [["::1"]], "account\"Id": "444455556666",
                "escaped": "arn:aws:iam::555566667777:role/x\u{1}y", "ownerAccount": ["666677778888", {"x": "777788889999"}, "888899990000"],
                "note": "a \"quoted\" 999900001111 { [ ] }", "emptyObject": {}, "after": "111100002222"}});
        let found = scanned(&value);
        assert_eq!(found, indicators(&value));
        // Keys are not values; an array passes its key to its elements, an object closing
        // gives the key in force back.
        assert_eq!(
            found.account_ids,
            [
                "123456789012",
                "210987654321",
                "444455556666",
                "555566667777",
                "666677778888",
                "888899990000"
            ]
        );
        assert_eq!(found.ips, ["10.0.0.1", "203.0.113.9", "::1"]);
    }

    /// JSON trees whose strings and keys are drawn from indicator-like text, escapes and
    /// JSON punctuation.
    fn tree() -> impl proptest::strategy::Strategy<Value = Value> {
        let text = vec![
            "arn:aws:iam::123456789012:role/r",
            "arn:aws:s3:::b",
            "10.0.0.1",
            "2001:db8::1",
            "210987654321",
            "x\"y",
            "{[\"]}",
            "\u{7f}\n",
            "",
            "accountId",
            "ownerAccount",
            "a:b",
        ];
        crate::arbitrary::json_tree(text.clone(), text)
    }

    proptest::proptest! {
        #[test]
        fn the_scanner_agrees_with_the_dom_walk_on_any_tree(members in proptest::collection::vec(("[a-zA-Z]{1,12}", tree()), 1..8)) {
            let mut record: serde_json::Map<String, Value> = members.into_iter().collect();
            record.insert("eventName".into(), Value::from("X"));
            let record = Value::Object(record);
            proptest::prop_assert_eq!(scanned(&record), indicators(&record));
        }
    }

    #[test]
    fn a_record_of_many_indicators_gives_each_once_in_order() {
        // 20,000 ARNs and addresses, each given twice, far apart: the long lists only append,
        // and their repeats go when sorted.
        let arns: Vec<String> =
            (0..20_000).map(|i| format!("arn:aws:s3:::bucket/key{i:05}")).collect();
        let ips: Vec<String> =
            (0..20_000).map(|i| format!("10.0.{}.{}", i / 256, i % 256)).collect();
        let value = json!({"resources": [arns, arns], "requestParameters": {"ips": [ips, ips]}});
        let found = indicators(&value);
        let mut expected_arns = arns.clone();
        expected_arns.sort();
        assert_eq!(found.arns, expected_arns);
        let mut expected_ips = ips.clone();
        expected_ips.sort();
        assert_eq!(found.ips, expected_ips);
    }

    #[test]
    fn indicators_find_arns_ips_and_accounts() {
        let found = indicators(
            &json!({"userIdentity": {"arn": "arn:aws:iam::123456789012:user/a"},
            "sourceIPAddress": "203.0.113.9", "recipientAccountId": "210987654321", "eventID": "123456789012"}),
        );
        assert_eq!(found.arns, ["arn:aws:iam::123456789012:user/a"]);
        assert_eq!(found.ips, ["203.0.113.9"]);
        assert_eq!(found.account_ids, ["123456789012", "210987654321"]);
    }

    #[test]
    fn the_ip_pre_check_keeps_every_address_form_and_skips_the_rest() {
        for ip in [
            "10.0.0.1",
            "203.0.113.250",
            "::1",
            "2001:db8::1",
            "fe80::1ff:fe23:4567:890a",
            "::ffff:192.0.2.1",
        ] {
            assert!(looks_like_ip(ip) && ip.parse::<IpAddr>().is_ok(), "{ip}");
        }
        for not_ip in
            ["2024-08-01T10:00:00Z", "ec2.amazonaws.com", "1.2.3", "deadbeef", "AWS Internal", "a"]
        {
            assert!(!looks_like_ip(not_ip), "{not_ip}");
        }
    }
}
