//! The two rules, each split into its per-event steps (filter, derive the
//! group key and the contributed values) and its per-group output (the
//! query's row and the alert text). Windowing is shared: see `windows`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::hash::Hash;

use crate::alert::Alert;
use crate::event::Event;
use crate::wire::{Reader, WireError};

pub mod elastic;
pub mod sentinel;

/// One rule's logic, independent of time windows and of the boundary.
pub trait RuleLogic {
    /// The grouping key within a window (everything the query groups by
    /// except the time bucket).
    type Key: Clone + Ord + Hash + Eq + Serialize + DeserializeOwned;
    /// What one accepted event contributes to its group.
    type Item;
    /// The aggregate state of one group.
    type Group: Default + Serialize + DeserializeOwned;

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

    /// The distinct count the threshold is compared with.
    fn distinct(&self, group: &Self::Group) -> usize;

    /// The alert for a group that met the threshold.
    fn alert(
        &self,
        window_start: i64,
        window_end: i64,
        key: &Self::Key,
        group: &Self::Group,
    ) -> Alert;
}
