//! Selective parsing of nested fields. Rules name a few nested paths (`userIdentity.type`,
//! `userIdentity.sessionContext.sessionIssuer.arn`); building a full DOM of `userIdentity` for
//! every record to read them costs several times more than skipping over it. An [`Interest`]
//! lists the nested paths a rule set reads; a record given one reads each top-level object once,
//! keeping only the values at those paths (with the same any-element semantics across arrays)
//! and skipping everything else.
//!
//! Only performance depends on it: a path outside the interest, or a look-up without regard to
//! key case, reads the DOM as before.

use rustc_hash::FxHashMap;

/// A trie of wanted paths below one top-level field.
#[derive(Debug, Default)]
struct Node {
    /// A handful at most: a list compared by length first beats a map here.
    children: Vec<(String, Node)>,
    /// The slot collecting values when a wanted path ends here.
    slot: Option<usize>,
}

impl Node {
    fn child(&self, key: &str) -> Option<(usize, &Node)> {
        self.children
            .iter()
            .enumerate()
            .find(|(_, (k, _))| k.len() == key.len() && k == key)
            .map(|(i, (_, node))| (i, node))
    }
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
                let at = match node.children.iter().position(|(k, _)| k == segment) {
                    Some(at) => at,
                    None => {
                        node.children.push((segment.clone(), Node::default()));
                        node.children.len() - 1
                    }
                };
                node = &mut node.children[at].1;
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
    pub(crate) fn select<'a>(&self, top: &str, raw: &'a str) -> Option<Vec<(usize, &'a str)>> {
        let (root, _) = self.tops.get(top)?;
        let mut found = Vec::new();
        read(root, raw, &mut found)?;
        Some(found)
    }
}

/// Collects the wanted values below `node` from `raw` (JSON already validated when the
/// record was read).
///
/// Written by hand rather than with a serde visitor: this runs for every record and every
/// object the rules read, and a byte scanner that only finds keys and skips values is about
/// twice as fast as serde's generic machinery here (measured in `crates/bench`). No crate does
/// multi-path extraction with CloudTrail's any-element semantics across arrays.
fn read<'a>(node: &Node, raw: &'a str, found: &mut Vec<(usize, &'a str)>) -> Option<()> {
    let mut scanner = Scanner { text: raw.as_bytes(), raw, at: 0 };
    scanner.value(node, found)
}

/// Whether `slot` collects values at `node` or below it.
fn holds_slot(node: &Node, slot: usize) -> bool {
    node.slot == Some(slot) || node.children.iter().any(|(_, child)| holds_slot(child, slot))
}

struct Scanner<'a> {
    text: &'a [u8],
    raw: &'a str,
    at: usize,
}

impl<'a> Scanner<'a> {
    fn space(&mut self) {
        while self.text.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn byte(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    /// Past a string starting at the opening quote; returns its raw contents.
    fn string(&mut self) -> Option<&'a str> {
        let start = self.at + 1;
        let mut i = start;
        loop {
            let offset = memchr::memchr2(b'"', b'\\', self.text.get(i..)?)?;
            i += offset;
            if self.text[i] == b'\\' {
                i += 2;
            } else {
                self.at = i + 1;
                return self.raw.get(start..i);
            }
        }
    }

    /// Past any value.
    fn skip(&mut self) -> Option<()> {
        self.space();
        match self.byte()? {
            b'"' => self.string().map(|_| ()),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.byte()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.at += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.at += 1;
                }
            }
            _ => {
                let start = self.at;
                while self
                    .byte()
                    .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
                {
                    self.at += 1;
                }
                // No progress means text that is not JSON: give up rather than loop.
                (self.at > start).then_some(())
            }
        }
    }

    /// Reads a value at `node`: objects give their wanted members, arrays pass `node` on to
    /// every element, scalars have nothing below them.
    fn value(&mut self, node: &Node, found: &mut Vec<(usize, &'a str)>) -> Option<()> {
        self.space();
        match self.byte()? {
            b'{' => {
                self.at += 1;
                // The wanted members this object has given (by position among `node`'s
                // children), and where its values start in `found`.
                let mut given = 0u64;
                let object_start = found.len();
                loop {
                    self.space();
                    match self.byte()? {
                        b'}' => {
                            self.at += 1;
                            return Some(());
                        }
                        b',' => {
                            self.at += 1;
                            continue;
                        }
                        b'"' => {}
                        _ => return None,
                    }
                    let key = self.string()?;
                    self.space();
                    if self.byte()? != b':' {
                        return None;
                    }
                    self.at += 1;
                    // An escaped key is compared in its unescaped form.
                    let unescaped;
                    let key = if key.contains('\\') {
                        unescaped = serde_json::from_str::<String>(&format!("\"{key}\"")).ok()?;
                        unescaped.as_str()
                    } else {
                        key
                    };
                    match node.child(key) {
                        Some((position, child)) => {
                            let bit = 1u64.checked_shl(position as u32).unwrap_or(0);
                            if given & bit != 0 {
                                // Given twice: the last value is the member's, as serde_json's
                                // maps have it, so every reader of the record sees the same.
                                let mut i = object_start;
                                found.retain(|(slot, _)| {
                                    i += 1;
                                    i <= object_start || !holds_slot(child, *slot)
                                });
                            }
                            given |= bit;
                            self.space();
                            let start = self.at;
                            if let Some(slot) = child.slot {
                                self.skip()?;
                                let value = self.raw.get(start..self.at)?;
                                if !child.children.is_empty() {
                                    // A wanted path that is a prefix of another.
                                    read(child, value, found)?;
                                }
                                found.push((slot, value));
                            } else {
                                self.value(child, found)?;
                            }
                        }
                        None => self.skip()?,
                    }
                }
            }
            b'[' => {
                self.at += 1;
                loop {
                    self.space();
                    match self.byte()? {
                        b']' => {
                            self.at += 1;
                            return Some(());
                        }
                        b',' => self.at += 1,
                        _ => self.value(node, found)?,
                    }
                }
            }
            _ => self.skip(),
        }
    }
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
        let names = [
            "requestParameters.ipPermissions",
            "requestParameters.ipPermissions.items.fromPort",
            "requestParameters.ipPermissions.items.ipRanges.items.cidrIp",
            "requestParameters.groupId",
            "userIdentity.sessionContext.sessionIssuer.type",
            "userIdentity.missing",
        ];
        let fields: Vec<Field> = names.iter().map(|n| Field::path(n)).collect();
        let interest = Arc::new(Interest::new(
            names
                .iter()
                .map(|n| n.split('.').map(str::to_owned).collect::<Vec<_>>())
                .collect::<Vec<_>>()
                .iter()
                .map(Vec::as_slice),
        ));
        let owned = OwnedRecord::from_value(&record).expect("object");
        let (dom, selective) = (owned.record().expect("object"), owned.record().expect("object"));
        selective.set_interest(&interest);
        for field in &fields {
            assert_eq!(values(field, &selective), values(field, &dom), "{}", field.name());
        }
        assert_eq!(values(&fields[1], &selective), vec![json!(22), json!(443), json!(8443)]);
    }
}
