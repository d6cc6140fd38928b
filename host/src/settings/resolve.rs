//! The configuration checked and resolved once, at start-up, into what a
//! run uses ([`RunConfig`]). `recon detect`, `recon nats` and the tests
//! call [`FileSettings::resolve`]; nothing after it looks at the file
//! again. Every value is checked here against its bounds, so that an error
//! names the setting as the user wrote it (file key or option) in its unit,
//! not the contract's field in milliseconds.

use std::time::Duration;

use super::{BuiltIn, FileSettings, ProfileName, SettingsError, WindowName};
use crate::guard::GuardSettings;
use crate::live::{DEFAULT_LIVE_IDLE, DEFAULT_LIVE_MAX_LAG, LiveOptions};
use crate::runtime::{Config, Limits, Profile, RuleConfig, RuleFile, SandboxLimits, WindowMode};
use crate::tenants::{DEFAULT_MAX_TENANTS, TenantKey};

/// Default bytes of input handed to the component per call: 1 MiB (about
/// a thousand CloudTrail records). Large enough that the call boundary
/// costs nothing measurable, small enough to keep latency and memory low.
/// The reader crate's chunk size, the one the component's reader uses.
pub const DEFAULT_CHUNK_KIB: usize = recon_reader::DEFAULT_CHUNK_BYTES as usize / 1024;
/// Largest accepted `chunk_kib`: 64 MiB.
pub const MAX_CHUNK_KIB: usize = 64 * 1024;
/// Most scanning threads (`workers`).
pub const MAX_WORKERS: usize = 256;
/// Default `sandbox.max_quarantined`.
pub const DEFAULT_MAX_QUARANTINED: u64 = 100;
/// The contract's default `limits.max-event-bytes` (256 KiB), which the
/// reader also uses as its line limit when the configuration leaves it out:
/// the reader crate's constant, the one the component is built with.
pub const DEFAULT_MAX_EVENT_BYTES: u32 = recon_reader::DEFAULT_MAX_RECORD_BYTES;

/// The texts of every rule file a configuration names, read from disk once
/// (by [`FileSettings::read_rule_texts`]): `recon nats setup` stores them
/// with the configuration so that every worker, wherever it runs, runs
/// exactly these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuleTexts {
    /// The files of `rules`, as (name, text).
    pub files: Vec<(String, String)>,
    /// Each tenant's own files (`tenants.rules_dir`), by tenant in name
    /// order, each as (name, text).
    pub tenants: Vec<(String, Vec<(String, String)>)>,
}

fn files_of(files: Vec<(String, String)>) -> Vec<RuleFile> {
    files
        .into_iter()
        .map(|(name, text)| RuleFile { name, text })
        .collect()
}

/// A run's configuration: every setting checked, every default filled in.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Rules to run, in output order.
    pub rules: Vec<BuiltIn>,
    /// The detector's contract configuration, early alerts as the file or
    /// option set them (see [`RunConfig::detector_with_early`]).
    pub detector: Config,
    /// Early alerts as asked for; `None` leaves them to the mode (on in
    /// live mode, off otherwise: docs/streaming.md).
    pub early_alerts: Option<bool>,
    /// Bytes of input per call into the component (`chunk_kib`).
    pub chunk_bytes: usize,
    /// Scanning threads (`workers`, default the number of cores).
    pub workers: usize,
    /// Bounds the host puts on each component instance (`[sandbox]`).
    pub sandbox: SandboxLimits,
    /// How detectors recover from traps (`sandbox.checkpoint_mib`).
    pub guard: GuardSettings,
    /// Records quarantined before a run gives up.
    pub max_quarantined: u64,
    /// The field that names a record's tenant (`tenants.key`), if records
    /// are routed by tenant.
    pub tenant_key: Option<TenantKey>,
    /// Most tenants with a detector of their own (tenants with rules of
    /// their own always have one).
    pub max_tenants: usize,
    /// Each tenant's own rule files (`tenants.rules_dir`), by tenant, in
    /// name order.
    pub tenant_rules: Vec<(String, Vec<RuleFile>)>,
    /// Live mode's settings (`[live]`), for a run in live mode.
    pub live: LiveOptions,
}

impl RunConfig {
    /// The allowed lateness, ms (the detector's, or its default).
    pub fn allowed_lateness_ms(&self) -> u64 {
        self.detector
            .allowed_lateness_ms
            .unwrap_or(recon_guest::config::DEFAULT_ALLOWED_LATENESS_MS)
    }

    /// The reader's line and record limit: `limits.max_event_bytes`, the
    /// detector's own, or its default.
    pub fn max_line_bytes(&self) -> usize {
        self.detector
            .limits
            .max_event_bytes
            .unwrap_or(DEFAULT_MAX_EVENT_BYTES) as usize
    }

    /// The detector's configuration with early alerts on or off. Off is
    /// the contract's default, written `None`, so that a configuration
    /// without early alerts is the one 0.2 wrote (and state files keep
    /// their fingerprint).
    pub fn detector_with_early(&self, on: bool) -> Config {
        Config {
            early_alerts: on.then_some(true),
            ..self.detector.clone()
        }
    }
}

impl FileSettings {
    /// Checks every setting and resolves every default: the one place a
    /// configuration is validated. Rule files named in `rules` are read
    /// here (relative to the working directory); the component compiles
    /// them when a detector is created.
    pub fn resolve(&self) -> Result<RunConfig, SettingsError> {
        let texts = self.read_rule_texts()?;
        self.resolve_with(texts)
    }

    /// Every rule file the configuration names, read: the files of
    /// `rules`, and each tenant's of `tenants.rules_dir`.
    pub fn read_rule_texts(&self) -> Result<RuleTexts, SettingsError> {
        Ok(RuleTexts {
            files: self.rule_files()?,
            tenants: self
                .tenant_rules()?
                .into_iter()
                .map(|(t, files)| (t, files.into_iter().map(|f| (f.name, f.text)).collect()))
                .collect(),
        })
    }

    /// [`FileSettings::resolve`] with the rule files' texts given (as
    /// `recon nats` stores them) instead of read from disk.
    pub fn resolve_with(&self, texts: RuleTexts) -> Result<RunConfig, SettingsError> {
        let mut detector = self.detector_config()?;
        detector.rule_files = files_of(texts.files);
        if !texts.tenants.is_empty() && self.tenants.key.is_none() {
            return Err(SettingsError::Invalid(
                "tenants' own rule files need tenants.key: the records must say whose they are"
                    .into(),
            ));
        }
        Ok(RunConfig {
            rules: self.rules(),
            early_alerts: self.early_alerts,
            detector,
            chunk_bytes: self.chunk_bytes()?,
            workers: self.workers()?,
            sandbox: self.sandbox()?,
            guard: self.guard()?,
            max_quarantined: self
                .sandbox
                .max_quarantined
                .unwrap_or(DEFAULT_MAX_QUARANTINED),
            tenant_key: self.tenant_key()?,
            max_tenants: self.tenants.max_tenants.unwrap_or(DEFAULT_MAX_TENANTS),
            tenant_rules: texts
                .tenants
                .into_iter()
                .map(|(t, files)| (t, files_of(files)))
                .collect(),
            live: self.live_options()?,
        })
    }

    fn chunk_bytes(&self) -> Result<usize, SettingsError> {
        match self.chunk_kib.unwrap_or(DEFAULT_CHUNK_KIB) {
            n @ 1..=MAX_CHUNK_KIB => Ok(n * 1024),
            n => Err(SettingsError::Invalid(format!(
                "{} is out of range; it must be between 1 and {MAX_CHUNK_KIB} (KiB)",
                self.setting("chunk_kib", n)
            ))),
        }
    }

    fn workers(&self) -> Result<usize, SettingsError> {
        match self.workers {
            Some(n) if n == 0 || n > MAX_WORKERS => Err(SettingsError::Invalid(format!(
                "{} is out of range; it must be between 1 and {MAX_WORKERS}",
                self.setting("workers", n)
            ))),
            Some(n) => Ok(n),
            None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
        }
    }

    /// The contract configuration of the detector: every rule to run, one
    /// parse of each event; early alerts only when asked for (the mode's
    /// default is the run's to apply).
    fn detector_config(&self) -> Result<Config, SettingsError> {
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
                let section = self.section(rule);
                let key = |k: &str| format!("{}.{k}", rule.info().key);
                list(&key("commands"), &section.commands)?;
                list(&key("providers"), &section.providers)?;
                Ok(RuleConfig {
                    rule: rule.rule(),
                    window_ms: seconds(&key("window_seconds"), section.window_seconds, 1)?,
                    min_distinct: at_least_one(&key("min_distinct"), section.min_distinct)?,
                    commands: section.commands.clone(),
                    providers: section.providers.clone(),
                    suppress_ms: seconds(&key("suppress_seconds"), section.suppress_seconds, 0)?,
                    window: section.window.map(|w| match w {
                        WindowName::Tumbling => WindowMode::Tumbling,
                        WindowName::Sliding => WindowMode::Sliding,
                    }),
                })
            })
            .collect::<Result<Vec<_>, SettingsError>>()?;
        Ok(Config {
            rules,
            rule_files: Vec::new(),
            only_rules: None,
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

    fn guard(&self) -> Result<GuardSettings, SettingsError> {
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

    fn live_options(&self) -> Result<LiveOptions, SettingsError> {
        let idle = self
            .live
            .idle_ms
            .map_or(DEFAULT_LIVE_IDLE, Duration::from_millis);
        if idle.is_zero() {
            return Err(SettingsError::Invalid(
                "live.idle_ms = 0 is out of range; it must be at least 1".into(),
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

    /// `tenants.rules_dir`, read: each entry a tenant (a file by its stem,
    /// a directory by its name), with its rule files.
    fn tenant_rules(&self) -> Result<Vec<(String, Vec<RuleFile>)>, SettingsError> {
        let Some(dir) = &self.tenants.rules_dir else {
            return Ok(Vec::new());
        };
        if self.tenants.key.is_none() {
            return Err(SettingsError::Invalid(format!(
                "{} needs tenants.key: the records must say whose they are",
                self.setting("tenants.rules_dir", dir.display())
            )));
        }
        let io = |source| SettingsError::Io {
            path: dir.display().to_string(),
            source,
        };
        let mut entries: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()).map_err(io))
            .collect::<Result<_, _>>()?;
        entries.sort();
        let mut out: Vec<(String, Vec<RuleFile>)> = Vec::new();
        for path in entries {
            let is_rule_file = path.extension().is_some_and(|x| x == "yml" || x == "yaml");
            let tenant = if path.is_dir() {
                path.file_name()
            } else if is_rule_file {
                path.file_stem()
            } else {
                continue; // notes, READMEs
            };
            let Some(tenant) = tenant.and_then(|t| t.to_str()).map(str::to_owned) else {
                continue;
            };
            let files = crate::rules::load_rule_files(std::slice::from_ref(&path))?
                .into_iter()
                .map(|(name, text)| RuleFile { name, text });
            match out.iter_mut().find(|(t, _)| *t == tenant) {
                Some((_, f)) => f.extend(files),
                None => out.push((tenant, files.collect())),
            }
        }
        Ok(out)
    }

    fn tenant_key(&self) -> Result<Option<TenantKey>, SettingsError> {
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

    fn sandbox(&self) -> Result<SandboxLimits, SettingsError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::choice::Choice;

    #[test]
    fn an_empty_file_means_every_default() {
        let r = FileSettings::parse("").unwrap().resolve().unwrap();
        assert_eq!(r.rules, BuiltIn::ALL.to_vec());
        assert_eq!(r.chunk_bytes, DEFAULT_CHUNK_KIB * 1024);
        assert!(r.workers >= 1);
        assert_eq!(r.detector.rules.len(), 2);
        assert_eq!(r.detector.rules[0].window_ms, None);
        assert_eq!(r.detector.rules[0].commands, None);
        assert_eq!(r.detector.early_alerts, None);
        assert_eq!(r.early_alerts, None);
        assert_eq!(r.sandbox, SandboxLimits::default());
        assert_eq!(r.guard, GuardSettings::default());
        assert_eq!(r.live, LiveOptions::default());
        assert_eq!(r.max_line_bytes(), DEFAULT_MAX_EVENT_BYTES as usize);
        assert_eq!(
            r.allowed_lateness_ms(),
            recon_guest::config::DEFAULT_ALLOWED_LATENESS_MS
        );
        assert_eq!(
            (r.max_quarantined, r.max_tenants),
            (100, DEFAULT_MAX_TENANTS)
        );
        assert!(r.tenant_key.is_none());
    }

    #[test]
    fn sections_map_onto_the_contract() {
        let s = FileSettings::parse(
            r#"
            rules = ["elastic"]
            profile = "seed"
            allowed_lateness_seconds = 5
            early_alerts = false
            [sentinel]
            commands = ["a.b"]
            [elastic]
            window_seconds = 20
            [limits]
            max_event_bytes = 4096
            [sandbox]
            fuel_per_call = 1000
            max_call_ms = 0
            checkpoint_mib = 2
            [tenants]
            key = "recipientAccountId"
            max_tenants = 3
            [live]
            idle_ms = 250
            max_lag_seconds = 60
            "#,
        )
        .unwrap();
        let r = s.resolve().unwrap();
        assert_eq!(r.rules, vec![BuiltIn::Elastic]);
        let c = &r.detector;
        assert_eq!(c.rules.len(), 1);
        assert_eq!(c.rules[0].window_ms, Some(20_000));
        assert_eq!(c.allowed_lateness_ms, Some(5_000));
        assert_eq!(r.allowed_lateness_ms(), 5_000);
        assert!(matches!(c.profile, Profile::Seed));
        assert_eq!((r.early_alerts, c.early_alerts), (Some(false), None));
        assert_eq!(r.detector_with_early(true).early_alerts, Some(true));
        assert_eq!(r.max_line_bytes(), 4096);
        assert_eq!(r.sandbox.fuel_per_call, Some(1000));
        assert_eq!(r.sandbox.call_timeout, None);
        assert_eq!(r.guard.checkpoint_bytes, 2 << 20);
        assert_eq!(
            r.tenant_key.map(|k| k.to_string()),
            Some("recipientAccountId".into())
        );
        assert_eq!(r.max_tenants, 3);
        assert_eq!(
            r.live,
            LiveOptions {
                idle: Duration::from_millis(250),
                max_lag: Duration::from_secs(60)
            }
        );
        let mut both = s.clone();
        both.rules = None;
        let c = both.resolve().unwrap().detector;
        assert_eq!(c.rules[0].commands, Some(vec!["a.b".to_owned()]));
    }

    /// Every bound refuses a value past it, naming the setting as the user
    /// wrote it, with the value.
    #[test]
    fn an_error_names_the_setting_as_written() {
        for (text, said) in [
            ("chunk_kib = 0", "chunk_kib = 0"),
            ("chunk_kib = 65537", "chunk_kib = 65537"),
            ("workers = 0", "workers = 0"),
            ("workers = 257", "workers = 257"),
            (
                "allowed_lateness_seconds = 604801",
                "allowed_lateness_seconds = 604801",
            ),
            (
                "[sentinel]\nwindow_seconds = 0",
                "sentinel.window_seconds = 0",
            ),
            ("[elastic]\nmin_distinct = 0", "elastic.min_distinct = 0"),
            ("[elastic]\nproviders = []", "elastic.providers is empty"),
            (
                "[sentinel]\ncommands = [\"a\", \" \"]",
                "sentinel.commands: entry 2",
            ),
            (
                "[limits]\nmax_open_groups = 0",
                "limits.max_open_groups = 0",
            ),
            (
                "[limits]\ntime_confirmations = 1025",
                "limits.time_confirmations = 1025",
            ),
            (
                "[limits]\nmax_time_jump_seconds = 0",
                "limits.max_time_jump_seconds = 0",
            ),
            (
                "[sandbox]\nmax_memory_mib = 0",
                "sandbox.max_memory_mib = 0",
            ),
            ("[live]\nidle_ms = 0", "live.idle_ms = 0"),
            ("[tenants]\nkey = \"\"", "tenants.key = \"\""),
        ] {
            let e = FileSettings::parse(text).unwrap().resolve().unwrap_err();
            assert!(e.to_string().contains(said), "{text:?}: {e}");
        }
        let mut s = FileSettings::parse("workers = 0").unwrap();
        s.set_by_flag("workers");
        let e = s.resolve().unwrap_err().to_string();
        assert!(e.contains("--workers 0"), "{e}");
    }
}
