//! The layout every process of a deployment shares: how many partitions
//! each rule's work has and the configuration they all run (stored once by
//! `recon nats setup`, read by every other command), and the names derived
//! from it.

use serde::{Deserialize, Serialize};

use crate::runtime::{Config, guest_settings};
use crate::settings::{FileSettings, RuleTexts, RunConfig};
use crate::tenants::tenant_config;

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
    /// Each tenant's own rule files (`tenants.rules_dir`), by tenant, each
    /// as (name, text), read once by `recon nats setup` like
    /// [`Layout::rule_files`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenant_rule_files: Vec<(String, Vec<(String, String)>)>,
}

/// Every configuration a deployment runs: the common one, and that of
/// each tenant with rule files of its own (the common configuration plus
/// its files), each with the names of the rules it runs.
#[derive(Debug, Clone)]
pub struct Configs {
    /// The common configuration and its rules' names.
    pub common: (Config, Vec<String>),
    /// Each tenant with rules of its own: its name, configuration and
    /// rules' names.
    pub own: Vec<(String, Config, Vec<String>)>,
}

/// The names of the rules `config` runs, in order: its built-ins, then its
/// data rules (as the detection core compiles them).
fn rule_names(config: &Config) -> Result<Vec<String>, NatsError> {
    let compiled = recon_guest::config::Config::new(guest_settings(config))
        .map_err(|e| NatsError::Setup(format!("the stored configuration is invalid: {e}")))?;
    Ok(compiled.rules.iter().map(|r| r.name.to_string()).collect())
}

impl Configs {
    /// The configurations of `run`, checked.
    pub fn of(run: &RunConfig) -> Result<Configs, NatsError> {
        let common = (run.detector.clone(), rule_names(&run.detector)?);
        let own = run
            .tenant_rules
            .iter()
            .map(|(t, files)| {
                let config = tenant_config(&run.detector, files);
                let names = rule_names(&config)
                    .map_err(|e| NatsError::Setup(format!("tenant {t}'s rules: {e}")))?;
                Ok((t.clone(), config, names))
            })
            .collect::<Result<_, NatsError>>()?;
        Ok(Configs { common, own })
    }

    /// Every rule of any configuration, once, in order: the common
    /// configuration's, then those only tenants have, tenant by tenant.
    pub fn rule_names(&self) -> Vec<String> {
        let mut names = self.common.1.clone();
        for (_, _, own) in &self.own {
            for n in own {
                if !names.contains(n) {
                    names.push(n.clone());
                }
            }
        }
        names
    }

    /// Partition `p`'s share of the configurations: the common
    /// configuration's, and that of each tenant with rules of its own that
    /// runs the rule. (A rule only some tenants define has no share of the
    /// common configuration: a detector of it is refused, naming the rule,
    /// and never needed, since the records of other tenants are never
    /// placed in its partitions.)
    pub fn share(&self, p: PartitionId) -> (Config, Vec<(String, Config)>) {
        let common = partition_config(&self.common.0, p);
        let own = self
            .own
            .iter()
            .filter(|(_, _, names)| names.iter().any(|n| n == p.rule))
            .map(|(t, c, _)| (t.clone(), partition_config(c, p)))
            .collect();
        (common, own)
    }
}

/// The share of `config` a partition's detector runs: the configuration
/// with only that partition's rule (a built-in without the rule files; a
/// data rule alone of the rule files, with the filters that apply to it).
fn partition_config(config: &Config, p: PartitionId) -> Config {
    let mut config = config.clone();
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
        Ok(FileSettings::parse(&self.config)?.resolve_with(RuleTexts {
            files: self.rule_files.clone(),
            tenants: self.tenant_rule_files.clone(),
        })?)
    }

    /// Every partition, rule by rule (see [`Configs::rule_names`]), of the
    /// configurations `configs` (this layout's, resolved).
    pub fn partition_ids(&self, configs: &Configs) -> Vec<PartitionId> {
        configs
            .rule_names()
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
            .collect()
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
