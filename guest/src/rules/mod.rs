//! The two rules, each split into its per-event steps (filter, derive the
//! group key and the contributed values) and its per-group output (the
//! query's row and the alert text). Windowing is shared: see `windows`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::hash::Hash;

use crate::alert::Alert;
use crate::config::{Rule, RuleConfig};
use crate::event::Event;
use crate::windows::{RuleWindows, Windows};
use crate::wire::{Reader, WireError};

pub mod data;
pub mod elastic;
pub mod sentinel;

/// One rule's logic, independent of time windows and of the boundary.
pub trait RuleLogic: std::fmt::Debug + Clone + Send + Sync + 'static {
    /// The grouping key within a window (everything the query groups by
    /// except the time bucket).
    type Key: Clone + Ord + Hash + Eq + Serialize + DeserializeOwned + Send + 'static;
    /// What one accepted event contributes to its group (kept, and saved
    /// in snapshots, while a sliding window may still need it).
    type Item: Clone + Serialize + DeserializeOwned + Send + 'static;
    /// The aggregate state of one group.
    type Group: Default + Serialize + DeserializeOwned + Send + 'static;

    /// The rule's logic for its configuration.
    fn new(config: &RuleConfig) -> Self;

    /// Applies the rule's per-event steps: `None` when the event is
    /// filtered out, else its group key and contribution.
    fn select(&self, event: &Event<'_>) -> Option<(Self::Key, Self::Item)>;

    /// Adds one contribution to a group, keeping at most `max_list` list
    /// entries (counts stay exact).
    fn add(&self, group: &mut Self::Group, item: Self::Item, max_list: usize);

    /// Whether a group read from a snapshot keeps the invariants `add`
    /// maintains (sorted distinct sets, lists of equal length).
    fn check(&self, group: &Self::Group) -> bool;

    /// Appends a selected event's key and contribution to a scanner
    /// payload.
    fn encode(&self, key: &Self::Key, item: &Self::Item, out: &mut Vec<u8>);

    /// Reads back what [`RuleLogic::encode`] wrote.
    fn decode(&self, r: &mut Reader<'_>) -> Result<(Self::Key, Self::Item), WireError>;

    /// What the threshold is compared with: the distinct count of the
    /// built-ins, a data rule's count or distinct count.
    fn measure(&self, group: &Self::Group) -> u64;

    /// The alert for a group that met the threshold.
    fn alert(
        &self,
        window_start: i64,
        window_end: i64,
        key: &Self::Key,
        group: &Self::Group,
    ) -> Alert;
}

/// Builds a rule's (empty) windows from its configuration.
type Build = fn(&RuleConfig) -> Box<dyn RuleWindows>;

/// Every built-in rule, with the constructor of its windows. A new
/// built-in is one line here (and its entry in `config::Rule`); a data
/// rule needs neither (`data`).
const RULES: &[(Rule, Build)] = &[
    (Rule::Sentinel, windows_of::<sentinel::Sentinel>),
    (Rule::Elastic, windows_of::<elastic::Elastic>),
];

fn windows_of<R: RuleLogic>(config: &RuleConfig) -> Box<dyn RuleWindows> {
    Box::new(Windows::new(R::new(config), config.clone()))
}

/// A configured rule running over its (empty) windows.
pub(crate) fn build(config: &RuleConfig) -> Box<dyn RuleWindows> {
    match config.builtin {
        None => windows_of::<data::Data>(config),
        Some(builtin) => {
            let (_, new) = RULES
                .iter()
                .find(|(rule, _)| *rule == builtin)
                .expect("every rule of config::Rule is in rules::RULES");
            new(config)
        }
    }
}

/// A rule's per-event steps as the stateless scanner runs them, whatever
/// the rule.
pub(crate) trait Selector: std::fmt::Debug + Send + Sync {
    /// Selects `event` and appends the selection's encoding to `out`.
    fn select_into(&self, event: &Event<'_>, out: &mut Vec<u8>) -> bool;
    /// The rule's group key of `event` (without the time bucket), hashed
    /// with [`crate::scan::partition_hash`]; `None` when the rule drops
    /// the event.
    fn key_hash(&self, event: &Event<'_>) -> Option<u64>;
    /// A copy, boxed.
    fn clone_box(&self) -> Box<dyn Selector>;
}

impl<R: RuleLogic> Selector for R {
    fn select_into(&self, event: &Event<'_>, out: &mut Vec<u8>) -> bool {
        self.select(event)
            .map(|(k, i)| self.encode(&k, &i, out))
            .is_some()
    }

    fn key_hash(&self, event: &Event<'_>) -> Option<u64> {
        // The key's JSON form: fixed field order, the same on every build
        // and host, so a hash of it routes alike everywhere. A key is
        // strings only; serialising it cannot fail.
        let (key, _) = self.select(event)?;
        serde_json::to_vec(&key)
            .ok()
            .map(|j| crate::scan::partition_hash(&j))
    }

    fn clone_box(&self) -> Box<dyn Selector> {
        Box::new(self.clone())
    }
}

impl Clone for Box<dyn Selector> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_is_in_the_table_once() {
        for rule in [Rule::Sentinel, Rule::Elastic] {
            assert_eq!(RULES.iter().filter(|(r, _)| *r == rule).count(), 1);
        }
        assert_eq!(RULES.len(), 2);
    }
}
