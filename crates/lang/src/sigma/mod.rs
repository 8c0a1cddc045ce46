//! Sigma rules, loaded as they are: the Sigma specification's detection semantics over
//! CloudTrail records, Sigma metadata mapped onto Tripline's (level, ATT&CK tags, references,
//! false positives), `logsource` deciding which records a rule sees.

mod attack;
mod correlation;

use std::path::Path;

use tripline_rule::{
    Expr, Filter, Form, Frontend, Logic, Metadata, Origin, Rule, RuleKind, Scope, Severity, Vendor,
};

use crate::detection::{self, Options};
use crate::diagnostic::Diagnostic;
use crate::native::reader::Reader;
use crate::yaml::{self, Kind, Node};

/// Whether a YAML document is Sigma (a rule, a correlation or a meta filter).
#[must_use]
pub fn is_sigma(root: &Node) -> bool {
    root.get("logsource").is_some()
        || root.get("correlation").is_some()
        || (root.get("filter").is_some() && root.get("title").is_some())
}

fn severity(level: Option<&str>) -> Result<Option<Severity>, String> {
    Ok(Some(match level {
        None => return Ok(None),
        Some("informational") => Severity::Info,
        Some(other) => other.parse()?,
    }))
}

/// The old aggregation syntax (`| count() by …`, `near`), which Sigma 2 replaced by correlations.
fn old_aggregation(detection: &Node) -> Option<&Node> {
    let condition = detection.get("condition")?;
    let texts: Vec<(String, &Node)> = match &condition.kind {
        Kind::Seq(items) => items.iter().filter_map(|i| i.scalar_text().map(|t| (t, i))).collect(),
        _ => condition.scalar_text().map(|t| (t, condition)).into_iter().collect(),
    };
    texts
        .into_iter()
        .find(|(t, _)| t.contains('|') || t.split_whitespace().any(|w| w == "near"))
        .map(|(_, n)| n)
}

pub(crate) fn metadata(r: &mut Reader<'_>, path: &Path) -> Metadata {
    let title = r.required_string("title", "every Sigma rule has a `title`").unwrap_or_default();
    let id = r.string("id").unwrap_or_else(|| {
        path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
    });
    let level = r.string("level");
    let severity = match severity(level.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            let node = r.get("level").expect("level was read");
            r.error(node, e, Some("Sigma levels: informational, low, medium, high, critical"));
            None
        }
    };
    let tags = r.strings("tags");
    let status = r.string("status");
    Metadata {
        id,
        name: r.string("name"),
        title,
        description: r.string("description").unwrap_or_default(),
        author: r.strings("author"),
        references: r.strings("references"),
        severity,
        risk_score: None,
        mitre: attack::mitre_ids(&tags),
        tags,
        false_positives: r.strings("falsepositives"),
        triage: String::new(),
        summary_attributes: r.strings("fields"),
        alert_context: Vec::new(),
        dynamic_severity: Vec::new(),
        origin: Some(Origin::vendor(Vendor::Sigma, None, status)),
        source: Some(path.to_owned()),
        kind: RuleKind::new(Frontend::Sigma, Form::Detection),
    }
}

/// Whether the `logsource` is AWS CloudTrail; a warning explains any other.
pub(crate) fn logsource_is_cloudtrail(r: &mut Reader<'_>) -> bool {
    let Some(node) = r.get("logsource") else { return true };
    let field = |k: &str| node.get(k).and_then(Node::scalar_text).map(|s| s.to_ascii_lowercase());
    let (product, service) = (field("product"), field("service"));
    let ok =
        product.as_deref() == Some("aws") && service.as_deref().is_none_or(|s| s == "cloudtrail");
    if !ok {
        let d = Diagnostic::warning(r.path, node.pos, format!(
            "logsource `product: {}, service: {}` is not AWS CloudTrail: the rule never matches CloudTrail records",
            product.unwrap_or_default(), service.unwrap_or_default()));
        r.diagnostics.push(d);
    }
    ok
}

fn detection_rule(
    path: &Path,
    root: &Node,
    options: &Options,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Rule> {
    let mut r = Reader { path, node: root, diagnostics };
    let meta = metadata(&mut r, path);
    let applies = logsource_is_cloudtrail(&mut r);
    let Some(detection) = root.get("detection") else {
        let d = Diagnostic::error(path, root.pos, "missing `detection`")
            .with_hint("a Sigma rule needs `detection:` with selections and a `condition`");
        diagnostics.push(d);
        return None;
    };
    if let Some(at) = old_aggregation(detection) {
        let d = Diagnostic::unsupported(
            path,
            at.pos,
            "Sigma's old aggregation syntax (`| count() …` / `near`) in `condition`",
        )
        .with_hint(
            "rewrite it as a Sigma correlation rule (`correlation: {type: event_count, …}`)",
        );
        diagnostics.push(d);
        return None;
    }
    let options = Options { sigma: true, ..options.clone() };
    let expr = detection::lower(path, detection, diagnostics, &options)?;
    let expr = if applies { expr } else { Expr::Const(false) };
    Some(Rule {
        meta,
        logic: Logic::Detect(expr),
        scope: Scope::Events,
        alerting: Default::default(),
        tests: Vec::new(),
        prepared: Default::default(),
    })
}

/// What a Sigma file held.
#[derive(Default)]
pub struct SigmaFile {
    /// Detection and correlation rules.
    pub rules: Vec<Rule>,
    /// Meta filters, applied to the rules they name once every file is loaded.
    pub filters: Vec<Filter>,
    /// Every problem found.
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses and lowers a Sigma file: every document in it (rules, correlations, filters).
/// One document with errors refuses the whole file, as a correlation depends on its rules.
#[must_use]
pub fn compile(path: &Path, text: &str, options: &Options) -> SigmaFile {
    let mut file = SigmaFile::default();
    let docs = match yaml::parse_all(text) {
        Ok(docs) => docs,
        Err(e) => {
            file.diagnostics.push(Diagnostic::error(
                path,
                e.pos,
                format!("invalid YAML: {}", e.message),
            ));
            return file;
        }
    };
    for doc in &docs {
        if doc.get("correlation").is_some() {
            file.rules.extend(correlation::correlation_rule(path, doc, &mut file.diagnostics));
        } else if doc.get("filter").is_some() && doc.get("detection").is_none() {
            file.filters.extend(correlation::filter(path, doc, options, &mut file.diagnostics));
        } else {
            file.rules.extend(detection_rule(path, doc, options, &mut file.diagnostics));
        }
    }
    if file.diagnostics.iter().any(|d| d.level >= crate::Level::Unsupported) {
        file.rules.clear();
        file.filters.clear();
    }
    file
}

/// A Sigma meta filter as a suppression: the named rules match only where the filter's
/// condition holds, so a record where it does not is suppressed, and counted under its title.
#[must_use]
pub fn filter_suppression(
    path: &Path,
    filter: tripline_rule::Filter,
) -> tripline_rule::Suppression {
    tripline_rule::Suppression {
        name: filter.title,
        reason: "Sigma meta filter".to_owned(),
        owner: String::new(),
        expires: None,
        applies: tripline_rule::Applies {
            rules: filter.rules,
            ..tripline_rule::Applies::default()
        },
        expr: tripline_rule::passes::simplify(filter.expr.not()),
        kind: tripline_rule::SuppressionKind::SigmaFilter,
        source: Some((path.to_owned(), 1)),
    }
}
