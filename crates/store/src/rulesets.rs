//! Which rules evaluated an input. A checkpoint names the rule set that read the input — a
//! digest of every rule's id and fingerprint — and the store keeps each set's rules once, so a
//! later run with new or changed rules can evaluate the inputs already read for those rules
//! alone.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::backend::Backend;
use crate::queries::now;
use crate::{InputKey, Result, Store, StoreError};

/// A rule set as the store knows it: rule id → fingerprint.
pub type RuleFingerprints = BTreeMap<String, String>;

/// The digest naming a set of rules (the same rules, in any order, give the same digest).
#[must_use]
pub fn rule_set_digest(rules: &RuleFingerprints) -> String {
    let mut digest = Sha256::new();
    for (id, fingerprint) in rules {
        digest.update(id.as_bytes());
        digest.update(b"=");
        digest.update(fingerprint.as_bytes());
        digest.update(b"\n");
    }
    digest.finalize()[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// What the store knows of an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkpoint {
    /// Never read, or read when it was different (size or version).
    Unread,
    /// Read as it is now, by the rule set with this digest (`None`: a store from before rule
    /// sets were recorded, so by rules unknown).
    Read(Option<String>),
}

/// The checkpoint of `key`.
pub(crate) fn checkpoint(backend: &mut dyn Backend, key: &InputKey) -> Result<Checkpoint> {
    let rows = backend.query(
        "SELECT size, version, rule_set FROM checkpoints WHERE input = $1",
        &[key.input.as_str().into()],
    )?;
    let Some(row) = rows.into_iter().next() else { return Ok(Checkpoint::Unread) };
    let mut row = row.into_iter();
    let size = row.next().and_then(|v| v.as_int());
    let version = row.next().and_then(crate::Value::into_text);
    let rule_set = row.next().and_then(crate::Value::into_text);
    Ok(if size == Some(key.size) && version.as_deref() == Some(key.version.as_str()) {
        Checkpoint::Read(rule_set)
    } else {
        Checkpoint::Unread
    })
}

impl Store {
    /// What the store knows of `key`.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn checkpoint(&mut self, key: &InputKey) -> Result<Checkpoint> {
        checkpoint(self.backend.as_mut(), key)
    }

    /// Keeps `rules` under their digest (once) and returns the digest, for checkpoints.
    ///
    /// # Errors
    /// When the store fails.
    pub fn keep_rule_set(&mut self, rules: &RuleFingerprints) -> Result<String> {
        let digest = rule_set_digest(rules);
        let json = serde_json::to_string(rules).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.write(|backend| {
            backend.execute(
                "INSERT INTO rule_sets (digest, rules, created_at) VALUES ($1, $2, $3) ON CONFLICT (digest) DO NOTHING",
                &[digest.as_str().into(), json.into(), now().into()],
            )?;
            Ok(())
        })?;
        Ok(digest)
    }

    /// The rules of the set with `digest`, when the store has it.
    ///
    /// # Errors
    /// When the store cannot be read or the set is unreadable.
    pub fn rule_set(&mut self, digest: &str) -> Result<Option<RuleFingerprints>> {
        let sql = "SELECT rules FROM rule_sets WHERE digest = $1";
        crate::backend::query_json(self.backend.as_mut(), sql, digest, "rule set")
    }
}
