//! What a responder reads of a rule beside its alerts — title, description, triage guide,
//! references, ATT&CK — kept in the store for every rule that raised or extended something, so
//! `alerts show` has a Sigma or Elastic rule's guide without being given the rule files again.

use serde::{Deserialize, Serialize};
use tripline_rule::Rule;

use crate::backend::Backend;
use crate::{Result, Store, StoreError};

/// A rule's guide, as the store keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleGuide {
    /// The rule's title (its template, unfilled).
    pub title: String,
    /// What it detects.
    pub description: String,
    /// The triage guide.
    pub triage: String,
    /// References.
    pub references: Vec<String>,
    /// ATT&CK tactic and technique ids.
    pub mitre: Vec<String>,
}

impl RuleGuide {
    /// The guide of `rule`.
    #[must_use]
    pub fn of(rule: &Rule) -> Self {
        let m = &rule.meta;
        Self {
            title: m.title.clone(),
            description: m.description.clone(),
            triage: m.triage.clone(),
            references: m.references.clone(),
            mitre: m.mitre.clone(),
        }
    }
}

/// Keeps (or refreshes) the guide of `rule`.
pub(crate) fn keep(backend: &mut dyn Backend, rule: &Rule) -> Result<()> {
    let json = serde_json::to_string(&RuleGuide::of(rule))
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    backend.execute(
        "INSERT INTO rule_guides (rule_id, guide) VALUES ($1, $2) ON CONFLICT (rule_id) DO UPDATE SET guide = excluded.guide",
        &[rule.meta.id.as_str().into(), json.into()],
    )?;
    Ok(())
}

impl Store {
    /// The guide kept for `rule_id`, when a run with that rule has stored something.
    ///
    /// # Errors
    /// When the store cannot be read or the guide is unreadable.
    pub fn rule_guide(&mut self, rule_id: &str) -> Result<Option<RuleGuide>> {
        let sql = "SELECT guide FROM rule_guides WHERE rule_id = $1";
        crate::backend::query_json(self.backend.as_mut(), sql, rule_id, "the guide of rule")
    }
}
