//! The `recon detect --state FILE` file: every detector's snapshot, so a
//! backtest over exports that arrive one file at a time (hourly CloudTrail
//! deliveries, say) keeps its open windows from one run to the next and
//! alerts on bursts that straddle two files.
//!
//! The snapshots are the component's own bytes (opaque to the host, base64
//! here); next to each the host keeps the configuration it was made with,
//! so a run with a different configuration is refused rather than silently
//! resumed under the old one.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// The format name written into every state file.
pub const STATE_FORMAT: &str = "recon-detect-state";
/// The state file version this build writes and reads.
pub const STATE_VERSION: u32 = 2;
/// The name `recon detect` saves its one detector (every rule) under.
pub const DETECTOR: &str = "detector";

/// Why a state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing failed.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a state file of this version.
    #[error("state file {path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A detector was saved with another configuration.
    #[error(
        "state file {path}: {rule} was saved with another configuration; \
         run with the same configuration, or remove the file to start afresh"
    )]
    ConfigChanged {
        /// The file.
        path: PathBuf,
        /// The rule whose configuration differs.
        rule: String,
    },
}

/// One detector's saved state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedDetector {
    /// The rule's alert name.
    pub rule: String,
    /// The configuration it runs with, as the host printed it.
    pub config: String,
    /// The component's snapshot, base64.
    pub snapshot: String,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    format: String,
    version: u32,
    detectors: Vec<SavedDetector>,
}

/// The saved detectors of a state file, empty when it does not exist yet.
pub fn load(path: &Path) -> Result<Vec<SavedDetector>, StateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StateError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    let malformed = |message: String| StateError::Malformed {
        path: path.to_owned(),
        message,
    };
    let file: StateFile = serde_json::from_str(&text).map_err(|e| malformed(e.to_string()))?;
    if file.format != STATE_FORMAT || file.version != STATE_VERSION {
        return Err(malformed(format!(
            "format {:?} version {} is not {STATE_FORMAT:?} version {STATE_VERSION}",
            file.format, file.version
        )));
    }
    Ok(file.detectors)
}

/// The snapshot bytes of `rule` in `saved`, checking its configuration.
pub fn snapshot_of(
    path: &Path,
    saved: &[SavedDetector],
    rule: &str,
    config: &str,
) -> Result<Option<Vec<u8>>, StateError> {
    let Some(d) = saved.iter().find(|d| d.rule == rule) else {
        return Ok(None);
    };
    if d.config != config {
        return Err(StateError::ConfigChanged {
            path: path.to_owned(),
            rule: rule.to_owned(),
        });
    }
    STANDARD
        .decode(&d.snapshot)
        .map(Some)
        .map_err(|e| StateError::Malformed {
            path: path.to_owned(),
            message: format!("{rule}: snapshot is not base64: {e}"),
        })
}

/// A saved detector from its snapshot bytes.
pub fn saved(rule: &str, config: &str, snapshot: &[u8]) -> SavedDetector {
    SavedDetector {
        rule: rule.to_owned(),
        config: config.to_owned(),
        snapshot: STANDARD.encode(snapshot),
    }
}

/// Writes the state file atomically (a temporary file, then a rename).
pub fn save(path: &Path, detectors: Vec<SavedDetector>) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_owned(),
        source,
    };
    let file = StateFile {
        format: STATE_FORMAT.to_owned(),
        version: STATE_VERSION,
        detectors,
    };
    let text = serde_json::to_string(&file).map_err(|e| io(std::io::Error::other(e)))?;
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// Removes the state file (the stream has ended); a missing file is fine.
pub fn remove(path: &Path) -> Result<(), StateError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StateError::Io {
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_a_changed_configuration() {
        let dir = std::env::temp_dir().join(format!("recon-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert!(load(&path).unwrap().is_empty());
        save(&path, vec![saved("r", "cfg", b"\x00bytes")]).unwrap();
        let back = load(&path).unwrap();
        assert_eq!(
            snapshot_of(&path, &back, "r", "cfg").unwrap(),
            Some(b"\x00bytes".to_vec())
        );
        assert_eq!(snapshot_of(&path, &back, "other", "cfg").unwrap(), None);
        assert!(matches!(
            snapshot_of(&path, &back, "r", "changed"),
            Err(StateError::ConfigChanged { .. })
        ));
        std::fs::write(&path, "{}").unwrap();
        assert!(matches!(load(&path), Err(StateError::Malformed { .. })));
        remove(&path).unwrap();
        remove(&path).unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }
}
