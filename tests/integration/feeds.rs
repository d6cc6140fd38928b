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

/// The records a feed's envelope holds, in its order, as NDJSON: decoded
/// here with serde_json, flate2 and base64, independently of the reader.
/// CloudWatch Logs batches records per log stream, so they arrive in
/// another order than the plain trail's; alert rows that list commands in
/// arrival order are then compared with the records in that order.
fn decoded(kind: &str, bytes: &[u8]) -> String {
    use base64::Engine as _;
    use std::io::Read as _;
    let gunzip = |b: &[u8]| -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(b)
            .read_to_end(&mut out)
            .unwrap();
        out
    };
    let mut messages: Vec<serde_json::Value> = Vec::new();
    match kind {
        "cwl" => {
            for line in std::str::from_utf8(bytes).unwrap().lines() {
                messages.push(serde_json::from_str(line).unwrap());
            }
        }
        "firehose" => {
            let text = gunzip(bytes);
            for m in serde_json::Deserializer::from_slice(&text).into_iter() {
                messages.push(m.unwrap());
            }
        }
        "lambda" => {
            for line in std::str::from_utf8(bytes).unwrap().lines() {
                let event: serde_json::Value = serde_json::from_str(line).unwrap();
                let data = base64::engine::general_purpose::STANDARD
                    .decode(event["awslogs"]["data"].as_str().unwrap())
                    .unwrap();
                messages.push(serde_json::from_slice(&gunzip(&data)).unwrap());
            }
        }
        _ => unreachable!("{kind}"),
    }
    let mut out = String::new();
    for m in messages
        .iter()
        .filter(|m| m["messageType"] == "DATA_MESSAGE")
    {
        for e in m["logEvents"].as_array().unwrap() {
            out.push_str(e["message"].as_str().unwrap());
            out.push('\n');
        }
    }
    out
}

/// The line `recon: read N records; M alerts`.
fn read_line(stderr: &str) -> &str {
    stderr
        .lines()
        .find(|l| l.starts_with("recon: read "))
        .unwrap_or_else(|| panic!("no summary in {stderr}"))
}

/// Each alert's rule, stable id (rule, window and group) and window.
fn ids(alerts: &[String]) -> Vec<String> {
    let mut ids: Vec<String> = alerts
        .iter()
        .map(|a| {
            let v: serde_json::Value = serde_json::from_str(a).unwrap();
            format!("{} {} {}", v["rule"], v["id"], v["window_start"])
        })
        .collect();
    ids.sort();
    ids
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
    assert!(
        want.len() >= 4,
        "the trail raises alerts: {} of them",
        want.len()
    );
    let plain_alerts = want.clone();
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
        let want = if kind == "eventbridge" {
            // One event per record, in the trail's order.
            want.clone()
        } else {
            let ndjson = dir.join(format!("records-of.{kind}.ndjson"));
            std::fs::write(&ndjson, decoded(kind, &std::fs::read(&path).unwrap())).unwrap();
            let (status, alerts, err) = detect(&ndjson, &cache);
            assert_eq!(status, 0, "{err}");
            assert_eq!(read_line(&err), read_line(&stderr), "{kind}: {err}");
            alerts
        };
        assert_eq!(
            got, want,
            "{kind}: the alerts differ from its records' as NDJSON"
        );
        // The same alerts as the plain trail's, the same windows and rows
        // but for the order of the commands listed.
        assert_eq!(ids(&got), ids(&plain_alerts), "{kind}");
        assert_eq!(
            err.contains("recon: 1 CloudWatch Logs control message skipped"),
            control,
            "{kind}: {err}"
        );
    }
}
