//! Java `Map.toString()` text, the form Elastic's pipeline stores for
//! `aws.cloudtrail.request_parameters` and friends: `{groupId=sg-1, items=[{a=b}]}`.

use std::fmt::Write;

use serde_json::Value;

/// Renders a value as Java's `AbstractMap.toString()` / `AbstractCollection.toString()` would,
/// keeping the record's key order.
#[must_use]
pub fn map_text(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(key);
                out.push('=');
                write_value(out, item);
            }
            out.push('}');
        }
    }
}
