//! One CloudTrail record: its top-level fields as raw JSON, parsed lazily.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::fmt;
use std::sync::Arc;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::fields;
use crate::interest::Interest;

/// Why a JSON value is not a usable CloudTrail record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordError {
    /// The value is an array, string, number … rather than an object.
    NotAnObject,
    /// The object has no string `eventName`.
    MissingEventName,
    /// The JSON text itself is malformed.
    Json(String),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAnObject => f.write_str("record is not a JSON object"),
            Self::MissingEventName => f.write_str("record has no string `eventName`"),
            Self::Json(e) => write!(f, "malformed JSON: {e}"),
        }
    }
}

impl std::error::Error for RecordError {}

/// A CloudTrail record borrowed from the input buffer.
///
/// Holds each top-level field's raw text; `value()` parses a field on first use and keeps it.
pub struct Record<'a> {
    fields: Vec<(Cow<'a, str>, &'a RawValue)>,
    parsed: Vec<OnceCell<Value>>,
    /// The nested paths the rules read, when an engine said (see [`crate::interest`]).
    interest: OnceCell<Arc<Interest>>,
    /// Whether the call failed (`errorCode` or `errorMessage` present), worked out once: many
    /// Elastic rules test `event.outcome`.
    failed: OnceCell<bool>,
    /// Whether this is a console sign-in whose response says how it went, worked out once.
    console_outcome: OnceCell<bool>,
    /// Per top-level field: the values at the wanted nested paths, read once.
    selected: Vec<OnceCell<Option<Found<'a>>>>,
    /// Top-level keys given more than once.
    repeated: Vec<Cow<'a, str>>,
}

impl<'a> Record<'a> {
    /// Reads the top level of one JSON object. One validating pass; nested values stay raw.
    ///
    /// # Errors
    /// [`RecordError::NotAnObject`] for any other JSON value, [`RecordError::Json`] when the
    /// text is malformed. A missing `eventName` is checked by [`Record::validate`].
    pub fn from_raw(raw: &'a RawValue) -> Result<Self, RecordError> {
        Self::parse(raw.get())
    }

    /// Like [`Record::from_raw`], from text not yet validated (a JSON-lines line).
    ///
    /// # Errors
    /// As [`Record::from_raw`].
    pub fn parse(text: &'a str) -> Result<Self, RecordError> {
        let trimmed = text.trim_start();
        if !trimmed.starts_with('{') {
            // Still report malformed JSON as such rather than as "not an object".
            return Err(match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                Ok(_) => RecordError::NotAnObject,
                Err(e) => RecordError::Json(e.to_string()),
            });
        }
        let TopLevel(fields, repeated) =
            serde_json::from_str(text).map_err(|e| RecordError::Json(e.to_string()))?;
        Ok(Self::from_fields(fields, repeated))
    }

    fn from_fields(fields: Vec<(Cow<'a, str>, &'a RawValue)>, repeated: Vec<Cow<'a, str>>) -> Self {
        let parsed = fields.iter().map(|_| OnceCell::new()).collect();
        let selected = fields.iter().map(|_| OnceCell::new()).collect();
        Self {
            fields,
            parsed,
            interest: OnceCell::new(),
            failed: OnceCell::new(),
            console_outcome: OnceCell::new(),
            selected,
            repeated,
        }
    }

    /// The top-level keys the record gives more than once (the last value of each is used).
    #[must_use]
    pub fn repeated_keys(&self) -> &[Cow<'a, str>] {
        &self.repeated
    }

    /// Whether `errorCode` or `errorMessage` has a value (null and empty count as absent).
    #[must_use]
    pub fn failed(&self) -> bool {
        *self.failed.get_or_init(|| {
            [fields::ERROR_CODE, fields::ERROR_MESSAGE]
                .iter()
                .any(|key| self.value(key).is_some_and(|v| !crate::path::is_empty(v)))
        })
    }

    /// Whether the record is a `ConsoleLogin` whose `responseElements.ConsoleLogin` gives the
    /// outcome (the ECS view takes `event.outcome` from it).
    #[must_use]
    pub fn has_console_outcome(&self) -> bool {
        *self.console_outcome.get_or_init(|| {
            self.str(fields::EVENT_NAME).as_deref() == Some("ConsoleLogin")
                && self
                    .value(fields::RESPONSE_ELEMENTS)
                    .is_some_and(|r| r.get("ConsoleLogin").is_some())
        })
    }

    /// Tells the record which nested paths will be read, so it can read them selectively.
    /// The first call wins; only speed depends on it.
    pub fn set_interest(&self, interest: &Arc<Interest>) {
        if !interest.is_empty() {
            let _ = self.interest.set(Arc::clone(interest));
        }
    }

    /// The values at a wanted nested path (`segments` has the top-level field first), or
    /// `None` when the path is not in the interest (the caller reads the DOM instead).
    pub(crate) fn selected(&self, segments: &[String], dotted: &str) -> Option<Selection<'_, 'a>> {
        let interest = self.interest.get()?;
        let slot = interest.slot(dotted)?;
        self.selection(interest, &segments[0], slot)
    }

    fn selection(&self, interest: &Interest, top: &str, slot: usize) -> Option<Selection<'_, 'a>> {
        let Some(i) = self.index_of(top) else { return Some(Selection { found: &[], slot }) };
        let found = self.selected[i].get_or_init(|| interest.select(top, self.fields[i].1.get()));
        found.as_ref().map(|found| Selection { found, slot })
    }

    /// Like [`Record::selected`] with the slot already looked up in `interest`; `None` unless
    /// the record was given that very interest.
    #[must_use]
    pub fn selected_slot(
        &self,
        interest: &Arc<Interest>,
        top: &str,
        slot: usize,
    ) -> Option<Selection<'_, 'a>> {
        let own = self.interest.get()?;
        if !Arc::ptr_eq(own, interest) {
            return None;
        }
        self.selection(own, top, slot)
    }

    /// Checks what every record must have: a string `eventName`.
    ///
    /// # Errors
    /// [`RecordError::MissingEventName`].
    pub fn validate(&self) -> Result<(), RecordError> {
        match self.str(fields::EVENT_NAME) {
            Some(name) if !name.is_empty() => Ok(()),
            _ => Err(RecordError::MissingEventName),
        }
    }

    /// Like [`Record::validate`], finding `eventName` without regard to case, as Panther looks
    /// keys up (its tests may write `eventname`).
    ///
    /// # Errors
    /// When the record has no event name in any case.
    pub fn validate_ignoring_case(&self) -> Result<(), RecordError> {
        match self.value_ignore_case(fields::EVENT_NAME).and_then(Value::as_str) {
            Some(name) if !name.is_empty() => Ok(()),
            _ => Err(RecordError::MissingEventName),
        }
    }

    fn index_of(&self, key: &str) -> Option<usize> {
        self.fields.iter().position(|(k, _)| same_key(k.as_bytes(), key.as_bytes()))
    }

    fn index_of_ignore_case(&self, key: &str) -> Option<usize> {
        self.index_of(key)
            .or_else(|| self.fields.iter().position(|(k, _)| k.eq_ignore_ascii_case(key)))
    }

    /// The raw JSON text of a top-level field.
    #[must_use]
    pub fn raw(&self, key: &str) -> Option<&'a RawValue> {
        self.index_of(key).map(|i| self.fields[i].1)
    }

    /// A top-level string field, borrowed from the input when it has no escapes.
    /// `None` when absent, null, or not a string.
    #[must_use]
    pub fn str(&self, key: &str) -> Option<Cow<'a, str>> {
        let raw = self.raw(key)?.get();
        let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
        if inner.contains('\\') {
            serde_json::from_str::<String>(raw).ok().map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(inner))
        }
    }

    /// A top-level field as a parsed value (parsed once, on first use).
    #[must_use]
    pub fn value(&self, key: &str) -> Option<&Value> {
        self.index_of(key).map(|i| self.value_at(i))
    }

    /// Like [`Record::value`], with Panther's key lookup that ignores case.
    #[must_use]
    pub fn value_ignore_case(&self, key: &str) -> Option<&Value> {
        self.index_of_ignore_case(key).map(|i| self.value_at(i))
    }

    fn value_at(&self, i: usize) -> &Value {
        self.parsed[i].get_or_init(|| {
            // The text was validated when the record was read, so this cannot fail.
            serde_json::from_str(self.fields[i].1.get()).unwrap_or(Value::Null)
        })
    }

    /// Top-level field names, in document order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| k.as_ref())
    }

    /// The whole record as one parsed value (used for context and JSON-text matching).
    #[must_use]
    pub fn to_value(&self) -> Value {
        let map = (0..self.fields.len())
            .map(|i| (self.fields[i].0.to_string(), self.value_at(i).clone()))
            .collect();
        Value::Object(map)
    }

    /// True for CloudTrail Insights records, which management-event rules never see.
    #[must_use]
    pub fn is_insight(&self) -> bool {
        // One pass over the keys: this runs for every record that has candidate rules.
        let is = |raw: &RawValue, wanted: &str| {
            let text = raw.get();
            if text.contains('\\') {
                serde_json::from_str::<String>(text).is_ok_and(|s| s == wanted)
            } else {
                text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) == Some(wanted)
            }
        };
        self.fields.iter().any(|(key, raw)| {
            let key = key.as_bytes();
            (same_key(key, fields::EVENT_TYPE.as_bytes()) && is(raw, fields::INSIGHT_EVENT_TYPE))
                || (same_key(key, fields::EVENT_CATEGORY.as_bytes()) && is(raw, "Insight"))
                || same_key(key, fields::INSIGHT_DETAILS.as_bytes())
        })
    }
}

/// What a selective read of one top-level object found: (slot, raw value) pairs.
type Found<'a> = Vec<(usize, &'a str)>;

/// The values a record found at one wanted nested path, as raw JSON, in document order.
pub struct Selection<'r, 'a> {
    found: &'r [(usize, &'a str)],
    slot: usize,
}

impl<'a> Iterator for Selection<'_, 'a> {
    /// A value's raw JSON text.
    type Item = &'a str;
    fn next(&mut self) -> Option<Self::Item> {
        while let Some(((slot, raw), rest)) = self.found.split_first() {
            self.found = rest;
            if *slot == self.slot {
                return Some(raw);
            }
        }
        None
    }
}

/// Key equality for the hottest look-up. Many CloudTrail keys share a length and their ends
/// (`eventName`, `eventTime`, `eventType`), so short keys are compared as two overlapping
/// 8-byte words rather than through a `memcmp` call.
fn same_key(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let n = a.len();
    if (8..=16).contains(&n) {
        let word =
            |s: &[u8], at: usize| u64::from_ne_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
        return word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8);
    }
    a == b
}

/// A record that owns its text: for rule tests and other slow paths.
pub struct OwnedRecord {
    text: Box<RawValue>,
}

impl OwnedRecord {
    /// Wraps a parsed JSON value.
    ///
    /// # Errors
    /// As [`Record::from_raw`].
    pub fn from_value(value: &Value) -> Result<Self, RecordError> {
        let text =
            serde_json::value::to_raw_value(value).map_err(|e| RecordError::Json(e.to_string()))?;
        let owned = Self { text };
        owned.record()?;
        Ok(owned)
    }

    /// Borrows the record.
    ///
    /// # Errors
    /// As [`Record::from_raw`]; cannot fail after a successful `from_value`.
    pub fn record(&self) -> Result<Record<'_>, RecordError> {
        Record::from_raw(&self.text)
    }
}

/// The top level of an object as (key, raw value) pairs, keys borrowed where possible, and
/// the keys it gives more than once. A repeated key's last value is the one kept, in the
/// first one's place — what serde_json's maps and Python's `json` do — so that every reader of
/// the record (top level or nested, raw or parsed) sees the same value.
pub(crate) struct TopLevel<'a>(
    pub(crate) Vec<(Cow<'a, str>, &'a RawValue)>,
    pub(crate) Vec<Cow<'a, str>>,
);

/// A cheap 7-bit digest of a key, so that most keys need no comparison with the others to
/// know they are new.
fn key_bit(key: &str) -> u128 {
    let bytes = key.as_bytes();
    let mix = bytes.len()
        ^ usize::from(bytes.first().copied().unwrap_or(0)) << 2
        ^ usize::from(bytes.last().copied().unwrap_or(0)) << 4
        ^ usize::from(bytes.get(bytes.len() / 2).copied().unwrap_or(0));
    1u128 << (mix % 128)
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = TopLevel<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields: Vec<(Cow<'de, str>, &'de RawValue)> = Vec::with_capacity(24);
        let mut repeated = Vec::new();
        let mut seen = 0u128;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            let bit = key_bit(&key.0);
            if seen & bit != 0 {
                if let Some(earlier) = fields.iter_mut().find(|(k, _)| *k == key.0) {
                    earlier.1 = value;
                    repeated.push(key.0);
                    continue;
                }
            }
            seen |= bit;
            fields.push((key.0, value));
        }
        Ok(TopLevel(fields, repeated))
    }
}

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TopVisitor)
    }
}

/// One element of a record array: an object read as a [`Record`] in a single pass, or any
/// other JSON value (reported by kind, so one bad element does not stop the array).
pub enum Element<'a> {
    /// An object.
    Object(Record<'a>),
    /// Anything else: `"an array"`, `"a string"`, `"a number"`, `"a boolean"` or `"null"`.
    Other(&'static str),
}

impl<'de> Deserialize<'de> for Element<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ElementVisitor;
        impl<'de> Visitor<'de> for ElementVisitor {
            type Value = Element<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let TopLevel(fields, repeated) = TopVisitor.visit_map(map)?;
                Ok(Element::Object(Record::from_fields(fields, repeated)))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Element::Other("an array"))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Element::Other("a string"))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Element::Other("a number"))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Element::Other("a number"))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Element::Other("a number"))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Element::Other("a boolean"))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Element::Other("null"))
            }
        }
        deserializer.deserialize_any(ElementVisitor)
    }
}

/// A map key that borrows from the input unless it contains escapes.
pub(crate) struct Key<'a>(pub(crate) Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).expect("test JSON is valid")
    }

    #[test]
    fn top_level_strings_borrow_and_unescape() {
        let text = raw(r#"{"eventName":"CreateSecurityGroup","userAgent":"a\"b"}"#);
        let record = Record::from_raw(&text).expect("object");
        assert!(matches!(record.str("eventName"), Some(Cow::Borrowed("CreateSecurityGroup"))));
        assert_eq!(record.str("userAgent").as_deref(), Some("a\"b"));
        assert!(record.validate().is_ok());
    }

    #[test]
    fn nested_values_parse_on_demand() {
        let text = raw(r#"{"eventName":"X","requestParameters":{"groupId":"sg-1"}}"#);
        let record = Record::from_raw(&text).expect("object");
        assert_eq!(
            record.value("requestParameters").and_then(|v| v["groupId"].as_str()),
            Some("sg-1")
        );
        assert!(record.value("absent").is_none());
    }

    #[test]
    fn non_objects_and_missing_names_are_errors() {
        assert_eq!(Record::from_raw(&raw("[1]")).err(), Some(RecordError::NotAnObject));
        let text = raw(r#"{"eventSource":"ec2.amazonaws.com"}"#);
        let record = Record::from_raw(&text).expect("object");
        assert_eq!(record.validate(), Err(RecordError::MissingEventName));
    }

    #[test]
    fn key_equality_at_every_length() {
        for (a, b, equal) in [
            ("", "", true),
            ("a", "b", false),
            ("eventName", "eventType", false),
            ("eventName", "eventName", true),
            ("recipientAccountId", "recipientAccountId", true),
            ("recipientAccountId", "recipientAccountIx", false),
            ("sourceIPAddress", "sourceIPAddrezz", false),
            ("userIdentity", "userIdentitx", false),
            ("tlsDetails", "tlsDetails", true),
        ] {
            assert_eq!(same_key(a.as_bytes(), b.as_bytes()), equal, "{a} vs {b}");
        }
    }

    #[test]
    fn insight_records_are_recognised() {
        let text = raw(r#"{"eventName":"x","eventType":"AwsCloudTrailInsight"}"#);
        assert!(Record::from_raw(&text).expect("object").is_insight());
    }
}
