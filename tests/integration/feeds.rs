//! The real-time feeds (docs/delivery.md, *The real-time feeds*): the same
//! trail as `recon gen` writes it in each feed's envelope gives exactly the
//! alerts of its records as NDJSON, and the same count of records.

use std::path::Path;
use std::process::Command;

use crate::util::scratch_dir;

/// `recon gen ARGS -o PATH`.
fn generate(args: &[&str], path: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_recon"))
        .arg("gen")
        .args(args)
        .arg("-o")
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "recon gen {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `recon detect` on one input: exit status, alert lines sorted, stderr.
fn detect(path: &Path, cache: &Path) -> (i32, Vec<String>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_recon"))
        .args(["detect", "--workers", "2", "--cache-dir"])
        .arg(cache)
        .arg(path)
        .output()
        .unwrap();
    let mut alerts: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    alerts.sort();
    (
        out.status.code().unwrap_or(-1),
        alerts,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The line `recon: read N records; M alerts`.
fn read_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("recon: read "))
        .unwrap_or_else(|| panic!("no summary in {stderr}"))
}

#[test]
fn each_feed_gives_the_alerts_of_its_records_as_ndjson() {
    let dir = scratch_dir("feeds");
    let cache = dir.join("cache");
    let trail = ["--seed", "21", "--count", "30000", "--bursts", "12"];
    let plain = dir.join("plain.ndjson");
    generate(&trail, &plain);
    let (status, want, stderr) = detect(&plain, &cache);
    assert_eq!(status, 0, "{stderr}");
    assert!(want.len() >= 6, "the trail raises alerts: {want:?}");
    for (kind, control) in [
        ("cwl", true),
        ("firehose", true),
        ("lambda", true),
        ("eventbridge", false),
    ] {
        let path = dir.join(format!("trail.{kind}"));
        let mut args = vec!["--envelope", kind];
        args.extend(trail);
        generate(&args, &path);
        let (status, got, err) = detect(&path, &cache);
        assert_eq!(status, 0, "{kind}: {err}");
        assert_eq!(read_line(&err), read_line(&stderr), "{kind}: {err}");
        assert_eq!(got, want, "{kind}: the alerts differ from the NDJSON's");
        assert_eq!(
            err.contains("recon: 1 CloudWatch Logs control message skipped"),
            control,
            "{kind}: {err}"
        );
    }
}
