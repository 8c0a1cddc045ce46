//! Selective parsing of nested fields. Rules name a few nested paths (`userIdentity.type`,
//! `userIdentity.sessionContext.sessionIssuer.arn`); building a full DOM of `userIdentity` for
//! every record to read them costs several times more than skipping over it. An [`Interest`]
//! lists the nested paths a rule set reads; a record given one reads each top-level object once,
//! keeping only the values at those paths (with the same any-element semantics across arrays)
//! and skipping everything else.
//!
//! Only performance depends on it: a path outside the interest, or a look-up without regard to
//! key case, reads the DOM as before.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// A trie of wanted paths below one top-level field.
#[derive(Debug, Default)]
struct Node {
    children: BTreeMap<String, Node>,
    /// The slot collecting values when a wanted path ends here.
    slot: Option<usize>,
}

/// The nested paths a rule set reads, by top-level field.
#[derive(Debug, Default)]
pub struct Interest {
    tops: FxHashMap<String, (Node, usize)>,
    /// Dotted path → slot. Looked up for every nested read, so with a fast hash: the keys are
    /// the rules' own paths, not input.
    slots: FxHashMap<String, usize>,
}

impl Interest {
    /// Builds from dotted paths of two or more segments; others are ignored. Paths with numeric
    /// segments (array indexes) are left to the DOM.
    #[must_use]
    pub fn new<'p>(paths: impl IntoIterator<Item = &'p [String]>) -> Self {
        let mut interest = Self::default();
        for segments in paths {
            let Some((top, rest)) = segments.split_first() else { continue };
            if rest.is_empty() || segments.iter().any(|s| s.parse::<usize>().is_ok()) {
                continue;
            }
            let dotted = segments.join(".");
            if interest.slots.contains_key(&dotted) {
                continue;
            }
            let (root, count) = interest.tops.entry(top.clone()).or_default();
            let mut node = root;
            for segment in rest {
                node = node.children.entry(segment.clone()).or_default();
            }
            node.slot = Some(*count);
            interest.slots.insert(dotted, *count);
            *count += 1;
        }
        interest
    }

    /// Whether nothing is wanted.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The slot of a dotted nested path, if the interest has it.
    #[must_use]
    pub fn slot(&self, dotted: &str) -> Option<usize> {
        self.slots.get(dotted).copied()
    }

    /// Finds the wanted values below one top-level field in its raw text, as borrowed text:
    /// (slot, value) pairs in document order, in one allocation.
    pub(crate) fn select<'a>(&self, top: &str, raw: &'a str) -> Option<Vec<(usize, &'a RawValue)>> {
        let (root, _) = self.tops.get(top)?;
        let mut found = Vec::new();
        read(root, raw, &mut found).ok()?;
        Some(found)
    }
}

fn read<'a>(node: &Node, raw: &'a str, slots: &mut Vec<(usize, &'a RawValue)>) -> serde_json::Result<()> {
    let mut de = serde_json::Deserializer::from_str(raw);
    Seed { node, slots }.deserialize(&mut de)
}

struct Seed<'n, 's, 'a> {
    node: &'n Node,
    slots: &'s mut Vec<(usize, &'a RawValue)>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_, '_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        // Keys are borrowed from the text (a `Cow<str>` key would be copied every time).
        while let Some(crate::record::Key(key)) = map.next_key::<crate::record::Key<'de>>()? {
            match self.node.children.get(key.as_ref()) {
                Some(child) if child.slot.is_some() => {
                    let value: &'de RawValue = map.next_value()?;
                    if !child.children.is_empty() {
                        // A wanted path that is a prefix of another: read below it as well.
                        read(child, value.get(), self.slots).map_err(serde::de::Error::custom)?;
                    }
                    self.slots.push((child.slot.expect("checked"), value));
                }
                Some(child) => map.next_value_seed(Seed { node: child, slots: &mut *self.slots })?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        // A path crossing an array continues into every element (any element matches).
        while seq.next_element_seed(Seed { node: self.node, slots: &mut *self.slots })?.is_some() {}
        Ok(())
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    ignore_scalars!();
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::{json, Value};

    use super::*;
    use crate::path::Field;
    use crate::record::OwnedRecord;

    fn values(field: &Field, record: &crate::Record<'_>) -> Vec<Value> {
        let mut out = Vec::new();
        field.any_value(record, &mut |v| {
            out.push(v.clone());
            false
        });
        out
    }

    #[test]
    fn selective_reads_agree_with_the_dom_for_nested_prefixed_and_array_paths() {
        let record = json!({"eventName": "X", "requestParameters": {"ipPermissions": {"items": [
            {"fromPort": 22, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}, {"cidrIp": "10.0.0.0/8"}]}},
            {"fromPort": [443, 8443], "ipRanges": {"items": [{"cidrIp": "1.2.3.4/32"}]}}]}, "groupId": "sg-1"},
            "userIdentity": {"type": "AssumedRole", "sessionContext": {"sessionIssuer": {"type": "Role"}}}});
        let names = ["requestParameters.ipPermissions", "requestParameters.ipPermissions.items.fromPort",
            "requestParameters.ipPermissions.items.ipRanges.items.cidrIp", "requestParameters.groupId",
            "userIdentity.sessionContext.sessionIssuer.type", "userIdentity.missing"];
        let fields: Vec<Field> = names.iter().map(|n| Field::path(n)).collect();
        let interest = Arc::new(Interest::new(names.iter().map(|n| n.split('.').map(str::to_owned).collect::<Vec<_>>()).collect::<Vec<_>>().iter().map(Vec::as_slice)));
        let owned = OwnedRecord::from_value(&record).expect("object");
        let (dom, selective) = (owned.record().expect("object"), owned.record().expect("object"));
        selective.set_interest(&interest);
        for field in &fields {
            assert_eq!(values(field, &selective), values(field, &dom), "{}", field.name());
        }
        assert_eq!(values(&fields[1], &selective), vec![json!(22), json!(443), json!(8443)]);
    }
}
