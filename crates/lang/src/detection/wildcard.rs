//! Sigma's value patterns: `*` any run, `?` one character, `\` escapes; lowered to the
//! cheapest test that means the same (equality, prefix, suffix, substring, else a regex).

use tripline_rule::{Case, Literal, Test};

#[derive(Debug, PartialEq)]
enum Piece {
    Text(String),
    Star,
    One,
}

fn pieces(value: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            // Sigma: a backslash escapes `*`, `?` and `\`; before anything else it is literal.
            '\\' if matches!(chars.peek(), Some('*' | '?' | '\\')) => {
                text.push(chars.next().unwrap_or('\\'))
            }
            '*' | '?' => {
                if !text.is_empty() {
                    out.push(Piece::Text(std::mem::take(&mut text)));
                }
                out.push(if c == '*' { Piece::Star } else { Piece::One });
            }
            _ => text.push(c),
        }
    }
    if !text.is_empty() {
        out.push(Piece::Text(text));
    }
    out
}

/// The test a plain value means: `Equals` when it has no wildcards.
#[must_use]
pub fn value_test(value: &str, case: Case) -> Test {
    let parts = pieces(value);
    match parts.as_slice() {
        [] => Test::Equals(vec![Literal::Str(String::new())], case),
        [Piece::Text(t)] => Test::Equals(vec![Literal::Str(t.clone())], case),
        [Piece::Text(t), Piece::Star] => Test::StartsWith(vec![t.clone()], case),
        [Piece::Star, Piece::Text(t)] => Test::EndsWith(vec![t.clone()], case),
        [Piece::Star, Piece::Text(t), Piece::Star] => Test::Contains(vec![t.clone()], case),
        _ => glob(&parts, case).unwrap_or_else(|| Test::Regex(vec![regex_of(&parts, case)])),
    }
}

/// A `*`-only pattern as a [`Test::Wildcard`] (no regex needed); `None` when it has `?`.
fn glob(parts: &[Piece], case: Case) -> Option<Test> {
    if parts.contains(&Piece::One) {
        return None;
    }
    let texts: Vec<String> = parts
        .iter()
        .filter_map(|p| if let Piece::Text(t) = p { Some(t.clone()) } else { None })
        .collect();
    if texts.is_empty() {
        // Only stars: anything matches, which a regex says plainly.
        return None;
    }
    Some(Test::Wildcard {
        parts: texts,
        anchored_start: !matches!(parts.first(), Some(Piece::Star)),
        anchored_end: !matches!(parts.last(), Some(Piece::Star)),
        case,
    })
}

fn regex_of(parts: &[Piece], case: Case) -> String {
    let mut re = String::from(if case == Case::Insensitive { "(?is)" } else { "(?s)" });
    // `^.*x` and `x.*$` mean no more than `x` unanchored; leaving them out lets the regex
    // engine search for the literal parts directly.
    let (leading, trailing) =
        (matches!(parts.first(), Some(Piece::Star)), matches!(parts.last(), Some(Piece::Star)));
    let parts = &parts[usize::from(leading)
        ..parts.len() - usize::from(trailing && parts.len() > usize::from(leading))];
    if !leading {
        re.push('^');
    }
    for p in parts {
        match p {
            Piece::Text(t) => re.push_str(&regex::escape(t)),
            Piece::Star => re.push_str(".*"),
            Piece::One => re.push('.'),
        }
    }
    if !trailing {
        re.push('$');
    }
    re
}

/// Removes Sigma escapes from a value used with `contains`/`startswith`/`endswith`, where
/// wildcards inside are rare; returns `None` when the value has unescaped wildcards.
#[must_use]
pub fn plain_text(value: &str) -> Option<String> {
    let parts = pieces(value);
    match parts.as_slice() {
        [] => Some(String::new()),
        [Piece::Text(t)] => Some(t.clone()),
        _ => None,
    }
}

/// A pattern for `contains`/`startswith`/`endswith` with wildcards inside: the value with `*`
/// added where the modifier leaves the match open.
#[must_use]
pub fn open_pattern(value: &str, case: Case, start: bool, end: bool) -> Test {
    let mut parts = pieces(value);
    if !start {
        parts.insert(0, Piece::Star);
    }
    if !end {
        parts.push(Piece::Star);
    }
    glob(&parts, case).unwrap_or_else(|| Test::Regex(vec![regex_of(&parts, case)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_lower_to_the_cheapest_test() {
        let ci = Case::Insensitive;
        assert_eq!(value_test("abc", ci), Test::Equals(vec![Literal::Str("abc".into())], ci));
        assert_eq!(value_test("abc*", ci), Test::StartsWith(vec!["abc".into()], ci));
        assert_eq!(value_test("*abc", ci), Test::EndsWith(vec!["abc".into()], ci));
        assert_eq!(value_test("*abc*", ci), Test::Contains(vec!["abc".into()], ci));
        assert_eq!(value_test("a?c", ci), Test::Regex(vec!["(?is)^a.c$".into()]));
    }

    #[test]
    fn escaped_wildcards_are_literal() {
        let ci = Case::Insensitive;
        assert_eq!(value_test(r"a\*b", ci), Test::Equals(vec![Literal::Str("a*b".into())], ci));
        assert_eq!(
            value_test(r"C:\Windows", ci),
            Test::Equals(vec![Literal::Str(r"C:\Windows".into())], ci)
        );
    }
}
