//! The detection core: two published AWS CLI reconnaissance rules run over
//! a stream of CloudTrail events, one event at a time.
//!
//! This crate is plain Rust and knows nothing of WIT or wasmtime; it builds
//! and is tested natively. Compiled for `wasm32`, the `component` module
//! (a thin shell generated from `wit/detector.wit`) exports it as a
//! WebAssembly component that imports nothing.
//!
//! Entry point: [`Detector`].

pub mod alert;
pub mod config;
mod engine;
pub mod event;
pub mod rules;
pub mod time;

#[cfg(target_arch = "wasm32")]
mod component;

use serde::{Deserialize, Serialize};

pub use alert::{Alert, Entity};
pub use config::{ConfigError, LimitSettings, Profile, Rule, Settings};
pub use engine::{Counters, Outcome};
pub use event::{EventError, RejectReason};

use config::Config;
use engine::{Engine, State};
use rules::{elastic::Elastic, sentinel::Sentinel};

/// The format name written into every snapshot.
pub const SNAPSHOT_FORMAT: &str = "recon-detector-snapshot";
/// The snapshot format version this build writes and reads.
pub const SNAPSHOT_VERSION: u32 = 1;

/// The result of [`Detector::push_batch`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchResult {
    /// Events counted in a window.
    pub accepted: u32,
    /// Valid events the filters dropped.
    pub filtered: u32,
    /// Late events.
    pub late: u32,
    /// Rejected events by index in the batch.
    pub errors: Vec<(u32, EventError)>,
}

/// A detector's counters and state sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Running counters.
    pub counters: Counters,
    /// Open windows.
    pub open_windows: u32,
    /// Open groups.
    pub open_groups: u32,
    /// Alerts not yet drained.
    pub pending_alerts: u32,
    /// Current watermark.
    pub watermark: Option<i64>,
}

impl Stats {
    /// All rejected events.
    pub fn rejected(&self) -> u64 {
        self.counters.rejected.iter().sum()
    }

    /// Rejections per reason, zero counts left out.
    pub fn rejected_by_reason(&self) -> Vec<(RejectReason, u64)> {
        RejectReason::ALL
            .iter()
            .zip(self.counters.rejected)
            .filter(|(_, n)| *n > 0)
            .map(|(r, n)| (*r, n))
            .collect()
    }
}

/// Why a snapshot could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not a snapshot of this format.
    #[error("not a detector snapshot: {0}")]
    Malformed(String),
    /// Written by an incompatible version.
    #[error(
        "snapshot format version {0} is not supported (this build reads version {SNAPSHOT_VERSION})"
    )]
    UnsupportedVersion(u32),
    /// The stored configuration is invalid.
    #[error("the snapshot's configuration is invalid: {0}")]
    InvalidConfig(ConfigError),
}

enum Inner {
    Sentinel(Engine<Sentinel>),
    Elastic(Engine<Elastic>),
}

macro_rules! each {
    ($self:expr, $e:ident => $body:expr) => {
        match $self {
            Inner::Sentinel($e) => $body,
            Inner::Elastic($e) => $body,
        }
    };
}

/// One running detection: a rule, its open windows, watermark, pending
/// alerts and counters.
pub struct Detector {
    inner: Inner,
}

#[derive(Serialize)]
struct SnapshotOut<'a, S> {
    format: &'a str,
    version: u32,
    settings: &'a Settings,
    state: S,
}

#[derive(Deserialize)]
struct SnapshotHeader {
    format: String,
    version: u32,
    settings: Settings,
}

#[derive(Deserialize)]
struct SnapshotIn<S> {
    state: S,
}

impl Detector {
    /// A detector for `settings`, or why they are invalid.
    pub fn new(settings: Settings) -> Result<Detector, ConfigError> {
        let config = Config::new(settings)?;
        Ok(Detector::from_config(config))
    }

    fn from_config(config: Config) -> Detector {
        let inner = match config.settings.rule {
            Rule::Sentinel => Inner::Sentinel(Engine::new(Sentinel::new(&config), config)),
            Rule::Elastic => Inner::Elastic(Engine::new(Elastic::new(&config), config)),
        };
        Detector { inner }
    }

    /// The settings this detector was built from.
    pub fn settings(&self) -> &Settings {
        each!(&self.inner, e => &e.config().settings)
    }

    /// Pushes one event (JSON text).
    pub fn push(&mut self, event: &str) -> Result<Outcome, EventError> {
        each!(&mut self.inner, e => e.push(event))
    }

    /// Pushes many events, in order; errors are reported by index.
    pub fn push_batch<S: AsRef<str>>(&mut self, events: &[S]) -> BatchResult {
        let mut result = BatchResult::default();
        for (i, event) in events.iter().enumerate() {
            match self.push(event.as_ref()) {
                Ok(Outcome::Accepted) => result.accepted += 1,
                Ok(Outcome::Filtered) => result.filtered += 1,
                Ok(Outcome::Late) => result.late += 1,
                Err(e) => result.errors.push((i as u32, e)),
            }
        }
        result
    }

    /// Advances the watermark to `to`, or with `None` ends the stream and
    /// closes every window. Returns the number of alerts produced.
    pub fn flush(&mut self, to: Option<i64>) -> u32 {
        each!(&mut self.inner, e => e.flush(to))
    }

    /// Takes the alerts produced so far, oldest window first.
    pub fn drain(&mut self) -> Vec<Alert> {
        each!(&mut self.inner, e => e.drain())
    }

    /// Counters and state sizes.
    pub fn stats(&self) -> Stats {
        each!(&self.inner, e => Stats {
            counters: e.counters.clone(),
            open_windows: e.open_windows() as u32,
            open_groups: e.open_groups() as u32,
            pending_alerts: e.pending() as u32,
            watermark: e.watermark(),
        })
    }

    /// Serialises settings, state and counters (versioned JSON).
    pub fn snapshot(&self) -> Vec<u8> {
        let settings = self.settings();
        let bytes = each!(&self.inner, e => serde_json::to_vec(&SnapshotOut {
            format: SNAPSHOT_FORMAT,
            version: SNAPSHOT_VERSION,
            settings,
            state: e.state(),
        }));
        bytes.expect("detector state holds only strings, integers and lists")
    }

    /// Rebuilds a detector from [`Detector::snapshot`] bytes.
    pub fn restore(bytes: &[u8]) -> Result<Detector, SnapshotError> {
        let header: SnapshotHeader =
            serde_json::from_slice(bytes).map_err(|e| SnapshotError::Malformed(e.to_string()))?;
        if header.format != SNAPSHOT_FORMAT {
            return Err(SnapshotError::Malformed(format!(
                "format is {:?}, expected {SNAPSHOT_FORMAT:?}",
                header.format
            )));
        }
        if header.version != SNAPSHOT_VERSION {
            return Err(SnapshotError::UnsupportedVersion(header.version));
        }
        let config = Config::new(header.settings).map_err(SnapshotError::InvalidConfig)?;
        let malformed = |e: serde_json::Error| SnapshotError::Malformed(e.to_string());
        let inner = match config.settings.rule {
            Rule::Sentinel => {
                let s: SnapshotIn<State<_, _>> =
                    serde_json::from_slice(bytes).map_err(malformed)?;
                Inner::Sentinel(
                    Engine::from_state(Sentinel::new(&config), config, s.state)
                        .map_err(SnapshotError::Malformed)?,
                )
            }
            Rule::Elastic => {
                let s: SnapshotIn<State<_, _>> =
                    serde_json::from_slice(bytes).map_err(malformed)?;
                Inner::Elastic(
                    Engine::from_state(Elastic::new(&config), config, s.state)
                        .map_err(SnapshotError::Malformed)?,
                )
            }
        };
        Ok(Detector { inner })
    }
}
