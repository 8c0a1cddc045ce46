//! Signals a rule takes back. An input evaluated again by a rule that has changed since it
//! was read (or by `--rescan`) may no longer give some of the signals the earlier reading kept:
//! they are removed, and from the alerts that held them; an alert left with none of its events
//! is closed — "closed by a later rule run" — with a note saying why, and reported as such.
//! Alerts a responder closed are left alone, and an alert whose events go past the ids it
//! lists is never closed for the listed ones alone.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::{signal_key, Work};
use crate::backend::Value;
use crate::ingest::InputBatch;
use crate::queries::{now, Note, Status};
use crate::{InputKey, Result, StoreError};

/// The 64-bit digest of an input's name that its signals keep (a name is often 150 bytes).
pub(crate) fn input_digest(input: &str) -> i64 {
    let digest = Sha256::digest(input.as_bytes());
    let mut first = [0; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

impl Work<'_, '_> {
    /// Notes the rules the input was evaluated again for, in full, and the signals each gave;
    /// [`Work::withdraw`] takes back the rest at the end of the transaction.
    pub(super) fn revised_in(&mut self, batch: &InputBatch<'_>, key: &InputKey) {
        let input = input_digest(&key.input);
        for &rule_id in batch.revised {
            let given =
                self.revised.entry(rule_id.to_owned()).or_default().entry(input).or_default();
            given.extend(
                batch
                    .incoming
                    .iter()
                    .filter(|i| i.rule.meta.id == rule_id)
                    .map(|i| signal_key(i.signal)),
            );
        }
    }

    /// Removes the signals the revised inputs kept before and their rules no longer gave —
    /// one pass over each rule's signals for the whole transaction — and takes them out of
    /// the alerts that list them; returns how many went and the ids of the alerts closed.
    pub(super) fn withdraw(&mut self) -> Result<(u64, Vec<String>)> {
        let (mut withdrawn, mut closed) = (0, Vec::new());
        for (rule_id, inputs) in std::mem::take(&mut self.revised) {
            let rows = self.backend.query(
                "SELECT signal_key, input_digest FROM signals WHERE rule_id = $1 AND input_digest IS NOT NULL",
                &[rule_id.as_str().into()],
            )?;
            let mut keys = BTreeSet::new();
            for row in rows {
                let mut it = row.into_iter();
                let (Some(key), Some(input)) = (
                    it.next().and_then(Value::into_text),
                    it.next().as_ref().and_then(Value::as_int),
                ) else {
                    continue;
                };
                if inputs.get(&input).is_some_and(|given| !given.contains(&key)) {
                    keys.insert(key);
                }
            }
            for key in &keys {
                self.backend.execute(
                    "DELETE FROM signals WHERE rule_id = $1 AND signal_key = $2",
                    &[rule_id.as_str().into(), key.as_str().into()],
                )?;
            }
            withdrawn += keys.len() as u64;
            if !keys.is_empty() {
                closed.extend(self.take_out(&rule_id, &keys)?);
            }
        }
        Ok((withdrawn, closed))
    }

    /// Takes `keys` out of the events of `rule_id`'s alerts; returns those it closed.
    fn take_out(&mut self, rule_id: &str, keys: &BTreeSet<String>) -> Result<Vec<String>> {
        let mut closed = Vec::new();
        for alert_id in self.alerts_listing(rule_id, keys)? {
            let Some(stored) = self.alert(&alert_id)? else { continue };
            if stored.status == Status::Closed {
                continue;
            }
            let alert = &mut stored.alert;
            let before = alert.event_ids.len();
            alert.event_times.resize(before, None);
            let kept: Vec<(String, Option<String>)> = std::mem::take(&mut alert.event_ids)
                .into_iter()
                .zip(std::mem::take(&mut alert.event_times))
                .filter(|(id, _)| !keys.contains(id))
                .collect();
            (alert.event_ids, alert.event_times) = kept.into_iter().unzip();
            let taken = (before - alert.event_ids.len()) as u64;
            alert.event_count = alert.event_count.saturating_sub(taken);
            stored.updated_at = now();
            if alert.event_count > 0 {
                continue;
            }
            stored.status = Status::Closed;
            stored.notes.push(Note {
                at: now(),
                status: Some(Status::Closed),
                text: format!(
                    "closed by a rule run: `{rule_id}`, changed since, no longer matches its events ({taken} withdrawn)"
                ),
            });
            // The rule's next signal in its window raises a new alert (the window's alerts
            // go past closed ones).
            closed.push(alert_id.clone());
        }
        Ok(closed)
    }

    /// The ids of `rule_id`'s alerts, in this transaction or the store, that list any of
    /// `keys` among their events.
    fn alerts_listing(&mut self, rule_id: &str, keys: &BTreeSet<String>) -> Result<Vec<String>> {
        let lists = |ids: &[String]| ids.iter().any(|id| keys.contains(id));
        let mut found: Vec<String> = self
            .alerts
            .values()
            .filter(|a| a.alert.rule_id == rule_id && lists(&a.alert.event_ids))
            .map(|a| a.alert.alert_id.clone())
            .collect();
        let rows = self.backend.query(
            "SELECT alert_id, event_ids FROM alerts WHERE rule_id = $1 AND status <> 'closed'",
            &[rule_id.into()],
        )?;
        for row in rows {
            let mut it = row.into_iter().map(Value::into_text);
            let (Some(Some(id)), Some(Some(ids))) = (it.next(), it.next()) else { continue };
            let (ids, _) = crate::queries::decode_event_ids(&ids)
                .ok_or_else(|| StoreError::Corrupt(format!("event ids of alert `{id}`")))?;
            if !self.alerts.contains_key(&id) && lists(&ids) {
                found.push(id);
            }
        }
        Ok(found)
    }
}
