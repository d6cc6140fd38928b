//! The `recon` configuration file (TOML) and its mapping onto the
//! contract's `config` records. Every field is optional; what is left out
//! takes the default documented here or in `wit/detector.wit`. Unknown
//! fields are an error, so a typo never silently means "default".
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

use std::time::Duration;

use crate::detect::{DEFAULT_LIVE_IDLE, DEFAULT_LIVE_MAX_LAG, LiveOptions};
use crate::guard::GuardSettings;
use crate::runtime::{Config, Limits, Profile, Rule, RuleConfig, SandboxLimits};
use crate::tenants::{DEFAULT_MAX_TENANTS, TenantKey};

/// Default bytes of input handed to the component per call: 1 MiB (about
/// a thousand CloudTrail records). Large enough that the call boundary
/// costs nothing measurable, small enough to keep latency and memory low.
/// The reader crate's chunk size, the one the component's reader uses.
pub const DEFAULT_CHUNK_KIB: usize = recon_reader::DEFAULT_CHUNK_BYTES as usize / 1024;
/// Largest accepted `chunk_kib`: 64 MiB.
pub const MAX_CHUNK_KIB: usize = 64 * 1024;

/// A rule as named on the command line and in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RuleName {
    /// Sentinel "Suspicious AWS CLI Command Execution".
    Sentinel,
    /// Elastic "AWS Discovery API Calls via CLI from a Single Resource".
    Elastic,
}

impl RuleName {
    /// Every rule, in output order.
    pub const ALL: [RuleName; 2] = [RuleName::Sentinel, RuleName::Elastic];

    /// The contract's rule.
    pub fn rule(self) -> Rule {
        match self {
            RuleName::Sentinel => Rule::SentinelAwsCliRecon,
            RuleName::Elastic => Rule::ElasticAwsDiscoveryBurst,
        }
    }

    /// The name alerts carry.
    pub fn alert_name(self) -> &'static str {
        match self {
            RuleName::Sentinel => "sentinel-aws-cli-recon",
            RuleName::Elastic => "elastic-aws-discovery-burst",
        }
    }
}

/// A profile as named on the command line and in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum ProfileName {
    /// The queries' evident intent.
    #[default]
    Default,
    /// The queries' letter.
    Seed,
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

/// Default `sandbox.max_quarantined`.
pub const DEFAULT_MAX_QUARANTINED: u64 = 100;

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// Rules to run (default: all).
    pub rules: Option<Vec<RuleName>>,
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
/// quiet (see `detect::LiveOptions`).
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

    /// The rules to run.
    pub fn rules(&self) -> Vec<RuleName> {
        match &self.rules {
            Some(r) if !r.is_empty() => {
                // Keep the documented output order, without duplicates.
                RuleName::ALL
                    .into_iter()
                    .filter(|n| r.contains(n))
                    .collect()
            }
            _ => RuleName::ALL.to_vec(),
        }
    }

    /// Bytes of input per call into the component.
    pub fn chunk_bytes(&self) -> Result<usize, SettingsError> {
        match self.chunk_kib.unwrap_or(DEFAULT_CHUNK_KIB) {
            n @ 1..=MAX_CHUNK_KIB => Ok(n * 1024),
            n => Err(SettingsError::Invalid(format!(
                "{} is out of range; it must be between 1 and {MAX_CHUNK_KIB} (KiB)",
                self.setting("chunk_kib", n)
            ))),
        }
    }

    /// Scanning threads.
    pub fn workers(&self) -> Result<usize, SettingsError> {
        match self.workers {
            Some(n @ (0 | 257..)) => Err(SettingsError::Invalid(format!(
                "{} is out of range; it must be between 1 and 256",
                self.setting("workers", n)
            ))),
            Some(n) => Ok(n),
            None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
        }
    }

    /// The contract configuration of the detector: every rule to run, one
    /// parse of each event.
    ///
    /// Every value is checked here against the contract's bounds, so that
    /// an error names the setting as the user wrote it (file key or
    /// option) in its unit, not the contract's field in milliseconds.
    pub fn detector_config(&self) -> Result<Config, SettingsError> {
        use recon_guest::config::{MAX_DURATION_MS, MAX_TIME_CONFIRMATIONS};
        let max_seconds = MAX_DURATION_MS / 1000;
        let seconds = |key: &str, v: Option<u64>, min: u64| -> Result<Option<u64>, SettingsError> {
            match v {
                Some(v) if v < min || v > max_seconds => Err(SettingsError::Invalid(format!(
                    "{} is out of range; it must be between {min} and {max_seconds} seconds (7 days)",
                    self.setting(key, v)
                ))),
                v => Ok(v.map(|v| v * 1000)),
            }
        };
        let at_least_one = |key: &str, v: Option<u32>| match v {
            Some(0) => Err(SettingsError::Invalid(format!(
                "{} is out of range; it must be at least 1",
                self.setting(key, 0)
            ))),
            v => Ok(v),
        };
        let list = |key: &str, v: &Option<Vec<String>>| {
            let Some(items) = v else { return Ok(()) };
            if items.is_empty() {
                return Err(SettingsError::Invalid(format!(
                    "{key} is empty; leave it out for the default list"
                )));
            }
            match items.iter().position(|s| s.trim().is_empty()) {
                Some(i) => Err(SettingsError::Invalid(format!(
                    "{key}: entry {} is empty; every entry must hold text",
                    i + 1
                ))),
                None => Ok(()),
            }
        };
        let profile = match self.profile.unwrap_or_default() {
            ProfileName::Default => Profile::Default,
            ProfileName::Seed => Profile::Seed,
        };
        let rules = self
            .rules()
            .into_iter()
            .map(|rule| {
                let section = match rule {
                    RuleName::Sentinel => &self.sentinel,
                    RuleName::Elastic => &self.elastic,
                };
                let name = match rule {
                    RuleName::Sentinel => "sentinel",
                    RuleName::Elastic => "elastic",
                };
                let key = |k: &str| format!("{name}.{k}");
                list(&key("commands"), &section.commands)?;
                list(&key("providers"), &section.providers)?;
                Ok(RuleConfig {
                    rule: rule.rule(),
                    window_ms: seconds(&key("window_seconds"), section.window_seconds, 1)?,
                    min_distinct: at_least_one(&key("min_distinct"), section.min_distinct)?,
                    commands: section.commands.clone(),
                    providers: section.providers.clone(),
                })
            })
            .collect::<Result<Vec<_>, SettingsError>>()?;
        Ok(Config {
            rules,
            profile,
            allowed_lateness_ms: seconds(
                "allowed_lateness_seconds",
                self.allowed_lateness_seconds,
                0,
            )?,
            // Off is the contract's default: written as `None`, so that a
            // configuration without early alerts reads as it did in 0.2.
            early_alerts: self.early_alerts.filter(|on| *on),
            limits: Limits {
                max_event_bytes: at_least_one(
                    "limits.max_event_bytes",
                    self.limits.max_event_bytes,
                )?,
                max_open_groups: at_least_one(
                    "limits.max_open_groups",
                    self.limits.max_open_groups,
                )?,
                max_list_entries: at_least_one(
                    "limits.max_list_entries",
                    self.limits.max_list_entries,
                )?,
                max_time_jump_ms: seconds(
                    "limits.max_time_jump_seconds",
                    self.limits.max_time_jump_seconds,
                    1,
                )?,
                time_confirmations: match self.limits.time_confirmations {
                    Some(n) if n == 0 || n > MAX_TIME_CONFIRMATIONS => {
                        return Err(SettingsError::Invalid(format!(
                            "{} is out of range; it must be between 1 and {MAX_TIME_CONFIRMATIONS}",
                            self.setting("limits.time_confirmations", n)
                        )));
                    }
                    n => n,
                },
            },
        })
    }

    /// How the detector recovers from traps.
    pub fn guard(&self) -> Result<GuardSettings, SettingsError> {
        let mut g = GuardSettings::default();
        if let Some(mib) = self.sandbox.checkpoint_mib {
            g.checkpoint_bytes = usize::try_from(mib)
                .ok()
                .and_then(|m| m.checked_mul(1 << 20))
                .ok_or_else(|| {
                    SettingsError::Invalid(format!(
                        "sandbox.checkpoint_mib = {mib} is out of range"
                    ))
                })?;
        }
        Ok(g)
    }

    /// Live mode's settings.
    pub fn live_options(&self) -> Result<LiveOptions, SettingsError> {
        let idle = self
            .live
            .idle_ms
            .map_or(DEFAULT_LIVE_IDLE, Duration::from_millis);
        if idle.is_zero() {
            return Err(SettingsError::Invalid(
                "live.idle_ms must be at least 1".into(),
            ));
        }
        Ok(LiveOptions {
            idle,
            max_lag: self
                .live
                .max_lag_seconds
                .map_or(DEFAULT_LIVE_MAX_LAG, Duration::from_secs),
        })
    }

    /// The tenant key, if records are routed by tenant.
    pub fn tenant_key(&self) -> Result<Option<TenantKey>, SettingsError> {
        self.tenants
            .key
            .as_deref()
            .map(TenantKey::parse)
            .transpose()
            .map_err(|e| {
                let key = self.tenants.key.as_deref().unwrap_or_default();
                SettingsError::Invalid(format!(
                    "{}: {e}",
                    self.setting("tenants.key", format!("{key:?}"))
                ))
            })
    }

    /// `tenants.max_tenants` or its default.
    pub fn max_tenants(&self) -> usize {
        self.tenants.max_tenants.unwrap_or(DEFAULT_MAX_TENANTS)
    }

    /// `sandbox.max_quarantined` or its default.
    pub fn max_quarantined(&self) -> u64 {
        self.sandbox
            .max_quarantined
            .unwrap_or(DEFAULT_MAX_QUARANTINED)
    }

    /// The sandbox bounds.
    pub fn sandbox(&self) -> Result<SandboxLimits, SettingsError> {
        let mut limits = SandboxLimits::default();
        if let Some(mib) = self.sandbox.max_memory_mib {
            limits.max_memory_bytes = usize::try_from(mib)
                .ok()
                .and_then(|m| m.checked_mul(1 << 20))
                .filter(|b| *b > 0)
                .ok_or_else(|| {
                    SettingsError::Invalid(format!(
                        "sandbox.max_memory_mib = {mib} is out of range"
                    ))
                })?;
        }
        if let Some(ms) = self.sandbox.max_call_ms {
            limits.call_timeout = (ms > 0).then(|| Duration::from_millis(ms));
        }
        if let Some(fuel) = self.sandbox.fuel_per_call {
            limits.fuel_per_call = (fuel > 0).then_some(fuel);
        }
        Ok(limits)
    }
}

/// The complete default configuration file: every key, with its default
/// and what it does (`recon config --print-default`). Keys whose default
/// depends on something else (the profile's command list, the number of
/// cores, the tenant key) are written commented out.
pub fn default_file() -> String {
    use recon_guest::config as g;
    // The rules' own defaults, as the component fills them in.
    let defaults =
        g::Settings::defaults(&[g::Rule::Sentinel, g::Rule::Elastic], g::Profile::Default);
    let (sentinel, elastic) = (&defaults.rules[0], &defaults.rules[1]);
    let seconds = |ms: Option<u64>| ms.unwrap_or_default() / 1000;
    let list = |items: &[&str]| {
        let quoted: Vec<String> = items.iter().map(|s| format!("#   {s:?},")).collect();
        quoted.join("\n")
    };
    format!(
        r#"# recon configuration: every key with its default. Every key is optional;
# unknown keys are errors. Options on the command line win over this file.

# Rules to run, over one parse of each record.
rules = ["sentinel", "elastic"]
# "default" (the queries' evident intent) or "seed" (their letter).
profile = "default"
# How far behind the newest event (seconds) an event may arrive and count.
allowed_lateness_seconds = {lateness}
# Early alerts: also report a group the moment it reaches the threshold,
# before its window closes (the final row follows, same id). Default: on in
# live mode (stdin from a pipe), off otherwise.
# early_alerts = true
# KiB of input per call into the component.
chunk_kib = {chunk}
# Scanning threads, each with its own component instance (default: the
# number of cores; 1 runs everything on one thread).
# workers = 2

[sentinel]
# Window width and the smallest number of distinct commands that alerts.
window_seconds = {sentinel_window}
min_distinct = {sentinel_min}
# The suspicious commands (whole-term, case-insensitive match). Default: the
# profile's list; with profile "default" it is
# commands = [
{sentinel_default}
# ]
# and with profile "seed" the seed's text, lost comma included:
# commands = [
{sentinel_seed}
# ]

[elastic]
# Window width and the smallest number of distinct event names that alerts
# (the query's "> 5").
window_seconds = {elastic_window}
min_distinct = {elastic_min}
# Event sources that count (the whole list: it replaces the default).
providers = [
{providers}
]

[limits]
# Largest record in bytes; a longer one is rejected as too-large (a longer
# line is skipped by the reader in bounded memory).
max_event_bytes = {max_event_bytes}
# Open (identity, window) groups per detector; past it, state-limit.
max_open_groups = {max_open_groups}
# Entries kept in an alert's lists (counts stay exact).
max_list_entries = {max_list_entries}
# A record further ahead of the watermark (seconds) moves it only once
# time_confirmations records agree (1: the classic watermark).
max_time_jump_seconds = {max_jump}
time_confirmations = {confirmations}

[sandbox]
# Linear memory cap of each component instance, MiB.
max_memory_mib = {memory}
# Longest one call may run, ms (0: no deadline).
max_call_ms = {call_ms}
# Fuel per call (0: no fuel metering).
fuel_per_call = 0
# MiB of input kept for replay after a trap before a new checkpoint.
checkpoint_mib = {checkpoint}
# Records quarantined (each trapped the component on its own) before the
# run gives up.
max_quarantined = {quarantined}

[tenants]
# One detector per tenant, each in its own instance, by this field of each
# record (a dotted path). Default: one detector for all.
# key = "recipientAccountId"
# Most tenants with a detector of their own; further ones share "(other)".
max_tenants = {tenants}

[live]
# Live mode (stdin from a pipe): input quiet this long (ms) starts moving
# the watermark on this machine's clock...
idle_ms = {idle}
# ...but only for a stream within this many seconds of the wall clock.
max_lag_seconds = {max_lag}
"#,
        lateness = g::DEFAULT_ALLOWED_LATENESS_MS / 1000,
        chunk = DEFAULT_CHUNK_KIB,
        sentinel_window = seconds(sentinel.window_ms),
        sentinel_min = sentinel.min_distinct.unwrap_or_default(),
        elastic_window = seconds(elastic.window_ms),
        elastic_min = elastic.min_distinct.unwrap_or_default(),
        sentinel_default = list(g::SENTINEL_DEFAULT_COMMANDS),
        sentinel_seed = list(g::SENTINEL_SEED_COMMANDS),
        providers = g::ELASTIC_SEED_PROVIDERS
            .iter()
            .map(|p| format!("  {p:?},"))
            .collect::<Vec<_>>()
            .join("\n"),
        max_event_bytes = g::DEFAULT_MAX_EVENT_BYTES,
        max_open_groups = g::DEFAULT_MAX_OPEN_GROUPS,
        max_list_entries = g::DEFAULT_MAX_LIST_ENTRIES,
        max_jump = g::DEFAULT_MAX_TIME_JUMP_MS / 1000,
        confirmations = g::DEFAULT_TIME_CONFIRMATIONS,
        memory = crate::runtime::DEFAULT_MAX_MEMORY_BYTES >> 20,
        call_ms = crate::runtime::DEFAULT_CALL_TIMEOUT.as_millis(),
        checkpoint = crate::guard::DEFAULT_CHECKPOINT_BYTES >> 20,
        quarantined = DEFAULT_MAX_QUARANTINED,
        tenants = DEFAULT_MAX_TENANTS,
        idle = DEFAULT_LIVE_IDLE.as_millis(),
        max_lag = DEFAULT_LIVE_MAX_LAG.as_secs(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_file_means_every_default() {
        let s = FileSettings::parse("").unwrap();
        assert_eq!(s.rules(), RuleName::ALL.to_vec());
        assert_eq!(s.chunk_bytes().unwrap(), DEFAULT_CHUNK_KIB * 1024);
        assert!(s.workers().unwrap() >= 1);
        let c = s.detector_config().unwrap();
        assert_eq!(c.rules.len(), 2);
        assert_eq!(c.rules[0].window_ms, None);
        assert_eq!(c.rules[0].commands, None);
        assert_eq!(s.sandbox().unwrap(), SandboxLimits::default());
    }

    #[test]
    fn sections_map_onto_the_contract() {
        let s = FileSettings::parse(
            r#"
            rules = ["elastic"]
            profile = "seed"
            allowed_lateness_seconds = 5
            [sentinel]
            commands = ["a.b"]
            [elastic]
            window_seconds = 20
            [sandbox]
            fuel_per_call = 1000
            max_call_ms = 0
            "#,
        )
        .unwrap();
        assert_eq!(s.rules(), vec![RuleName::Elastic]);
        let c = s.detector_config().unwrap();
        assert_eq!(c.rules.len(), 1);
        assert_eq!(c.rules[0].window_ms, Some(20_000));
        assert_eq!(c.allowed_lateness_ms, Some(5_000));
        assert!(matches!(c.profile, Profile::Seed));
        let mut both = s.clone();
        both.rules = None;
        let c = both.detector_config().unwrap();
        assert_eq!(c.rules[0].commands, Some(vec!["a.b".to_owned()]));
        let sandbox = s.sandbox().unwrap();
        assert_eq!(sandbox.fuel_per_call, Some(1000));
        assert_eq!(sandbox.call_timeout, None);
        assert!(
            FileSettings::parse("chunk_kib = 0")
                .unwrap()
                .chunk_bytes()
                .is_err()
        );
        assert!(
            FileSettings::parse("workers = 0")
                .unwrap()
                .workers()
                .is_err()
        );
    }

    /// `(section, key)` of every line `# key = …` (a key written commented
    /// out), `section` empty before the first `[section]`.
    fn commented_keys(text: &str) -> Vec<(String, String)> {
        let mut section = String::new();
        let mut keys = Vec::new();
        for line in text.lines() {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.to_owned();
            } else if let Some((key, _)) = line.strip_prefix("# ").and_then(|l| l.split_once(" = "))
                && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            {
                keys.push((section.clone(), key.to_owned()));
            }
        }
        keys
    }

    #[test]
    fn the_default_file_parses_to_the_defaults() {
        use recon_guest::config as g;
        let text = default_file();
        let s = FileSettings::parse(&text).unwrap();
        let d = FileSettings::default();
        assert_eq!(s.rules(), d.rules());
        assert_eq!(s.sandbox().unwrap(), d.sandbox().unwrap());
        assert_eq!(s.guard().unwrap(), d.guard().unwrap());
        assert_eq!(s.max_quarantined(), d.max_quarantined());
        assert_eq!(s.max_tenants(), d.max_tenants());
        assert_eq!(s.live_options().unwrap(), d.live_options().unwrap());
        assert_eq!(s.chunk_bytes().unwrap(), d.chunk_bytes().unwrap());
        assert_eq!(s.tenant_key().unwrap(), None);
        // The numbers and lists the file writes are the detection core's
        // own defaults: resolved by the core, the file's configuration is
        // the configuration of an empty file.
        let file = g::Config::new(crate::nats::layout::guest_settings(
            &s.detector_config().unwrap(),
        ))
        .unwrap();
        let empty = g::Config::new(crate::nats::layout::guest_settings(
            &d.detector_config().unwrap(),
        ))
        .unwrap();
        assert_eq!(file.rules, empty.rules);
        assert_eq!(file.limits, empty.limits);
        assert_eq!(
            empty.rules,
            g::Config::new(g::Settings::all(g::Profile::Default))
                .unwrap()
                .rules
        );
        // Every key is written: set (so it parses to a value) or, where
        // its default depends on something else, commented out in its
        // section. Destructured without `..`: a new key does not compile
        // until it is checked here.
        let FileSettings {
            rules,
            profile,
            allowed_lateness_seconds,
            early_alerts,
            chunk_kib,
            workers,
            sentinel,
            elastic,
            limits,
            sandbox,
            tenants,
            live,
            flags: _, // not a key: where each value came from
        } = &s;
        let RuleSection {
            window_seconds: sentinel_window,
            min_distinct: sentinel_min,
            commands: sentinel_commands,
            providers: _, // ignored by the Sentinel rule
        } = sentinel;
        let RuleSection {
            window_seconds: elastic_window,
            min_distinct: elastic_min,
            commands: _, // ignored by the Elastic rule
            providers: elastic_providers,
        } = elastic;
        let LimitsSection {
            max_event_bytes,
            max_open_groups,
            max_list_entries,
            max_time_jump_seconds,
            time_confirmations,
        } = limits;
        let SandboxSection {
            max_memory_mib,
            max_call_ms,
            fuel_per_call,
            checkpoint_mib,
            max_quarantined,
        } = sandbox;
        let TenantsSection { key, max_tenants } = tenants;
        let LiveSection {
            idle_ms,
            max_lag_seconds,
        } = live;
        let set = [
            ("rules", rules.is_some()),
            ("profile", profile.is_some()),
            (
                "allowed_lateness_seconds",
                allowed_lateness_seconds.is_some(),
            ),
            ("chunk_kib", chunk_kib.is_some()),
            ("sentinel.window_seconds", sentinel_window.is_some()),
            ("sentinel.min_distinct", sentinel_min.is_some()),
            ("elastic.window_seconds", elastic_window.is_some()),
            ("elastic.min_distinct", elastic_min.is_some()),
            ("elastic.providers", elastic_providers.is_some()),
            ("limits.max_event_bytes", max_event_bytes.is_some()),
            ("limits.max_open_groups", max_open_groups.is_some()),
            ("limits.max_list_entries", max_list_entries.is_some()),
            (
                "limits.max_time_jump_seconds",
                max_time_jump_seconds.is_some(),
            ),
            ("limits.time_confirmations", time_confirmations.is_some()),
            ("sandbox.max_memory_mib", max_memory_mib.is_some()),
            ("sandbox.max_call_ms", max_call_ms.is_some()),
            ("sandbox.fuel_per_call", fuel_per_call.is_some()),
            ("sandbox.checkpoint_mib", checkpoint_mib.is_some()),
            ("sandbox.max_quarantined", max_quarantined.is_some()),
            ("tenants.max_tenants", max_tenants.is_some()),
            ("live.idle_ms", idle_ms.is_some()),
            ("live.max_lag_seconds", max_lag_seconds.is_some()),
        ];
        for (name, is_set) in set {
            assert!(is_set, "{name} is not set in the default file");
        }
        // Commented out: the cores, the profile's list, no tenant key, early
        // alerts (their default depends on live mode).
        assert_eq!(
            (workers, sentinel_commands, key, early_alerts),
            (&None, &None, &None, &None),
            "a key meant to be commented out is set"
        );
        let commented = commented_keys(&text);
        for (section, name) in [
            ("", "workers"),
            ("", "early_alerts"),
            ("sentinel", "commands"),
            ("tenants", "key"),
        ] {
            assert!(
                commented.contains(&(section.to_owned(), name.to_owned())),
                "{section}.{name} is not written commented out in its section: {commented:?}"
            );
        }
        // Uncommented, the single-line ones are valid keys of their section.
        let mut uncommented = text.replace("# workers = ", "workers = ");
        uncommented = uncommented.replace("# key = ", "key = ");
        uncommented = uncommented.replace("# early_alerts = ", "early_alerts = ");
        let u = FileSettings::parse(&uncommented).unwrap();
        assert!(u.workers.is_some() && u.tenants.key.is_some() && u.early_alerts.is_some());
    }

    #[test]
    fn unknown_fields_are_errors() {
        let e = FileSettings::parse("[sentinel]\ncomands = []\n").unwrap_err();
        assert!(e.to_string().contains("comands"), "{e}");
        assert!(FileSettings::parse("profile = \"loose\"").is_err());
    }
}
