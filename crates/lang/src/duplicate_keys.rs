//! Keys given twice in one YAML mapping. The YAML loader keeps one of them silently, so a rule
//! written with `severity: low` and, further down, `severity: high` would mean whichever it
//! kept; YAML 1.2 says keys are unique, and this makes the second one an error where it is
//! written. Read from the parser's events, which still see every key.

use std::collections::HashMap;
use std::path::Path;

use saphyr_parser::{Event, Parser};

use crate::diagnostic::Diagnostic;
use crate::yaml::Pos;

/// One open collection: a mapping's keys so far (text → where) and whether a key comes next.
enum Open {
    Mapping { keys: HashMap<String, Pos>, key_next: bool },
    Sequence,
}

/// An error at each key that repeats an earlier key of the same mapping. Text that does not
/// parse gives none: the loader reports that.
#[must_use]
pub fn check(path: &Path, text: &str) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    for event in Parser::new_from_str(text) {
        let Ok((event, span)) = event else { break };
        let pos = Pos { line: span.start.line(), column: span.start.col() + 1 };
        // What the event is to the mapping it sits in, if it sits in one: a key or a value.
        let in_mapping = match open.last_mut() {
            Some(Open::Mapping { keys, key_next }) => {
                let is_key = *key_next;
                *key_next = !*key_next;
                Some((keys, is_key))
            }
            _ => None,
        };
        match event {
            Event::Scalar(value, ..) => {
                if let Some((keys, true)) = in_mapping {
                    if let Some(first) = keys.get(value.as_ref()) {
                        diagnostics.push(
                            Diagnostic::error(
                                path,
                                pos,
                                format!("key `{value}` is given twice in this mapping"),
                            )
                            .with_hint(format!(
                                "it was first given at line {}; keep one",
                                first.line
                            )),
                        );
                    } else {
                        keys.insert(value.into_owned(), pos);
                    }
                }
            }
            Event::MappingStart(..) => {
                open.push(Open::Mapping { keys: HashMap::new(), key_next: true });
            }
            Event::SequenceStart(..) => open.push(Open::Sequence),
            Event::MappingEnd | Event::SequenceEnd => {
                open.pop();
            }
            Event::DocumentStart(_) => open.clear(),
            _ => {}
        }
    }
    diagnostics
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<(usize, usize, String)> {
        check(Path::new("r.yml"), text).into_iter().map(|d| (d.line, d.column, d.message)).collect()
    }

    #[test]
    fn the_second_key_of_a_mapping_is_an_error_where_it_is_written() {
        let text = "id: r\nseverity: low\ndetection:\n  s:\n    eventName: A\n    eventName: B\n  condition: s\nseverity: high\n";
        assert_eq!(
            lines(text),
            vec![
                (6, 5, "key `eventName` is given twice in this mapping".to_owned()),
                (8, 1, "key `severity` is given twice in this mapping".to_owned()),
            ]
        );
    }

    #[test]
    fn the_same_key_in_different_mappings_or_documents_is_fine() {
        let text = "a:\n  x: 1\nb:\n  x: 2\nlist:\n  - x: 1\n  - x: 2\n---\na: 3\n";
        assert!(lines(text).is_empty(), "{:?}", lines(text));
        // Values equal to a key are not keys.
        assert!(lines("a: b\nb: a\nc: [a, a]\n").is_empty());
        assert!(lines("not: [valid").is_empty(), "the loader reports syntax errors");
    }
}
