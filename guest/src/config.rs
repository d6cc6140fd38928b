//! Detector configuration: what the caller asks for ([`Settings`], every
//! tunable optional with a documented default) and what a detector runs
//! with ([`Config`], validated and resolved).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::fields::Schema;
use crate::sigma::{self, DataKind, DataRule, RuleError, RuleFile, Threshold};

/// A rule's name as alerts, statistics and placements carry it: a
/// built-in's (`sentinel-aws-cli-recon`) or a data rule's (its `name`,
/// else `id`).
pub type RuleName = Arc<str>;

/// Which published detection a detector runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Rule {
    /// Sentinel "Suspicious AWS CLI Command Execution".
    Sentinel,
    /// Elastic "AWS Discovery API Calls via CLI from a Single Resource".
    Elastic,
}

impl Rule {
    /// Every built-in, in their declared order.
    pub const ALL: [Rule; 2] = [Rule::Sentinel, Rule::Elastic];

    /// The built-in of a name (`sentinel-aws-cli-recon`, …).
    pub fn of_name(name: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.name() == name)
    }

    /// The short rule name used in alerts and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Rule::Sentinel => "sentinel-aws-cli-recon",
            Rule::Elastic => "elastic-aws-discovery-burst",
        }
    }
}

/// Letter (`Seed`) or evident intent (`Default`) of the published query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Profile {
    /// The query's evident intent.
    #[default]
    Default,
    /// The query's letter.
    Seed,
}

/// How a rule's windows move (`docs/rules.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowMode {
    /// Buckets `[s, s + width)` aligned to the epoch: the seeds' windows.
    #[default]
    Tumbling,
    /// At each event time `t` of a group, the events in `(t - width, t]`;
    /// one alert per episode of the group meeting the threshold.
    Sliding,
}

impl WindowMode {
    /// The contract's and the file's spelling.
    pub fn name(self) -> &'static str {
        match self {
            WindowMode::Tumbling => "tumbling",
            WindowMode::Sliding => "sliding",
        }
    }
}

/// Default allowed lateness: 15 minutes. CloudTrail writes an S3 object
/// per account and region about every five minutes and delivers it "within
/// an average of about 5 minutes of an API call", not guaranteed; read in
/// the order the objects sort, real trails have records up to 579 s behind
/// the newest time already read (the Invictus incident data; 516 s in
/// OTRF's). 15 minutes keeps all of them with half as much again to spare,
/// and is the delivery bound AWS quoted until 2023. The cost (alerts wait
/// for window + lateness, windows stay open that long) is measured in
/// docs/delivery.md; early alerts do not wait.
pub const DEFAULT_ALLOWED_LATENESS_MS: u64 = 900_000;
/// Default largest event: 256 KiB, the CloudTrail per-event maximum; the
/// reader's default record limit, the same constant.
pub const DEFAULT_MAX_EVENT_BYTES: u32 = recon_reader::DEFAULT_MAX_RECORD_BYTES;
/// Default most groups open at once.
pub const DEFAULT_MAX_OPEN_GROUPS: u32 = 100_000;
/// Default most entries kept in one group's lists.
pub const DEFAULT_MAX_LIST_ENTRIES: u32 = 10_000;
/// Default largest jump ahead of the watermark one record may make alone:
/// one hour. CloudTrail delivers within minutes; a record an hour ahead of
/// everything else is a clock error or a forgery until others agree.
pub const DEFAULT_MAX_TIME_JUMP_MS: u64 = 3_600_000;
/// Default number of records that must agree before the watermark follows
/// a jump: 16. A real gap (a trail resuming hours later) brings them within
/// a fraction of a second; a handful of wild records never does.
pub const DEFAULT_TIME_CONFIRMATIONS: u32 = 16;
/// Most records a detector may be asked to wait for.
pub const MAX_TIME_CONFIRMATIONS: u32 = 1024;
/// Largest accepted window or lateness: 7 days.
pub const MAX_DURATION_MS: u64 = 7 * 24 * 3600 * 1000;

/// State bounds as asked for; `None` takes the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitSettings {
    /// See [`DEFAULT_MAX_EVENT_BYTES`].
    pub max_event_bytes: Option<u32>,
    /// See [`DEFAULT_MAX_OPEN_GROUPS`].
    pub max_open_groups: Option<u32>,
    /// See [`DEFAULT_MAX_LIST_ENTRIES`].
    pub max_list_entries: Option<u32>,
    /// See [`DEFAULT_MAX_TIME_JUMP_MS`].
    #[serde(default)]
    pub max_time_jump_ms: Option<u64>,
    /// See [`DEFAULT_TIME_CONFIRMATIONS`].
    #[serde(default)]
    pub time_confirmations: Option<u32>,
}

/// One rule of a detector as asked for. Mirrors the contract's
/// `rule-config` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSettings {
    /// The rule to run.
    pub rule: Rule,
    /// Window width; default 60 s (Sentinel) or 10 s (Elastic).
    pub window_ms: Option<u64>,
    /// Smallest distinct count that alerts; default 8 (Sentinel) or 6
    /// (Elastic).
    pub min_distinct: Option<u32>,
    /// Sentinel: suspicious commands; default the seed list.
    pub commands: Option<Vec<String>>,
    /// Elastic: event sources; default the seed's nine.
    pub providers: Option<Vec<String>>,
    /// Suppression span, ms of event time: after an alert for a group,
    /// the group's alerts of windows starting within this span are held
    /// back and counted (`docs/rules.md`). Default (and 0): none. Left out
    /// of the serialised settings when unset, so a configuration without
    /// it keeps its fingerprint and snapshot text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suppress_ms: Option<u64>,
    /// Tumbling (the default: the seeds' semantics) or sliding windows.
    /// Left out of the serialised settings when unset, as `suppress_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowMode>,
}

impl RuleSettings {
    /// A rule with every tunable at its default.
    pub fn new(rule: Rule) -> Self {
        RuleSettings {
            rule,
            window_ms: None,
            min_distinct: None,
            commands: None,
            providers: None,
            suppress_ms: None,
            window: None,
        }
    }
}

/// A detector's configuration as asked for. Mirrors the contract's
/// `config` record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The rules, each at most once.
    pub rules: Vec<RuleSettings>,
    /// Letter or intent.
    pub profile: Profile,
    /// See [`DEFAULT_ALLOWED_LATENESS_MS`].
    pub allowed_lateness_ms: Option<u64>,
    /// State bounds.
    pub limits: LimitSettings,
    /// Early alerts: a group is also reported (as an early alert) the
    /// moment its distinct count reaches the threshold; default off. Left
    /// out of the serialised settings when unset, so a configuration
    /// without it keeps the fingerprint and snapshot text it had before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_alerts: Option<bool>,
    /// Rules as data: Sigma rule files, compiled at `create` (see
    /// `crate::sigma`). Left out of the serialised settings when empty, so
    /// a configuration of built-ins keeps its fingerprint and snapshot.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<RuleFile>,
    /// Of the rule files' runnable rules, only these run (`None`: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_rules: Option<Vec<String>>,
}

impl Settings {
    /// Settings running one rule with every tunable at its default.
    pub fn new(rule: Rule, profile: Profile) -> Self {
        Settings::with_rules(vec![RuleSettings::new(rule)], profile)
    }

    /// Settings running `rules`, everything else at its default.
    pub fn with_rules(rules: Vec<RuleSettings>, profile: Profile) -> Self {
        Settings {
            rules,
            profile,
            allowed_lateness_ms: None,
            limits: LimitSettings::default(),
            early_alerts: None,
            rule_files: Vec::new(),
            only_rules: None,
        }
    }

    /// Both rules, every tunable at its default.
    pub fn all(profile: Profile) -> Self {
        Settings::with_rules(
            vec![
                RuleSettings::new(Rule::Sentinel),
                RuleSettings::new(Rule::Elastic),
            ],
            profile,
        )
    }
}

impl Settings {
    /// Settings running `rules` (both, in their declared order, when
    /// empty) under `profile` with every default filled in: what hosts
    /// show and start from (the contract's `default-config`). A rule's
    /// list it ignores (the Elastic rule's commands, the Sentinel rule's
    /// providers) is left out.
    pub fn defaults(rules: &[Rule], profile: Profile) -> Settings {
        let resolved = Config::new(Settings::all(profile)).expect("the defaults are valid");
        let rules = if rules.is_empty() {
            vec![Rule::Sentinel, Rule::Elastic]
        } else {
            rules.to_vec()
        };
        let l = resolved.limits;
        Settings {
            rules: rules
                .iter()
                .map(|rule| {
                    let r = resolved
                        .rules
                        .iter()
                        .find(|r| r.builtin == Some(*rule))
                        .expect("every rule is resolved");
                    RuleSettings {
                        rule: *rule,
                        window_ms: Some(r.window_ms as u64),
                        min_distinct: Some(r.min_distinct),
                        commands: (*rule == Rule::Sentinel).then(|| r.commands.clone()),
                        providers: (*rule == Rule::Elastic).then(|| r.providers.clone()),
                        suppress_ms: Some(0),
                        window: Some(WindowMode::Tumbling),
                    }
                })
                .collect(),
            profile,
            allowed_lateness_ms: Some(DEFAULT_ALLOWED_LATENESS_MS),
            limits: LimitSettings {
                max_event_bytes: Some(l.max_event_bytes),
                max_open_groups: Some(l.max_open_groups),
                max_list_entries: Some(l.max_list_entries),
                max_time_jump_ms: Some(l.max_time_jump_ms as u64),
                time_confirmations: Some(l.time_confirmations),
            },
            early_alerts: Some(false),
            rule_files: Vec::new(),
            only_rules: None,
        }
    }
}

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum ConfigError {
    /// A numeric setting out of range.
    #[error("{0}")]
    OutOfRange(String),
    /// An empty list, or a list with an empty entry.
    #[error("{0}")]
    InvalidList(String),
    /// A rule file was refused: where, and why.
    #[error("{0}")]
    Rules(RuleError),
}

/// The Sentinel seed's `SuspiciousCommands`, verbatim: the missing comma
/// makes `iam.get-useriam.list-access-keys` one entry, and
/// `ec2.describe-network-interfaces` appears three times.
pub const SENTINEL_SEED_COMMANDS: &[&str] = &[
    "iam.list-users",
    "iam.list-groups",
    "ec2.describe-vpcs",
    "ec2.describe-subnets",
    "route53.list-hosted-zones",
    "kms.list-keys",
    "kms.list-aliases",
    "ecs.list-clusters",
    "ecs.list-services",
    "iam.list-roles",
    "iam.get-useriam.list-access-keys",
    "ec2.describe-security-groups",
    "ec2.describe-network-acls",
    "ec2.describe-network-interfaces",
    "ec2.describe-route-tables",
    "ec2.describe-internet-gateways",
    "ec2.describe-vpc-peering-connections",
    "ec2.describe-network-interfaces",
    "ec2.describe-network-interfaces",
    "ec2.describe-transit-gateway-vpc-attachment",
    "ec2.describe-vpc",
];

/// The default profile's list: the seed's with the lost comma restored
/// (`iam.get-user`, `iam.list-access-keys`) and duplicates dropped.
pub const SENTINEL_DEFAULT_COMMANDS: &[&str] = &[
    "iam.list-users",
    "iam.list-groups",
    "ec2.describe-vpcs",
    "ec2.describe-subnets",
    "route53.list-hosted-zones",
    "kms.list-keys",
    "kms.list-aliases",
    "ecs.list-clusters",
    "ecs.list-services",
    "iam.list-roles",
    "iam.get-user",
    "iam.list-access-keys",
    "ec2.describe-security-groups",
    "ec2.describe-network-acls",
    "ec2.describe-network-interfaces",
    "ec2.describe-route-tables",
    "ec2.describe-internet-gateways",
    "ec2.describe-vpc-peering-connections",
    "ec2.describe-transit-gateway-vpc-attachment",
    "ec2.describe-vpc",
];

/// The Elastic seed's nine event sources.
pub const ELASTIC_SEED_PROVIDERS: &[&str] = &[
    "iam.amazonaws.com",
    "ec2.amazonaws.com",
    "s3.amazonaws.com",
    "rds.amazonaws.com",
    "lambda.amazonaws.com",
    "dynamodb.amazonaws.com",
    "kms.amazonaws.com",
    "cloudfront.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
];

/// Resolved state bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest event in bytes.
    pub max_event_bytes: u32,
    /// Most open groups per rule.
    pub max_open_groups: u32,
    /// Most entries kept per group list.
    pub max_list_entries: u32,
    /// Largest jump ahead of the watermark one record makes alone, ms.
    pub max_time_jump_ms: i64,
    /// Records that must agree before the watermark follows a jump.
    pub time_confirmations: u32,
}

/// One rule's validated configuration with every default filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleConfig {
    /// Its name (alerts, statistics, placements).
    pub name: RuleName,
    /// The built-in it runs, or `None` for a data rule.
    pub builtin: Option<Rule>,
    /// A data rule's definition.
    pub data: Option<Arc<DataRule>>,
    /// When a group alerts: `>= min_distinct` for the built-ins.
    pub threshold: Threshold,
    /// Letter or intent (shared by every rule of a detector).
    pub profile: Profile,
    /// Window width, ms.
    pub window_ms: i64,
    /// Smallest distinct count that alerts.
    pub min_distinct: u32,
    /// Sentinel: suspicious commands.
    pub commands: Vec<String>,
    /// Elastic: event sources.
    pub providers: Vec<String>,
    /// Suppression span, ms of event time (0: none); see
    /// [`RuleSettings::suppress_ms`].
    pub suppress_ms: i64,
    /// Tumbling or sliding windows.
    pub window_mode: WindowMode,
    /// Allowed lateness, ms (shared).
    pub allowed_lateness_ms: i64,
    /// State bounds (shared).
    pub limits: Limits,
    /// Early alerts on (shared).
    pub early_alerts: bool,
}

/// A validated detector configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The settings it was built from (kept for snapshots).
    pub settings: Settings,
    /// Each rule, resolved, in the settings' order.
    pub rules: Vec<RuleConfig>,
    /// State bounds.
    pub limits: Limits,
    /// A fingerprint of the settings: scanner payloads carry it so a
    /// detector only applies payloads made under its own configuration.
    pub fingerprint: u64,
    /// The raw paths the data rules read.
    pub schema: Schema,
    /// Filters applied to data rules: (filter, the rules it changed).
    pub filters: Vec<(String, Vec<String>)>,
}

fn check_list(name: &str, list: &[String]) -> Result<(), ConfigError> {
    if list.is_empty() {
        return Err(ConfigError::InvalidList(format!(
            "{name} must not be empty"
        )));
    }
    if let Some(i) = list.iter().position(|s| s.trim().is_empty()) {
        return Err(ConfigError::InvalidList(format!(
            "{name}[{i}] is empty; every entry must hold text"
        )));
    }
    Ok(())
}

fn duration(name: &str, v: Option<u64>, default: u64, min: u64) -> Result<i64, ConfigError> {
    let v = v.unwrap_or(default);
    if v < min || v > MAX_DURATION_MS {
        return Err(ConfigError::OutOfRange(format!(
            "{name} is {v} ms; it must be between {min} and {MAX_DURATION_MS} ms (7 days)"
        )));
    }
    Ok(v as i64)
}

fn positive(name: &str, v: Option<u32>, default: u32) -> Result<u32, ConfigError> {
    match v.unwrap_or(default) {
        0 => Err(ConfigError::OutOfRange(format!(
            "{name} must be at least 1"
        ))),
        v => Ok(v),
    }
}

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

impl Config {
    /// Validates `settings` and fills in the defaults.
    pub fn new(mut settings: Settings) -> Result<Config, ConfigError> {
        // No suppression is said two ways (unset, or 0); one form keeps
        // the fingerprint of a configuration that never named it.
        for r in &mut settings.rules {
            if r.suppress_ms == Some(0) {
                r.suppress_ms = None;
            }
            if r.window == Some(WindowMode::Tumbling) {
                r.window = None;
            }
        }
        let mut compiled = sigma::compile(&settings.rule_files).map_err(ConfigError::Rules)?;
        if let Some(only) = &settings.only_rules {
            if let Some(n) = only
                .iter()
                .find(|n| !compiled.rules.iter().any(|r| &r.name == *n))
            {
                return Err(ConfigError::InvalidList(format!(
                    "only-rules names {n:?}, which the rule files do not define"
                )));
            }
            compiled.rules.retain(|r| only.contains(&r.name));
        }
        if settings.rules.is_empty() && compiled.rules.is_empty() {
            return Err(ConfigError::InvalidList(
                "rules must not be empty (name a built-in, or give rule files with a rule to run)"
                    .to_owned(),
            ));
        }
        for r in &compiled.rules {
            if Rule::of_name(&r.name).is_some() {
                return Err(ConfigError::Rules(RuleError {
                    file: r.file.clone(),
                    rule: Some(r.name.clone()),
                    line: None,
                    field: Some("name".into()),
                    message: "a data rule may not take a built-in rule's name".into(),
                }));
            }
        }
        for (i, r) in settings.rules.iter().enumerate() {
            if settings.rules[..i].iter().any(|o| o.rule == r.rule) {
                return Err(ConfigError::InvalidList(format!(
                    "rules[{i}] names {} again; each rule may appear once",
                    r.rule.name()
                )));
            }
        }
        let allowed_lateness_ms = duration(
            "allowed-lateness-ms",
            settings.allowed_lateness_ms,
            DEFAULT_ALLOWED_LATENESS_MS,
            0,
        )?;
        let l = &settings.limits;
        let limits = Limits {
            max_event_bytes: positive(
                "limits.max-event-bytes",
                l.max_event_bytes,
                DEFAULT_MAX_EVENT_BYTES,
            )?,
            max_open_groups: positive(
                "limits.max-open-groups",
                l.max_open_groups,
                DEFAULT_MAX_OPEN_GROUPS,
            )?,
            max_list_entries: positive(
                "limits.max-list-entries",
                l.max_list_entries,
                DEFAULT_MAX_LIST_ENTRIES,
            )?,
            max_time_jump_ms: duration(
                "limits.max-time-jump-ms",
                l.max_time_jump_ms,
                DEFAULT_MAX_TIME_JUMP_MS,
                1000,
            )?,
            time_confirmations: match l.time_confirmations.unwrap_or(DEFAULT_TIME_CONFIRMATIONS) {
                n @ 1..=MAX_TIME_CONFIRMATIONS => n,
                n => {
                    return Err(ConfigError::OutOfRange(format!(
                        "limits.time-confirmations is {n}; it must be between 1 and {MAX_TIME_CONFIRMATIONS}"
                    )));
                }
            },
        };
        let mut rules = settings
            .rules
            .iter()
            .map(|r| {
                let mut c = RuleConfig::new(r, settings.profile, allowed_lateness_ms, limits)?;
                c.early_alerts = settings.early_alerts.unwrap_or(false);
                Ok(c)
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        for d in &compiled.rules {
            let (window_ms, threshold, window_mode) = match &d.kind {
                DataKind::Correlation {
                    window_ms,
                    threshold,
                    window_mode,
                    ..
                } => (*window_ms, threshold.clone(), *window_mode),
                // One alert per event: windows one millisecond wide, keyed
                // by the event, each alerting at its first event.
                DataKind::Event { .. } => (1, Threshold::at_least(1), WindowMode::Tumbling),
            };
            rules.push(RuleConfig {
                name: d.name.as_str().into(),
                builtin: None,
                data: Some(d.clone()),
                threshold,
                profile: settings.profile,
                window_ms,
                min_distinct: 1,
                commands: Vec::new(),
                providers: Vec::new(),
                suppress_ms: d.suppress_ms,
                window_mode,
                allowed_lateness_ms,
                limits,
                early_alerts: settings.early_alerts.unwrap_or(false),
            });
        }
        let material = serde_json::to_vec(&settings).expect("settings serialise");
        let digest = sha2::Sha256::digest(&material);
        let fingerprint = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        Ok(Config {
            settings,
            rules,
            limits,
            fingerprint,
            schema: compiled.schema,
            filters: compiled.filters,
        })
    }
}

impl RuleConfig {
    /// Whether `other` is the same rule with the same definition and
    /// settings, so that its state carries over (a reload): every setting
    /// equal, and for a data rule the same compiled Sigma documents
    /// ([`crate::sigma::DataRule::digest`]), wherever its file.
    pub fn same_definition(&self, other: &RuleConfig) -> bool {
        let definition = |c: &RuleConfig| c.data.as_ref().map(|d| d.digest);
        // The derived equality compares a data rule by name and file; set
        // the definition aside and compare its digest instead.
        let settings = |c: &RuleConfig| RuleConfig {
            data: None,
            ..c.clone()
        };
        settings(self) == settings(other) && definition(self) == definition(other)
    }

    /// Validates one rule's settings under the detector's shared ones.
    pub fn new(
        r: &RuleSettings,
        profile: Profile,
        allowed_lateness_ms: i64,
        limits: Limits,
    ) -> Result<RuleConfig, ConfigError> {
        let (default_window, default_min) = match r.rule {
            Rule::Sentinel => (60_000, 8),
            Rule::Elastic => (10_000, 6),
        };
        let window_ms = duration("window-ms", r.window_ms, default_window, 1)?;
        let min_distinct = positive("min-distinct", r.min_distinct, default_min)?;
        let commands = match &r.commands {
            Some(list) => list.clone(),
            None => owned(match profile {
                Profile::Seed => SENTINEL_SEED_COMMANDS,
                Profile::Default => SENTINEL_DEFAULT_COMMANDS,
            }),
        };
        check_list("commands", &commands)?;
        let providers = r
            .providers
            .clone()
            .unwrap_or_else(|| owned(ELASTIC_SEED_PROVIDERS));
        check_list("providers", &providers)?;
        let suppress_ms = duration("suppress-ms", Some(r.suppress_ms.unwrap_or(0)), 0, 0)?;
        Ok(RuleConfig {
            name: r.rule.name().into(),
            builtin: Some(r.rule),
            data: None,
            threshold: Threshold::at_least(u64::from(min_distinct)),
            profile,
            window_ms,
            min_distinct,
            commands,
            providers,
            suppress_ms,
            window_mode: r.window.unwrap_or_default(),
            allowed_lateness_ms,
            limits,
            early_alerts: false,
        })
    }

    /// One rule alone under `profile`, every tunable at its default (for
    /// tests of a rule's steps).
    pub fn single(rule: Rule, profile: Profile) -> RuleConfig {
        Config::new(Settings::new(rule, profile))
            .expect("the defaults are valid")
            .rules
            .remove(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_rule() {
        let s = RuleConfig::single(Rule::Sentinel, Profile::Default);
        assert_eq!((s.window_ms, s.min_distinct), (60_000, 8));
        assert!(s.commands.iter().any(|c| c == "iam.get-user"));
        let seed = RuleConfig::single(Rule::Sentinel, Profile::Seed);
        assert_eq!(seed.commands.len(), 21);
        assert!(
            seed.commands
                .iter()
                .any(|c| c == "iam.get-useriam.list-access-keys")
        );
        let e = RuleConfig::single(Rule::Elastic, Profile::Default);
        assert_eq!((e.window_ms, e.min_distinct), (10_000, 6));
        assert_eq!(e.providers.len(), 9);
        assert_eq!(e.allowed_lateness_ms, 900_000);
    }

    #[test]
    fn invalid_settings_are_refused_with_the_field_named() {
        let mut s = Settings::new(Rule::Sentinel, Profile::Default);
        s.rules[0].window_ms = Some(0);
        assert!(
            matches!(Config::new(s.clone()), Err(ConfigError::OutOfRange(m)) if m.contains("window-ms"))
        );
        s.rules[0].window_ms = None;
        s.rules[0].min_distinct = Some(0);
        assert!(
            matches!(Config::new(s.clone()), Err(ConfigError::OutOfRange(m)) if m.contains("min-distinct"))
        );
        s.rules[0].min_distinct = None;
        s.rules[0].commands = Some(vec![]);
        assert!(
            matches!(Config::new(s.clone()), Err(ConfigError::InvalidList(m)) if m.contains("commands"))
        );
        s.rules[0].commands = Some(vec!["iam.list-users".into(), " ".into()]);
        assert!(
            matches!(Config::new(s.clone()), Err(ConfigError::InvalidList(m)) if m.contains("commands[1]"))
        );
        s.rules[0].commands = None;
        s.allowed_lateness_ms = Some(MAX_DURATION_MS + 1);
        assert!(Config::new(s.clone()).is_err());
        s.allowed_lateness_ms = Some(0);
        assert!(Config::new(s.clone()).is_ok());
        s.limits.max_open_groups = Some(0);
        assert!(Config::new(s).is_err());
    }

    #[test]
    fn rules_are_a_non_empty_list_without_repeats() {
        assert!(matches!(
            Config::new(Settings::with_rules(vec![], Profile::Default)),
            Err(ConfigError::InvalidList(m)) if m.contains("rules")
        ));
        let twice = Settings::with_rules(
            vec![
                RuleSettings::new(Rule::Elastic),
                RuleSettings::new(Rule::Elastic),
            ],
            Profile::Default,
        );
        assert!(matches!(
            Config::new(twice),
            Err(ConfigError::InvalidList(m)) if m.contains("rules[1]")
        ));
        let both = Config::new(Settings::all(Profile::Default)).unwrap();
        assert_eq!(both.rules.len(), 2);
        let seed = Config::new(Settings::all(Profile::Seed)).unwrap();
        assert_ne!(both.fingerprint, seed.fingerprint);
    }
}
