//! Where a rule came from, as data: the format it was written in, what kind of rule it is in
//! that format, and the vendor rule it reproduces. Code asks these with `match`, never by
//! comparing names; `Display` gives the names the load summary and `rules list` print.

use std::fmt;

/// The rule formats Tripline reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Frontend {
    /// Tripline's own YAML format.
    #[default]
    Native,
    /// Sigma rules (SigmaHQ), as they are.
    Sigma,
    /// Elastic detection rules (TOML), as they are.
    Elastic,
    /// Panther rules (YAML), as they are.
    Panther,
}

impl Frontend {
    /// The format's name, as the load summary prints it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Sigma => "sigma",
            Self::Elastic => "elastic",
            Self::Panther => "panther",
        }
    }
}

/// What kind of rule it is within its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Form {
    /// A condition over one record (native, Sigma, Panther simple detections).
    #[default]
    Detection,
    /// A Sigma correlation over other rules' signals.
    Correlation,
    /// An Elastic `query` rule.
    Query,
    /// An Elastic `threshold` rule.
    Threshold,
    /// An Elastic `new_terms` rule.
    NewTerms,
    /// A Panther rule whose logic is Python (not executed here).
    Python,
}

/// A rule's format and form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RuleKind {
    /// The format.
    pub frontend: Frontend,
    /// The kind of rule within it.
    pub form: Form,
}

impl RuleKind {
    /// A rule of `form` written in `frontend`.
    #[must_use]
    pub fn new(frontend: Frontend, form: Form) -> Self {
        Self { frontend, form }
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let form = match self.form {
            Form::Detection if self.frontend != Frontend::Elastic => {
                return f.write_str(self.frontend.name())
            }
            Form::Detection => "detection",
            Form::Correlation => "correlation",
            Form::Query => "query",
            Form::Threshold => "threshold",
            Form::NewTerms => "new_terms",
            Form::Python => "python",
        };
        write!(f, "{} {form}", self.frontend.name())
    }
}

/// Whose rule a rule reproduces or comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Vendor {
    /// SigmaHQ and other Sigma authors.
    Sigma,
    /// Elastic's detection rules.
    Elastic,
    /// Panther's analysis rules.
    Panther,
    /// Datadog Cloud SIEM.
    Datadog,
    /// Someone else, named in the text.
    Other,
}

/// The vendor rule a rule reproduces: vendor, version and status, as fields; `text` is how the
/// rule's author wrote it (a native rule's `origin:`), kept for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Whose rule it is.
    pub vendor: Vendor,
    /// The vendor's version of the rule, when known.
    pub version: Option<String>,
    /// The vendor's status for it (Sigma's `status`), when known.
    pub status: Option<String>,
    text: String,
}

impl Origin {
    /// A vendor rule of `version` and `status`.
    #[must_use]
    pub fn vendor(vendor: Vendor, version: Option<String>, status: Option<String>) -> Self {
        let name = match vendor {
            Vendor::Sigma => "Sigma",
            Vendor::Elastic => "Elastic",
            Vendor::Panther => "Panther",
            Vendor::Datadog => "Datadog",
            Vendor::Other => "Other",
        };
        let text = match (&version, &status) {
            (Some(v), _) => format!("{name} (version {v})"),
            (None, Some(s)) => format!("{name} (status: {s})"),
            (None, None) => name.to_owned(),
        };
        Self { vendor, version, status, text }
    }

    /// An origin as a rule's author wrote it (`Elastic prebuilt rule 8.2.1 (version 6)`): the
    /// vendor is its first word, the version what follows `version` in parentheses.
    #[must_use]
    pub fn described(text: &str) -> Self {
        let first = text.split_whitespace().next().unwrap_or("").to_ascii_lowercase();
        let vendor = match first.as_str() {
            "sigma" | "sigmahq" => Vendor::Sigma,
            "elastic" => Vendor::Elastic,
            "panther" => Vendor::Panther,
            "datadog" => Vendor::Datadog,
            _ => Vendor::Other,
        };
        let version = text
            .split_once("(version ")
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(v, _)| v.trim().to_owned());
        Self { vendor, version, status: None, text: text.to_owned() }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_print_as_the_load_summary_names_them() {
        let names: Vec<String> = [
            (Frontend::Native, Form::Detection),
            (Frontend::Sigma, Form::Detection),
            (Frontend::Sigma, Form::Correlation),
            (Frontend::Elastic, Form::Query),
            (Frontend::Elastic, Form::NewTerms),
            (Frontend::Panther, Form::Python),
        ]
        .into_iter()
        .map(|(f, k)| RuleKind::new(f, k).to_string())
        .collect();
        assert_eq!(
            names,
            [
                "native",
                "sigma",
                "sigma correlation",
                "elastic query",
                "elastic new_terms",
                "panther python"
            ]
        );
    }

    #[test]
    fn origins_keep_vendor_and_version_as_fields() {
        let written = Origin::described("Elastic prebuilt rule 8.2.1 (version 6)");
        assert_eq!((written.vendor, written.version.as_deref()), (Vendor::Elastic, Some("6")));
        assert_eq!(written.to_string(), "Elastic prebuilt rule 8.2.1 (version 6)");
        let sigma = Origin::vendor(Vendor::Sigma, None, Some("test".into()));
        assert_eq!(sigma.to_string(), "Sigma (status: test)");
        assert_eq!(Origin::described("our own").vendor, Vendor::Other);
    }
}
