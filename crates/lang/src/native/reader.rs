//! Typed reads from a YAML mapping that record a diagnostic instead of failing.

use std::path::Path;
use std::time::Duration;

use crate::diagnostic::Diagnostic;
use crate::yaml::{Kind, Node};

/// Reads the keys of one mapping, collecting diagnostics.
pub(crate) struct Reader<'a> {
    pub(crate) path: &'a Path,
    pub(crate) node: &'a Node,
    pub(crate) diagnostics: &'a mut Vec<Diagnostic>,
}

impl<'a> Reader<'a> {
    pub(crate) fn error(&mut self, node: &Node, message: impl Into<String>, hint: Option<&str>) {
        let mut d = Diagnostic::error(self.path, node.pos, message);
        d.hint = hint.map(str::to_owned);
        self.diagnostics.push(d);
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Node> {
        self.node.get(key)
    }

    /// Reports keys that are not in `known`, with the closest known key as a hint.
    pub(crate) fn warn_unknown_keys(&mut self, known: &[&str], what: &str) {
        let Some(entries) = self.node.entries() else { return };
        for (key, _) in entries {
            if !known.contains(&key.text.as_str()) {
                let closest = known
                    .iter()
                    .min_by_key(|k| strsim::levenshtein(k, &key.text))
                    .copied()
                    .unwrap_or_default();
                let d = Diagnostic::warning(
                    self.path,
                    key.pos,
                    format!("unknown {what} key `{}` is ignored", key.text),
                )
                .with_hint(format!("did you mean `{closest}`?"));
                self.diagnostics.push(d);
            }
        }
    }

    pub(crate) fn string(&mut self, key: &str) -> Option<String> {
        let node = self.get(key)?;
        match &node.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(_) | Kind::Float(_) | Kind::Bool(_) => node.scalar_text(),
            Kind::Null => None,
            _ => {
                self.error(
                    node,
                    format!("`{key}` must be a string, found {}", node.describe()),
                    None,
                );
                None
            }
        }
    }

    pub(crate) fn required_string(&mut self, key: &str, hint: &str) -> Option<String> {
        let value = self.string(key);
        if value.as_deref().is_none_or(str::is_empty)
            && self.get(key).is_none_or(|n| matches!(n.kind, Kind::Str(_) | Kind::Null))
        {
            let d = Diagnostic::error(
                self.path,
                self.node.pos,
                format!("missing required key `{key}`"),
            )
            .with_hint(hint);
            self.diagnostics.push(d);
            return None;
        }
        value
    }

    /// A string or a list of strings.
    pub(crate) fn strings(&mut self, key: &str) -> Vec<String> {
        let Some(node) = self.get(key) else { return Vec::new() };
        match &node.kind {
            Kind::Seq(items) => items
                .iter()
                .filter_map(|i| {
                    let text = i.scalar_text();
                    if text.is_none() {
                        self.error(
                            i,
                            format!("`{key}` entries must be strings, found {}", i.describe()),
                            None,
                        );
                    }
                    text
                })
                .collect(),
            Kind::Null => Vec::new(),
            _ => node.scalar_text().map_or_else(
                || {
                    self.error(
                        node,
                        format!(
                            "`{key}` must be a string or a list of strings, found {}",
                            node.describe()
                        ),
                        None,
                    );
                    Vec::new()
                },
                |s| vec![s],
            ),
        }
    }

    pub(crate) fn integer(&mut self, key: &str, min: i64, max: i64) -> Option<i64> {
        let node = self.get(key)?;
        match node.kind {
            Kind::Int(i) if (min..=max).contains(&i) => Some(i),
            _ => {
                self.error(
                    node,
                    format!(
                        "`{key}` must be a whole number from {min} to {max}, found {}",
                        node.scalar_text().unwrap_or_else(|| node.describe().to_owned())
                    ),
                    None,
                );
                None
            }
        }
    }

    pub(crate) fn duration(&mut self, key: &str) -> Option<Duration> {
        let node = self.get(key)?;
        let text = node.scalar_text().unwrap_or_default();
        match humantime::parse_duration(&text) {
            Ok(d) if !d.is_zero() => Some(d),
            _ => {
                self.error(
                    node,
                    format!("`{key}` must be a duration, found `{text}`"),
                    Some("write it like `10m`, `12h` or `720min`"),
                );
                None
            }
        }
    }
}
