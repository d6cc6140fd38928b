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
mod detector;
pub mod event;
pub mod fields;
pub mod format;
pub mod prefilter;
pub mod read;
pub mod registry;
mod results;
pub mod rules;
mod scan;
pub mod sigma;
mod snapshot;
pub mod time;
mod windows;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod component;

pub use alert::{Alert, AlertKind, Entity};
pub use config::{
    ConfigError, LimitSettings, Profile, Rule, RuleName, RuleSettings, Settings, WindowMode,
};
pub use detector::Detector;
pub use event::{EventError, RejectReason};
pub use read::{ReadReport, ReadResult, ReadStep};
pub use recon_reader as reader;
pub use results::{BatchError, BatchResult, RuleCounts, RuleOutcome, RuleStats, Stats};
pub use scan::{Placement, Scanned, Scanner, partition_hash};
pub use sigma::{RuleError, RuleFile};
pub use snapshot::{
    MAX_RESTORED_COUNT, SNAPSHOT_FORMAT, SNAPSHOT_OLDEST_VERSION, SNAPSHOT_VERSION, SnapshotError,
    seal_snapshot, unseal_snapshot,
};
pub use windows::{Counters, Outcome};
pub use wire::ApplyError;
