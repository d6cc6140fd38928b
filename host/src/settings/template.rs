//! The complete default configuration file (`recon config
//! --print-default`): every key with its default and what it does, the
//! defaults taken from their one definition each.

use super::resolve::{DEFAULT_CHUNK_KIB, DEFAULT_MAX_QUARANTINED};
use crate::live::{DEFAULT_LIVE_IDLE, DEFAULT_LIVE_MAX_LAG};
use crate::tenants::DEFAULT_MAX_TENANTS;

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
# Suppression: after an alert for a group, hold back the group's alerts of
# windows starting within this many seconds of event time; the next alert
# that goes out says how many were held back (0: none).
suppress_seconds = 0
# "tumbling" (the seed's epoch-aligned windows) or "sliding": at each event,
# the window before it, so a burst across a window edge is not split.
window = "tumbling"

[elastic]
# Window width and the smallest number of distinct event names that alerts
# (the query's "> 5").
window_seconds = {elastic_window}
min_distinct = {elastic_min}
# Event sources that count (the whole list: it replaces the default).
providers = [
{providers}
]
# Suppression and windows, as for [sentinel].
suppress_seconds = 0
window = "tumbling"

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
# Each tenant's own rules, beside the common ones: in this directory, a
# file <tenant>.yml or a directory <tenant>/ of rule files per tenant (its
# detections, correlations, and filters: its exceptions to the common rules).
# rules_dir = "tenants/"
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
    use crate::settings::{
        FileSettings, LimitsSection, LiveSection, RuleSection, SandboxSection, TenantsSection,
    };

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
        // Resolved, the file is the configuration of an empty file.
        let (file, empty) = (
            s.resolve().unwrap(),
            FileSettings::default().resolve().unwrap(),
        );
        assert_eq!(file.rules, empty.rules);
        assert_eq!(file.sandbox, empty.sandbox);
        assert_eq!(file.guard, empty.guard);
        assert_eq!(file.max_quarantined, empty.max_quarantined);
        assert_eq!(file.max_tenants, empty.max_tenants);
        assert_eq!(file.live, empty.live);
        assert_eq!(file.chunk_bytes, empty.chunk_bytes);
        assert_eq!(file.max_line_bytes(), empty.max_line_bytes());
        assert_eq!(file.allowed_lateness_ms(), empty.allowed_lateness_ms());
        assert_eq!(file.early_alerts, empty.early_alerts);
        assert!(file.tenant_key.is_none());
        // The numbers and lists the file writes are the detection core's
        // own defaults: resolved by the core, the file's configuration is
        // the configuration of an empty file.
        let file = g::Config::new(crate::runtime::guest_settings(&file.detector)).unwrap();
        let empty = g::Config::new(crate::runtime::guest_settings(&empty.detector)).unwrap();
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
            suppress_seconds: sentinel_suppress,
            window: sentinel_window_mode,
        } = sentinel;
        let RuleSection {
            window_seconds: elastic_window,
            min_distinct: elastic_min,
            commands: _, // ignored by the Elastic rule
            providers: elastic_providers,
            suppress_seconds: elastic_suppress,
            window: elastic_window_mode,
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
        let TenantsSection {
            key,
            max_tenants,
            rules_dir,
        } = tenants;
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
            ("sentinel.suppress_seconds", sentinel_suppress.is_some()),
            ("elastic.suppress_seconds", elastic_suppress.is_some()),
            ("sentinel.window", sentinel_window_mode.is_some()),
            ("elastic.window", elastic_window_mode.is_some()),
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
            (workers, sentinel_commands, key, early_alerts, rules_dir),
            (&None, &None, &None, &None, &None),
            "a key meant to be commented out is set"
        );
        let commented = commented_keys(&text);
        for (section, name) in [
            ("", "workers"),
            ("", "early_alerts"),
            ("sentinel", "commands"),
            ("tenants", "key"),
            ("tenants", "rules_dir"),
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
}
