//! The KQL grammar: `and or not ( )`, `field:value`, `field:(a or b)`, quoted phrases,
//! wildcards, `field:*`, range operators and nested `field:{ … }`.

use std::fmt;

/// A KQL syntax error, with the character offset where it was noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KqlError {
    /// Offset in characters from the start of the query.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for KqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A value as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Value {
    /// The text; unquoted values keep their backslash escapes.
    pub text: String,
    /// Written in double quotes (a phrase: no wildcards).
    pub quoted: bool,
}

/// A boolean combination of values for one field: `field:(a or (b and not c))`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueExpr {
    /// Any.
    Or(Vec<ValueExpr>),
    /// All.
    And(Vec<ValueExpr>),
    /// Not.
    Not(Box<ValueExpr>),
    /// One value.
    One(Value),
}

/// A parsed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kql {
    /// All.
    And(Vec<Kql>),
    /// Any.
    Or(Vec<Kql>),
    /// Not.
    Not(Box<Kql>),
    /// `field:values`.
    Match {
        /// Field name.
        field: String,
        /// Values.
        values: ValueExpr,
    },
    /// `field:*`.
    Exists(String),
    /// `field < value` and friends.
    Range {
        /// Field name.
        field: String,
        /// `<`, `<=`, `>`, `>=`.
        op: String,
        /// Bound.
        value: Value,
    },
    /// `field:{ query }` (nested fields, relative to `field`).
    Nested {
        /// Parent field.
        field: String,
        /// Query over its children.
        query: Box<Kql>,
    },
    /// A value with no field: searched in every field.
    FreeText(ValueExpr),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBrace,
    RBrace,
    Colon,
    Range(String),
    Word(String),
    Quoted(String),
}

const SPECIAL: &[char] = &['(', ')', '{', '}', ':', '<', '>', '"'];

fn tokenize(query: &str) -> Result<Vec<(usize, Tok)>, KqlError> {
    let chars: Vec<char> = query.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            c if c.is_whitespace() => i += 1,
            '(' | ')' | '{' | '}' | ':' => {
                out.push((
                    start,
                    match c {
                        '(' => Tok::LParen,
                        ')' => Tok::RParen,
                        '{' => Tok::LBrace,
                        '}' => Tok::RBrace,
                        _ => Tok::Colon,
                    },
                ));
                i += 1;
            }
            '<' | '>' => {
                let op =
                    if chars.get(i + 1) == Some(&'=') { format!("{c}=") } else { c.to_string() };
                i += op.len();
                out.push((start, Tok::Range(op)));
            }
            '"' => {
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(KqlError { offset: start, message: "unclosed `\"`".into() })
                        }
                        Some('"') => break,
                        Some('\\') if i + 1 < chars.len() => {
                            text.push(chars[i + 1]);
                            i += 2;
                        }
                        Some(ch) => {
                            text.push(*ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
                out.push((start, Tok::Quoted(text)));
            }
            _ => {
                let mut text = String::new();
                while i < chars.len() && !chars[i].is_whitespace() && !SPECIAL.contains(&chars[i]) {
                    if chars[i] == '\\' && i + 1 < chars.len() {
                        text.push('\\');
                        text.push(chars[i + 1]);
                        i += 2;
                    } else {
                        text.push(chars[i]);
                        i += 1;
                    }
                }
                out.push((start, Tok::Word(text)));
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
    /// Parentheses, braces and `not`s open around the token at hand.
    depth: usize,
}

/// How deep parentheses, braces and `not`s may nest: real queries use a handful of levels, and
/// the limit keeps the recursive parser within its stack on a hostile one.
pub const MAX_NESTING: usize = 100;

fn keyword(tok: Option<&(usize, Tok)>, word: &str) -> bool {
    matches!(tok, Some((_, Tok::Word(w))) if w.eq_ignore_ascii_case(word))
}

impl Parser {
    fn peek(&self) -> Option<&(usize, Tok)> {
        self.toks.get(self.at)
    }

    fn offset(&self) -> usize {
        self.peek().map_or(self.end, |t| t.0)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, KqlError> {
        Err(KqlError { offset: self.offset(), message: message.into() })
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), KqlError> {
        if self.peek().map(|t| &t.1) == Some(tok) {
            self.at += 1;
            Ok(())
        } else {
            self.err(format!("expected {what}"))
        }
    }

    /// Runs `inner` one nesting level deeper, refused past [`MAX_NESTING`].
    fn nested<T>(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<T, KqlError>,
    ) -> Result<T, KqlError> {
        if self.depth == MAX_NESTING {
            return self.err(format!(
                "parentheses, braces and `not`s nest deeper than {MAX_NESTING} levels here"
            ));
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    fn or(&mut self) -> Result<Kql, KqlError> {
        let mut parts = vec![self.and()?];
        while keyword(self.peek(), "or") {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { Kql::Or(parts) })
    }

    fn and(&mut self) -> Result<Kql, KqlError> {
        let mut parts = vec![self.not()?];
        while keyword(self.peek(), "and") {
            self.at += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { Kql::And(parts) })
    }

    fn not(&mut self) -> Result<Kql, KqlError> {
        if keyword(self.peek(), "not") {
            self.at += 1;
            return self.nested(|p| Ok(Kql::Not(Box::new(p.not()?))));
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<Kql, KqlError> {
        match self.peek().cloned() {
            Some((_, Tok::LParen)) => self.nested(|p| {
                p.at += 1;
                let inner = p.or()?;
                p.expect(&Tok::RParen, "`)`")?;
                Ok(inner)
            }),
            Some((_, Tok::Word(field)))
                if matches!(self.toks.get(self.at + 1), Some((_, Tok::Colon | Tok::Range(_)))) =>
            {
                self.at += 1;
                self.field_query(field)
            }
            Some((_, Tok::Word(_) | Tok::Quoted(_))) => {
                Ok(Kql::FreeText(ValueExpr::One(self.value()?)))
            }
            Some((_, t)) => self.err(format!("unexpected `{}`", describe(&t))),
            None => self.err("the query ends too early"),
        }
    }

    fn field_query(&mut self, field: String) -> Result<Kql, KqlError> {
        if let Some((_, Tok::Range(op))) = self.peek().cloned() {
            self.at += 1;
            let value = self.value()?;
            return Ok(Kql::Range { field, op, value });
        }
        self.expect(&Tok::Colon, "`:`")?;
        match self.peek().cloned() {
            Some((_, Tok::LBrace)) => self.nested(|p| {
                p.at += 1;
                let query = p.or()?;
                p.expect(&Tok::RBrace, "`}`")?;
                Ok(Kql::Nested { field, query: Box::new(query) })
            }),
            Some((_, Tok::Word(w))) if w == "*" => {
                self.at += 1;
                Ok(Kql::Exists(field))
            }
            Some((_, Tok::LParen)) => self.nested(|p| {
                p.at += 1;
                let values = p.value_or()?;
                p.expect(&Tok::RParen, "`)` closing the value list")?;
                Ok(Kql::Match { field, values })
            }),
            _ => Ok(Kql::Match { field, values: ValueExpr::One(self.value()?) }),
        }
    }

    fn value(&mut self) -> Result<Value, KqlError> {
        match self.peek().cloned() {
            Some((_, Tok::Word(text))) if !is_keyword(&text) => {
                self.at += 1;
                // KQL's unquoted values may hold spaces (`*S3 Browser*`): words run on until a
                // keyword, a special character or the next field.
                let mut text = text;
                while let Some((_, Tok::Word(next))) = self.peek().cloned() {
                    let field_follows =
                        matches!(self.toks.get(self.at + 1), Some((_, Tok::Colon | Tok::Range(_))));
                    if is_keyword(&next) || field_follows {
                        break;
                    }
                    text.push(' ');
                    text.push_str(&next);
                    self.at += 1;
                }
                Ok(Value { text, quoted: false })
            }
            Some((_, Tok::Quoted(text))) => {
                self.at += 1;
                Ok(Value { text, quoted: true })
            }
            Some((_, t)) => self.err(format!("expected a value, found `{}`", describe(&t))),
            None => self.err("expected a value, the query ends"),
        }
    }

    fn value_or(&mut self) -> Result<ValueExpr, KqlError> {
        let mut parts = vec![self.value_and()?];
        while keyword(self.peek(), "or") {
            self.at += 1;
            parts.push(self.value_and()?);
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { ValueExpr::Or(parts) })
    }

    fn value_and(&mut self) -> Result<ValueExpr, KqlError> {
        let mut parts = vec![self.value_not()?];
        while keyword(self.peek(), "and") {
            self.at += 1;
            parts.push(self.value_not()?);
        }
        Ok(if parts.len() == 1 { parts.pop().expect("one part") } else { ValueExpr::And(parts) })
    }

    fn value_not(&mut self) -> Result<ValueExpr, KqlError> {
        if keyword(self.peek(), "not") {
            self.at += 1;
            return self.nested(|p| Ok(ValueExpr::Not(Box::new(p.value_not()?))));
        }
        if matches!(self.peek(), Some((_, Tok::LParen))) {
            return self.nested(|p| {
                p.at += 1;
                let inner = p.value_or()?;
                p.expect(&Tok::RParen, "`)`")?;
                Ok(inner)
            });
        }
        Ok(ValueExpr::One(self.value()?))
    }
}

fn is_keyword(word: &str) -> bool {
    ["and", "or", "not"].iter().any(|k| word.eq_ignore_ascii_case(k))
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::LParen => "(".into(),
        Tok::RParen => ")".into(),
        Tok::LBrace => "{".into(),
        Tok::RBrace => "}".into(),
        Tok::Colon => ":".into(),
        Tok::Range(op) => op.clone(),
        Tok::Word(w) => w.clone(),
        Tok::Quoted(q) => format!("\"{q}\""),
    }
}

/// Parses a KQL query.
///
/// # Errors
/// The first syntax error, with its character offset.
pub fn parse(query: &str) -> Result<Kql, KqlError> {
    let toks = tokenize(query)?;
    if toks.is_empty() {
        return Err(KqlError { offset: 0, message: "empty query".into() });
    }
    let mut parser = Parser { toks, at: 0, end: query.chars().count(), depth: 0 };
    let kql = parser.or()?;
    if parser.at < parser.toks.len() {
        return parser.err("unexpected text after the query (missing `and`/`or`?)");
    }
    Ok(kql)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(field: &str, text: &str, quoted: bool) -> Kql {
        Kql::Match {
            field: field.into(),
            values: ValueExpr::One(Value { text: text.into(), quoted }),
        }
    }

    #[test]
    fn precedence_and_value_lists() {
        let q = parse("a:1 or b:\"x y\" and not c:(d or e)").expect("valid");
        let list = ValueExpr::Or(vec![
            ValueExpr::One(Value { text: "d".into(), quoted: false }),
            ValueExpr::One(Value { text: "e".into(), quoted: false }),
        ]);
        assert_eq!(
            q,
            Kql::Or(vec![
                m("a", "1", false),
                Kql::And(vec![
                    m("b", "x y", true),
                    Kql::Not(Box::new(Kql::Match { field: "c".into(), values: list }))
                ])
            ])
        );
    }

    #[test]
    fn exists_range_nested_and_escapes() {
        assert_eq!(parse("source.ip:*").expect("valid"), Kql::Exists("source.ip".into()));
        assert!(
            matches!(parse("port >= 1024").expect("valid"), Kql::Range { op, .. } if op == ">=")
        );
        assert!(matches!(parse("a:{ b:c }").expect("valid"), Kql::Nested { .. }));
        assert_eq!(parse(r"path:C\:\\temp\*").expect("valid"), m("path", r"C\:\\temp\*", false));
    }

    #[test]
    fn errors_have_offsets() {
        let e = parse("a:(b or c").expect_err("unclosed");
        assert_eq!(e.offset, 9);
        assert!(parse("a:\"x").expect_err("unclosed quote").message.contains('"'));
        assert!(parse("a:b c:d").expect_err("missing and").message.contains("unexpected text"));
        assert_eq!(
            parse("ua:(*S3 Browser* or x)").expect("valid"),
            Kql::Match {
                field: "ua".into(),
                values: ValueExpr::Or(vec![
                    ValueExpr::One(Value { text: "*S3 Browser*".into(), quoted: false }),
                    ValueExpr::One(Value { text: "x".into(), quoted: false })
                ])
            }
        );
    }

    #[test]
    fn long_chains_parse_flat_and_deep_nesting_is_an_error() {
        let chain: Vec<String> = (0..100_000).map(|i| format!("event.action:X{i}")).collect();
        let Kql::Or(parts) = parse(&chain.join(" or ")).expect("valid") else {
            panic!("an `or` chain")
        };
        assert_eq!(parts.len(), 100_000);
        let at_limit = format!("{}a:b{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert_eq!(parse(&at_limit).expect("at the limit"), m("a", "b", false));
        for deep in [
            format!("{}a:b{}", "(".repeat(100_000), ")".repeat(100_000)),
            format!("{}a:b", "not ".repeat(100_000)),
            format!("a:{}b{}", "(".repeat(100_000), ")".repeat(100_000)),
            format!("{}c:d{}", "a:{".repeat(100_000), "}".repeat(100_000)),
        ] {
            let e = parse(&deep).expect_err("too deep");
            assert!(e.message.contains("nest deeper than 100"), "{e}");
        }
    }
}
