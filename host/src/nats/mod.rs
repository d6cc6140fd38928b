//! `recon nats …`: the detector scaled out over NATS JetStream.
//!
//! Each rule's work is split into partitions by the detection core
//! ([`recon_guest::Scanner::partition_of`]: a hash of the rule's group
//! key), so every group lies in one partition and one detector per
//! partition gives exactly the alerts of one detector over everything.
//! What lives where (see `docs/scale-out.md` for the why):
//!
//! - stream `RECON_RECORDS`, subjects `recon.records.<rule>.<n>`: batches
//!   of NDJSON records of one partition (deduplicated by `Nats-Msg-Id`),
//!   and one end-of-input marker per partition;
//! - key-value bucket `recon-state`: the layout (`layout`: partition count
//!   and configuration), each partition's owner, lease, epoch, position
//!   and snapshot (`part.<rule>.<n>`, every write compare-and-set by
//!   revision: the fence against a zombie worker), worker heartbeats
//!   (`worker.<id>`);
//! - stream `RECON_SNAPSHOTS`, subjects `recon.snap.<rule>.<n>.<id>`:
//!   snapshots cut into chunks below the server's payload limit;
//! - stream `RECON_ALERTS`, subjects `recon.alerts.<format>.<rule>`:
//!   alerts, deduplicated by `<alert id>:<kind>` (`:ocsf` appended in the
//!   OCSF form);
//! - stream `RECON_POISON`, subjects `recon.poison.<rule>.<n>`: records
//!   that made the component trap, with their stream position.

pub mod bridge;
pub mod client;
pub mod layout;
pub mod publish;
pub mod query;
pub mod setup;
pub mod snapshot;
pub mod worker;

pub use client::{ConnectOptions, Nats};
pub use layout::{Layout, PartitionId};

/// Why a `recon nats` command failed.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// The server could not be reached or refused the connection.
    #[error("cannot connect to NATS at {server}: {message}")]
    Connect {
        /// The URL tried.
        server: String,
        /// What went wrong.
        message: String,
    },
    /// The server refused an operation for lack of permission.
    #[error("permission denied by the NATS server: {0}")]
    Permission(String),
    /// The streams and buckets are missing or differ from what is asked.
    #[error("{0}")]
    Setup(String),
    /// Any other failure of a NATS operation.
    #[error("{what}: {message}")]
    Op {
        /// The operation.
        what: String,
        /// What the client reported.
        message: String,
    },
    /// A stored value (state, snapshot, layout) is damaged.
    #[error("{0}")]
    Damaged(String),
    /// The component failed.
    #[error(transparent)]
    Host(#[from] crate::runtime::HostError),
    /// Reading or writing local files.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// The stored configuration.
    #[error(transparent)]
    Settings(#[from] crate::settings::SettingsError),
}

impl NatsError {
    /// Wraps a client error, telling a permission refusal apart.
    pub fn op(what: impl Into<String>, e: impl std::fmt::Display) -> NatsError {
        let message = e.to_string();
        let what = what.into();
        if message.to_ascii_lowercase().contains("permission") {
            NatsError::Permission(format!("{what}: {message}"))
        } else {
            NatsError::Op { what, message }
        }
    }
}

pub use crate::live::now_ms;
