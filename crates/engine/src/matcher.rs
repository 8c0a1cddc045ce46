//! The compiled form of a condition: patterns folded and regexes built once per rule.

use std::borrow::Cow;
use std::net::IpAddr;

use ipnet::IpNet;
use regex::RegexSet;
use serde_json::Value;
use std::sync::Arc;

use tripline_event::interest::Interest;
use tripline_event::{Field, Record};
use tripline_rule::{Case, CmpOp, Expr, Literal, Test};

use crate::text::{value_bool, value_number, value_text};

pub(crate) enum Node {
    Elements(Field, tripline_rule::Quantifier, Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
    Leaf(Field, Matcher),
    /// A test on a nested field in the engine's interest: (top-level key, slot) looked up once.
    NestedLeaf(Field, Matcher, String, usize),
    /// A test on a top-level field, read as borrowed text when it is a string.
    TopLeaf(Field, Matcher, String),
    Const(bool),
}

pub(crate) use crate::patterns::{Patterns, TextOp};

pub(crate) enum Matcher {
    Exists,
    Equals {
        folded: Vec<String>,
        exact: Vec<String>,
        numbers: Vec<f64>,
        bools: Vec<bool>,
    },
    Text {
        patterns: Patterns,
        case: Case,
    },
    /// The regexes, and for each a literal every match contains, when all have one: text
    /// without any of them is rejected before the regex runs.
    Regex(RegexSet, Option<Vec<memchr::memmem::Finder<'static>>>),
    Wildcard {
        parts: Vec<String>,
        anchored_start: bool,
        anchored_end: bool,
        case: Case,
    },
    Cidr(Vec<IpNet>),
    Compare(CmpOp, f64),
    /// Compared with another field's values, gathered per record.
    FieldRef(Field, tripline_rule::RefOp, Case),
}

/// Lower-cases for case-insensitive comparison; ASCII takes the cheap path.
fn fold(text: &str) -> Cow<'_, str> {
    if text.bytes().any(|b| b.is_ascii_uppercase() || !b.is_ascii()) {
        Cow::Owned(if text.is_ascii() { text.to_ascii_lowercase() } else { text.to_lowercase() })
    } else {
        Cow::Borrowed(text)
    }
}

impl Node {
    pub(crate) fn compile(expr: &Expr, interest: &Interest) -> Result<Self, String> {
        Ok(match expr {
            Expr::And(c) => {
                Self::And(c.iter().map(|e| Self::compile(e, interest)).collect::<Result<_, _>>()?)
            }
            Expr::Or(c) => {
                let merged = crate::merge::alternatives(c);
                let c = merged.as_deref().unwrap_or(c);
                Self::Or(c.iter().map(|e| Self::compile(e, interest)).collect::<Result<_, _>>()?)
            }
            Expr::Not(c) => Self::Not(Box::new(Self::compile(c, interest)?)),
            Expr::Elements { field, quantifier, expr } => {
                Self::Elements(field.clone(), *quantifier, Box::new(Self::compile(expr, interest)?))
            }
            Expr::Const(b) => Self::Const(*b),
            Expr::Pred(p) => {
                let matcher = Matcher::compile(&p.test)?;
                // A constant field (`event.dataset`) is decided now, once.
                if let tripline_event::FieldKind::Computed(
                    tripline_event::ecs::Computed::Constant(value),
                ) = p.field.kind()
                {
                    match matcher {
                        Matcher::FieldRef(..) => {}
                        Matcher::Exists => return Ok(Self::Const(true)),
                        ref m => return Ok(Self::Const(m.passes_text(value))),
                    }
                }
                match (p.field.kind(), &matcher) {
                    (_, Matcher::Exists | Matcher::FieldRef(..)) => {
                        Self::Leaf(p.field.clone(), matcher)
                    }
                    (tripline_event::FieldKind::Path(path), _)
                        if path.segments().len() == 1 && !p.field.ignores_case() =>
                    {
                        Self::TopLeaf(p.field.clone(), matcher, path.segments()[0].clone())
                    }
                    (tripline_event::FieldKind::Path(path), _) if !p.field.ignores_case() => {
                        match interest.slot(&path.segments().join(".")) {
                            Some(slot) => Self::NestedLeaf(
                                p.field.clone(),
                                matcher,
                                path.segments()[0].clone(),
                                slot,
                            ),
                            None => Self::Leaf(p.field.clone(), matcher),
                        }
                    }
                    _ => Self::Leaf(p.field.clone(), matcher),
                }
            }
        })
    }

    pub(crate) fn evaluate(&self, record: &Record<'_>, interest: &Arc<Interest>) -> bool {
        match self {
            Self::And(c) => c.iter().all(|n| n.evaluate(record, interest)),
            Self::Or(c) => c.iter().any(|n| n.evaluate(record, interest)),
            Self::Not(c) => !c.evaluate(record, interest),
            Self::Elements(field, quantifier, inner) => {
                crate::elements::quantify(field, *quantifier, record, &mut |element| {
                    inner.evaluate(element, interest)
                })
            }
            Self::NestedLeaf(field, matcher, top, slot) => {
                match record.selected_slot(interest, top, *slot) {
                    Some(mut raws) => raws.any(|raw| raw_passes(matcher, raw)),
                    None => field.any_value(record, &mut |v| matcher.passes(v)),
                }
            }
            Self::Const(b) => *b,
            Self::Leaf(field, Matcher::Exists) => field.exists(record),
            Self::Leaf(field, Matcher::FieldRef(other, op, case)) => {
                let mut wanted: Vec<String> = Vec::new();
                other.any_value(record, &mut |v| {
                    if let Some(t) = value_text(v) {
                        wanted.push(match case {
                            Case::Insensitive => fold(&t).into_owned(),
                            Case::Sensitive => t.into_owned(),
                        });
                    }
                    false
                });
                !wanted.is_empty()
                    && field.any_value(record, &mut |v| {
                        value_text(v).is_some_and(|t| {
                            let t = match case {
                                Case::Insensitive => fold(&t).into_owned(),
                                Case::Sensitive => t.into_owned(),
                            };
                            wanted.iter().any(|w| op.holds(&t, w))
                        })
                    })
            }
            Self::Leaf(field, matcher) => field.any_value(record, &mut |v| matcher.passes(v)),
            // Most top-level fields are strings: test them in place, without building a value.
            Self::TopLeaf(field, matcher, key) => match record.str(key) {
                Some(text) => matcher.passes_text(&text),
                None => field.any_value(record, &mut |v| matcher.passes(v)),
            },
        }
    }
}

/// A selected raw value passes: strings in place, anything else as a parsed value.
fn raw_passes(matcher: &Matcher, raw: &str) -> bool {
    match plain_string(raw) {
        Some(text) => matcher.passes_text(text),
        None => serde_json::from_str::<Value>(raw).is_ok_and(|v| {
            tripline_event::path::descend(&v, &[], false, &mut |x| matcher.passes(x))
        }),
    }
}

/// A rule's regular expressions as one set, within `regex`'s default size limits (a wildcard
/// of 30,000 `?` is refused here rather than compiled into hundreds of megabytes).
///
/// # Errors
/// A pattern that does not compile, or compiles too large.
pub(crate) fn regex_set(patterns: &[String]) -> Result<RegexSet, String> {
    RegexSet::new(patterns).map_err(|e| match e {
        regex::Error::CompiledTooBig(limit) => format!(
            "a pattern compiles to more than {} MB (a wildcard or regex too large to run); shorten it",
            limit / (1024 * 1024)
        ),
        e => e.to_string(),
    })
}

/// The longest literal (3 bytes or more) that every match of `pattern` contains: a literal
/// part of its top-level sequence. `None` when there is none (alternations, case-insensitive
/// flags and classes give none, which only means no pre-filter).
fn required_literal(pattern: &str) -> Option<Vec<u8>> {
    use regex_syntax::hir::HirKind;
    let mut hir = regex_syntax::parse(pattern).ok()?;
    while let HirKind::Capture(capture) = hir.kind() {
        hir = (*capture.sub).clone();
    }
    let parts: Vec<&regex_syntax::hir::Hir> = match hir.kind() {
        HirKind::Concat(parts) => parts.iter().collect(),
        _ => vec![&hir],
    };
    parts
        .iter()
        .filter_map(|p| match p.kind() {
            HirKind::Literal(lit) => Some(lit.0.to_vec()),
            _ => None,
        })
        .filter(|l| l.len() >= 3)
        .max_by_key(Vec::len)
}

/// Text up to this length is lower-cased on the stack for case-insensitive tests.
const STACK_TEXT: usize = 512;

/// The contents of a JSON string literal that has no escapes, borrowed.
fn plain_string(raw: &str) -> Option<&str> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.contains('\\')).then_some(inner)
}

impl Matcher {
    fn compile(test: &Test) -> Result<Self, String> {
        let fold_all = |patterns: &[String], case: Case| match case {
            Case::Insensitive => patterns.iter().map(|p| fold(p).into_owned()).collect(),
            Case::Sensitive => patterns.to_vec(),
        };
        Ok(match test {
            Test::Exists => Self::Exists,
            Test::Equals(literals, case) => {
                let (mut folded, mut exact, mut numbers, mut bools) =
                    (vec![], vec![], vec![], vec![]);
                for lit in literals {
                    match (lit, case) {
                        (Literal::Str(s), Case::Insensitive) => folded.push(fold(s).into_owned()),
                        (Literal::Str(s), Case::Sensitive) => exact.push(s.clone()),
                        (Literal::Num(n), _) => numbers.push(*n),
                        (Literal::Bool(b), _) => bools.push(*b),
                    }
                }
                Self::Equals { folded, exact, numbers, bools }
            }
            Test::Contains(p, case) => Self::Text {
                patterns: Patterns::new(TextOp::Contains, fold_all(p, *case)),
                case: *case,
            },
            Test::StartsWith(p, case) => Self::Text {
                patterns: Patterns::new(TextOp::StartsWith, fold_all(p, *case)),
                case: *case,
            },
            Test::EndsWith(p, case) => Self::Text {
                patterns: Patterns::new(TextOp::EndsWith, fold_all(p, *case)),
                case: *case,
            },
            Test::Regex(patterns) => {
                let required: Option<Vec<_>> =
                    patterns.iter().map(|p| required_literal(p)).collect();
                let finders = required.map(|lits| {
                    lits.iter().map(|l| memchr::memmem::Finder::new(l).into_owned()).collect()
                });
                Self::Regex(regex_set(patterns)?, finders)
            }
            Test::Wildcard { parts, anchored_start, anchored_end, case } => Self::Wildcard {
                parts: fold_all(parts, *case),
                anchored_start: *anchored_start,
                anchored_end: *anchored_end,
                case: *case,
            },
            Test::Cidr(nets) => Self::Cidr(nets.clone()),
            Test::Compare(op, bound) => Self::Compare(*op, *bound),
            Test::FieldRef(other, op, case) => Self::FieldRef(other.clone(), *op, *case),
        })
    }

    fn passes(&self, value: &Value) -> bool {
        if matches!(value, Value::Object(_) | Value::Array(_))
            && matches!(
                self,
                Self::Text { patterns: Patterns { op: TextOp::Contains, .. }, .. }
                    | Self::Regex(..)
                    | Self::Wildcard { anchored_start: false, anchored_end: false, .. }
            )
        {
            let mut strings = Vec::new();
            crate::text::nested_strings(value, &mut strings);
            if strings.into_iter().any(|s| self.passes_scalar(&Value::String(s.to_owned()))) {
                return true;
            }
        }
        self.passes_scalar(value)
    }

    /// `passes_scalar` for a string value, without the value.
    fn passes_text(&self, text: &str) -> bool {
        match self {
            Self::Exists => !text.is_empty(),
            Self::Equals { folded, exact, numbers, bools } => {
                exact.iter().any(|e| e == text)
                    || (!folded.is_empty() && {
                        if text.is_ascii() {
                            // Folded patterns are lower-case: ASCII text compares without a copy.
                            folded
                                .iter()
                                .any(|f| f.len() == text.len() && text.eq_ignore_ascii_case(f))
                        } else {
                            let text = fold(text);
                            folded.iter().any(|f| *f == text)
                        }
                    })
                    || (!numbers.is_empty()
                        && text.trim().parse::<f64>().is_ok_and(|n| numbers.contains(&n)))
                    || (!bools.is_empty() && {
                        let b = if text.eq_ignore_ascii_case("true") {
                            Some(true)
                        } else if text.eq_ignore_ascii_case("false") {
                            Some(false)
                        } else {
                            None
                        };
                        b.is_some_and(|b| bools.contains(&b))
                    })
            }
            Self::Text { patterns, case } => {
                let test = |text: &str| patterns.any(text);
                match case {
                    Case::Sensitive => test(text),
                    // Short ASCII text is lower-cased on the stack rather than the heap.
                    Case::Insensitive if text.is_ascii() && text.len() <= STACK_TEXT => {
                        let mut buf = [0u8; STACK_TEXT];
                        let lowered = &mut buf[..text.len()];
                        lowered.copy_from_slice(text.as_bytes());
                        lowered.make_ascii_lowercase();
                        std::str::from_utf8(lowered).is_ok_and(test)
                    }
                    Case::Insensitive => test(&fold(text)),
                }
            }
            Self::Regex(set, required) => {
                required
                    .as_ref()
                    .is_none_or(|finders| finders.iter().any(|f| f.find(text.as_bytes()).is_some()))
                    && set.is_match(text)
            }
            Self::Wildcard { parts, anchored_start, anchored_end, case } => {
                let test = |t: &str| {
                    tripline_rule::wildcard_matches(t, parts, *anchored_start, *anchored_end)
                };
                match case {
                    Case::Sensitive => test(text),
                    Case::Insensitive => test(&fold(text)),
                }
            }
            Self::Cidr(nets) => {
                text.trim().parse::<IpAddr>().is_ok_and(|ip| nets.iter().any(|n| n.contains(&ip)))
            }
            Self::Compare(op, bound) => {
                text.trim().parse::<f64>().is_ok_and(|n| op.holds(n, *bound))
            }
            Self::FieldRef(..) => false,
        }
    }

    fn passes_scalar(&self, value: &Value) -> bool {
        if let Value::String(text) = value {
            return self.passes_text(text);
        }
        match self {
            Self::Exists => !tripline_event::path::is_empty(value),
            Self::Equals { folded, exact, numbers, bools } => {
                if let Some(text) = value_text(value) {
                    if exact.iter().any(|e| *e == text) {
                        return true;
                    }
                    if !folded.is_empty() {
                        let text = fold(&text);
                        if folded.iter().any(|f| *f == text) {
                            return true;
                        }
                    }
                }
                (!numbers.is_empty() && value_number(value).is_some_and(|n| numbers.contains(&n)))
                    || (!bools.is_empty() && value_bool(value).is_some_and(|b| bools.contains(&b)))
            }
            Self::Text { patterns, case } => value_text(value).is_some_and(|text| match case {
                Case::Insensitive => patterns.any(&fold(&text)),
                Case::Sensitive => patterns.any(&text),
            }),
            Self::Regex(..) => value_text(value).is_some_and(|t| self.passes_text(&t)),
            Self::Wildcard { .. } => value_text(value).is_some_and(|t| self.passes_text(&t)),
            Self::Cidr(nets) => value_text(value)
                .and_then(|t| t.trim().parse::<IpAddr>().ok())
                .is_some_and(|ip| nets.iter().any(|n| n.contains(&ip))),
            Self::Compare(op, bound) => value_number(value).is_some_and(|n| op.holds(n, *bound)),
            // Evaluated per record in `Node::evaluate`, which never calls `passes` for it.
            Self::FieldRef(..) => false,
        }
    }
}
