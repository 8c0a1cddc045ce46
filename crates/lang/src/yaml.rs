//! YAML as a small tree that keeps each node's position, read with `saphyr` (pure Rust,
//! maintained, with source markers; `serde_yaml` is unmaintained).

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::{Map, Number, Value};

/// A 1-based position in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    /// Line.
    pub line: usize,
    /// Column.
    pub column: usize,
}

/// A YAML node.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `null`, `~` or nothing.
    Null,
    /// `true`/`false`.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order; keys are their text.
    Map(Vec<(Key, Node)>),
}

/// A mapping key and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The key's text.
    pub text: String,
    /// Where it is.
    pub pos: Pos,
}

/// A node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where it starts.
    pub pos: Pos,
    /// What it is.
    pub kind: Kind,
}

/// A YAML syntax error with its position.
#[derive(Debug, Clone)]
pub struct SyntaxError {
    /// Where.
    pub pos: Pos,
    /// What.
    pub message: String,
}

/// The scanner's error, placed on the tab when a tab in indentation is the problem (the
/// scanner points past it, or at the token after it).
fn syntax_error(text: &str, e: &saphyr::ScanError) -> SyntaxError {
    let mut pos = Pos { line: e.marker().line(), column: e.marker().col() + 1 };
    let mut message = e.info().to_owned();
    if message.contains("tab") {
        // The first indentation tab at or before the reported line.
        let tab = text.lines().enumerate().take(pos.line).find_map(|(i, line)| {
            let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
            line[..indent].find('\t').map(|column| (i + 1, column + 1))
        });
        if let Some((line, column)) = tab {
            pos = Pos { line, column };
            message = format!("{message}: a tab in indentation (YAML indents with spaces)");
        }
    }
    SyntaxError { pos, message }
}

/// How many nodes aliases may add to a file, all of them together. The loader copies an
/// anchor's node for each alias, so aliases of aliases grow a file of a few hundred bytes to
/// billions of nodes (an "alias bomb"); real rules use few, small aliases if any.
pub const MAX_ALIAS_NODES: u64 = 100_000;

/// Refuses text whose aliases would expand past [`MAX_ALIAS_NODES`], before the loader
/// expands them: a pass over the parser's events that counts each anchor's size once.
fn check_aliases(text: &str) -> Result<(), SyntaxError> {
    use saphyr_parser::{Event, Parser};
    // Each open collection: its anchor (0 for none) and its size so far.
    let mut open: Vec<(usize, u64)> = Vec::new();
    let mut sizes: std::collections::HashMap<usize, u64> = std::collections::HashMap::new();
    let mut added = 0u64;
    for event in Parser::new_from_str(text) {
        // A syntax error is the loader's to report.
        let Ok((event, span)) = event else { return Ok(()) };
        let finished = match event {
            Event::Scalar(_, _, anchor, _) => Some((anchor, 1)),
            Event::Alias(anchor) => {
                let size = sizes.get(&anchor).copied().unwrap_or(1);
                added = added.saturating_add(size);
                if added > MAX_ALIAS_NODES {
                    return Err(SyntaxError {
                        pos: Pos { line: span.start.line(), column: span.start.col() + 1 },
                        message: format!("aliases expand to more than {MAX_ALIAS_NODES} nodes by here (an alias bomb?); write the values out"),
                    });
                }
                Some((0, size))
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                open.push((anchor, 1));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => open.pop(),
            _ => None,
        };
        if let Some((anchor, size)) = finished {
            if anchor != 0 {
                sizes.insert(anchor, size);
            }
            if let Some(parent) = open.last_mut() {
                parent.1 = parent.1.saturating_add(size);
            }
        }
    }
    Ok(())
}

/// Parses the first document of `text`; an empty file is `Null`.
///
/// # Errors
/// The scanner's message and position.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    check_aliases(text)?;
    let docs = MarkedYaml::load_from_str(text).map_err(|e| syntax_error(text, &e))?;
    Ok(docs.first().map_or(Node { pos: Pos { line: 1, column: 1 }, kind: Kind::Null }, convert))
}

/// Parses the first document of a file, or says where and why it is not YAML, as a diagnostic
/// for `path`.
///
/// # Errors
/// The syntax error, as an error diagnostic.
pub fn parse_file(path: &std::path::Path, text: &str) -> Result<Node, crate::Diagnostic> {
    parse(text)
        .map_err(|e| crate::Diagnostic::error(path, e.pos, format!("invalid YAML: {}", e.message)))
}

/// Parses every document of `text` (Sigma files hold a rule and its correlations).
///
/// # Errors
/// The scanner's message and position.
pub fn parse_all(text: &str) -> Result<Vec<Node>, SyntaxError> {
    check_aliases(text)?;
    let docs = MarkedYaml::load_from_str(text).map_err(|e| syntax_error(text, &e))?;
    Ok(docs.iter().map(convert).collect())
}

fn convert(node: &MarkedYaml<'_>) -> Node {
    let pos = Pos { line: node.span.start.line(), column: node.span.start.col() + 1 };
    let kind = match &node.data {
        YamlData::Value(Scalar::Null) | YamlData::Alias(_) | YamlData::BadValue => Kind::Null,
        YamlData::Value(Scalar::Boolean(b)) => Kind::Bool(*b),
        YamlData::Value(Scalar::Integer(i)) => Kind::Int(*i),
        YamlData::Value(Scalar::FloatingPoint(f)) => Kind::Float(f.into_inner()),
        YamlData::Value(Scalar::String(s)) | YamlData::Representation(s, _, _) => {
            Kind::Str(s.to_string())
        }
        YamlData::Sequence(items) => Kind::Seq(items.iter().map(convert).collect()),
        YamlData::Mapping(map) => Kind::Map(
            map.iter()
                .map(|(k, v)| {
                    let key = convert(k);
                    let text = key.scalar_text().unwrap_or_default();
                    (Key { text, pos: key.pos }, convert(v))
                })
                .collect(),
        ),
        YamlData::Tagged(_, inner) => return convert(inner),
    };
    Node { pos, kind }
}

impl Node {
    /// A scalar's text (strings as written, numbers and booleans formatted).
    #[must_use]
    pub fn scalar_text(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Int(i) => Some(i.to_string()),
            Kind::Float(f) => Some(f.to_string()),
            Kind::Bool(b) => Some(b.to_string()),
            Kind::Null | Kind::Seq(_) | Kind::Map(_) => None,
        }
    }

    /// The entries of a mapping, `None` for anything else.
    #[must_use]
    pub fn entries(&self) -> Option<&[(Key, Node)]> {
        match &self.kind {
            Kind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// A mapping's value for `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entries()?.iter().find(|(k, _)| k.text == key).map(|(_, v)| v)
    }

    /// What kind of node this is, for messages.
    #[must_use]
    pub fn describe(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "a boolean",
            Kind::Int(_) | Kind::Float(_) => "a number",
            Kind::Str(_) => "a string",
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }

    /// The node as JSON (test records are written as YAML mappings).
    #[must_use]
    pub fn to_json(&self) -> Value {
        match &self.kind {
            Kind::Null => Value::Null,
            Kind::Bool(b) => Value::Bool(*b),
            Kind::Int(i) => Value::from(*i),
            Kind::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Kind::Str(s) => Value::String(s.clone()),
            Kind::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Kind::Map(entries) => Value::Object(
                entries.iter().map(|(k, v)| (k.text.clone(), v.to_json())).collect::<Map<_, _>>(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_that_expand_too_far_are_refused_at_the_alias_and_small_ones_load() {
        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x]\n");
        for (name, prev) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().zip("abcdefgh".chars())
        {
            let aliases = vec![format!("*{prev}"); 9].join(", ");
            bomb.push_str(&format!("{name}: &{name} [{aliases}]\n"));
        }
        let e = parse(&bomb).expect_err("9^9 nodes");
        assert!(e.message.contains("alias bomb"), "{}", e.message);
        // 9 * 10 nodes for `b`… 9^5 = 59,049 and more: the alias that passes the limit is on `f`.
        assert_eq!(e.pos.line, 6, "{e:?}");
        assert!(parse_all(&bomb).is_err());
        let fine =
            parse("base: &b {eventName: X}\nsel: *b\nother: [*b, *b]\n").expect("small aliases");
        assert_eq!(fine.get("other").map(Node::describe), Some("a list"));
    }

    #[test]
    fn positions_are_one_based() {
        let node = parse("a: 1\nb:\n  - x\n").expect("valid");
        let (key, value) = &node.entries().expect("map")[1];
        assert_eq!((key.text.as_str(), key.pos.line, key.pos.column), ("b", 2, 1));
        assert_eq!(value.pos.line, 3);
    }

    #[test]
    fn flow_mappings_with_trailing_commas_become_json() {
        let node = parse("log: { \"a\": [1, {b: true},], }\n").expect("valid");
        assert_eq!(
            node.get("log").expect("log").to_json(),
            serde_json::json!({"a": [1, {"b": true}]})
        );
    }

    #[test]
    fn syntax_errors_have_positions() {
        let err = parse("a: [1, 2\nb: 3\n").expect_err("unclosed list");
        assert!(err.pos.line >= 1, "{err:?}");
    }
}
