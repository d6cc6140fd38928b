//! Late records explained, early alerts from files, and messages that name
//! the setting as the user wrote it: `recon detect` run as a user would.

use std::process::{Command, Output};

use recon::runtime::{Config, HostError};
use recon::settings::FileSettings;

use crate::util::{runtime, scratch_dir};

fn recon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recon"))
        .args(args)
        .arg("--no-cache")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A generated trail written to a file: `disorder_ms` of disorder.
fn trail(name: &str, seed: u64, disorder_ms: u64) -> String {
    let mut bytes = Vec::new();
    let opts = recon_gen::GenOptions {
        seed,
        count: 15_000,
        bursts: 16,
        max_disorder_ms: disorder_ms,
        ..recon_gen::GenOptions::default()
    };
    recon_gen::write_ndjson(opts, &mut bytes).unwrap();
    let path = scratch_dir(name).join("trail.ndjson");
    std::fs::write(&path, bytes).unwrap();
    path.to_str().unwrap().to_owned()
}

/// The ids of the alert lines of a run, sorted.
fn ids(out: &Output) -> Vec<String> {
    let mut ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["id"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.sort();
    ids
}

#[test]
fn late_records_are_explained_with_the_lateness_that_keeps_them() {
    // Four minutes of disorder against a minute of lateness.
    let path = trail("late-advice", 3, 240_000);
    let out = recon(&["detect", &path, "--allowed-lateness", "60"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let advice = err
        .lines()
        .find(|l| l.contains("arrived too late to count"))
        .unwrap_or_else(|| panic!("no advice on late records: {err}"));
    assert!(advice.contains("behind the newest record"), "{advice}");
    assert!(advice.contains("(now 60 s)"), "{advice}");
    assert!(
        err.lines()
            .any(|l| l.contains(", late ") && l.contains(" behind)")),
        "{err}"
    );
    // The suggestion, as the option takes it.
    let suggest: u64 = advice
        .split("--allowed-lateness ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no option in {advice}"));
    assert!(
        advice.contains(&format!("allowed_lateness_seconds = {suggest}")),
        "{advice}"
    );
    assert!((61..=300).contains(&suggest), "{advice}");
    // Following it keeps every record, and finds what the same records in
    // time order find.
    let kept = recon(&["detect", &path, "--allowed-lateness", &suggest.to_string()]);
    let kept_err = stderr(&kept);
    assert!(!kept_err.contains("too late"), "{kept_err}");
    let rule_lines: Vec<&str> = kept_err.lines().filter(|l| l.contains(", late ")).collect();
    assert_eq!(rule_lines.len(), 2, "{kept_err}");
    assert!(
        rule_lines.iter().all(|l| l.contains(", late 0,")),
        "{kept_err}"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    let mut sorted: Vec<(String, &str)> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (v["eventTime"].as_str().unwrap().to_owned(), l)
        })
        .collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let sorted_path = scratch_dir("late-advice-sorted").join("sorted.ndjson");
    let body: Vec<&str> = sorted.iter().map(|(_, l)| *l).collect();
    std::fs::write(&sorted_path, body.join("\n")).unwrap();
    let in_order = recon(&["detect", sorted_path.to_str().unwrap()]);
    assert!(!ids(&in_order).is_empty());
    assert_eq!(ids(&kept), ids(&in_order));
    assert!(ids(&out).len() < ids(&in_order).len(), "{err}");
    // A second short of the suggestion loses records again.
    let short = recon(&[
        "detect",
        &path,
        "--allowed-lateness",
        &(suggest - 1).to_string(),
    ]);
    assert!(stderr(&short).contains("too late"), "{}", stderr(&short));
}

#[test]
fn early_alerts_from_a_file_come_before_their_final_rows_which_stay_as_they_were() {
    let path = trail("early-file", 7, 5_000);
    let plain = recon(&["detect", &path]);
    let early = recon(&["detect", &path, "--early"]);
    assert!(early.status.success(), "{}", stderr(&early));
    let text = String::from_utf8(early.stdout.clone()).unwrap();
    let mut finals = Vec::new();
    let mut seen = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let id = v["id"].as_str().unwrap().to_owned();
        match v["kind"].as_str() {
            Some("early") => {
                assert!(!seen.contains(&id), "two early alerts for {id}");
                seen.push(id);
            }
            Some("final") => {
                assert!(seen.contains(&id), "a final alert before its early one");
                finals.push(line);
            }
            other => panic!("kind {other:?} in {line}"),
        }
    }
    assert!(!finals.is_empty());
    // The final lines, byte for byte, are those of a run without --early.
    assert_eq!(
        finals,
        String::from_utf8_lossy(&plain.stdout)
            .lines()
            .collect::<Vec<_>>()
    );
    assert!(
        String::from_utf8_lossy(&plain.stdout)
            .lines()
            .all(|l| l.contains("\"kind\":\"final\""))
    );
    let summary = stderr(&early);
    assert!(
        summary.contains(&format!(
            "{} alerts ({} early, {} final)",
            2 * finals.len(),
            finals.len(),
            finals.len()
        )),
        "{summary}"
    );
    // The configuration file's key does the same as the option.
    let config = scratch_dir("early-file-config").join("early.toml");
    std::fs::write(&config, "early_alerts = true\n").unwrap();
    let from_file = recon(&["detect", &path, "--config", config.to_str().unwrap()]);
    assert_eq!(from_file.stdout, early.stdout);
    // And the option wins over the file.
    let off = recon(&[
        "detect",
        &path,
        "--config",
        config.to_str().unwrap(),
        "--no-early",
    ]);
    assert_eq!(off.stdout, plain.stdout);
}

/// Runs `recon detect` with `toml` as its configuration file and `args`,
/// expecting a configuration error: its message.
fn config_error(toml: &str, args: &[&str]) -> String {
    let config = scratch_dir("setting-names").join("c.toml");
    std::fs::write(&config, toml).unwrap();
    let mut all = vec!["detect", "--config", config.to_str().unwrap()];
    all.extend(args);
    all.push("/dev/null");
    let out = recon(&all);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{toml} {args:?}: {err}");
    err
}

#[test]
fn errors_name_the_setting_as_the_user_wrote_it_in_its_unit() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "allowed_lateness_seconds = 400000000\n",
            &[],
            "allowed_lateness_seconds = 400000000 is out of range; it must be between 0 and 604800 seconds",
        ),
        (
            "",
            &["--allowed-lateness", "400000000"],
            "--allowed-lateness 400000000 is out of range; it must be between 0 and 604800 seconds",
        ),
        ("workers = 0\n", &[], "workers = 0 is out of range"),
        ("", &["--workers", "0"], "--workers 0 is out of range"),
        ("", &["--chunk-kib", "0"], "--chunk-kib 0 is out of range"),
        (
            "[elastic]\nwindow_seconds = 0\n",
            &[],
            "elastic.window_seconds = 0 is out of range; it must be between 1 and 604800 seconds",
        ),
        (
            "[sentinel]\nmin_distinct = 0\n",
            &[],
            "sentinel.min_distinct = 0 is out of range; it must be at least 1",
        ),
        (
            "[sentinel]\ncommands = []\n",
            &[],
            "sentinel.commands is empty",
        ),
        (
            "[elastic]\nproviders = [\"iam.amazonaws.com\", \" \"]\n",
            &[],
            "elastic.providers: entry 2 is empty",
        ),
        (
            "[limits]\nmax_time_jump_seconds = 0\n",
            &[],
            "limits.max_time_jump_seconds = 0 is out of range; it must be between 1 and 604800 seconds",
        ),
        (
            "[limits]\ntime_confirmations = 2000\n",
            &[],
            "limits.time_confirmations = 2000 is out of range; it must be between 1 and 1024",
        ),
        (
            "[limits]\nmax_open_groups = 0\n",
            &[],
            "limits.max_open_groups = 0 is out of range",
        ),
        ("", &["--tenant-key", "a..b"], "--tenant-key \"a..b\""),
    ];
    for (toml, args, want) in cases {
        let err = config_error(toml, args);
        assert!(err.contains(want), "{toml} {args:?}: {err}");
        // Never the contract's field names or its milliseconds.
        for wit in [
            "-ms ",
            "allowed-lateness",
            "window-ms",
            "min-distinct",
            "max-open",
        ] {
            if !args.iter().any(|a| a.contains(wit.trim())) {
                assert!(!err.contains(wit), "{toml} {args:?}: {err}");
            }
        }
    }
}

#[test]
fn every_configuration_the_host_accepts_the_component_accepts() {
    // The host checks the contract's bounds itself (to name the file key);
    // it must never pass on a value the component would refuse.
    let mut inst = runtime().instantiate().unwrap();
    let values = [0u64, 1, 2, 999, 1000, 1024, 1025, 604_800, 604_801, 1 << 40];
    let keys = [
        "allowed_lateness_seconds = {}",
        "[sentinel]\nwindow_seconds = {}",
        "[elastic]\nwindow_seconds = {}",
        "[sentinel]\nmin_distinct = {}",
        "[limits]\nmax_time_jump_seconds = {}",
        "[limits]\ntime_confirmations = {}",
        "[limits]\nmax_event_bytes = {}",
        "[limits]\nmax_open_groups = {}",
        "[limits]\nmax_list_entries = {}",
    ];
    let mut accepted = 0;
    for key in keys {
        for v in values {
            let Ok(settings) = FileSettings::parse(&key.replace("{}", &v.to_string())) else {
                continue; // Too large for the key's type: refused when read.
            };
            let Ok(config): Result<Config, _> = settings.resolve().map(|r| r.detector) else {
                continue;
            };
            accepted += 1;
            match inst.create(&config) {
                Ok(d) => inst.drop_detector(d).unwrap(),
                Err(HostError::Config(e)) => panic!("{key} = {v}: the component refused {e:?}"),
                Err(e) => panic!("{e}"),
            }
        }
    }
    assert!(accepted > 40, "{accepted}");
}

#[test]
fn far_ahead_notices_are_not_counted_as_rejections() {
    let dir = scratch_dir("far-ahead-notices");
    let path = trail("far-ahead-notices-trail", 12, 5_000);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut records: Vec<String> = text.lines().map(str::to_owned).collect();
    // Thirty records dated 2099, each alone among ordinary ones.
    for i in 0..30 {
        let wild = records[100 + i * 200].replace("\"eventTime\":\"2026-", "\"eventTime\":\"2099-");
        records.insert(101 + i * 200, wild);
    }
    let wild = dir.join("wild.ndjson");
    std::fs::write(&wild, records.join("\n")).unwrap();
    let out = recon(&["detect", wild.to_str().unwrap(), "--show-rejects", "5"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("more rejected records not shown"), "{err}");
    assert!(err.contains("25 more far-ahead notices not shown"), "{err}");
    assert!(err.contains("rejected 0,"), "{err}");
    // A real rejection still counts as one, and only it.
    records.insert(5, "{not json".to_owned());
    std::fs::write(&wild, records.join("\n")).unwrap();
    let out = recon(&["detect", wild.to_str().unwrap(), "--show-rejects", "0"]);
    let err = stderr(&out);
    assert!(
        err.contains("recon: 1 more rejected records not shown"),
        "{err}"
    );
    assert!(err.contains("30 more far-ahead notices not shown"), "{err}");
}

#[test]
fn rejections_name_bounds_by_their_file_keys() {
    let path = trail("state-limit-names", 13, 5_000);
    let config = scratch_dir("state-limit-names-config").join("c.toml");
    std::fs::write(&config, "[limits]\nmax_open_groups = 1\n").unwrap();
    let out = recon(&["detect", &path, "--config", config.to_str().unwrap()]);
    let err = stderr(&out);
    assert!(err.contains("rejected (state-limit)"), "{err}");
    assert!(err.contains("(limits.max_open_groups)"), "{err}");
    assert!(!err.contains("max-open-groups"), "{err}");
}

#[test]
fn a_state_file_keeps_its_early_setting() {
    use recon::runtime::{Profile, Rule};
    use recon::state::fingerprint;
    // Early alerts are part of the configuration a state file records.
    let mut config = Config::defaults(
        &[
            Rule::from("sentinel-aws-cli-recon"),
            Rule::from("elastic-aws-discovery-burst"),
        ],
        Profile::Default,
    );
    config.allowed_lateness_ms = Some(5_000);
    let off = fingerprint(&config, None);
    config.early_alerts = Some(true);
    assert_ne!(fingerprint(&config, None), off);

    // A stream saved by a live run (early alerts on by default) resumes in
    // a run that is not live, without saying anything about early alerts.
    let path = trail("state-early", 14, 5_000);
    let text = std::fs::read_to_string(&path).unwrap();
    let records: Vec<&str> = text.lines().collect();
    let dir = scratch_dir("state-early-files");
    let (first, second) = (dir.join("first.ndjson"), dir.join("second.ndjson"));
    std::fs::write(&first, records[..7_000].join("\n")).unwrap();
    std::fs::write(&second, records[7_000..].join("\n")).unwrap();
    let state = dir.join("state.json");
    let state = state.to_str().unwrap();
    let live = recon(&[
        "detect",
        "--live",
        "on",
        "--state",
        state,
        first.to_str().unwrap(),
    ]);
    assert!(live.status.success(), "{}", stderr(&live));
    // Saying otherwise is a change of configuration, refused.
    let refused = recon(&[
        "detect",
        "--no-early",
        "--state",
        state,
        second.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("another configuration"),
        "{}",
        stderr(&refused)
    );
    let resumed = recon(&[
        "detect",
        "--state",
        state,
        "--finish",
        second.to_str().unwrap(),
    ]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    // Not in live mode, the resumed stream's early alerts are all written.
    assert!(
        String::from_utf8_lossy(&resumed.stdout).contains("\"kind\":\"early\""),
        "{}",
        stderr(&resumed)
    );
}
