//! The `recon` configuration file (TOML): its shape ([`FileSettings`]),
//! checked and resolved once into what a run uses ([`RunConfig`], in
//! `resolve`), and the complete default file (`template`). Every field is
//! optional; what is left out takes the default documented here or in
//! `wit/detector.wit`. Unknown fields are an error, so a typo never
//! silently means "default".
//!
//! ```toml
//! rules = ["sentinel", "elastic"]   # default: all
//! profile = "default"               # or "seed"
//! allowed_lateness_seconds = 900
//! early_alerts = true               # default: on in live mode, else off
//! chunk_kib = 1024                  # bytes of input per call into the component
//! workers = 2                       # scanning threads (default: the cores)
//!
//! [sentinel]
//! window_seconds = 60
//! min_distinct = 8
//! commands = ["iam.list-users", "ec2.describe-vpcs"]
//! suppress_seconds = 3600           # one alert per group an hour (0: off)
//! window = "sliding"                # or "tumbling" (the default)
//!
//! [elastic]
//! window_seconds = 10
//! min_distinct = 6
//! providers = ["iam.amazonaws.com", "ec2.amazonaws.com"]
//!
//! [limits]
//! max_event_bytes = 262144
//! max_open_groups = 100000
//! max_list_entries = 10000
//! max_time_jump_seconds = 3600      # a record further ahead moves the watermark
//! time_confirmations = 16           # only once this many agree
//!
//! [sandbox]
//! max_memory_mib = 256
//! max_call_ms = 10000               # 0: no deadline
//! fuel_per_call = 0                 # 0 (the default): no fuel metering
//! ```

use std::path::Path;

use serde::Deserialize;

use crate::choice::Choice;
pub use crate::rules::{BuiltIn, RuleChoice};

mod resolve;
mod template;

pub use resolve::{
    DEFAULT_CHUNK_KIB, DEFAULT_MAX_EVENT_BYTES, DEFAULT_MAX_QUARANTINED, MAX_CHUNK_KIB,
    MAX_WORKERS, RuleTexts, RunConfig,
};
pub use template::default_file;

/// A profile as named on the command line and in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileName {
    /// The queries' evident intent.
    #[default]
    Default,
    /// The queries' letter.
    Seed,
}

impl Choice for ProfileName {
    const ALL: &'static [ProfileName] = &[ProfileName::Default, ProfileName::Seed];

    fn name(self) -> &'static str {
        match self {
            ProfileName::Default => "default",
            ProfileName::Seed => "seed",
        }
    }

    fn about(self) -> &'static str {
        match self {
            ProfileName::Default => "the queries' evident intent",
            ProfileName::Seed => "the queries' letter",
        }
    }
}

/// Settings of one rule.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSection {
    /// Window width in seconds.
    pub window_seconds: Option<u64>,
    /// Smallest distinct count that alerts.
    pub min_distinct: Option<u32>,
    /// Sentinel: the suspicious command list.
    pub commands: Option<Vec<String>>,
    /// Elastic: the event sources.
    pub providers: Option<Vec<String>>,
    /// Suppression span in seconds of event time (0: none): see
    /// `rule-config.suppress-ms` in the contract.
    pub suppress_seconds: Option<u64>,
    /// `tumbling` (the default) or `sliding`: see `rule-config.window`.
    pub window: Option<WindowName>,
}

/// A window mode as named in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowName {
    /// Epoch-aligned buckets: the seeds' windows.
    Tumbling,
    /// At each event time, the span before it.
    Sliding,
}

/// State bounds of every detector.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSection {
    /// See `limits.max-event-bytes` in the contract.
    pub max_event_bytes: Option<u32>,
    /// See `limits.max-open-groups`.
    pub max_open_groups: Option<u32>,
    /// See `limits.max-list-entries`.
    pub max_list_entries: Option<u32>,
    /// See `limits.max-time-jump-ms` (here in seconds; default 3600).
    pub max_time_jump_seconds: Option<u64>,
    /// See `limits.time-confirmations` (default 16; 1: the classic
    /// watermark).
    pub time_confirmations: Option<u32>,
}

/// Bounds the host puts on the component.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxSection {
    /// Linear memory cap in MiB (default 256).
    pub max_memory_mib: Option<u64>,
    /// Longest one call may run, in milliseconds (default 10000); 0
    /// disables the deadline.
    pub max_call_ms: Option<u64>,
    /// Fuel per call; 0 or absent (the default) disables metering.
    pub fuel_per_call: Option<u64>,
    /// MiB of input kept for replay after a trap before the detector is
    /// snapshotted again (default 16). See `guard`.
    pub checkpoint_mib: Option<u64>,
    /// Most records quarantined (each made the component trap on its own)
    /// before the run gives up (default 100): past that, a broken
    /// component or bounds too tight for the input are likelier than
    /// poisoned records.
    pub max_quarantined: Option<u64>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// Rules to run: built-ins by name, Sigma rule files or directories
    /// by path (default: the built-ins).
    pub rules: Option<Vec<RuleChoice>>,
    /// Profile of every rule.
    pub profile: Option<ProfileName>,
    /// Allowed lateness in seconds (default 900: see docs/delivery.md).
    pub allowed_lateness_seconds: Option<u64>,
    /// Early alerts (the contract's `early-alerts`): a group is also
    /// reported the moment it reaches the threshold, before its window
    /// closes. Default: on in live mode, off otherwise (see
    /// docs/streaming.md).
    pub early_alerts: Option<bool>,
    /// KiB of input per call into the component (default 1024).
    pub chunk_kib: Option<usize>,
    /// Scanning threads, each with its own component instance (default:
    /// the number of cores; 1 scans on the detecting thread).
    pub workers: Option<usize>,
    /// Sentinel rule settings.
    #[serde(default)]
    pub sentinel: RuleSection,
    /// Elastic rule settings.
    #[serde(default)]
    pub elastic: RuleSection,
    /// State bounds.
    #[serde(default)]
    pub limits: LimitsSection,
    /// Sandbox bounds.
    #[serde(default)]
    pub sandbox: SandboxSection,
    /// One detector per tenant.
    #[serde(default)]
    pub tenants: TenantsSection,
    /// Live mode.
    #[serde(default)]
    pub live: LiveSection,
    /// The keys whose value came from a command-line option rather than
    /// the file (see [`FileSettings::set_by_flag`]), so that an error names
    /// the setting as the user wrote it.
    #[serde(skip)]
    pub flags: Vec<&'static str>,
}

/// The command-line option of each file key that has one.
pub const FLAGS: &[(&str, &str)] = &[
    ("allowed_lateness_seconds", "--allowed-lateness"),
    ("early_alerts", "--early"),
    ("chunk_kib", "--chunk-kib"),
    ("workers", "--workers"),
    ("tenants.key", "--tenant-key"),
];

/// Live mode: windows close on the host's clock when a live stream goes
/// quiet (see [`crate::live`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LiveSection {
    /// Milliseconds of quiet input before the host's clock moves the
    /// watermark (default 5000).
    pub idle_ms: Option<u64>,
    /// A stream whose watermark is further behind the wall clock than this
    /// is a backtest, never advanced (default 3600).
    pub max_lag_seconds: Option<u64>,
}

/// Routing records to one detector per tenant, each in its own component
/// instance (see `tenants`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantsSection {
    /// The field that names a record's tenant, as a dotted path (e.g.
    /// `recipientAccountId`); absent (the default): one detector for all.
    pub key: Option<String>,
    /// Most tenants with a detector of their own (default 64); records of
    /// further tenants share one more, `(other)`.
    pub max_tenants: Option<usize>,
    /// Each tenant's own rules: a directory holding, per tenant, a rule
    /// file `<tenant>.yml` (or `.yaml`) or a directory `<tenant>/` of
    /// them, run beside the common `rules` for that tenant only (its
    /// detections, correlations, and filters that are its exceptions to
    /// the common rules). Needs `key`.
    pub rules_dir: Option<std::path::PathBuf>,
}

/// Why a configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not valid TOML of this shape.
    #[error("{path}: {source}")]
    Parse {
        /// The file.
        path: String,
        /// The error, with line and column.
        source: Box<toml::de::Error>,
    },
    /// A value is out of range.
    #[error("{0}")]
    Invalid(String),
}

impl FileSettings {
    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<FileSettings, SettingsError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| SettingsError::Io {
            path: name.clone(),
            source,
        })?;
        FileSettings::parse(&text).map_err(|e| match e {
            SettingsError::Parse { source, .. } => SettingsError::Parse { path: name, source },
            other => other,
        })
    }

    /// Parses configuration text.
    pub fn parse(text: &str) -> Result<FileSettings, SettingsError> {
        toml::from_str(text).map_err(|source| SettingsError::Parse {
            path: "<config>".into(),
            source: Box::new(source),
        })
    }

    /// Records that `key` (a file key of [`FLAGS`]) was given by its
    /// command-line option: errors about it then name the option.
    pub fn set_by_flag(&mut self, key: &'static str) {
        if !self.flags.contains(&key) {
            self.flags.push(key);
        }
    }

    /// `key` set to `value` as the user wrote it: `--option value` when it
    /// came from the command line, else `key = value` (file keys of a
    /// section written `section.key`).
    pub fn setting(&self, key: &str, value: impl std::fmt::Display) -> String {
        match FLAGS.iter().find(|(k, _)| *k == key) {
            Some((k, flag)) if self.flags.contains(k) => format!("{flag} {value}"),
            _ => format!("{key} = {value}"),
        }
    }

    /// The built-ins to run, in output order, each once: those named, or
    /// all of them when `rules` names nothing.
    pub fn rules(&self) -> Vec<BuiltIn> {
        match &self.rules {
            Some(r) if !r.is_empty() => BuiltIn::ALL
                .iter()
                .copied()
                .filter(|n| r.contains(&RuleChoice::BuiltIn(*n)))
                .collect(),
            _ => BuiltIn::ALL.to_vec(),
        }
    }

    /// The rule files `rules` names (files, directories, the catalogue),
    /// read, in order.
    pub fn rule_files(&self) -> Result<Vec<(String, String)>, SettingsError> {
        crate::rules::rule_files(self.rules.as_deref().unwrap_or_default())
    }

    /// A built-in's section of the file.
    pub fn section(&self, rule: BuiltIn) -> &RuleSection {
        (rule.info().section)(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_errors() {
        let e = FileSettings::parse("[sentinel]\ncomands = []\n").unwrap_err();
        assert!(e.to_string().contains("comands"), "{e}");
        assert!(FileSettings::parse("profile = \"loose\"").is_err());
    }

    #[test]
    fn rules_keep_the_output_order_once_each() {
        let s = FileSettings::parse(r#"rules = ["elastic", "sentinel", "elastic"]"#).unwrap();
        assert_eq!(s.rules(), vec![BuiltIn::Sentinel, BuiltIn::Elastic]);
        let s = FileSettings::parse("rules = []").unwrap();
        assert_eq!(s.rules(), BuiltIn::ALL.to_vec());
    }

    #[test]
    fn a_setting_is_named_as_the_user_wrote_it() {
        let mut s = FileSettings::default();
        assert_eq!(s.setting("workers", 0), "workers = 0");
        s.set_by_flag("workers");
        assert_eq!(s.setting("workers", 0), "--workers 0");
        assert_eq!(
            s.setting("limits.max_open_groups", 0),
            "limits.max_open_groups = 0"
        );
    }
}
