//! The condition IR: boolean combinations of predicates over resolved fields.

use std::fmt;

use ipnet::IpNet;
use tripline_event::Field;

/// Whether string comparison respects case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Case {
    /// Sigma's and Tripline's default.
    Insensitive,
    /// `|cased`, and KQL keyword fields.
    Sensitive,
}

/// A literal a field is compared with.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// Text; also matches numbers and booleans whose JSON text is equal.
    Str(String),
    /// A number; also matches strings that parse to the same number.
    Num(f64),
    /// A boolean; also matches the strings `true`/`false`.
    Bool(bool),
}

/// Numeric comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `<`
    Lt,
    /// `<=`
    Lte,
    /// `>`
    Gt,
    /// `>=`
    Gte,
}

/// Whether `text` matches a wildcard pattern (see [`Test::Wildcard`]): leftmost occurrences
/// in order, which finds a match whenever one exists for `*`-only patterns.
#[must_use]
pub fn wildcard_matches(
    text: &str,
    parts: &[String],
    anchored_start: bool,
    anchored_end: bool,
) -> bool {
    let mut at = 0;
    let last = parts.len().saturating_sub(1);
    for (i, part) in parts.iter().enumerate() {
        if i == 0 && anchored_start {
            if !text.starts_with(part.as_str()) {
                return false;
            }
            at = part.len();
        } else if i == last && anchored_end {
            return text.len() >= at + part.len() && text.ends_with(part.as_str());
        } else {
            match text[at..].find(part.as_str()) {
                Some(found) => at += found + part.len(),
                None => return false,
            }
        }
    }
    // All parts found; an end anchor with no parts after the start (`a` alone) needs the text
    // to end where the part did.
    !(anchored_end && parts.len() == 1 && anchored_start) || at == text.len()
}

impl CmpOp {
    /// Applies the operator.
    #[must_use]
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Self::Lt => left < right,
            Self::Lte => left <= right,
            Self::Gt => left > right,
            Self::Gte => left >= right,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Lte => "<=",
            Self::Gt => ">",
            Self::Gte => ">=",
        }
    }
}

/// What is asked of a field's values; a list of patterns means any of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// The field has a value that is neither null nor empty.
    Exists,
    /// Equal to any literal.
    Equals(Vec<Literal>, Case),
    /// Contains any substring.
    Contains(Vec<String>, Case),
    /// Starts with any prefix.
    StartsWith(Vec<String>, Case),
    /// Ends with any suffix.
    EndsWith(Vec<String>, Case),
    /// Matches any regular expression (Rust `regex` syntax, unanchored; flags inline).
    Regex(Vec<String>),
    /// A `*` wildcard pattern: the parts occur in order, the first at the start when
    /// `anchored_start`, the last at the end when `anchored_end` (`a*b*` is `[a, b]`, anchored at
    /// the start only). Matched without a regex.
    Wildcard {
        /// The literal parts between the stars.
        parts: Vec<String>,
        /// The first part starts the text.
        anchored_start: bool,
        /// The last part ends the text.
        anchored_end: bool,
        /// Case rule.
        case: Case,
    },
    /// An IP address inside any network.
    Cidr(Vec<IpNet>),
    /// A number compared with a bound.
    Compare(CmpOp, f64),
    /// Compared with the values of another field of the same record (Sigma's `fieldref`,
    /// Panther's multi-key comparisons).
    FieldRef(Field, RefOp, Case),
}

/// How a field is compared with another field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefOp {
    /// Equal text.
    Equals,
    /// Starts with the other's text.
    StartsWith,
    /// Ends with the other's text.
    EndsWith,
    /// Contains the other's text.
    Contains,
    /// Numerically compared with the other's number.
    Compare(CmpOp),
}

impl RefOp {
    /// Whether `value` relates to `other` this way (texts already case-folded as needed).
    #[must_use]
    pub fn holds(self, value: &str, other: &str) -> bool {
        match self {
            Self::Equals => value == other,
            Self::StartsWith => value.starts_with(other),
            Self::EndsWith => value.ends_with(other),
            Self::Contains => value.contains(other),
            Self::Compare(op) => match (value.trim().parse::<f64>(), other.trim().parse::<f64>()) {
                (Ok(a), Ok(b)) => op.holds(a, b),
                _ => false,
            },
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Equals => "==",
            Self::StartsWith => "startswith",
            Self::EndsWith => "endswith",
            Self::Contains => "contains",
            Self::Compare(op) => op.symbol(),
        }
    }
}

/// One field and what is asked of it: true when any of the field's values passes.
#[derive(Debug, Clone, PartialEq)]
pub struct Predicate {
    /// The field.
    pub field: Field,
    /// The test.
    pub test: Test,
}

/// How many elements of a list must satisfy an element condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    /// At least one (Panther's `AnyElement`).
    Any,
    /// Every one, and the list is not empty (`AllElements`).
    All,
    /// None of them (`NoElement`).
    None,
}

/// A condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A condition over each element of a list, with field names relative to the element.
    Elements {
        /// The list.
        field: Field,
        /// How many elements must satisfy `expr`.
        quantifier: Quantifier,
        /// The condition, evaluated with each element as the record.
        expr: Box<Expr>,
    },
    /// Every child holds (true when empty).
    And(Vec<Expr>),
    /// Some child holds (false when empty).
    Or(Vec<Expr>),
    /// The child does not hold.
    Not(Box<Expr>),
    /// A field test.
    Pred(Predicate),
    /// A constant.
    Const(bool),
}

impl Expr {
    /// A predicate expression.
    #[must_use]
    pub fn pred(field: Field, test: Test) -> Self {
        Self::Pred(Predicate { field, test })
    }

    /// The negation.
    #[must_use]
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Self {
        Self::Not(Box::new(self))
    }

    /// The expression as an indented tree, one node per line, each field with how it is
    /// resolved (`tripline rules show --ir`).
    #[must_use]
    pub fn tree(&self) -> String {
        let mut out = String::new();
        self.write_tree(0, &mut out);
        out
    }

    fn write_tree(&self, depth: usize, out: &mut String) {
        let indent = "  ".repeat(depth);
        match self {
            Self::And(children) | Self::Or(children) => {
                out.push_str(&format!(
                    "{indent}{}\n",
                    if matches!(self, Self::And(_)) { "and" } else { "or" }
                ));
                children.iter().for_each(|c| c.write_tree(depth + 1, out));
            }
            Self::Not(child) => {
                out.push_str(&format!("{indent}not\n"));
                child.write_tree(depth + 1, out);
            }
            Self::Elements { field, quantifier, expr } => {
                out.push_str(&format!("{indent}{quantifier:?} element of {field}\n"));
                expr.write_tree(depth + 1, out);
            }
            Self::Pred(p) => {
                let resolved = match p.field.kind() {
                    tripline_event::FieldKind::Path(path) => {
                        format!("path {}", path.segments().join("."))
                    }
                    tripline_event::FieldKind::Computed(c) => format!("computed {c:?}"),
                };
                out.push_str(&format!("{indent}{p}    [{resolved}]\n"));
            }
            Self::Const(b) => out.push_str(&format!("{indent}{b}\n")),
        }
    }

    /// Every predicate in the expression, in order.
    pub fn predicates(&self) -> Vec<&Predicate> {
        let mut out = Vec::new();
        self.collect_predicates(&mut out);
        out
    }

    fn collect_predicates<'a>(&'a self, out: &mut Vec<&'a Predicate>) {
        match self {
            Self::And(children) | Self::Or(children) => {
                children.iter().for_each(|c| c.collect_predicates(out))
            }
            Self::Not(child) | Self::Elements { expr: child, .. } => child.collect_predicates(out),
            Self::Pred(p) => out.push(p),
            Self::Const(_) => {}
        }
    }
}

fn write_list<T>(
    f: &mut fmt::Formatter<'_>,
    items: &[T],
    each: impl Fn(&T) -> String,
) -> fmt::Result {
    if items.len() == 1 {
        return f.write_str(&each(&items[0]));
    }
    let parts: Vec<String> = items.iter().map(each).collect();
    write!(f, "[{}]", parts.join(", "))
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => write!(f, "{s:?}"),
            Self::Num(n) => write!(f, "{n}"),
            Self::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl fmt::Display for Predicate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let field = &self.field;
        let quoted = |s: &String| format!("{s:?}");
        let case = |c: &Case| if *c == Case::Sensitive { " (cased)" } else { "" };
        match &self.test {
            Test::Exists => write!(f, "{field} exists"),
            Test::Equals(values, c) => {
                write!(f, "{field} {} ", if values.len() == 1 { "==" } else { "in" })?;
                write_list(f, values, ToString::to_string)?;
                f.write_str(case(c))
            }
            Test::Contains(values, c) | Test::StartsWith(values, c) | Test::EndsWith(values, c) => {
                let op = match &self.test {
                    Test::Contains(..) => "contains",
                    Test::StartsWith(..) => "startswith",
                    _ => "endswith",
                };
                write!(f, "{field} {op} ")?;
                write_list(f, values, quoted)?;
                f.write_str(case(c))
            }
            Test::Regex(patterns) => {
                write!(f, "{field} matches ")?;
                write_list(f, patterns, |p| format!("/{p}/"))
            }
            Test::Cidr(nets) => {
                write!(f, "{field} in cidr ")?;
                write_list(f, nets, ToString::to_string)
            }
            Test::Compare(op, bound) => write!(f, "{field} {} {bound}", op.symbol()),
            Test::Wildcard { parts, anchored_start, anchored_end, case: c } => {
                let glob = format!(
                    "{}{}{}",
                    if *anchored_start { "" } else { "*" },
                    parts.join("*"),
                    if *anchored_end { "" } else { "*" }
                );
                write!(f, "{field} like {glob:?}{}", case(c))
            }
            Test::FieldRef(other, op, c) => {
                write!(f, "{field} {} field {other}{}", op.symbol(), case(c))
            }
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::And(children) | Self::Or(children) if children.is_empty() => {
                write!(f, "{}", matches!(self, Self::And(_)))
            }
            Self::And(children) | Self::Or(children) => {
                let joiner = if matches!(self, Self::And(_)) { " and " } else { " or " };
                let parts: Vec<String> = children.iter().map(ToString::to_string).collect();
                write!(f, "({})", parts.join(joiner))
            }
            Self::Not(child) => write!(f, "not {child}"),
            Self::Elements { field, quantifier, expr } => {
                write!(f, "{quantifier:?} element of {field} satisfies {expr}")
            }
            Self::Pred(p) => write!(f, "{p}"),
            Self::Const(b) => write!(f, "{b}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_reads_like_the_condition() {
        let expr = Expr::And(vec![
            Expr::pred(
                Field::resolve("eventName"),
                Test::Equals(
                    vec![Literal::Str("A".into()), Literal::Str("B".into())],
                    Case::Insensitive,
                ),
            ),
            Expr::pred(Field::resolve("errorCode"), Test::Exists).not(),
        ]);
        assert_eq!(expr.to_string(), r#"(eventName in ["A", "B"] and not errorCode exists)"#);
        assert_eq!(expr.predicates().len(), 2);
    }
}
