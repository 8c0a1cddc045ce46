//! Reading an Elastic rule's TOML: typed look-ups by key path, and positions for messages
//! (the `toml` crate's tables carry no spans, so keys are found in the text).

use std::path::Path;

use toml::{Table, Value};

use crate::diagnostic::Diagnostic;
use crate::yaml::Pos;

pub(super) struct Doc<'a> {
    pub(super) path: &'a Path,
    text: &'a str,
    table: Table,
}

impl<'a> Doc<'a> {
    pub(super) fn parse(path: &'a Path, text: &'a str) -> Result<Self, Diagnostic> {
        match text.parse::<Table>() {
            Ok(table) => Ok(Self { path, text, table }),
            Err(e) => {
                let offset = e.span().map_or(0, |s| s.start);
                Err(Diagnostic::error(
                    path,
                    pos_at(text, offset),
                    format!("invalid TOML: {}", e.message()),
                ))
            }
        }
    }

    fn get(&self, keys: &[&str]) -> Option<&Value> {
        let (first, rest) = keys.split_first()?;
        let mut value = self.table.get(*first)?;
        for key in rest {
            value = value.get(key)?;
        }
        Some(value)
    }

    pub(super) fn has(&self, keys: &[&str]) -> bool {
        self.get(keys).is_some()
    }

    pub(super) fn str(&self, keys: &[&str]) -> Option<&str> {
        self.get(keys).and_then(Value::as_str)
    }

    pub(super) fn int(&self, keys: &[&str]) -> Option<i64> {
        self.get(keys).and_then(Value::as_integer)
    }

    pub(super) fn strings(&self, keys: &[&str]) -> Vec<String> {
        match self.get(keys) {
            Some(Value::Array(items)) => {
                items.iter().filter_map(Value::as_str).map(str::to_owned).collect()
            }
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        }
    }

    pub(super) fn table(&self, keys: &[&str]) -> Option<&Table> {
        self.get(keys).and_then(Value::as_table)
    }

    /// An array of tables (`[[rule.threat]]`), or one table, as a list.
    pub(super) fn tables(&self, keys: &[&str]) -> Vec<&Table> {
        match self.get(keys) {
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_table).collect(),
            Some(Value::Table(t)) => vec![t],
            _ => Vec::new(),
        }
    }

    /// Where `key = …` (or `[rule.key]`) first appears.
    pub(super) fn pos_of(&self, key: &str) -> Pos {
        let mut offset = 0;
        for line in self.text.split_inclusive('\n') {
            let trimmed = line.trim_start();
            let assigns =
                trimmed.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with('='));
            if assigns || trimmed.starts_with(&format!("[rule.{key}")) {
                return pos_at(self.text, offset + (line.len() - trimmed.len()));
            }
            offset += line.len();
        }
        Pos { line: 1, column: 1 }
    }

    /// The position of character `at` inside the string value of `key`.
    pub(super) fn pos_in_string(&self, key: &str, value: &str, at: usize) -> Pos {
        let start = self.pos_of(key);
        let Some(line_text) = self.text.lines().nth(start.line.saturating_sub(1)) else {
            return start;
        };
        // A multi-line string starting right after its quotes begins on the next line.
        let multiline = line_text.contains("'''") || line_text.contains("\"\"\"");
        let before: String = value.chars().take(at).collect();
        let lines_before = before.matches('\n').count();
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Pos { line: start.line + usize::from(multiline) + lines_before, column }
    }
}

fn pos_at(text: &str, offset: usize) -> Pos {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Pos { line, column }
}
