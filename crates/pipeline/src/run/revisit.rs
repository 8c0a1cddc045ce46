//! Which inputs a run with a store reads, and for which rules. A checkpoint names the rule set
//! that read the input; an input read by another set is read again for the rules that set did
//! not have (new, or changed since: another fingerprint), and only their signals are kept, so
//! a rule written after an incident finds it in the logs already scanned without the other
//! rules raising anything twice. `--rescan` reads everything again for every rule; the store's
//! signal keys keep that free of duplicates too.

use std::collections::HashMap;
use std::sync::Arc;

use tripline_alert::CorrelationPlan;
use tripline_rule::Rule;
use tripline_store::{Checkpoint, RuleFingerprints, Store, StoreError};

use crate::source::Unit;

/// What an input read before is read again for.
#[derive(Debug, PartialEq, Eq)]
pub struct Again {
    /// By rule index: whether the rule's signals are kept.
    pub keep: Vec<bool>,
    /// The correlation rules that have not seen the input (fed its old signals too).
    pub correlations: Vec<usize>,
    /// How many rules are new or changed for it.
    pub rules: usize,
}

impl Again {
    /// Every rule: a rescan.
    fn everything(rules: &[Arc<Rule>], plan: &CorrelationPlan) -> Self {
        Self {
            keep: vec![true; rules.len()],
            correlations: plan.correlations().collect(),
            rules: rules.len(),
        }
    }

    /// The rules of `rules` that `old` lacks, with what the new correlations among them read;
    /// `None` when there are none.
    fn since(
        rules: &[Arc<Rule>],
        fingerprints: &[String],
        plan: &CorrelationPlan,
        old: &RuleFingerprints,
    ) -> Option<Self> {
        let fresh: Vec<bool> = rules
            .iter()
            .zip(fingerprints)
            .map(|(rule, fingerprint)| old.get(&rule.meta.id) != Some(fingerprint))
            .collect();
        let rules_count = fresh.iter().filter(|&&f| f).count();
        if rules_count == 0 {
            return None;
        }
        let correlations: Vec<usize> = plan.correlations().filter(|&c| fresh[c]).collect();
        // A new correlation reads the signals of the rules it refers to.
        let keep = (0..rules.len())
            .map(|i| fresh[i] || plan.consumers(i).any(|c| correlations.contains(&c)))
            .collect();
        Some(Self { keep, correlations, rules: rules_count })
    }
}

/// A unit to read; for one read before, what it is read again for.
pub struct Todo {
    /// The unit.
    pub unit: Unit,
    /// `None`: read for the first time (or changed since), for every rule.
    pub again: Option<Arc<Again>>,
}

/// The current rule set, as checkpoints name it.
pub struct RuleSet {
    /// Its digest, kept in the store.
    pub digest: String,
    fingerprints: Vec<String>,
}

impl RuleSet {
    /// Fingerprints `rules` and keeps the set in `store`.
    ///
    /// # Errors
    /// When the store fails.
    pub fn keep(store: &mut Store, rules: &[Arc<Rule>]) -> Result<Self, StoreError> {
        let fingerprints: Vec<String> = rules.iter().map(|r| r.fingerprint()).collect();
        let map: RuleFingerprints =
            rules.iter().zip(&fingerprints).map(|(r, f)| (r.meta.id.clone(), f.clone())).collect();
        Ok(Self { digest: store.keep_rule_set(&map)?, fingerprints })
    }
}

/// What to do with units: read (for which rules), or nothing (already read by these rules).
pub struct Sorted {
    /// The units to read.
    pub todo: Vec<Todo>,
    /// The units read before by every current rule.
    pub done: Vec<Unit>,
}

/// Sorts `units` by what `store` knows of them.
///
/// # Errors
/// When the store cannot be read.
pub fn sort(
    store: &mut Store,
    set: &RuleSet,
    rules: &[Arc<Rule>],
    plan: &CorrelationPlan,
    units: Vec<Unit>,
    rescan: bool,
) -> Result<Sorted, StoreError> {
    let mut sorted = Sorted { todo: Vec::new(), done: Vec::new() };
    // Inputs of one folder were mostly read by the same few rule sets.
    let mut by_old_set: HashMap<Option<String>, Option<Arc<Again>>> = HashMap::new();
    let everything = rescan.then(|| Arc::new(Again::everything(rules, plan)));
    for unit in units {
        let checkpoint = match &unit.key {
            Some(key) => store.checkpoint(key)?,
            None => Checkpoint::Unread,
        };
        let old = match checkpoint {
            Checkpoint::Unread => {
                sorted.todo.push(Todo { unit, again: None });
                continue;
            }
            Checkpoint::Read(old) => old,
        };
        if let Some(again) = &everything {
            sorted.todo.push(Todo { unit, again: Some(Arc::clone(again)) });
            continue;
        }
        if old.as_deref() == Some(set.digest.as_str()) {
            sorted.done.push(unit);
            continue;
        }
        let again = match by_old_set.get(&old) {
            Some(again) => again.clone(),
            None => {
                // A store from before rule sets were kept: the rules are unknown, so all new.
                let known = match &old {
                    Some(digest) => store.rule_set(digest)?.unwrap_or_default(),
                    None => RuleFingerprints::new(),
                };
                let again = Again::since(rules, &set.fingerprints, plan, &known).map(Arc::new);
                by_old_set.insert(old, again.clone());
                again
            }
        };
        match again {
            Some(again) => sorted.todo.push(Todo { unit, again: Some(again) }),
            None => sorted.done.push(unit),
        }
    }
    Ok(sorted)
}
