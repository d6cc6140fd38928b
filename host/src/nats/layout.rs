//! The layout every process of a deployment shares: how many partitions
//! each rule's work has and the configuration they all run (stored once by
//! `recon nats setup`, read by every other command), and the names derived
//! from it.

use serde::{Deserialize, Serialize};

use crate::runtime::{Config, guest_settings};
use crate::settings::{FileSettings, RunConfig};

use super::{Nats, NatsError};

/// The key-value bucket holding the layout and each partition's state.
pub const STATE_BUCKET: &str = "recon-state";
/// The key of the layout in [`STATE_BUCKET`].
pub const LAYOUT_KEY: &str = "layout";
/// Stream of records.
pub const RECORDS_STREAM: &str = "RECON_RECORDS";
/// Stream of alerts.
pub const ALERTS_STREAM: &str = "RECON_ALERTS";
/// Stream of snapshot chunks.
pub const SNAPSHOTS_STREAM: &str = "RECON_SNAPSHOTS";
/// Stream of records that made the component trap.
pub const POISON_STREAM: &str = "RECON_POISON";
/// Version of the layout this build writes and reads.
pub const LAYOUT_VERSION: u32 = 1;

/// What `recon nats setup` stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layout {
    /// [`LAYOUT_VERSION`].
    pub version: u32,
    /// Partitions of each rule's work.
    pub partitions: u32,
    /// The configuration file's text (`recon detect --config` format):
    /// rules, their settings, bounds, sandbox.
    pub config: String,
    /// The rule files the configuration names, as (name, text), read once
    /// by `recon nats setup`: every worker runs exactly these, wherever
    /// it runs. (Absent from layouts stored before rules as data.)
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<(String, String)>,
}

/// One partition: one rule's share of the records whose group key hashes
/// to `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartitionId {
    /// Position of the rule in the configuration (built-ins, then data
    /// rules).
    pub rule_pos: usize,
    /// The rule's name, which alerts carry.
    pub rule: &'static str,
    /// The rule's name as one token of a NATS subject (see
    /// [`subject_token`]).
    pub token: &'static str,
    /// Partition of that rule's work.
    pub index: u32,
}

/// A rule's name as one token of a subject or key: the name itself when it
/// holds only letters, digits, `-` and `_`; else those characters with
/// every other one as `_`, and a hash of the name (so two names never
/// share a token).
pub fn subject_token(name: &str) -> String {
    if !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return name.to_owned();
    }
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(48)
        .collect();
    let h = recon_guest::partition_hash(name.as_bytes());
    format!("{clean}-{:08x}", h as u32)
}

/// A string kept for the life of the process: the few rule names a
/// deployment runs, so partition ids stay `Copy`.
fn keep(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

impl PartitionId {
    /// `<rule>.<index>`: used in subjects, keys and messages.
    pub fn name(&self) -> String {
        format!("{}.{}", self.token, self.index)
    }

    /// Subject of its records.
    pub fn records_subject(&self) -> String {
        format!("recon.records.{}", self.name())
    }

    /// Key of its state in [`STATE_BUCKET`].
    pub fn state_key(&self) -> String {
        format!("part.{}", self.name())
    }

    /// Subject of its quarantined records.
    pub fn poison_subject(&self) -> String {
        format!("recon.poison.{}", self.name())
    }

    /// Subject prefix of its snapshot chunks.
    pub fn snapshot_subject(&self, id: &str) -> String {
        format!("recon.snap.{}.{id}", self.name())
    }
}

/// Subject of alerts of `rule` in `format` (`native` or `ocsf`).
pub fn alerts_subject(format: &str, rule: &str) -> String {
    format!("recon.alerts.{format}.{rule}")
}

impl Layout {
    /// The stored configuration, checked and resolved: what every process
    /// of the deployment runs. Each process resolves it once, at start.
    pub fn resolve(&self) -> Result<RunConfig, NatsError> {
        Ok(FileSettings::parse(&self.config)?.resolve_with(self.rule_files.clone())?)
    }

    /// Every rule `run` runs, by name, in order: its built-ins, then its
    /// data rules (as the detection core compiles them).
    pub fn rule_names(run: &RunConfig) -> Result<Vec<String>, NatsError> {
        let config = recon_guest::config::Config::new(guest_settings(&run.detector))
            .map_err(|e| NatsError::Setup(format!("the stored configuration is invalid: {e}")))?;
        Ok(config.rules.iter().map(|r| r.name.to_string()).collect())
    }

    /// Every partition, rule by rule, of the configuration `run` (this
    /// layout's, resolved).
    pub fn partition_ids(&self, run: &RunConfig) -> Result<Vec<PartitionId>, NatsError> {
        let names = Layout::rule_names(run)?;
        Ok(names
            .into_iter()
            .enumerate()
            .flat_map(|(rule_pos, name)| {
                let token = keep(subject_token(&name));
                let rule = keep(name);
                (0..self.partitions).map(move |index| PartitionId {
                    rule_pos,
                    rule,
                    token,
                    index,
                })
            })
            .collect())
    }

    /// The component configuration a partition's detector runs: the whole
    /// configuration with only that partition's rule (a built-in without
    /// the rule files; a data rule alone of the rule files).
    pub fn partition_config(run: &RunConfig, p: PartitionId) -> Config {
        let mut config = run.detector.clone();
        if p.rule_pos < config.rules.len() {
            let rule = config.rules.swap_remove(p.rule_pos);
            config.rules = vec![rule];
            config.rule_files.clear();
        } else {
            config.rules.clear();
            config.only_rules = Some(vec![p.rule.to_owned()]);
        }
        config
    }

    /// The native scanner that places records in partitions.
    pub fn scanner(run: &RunConfig) -> Result<recon_guest::Scanner, NatsError> {
        recon_guest::Scanner::new(guest_settings(&run.detector))
            .map_err(|e| NatsError::Setup(format!("the stored configuration is invalid: {e}")))
    }

    /// Reads the layout stored by `recon nats setup`.
    pub fn load(nats: &Nats) -> Result<Layout, NatsError> {
        let kv = state_bucket(nats)?;
        let value = nats
            .block_on(kv.get(LAYOUT_KEY))
            .map_err(|e| nats.err("reading the layout", e))?
            .ok_or_else(|| {
                NatsError::Setup("no layout stored: run `recon nats setup` first".into())
            })?;
        let layout: Layout = serde_json::from_slice(&value)
            .map_err(|e| NatsError::Damaged(format!("the stored layout is damaged: {e}")))?;
        if layout.version != LAYOUT_VERSION {
            return Err(NatsError::Setup(format!(
                "the stored layout has version {}; this build reads {LAYOUT_VERSION}",
                layout.version
            )));
        }
        Ok(layout)
    }
}

/// The state bucket, which `recon nats setup` created.
pub fn state_bucket(nats: &Nats) -> Result<async_nats::jetstream::kv::Store, NatsError> {
    nats.block_on(nats.js.get_key_value(STATE_BUCKET))
        .map_err(|e| match nats.err("opening the state bucket", &e) {
            NatsError::Op { .. } => NatsError::Setup(format!(
                "cannot open the state bucket {STATE_BUCKET} ({e}): run `recon nats setup` first"
            )),
            other => other,
        })
}
