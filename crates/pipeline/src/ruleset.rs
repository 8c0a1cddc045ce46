//! Loading rules: the built-in pack compiled into the binary, plus any files or folders given.
//! One bad file never stops the others; every diagnostic is kept.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tripline_lang::{Diagnostic, Level, Options};
use tripline_rule::Rule;

include!(concat!(env!("OUT_DIR"), "/builtin_rules.rs"));

/// Where rules come from: what a command was told, merged from flags and the configuration.
#[derive(Debug, Clone, Default)]
pub struct RuleSources {
    /// Rule files or folders, in order (the configuration's first, then the flags').
    pub paths: Vec<PathBuf>,
    /// Leave the built-in pack out.
    pub no_builtin: bool,
    /// Values for Sigma `%placeholders%`: (name, values).
    pub placeholders: Vec<(String, Vec<String>)>,
    /// Elastic exception-list exports (NDJSON).
    pub exceptions: Vec<PathBuf>,
    /// Suppression files or folders.
    pub suppressions: Vec<PathBuf>,
    /// Rules turned off and on.
    pub toggles: crate::toggle::Toggles,
}

/// Parses `NAME=V1,V2` (the `--placeholder` flag's form).
///
/// # Errors
/// When the text has no `=` or names no placeholder.
pub fn parse_placeholder(text: &str) -> Result<(String, Vec<String>), String> {
    let (name, values) =
        text.split_once('=').ok_or_else(|| format!("`{text}` is not NAME=VALUE[,VALUE…]"))?;
    let name = name.trim().trim_matches('%');
    if name.is_empty() {
        return Err(format!("`{text}` names no placeholder"));
    }
    Ok((name.to_owned(), values.split(',').map(|v| v.trim().to_owned()).collect()))
}

/// Rules loaded, and what went wrong.
#[derive(Default)]
pub struct RuleSet {
    /// The rules, built-in ones first.
    pub rules: Vec<Arc<Rule>>,
    /// Every diagnostic, of every file.
    pub diagnostics: Vec<Diagnostic>,
    /// Files whose rules were refused.
    pub refused_files: usize,
    /// Files holding a rule Tripline does not run (EQL, Sigma's old aggregations, …).
    pub unsupported_files: usize,
    /// How many of `rules` are built in.
    pub builtin: usize,
    /// Suppressions: from suppression files, Sigma meta filters and Elastic exception lists.
    pub suppressions: Vec<tripline_rule::Suppression>,
    /// For each of `rules`, why it is off (`None`: on).
    pub off: Vec<Option<String>>,
    /// Warnings about the toggles (selectors that name no rule).
    pub toggle_warnings: Vec<String>,
    /// Per format: rules loaded, loaded with warnings, files unsupported, files refused.
    by_format: std::collections::BTreeMap<&'static str, [usize; 4]>,
}

impl RuleSet {
    /// Whether a file was refused.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.refused_files > 0
    }

    /// Every diagnostic, then (unless `quiet`, and always when a file was refused) the load
    /// summary: a line per format when there are several, and the totals.
    #[must_use]
    pub fn report(&self, quiet: bool, verbose: bool) -> Vec<String> {
        let (unsupported, others): (Vec<&Diagnostic>, Vec<&Diagnostic>) =
            self.diagnostics.iter().partition(|d| d.level == Level::Unsupported);
        let mut lines: Vec<String> = others.iter().map(ToString::to_string).collect();
        lines.extend(self.toggle_warnings.iter().cloned());
        if verbose {
            lines.extend(unsupported.iter().map(ToString::to_string));
        } else if !quiet {
            // Dozens of rules of a kind Tripline does not run (Elastic's EQL, ES|QL, machine
            // learning) would bury every other line on every run: one line per kind.
            let mut kinds: std::collections::BTreeMap<&str, usize> = Default::default();
            for d in &unsupported {
                *kinds.entry(d.message.as_str()).or_insert(0) += 1;
            }
            for (message, n) in kinds {
                lines.push(format!("unsupported: {n} rule file(s): {message}"));
            }
            if !unsupported.is_empty() {
                lines.push(
                    "  hint: -v lists them, as does `tripline rules list --unsupported`".into(),
                );
            }
        }
        let warned = self.diagnostics.iter().filter(|d| d.level == Level::Warning).count();
        if !quiet || self.has_errors() {
            if self.by_format.len() > 1 {
                for (format, [loaded, warned, unsupported, refused]) in &self.by_format {
                    lines.push(format!(
                        "  {format}: {loaded} loaded ({warned} with warnings), {unsupported} unsupported, {refused} refused"
                    ));
                }
            }
            let kinds: Vec<String> = self.kinds().iter().map(|(k, n)| format!("{k} {n}")).collect();
            let off = self.off.iter().flatten().count();
            let off = if off > 0 { format!(", {off} disabled") } else { String::new() };
            lines.push(format!(
                "rules: {} loaded ({} built-in; {}{off}), {} warning(s), {} unsupported, {} file(s) refused",
                self.rules.len(),
                self.builtin,
                kinds.join(", "),
                warned,
                self.unsupported_files,
                self.refused_files
            ));
        }
        lines
    }

    /// How many rules of each format and type were loaded.
    #[must_use]
    pub fn kinds(&self) -> std::collections::BTreeMap<String, usize> {
        let mut kinds = std::collections::BTreeMap::new();
        for rule in &self.rules {
            *kinds.entry(rule.meta.kind.to_string()).or_insert(0) += 1;
        }
        kinds
    }

    fn add_file(&mut self, path: &Path, text: &str, seen: &mut HashSet<String>, options: &Options) {
        let loaded = tripline_lang::compile(path, text, options);
        let format = loaded.frontend.name();
        let warned = loaded.diagnostics.iter().any(|d| d.level == Level::Warning);
        let before = self.rules.len();
        let mut replaced = 0;
        let stats = self.by_format.entry(format).or_default();
        if loaded.has_errors() {
            self.refused_files += 1;
            stats[3] += 1;
        } else if loaded.is_unsupported() {
            self.unsupported_files += 1;
            stats[2] += 1;
        }
        self.diagnostics.extend(loaded.diagnostics);
        self.suppressions.extend(loaded.suppressions);
        for rule in loaded.rules {
            if let Err((field, message)) = tripline_engine::check(&rule) {
                self.refused_files += 1;
                self.by_format.entry(format).or_default()[3] += 1;
                self.diagnostics.push(
                    Diagnostic::error(
                        path,
                        first_mention(text, &field),
                        format!("rule `{}` cannot run: `{field}`: {message}", rule.meta.id),
                    )
                    .with_hint("the rule is left out; the other rules still run"),
                );
                continue;
            }
            // A rule given with --rules replaces the built-in rule of the same id (a newer
            // version of a vendor rule the pack reproduces, say).
            let builtin_twin =
                self.rules[..self.builtin].iter().position(|r| r.meta.id == rule.meta.id);
            if let Some(twin) = builtin_twin.filter(|_| seen.contains(&rule.meta.id)) {
                let at = tripline_lang::native::file_start();
                // A copy that cannot run (Python logic, a disabled rule) does not displace a
                // built-in reproduction that does.
                let (message, replace) = if rule.scope == tripline_rule::Scope::Inactive {
                    (format!("rule `{}` is also built in; the built-in rule is kept because this copy never runs", rule.meta.id), false)
                } else {
                    (
                        format!(
                            "rule `{}` replaces the built-in rule of the same id",
                            rule.meta.id
                        ),
                        true,
                    )
                };
                self.diagnostics.push(
                    Diagnostic::warning(path, at, message)
                        .with_hint("pass --no-builtin to leave the built-in pack out altogether"),
                );
                if replace {
                    self.rules[twin] = Arc::new(rule);
                    replaced += 1;
                }
                continue;
            }
            if !seen.insert(rule.meta.id.clone()) {
                self.refused_files += 1;
                self.by_format.entry(format).or_default()[3] += 1;
                let d = Diagnostic::error(
                    path,
                    tripline_lang::native::file_start(),
                    format!("rule id `{}` is already loaded; this copy is ignored", rule.meta.id),
                )
                .with_hint(
                    "give each rule a unique id, or pass --no-builtin to replace the built-in pack",
                );
                self.diagnostics.push(d);
                continue;
            }
            self.rules.push(Arc::new(rule));
        }
        let added = self.rules.len() - before + replaced;
        let stats = self.by_format.entry(format).or_default();
        stats[0] += added;
        stats[1] += if warned { added } else { 0 };
    }
}

/// Where `field` is first written in a rule file (the file's start when it is not), for a
/// diagnostic about the field's test: rules keep no positions once lowered.
fn first_mention(text: &str, field: &str) -> tripline_lang::yaml::Pos {
    let last = field.rsplit('.').next().unwrap_or(field);
    text.lines()
        .enumerate()
        .find_map(|(i, line)| {
            line.find(last).map(|c| tripline_lang::yaml::Pos { line: i + 1, column: c + 1 })
        })
        .unwrap_or_else(tripline_lang::native::file_start)
}

fn is_rule_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yml" || e == "yaml" || e == "toml")
}

/// `root` itself, or the files under the folder `root` that `wanted` accepts, in path order.
#[must_use]
pub fn files_under(root: &Path, wanted: fn(&Path) -> bool) -> Vec<PathBuf> {
    if !root.is_dir() {
        return vec![root.to_owned()];
    }
    walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && wanted(e.path()))
        .map(walkdir::DirEntry::into_path)
        .collect()
}

/// Loads the built-in pack (unless `no_builtin`) and every rule path, then the suppressions.
#[must_use]
pub fn load(args: &RuleSources) -> RuleSet {
    let mut set = RuleSet::default();
    let mut seen = HashSet::new();
    let mut options = Options::default();
    for (name, values) in &args.placeholders {
        options.placeholders.entry(name.clone()).or_default().extend(values.iter().cloned());
    }
    for file in &args.exceptions {
        match read_rule_text(file) {
            Ok(text) => tripline_lang::elastic::exceptions::parse(
                file,
                &text,
                &mut options.exceptions,
                &mut set.diagnostics,
            ),
            Err(e) => set
                .diagnostics
                .push(Diagnostic::file_error(file, format!("cannot read exception list: {e}"))),
        }
    }
    if set.diagnostics.iter().any(|d| d.level == Level::Error) {
        set.refused_files += 1;
    }
    if !args.no_builtin {
        for (path, text) in BUILTIN_RULES {
            set.add_file(Path::new(path), text, &mut seen, &options);
        }
        set.builtin = set.rules.len();
    }
    for root in &args.paths {
        for file in files_under(root, is_rule_file) {
            match read_rule_text(&file) {
                Ok(text) => set.add_file(&file, &text, &mut seen, &options),
                Err(e) => {
                    set.refused_files += 1;
                    set.diagnostics
                        .push(Diagnostic::file_error(&file, format!("cannot read rule file: {e}")));
                }
            }
        }
    }
    crate::suppressions::load(&args.suppressions, &options, &mut set);
    set.check_correlations();
    set.check_suppressions();
    set.off = args.toggles.off(&set.rules, set.builtin);
    set.toggle_warnings = args.toggles.unused(&set.rules, set.builtin);
    set
}

impl RuleSet {
    /// Refuses a correlation that names a rule not loaded, with an error at the name: `lint`,
    /// `test` and `scan` say the same, and the other rules still run.
    fn check_correlations(&mut self) {
        let mut refused = Vec::new();
        for (index, rule) in self.rules.iter().enumerate() {
            let Some(correlation) = rule.correlation() else { continue };
            for (i, reference) in correlation.rules.iter().enumerate() {
                if self.rules.iter().any(|r| r.is_named(reference)) {
                    continue;
                }
                let (line, column) = correlation.positions.get(i).copied().unwrap_or((0, 0));
                self.diagnostics.push(Diagnostic {
                    path: rule.meta.source.clone().unwrap_or_default(),
                    line,
                    column,
                    level: Level::Error,
                    message: format!(
                        "correlation `{}` refers to `{reference}`, which is not a loaded rule",
                        rule.meta.id
                    ),
                    hint: Some(
                        "load the rule it names (--rules), or correct the id or name".into(),
                    ),
                });
                refused.push(index);
            }
        }
        refused.dedup();
        self.refused_files += refused.len();
        for index in refused.into_iter().rev() {
            let rule = self.rules.remove(index);
            let stats = self.by_format.entry(rule.meta.kind.frontend.name()).or_default();
            stats[0] = stats[0].saturating_sub(1);
            stats[3] += 1;
        }
    }

    /// Warns about suppressions that apply to no loaded rule (a typo in an id, a filter for
    /// rules not given).
    fn check_suppressions(&mut self) {
        for s in &self.suppressions {
            if !self.rules.iter().any(|rule| s.applies_to(rule)) {
                let (path, line) = s.source.clone().unwrap_or_default();
                let what = s
                    .applies
                    .rules
                    .iter()
                    .chain(&s.applies.tags)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ");
                let message =
                    format!("suppression `{}` applies to no loaded rule ({what})", s.name);
                self.diagnostics.push(Diagnostic {
                    path,
                    line,
                    column: 0,
                    level: Level::Warning,
                    message,
                    hint: None,
                });
            }
        }
    }
}

/// Reads a rule, exception or suppression file as text; a UTF-8 byte-order mark at its start
/// (which some Windows editors write) is dropped, so that the first key is the first key.
/// Positions are unchanged: the mark takes no column.
pub(crate) fn read_rule_text(path: &Path) -> std::io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_owned(),
        None => text,
    })
}
