//! Helpers shared by the integration tests: the compiled component (once
//! per test binary), sample paths, and assertions that print a readable
//! difference.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use recon::input;
use recon::runtime::{Alert, Config, Profile, Rule, RuleStats, Runtime, SandboxLimits};

/// The component, compiled once and shared (compiling takes a while).
pub fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::new(SandboxLimits::default()).expect("component loads"))
}

/// `tests/data/cloudtrail`.
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/cloudtrail")
}

/// The TrailDiscover aws-cli burst sample.
/// A named pipe (FIFO) at `dir/name`, made with `mkfifo`.
pub fn fifo(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let made = std::process::Command::new("mkfifo")
        .arg(&path)
        .status()
        .unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
    path
}

pub fn burst_sample() -> PathBuf {
    data_dir().join("traildiscover/aws_cli_burst_windows.jsonl")
}

/// Every record of one input file, as JSON text.
pub fn read_records(path: &Path) -> Vec<String> {
    input::read_records(path).unwrap_or_else(|e| panic!("{e}"))
}

/// Every sample file under `tests/data/cloudtrail` (licences and notes
/// left out), sorted.
pub fn sample_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                let name = path.file_name().unwrap().to_string_lossy();
                if !(name.ends_with(".md") || name == "LICENSE") {
                    out.push(path);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&data_dir(), &mut out);
    out.sort();
    out
}

/// The Sentinel rule alone, every tunable at its default, in `profile`.
pub fn sentinel(profile: Profile) -> Config {
    Config::defaults(&[Rule::from("sentinel-aws-cli-recon")], profile)
}

/// The Elastic rule alone, every tunable at its default, in `profile`.
pub fn elastic_rule(profile: Profile) -> Config {
    Config::defaults(&[Rule::from("elastic-aws-discovery-burst")], profile)
}

/// The Sentinel rule with the TrailDiscover burst's eleven AI commands as
/// its command list.
pub fn sentinel_ai(profile: Profile) -> Config {
    let mut config = sentinel(profile);
    config.rules[0].commands = Some(
        crate::samples::AI_COMMANDS
            .iter()
            .map(|s| s.to_string())
            .collect(),
    );
    config
}

/// Runs `events` through one fresh detector with one rule (one batch
/// call), flushes the stream and returns the alerts and that rule's final
/// counters.
pub fn run(config: &Config, events: &[String]) -> (Vec<Alert>, RuleStats) {
    let mut inst = runtime().instantiate().unwrap();
    let d = inst.create(config).unwrap();
    inst.push_batch(d, events).unwrap();
    inst.flush(d, None).unwrap();
    let alerts = inst.drain(d).unwrap();
    let stats = inst.stats(d).unwrap();
    assert_eq!(stats.rules.len(), 1, "a one-rule configuration");
    (alerts, stats.rules[0].clone())
}

/// The parsed row of an alert.
pub fn row(a: &Alert) -> serde_json::Value {
    serde_json::from_str(&a.row).unwrap()
}

/// Asserts that every pushed event is accounted for.
pub fn assert_accounted(stats: &RuleStats, read: usize) {
    assert_eq!(stats.pushed, read as u64, "pushed vs read");
    assert_eq!(
        stats.accepted + stats.filtered + stats.rejected + stats.late,
        stats.pushed,
        "accepted + filtered + rejected + late must equal pushed: {stats:?}"
    );
}

/// Asserts two alert lists are equal, printing them one per line, side by
/// side, when they are not.
pub fn assert_same_alerts(got: &[Alert], want: &[Alert], context: &str) {
    if got == want {
        return;
    }
    let show = |alerts: &[Alert]| -> String {
        alerts
            .iter()
            .map(|a| format!("  {} {} {}", a.rule, a.id, a.row))
            .collect::<Vec<_>>()
            .join("\n")
    };
    panic!(
        "{context}: alerts differ\n--- got ({}):\n{}\n--- want ({}):\n{}",
        got.len(),
        show(got),
        want.len(),
        show(want)
    );
}

/// Runs `events` through one fresh detector, cut into calls of the given
/// sizes (cycled; a size's flag picks one `push-batch` or `push` one by
/// one), draining after every call; then ends the stream. Returns every
/// alert in emission order and the final counters.
pub fn run_split(
    config: &Config,
    events: &[String],
    cuts: &[(usize, bool)],
) -> (Vec<Alert>, RuleStats) {
    let mut inst = runtime().instantiate().unwrap();
    let d = inst.create(config).unwrap();
    let mut alerts = Vec::new();
    let mut rest = events;
    let mut cuts = cuts.iter().cycle();
    while !rest.is_empty() {
        let &(n, batch) = cuts.next().unwrap();
        let (now, later) = rest.split_at(n.clamp(1, rest.len()));
        if batch {
            inst.push_batch(d, now).unwrap();
        } else {
            for e in now {
                // Rejections are part of the outcome; they are counted.
                let _ = inst.push(d, e).unwrap();
            }
        }
        alerts.extend(inst.drain(d).unwrap());
        rest = later;
    }
    inst.flush(d, None).unwrap();
    alerts.extend(inst.drain(d).unwrap());
    let stats = inst.stats(d).unwrap();
    assert_eq!(stats.rules.len(), 1, "a one-rule configuration");
    (alerts, stats.rules[0].clone())
}

/// A fresh directory for one test's files, under the system's temporary
/// directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("recon-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
