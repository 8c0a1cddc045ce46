//! Loading suppression files given with `--suppressions` (files or folders of YAML).

use std::path::{Path, PathBuf};

use tripline_lang::{Diagnostic, Level, Options};

use crate::ruleset::{files_under, RuleSet};

fn is_yaml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "yml" || e == "yaml")
}

/// Adds every suppression in `paths` to `set`; a file with errors is refused whole (and
/// counted), the others still load.
pub fn load(paths: &[PathBuf], options: &Options, set: &mut RuleSet) {
    for root in paths {
        for file in files_under(root, is_yaml) {
            match crate::ruleset::read_rule_text(&file) {
                Ok(text) => {
                    let (suppressions, diagnostics) =
                        tripline_lang::suppression::compile(&file, &text, options);
                    if diagnostics.iter().any(|d| d.level == Level::Error) {
                        set.refused_files += 1;
                    }
                    set.diagnostics.extend(diagnostics);
                    for s in suppressions {
                        if let Some(twin) =
                            set.suppressions.iter().find(|t| t.name == s.name && t.kind == s.kind)
                        {
                            let message = format!(
                                "suppression `{}` is defined twice (also at {}); both apply",
                                s.name,
                                twin.location()
                            );
                            set.diagnostics.push(Diagnostic { path: file.clone(), line: s.source.as_ref().map_or(0, |x| x.1), column: 0, level: Level::Warning, message, hint: Some("give each suppression its own name, so counts say which one matched".into()) });
                        }
                        set.suppressions.push(s);
                    }
                }
                Err(e) => {
                    set.refused_files += 1;
                    set.diagnostics.push(Diagnostic::file_error(
                        &file,
                        format!("cannot read suppression file: {e}"),
                    ));
                }
            }
        }
    }
}
