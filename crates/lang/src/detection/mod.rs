//! The Sigma-style `detection:` block: named selections and a condition over them, lowered
//! to one [`Expr`]. Shared by the native format and (later) Sigma itself.

pub mod condition;
pub mod wildcard;

use std::collections::BTreeSet;
use std::path::Path;

use ipnet::IpNet;
use tripline_event::Field;
use tripline_rule::{passes, Case, CmpOp, Expr, Literal, Test};

use crate::diagnostic::Diagnostic;
use crate::yaml::{Kind, Node, Pos};
use condition::{name_matches, Cond};

/// The modifiers the detection syntax understands.
pub const MODIFIERS: &[&str] =
    &["contains", "startswith", "endswith", "re", "cidr", "exists", "gt", "gte", "lt", "lte", "cased", "all"];

struct Lowerer<'a> {
    path: &'a Path,
    diagnostics: &'a mut Vec<Diagnostic>,
}

#[derive(Default)]
struct Modifiers {
    op: Option<String>,
    cased: bool,
    all: bool,
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
                self.error(node.pos, "empty selection", Some("a selection maps field names to values"));
                None
            }
            Kind::Map(entries) => {
                let parts: Vec<Option<Expr>> = entries.iter().map(|(k, v)| self.field_entry(&k.text, k.pos, v)).collect();
                parts.into_iter().collect::<Option<Vec<_>>>().map(Expr::And)
            }
            Kind::Seq(items) if !items.is_empty() && items.iter().all(|i| matches!(i.kind, Kind::Map(_))) => {
                let parts: Vec<Option<Expr>> = items.iter().map(|i| self.selection(i)).collect();
                parts.into_iter().collect::<Option<Vec<_>>>().map(Expr::Or)
            }
            Kind::Seq(_) | Kind::Str(_) => {
                self.error(node.pos, "keyword searches (a selection that is a list of values) are not supported in native rules", Some("name the field: `eventName: [A, B]`"));
                None
            }
            _ => {
                self.error(node.pos, format!("a selection must be a mapping or a list of mappings, found {}", node.describe()), None);
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
                op if MODIFIERS.contains(&op) => {
                    if let Some(previous) = mods.op.replace(op.to_owned()) {
                        self.error(at, format!("modifiers `{previous}` and `{op}` cannot be combined"), None);
                        ok = false;
                    }
                }
                other => {
                    let hint = format!("supported modifiers: {}", MODIFIERS.join(", "));
                    self.error(at, format!("unknown modifier `{other}`"), Some(&hint));
                    ok = false;
                }
            }
        }
        ok.then_some(mods)
    }

    fn field_entry(&mut self, key: &str, at: Pos, value: &Node) -> Option<Expr> {
        let mut parts = key.split('|');
        let name = parts.next().unwrap_or_default().trim();
        if name.is_empty() {
            self.error(at, format!("`{key}` names no field"), None);
            return None;
        }
        let field = Field::resolve(name);
        let mods = self.modifiers(at, &parts.collect::<Vec<_>>())?;
        if mods.op.as_deref() == Some("exists") {
            return match value.kind {
                Kind::Bool(true) => Some(Expr::pred(field, Test::Exists)),
                Kind::Bool(false) => Some(Expr::pred(field, Test::Exists).not()),
                _ => {
                    self.error(value.pos, format!("`{key}` takes `true` or `false`, found {}", value.describe()), None);
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
                if mods.op.is_some() {
                    self.error(v.pos, format!("`null` cannot be used with `{key}`"), Some("use `field: null` alone"));
                    return None;
                }
                tests.push(Expr::pred(field.clone(), Test::Exists).not());
                continue;
            }
            let test = self.value_test(&mods, case, key, v)?;
            // Plain equalities merge into one test, so a list of event names stays indexable.
            match (test, mods.all) {
                (Test::Equals(mut lits, c), false) if c == case => literals.append(&mut lits),
                (test, _) => tests.push(Expr::pred(field.clone(), test)),
            }
        }
        if !literals.is_empty() {
            tests.insert(0, Expr::pred(field, Test::Equals(literals, case)));
        }
        let expr = if mods.all { Expr::And(tests) } else { Expr::Or(tests) };
        Some(passes::simplify(expr))
    }

    fn value_test(&mut self, mods: &Modifiers, case: Case, key: &str, v: &Node) -> Option<Test> {
        let Some(text) = v.scalar_text() else {
            self.error(v.pos, format!("`{key}` values must be scalars, found {}", v.describe()), None);
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
            Some(op @ ("contains" | "startswith" | "endswith")) => match wildcard::plain_text(&text) {
                Some(plain) => match op {
                    "contains" => Test::Contains(vec![plain], case),
                    "startswith" => Test::StartsWith(vec![plain], case),
                    _ => Test::EndsWith(vec![plain], case),
                },
                None => Test::Regex(vec![wildcard::anchored_regex(&text, case, op == "startswith", op == "endswith")]),
            },
            Some("re") => {
                if let Err(e) = regex::Regex::new(&text) {
                    self.error(v.pos, format!("invalid regular expression `{text}`: {e}"), None);
                    return None;
                }
                // Sigma's `re` is case-sensitive unless the pattern says `(?i)`.
                Test::Regex(vec![text])
            }
            Some("cidr") => {
                let parsed = text.parse::<IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from));
                match parsed {
                    Ok(net) => Test::Cidr(vec![net]),
                    Err(_) => {
                        self.error(v.pos, format!("`{text}` is not a CIDR network"), Some("write it like `10.0.0.0/8` or `2001:db8::/32`"));
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
pub fn lower(path: &Path, node: &Node, diagnostics: &mut Vec<Diagnostic>) -> Option<Expr> {
    let mut lowerer = Lowerer { path, diagnostics };
    let Some(entries) = node.entries() else {
        lowerer.error(node.pos, format!("`detection` must be a mapping, found {}", node.describe()), None);
        return None;
    };
    let mut selections: Vec<(String, Pos, Option<Expr>)> = Vec::new();
    let mut condition: Option<&Node> = None;
    for (key, value) in entries {
        if key.text == "condition" {
            condition = Some(value);
        } else {
            let expr = lowerer.selection(value);
            selections.push((key.text.clone(), key.pos, expr));
        }
    }
    let Some(condition) = condition else {
        lowerer.error(node.pos, "`detection` has no `condition`", Some("add `condition: selection` naming the selections that must match"));
        return None;
    };
    let texts: Vec<(String, Pos)> = match &condition.kind {
        Kind::Str(s) => vec![(s.clone(), condition.pos)],
        Kind::Seq(items) => items.iter().map(|i| (i.scalar_text().unwrap_or_default(), i.pos)).collect(),
        _ => {
            lowerer.error(condition.pos, format!("`condition` must be a string, found {}", condition.describe()), None);
            return None;
        }
    };
    let mut used = BTreeSet::new();
    let mut exprs = Vec::new();
    let mut failed = selections.iter().any(|s| s.2.is_none());
    for (text, pos) in texts {
        match condition::parse(&text) {
            Ok(cond) => match resolve(&cond, &selections, &mut used) {
                Ok(expr) => exprs.push(expr),
                Err(message) => {
                    lowerer.error(pos, message, None);
                    failed = true;
                }
            },
            Err(e) => {
                lowerer.error(pos, format!("invalid condition `{text}`: {e}"), None);
                failed = true;
            }
        }
    }
    for (name, pos, _) in &selections {
        if !used.contains(name) {
            lowerer.diagnostics.push(Diagnostic::warning(path, *pos, format!("selection `{name}` is not used by the condition")));
        }
    }
    if failed {
        return None;
    }
    Some(passes::simplify(Expr::Or(exprs)))
}

fn resolve(cond: &Cond, selections: &[(String, Pos, Option<Expr>)], used: &mut BTreeSet<String>) -> Result<Expr, String> {
    Ok(match cond {
        Cond::Name(name) => {
            let Some((_, _, expr)) = selections.iter().find(|s| &s.0 == name) else {
                let known: Vec<&str> = selections.iter().map(|s| s.0.as_str()).collect();
                return Err(format!("the condition names `{name}`, which is not a selection (selections: {})", known.join(", ")));
            };
            used.insert(name.clone());
            expr.clone().unwrap_or(Expr::Const(false))
        }
        Cond::And(a, b) => Expr::And(vec![resolve(a, selections, used)?, resolve(b, selections, used)?]),
        Cond::Or(a, b) => Expr::Or(vec![resolve(a, selections, used)?, resolve(b, selections, used)?]),
        Cond::Not(a) => resolve(a, selections, used)?.not(),
        Cond::Of { all, pattern } => {
            let them = pattern == "*";
            let matched: Vec<Expr> = selections
                .iter()
                .filter(|(name, _, _)| name_matches(pattern, name) && !(them && name.starts_with('_')))
                .map(|(name, _, expr)| {
                    used.insert(name.clone());
                    expr.clone().unwrap_or(Expr::Const(false))
                })
                .collect();
            if matched.is_empty() {
                return Err(format!("`{pattern}` matches no selection"));
            }
            if *all { Expr::And(matched) } else { Expr::Or(matched) }
        }
    })
}
