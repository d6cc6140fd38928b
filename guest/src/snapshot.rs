//! Snapshots: a detector's settings, every rule's state and the counters,
//! as versioned JSON behind a checksum line; and their restore, from this
//! version's layout and from earlier ones.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::alert;
use crate::config::{Config, ConfigError, Rule, Settings};
use crate::detector::Detector;
use crate::rules;
use crate::scan::Scanner;

/// The format name written into every snapshot.
pub const SNAPSHOT_FORMAT: &str = "recon-detector-snapshot";
/// The snapshot format version this build writes. Version 5 adds
/// suppression (each rule's suppressed groups, alerts' `suppressed`, the
/// `suppressed` counter): a build that reads only version 4 would drop
/// them, so it refuses version 5. Version 4 keeps each
/// rule's state under `rules`, by rule name (`Rule::name`), so a new rule
/// needs no new field; version 3 added early alerts (pending alerts carry
/// their kind and the step that produced them) and the counters that
/// explain late records. Versions 2 and 3 (a field per rule) still
/// restore; a build that reads only version 3 refuses version 4 rather
/// than lose what it cannot read.
pub const SNAPSHOT_VERSION: u32 = 5;
/// The oldest snapshot format version this build still reads: version 2
/// restores with its pending alerts final and the new counters at 0.
pub const SNAPSHOT_OLDEST_VERSION: u32 = 2;

/// Why a snapshot could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not a snapshot of this format.
    #[error("not a detector snapshot: {0}")]
    Malformed(String),
    /// Written by an incompatible version.
    #[error(
        "snapshot format version {0} is not supported (this build reads versions {SNAPSHOT_OLDEST_VERSION} to {SNAPSHOT_VERSION})"
    )]
    UnsupportedVersion(u32),
    /// The stored configuration is invalid.
    #[error("the snapshot's configuration is invalid: {0}")]
    InvalidConfig(ConfigError),
}

/// Puts a snapshot's JSON body behind a line with its SHA-256
/// (`sha256 <hex>\n`), as [`Detector::snapshot`] writes it; for tools that
/// rewrite a snapshot on purpose.
pub fn seal_snapshot(body: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut out = format!("sha256 {}\n", alert::hex(&sha2::Sha256::digest(body))).into_bytes();
    out.extend_from_slice(body);
    out
}

/// The JSON body of a sealed snapshot, when its checksum holds: a damaged
/// or truncated snapshot is refused, never restored.
pub fn unseal_snapshot(bytes: &[u8]) -> Result<&[u8], SnapshotError> {
    use sha2::Digest;
    let bad = |m: &str| SnapshotError::Malformed(m.to_owned());
    let rest = bytes
        .strip_prefix(b"sha256 ")
        .ok_or_else(|| bad("it does not start with its checksum line"))?;
    let n = memchr::memchr(b'\n', rest).ok_or_else(|| bad("its checksum line never ends"))?;
    let (sum, body) = (&rest[..n], &rest[n + 1..]);
    if alert::hex(&sha2::Sha256::digest(body)).as_bytes() != sum {
        return Err(bad(
            "its checksum does not match its content: it is damaged or truncated",
        ));
    }
    Ok(body)
}

/// Largest counter a restored detector may hold: far beyond any real
/// stream (a million records a second for 146,000 years), and far enough
/// from `u64::MAX` that counting on never reaches it.
pub const MAX_RESTORED_COUNT: u64 = 1 << 62;

/// Where snapshots before version 4 kept each rule's state: a top-level
/// field per rule. Frozen: rules added since never had one.
const V3_FIELDS: &[(Rule, &str)] = &[(Rule::Sentinel, "sentinel"), (Rule::Elastic, "elastic")];

#[derive(Serialize)]
struct SnapshotOut<'a> {
    format: &'a str,
    version: u32,
    settings: &'a Settings,
    pushed: u64,
    rejected: [u64; 7],
    /// Each rule's state, by rule name, in configuration order.
    rules: Map<String, Value>,
}

#[derive(Deserialize)]
struct SnapshotHeader {
    format: String,
    version: u32,
}

#[derive(Deserialize)]
struct SnapshotIn {
    settings: Settings,
    pushed: u64,
    rejected: [u64; 7],
    /// Version 4 on: each rule's state by rule name.
    #[serde(default)]
    rules: Option<Map<String, Value>>,
    /// Before version 4: each rule's state in a field of its own.
    #[serde(flatten)]
    rest: Map<String, Value>,
}

impl Detector {
    /// Serialises settings, state and counters (versioned JSON).
    pub fn snapshot(&self) -> Vec<u8> {
        let out = SnapshotOut {
            format: SNAPSHOT_FORMAT,
            version: SNAPSHOT_VERSION,
            settings: &self.config.settings,
            pushed: self.pushed,
            rejected: self.rejected,
            rules: self
                .rules
                .iter()
                .map(|r| (r.rule().to_string(), r.state()))
                .collect(),
        };
        let body = serde_json::to_vec(&out)
            .expect("detector state holds only strings, integers and lists");
        seal_snapshot(&body)
    }

    /// Rebuilds a detector from [`Detector::snapshot`] bytes.
    pub fn restore(bytes: &[u8]) -> Result<Detector, SnapshotError> {
        Detector::rebuild(bytes, None).map(|(d, _)| d)
    }

    /// Rebuilds a detector from [`Detector::snapshot`] bytes under new
    /// `settings` (rules changed, added or removed): every rule whose
    /// definition and settings are unchanged keeps its state; every other
    /// rule starts with empty windows at the stream's watermark, counting
    /// the records before as filtered (its definition never saw them).
    /// Returns the detector and the names of the rules that started over.
    /// The settings every rule shares (profile, lateness, limits, early
    /// alerts) must be the snapshot's: a rule kept under other bounds could
    /// break them, so a change there is refused as `invalid-config`.
    pub fn reload(
        bytes: &[u8],
        settings: Settings,
    ) -> Result<(Detector, Vec<String>), SnapshotError> {
        Detector::rebuild(bytes, Some(settings))
    }

    fn rebuild(
        bytes: &[u8],
        settings: Option<Settings>,
    ) -> Result<(Detector, Vec<String>), SnapshotError> {
        let bytes = unseal_snapshot(bytes)?;
        let malformed = |e: serde_json::Error| SnapshotError::Malformed(e.to_string());
        let header: SnapshotHeader = serde_json::from_slice(bytes).map_err(malformed)?;
        if header.format != SNAPSHOT_FORMAT {
            return Err(SnapshotError::Malformed(format!(
                "format is {:?}, expected {SNAPSHOT_FORMAT:?}",
                header.format
            )));
        }
        if !(SNAPSHOT_OLDEST_VERSION..=SNAPSHOT_VERSION).contains(&header.version) {
            return Err(SnapshotError::UnsupportedVersion(header.version));
        }
        let snap: SnapshotIn = serde_json::from_slice(bytes).map_err(malformed)?;
        let old = Config::new(snap.settings).map_err(SnapshotError::InvalidConfig)?;
        let reloading = settings.is_some();
        let config = match settings {
            None => old.clone(),
            Some(s) => {
                let new = Config::new(s).map_err(SnapshotError::InvalidConfig)?;
                let shared = |c: &Config| {
                    (
                        c.settings.profile,
                        c.settings.allowed_lateness_ms,
                        c.settings.limits.clone(),
                        c.settings.early_alerts,
                    )
                };
                if shared(&new) != shared(&old) {
                    return Err(SnapshotError::InvalidConfig(ConfigError::InvalidList(
                        "a reload may change rules, not the settings every rule shares (profile, \
                         allowed lateness, limits, early alerts)"
                            .to_owned(),
                    )));
                }
                new
            }
        };
        // Each rule's state, by rule name.
        let mut states = if header.version >= 4 {
            snap.rules
                .ok_or_else(|| SnapshotError::Malformed("missing field `rules`".to_owned()))?
        } else {
            let mut rest = snap.rest;
            V3_FIELDS
                .iter()
                .filter_map(|(rule, field)| {
                    let state = rest.remove(*field)?;
                    (!state.is_null()).then(|| (rule.name().to_owned(), state))
                })
                .collect()
        };
        // A rule runs on from its state only when it is the same rule.
        let kept = |c: &crate::config::RuleConfig| {
            old.rules
                .iter()
                .any(|o| o.name == c.name && o.same_definition(c))
        };
        let mut built = Vec::new();
        let mut restarted = Vec::new();
        for c in &config.rules {
            let state = states.remove(&*c.name);
            let mut r = rules::build(c);
            match state {
                Some(state) if !reloading || kept(c) => {
                    r.restore(state).map_err(SnapshotError::Malformed)?
                }
                None if !reloading => {
                    return Err(SnapshotError::Malformed(format!(
                        "no state for the {} rule",
                        c.name
                    )));
                }
                _ => restarted.push(c.name.to_string()),
            }
            built.push(r);
        }
        if !reloading && !states.is_empty() {
            return Err(SnapshotError::Malformed(
                "state for a rule the configuration does not run".to_owned(),
            ));
        }
        if !restarted.is_empty() {
            // Started over at the stream's watermark, the records so far
            // counted as filtered.
            let watermark = built.iter().filter_map(|r| r.stats().watermark).max();
            let rejected: u64 = snap.rejected.iter().sum();
            for r in built.iter_mut() {
                if restarted.iter().any(|n| *n == *r.rule()) {
                    r.start_at(
                        snap.pushed,
                        snap.pushed.saturating_sub(rejected),
                        snap.rejected,
                        watermark,
                    );
                }
            }
        }
        if snap.pushed > i64::MAX as u64 {
            return Err(SnapshotError::Malformed("counters out of range".to_owned()));
        }
        let scanner = Scanner::from_config(&config);
        let detector = Detector {
            config,
            rules: built,
            scanner,
            pushed: snap.pushed,
            rejected: snap.rejected,
        };
        detector
            .check_accounting()
            .map_err(SnapshotError::Malformed)?;
        if detector.pushed > MAX_RESTORED_COUNT {
            // Counters that leave no room to count on: counting on would
            // saturate (never wrap), and the accounting would stop adding up.
            return Err(SnapshotError::Malformed(format!(
                "it counts {} records pushed, more than any stream ({MAX_RESTORED_COUNT})",
                detector.pushed
            )));
        }
        Ok((detector, restarted))
    }
}
