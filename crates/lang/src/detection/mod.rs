//! The Sigma-style `detection:` block: named selections and a condition over them, lowered
//! to one [`Expr`]. Shared by the native format and (later) Sigma itself.

pub mod condition;
pub mod values;
pub mod wildcard;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use ipnet::IpNet;
use tripline_event::Field;
use tripline_rule::{passes, Case, CmpOp, Expr, Literal, Test};

use crate::diagnostic::Diagnostic;
use crate::yaml::{Kind, Node, Pos};
use condition::{name_matches, Cond};

use values::Transform;

/// The modifiers that choose how a value is compared (at most one per field).
pub const MODIFIERS: &[&str] = &[
    "contains",
    "startswith",
    "endswith",
    "re",
    "cidr",
    "exists",
    "gt",
    "gte",
    "lt",
    "lte",
    "fieldref",
];
/// Modifiers that qualify the comparison or transform the values.
pub const QUALIFIERS: &[&str] =
    &["cased", "all", "neq", "expand", "windash", "base64", "base64offset", "i", "m", "s"];

/// What the dialect allows, and what the user supplied.
#[derive(Debug, Clone)]
pub struct Options {
    /// Sigma: keyword searches are allowed, and Sigma's generic field names are mapped.
    pub sigma: bool,
    /// Values for `%placeholder%`s used with `|expand`.
    pub placeholders: BTreeMap<String, Vec<String>>,
    /// Run the IR passes on what a front-end lowers (off only to test that they keep meaning).
    pub optimise: bool,
    /// Elastic exception lists by `list_id`, for rules whose `exceptions_list` names them.
    pub exceptions: crate::elastic::exceptions::ExceptionLists,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            sigma: false,
            placeholders: BTreeMap::new(),
            optimise: true,
            exceptions: BTreeMap::new(),
        }
    }
}

impl Options {
    /// The IR passes, when optimising.
    #[must_use]
    pub fn finish(&self, expr: Expr) -> Expr {
        if self.optimise {
            passes::simplify(expr)
        } else {
            expr
        }
    }
}

/// Sigma's generic field names for AWS CloudTrail, and what they are in a CloudTrail record.
const SIGMA_FIELDS: &[(&str, &str)] =
    &[("src_ip", "sourceIPAddress"), ("src_country", "source.geo.country_iso_code")];

struct Lowerer<'a> {
    path: &'a Path,
    diagnostics: &'a mut Vec<Diagnostic>,
    options: &'a Options,
}

#[derive(Default)]
struct Modifiers {
    op: Option<String>,
    cased: bool,
    all: bool,
    neq: bool,
    transforms: Vec<Transform>,
    regex_flags: String,
}

impl Lowerer<'_> {
    fn error(&mut self, at: Pos, message: impl Into<String>, hint: Option<&str>) {
        let mut d = Diagnostic::error(self.path, at, message);
        d.hint = hint.map(str::to_owned);
        self.diagnostics.push(d);
    }

    fn selection(&mut self, node: &Node) -> Option<Expr> {
        match &node.kind {
            Kind::Map(entries) if entries.is_empty() => {
                self.error(
                    node.pos,
                    "empty selection",
                    Some("a selection maps field names to values"),
                );
                None
            }
            Kind::Map(entries) => {
                let parts: Vec<Option<Expr>> =
                    entries.iter().map(|(k, v)| self.field_entry(&k.text, k.pos, v)).collect();
                parts.into_iter().collect::<Option<Vec<_>>>().map(Expr::And)
            }
            Kind::Seq(items)
                if !items.is_empty() && items.iter().all(|i| matches!(i.kind, Kind::Map(_))) =>
            {
                let parts: Vec<Option<Expr>> = items.iter().map(|i| self.selection(i)).collect();
                parts.into_iter().collect::<Option<Vec<_>>>().map(Expr::Or)
            }
            Kind::Seq(_) | Kind::Str(_) | Kind::Int(_) if self.options.sigma => self.keywords(node),
            Kind::Seq(_) | Kind::Str(_) => {
                self.error(node.pos, "keyword searches (a selection that is a list of values) are not supported in native rules", Some("name the field: `eventName: [A, B]`"));
                None
            }
            _ => {
                self.error(
                    node.pos,
                    format!(
                        "a selection must be a mapping or a list of mappings, found {}",
                        node.describe()
                    ),
                    None,
                );
                None
            }
        }
    }

    fn modifiers(&mut self, at: Pos, names: &[&str]) -> Option<Modifiers> {
        let mut mods = Modifiers::default();
        let mut ok = true;
        for name in names {
            match *name {
                "cased" => mods.cased = true,
                "all" => mods.all = true,
                "neq" => mods.neq = true,
                flag @ ("i" | "m" | "s") if mods.op.as_deref() == Some("re") => {
                    mods.regex_flags.push_str(flag)
                }
                transform if Transform::parse(transform).is_some() => {
                    mods.transforms.extend(Transform::parse(transform))
                }
                op if MODIFIERS.contains(&op) => {
                    if let Some(previous) = mods.op.replace(op.to_owned()) {
                        self.error(
                            at,
                            format!("modifiers `{previous}` and `{op}` cannot be combined"),
                            None,
                        );
                        ok = false;
                    }
                }
                other => {
                    let hint = format!(
                        "supported modifiers: {}, {}",
                        MODIFIERS.join(", "),
                        QUALIFIERS.join(", ")
                    );
                    self.error(at, format!("unknown modifier `{other}`"), Some(&hint));
                    ok = false;
                }
            }
        }
        ok.then_some(mods)
    }

    fn resolve_field(&self, name: &str) -> Field {
        let mapped = if self.options.sigma {
            SIGMA_FIELDS.iter().find(|(s, _)| *s == name).map(|(_, f)| *f)
        } else {
            None
        };
        Field::resolve(mapped.unwrap_or(name))
    }

    fn field_entry(&mut self, key: &str, at: Pos, value: &Node) -> Option<Expr> {
        let mut parts = key.split('|');
        let name = parts.next().unwrap_or_default().trim();
        if name.is_empty() {
            self.error(at, format!("`{key}` names no field"), None);
            return None;
        }
        let field = self.resolve_field(name);
        let mods = self.modifiers(at, &parts.collect::<Vec<_>>())?;
        if mods.op.as_deref() == Some("exists") {
            return match value.kind {
                Kind::Bool(true) => Some(Expr::pred(field, Test::Exists)),
                Kind::Bool(false) => Some(Expr::pred(field, Test::Exists).not()),
                _ => {
                    self.error(
                        value.pos,
                        format!("`{key}` takes `true` or `false`, found {}", value.describe()),
                        None,
                    );
                    None
                }
            };
        }
        let values: Vec<&Node> = match &value.kind {
            Kind::Seq(items) if items.is_empty() => {
                self.error(value.pos, format!("`{key}` has an empty list of values"), None);
                return None;
            }
            Kind::Seq(items) => items.iter().collect(),
            _ => vec![value],
        };
        let case = if mods.cased { Case::Sensitive } else { Case::Insensitive };
        let mut tests: Vec<Expr> = Vec::new();
        let mut literals: Vec<Literal> = Vec::new();
        for v in values {
            if matches!(v.kind, Kind::Null) {
                if mods.op.is_some() || !mods.transforms.is_empty() {
                    self.error(
                        v.pos,
                        format!("`null` cannot be used with `{key}`"),
                        Some("use `field: null` alone"),
                    );
                    return None;
                }
                tests.push(Expr::pred(field.clone(), Test::Exists).not());
                continue;
            }
            if mods.op.as_deref() == Some("fieldref") {
                let Some(other) = v.scalar_text() else {
                    self.error(
                        v.pos,
                        format!("`{key}` names another field, found {}", v.describe()),
                        None,
                    );
                    return None;
                };
                tests.push(Expr::pred(
                    field.clone(),
                    Test::FieldRef(self.resolve_field(&other), tripline_rule::RefOp::Equals, case),
                ));
                continue;
            }
            // One written value can stand for several (placeholders, dash and base64 variants):
            // any of them matching is a match for the value.
            let variants = self.variants(&mods, key, v)?;
            let mut alternatives = Vec::new();
            for variant in &variants {
                let test = self.value_test(&mods, case, key, variant)?;
                match (test, mods.all || mods.neq) {
                    (Test::Equals(mut lits, c), false) if c == case => literals.append(&mut lits),
                    (test, _) => alternatives.push(Expr::pred(field.clone(), test)),
                }
            }
            let alternatives = Expr::Or(alternatives);
            tests.push(if mods.neq { alternatives.not() } else { alternatives });
        }
        if !literals.is_empty() {
            tests.insert(0, Expr::pred(field, Test::Equals(literals, case)));
        }
        let expr = if mods.all { Expr::And(tests) } else { Expr::Or(tests) };
        Some(self.options.finish(expr))
    }

    /// The values one written value stands for, after `expand`, `windash` and base64.
    fn variants(&mut self, mods: &Modifiers, key: &str, v: &Node) -> Option<Vec<Node>> {
        if mods.transforms.is_empty() {
            return Some(vec![v.clone()]);
        }
        let Some(text) = v.scalar_text() else {
            self.error(
                v.pos,
                format!("`{key}` values must be scalars, found {}", v.describe()),
                None,
            );
            return None;
        };
        match values::apply(&text, &mods.transforms, &self.options.placeholders) {
            Ok(list) => {
                Some(list.into_iter().map(|t| Node { pos: v.pos, kind: Kind::Str(t) }).collect())
            }
            Err(name) => {
                let hint = format!("pass `--placeholder {name}=VALUE[,VALUE…]`");
                self.error(v.pos, format!("placeholder `%{name}%` has no value"), Some(&hint));
                None
            }
        }
    }

    /// A Sigma keyword selection: the values may appear in any field of the record.
    fn keywords(&mut self, node: &Node) -> Option<Expr> {
        let items: Vec<&Node> = match &node.kind {
            Kind::Seq(items) => items.iter().collect(),
            _ => vec![node],
        };
        let field = Field::resolve("tripline.any_value");
        let mut alternatives = Vec::new();
        for item in items {
            let Some(text) = item.scalar_text() else {
                self.error(
                    item.pos,
                    format!("keywords must be scalars, found {}", item.describe()),
                    None,
                );
                return None;
            };
            // A keyword without wildcards matches as a substring of any value.
            let test = match wildcard::plain_text(&text) {
                Some(plain) => Test::Contains(vec![plain], Case::Insensitive),
                None => wildcard::value_test(&text, Case::Insensitive),
            };
            alternatives.push(Expr::pred(field.clone(), test));
        }
        Some(self.options.finish(Expr::Or(alternatives)))
    }

    fn value_test(&mut self, mods: &Modifiers, case: Case, key: &str, v: &Node) -> Option<Test> {
        let Some(text) = v.scalar_text() else {
            self.error(
                v.pos,
                format!("`{key}` values must be scalars, found {}", v.describe()),
                None,
            );
            return None;
        };
        let op = mods.op.as_deref();
        let number = || match v.kind {
            Kind::Int(i) => Some(i as f64),
            Kind::Float(f) => Some(f),
            _ => text.trim().parse().ok(),
        };
        Some(match op {
            None => match v.kind {
                Kind::Int(i) => Test::Equals(vec![Literal::Num(i as f64)], case),
                Kind::Float(f) => Test::Equals(vec![Literal::Num(f)], case),
                Kind::Bool(b) => Test::Equals(vec![Literal::Bool(b)], case),
                _ => wildcard::value_test(&text, case),
            },
            Some(op @ ("contains" | "startswith" | "endswith")) => {
                match wildcard::plain_text(&text) {
                    Some(plain) => match op {
                        "contains" => Test::Contains(vec![plain], case),
                        "startswith" => Test::StartsWith(vec![plain], case),
                        _ => Test::EndsWith(vec![plain], case),
                    },
                    None => {
                        wildcard::open_pattern(&text, case, op == "startswith", op == "endswith")
                    }
                }
            }
            Some("re") => {
                // Sigma's `re` is case-sensitive unless flagged `|i` or the pattern says `(?i)`.
                let pattern = if mods.regex_flags.is_empty() {
                    text
                } else {
                    format!("(?{}){text}", mods.regex_flags)
                };
                if let Err(e) = regex::Regex::new(&pattern) {
                    self.error(v.pos, format!("invalid regular expression `{pattern}`: {e}"), None);
                    return None;
                }
                Test::Regex(vec![pattern])
            }
            Some("cidr") => {
                let parsed = text
                    .parse::<IpNet>()
                    .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from));
                match parsed {
                    Ok(net) => Test::Cidr(vec![net]),
                    Err(_) => {
                        self.error(
                            v.pos,
                            format!("`{text}` is not a CIDR network"),
                            Some("write it like `10.0.0.0/8` or `2001:db8::/32`"),
                        );
                        return None;
                    }
                }
            }
            Some(op @ ("gt" | "gte" | "lt" | "lte")) => {
                let Some(bound) = number() else {
                    self.error(v.pos, format!("`{key}` compares numbers, found `{text}`"), None);
                    return None;
                };
                let op = match op {
                    "gt" => CmpOp::Gt,
                    "gte" => CmpOp::Gte,
                    "lt" => CmpOp::Lt,
                    _ => CmpOp::Lte,
                };
                Test::Compare(op, bound)
            }
            Some(other) => {
                self.error(v.pos, format!("modifier `{other}` does not take values here"), None);
                return None;
            }
        })
    }
}

/// Lowers a `detection:` mapping; `None` (with diagnostics) when anything is wrong.
pub fn lower(
    path: &Path,
    node: &Node,
    diagnostics: &mut Vec<Diagnostic>,
    options: &Options,
) -> Option<Expr> {
    let mut lowerer = Lowerer { path, diagnostics, options };
    let Some(entries) = node.entries() else {
        lowerer.error(
            node.pos,
            format!("`detection` must be a mapping, found {}", node.describe()),
            None,
        );
        return None;
    };
    let mut selections: Vec<(String, Pos, Option<Expr>)> = Vec::new();
    let mut condition: Option<&Node> = None;
    for (key, value) in entries {
        if options.sigma && key.text == "timeframe" {
            let d = Diagnostic::unsupported(
                path,
                key.pos,
                "Sigma's `timeframe`, part of the old aggregation syntax",
            )
            .with_hint(
                "rewrite the rule as a Sigma correlation rule (`correlation:` with `timespan`)",
            );
            lowerer.diagnostics.push(d);
            return None;
        }
        if key.text == "condition" {
            condition = Some(value);
        } else {
            let expr = lowerer.selection(value);
            selections.push((key.text.clone(), key.pos, expr));
        }
    }
    let Some(condition) = condition else {
        lowerer.error(
            node.pos,
            "`detection` has no `condition`",
            Some("add `condition: selection` naming the selections that must match"),
        );
        return None;
    };
    let texts: Vec<(String, Pos)> = match &condition.kind {
        Kind::Str(s) => vec![(s.clone(), condition.pos)],
        Kind::Seq(items) => {
            items.iter().map(|i| (i.scalar_text().unwrap_or_default(), i.pos)).collect()
        }
        _ => {
            lowerer.error(
                condition.pos,
                format!("`condition` must be a string, found {}", condition.describe()),
                None,
            );
            return None;
        }
    };
    let mut used = BTreeSet::new();
    let mut exprs = Vec::new();
    let mut failed = selections.iter().any(|s| s.2.is_none());
    let mut condition_failed = false;
    let named = Selections {
        by_name: selections.iter().enumerate().map(|(i, s)| (s.0.as_str(), i)).collect(),
        list: &selections,
    };
    for (text, pos) in texts {
        match condition::parse(&text) {
            Ok(cond) => match resolve(&cond, &named, &mut used) {
                Ok(expr) => exprs.push(expr),
                Err(message) => {
                    lowerer.error(pos, message, None);
                    condition_failed = true;
                }
            },
            Err(e) => {
                lowerer.error(pos, format!("invalid condition `{}`: {e}", shortened(&text)), None);
                condition_failed = true;
            }
        }
    }
    failed |= condition_failed;
    // A condition that did not resolve says nothing of which selections it uses: the error
    // is the one thing to fix, not a warning about a selection it does name.
    for (name, pos, _) in selections.iter().filter(|_| !condition_failed) {
        if !used.contains(name) {
            lowerer.diagnostics.push(Diagnostic::warning(
                path,
                *pos,
                format!("selection `{name}` is not used by the condition"),
            ));
        }
    }
    if failed {
        return None;
    }
    Some(options.finish(Expr::Or(exprs)))
}

/// A condition's text as messages quote it: a condition of thousands of terms is cut short.
fn shortened(text: &str) -> String {
    const QUOTED: usize = 80;
    match text.char_indices().nth(QUOTED) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

/// A detection's selections, in file order and by name (a condition may name thousands).
struct Selections<'s> {
    list: &'s [(String, Pos, Option<Expr>)],
    by_name: HashMap<&'s str, usize>,
}

fn resolve(
    cond: &Cond,
    named: &Selections<'_>,
    used: &mut BTreeSet<String>,
) -> Result<Expr, String> {
    let selections = named.list;
    Ok(match cond {
        Cond::Name(name) => {
            let Some((_, _, expr)) = named.by_name.get(name.as_str()).map(|&i| &selections[i])
            else {
                let known: Vec<&str> = selections.iter().take(20).map(|s| s.0.as_str()).collect();
                let more = if selections.len() > known.len() { ", …" } else { "" };
                return Err(format!(
                    "the condition names `{name}`, which is not a selection (selections: {}{more})",
                    known.join(", ")
                ));
            };
            used.insert(name.clone());
            expr.clone().unwrap_or(Expr::Const(false))
        }
        Cond::And(parts) => {
            Expr::And(parts.iter().map(|c| resolve(c, named, used)).collect::<Result<_, _>>()?)
        }
        Cond::Or(parts) => {
            Expr::Or(parts.iter().map(|c| resolve(c, named, used)).collect::<Result<_, _>>()?)
        }
        Cond::Not(a) => resolve(a, named, used)?.not(),
        Cond::Of { all, pattern } => {
            let them = pattern == "*";
            let matched: Vec<Expr> = selections
                .iter()
                .filter(|(name, _, _)| {
                    name_matches(pattern, name) && !(them && name.starts_with('_'))
                })
                .map(|(name, _, expr)| {
                    used.insert(name.clone());
                    expr.clone().unwrap_or(Expr::Const(false))
                })
                .collect();
            if matched.is_empty() {
                return Err(format!("`{pattern}` matches no selection"));
            }
            if *all {
                Expr::And(matched)
            } else {
                Expr::Or(matched)
            }
        }
    })
}
