//! `{field}` placeholders in titles and dedup keys, rendered from a record.

use tripline_event::path::scalar_text;
use tripline_event::{Field, Record};

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Field(Field),
}

/// A string with `{field}` placeholders; `{{` and `}}` are literal braces.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

impl Template {
    /// Parses a template.
    ///
    /// # Errors
    /// The message names an unclosed `{` or an empty `{}`.
    pub fn parse(source: &str) -> Result<Self, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = source.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|p| p.1) == Some('{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().map(|p| p.1) == Some('}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let rest = &source[at + 1..];
                    let end = rest
                        .find('}')
                        .ok_or_else(|| format!("unclosed `{{` at character {at} of `{source}`"))?;
                    let name = rest[..end].trim();
                    if name.is_empty() {
                        return Err(format!("empty placeholder `{{}}` in `{source}`"));
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Field(Field::resolve(name)));
                    // Skip the name and the closing brace (counted in characters, not bytes).
                    for _ in 0..=rest[..end].chars().count() {
                        chars.next();
                    }
                }
                _ => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Self { source: source.to_owned(), parts })
    }

    /// A template with no placeholders.
    #[must_use]
    pub fn literal(text: &str) -> Self {
        Self {
            source: text.replace('{', "{{").replace('}', "}}"),
            parts: vec![Part::Text(text.to_owned())],
        }
    }

    /// The text as written.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders with the record's values; a missing field renders as `<none>`.
    #[must_use]
    pub fn render(&self, record: &Record<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Field(field) => {
                    let mut value = None;
                    field.any_value(record, &mut |v| {
                        value = scalar_text(v);
                        value.is_some()
                    });
                    out.push_str(value.as_deref().unwrap_or("<none>"));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tripline_event::OwnedRecord;

    #[test]
    fn renders_fields_and_escaped_braces() {
        let owned =
            OwnedRecord::from_value(&json!({"eventName": "X", "userIdentity": {"arn": "arn:a"}}))
                .expect("object");
        let record = owned.record().expect("object");
        let t = Template::parse("by {userIdentity.arn} {{literal}} {missing}").expect("valid");
        assert_eq!(t.render(&record), "by arn:a {literal} <none>");
    }

    #[test]
    fn non_ascii_text_around_placeholders_survives() {
        let owned = OwnedRecord::from_value(&json!({"eventName": "X"})).expect("object");
        let t = Template::parse("ü {eventName} ✓ {ünï} é").expect("valid");
        assert_eq!(t.render(&owned.record().expect("object")), "ü X ✓ <none> é");
    }

    #[test]
    fn unclosed_placeholder_is_an_error() {
        assert!(Template::parse("by {userIdentity.arn").unwrap_err().contains("unclosed"));
    }
}
