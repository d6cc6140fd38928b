//! Trap recovery: a record that makes the component trap is isolated,
//! quarantined and reported, and the stream loses nothing else.

use std::process::{Command, Output, Stdio};

use crate::util::scratch_dir;

fn recon(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_recon"))
        .args(args)
        .arg("--no-cache")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// A generated trail, and the same trail with a poisoned record inserted
/// as line `at + 1`: an aws-cli call whose 900 KB of `\u`-escaped text
/// takes the full parse, so it needs far more fuel than any other record.
fn trails(at: usize) -> (String, String, String) {
    let mut trail = Vec::new();
    let opts = recon_gen::GenOptions {
        seed: 3,
        count: 4_000,
        bursts: 12,
        ..recon_gen::GenOptions::default()
    };
    recon_gen::write_ndjson(opts, &mut trail).unwrap();
    let clean = String::from_utf8(trail).unwrap();
    let mut records: Vec<&str> = clean.lines().collect();
    let poison = records[at]
        .replacen(
            "\"userAgent\":\"",
            "\"userAgent\":\"aws-cli/2.15.0 Python/3.11 Linux/6 prompt/off command/ec2.describe-vpcs\",\"x\":\"",
            1,
        )
        .replacen(
            "\"requestParameters\":",
            &format!("\"blob\":\"{}\",\"requestParameters\":", "\\u00e9".repeat(150_000)),
            1,
        );
    assert!(poison.len() > 900_000, "the sample record changed shape");
    records.insert(at, &poison);
    let poisoned = records.join("\n") + "\n";
    (clean, poisoned, poison)
}

/// Component instances rebuilt after a trap, as the summary reports them
/// (0 when it has no such line).
fn rebuilt(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix("recon: ")?;
            let (n, what) = rest.split_once(' ')?;
            what.starts_with("component instances rebuilt after a trap")
                .then(|| n.parse().unwrap())
        })
        .unwrap_or(0)
}

#[test]
fn a_record_that_traps_is_quarantined_and_nothing_else_is_lost() {
    let dir = scratch_dir("recovery");
    let (clean, poisoned, poison) = trails(2000);
    let clean_path = dir.join("clean.ndjson");
    let poisoned_path = dir.join("poisoned.ndjson");
    std::fs::write(&clean_path, clean).unwrap();
    std::fs::write(&poisoned_path, &poisoned).unwrap();
    let want = recon(&["detect", clean_path.to_str().unwrap()]);
    assert!(want.status.success());
    assert!(!want.stdout.is_empty());
    assert_eq!(rebuilt(&String::from_utf8_lossy(&want.stderr)), 0);

    // Fuel for a 64 KiB chunk of ordinary records, not for the poisoned
    // record: the call holding it traps, every time.
    for (workers, checkpoint_mib) in [("1", 16), ("2", 16), ("1", 0), ("2", 0)] {
        let config = dir.join(format!("fuel-{workers}-{checkpoint_mib}.toml"));
        std::fs::write(
            &config,
            format!(
                "chunk_kib = 64\n[limits]\nmax_event_bytes = 2000000\n\
                 [sandbox]\nfuel_per_call = 3000000\ncheckpoint_mib = {checkpoint_mib}\n"
            ),
        )
        .unwrap();
        let quarantine = dir.join(format!("q-{workers}-{checkpoint_mib}.ndjson"));
        let out = recon(&[
            "detect",
            "--config",
            config.to_str().unwrap(),
            "--workers",
            workers,
            "--quarantine",
            quarantine.to_str().unwrap(),
            poisoned_path.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let context = format!("workers {workers}, checkpoint_mib {checkpoint_mib}: {stderr}");
        assert!(out.status.success(), "{context}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&want.stdout),
            "{context}"
        );
        assert!(
            stderr.contains("poisoned.ndjson: line 2001: quarantined"),
            "{context}"
        );
        assert!(stderr.contains("all fuel consumed"), "{context}");
        assert!(stderr.contains("read 4001 records"), "{context}");
        assert!(stderr.contains("1 records quarantined"), "{context}");
        assert!(stderr.contains("events 4000,"), "{context}");
        // The rebuilds are reported: the detector's with one worker, the
        // scanning worker's with two (the detector then never traps).
        assert!(rebuilt(&stderr) >= 1, "{context}");
        assert_eq!(
            std::fs::read_to_string(&quarantine).unwrap(),
            format!("{poison}\n"),
            "{context}"
        );
    }
}

#[test]
fn too_many_traps_stop_the_run_with_a_clear_error() {
    let dir = scratch_dir("recovery-many");
    let (_, poisoned, poison) = trails(100);
    // Four poisoned records where at most three may be quarantined.
    let path = dir.join("poisoned.ndjson");
    std::fs::write(&path, format!("{poisoned}{poison}\n{poison}\n{poison}\n")).unwrap();
    let config = dir.join("tight.toml");
    std::fs::write(
        &config,
        "chunk_kib = 64\n[limits]\nmax_event_bytes = 2000000\n\
         [sandbox]\nfuel_per_call = 3000000\nmax_quarantined = 3\n",
    )
    .unwrap();
    let out = recon(&[
        "detect",
        "--config",
        config.to_str().unwrap(),
        "--workers",
        "1",
        path.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("4 records made the component trap (more than sandbox.max_quarantined)"),
        "{stderr}"
    );
}

#[test]
fn recovery_drops_only_what_was_handed_out_early_and_final_apart() {
    // An early alert handed out before a trap shares its id with the final
    // alert the replay makes: the final one must still come.
    let dir = scratch_dir("recovery-early");
    let (clean, poisoned, _) = trails(2000);
    let clean_path = dir.join("clean.ndjson");
    let poisoned_path = dir.join("poisoned.ndjson");
    std::fs::write(&clean_path, clean).unwrap();
    std::fs::write(&poisoned_path, &poisoned).unwrap();
    let want = recon(&["detect", "--early", clean_path.to_str().unwrap()]);
    assert!(want.status.success());
    let want = String::from_utf8_lossy(&want.stdout).into_owned();
    assert!(want.contains("\"kind\":\"early\""));
    for workers in ["1", "2"] {
        let config = dir.join(format!("fuel-{workers}.toml"));
        std::fs::write(
            &config,
            "chunk_kib = 64\n[limits]\nmax_event_bytes = 2000000\n\
             [sandbox]\nfuel_per_call = 3000000\n",
        )
        .unwrap();
        let out = recon(&[
            "detect",
            "--early",
            "--config",
            config.to_str().unwrap(),
            "--workers",
            workers,
            poisoned_path.to_str().unwrap(),
        ]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(stderr.contains("1 records quarantined"), "{stderr}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            want,
            "workers {workers}: {stderr}"
        );
    }
}

#[test]
fn a_final_alert_made_again_by_a_replay_is_kept_when_only_its_early_one_left() {
    use recon::guard::{GuardSettings, GuardedDetector};
    use recon::runtime::{AlertKind, Config, Profile, Rule, Runtime, SandboxLimits};
    let runtime = Runtime::new(SandboxLimits {
        fuel_per_call: Some(3_000_000),
        ..SandboxLimits::default()
    })
    .unwrap();
    let mut config = Config::defaults(
        &[Rule::from("elastic-aws-discovery-burst")],
        Profile::Default,
    );
    config.early_alerts = Some(true);
    // B's records, three minutes on, must close A's window.
    config.allowed_lateness_ms = Some(60_000);
    config.limits.max_event_bytes = Some(2_000_000);
    let mut d = GuardedDetector::create(&runtime, &config, GuardSettings::default()).unwrap();
    let call = |s: u32, name: &str| {
        format!(
            "{{\"eventTime\":\"2026-01-05T00:00:{s:02}Z\",\"eventName\":\"{name}\",\
             \"eventSource\":\"ec2.amazonaws.com\",\"userAgent\":\"aws-cli/2.15.0 Python/3.11\",\
             \"userIdentity\":{{\"type\":\"IAMUser\",\"arn\":\"arn:aws:iam::1:user/mallory\"}}}}\n"
        )
    };
    let names = [
        "DescribeInstances",
        "DescribeVpcs",
        "DescribeSubnets",
        "DescribeSecurityGroups",
        "DescribeKeyPairs",
        "DescribeVolumes",
    ];
    // A: six calls, an early alert, handed out.
    let a: String = names
        .iter()
        .enumerate()
        .map(|(i, n)| call(i as u32, n))
        .collect();
    d.push_ndjson(a.as_bytes()).unwrap();
    let early = d.drain().unwrap();
    assert_eq!(early.len(), 1);
    assert_eq!(early[0].kind, AlertKind::Early);
    // B: later records close the window; its final alert waits, undrained.
    let b: String = (0..20)
        .map(|i| call(50 + i, "GetObject").replace("aws-cli/2.15.0", "Boto3/1.34"))
        .map(|l| l.replace("00:00:", "00:03:"))
        .collect();
    d.push_ndjson(b.as_bytes()).unwrap();
    // C: a record that traps (far more fuel than a call has): the instance
    // is rebuilt and A and B replayed.
    let poison = call(59, "DescribeImages").replace(
        "\"eventSource\"",
        &format!("\"blob\":\"{}\",\"eventSource\"", "\\u00e9".repeat(150_000)),
    );
    let c = d.push_ndjson(poison.as_bytes()).unwrap();
    assert!(c.recovered && c.quarantined.len() == 1);
    let fin = d.drain().unwrap();
    assert_eq!(fin.len(), 1, "{fin:?}");
    assert_eq!(fin[0].kind, AlertKind::Final);
    assert_eq!(fin[0].id, early[0].id);
}
