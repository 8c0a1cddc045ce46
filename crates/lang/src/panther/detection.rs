//! Panther's match expressions (`Detection:`, `InlineFilters:`, `DynamicSeverities:`).

use std::path::Path;

use ipnet::IpNet;
use tripline_event::Field;
use tripline_rule::{Case, CmpOp, Expr, Literal, Quantifier, RefOp, Severity, Test};

use crate::diagnostic::Diagnostic;
use crate::yaml::{Kind, Node};

/// Ranges Python's `ipaddress` calls private (Panther's `IsIPAddressPrivate`).
const PRIVATE: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/29",
    "192.0.0.170/31",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "240.0.0.0/4",
    "255.255.255.255/32",
    "::1/128",
    "::/128",
    "::ffff:0:0/96",
    "100::/64",
    "2001::/23",
    "2001:db8::/32",
    "2001:10::/28",
    "fc00::/7",
    "fe80::/10",
];

pub(super) struct Lowering<'a> {
    pub(super) path: &'a Path,
    pub(super) diagnostics: &'a mut Vec<Diagnostic>,
}

fn nets(list: &[&str]) -> Vec<IpNet> {
    list.iter().filter_map(|n| n.parse().ok()).collect()
}

fn literal(node: &Node) -> Option<Literal> {
    Some(match &node.kind {
        Kind::Int(i) => Literal::Num(*i as f64),
        Kind::Float(f) => Literal::Num(*f),
        Kind::Bool(b) => Literal::Bool(*b),
        Kind::Str(s) => Literal::Str(s.clone()),
        _ => return None,
    })
}

impl Lowering<'_> {
    fn error(&mut self, node: &Node, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::error(self.path, node.pos, message));
    }

    /// `Key`, `DeepKey` or `KeyPath` as a field looked up without regard to case.
    fn key(&mut self, node: &Node) -> Option<Field> {
        let path = if let Some(key) = node.get("Key") {
            key.scalar_text()?
        } else if let Some(Node { kind: Kind::Seq(parts), .. }) = node.get("DeepKey") {
            parts.iter().filter_map(Node::scalar_text).collect::<Vec<_>>().join(".")
        } else if let Some(path) = node.get("KeyPath") {
            // `a.b[*].c` crosses the list like any path; `[0]` indexes it.
            path.scalar_text()?.replace("[*]", "").replace('[', ".").replace(']', "")
        } else {
            return None;
        };
        Some(Field::path(&path).ignoring_case())
    }

    pub(super) fn key_list(&mut self, node: &Node) -> Vec<Field> {
        match &node.kind {
            Kind::Seq(items) => items.iter().filter_map(|i| self.key(i)).collect(),
            _ => Vec::new(),
        }
    }

    pub(super) fn alert_context(&mut self, node: &Node) -> Vec<(String, Field)> {
        let Kind::Seq(items) = &node.kind else { return Vec::new() };
        items
            .iter()
            .filter_map(|item| {
                let name = item.get("KeyName").and_then(Node::scalar_text)?;
                let field = item.get("KeyValue").and_then(|v| self.key(v))?;
                Some((name, field))
            })
            .collect()
    }

    pub(super) fn dynamic_severities(&mut self, node: &Node) -> Vec<(Severity, Expr)> {
        let Kind::Seq(items) = &node.kind else { return Vec::new() };
        let mut out = Vec::new();
        for item in items {
            let change_to = item.get("ChangeTo");
            let severity =
                change_to.and_then(Node::scalar_text).and_then(|s| match s.parse::<Severity>() {
                    Ok(severity) => Some(severity),
                    Err(e) => {
                        self.error(change_to.expect("ChangeTo was read"), e);
                        None
                    }
                });
            if change_to.is_some() && severity.is_none() {
                continue;
            }
            let condition = item.get("Conditions").and_then(|c| self.expr(c));
            match (severity, condition) {
                (Some(s), Some(c)) => out.push((s, c)),
                _ => self.error(
                    item,
                    "a dynamic severity needs `ChangeTo` (a severity) and `Conditions`",
                ),
            }
        }
        out
    }

    /// A list of expressions (all must hold) or one expression.
    pub(super) fn expr(&mut self, node: &Node) -> Option<Expr> {
        match &node.kind {
            Kind::Seq(items) => {
                items.iter().map(|i| self.expr(i)).collect::<Option<Vec<_>>>().map(Expr::And)
            }
            Kind::Map(_) => self.one(node),
            _ => {
                self.error(
                    node,
                    format!("a match expression must be a mapping, found {}", node.describe()),
                );
                None
            }
        }
    }

    fn combinator(&mut self, node: &Node, name: &str, items: &Node) -> Option<Expr> {
        let Kind::Seq(list) = &items.kind else {
            self.error(node, format!("`{name}` takes a list of expressions"));
            return None;
        };
        let children = list.iter().map(|i| self.expr(i)).collect::<Option<Vec<_>>>()?;
        Some(match name {
            "All" => Expr::And(children),
            "Any" => Expr::Or(children),
            "None" => Expr::Or(children).not(),
            _ => {
                // OnlyOne: exactly one child holds.
                let alternatives = (0..children.len())
                    .map(|i| {
                        let mut parts = vec![children[i].clone()];
                        parts.extend(
                            children
                                .iter()
                                .enumerate()
                                .filter(|(j, _)| *j != i)
                                .map(|(_, c)| c.clone().not()),
                        );
                        Expr::And(parts)
                    })
                    .collect();
                Expr::Or(alternatives)
            }
        })
    }

    fn one(&mut self, node: &Node) -> Option<Expr> {
        for name in ["All", "Any", "OnlyOne", "None"] {
            if let Some(items) = node.get(name) {
                return self.combinator(node, name, items);
            }
        }
        let Some(condition) = node.get("Condition").and_then(Node::scalar_text) else {
            self.error(
                node,
                "a match expression needs a `Condition` (or `All`/`Any`/`OnlyOne`/`None`)",
            );
            return None;
        };
        match condition.as_str() {
            "AlwaysTrue" => return Some(Expr::Const(true)),
            "AlwaysFalse" => return Some(Expr::Const(false)),
            _ => {}
        }
        if let Some(Node { kind: Kind::Seq(keys), .. }) = node
            .get("Values")
            .filter(|v| matches!(&v.kind, Kind::Seq(k) if k.iter().all(|x| x.entries().is_some())))
        {
            return self.multi_key(node, &condition, keys);
        }
        let Some(field) = self.key(node) else {
            self.error(node, "a match expression needs `Key`, `DeepKey` or `KeyPath`");
            return None;
        };
        self.condition(node, field, &condition)
    }

    /// Two keys compared with each other: `Values: [{Key: a}, {DeepKey: [b, c]}]`.
    fn multi_key(&mut self, node: &Node, condition: &str, keys: &[Node]) -> Option<Expr> {
        let fields: Vec<Field> = keys.iter().filter_map(|k| self.key(k)).collect();
        let [left, right] = fields.as_slice() else {
            self.error(node, "a multi-key comparison takes exactly two keys");
            return None;
        };
        // The same conditions as for a value, with the second key's value as the operand.
        let (insensitive, rest) = match condition.strip_prefix('I') {
            Some(rest) if !condition.starts_with("Is") => (true, rest),
            _ => (false, condition),
        };
        let (negated, base) = match rest.strip_prefix("DoesNot") {
            Some(base) => (true, base),
            None => (false, rest),
        };
        let op = match base {
            "Equal" | "Equals" => RefOp::Equals,
            "StartWith" | "StartsWith" => RefOp::StartsWith,
            "EndWith" | "EndsWith" => RefOp::EndsWith,
            "Contain" | "Contains" => RefOp::Contains,
            "IsGreaterThan" => RefOp::Compare(CmpOp::Gt),
            "IsGreaterThanOrEquals" => RefOp::Compare(CmpOp::Gte),
            "IsLessThan" => RefOp::Compare(CmpOp::Lt),
            "IsLessThanOrEquals" => RefOp::Compare(CmpOp::Lte),
            other => {
                self.error(node, format!("`{other}` cannot compare two keys"));
                return None;
            }
        };
        let case = if insensitive { Case::Insensitive } else { Case::Sensitive };
        let compared = Expr::pred(left.clone(), Test::FieldRef(right.clone(), op, case));
        Some(if negated { compared.not() } else { compared })
    }

    fn values(&mut self, node: &Node, condition: &str) -> Option<Vec<Literal>> {
        let list: Vec<&Node> = match (node.get("Value"), node.get("Values")) {
            (Some(v), _) => vec![v],
            (None, Some(Node { kind: Kind::Seq(items), .. })) => items.iter().collect(),
            _ => {
                self.error(node, format!("`{condition}` needs a `Value` (or `Values`)"));
                return None;
            }
        };
        let literals: Option<Vec<Literal>> = list.iter().map(|n| literal(n)).collect();
        if literals.is_none() {
            self.error(node, format!("`{condition}` values must be scalars"));
        }
        literals
    }

    fn text_values(&mut self, node: &Node, condition: &str) -> Option<Vec<String>> {
        Some(
            self.values(node, condition)?
                .into_iter()
                .map(|l| match l {
                    Literal::Str(s) => s,
                    Literal::Num(n) => n.to_string(),
                    Literal::Bool(b) => b.to_string(),
                })
                .collect(),
        )
    }

    fn condition(&mut self, node: &Node, field: Field, condition: &str) -> Option<Expr> {
        let exists = Expr::pred(field.clone(), Test::Exists);
        let pred = |test: Test| Expr::pred(field.clone(), test);
        match condition {
            "Exists" | "IsNotNull" | "IsNotNullOrEmpty" => return Some(exists),
            "DoesNotExist" | "IsNull" | "IsNullOrEmpty" => return Some(exists.not()),
            "IsGreaterThan" | "IsGreaterThanOrEquals" | "IsLessThan" | "IsLessThanOrEquals" => {
                let bound = match self.values(node, condition)?.first() {
                    Some(Literal::Num(n)) => *n,
                    Some(Literal::Str(s)) if s.parse::<f64>().is_ok() => {
                        s.parse().unwrap_or_default()
                    }
                    _ => {
                        self.error(node, format!("`{condition}` compares with a number"));
                        return None;
                    }
                };
                let op = match condition {
                    "IsGreaterThan" => CmpOp::Gt,
                    "IsGreaterThanOrEquals" => CmpOp::Gte,
                    "IsLessThan" => CmpOp::Lt,
                    _ => CmpOp::Lte,
                };
                return Some(pred(Test::Compare(op, bound)));
            }
            "IsIPAddress" => return Some(pred(Test::Cidr(nets(&["0.0.0.0/0", "::/0"])))),
            "IsIPAddressPrivate" => return Some(pred(Test::Cidr(nets(PRIVATE)))),
            "IsIPAddressPublic" => {
                return Some(Expr::And(vec![
                    pred(Test::Cidr(nets(&["0.0.0.0/0", "::/0"]))),
                    pred(Test::Cidr(nets(PRIVATE))).not(),
                ]));
            }
            "IsIPAddressInCIDR" | "IsIPAddressNotInCIDR" => {
                let parsed: Option<Vec<IpNet>> =
                    self.text_values(node, condition)?.iter().map(|c| c.parse().ok()).collect();
                let Some(networks) = parsed else {
                    self.error(node, format!("`{condition}` needs CIDR networks"));
                    return None;
                };
                let test = pred(Test::Cidr(networks));
                return Some(if condition == "IsIPAddressNotInCIDR" { test.not() } else { test });
            }
            "AnyElement" | "AllElements" | "NoElement" => {
                let quantifier = match condition {
                    "AnyElement" => Quantifier::Any,
                    "AllElements" => Quantifier::All,
                    _ => Quantifier::None,
                };
                let Some(expressions) = node.get("Expressions") else {
                    self.error(node, format!("`{condition}` needs `Expressions`"));
                    return None;
                };
                let inner = self.expr(expressions)?;
                return Some(Expr::Elements { field, quantifier, expr: Box::new(inner) });
            }
            _ => {}
        }
        // The string and equality family: an `I` prefix ignores case (`IEquals`, `IIsIn`),
        // `DoesNot`/`IsNot` negate (`DoesNotEqual`, `IsNotIn`).
        let (insensitive, rest) = match condition.strip_prefix('I') {
            Some(rest) if !condition.starts_with("Is") => (true, rest),
            _ => (false, condition),
        };
        let (negated, base) = match rest.strip_prefix("DoesNot") {
            Some(base) => (true, base),
            None => match rest.strip_prefix("IsNot") {
                Some(base) => (true, base),
                None => (false, rest),
            },
        };
        self.finish(node, &field, base, negated, insensitive)
    }

    /// The string and equality conditions, possibly negated and case-insensitive.
    fn finish(
        &mut self,
        node: &Node,
        field: &Field,
        base: &str,
        negated: bool,
        insensitive: bool,
    ) -> Option<Expr> {
        let case = if insensitive { Case::Insensitive } else { Case::Sensitive };
        let condition = format!(
            "{}{}{base}",
            if insensitive { "I" } else { "" },
            if negated { "DoesNot" } else { "" }
        );
        let test = match base {
            "Equals" | "Equal" | "IsIn" | "In" => {
                Test::Equals(self.values(node, &condition)?, case)
            }
            "StartWith" | "StartsWith" => {
                Test::StartsWith(self.text_values(node, &condition)?, case)
            }
            "EndWith" | "EndsWith" => Test::EndsWith(self.text_values(node, &condition)?, case),
            "Contain" | "Contains" => Test::Contains(self.text_values(node, &condition)?, case),
            "Exist" | "Exists" => Test::Exists,
            other => {
                self.error(node, format!("unknown Panther condition `{other}`"));
                return None;
            }
        };
        let expr = Expr::pred(field.clone(), test);
        Some(if negated { expr.not() } else { expr })
    }
}
