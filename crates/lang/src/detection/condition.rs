//! Sigma's condition language: `and or not ( ) 1 of x* all of x* them`.
//! Precedence, loosest first: `or`, `and`, `not`.

use std::fmt;

/// A parsed condition over selection names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// A selection by name.
    Name(String),
    /// Both.
    And(Box<Cond>, Box<Cond>),
    /// Either.
    Or(Box<Cond>, Box<Cond>),
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

struct Parser {
    toks: Vec<(usize, Tok)>,
    at: usize,
    end: usize,
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

    fn or(&mut self) -> Result<Cond, CondError> {
        let mut left = self.and()?;
        while self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case("or")) {
            self.at += 1;
            left = Cond::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Cond, CondError> {
        let mut left = self.not()?;
        while self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case("and")) {
            self.at += 1;
            left = Cond::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Cond, CondError> {
        if self.peek_word().is_some_and(|w| w.eq_ignore_ascii_case("not")) {
            self.at += 1;
            return Ok(Cond::Not(Box::new(self.not()?)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Cond, CondError> {
        match self.toks.get(self.at).cloned() {
            Some((_, Tok::LParen)) => {
                self.at += 1;
                let inner = self.or()?;
                match self.toks.get(self.at) {
                    Some((_, Tok::RParen)) => {
                        self.at += 1;
                        Ok(inner)
                    }
                    _ => self.err("missing `)`"),
                }
            }
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
    let mut parser = Parser { toks, at: 0, end: text.chars().count() };
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

    fn name(n: &str) -> Box<Cond> {
        Box::new(Cond::Name(n.into()))
    }

    #[test]
    fn not_binds_tighter_than_and_tighter_than_or() {
        let c = parse("a or not b and c").expect("valid");
        assert_eq!(
            c,
            Cond::Or(name("a"), Box::new(Cond::And(Box::new(Cond::Not(name("b"))), name("c"))))
        );
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
