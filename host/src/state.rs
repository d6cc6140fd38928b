//! The `recon detect --state FILE` file: every detector's snapshot, so a
//! backtest over exports that arrive one file at a time (hourly CloudTrail
//! deliveries, say) keeps its open windows from one run to the next and
//! alerts on bursts that straddle two files.
//!
//! The snapshots are the component's own bytes (opaque to the host, base64
//! here); next to each the host keeps the configuration it was made with,
//! so a run with a different configuration is refused rather than silently
//! resumed under the old one.
//!
//! The file is trusted only as far as it can be checked:
//!
//! - its first line names the format and version, its second carries the
//!   SHA-256 of everything after it: a damaged, truncated or foreign file is
//!   refused with an error naming the file and what is wrong, and left
//!   exactly as it was;
//! - it is written atomically: a temporary file in the same directory,
//!   flushed to disk, then renamed over the old one (and the directory
//!   flushed), so a crash leaves the old state or the new, never half;
//! - a run holds an exclusive lock on `FILE.lock` from reading the state to
//!   writing it back, so a second concurrent run is refused instead of both
//!   resuming the same state and one overwriting the other.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// The format name written into every state file.
pub const STATE_FORMAT: &str = "recon-detect-state";
/// The state file version this build writes and reads.
pub const STATE_VERSION: u32 = 3;
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
    /// Another run holds the state file's lock.
    #[error(
        "state file {path}: another recon run is using it (it holds {path}.lock); \
         wait for it to finish"
    )]
    Locked {
        /// The file.
        path: PathBuf,
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
struct StateBody {
    detectors: Vec<SavedDetector>,
}

/// An exclusive lock on a state file, held until dropped.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// Takes the lock of `path` (on `path.lock`), or fails at once when another
/// run holds it.
pub fn lock(path: &Path) -> Result<StateLock, StateError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(PathBuf::from(name))
        .map_err(|source| StateError::Io {
            path: path.to_owned(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(StateLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(StateError::Locked {
            path: path.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(StateError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn header() -> String {
    format!("{STATE_FORMAT} {STATE_VERSION}\n")
}

/// The saved detectors of a state file, empty when it does not exist yet.
pub fn load(path: &Path) -> Result<Vec<SavedDetector>, StateError> {
    let text = match std::fs::read(path).map(String::from_utf8) {
        Ok(Ok(t)) => t,
        Ok(Err(_)) => {
            return Err(StateError::Malformed {
                path: path.to_owned(),
                message: "it is not text: not a recon state file".into(),
            });
        }
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
    let bytes = text.as_bytes();
    let (first, rest) =
        split_line(bytes).ok_or_else(|| malformed("it is empty or has no header line".into()))?;
    if first != header().trim_end().as_bytes() {
        return Err(malformed(format!(
            "it is not a {STATE_FORMAT} file of version {STATE_VERSION} (it starts {:?})",
            String::from_utf8_lossy(&first[..first.len().min(40)])
        )));
    }
    let (sum_line, body) =
        split_line(rest).ok_or_else(|| malformed("it is truncated after its header".into()))?;
    let sum = sum_line
        .strip_prefix(b"sha256 ")
        .ok_or_else(|| malformed("its second line is not a sha256 checksum".into()))?;
    if hex(&Sha256::digest(body)).as_bytes() != sum {
        return Err(malformed(
            "its checksum does not match its content: the file is damaged or truncated".into(),
        ));
    }
    let file: StateBody = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    Ok(file.detectors)
}

/// The first line of `b` (without its `\n`) and the rest.
fn split_line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = b.iter().position(|c| *c == b'\n')?;
    Some((&b[..n], &b[n + 1..]))
}

/// Lower-case hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// Writes the state file atomically: a temporary file in the same
/// directory, flushed to disk, renamed over the old one, and the directory
/// flushed.
pub fn save(path: &Path, detectors: Vec<SavedDetector>) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_owned(),
        source,
    };
    let body =
        serde_json::to_vec(&StateBody { detectors }).map_err(|e| io(std::io::Error::other(e)))?;
    let mut bytes = header().into_bytes();
    bytes.extend_from_slice(format!("sha256 {}\n", hex(&Sha256::digest(&body))).as_bytes());
    bytes.extend_from_slice(&body);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io)
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
        // One digit changed, a cut, a foreign file: refused, left as they are.
        let good = std::fs::read(&path).unwrap();
        let text = String::from_utf8(good.clone()).unwrap();
        let at = text.rfind(|c: char| c.is_ascii_digit()).unwrap();
        let mut changed = text.clone();
        let digit = if &text[at..at + 1] == "1" { "2" } else { "1" };
        changed.replace_range(at..at + 1, digit);
        let cut = text[..text.len() - 5].to_owned();
        for (what, bytes) in [
            ("a changed digit", changed.into_bytes()),
            ("a truncated file", cut.into_bytes()),
            ("a foreign file", b"{}".to_vec()),
            ("binary junk", vec![0xff, 0x00, 0x13]),
        ] {
            std::fs::write(&path, &bytes).unwrap();
            let e = load(&path).unwrap_err();
            assert!(matches!(e, StateError::Malformed { .. }), "{what}: {e}");
            assert!(e.to_string().contains("state.json"), "{what}: {e}");
            assert_eq!(
                std::fs::read(&path).unwrap(),
                bytes,
                "{what}: left as it was"
            );
        }
        std::fs::write(&path, &good).unwrap();
        // A second run is locked out while the first holds the lock.
        let held = lock(&path).unwrap();
        assert!(matches!(lock(&path), Err(StateError::Locked { .. })));
        drop(held);
        lock(&path).unwrap();
        remove(&path).unwrap();
        remove(&path).unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }
}
