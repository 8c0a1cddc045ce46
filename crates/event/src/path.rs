//! Field names resolved once: a CloudTrail path, or a value computed for the ECS view.

use std::borrow::Cow;
use std::fmt;

use serde_json::value::RawValue;
use serde_json::Value;

use crate::ecs::{self, Computed};
use crate::record::Record;

/// A dotted CloudTrail path such as `requestParameters.ipPermissions.items.fromPort`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldPath {
    segments: Vec<String>,
    dotted: String,
}

impl FieldPath {
    /// Splits a dotted path. An empty name gives an empty path, which matches nothing.
    #[must_use]
    pub fn parse(dotted: &str) -> Self {
        Self { segments: dotted.split('.').map(str::to_owned).collect(), dotted: dotted.to_owned() }
    }

    /// The path's segments.
    #[must_use]
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// True when this path names the top-level field `name`.
    #[must_use]
    pub fn is_top_level(&self, name: &str) -> bool {
        self.segments.len() == 1 && self.segments[0] == name
    }
}

/// How a field's value is found in a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldKind {
    /// A CloudTrail path (ECS aliases of plain fields resolve to one too).
    Path(FieldPath),
    /// A value computed from several CloudTrail fields (ECS or Tripline-derived).
    Computed(Computed),
}

/// A field as a rule names it, with how it is found.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Field {
    name: String,
    kind: FieldKind,
    ignore_case: bool,
}

impl Field {
    /// Resolves a rule's field name: an ECS name from the Elastic mapping, a Tripline-derived
    /// name (`tripline.*`), or otherwise a CloudTrail path.
    #[must_use]
    pub fn resolve(name: &str) -> Self {
        let kind = ecs::resolve(name).unwrap_or_else(|| FieldKind::Path(FieldPath::parse(name)));
        Self { name: name.to_owned(), kind, ignore_case: false }
    }

    /// A CloudTrail path, never an ECS alias.
    #[must_use]
    pub fn path(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            kind: FieldKind::Path(FieldPath::parse(name)),
            ignore_case: false,
        }
    }

    /// The same field, looked up without regard to key case (Panther's semantics).
    #[must_use]
    pub fn ignoring_case(mut self) -> Self {
        self.ignore_case = true;
        self
    }

    /// Whether keys are looked up without regard to case.
    #[must_use]
    pub fn ignores_case(&self) -> bool {
        self.ignore_case
    }

    /// The name the rule used.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the value is found.
    #[must_use]
    pub fn kind(&self) -> &FieldKind {
        &self.kind
    }

    /// Calls `f` with each value the field has in `record` (every element where the path
    /// crosses an array) until `f` returns true; returns whether it did.
    pub fn any_value(&self, record: &Record<'_>, f: &mut dyn FnMut(&Value) -> bool) -> bool {
        match &self.kind {
            FieldKind::Path(path) => {
                if !self.ignore_case && path.segments.len() > 1 {
                    if let Some(mut raws) = record.selected(&path.segments, &path.dotted) {
                        return raws.any(|raw| {
                            serde_json::from_str::<Value>(raw)
                                .is_ok_and(|v| descend(&v, &[], false, f))
                        });
                    }
                }
                visit_path(record, path.segments(), self.ignore_case, f)
            }
            FieldKind::Computed(computed) => {
                if let Some(value) = computed.static_value(record) {
                    return f(value);
                }
                match computed.compute(record) {
                    Some(Value::Array(items)) => items.iter().any(&mut *f),
                    Some(value) => f(&value),
                    None => false,
                }
            }
        }
    }

    /// Whether the field has a value that is neither null nor empty.
    #[must_use]
    pub fn exists(&self, record: &Record<'_>) -> bool {
        if let FieldKind::Computed(computed) = &self.kind {
            if let Some(exists) = computed.exists_fast(record) {
                return exists;
            }
        }
        self.any_value(record, &mut |v| !is_empty(v))
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// Null, `""`, `[]` and `{}` count as absent, in every format (see DESIGN.md, Fields).
#[must_use]
pub fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

fn visit_path(
    record: &Record<'_>,
    segments: &[String],
    ignore_case: bool,
    f: &mut dyn FnMut(&Value) -> bool,
) -> bool {
    let Some((first, rest)) = segments.split_first() else { return false };
    let top = if ignore_case { record.value_ignore_case(first) } else { record.value(first) };
    top.is_some_and(|value| descend(value, rest, ignore_case, f))
}

/// Follows `rest` into `value`; arrays are crossed element by element (any element matches).
pub fn descend(
    value: &Value,
    rest: &[String],
    ignore_case: bool,
    f: &mut dyn FnMut(&Value) -> bool,
) -> bool {
    match (value, rest.split_first()) {
        (Value::Array(items), None) => items.iter().any(&mut *f),
        (_, None) => f(value),
        (Value::Object(map), Some((key, tail))) => {
            let child = map.get(key.as_str()).or_else(|| {
                if ignore_case {
                    map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
                } else {
                    None
                }
            });
            child.is_some_and(|child| descend(child, tail, ignore_case, f))
        }
        (Value::Array(items), Some((key, tail))) => match key.parse::<usize>() {
            Ok(index) => items.get(index).is_some_and(|item| descend(item, tail, ignore_case, f)),
            Err(_) => items.iter().any(|item| descend(item, rest, ignore_case, f)),
        },
        _ => false,
    }
}

/// The first string-like value of a path in a parsed value (for context extraction).
#[must_use]
pub fn first_text(value: &Value, dotted: &str) -> Option<String> {
    let segments: Vec<String> = dotted.split('.').map(str::to_owned).collect();
    let mut found = None;
    descend(value, &segments, true, &mut |v| {
        found = scalar_text(v);
        found.is_some()
    });
    found
}

/// [`first_text`] over a value's raw JSON text, one object level at a time: only the members
/// on the path are looked at and no DOM is built for the objects on the way (the actor of
/// every signal is read this way). Arrays and scalars are handed to [`first_text`] itself, so
/// the two always agree: exact key first, else a key equal but for case (the first in sorted
/// order), the last of repeated keys, any element of an array.
#[must_use]
pub fn first_text_raw(raw: &str, segments: &[&str]) -> Option<String> {
    let Some((key, rest)) = segments.split_first() else {
        return match raw.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(inner) if !inner.contains('\\') => (!inner.is_empty()).then(|| inner.to_owned()),
            _ => {
                let value: Value = serde_json::from_str(raw).ok()?;
                let mut found = None;
                descend(&value, &[], true, &mut |v| {
                    found = scalar_text(v);
                    found.is_some()
                });
                found
            }
        };
    };
    if !raw.starts_with('{') {
        let value: Value = serde_json::from_str(raw).ok()?;
        return first_text(&value, &segments.join("."));
    }
    let crate::record::TopLevel(members, _) = serde_json::from_str(raw).ok()?;
    first_text_in(&members, key, rest)
}

/// [`first_text_raw`] below the member `key` of an object already read into its members.
pub(crate) fn first_text_in(
    members: &[(Cow<'_, str>, &RawValue)],
    key: &str,
    rest: &[&str],
) -> Option<String> {
    let exact = members.iter().rev().find(|(k, _)| k == key);
    let member = exact.or_else(|| {
        members
            .iter()
            .rev()
            .filter(|(k, _)| k.eq_ignore_ascii_case(key))
            .min_by(|a, b| a.0.cmp(&b.0))
    })?;
    first_text_raw(member.1.get(), rest)
}

/// A scalar's text: strings as they are, numbers and booleans as JSON writes them.
#[must_use]
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::OwnedRecord;
    use serde_json::json;

    fn values(field: &Field, record: &Value) -> Vec<Value> {
        let owned = OwnedRecord::from_value(record).expect("object");
        let record = owned.record().expect("object");
        let mut out = Vec::new();
        field.any_value(&record, &mut |v| {
            out.push(v.clone());
            false
        });
        out
    }

    #[test]
    fn paths_cross_arrays_at_any_depth() {
        let record = json!({"eventName": "X", "requestParameters": {"ipPermissions": {"items": [
            {"ipRanges": {"items": [{"cidrIp": "10.0.0.0/8"}, {"cidrIp": "0.0.0.0/0"}]}},
            {"ipRanges": {"items": [{"cidrIp": "1.2.3.4/32"}]}}
        ]}}});
        let field = Field::resolve("requestParameters.ipPermissions.items.ipRanges.items.cidrIp");
        assert_eq!(
            values(&field, &record),
            vec![json!("10.0.0.0/8"), json!("0.0.0.0/0"), json!("1.2.3.4/32")]
        );
    }

    #[test]
    fn numeric_segments_index_arrays() {
        let record = json!({"eventName": "X", "resources": [{"ARN": "a"}, {"ARN": "b"}]});
        assert_eq!(values(&Field::resolve("resources.1.ARN"), &record), vec![json!("b")]);
    }

    #[test]
    fn empty_and_null_values_do_not_exist() {
        let owned = OwnedRecord::from_value(
            &json!({"eventName": "X", "errorCode": "", "a": null, "b": {}}),
        )
        .expect("object");
        let record = owned.record().expect("object");
        for name in ["errorCode", "a", "b", "missing"] {
            assert!(!Field::resolve(name).exists(&record), "{name} should not exist");
        }
        assert!(Field::resolve("eventName").exists(&record));
    }

    #[test]
    fn ignore_case_lookup_finds_differently_cased_keys() {
        let record = json!({"eventName": "X", "requestParameters": {"GroupId": "sg-1"}});
        let exact = Field::path("requestparameters.groupid");
        assert!(values(&exact, &record).is_empty());
        assert_eq!(values(&exact.ignoring_case(), &record), vec![json!("sg-1")]);
    }
}
