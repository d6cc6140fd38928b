//! Alerts as the detection core produces them (the contract's `alert`).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// An entity of an alert, e.g. `Account` with `Name`, `UPNSuffix`, ….
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entity {
    /// Entity type.
    pub kind: String,
    /// Identifier name and value pairs, in the rule's mapping order.
    pub fields: Vec<(String, String)>,
}

/// Which of a group's two reports an alert is (the contract's
/// `alert-kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum AlertKind {
    /// The window closed: the query's row.
    #[default]
    Final,
    /// The group has just reached the threshold and its window is still
    /// open (with `early_alerts`): the row so far.
    Early,
}

/// One alert: a group whose window closed at or above the threshold (or,
/// for an early alert, a group that has just reached it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Short rule name (`sentinel-aws-cli-recon`, …).
    pub rule: String,
    /// Upstream rule id.
    pub rule_id: String,
    /// Stable id from rule, window and group (see [`alert_id`]).
    pub id: String,
    /// Window start, ms since the epoch (inclusive).
    pub window_start: i64,
    /// Window end, ms since the epoch (exclusive).
    pub window_end: i64,
    /// The query's output row, as a JSON object.
    pub row: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Severity.
    pub severity: String,
    /// MITRE ATT&CK tactics.
    pub tactics: Vec<String>,
    /// MITRE ATT&CK techniques.
    pub techniques: Vec<String>,
    /// Entities.
    pub entities: Vec<Entity>,
    /// Custom details, a JSON object.
    pub custom_details: String,
    /// Whether a list in the row was cut at the configured bound.
    pub truncated: bool,
    /// Final row or early report. (Absent from alerts saved by snapshot
    /// version 2, which had only final ones.)
    #[serde(default)]
    pub kind: AlertKind,
    /// Alerts of the same group held back by suppression (the rule's
    /// `suppress` span) since the group's previous alert that went out: 0
    /// unless the rule suppresses. (Absent from alerts saved before
    /// snapshot version 5.)
    #[serde(default, skip_serializing_if = "is_zero")]
    pub suppressed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A stable alert id: the first 128 bits, in hex, of SHA-256 over the
/// rule name, the window bounds and the group key (as JSON, so fields
/// cannot run into each other). The same group in the same window of the
/// same rule always gets the same id, whatever the order or batching of the
/// events, so a consumer can de-duplicate replays.
pub fn alert_id<K: Serialize>(rule: &str, window_start: i64, window_end: i64, key: &K) -> String {
    let material = serde_json::to_vec(&(rule, window_start, window_end, key))
        .expect("serialising plain strings and integers cannot fail");
    let digest = Sha256::digest(&material);
    hex(&digest[..16])
}

/// Lower-case hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_separate_groups() {
        let a = alert_id("r", 0, 60_000, &("x", "y"));
        assert_eq!(a, alert_id("r", 0, 60_000, &("x", "y")));
        assert_eq!(a.len(), 32);
        assert_ne!(a, alert_id("r", 0, 60_000, &("xy", "")));
        assert_ne!(a, alert_id("r", 60_000, 120_000, &("x", "y")));
        assert_ne!(a, alert_id("q", 0, 60_000, &("x", "y")));
    }
}
