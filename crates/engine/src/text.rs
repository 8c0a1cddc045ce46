//! How a JSON value reads as text for string tests: shared by both evaluators so they agree.

use std::borrow::Cow;

use serde_json::Value;

/// Strings as they are; numbers and booleans as JSON writes them; objects and arrays as
/// their JSON text (so a modifier on a whole object searches it); null has no text.
#[must_use]
pub fn value_text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::Object(_) | Value::Array(_) => serde_json::to_string(value).ok().map(Cow::Owned),
        Value::Null => None,
    }
}

/// A value as a number: numbers, and strings that parse as one.
#[must_use]
pub fn value_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A value as a boolean: booleans, and the strings `true`/`false` in any case.
#[must_use]
pub fn value_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

/// Every string inside an object or array, for substring searches over a whole object: a
/// `contains` on `requestParameters` also finds text inside an embedded document such as an
/// IAM policy, which CloudTrail keeps as an escaped string (the SigmaHQ rules expect this).
pub fn nested_strings<'v>(value: &'v Value, out: &mut Vec<&'v str>) {
    match value {
        Value::String(s) => out.push(s),
        Value::Array(items) => items.iter().for_each(|v| nested_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| nested_strings(v, out)),
        _ => {}
    }
}
