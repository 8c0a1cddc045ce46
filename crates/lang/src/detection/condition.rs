//! Sigma's condition language: `and or not ( ) 1 of x* all of x* them`.
//! Precedence, loosest first: `or`, `and`, `not`. A chain of `and`s or `or`s is one n-ary
//! node, so a condition of 100,000 terms is a flat list, not a tree that deep; parentheses and
//! `not`s may nest [`MAX_NESTING`] levels, which keeps the recursive parser within its stack.

use std::fmt;

/// A parsed condition over selection names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// A selection by name.
    Name(String),
    /// Every one (two or more).
    And(Vec<Cond>),
    /// Any one (two or more).
    Or(Vec<Cond>),
    /// Negation.
    Not(Box<Cond>),
    /// `1 of pattern` (`any`), or `all of pattern`; `them` is the pattern `*`.
    Of {
        /// `all of` rather than `1 of`.
        all: bool,
        /// The selection-name pattern.
        pattern: String,
    },
}

/// A condition syntax error, with the character offset where it was noticed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondError {
    /// Offset in characters.
    pub offset: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for CondError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at character {})", self.message, self.offset + 1)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    Word(String),
}

fn tokenize(text: &str) -> Result<Vec<(usize, Tok)>, CondError> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' || c == ')' {
            out.push((i, if c == '(' { Tok::LParen } else { Tok::RParen }));
            i += 1;
        } else if c.is_alphanumeric() || matches!(c, '_' | '*' | '-' | '.') {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '*' | '-' | '.'))
            {
                i += 1;
            }
            out.push((start, Tok::Word(chars[start..i].iter().collect())));
        } else {
            return Err(CondError {
                offset: i,
                message: format!("unexpected character `{c}` in condition"),
            });
        }
    }
    Ok(out)
}

/// How deep parentheses and `not`s may nest; real rules use a handful of levels.
pub const MAX_NESTING: usize = 100;

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
    /// Parentheses and `not`s open around the token at hand.
    depth: usize,
}

impl Parser {
    fn peek_word(&self) -> Option<&str> {
        match self.toks.get(self.at) {
            Some((_, Tok::Word(w))) => Some(w.as_str()),
            _ => None,
        }
    }

    fn offset(&self) -> usize {
        self.toks.get(self.at).map_or(self.end, |t| t.0)
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, CondError> {
        Err(CondError { offset: self.offset(), message: message.into() })
    }

    /// Runs `inner` one nesting level deeper, refused past [`MAX_NESTING`].
    fn nested(
        &mut self,
        inner: impl FnOnce(&mut Self) -> Result<Cond, CondError>,
    ) -> Result<Cond, CondError> {
        if self.depth == MAX_NESTING {
            return self
                .err(format!("parentheses and `not`s nest deeper than {MAX_NESTING} levels here"));
        }
        self.depth += 1;
        let result = inner(self);
        self.depth -= 1;
        result
    }

    fn or(&mut self) -> Result<Cond, CondError> {
        let mut parts = vec![self.and()?];
        while self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case("or")) {
            self.at += 1;
            parts.push(self.and()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Cond::Or(parts) })
    }

    fn and(&mut self) -> Result<Cond, CondError> {
        let mut parts = vec![self.not()?];
        while self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case("and")) {
            self.at += 1;
            parts.push(self.not()?);
        }
        Ok(if parts.len() == 1 { parts.remove(0) } else { Cond::And(parts) })
    }

    fn not(&mut self) -> Result<Cond, CondError> {
        if self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case("not")) {
            self.at += 1;
            return self.nested(|p| Ok(Cond::Not(Box::new(p.not()?))));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Cond, CondError> {
        match self.toks.get(self.at).cloned() {
            Some((_, Tok::LParen)) => self.nested(|p| {
                p.at += 1;
                let inner = p.or()?;
                match p.toks.get(p.at) {
                    Some((_, Tok::RParen)) => {
                        p.at += 1;
                        Ok(inner)
                    }
                    _ => p.err("missing `)`"),
                }
            }),
            Some((_, Tok::Word(w))) => {
                let lower = w.to_ascii_lowercase();
                if matches!(lower.as_str(), "and" | "or") {
                    return self.err(format!("`{w}` needs a selection before it"));
                }
                self.at += 1;
                let quantifier = match lower.as_str() {
                    "1" | "any" => Some(false),
                    "all" => Some(true),
                    _ => None,
                };
                if let Some(all) = quantifier {
                    if self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case("of")) {
                        self.at += 1;
                        let pattern = match self.toks.get(self.at) {
                            Some((_, Tok::Word(p))) => p.clone(),
                            _ => {
                                return self
                                    .err(format!("`{w} of` needs a selection pattern or `them`"))
                            }
                        };
                        self.at += 1;
                        let pattern = if pattern.eq_ignore_ascii_case("them") {
                            "*".to_owned()
                        } else {
                            pattern
                        };
                        return Ok(Cond::Of { all, pattern });
                    }
                }
                Ok(Cond::Name(w))
            }
            Some((_, Tok::RParen)) => self.err("unexpected `)`"),
            None => self.err("condition ends too early"),
        }
    }
}

/// Parses a condition.
///
/// # Errors
/// The first syntax error, with its offset.
pub fn parse(text: &str) -> Result<Cond, CondError> {
    let toks = tokenize(text)?;
    if toks.is_empty() {
        return Err(CondError { offset: 0, message: "empty condition".into() });
    }
    let mut parser = Parser { toks, at: 0, end: text.chars().count(), depth: 0 };
    let cond = parser.or()?;
    if parser.at < parser.toks.len() {
        return parser.err("unexpected text after the condition (missing `and`/`or`?)");
    }
    Ok(cond)
}

/// Whether a selection name matches a `1 of`/`all of` pattern (`*` is any run of characters).
#[must_use]
pub fn name_matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, rest)) => {
            let Some(tail) = name.strip_prefix(prefix) else { return false };
            if rest.is_empty() {
                return true;
            }
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && name_matches(rest, &tail[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> Cond {
        Cond::Name(n.into())
    }

    #[test]
    fn not_binds_tighter_than_and_tighter_than_or() {
        let c = parse("a or not b and c or d").expect("valid");
        assert_eq!(
            c,
            Cond::Or(vec![
                name("a"),
                Cond::And(vec![Cond::Not(Box::new(name("b"))), name("c")]),
                name("d")
            ])
        );
    }

    #[test]
    fn long_chains_are_flat_and_deep_nesting_is_an_error_where_it_starts() {
        let terms: Vec<String> = (0..100_000).map(|i| format!("s{i}")).collect();
        let Cond::Or(parts) = parse(&terms.join(" or ")).expect("valid") else {
            panic!("an `or` chain")
        };
        assert_eq!(parts.len(), 100_000);
        let ok = format!("{}a{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert_eq!(parse(&ok).expect("at the limit"), name("a"));
        let deep = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("nest deeper than 100"), "{e}");
        assert_eq!(e.offset, MAX_NESTING, "at the parenthesis past the limit");
        let nots = format!("{}a", "not ".repeat(100_000));
        assert!(parse(&nots).unwrap_err().message.contains("nest deeper"));
    }

    #[test]
    fn quantifiers_and_them() {
        assert_eq!(
            parse("1 of sel*").expect("valid"),
            Cond::Of { all: false, pattern: "sel*".into() }
        );
        assert_eq!(
            parse("all of them").expect("valid"),
            Cond::Of { all: true, pattern: "*".into() }
        );
    }

    #[test]
    fn errors_point_at_the_problem() {
        assert_eq!(parse("a and (b").unwrap_err().message, "missing `)`");
        assert!(parse("a b").unwrap_err().message.contains("unexpected text"));
        assert!(parse("a | b").unwrap_err().message.contains('|'));
    }

    #[test]
    fn patterns_match_names() {
        assert!(name_matches("sel*", "selection"));
        assert!(name_matches("*_ok", "is_ok"));
        assert!(!name_matches("sel*", "filter"));
    }
}
