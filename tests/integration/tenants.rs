//! Tenants that cannot hurt each other: with `--tenant-key`, a tenant that
//! floods (distinct identities past the state bounds, wild times, garbage)
//! changes nothing for the others.

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::util::scratch_dir;

fn recon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recon"))
        .args(args)
        .arg("--no-cache")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Alerts by tenant, each tenant's in the order they were written.
fn by_tenant(stdout: &[u8]) -> BTreeMap<String, Vec<Value>> {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for line in String::from_utf8_lossy(stdout).lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let tenant = v["tenant"].as_str().expect("a tenant member").to_owned();
        out.entry(tenant).or_default().push(v);
    }
    out
}

const FLOODER: &str = "999999999999";

/// A generated trail, and the same trail with a flooding tenant's records
/// spread through it: aws-cli discovery calls from 30,000 distinct users
/// in the same minutes as everyone else, records dated 2099 and 1970, and
/// records no rule can read.
fn trails() -> (String, String) {
    let mut trail = Vec::new();
    let opts = recon_gen::GenOptions {
        seed: 11,
        count: 20_000,
        bursts: 16,
        ..recon_gen::GenOptions::default()
    };
    recon_gen::write_ndjson(opts, &mut trail).unwrap();
    let clean = String::from_utf8(trail).unwrap();
    let mut mixed = String::new();
    let mut n = 0u32;
    for (i, line) in clean.lines().enumerate() {
        mixed.push_str(line);
        mixed.push('\n');
        let record: Value = serde_json::from_str(line).unwrap();
        let time = record["eventTime"].as_str().unwrap();
        // Two flood records after every record.
        for _ in 0..2 {
            n += 1;
            let flood = serde_json::json!({
                "eventVersion": "1.08",
                "eventTime": match n % 500 {
                    7 => "2099-01-01T00:00:00Z",
                    8 => "1970-01-01T00:00:00Z",
                    _ => time,
                },
                "eventSource": "ec2.amazonaws.com",
                "eventName": "DescribeInstances",
                "userAgent": "aws-cli/2.15.0 Python/3.11 Linux/6 prompt/off command/ec2.describe-instances",
                "sourceIPAddress": "203.0.113.9",
                "recipientAccountId": FLOODER,
                "userIdentity": {
                    "type": "IAMUser",
                    "arn": format!("arn:aws:iam::{FLOODER}:user/flood-{n}"),
                    "userName": format!("flood-{n}"),
                    "accountId": FLOODER,
                },
            });
            mixed.push_str(&flood.to_string());
            mixed.push('\n');
        }
        if i % 1000 == 0 {
            mixed.push_str(&format!(
                "{{\"recipientAccountId\":\"{FLOODER}\",\"eventTime\":\"not a time\"}}\n"
            ));
        }
    }
    (clean, mixed)
}

#[test]
fn a_flooding_tenant_changes_nothing_for_the_others() {
    let dir = scratch_dir("tenants");
    let (clean, mixed) = trails();
    let clean_path = dir.join("clean.ndjson");
    let mixed_path = dir.join("mixed.ndjson");
    std::fs::write(&clean_path, clean).unwrap();
    std::fs::write(&mixed_path, mixed).unwrap();
    // State bounds the flood overruns: one detector for everyone loses
    // alerts to it (checked below, so this test cannot pass vacuously).
    let config = dir.join("bounds.toml");
    std::fs::write(&config, "[limits]\nmax_open_groups = 5000\n").unwrap();
    let config = config.to_str().unwrap();

    let alone = recon(&[
        "detect",
        "--config",
        config,
        "--tenant-key",
        "recipientAccountId",
        clean_path.to_str().unwrap(),
    ]);
    assert!(alone.status.success());
    let want = by_tenant(&alone.stdout);
    let alerts: usize = want.values().map(Vec::len).sum();
    assert!(alerts >= 5, "the trail should alert: {alerts} alerts");

    for workers in ["1", "2"] {
        let out = recon(&[
            "detect",
            "--config",
            config,
            "--tenant-key",
            "recipientAccountId",
            "--workers",
            workers,
            mixed_path.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        let mut got = by_tenant(&out.stdout);
        got.remove(FLOODER);
        assert_eq!(got, want, "{stderr}");
        // The flooder hit its own bounds and its own time policy.
        let line = stderr
            .lines()
            .find(|l| l.starts_with(&format!("recon: tenant {FLOODER}:")))
            .unwrap_or_else(|| panic!("no summary line for the flooder: {stderr}"));
        assert!(line.contains("records 40020"), "{line}");
        assert!(line.contains("rejected 20,"), "{line}");
        assert!(line.contains("state-limit"), "{line}");
        assert!(line.contains("far ahead"), "{line}");
    }

    // Without tenants, the same flood costs the others alerts.
    let shared = recon(&["detect", "--config", config, mixed_path.to_str().unwrap()]);
    let plain = recon(&["detect", "--config", config, clean_path.to_str().unwrap()]);
    assert!(shared.status.success() && plain.status.success());
    assert_ne!(
        String::from_utf8_lossy(&shared.stdout).lines().count(),
        String::from_utf8_lossy(&plain.stdout).lines().count(),
        "the flood should overrun a shared detector's bounds"
    );
}

#[test]
fn tenant_state_carries_over_between_runs() {
    let dir = scratch_dir("tenants-state");
    let (clean, _) = trails();
    let lines: Vec<&str> = clean.lines().collect();
    let half = lines.len() / 2;
    let (a, b) = (dir.join("a.ndjson"), dir.join("b.ndjson"));
    std::fs::write(&a, lines[..half].join("\n") + "\n").unwrap();
    std::fs::write(&b, lines[half..].join("\n") + "\n").unwrap();
    let state = dir.join("state");
    let key = ["--tenant-key", "recipientAccountId"];
    let whole = recon(
        &[
            &["detect", a.to_str().unwrap(), b.to_str().unwrap()][..],
            &key,
        ]
        .concat(),
    );
    let first = recon(
        &[
            &[
                "detect",
                "--state",
                state.to_str().unwrap(),
                a.to_str().unwrap(),
            ][..],
            &key,
        ]
        .concat(),
    );
    let second = recon(
        &[
            &[
                "detect",
                "--state",
                state.to_str().unwrap(),
                "--finish",
                b.to_str().unwrap(),
            ][..],
            &key,
        ]
        .concat(),
    );
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let mut split = by_tenant(&first.stdout);
    for (t, v) in by_tenant(&second.stdout) {
        split.entry(t).or_default().extend(v);
    }
    assert_eq!(split, by_tenant(&whole.stdout));
    // A state saved by tenant is not resumed without the key.
    let saved = recon(
        &[
            &[
                "detect",
                "--state",
                state.to_str().unwrap(),
                a.to_str().unwrap(),
            ][..],
            &key,
        ]
        .concat(),
    );
    assert!(saved.status.success());
    let before = std::fs::read(&state).unwrap();
    let refused = recon(&[
        "detect",
        "--state",
        state.to_str().unwrap(),
        b.to_str().unwrap(),
    ]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains(state.to_str().unwrap()), "{stderr}");
    assert_eq!(std::fs::read(&state).unwrap(), before);
}
