//! The `recon detect --state FILE` file: every detector's snapshot, so a
//! backtest over exports that arrive one file at a time (hourly CloudTrail
//! deliveries, say) keeps its open windows from one run to the next and
//! alerts on bursts that straddle two files.
//!
//! The snapshots are the component's own bytes (opaque to the host, base64
//! here); next to each the host keeps the [`fingerprint`] of the
//! configuration it was made with, so a run with a different configuration
//! is refused rather than silently resumed under the old one.
//!
//! The fingerprint is a SHA-256 of canonical bytes written field by field
//! in a fixed order ([`fingerprint`]), so it changes when a setting changes
//! and never because a dependency prints its types differently. Version 3
//! files fingerprinted the configuration's `Debug` text, which a wasmtime
//! upgrade (or a new contract field) changes: they are refused with a
//! message saying so, since this build cannot tell whether their
//! configuration matches. End such a stream with the recon that wrote it
//! (`--finish`), or remove the file to start afresh.
//!
//! The file is trusted only as far as it can be checked:
//!
//! - its first line names the format and version, its second carries the
//!   SHA-256 of everything after it: a damaged, truncated or foreign file is
//!   refused with an error naming the file and what is wrong, and left
//!   exactly as it was;
//! - it is written atomically: a temporary file in the same directory,
//!   flushed to disk, then renamed over the old one (and the directory
//!   flushed), so a crash leaves the old state or the new, never half;
//! - a run holds an exclusive lock on `FILE.lock` from reading the state to
//!   writing it back, so a second concurrent run is refused instead of both
//!   resuming the same state and one overwriting the other.

use std::fs::{File, OpenOptions};

use crate::runtime::{Config, Limits, Profile, RuleConfig, WindowMode};
use crate::tenants::TenantKey;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// The format name written into every state file.
pub const STATE_FORMAT: &str = "recon-detect-state";
/// The state file version this build writes and reads (4: canonical
/// configuration fingerprints; 3 used `Debug` text, see the module
/// documentation).
pub const STATE_VERSION: u32 = 4;
/// The name `recon detect` saves its one detector (every rule) under.
pub const DETECTOR: &str = "detector";

/// Why a state file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// Reading or writing failed.
    #[error("state file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a state file of this version.
    #[error("state file {path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Another run holds the state file's lock.
    #[error(
        "state file {path}: another recon run is using it (it holds {path}.lock); \
         wait for it to finish"
    )]
    Locked {
        /// The file.
        path: PathBuf,
    },
    /// A detector was saved with another configuration.
    #[error(
        "state file {path}: {rule} was saved with another configuration; \
         run with the same configuration, or remove the file to start afresh"
    )]
    ConfigChanged {
        /// The file.
        path: PathBuf,
        /// The rule whose configuration differs.
        rule: String,
    },
}

/// One detector's saved state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedDetector {
    /// The rule's alert name.
    pub rule: String,
    /// The [`fingerprint`] of the configuration it runs with.
    pub config: String,
    /// The component's snapshot, base64.
    pub snapshot: String,
}

#[derive(Serialize, Deserialize)]
struct StateBody {
    detectors: Vec<SavedDetector>,
}

/// An exclusive lock on a state file, held until dropped.
#[derive(Debug)]
pub struct StateLock {
    _file: File,
}

/// Takes the lock of `path` (on `path.lock`), or fails at once when another
/// run holds it.
pub fn lock(path: &Path) -> Result<StateLock, StateError> {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(PathBuf::from(name))
        .map_err(|source| StateError::Io {
            path: path.to_owned(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(StateLock { _file: file }),
        Err(std::fs::TryLockError::WouldBlock) => Err(StateError::Locked {
            path: path.to_owned(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(StateError::Io {
            path: path.to_owned(),
            source,
        }),
    }
}

fn header() -> String {
    format!("{STATE_FORMAT} {STATE_VERSION}\n")
}

/// The saved detectors of a state file, empty when it does not exist yet.
pub fn load(path: &Path) -> Result<Vec<SavedDetector>, StateError> {
    let text = match std::fs::read(path).map(String::from_utf8) {
        Ok(Ok(t)) => t,
        Ok(Err(_)) => {
            return Err(StateError::Malformed {
                path: path.to_owned(),
                message: "it is not text: not a recon state file".into(),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StateError::Io {
                path: path.to_owned(),
                source,
            });
        }
    };
    let malformed = |message: String| StateError::Malformed {
        path: path.to_owned(),
        message,
    };
    let bytes = text.as_bytes();
    let (first, rest) =
        split_line(bytes).ok_or_else(|| malformed("it is empty or has no header line".into()))?;
    if first == format!("{STATE_FORMAT} 3").as_bytes() {
        return Err(malformed(format!(
            "it was written by an earlier recon (state version 3), whose configuration \
             fingerprint this version cannot compare with its own; end that stream with the \
             recon that wrote it (--finish), or remove the file to start afresh \
             (this version writes state version {STATE_VERSION})"
        )));
    }
    if first != header().trim_end().as_bytes() {
        return Err(malformed(format!(
            "it is not a {STATE_FORMAT} file of version {STATE_VERSION} (it starts {:?})",
            String::from_utf8_lossy(&first[..first.len().min(40)])
        )));
    }
    let (sum_line, body) =
        split_line(rest).ok_or_else(|| malformed("it is truncated after its header".into()))?;
    let sum = sum_line
        .strip_prefix(b"sha256 ")
        .ok_or_else(|| malformed("its second line is not a sha256 checksum".into()))?;
    if hex(&Sha256::digest(body)).as_bytes() != sum {
        return Err(malformed(
            "its checksum does not match its content: the file is damaged or truncated".into(),
        ));
    }
    let file: StateBody = serde_json::from_slice(body).map_err(|e| malformed(e.to_string()))?;
    Ok(file.detectors)
}

/// The first line of `b` (without its `\n`) and the rest.
fn split_line(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let n = b.iter().position(|c| *c == b'\n')?;
    Some((&b[..n], &b[n + 1..]))
}

/// Lower-case hexadecimal of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The name and version of the fingerprint's encoding, its first bytes.
/// Changing the encoding in any way means a new version here (and makes
/// every saved state "saved with another configuration").
const FINGERPRINT_FORMAT: &[u8] = b"recon-config-fingerprint 1\n";

/// Canonical bytes of one setting: a fixed-width tag, then the value.
/// Numbers are little-endian `u64`; a string or list is its length (`u64`)
/// then its items; an absent option is `0`, a present one `1` and its
/// value. No two different settings give the same bytes.
#[derive(Default)]
struct Canonical(Vec<u8>);

impl Canonical {
    fn field(&mut self, name: &str) -> &mut Self {
        self.text(name)
    }
    fn num(&mut self, v: u64) -> &mut Self {
        self.0.extend_from_slice(&v.to_le_bytes());
        self
    }
    fn text(&mut self, s: &str) -> &mut Self {
        self.num(s.len() as u64);
        self.0.extend_from_slice(s.as_bytes());
        self
    }
    fn opt_num(&mut self, v: Option<impl Into<u64>>) -> &mut Self {
        match v {
            None => self.num(0),
            Some(v) => self.num(1).num(v.into()),
        }
    }
    fn opt_list(&mut self, v: Option<&[String]>) -> &mut Self {
        match v {
            None => self.num(0),
            Some(items) => {
                self.num(1).num(items.len() as u64);
                for item in items {
                    self.text(item);
                }
                self
            }
        }
    }
}

/// The fingerprint a state file keeps next to each snapshot: `sha256:`
/// and the hex SHA-256 of canonical bytes of every setting of `config`,
/// in the contract's field order, and of the tenant key. The settings are
/// taken as given: a key left out and the same key set to its default
/// value are different configurations (the defaults may change between
/// versions). Bounds that change how a run goes but not what it computes
/// (sandbox, chunking, workers, live mode, `max_tenants`) are not part of
/// it.
pub fn fingerprint(config: &Config, tenant_key: Option<&TenantKey>) -> String {
    // Destructured without `..`: a field added to the contract does not
    // compile until it is written here.
    let Config {
        rules,
        rule_files,
        only_rules,
        profile,
        allowed_lateness_ms,
        limits,
        early_alerts,
    } = config;
    let mut c = Canonical::default();
    c.0.extend_from_slice(FINGERPRINT_FORMAT);
    c.field("rules").num(rules.len() as u64);
    for rule in rules {
        let RuleConfig {
            rule,
            window_ms,
            min_distinct,
            commands,
            providers,
            suppress_ms,
            window,
        } = rule;
        c.field("rule").text(rule);
        c.field("window-ms").opt_num(*window_ms);
        c.field("min-distinct").opt_num(*min_distinct);
        c.field("commands").opt_list(commands.as_deref());
        c.field("providers").opt_list(providers.as_deref());
        // Only when it suppresses: unset and 0 mean none, and a
        // configuration that never named it keeps its fingerprint.
        if let Some(ms) = suppress_ms.filter(|ms| *ms > 0) {
            c.field("suppress-ms").num(ms);
        }
        // Likewise only when the windows slide.
        if matches!(window, Some(WindowMode::Sliding)) {
            c.field("window").text("sliding");
        }
    }
    c.field("profile").text(match profile {
        Profile::Default => "default",
        Profile::Seed => "seed",
    });
    c.field("allowed-lateness-ms").opt_num(*allowed_lateness_ms);
    let Limits {
        max_event_bytes,
        max_open_groups,
        max_list_entries,
        max_time_jump_ms,
        time_confirmations,
    } = limits;
    c.field("limits.max-event-bytes").opt_num(*max_event_bytes);
    c.field("limits.max-open-groups").opt_num(*max_open_groups);
    c.field("limits.max-list-entries")
        .opt_num(*max_list_entries);
    c.field("limits.max-time-jump-ms")
        .opt_num(*max_time_jump_ms);
    c.field("limits.time-confirmations")
        .opt_num(*time_confirmations);
    c.field("early-alerts").opt_num(*early_alerts);
    // Rule files by their text (not their names: the same rules moved to
    // another path are the same configuration). Left out when there are
    // none, so configurations of built-ins keep their fingerprints.
    if !rule_files.is_empty() {
        c.field("rule-files").num(rule_files.len() as u64);
        for f in rule_files {
            c.field("rule-file").text(&f.text);
        }
    }
    if let Some(only) = only_rules {
        c.field("only-rules").opt_list(Some(only));
    }
    match tenant_key {
        None => c.field("tenant-key").num(0),
        Some(key) => c.field("tenant-key").num(1).text(&key.to_string()),
    };
    format!("sha256:{}", hex(&Sha256::digest(&c.0)))
}

/// The snapshot bytes of `rule` in `saved`, checking its configuration.
pub fn snapshot_of(
    path: &Path,
    saved: &[SavedDetector],
    rule: &str,
    config: &str,
) -> Result<Option<Vec<u8>>, StateError> {
    let Some(d) = saved.iter().find(|d| d.rule == rule) else {
        return Ok(None);
    };
    if d.config != config {
        return Err(StateError::ConfigChanged {
            path: path.to_owned(),
            rule: rule.to_owned(),
        });
    }
    STANDARD
        .decode(&d.snapshot)
        .map(Some)
        .map_err(|e| StateError::Malformed {
            path: path.to_owned(),
            message: format!("{rule}: snapshot is not base64: {e}"),
        })
}

/// A saved detector from its snapshot bytes.
pub fn saved(rule: &str, config: &str, snapshot: &[u8]) -> SavedDetector {
    SavedDetector {
        rule: rule.to_owned(),
        config: config.to_owned(),
        snapshot: STANDARD.encode(snapshot),
    }
}

/// Writes the state file atomically: a temporary file in the same
/// directory, flushed to disk, renamed over the old one, and the directory
/// flushed.
pub fn save(path: &Path, detectors: Vec<SavedDetector>) -> Result<(), StateError> {
    let io = |source| StateError::Io {
        path: path.to_owned(),
        source,
    };
    let body =
        serde_json::to_vec(&StateBody { detectors }).map_err(|e| io(std::io::Error::other(e)))?;
    let mut bytes = header().into_bytes();
    bytes.extend_from_slice(format!("sha256 {}\n", hex(&Sha256::digest(&body))).as_bytes());
    bytes.extend_from_slice(&body);
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Make the rename itself durable.
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io)
}

/// Removes the state file (the stream has ended); a missing file is fine.
pub fn remove(path: &Path) -> Result<(), StateError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StateError::Io {
            path: path.to_owned(),
            source: e,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::Rule;

    /// A configuration with every setting given, each to a value no other
    /// setting shares. Written as a struct literal: a field added to the
    /// contract does not compile until it is given here.
    fn every_setting() -> Config {
        Config {
            rules: vec![
                RuleConfig {
                    rule: Rule::from("sentinel-aws-cli-recon"),
                    window_ms: Some(60_001),
                    min_distinct: Some(8),
                    commands: Some(vec!["iam.list-users".into(), "ec2.describe-vpcs".into()]),
                    providers: Some(vec!["iam.amazonaws.com".into(), "kms.amazonaws.com".into()]),
                    suppress_ms: Some(3_600_005),
                    window: Some(WindowMode::Sliding),
                },
                RuleConfig {
                    rule: Rule::from("elastic-aws-discovery-burst"),
                    window_ms: Some(10_002),
                    min_distinct: Some(6),
                    commands: Some(vec!["s3.list-buckets".into()]),
                    providers: Some(vec!["ec2.amazonaws.com".into(), "s3.amazonaws.com".into()]),
                    suppress_ms: Some(3_600_006),
                    window: Some(WindowMode::Sliding),
                },
            ],
            rule_files: vec![crate::runtime::RuleFile {
                name: "rules/a.yml".into(),
                text: "title: a".into(),
            }],
            only_rules: Some(vec!["a".into()]),
            profile: Profile::Default,
            allowed_lateness_ms: Some(60_003),
            limits: Limits {
                max_event_bytes: Some(262_144),
                max_open_groups: Some(100_000),
                max_list_entries: Some(10_000),
                max_time_jump_ms: Some(3_600_000),
                time_confirmations: Some(16),
            },
            early_alerts: Some(false),
        }
    }

    type Change = (&'static str, Box<dyn Fn(&mut Config)>);

    /// One change per setting (and per rule), each alone.
    fn single_changes() -> Vec<Change> {
        let mut changes: Vec<Change> = vec![
            ("rules: one fewer", Box::new(|c| drop(c.rules.pop()))),
            ("rules: order", Box::new(|c| c.rules.reverse())),
            ("profile", Box::new(|c| c.profile = Profile::Seed)),
            (
                "allowed-lateness-ms",
                Box::new(|c| c.allowed_lateness_ms = Some(60_004)),
            ),
            (
                "allowed-lateness-ms: none",
                Box::new(|c| c.allowed_lateness_ms = None),
            ),
            (
                "limits.max-event-bytes",
                Box::new(|c| c.limits.max_event_bytes = Some(1)),
            ),
            (
                "limits.max-open-groups",
                Box::new(|c| c.limits.max_open_groups = Some(1)),
            ),
            (
                "limits.max-list-entries",
                Box::new(|c| c.limits.max_list_entries = Some(1)),
            ),
            (
                "limits.max-time-jump-ms",
                Box::new(|c| c.limits.max_time_jump_ms = Some(1)),
            ),
            (
                "limits.time-confirmations",
                Box::new(|c| c.limits.time_confirmations = Some(1)),
            ),
            ("early-alerts", Box::new(|c| c.early_alerts = Some(true))),
            (
                "rule-files: another text",
                Box::new(|c| c.rule_files[0].text.push_str(" b")),
            ),
            ("rule-files: none", Box::new(|c| c.rule_files.clear())),
            (
                "only-rules",
                Box::new(|c| c.only_rules = Some(vec!["b".into()])),
            ),
            ("only-rules: none", Box::new(|c| c.only_rules = None)),
            ("early-alerts: none", Box::new(|c| c.early_alerts = None)),
            (
                "limits.max-event-bytes: none",
                Box::new(|c| c.limits.max_event_bytes = None),
            ),
            (
                "limits.time-confirmations: none",
                Box::new(|c| c.limits.time_confirmations = None),
            ),
        ];
        for i in 0..2 {
            changes.extend::<Vec<Change>>(vec![
                (
                    "rule",
                    Box::new(move |c| {
                        let r = &mut c.rules[i].rule;
                        *r = if r == "sentinel-aws-cli-recon" {
                            "elastic-aws-discovery-burst".into()
                        } else {
                            "sentinel-aws-cli-recon".into()
                        };
                    }),
                ),
                (
                    "window-ms",
                    Box::new(move |c| c.rules[i].window_ms = Some(1)),
                ),
                (
                    "suppress-ms",
                    Box::new(move |c| c.rules[i].suppress_ms = Some(1)),
                ),
                (
                    "suppress-ms: none",
                    Box::new(move |c| c.rules[i].suppress_ms = None),
                ),
                (
                    "window: tumbling",
                    Box::new(move |c| c.rules[i].window = Some(WindowMode::Tumbling)),
                ),
                (
                    "window-ms: none",
                    Box::new(move |c| c.rules[i].window_ms = None),
                ),
                (
                    "min-distinct",
                    Box::new(move |c| c.rules[i].min_distinct = Some(1)),
                ),
                (
                    "min-distinct: none",
                    Box::new(move |c| c.rules[i].min_distinct = None),
                ),
                (
                    "commands: none",
                    Box::new(move |c| c.rules[i].commands = None),
                ),
                (
                    "commands: empty",
                    Box::new(move |c| c.rules[i].commands = Some(vec![])),
                ),
                (
                    "commands: an entry",
                    Box::new(move |c| {
                        c.rules[i].commands.as_mut().unwrap()[0].push('x');
                    }),
                ),
                (
                    "commands: one more",
                    Box::new(move |c| {
                        c.rules[i].commands.as_mut().unwrap().push(String::new());
                    }),
                ),
                (
                    "providers: none",
                    Box::new(move |c| c.rules[i].providers = None),
                ),
                (
                    "providers: an entry",
                    Box::new(move |c| {
                        c.rules[i].providers.as_mut().unwrap()[0].push('x');
                    }),
                ),
                // Items are delimited: ["ab"] is not ["a", "b"].
                (
                    "providers: joined",
                    Box::new(move |c| {
                        let p = c.rules[i].providers.as_mut().unwrap();
                        let joined = p.concat();
                        *p = vec![joined];
                    }),
                ),
            ]);
        }
        changes
    }

    #[test]
    fn the_fingerprint_is_stable_and_changes_with_every_setting() {
        let base = every_setting();
        let key = TenantKey::parse("recipientAccountId").unwrap();
        let fp = fingerprint(&base, None);
        // The same configuration, built again or cloned: the same print.
        assert_eq!(fingerprint(&every_setting(), None), fp);
        assert_eq!(fingerprint(&base.clone(), None), fp);
        assert_eq!(
            fingerprint(&base, Some(&key)),
            fingerprint(
                &base,
                Some(&TenantKey::parse("recipientAccountId").unwrap())
            )
        );
        assert!(fp.starts_with("sha256:") && fp.len() == 7 + 64, "{fp}");
        // The encoding is part of the file format: this value may change
        // only with FINGERPRINT_FORMAT (every saved state then refused).
        assert_eq!(
            fingerprint(
                &Config {
                    rules: vec![RuleConfig {
                        rule: Rule::from("sentinel-aws-cli-recon"),
                        window_ms: None,
                        min_distinct: None,
                        commands: None,
                        providers: None,
                        suppress_ms: None,
                        window: None,
                    }],
                    rule_files: Vec::new(),
                    only_rules: None,
                    profile: Profile::Default,
                    allowed_lateness_ms: None,
                    limits: Limits {
                        max_event_bytes: None,
                        max_open_groups: None,
                        max_list_entries: None,
                        max_time_jump_ms: None,
                        time_confirmations: None,
                    },
                    early_alerts: None,
                },
                None
            ),
            GOLDEN
        );
        // Every single change gives a print of its own.
        let mut seen = std::collections::HashMap::new();
        seen.insert(fp.clone(), "nothing changed".to_owned());
        for (i, (what, change)) in single_changes().into_iter().enumerate() {
            let mut c = every_setting();
            change(&mut c);
            assert_ne!(c, base, "{what}: the change changes nothing");
            let name = format!("{what} (change {i})");
            if let Some(other) = seen.insert(fingerprint(&c, None), name.clone()) {
                panic!("{name} prints as {other}");
            }
        }
        for (what, k) in [
            ("a tenant key", Some(key.clone())),
            (
                "another tenant key",
                Some(TenantKey::parse("userIdentity.accountId").unwrap()),
            ),
        ] {
            if let Some(other) = seen.insert(fingerprint(&base, k.as_ref()), what.to_owned()) {
                panic!("{what} prints as {other}");
            }
        }
    }

    /// The print of the smallest configuration (see the test above),
    /// computed apart from this code from the encoding documented on
    /// `Canonical` (Python's `struct.pack("<Q", …)` and `hashlib.sha256`).
    const GOLDEN: &str = "sha256:19cbb255c95996900573a360c3040e654c50ba5ef8cd1d1c3c89a23d1e3f4bc4";

    #[test]
    fn round_trips_and_refuses_a_changed_configuration() {
        let dir = std::env::temp_dir().join(format!("recon-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("state.json");
        assert!(load(&path).unwrap().is_empty());
        save(&path, vec![saved("r", "cfg", b"\x00bytes")]).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with(&format!("recon-detect-state {STATE_VERSION}\n"))
        );
        let back = load(&path).unwrap();
        assert_eq!(
            snapshot_of(&path, &back, "r", "cfg").unwrap(),
            Some(b"\x00bytes".to_vec())
        );
        assert_eq!(snapshot_of(&path, &back, "other", "cfg").unwrap(), None);
        assert!(matches!(
            snapshot_of(&path, &back, "r", "changed"),
            Err(StateError::ConfigChanged { .. })
        ));
        // One digit changed, a cut, a foreign file: refused, left as they are.
        let good = std::fs::read(&path).unwrap();
        let text = String::from_utf8(good.clone()).unwrap();
        let at = text.rfind(|c: char| c.is_ascii_digit()).unwrap();
        let mut changed = text.clone();
        let digit = if &text[at..at + 1] == "1" { "2" } else { "1" };
        changed.replace_range(at..at + 1, digit);
        let cut = text[..text.len() - 5].to_owned();
        for (what, bytes) in [
            ("a changed digit", changed.into_bytes()),
            ("a truncated file", cut.into_bytes()),
            ("a foreign file", b"{}".to_vec()),
            ("binary junk", vec![0xff, 0x00, 0x13]),
        ] {
            std::fs::write(&path, &bytes).unwrap();
            let e = load(&path).unwrap_err();
            assert!(matches!(e, StateError::Malformed { .. }), "{what}: {e}");
            assert!(e.to_string().contains("state.json"), "{what}: {e}");
            assert_eq!(
                std::fs::read(&path).unwrap(),
                bytes,
                "{what}: left as it was"
            );
        }
        // A file of the previous version (Debug-text fingerprints): refused,
        // saying why and what to do.
        let v3 = text.replacen(
            &format!("recon-detect-state {STATE_VERSION}\n"),
            "recon-detect-state 3\n",
            1,
        );
        std::fs::write(&path, &v3).unwrap();
        let e = load(&path).unwrap_err().to_string();
        assert!(
            e.contains("state.json")
                && e.contains("earlier recon (state version 3)")
                && e.contains("--finish")
                && e.contains("remove the file"),
            "{e}"
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), v3);
        std::fs::write(&path, &good).unwrap();
        // A second run is locked out while the first holds the lock.
        let held = lock(&path).unwrap();
        assert!(matches!(lock(&path), Err(StateError::Locked { .. })));
        drop(held);
        lock(&path).unwrap();
        remove(&path).unwrap();
        remove(&path).unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }
}
