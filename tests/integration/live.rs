//! Live mode and signals: on a quiet pipe, windows close on the host's
//! clock; a piped backtest loses nothing to a pause; SIGTERM ends the
//! stream without losing what was read.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::util::{burst_sample, scratch_dir};

fn spawn(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_recon"))
        .args(args)
        .arg("--no-cache")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Lines of the child's stdout as they come.
fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    rx
}

fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[test]
fn live_mode_closes_the_window_of_a_quiet_stream() {
    let dir = scratch_dir("live");
    let config = dir.join("live.toml");
    std::fs::write(
        &config,
        "rules = [\"elastic\"]\nallowed_lateness_seconds = 1\n[live]\nidle_ms = 300\n",
    )
    .unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // A 10-second window some 10 to 20 s in the past (a live stream: within
    // the hour of the wall clock). The stream's watermark stays at its last
    // record, 2 s before the window's end: only 3 s of quiet on the host's
    // clock (2 s + 1 s lateness) close it.
    let start = (now - 20_000) / 10_000 * 10_000;
    let mut input = String::new();
    let calls = [
        "DescribeInstances",
        "DescribeVpcs",
        "DescribeSubnets",
        "ListBuckets",
        "DescribeSecurityGroups",
        "ListUsers",
        "DescribeKeyPairs",
    ];
    for (i, call) in calls.iter().enumerate() {
        let source = if call.starts_with("List") && *call != "ListBuckets" {
            "iam.amazonaws.com"
        } else if *call == "ListBuckets" {
            "s3.amazonaws.com"
        } else {
            "ec2.amazonaws.com"
        };
        input.push_str(&format!(
            "{{\"eventTime\":\"{}\",\"eventName\":\"{call}\",\"eventSource\":\"{source}\",\
             \"userAgent\":\"aws-cli/2.15.0 Python/3.11\",\"recipientAccountId\":\"111122223333\",\
             \"userIdentity\":{{\"type\":\"IAMUser\",\"arn\":\"arn:aws:iam::111122223333:user/mallory\"}}}}\n",
            rfc3339(start + 1000 + i as i64 * 1000)
        ));
    }
    // Everyday records (enough to settle the watermark: it waits for
    // sixteen), the last 2 s before the window ends.
    for i in 0..20 {
        input.push_str(&format!(
            "{{\"eventTime\":\"{}\",\"eventName\":\"GetObject\",\"eventSource\":\"s3.amazonaws.com\",\
             \"userAgent\":\"console.amazonaws.com\"}}\n",
            rfc3339(start + 7000 + i * 50)
        ));
    }
    let mut child = spawn(&[
        "detect",
        "--config",
        config.to_str().unwrap(),
        "--linger-ms",
        "50",
    ]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.as_bytes()).unwrap();
    stdin.flush().unwrap();
    let lines = lines_of(&mut child);
    // Input stays open and quiet: the early alert comes with the sixth
    // call, the final one on the host's clock.
    let early = lines.recv_timeout(Duration::from_secs(30));
    let line = lines.recv_timeout(Duration::from_secs(30));
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let early = early.unwrap_or_else(|_| panic!("no early alert: {stderr}"));
    let early: serde_json::Value = serde_json::from_str(&early).unwrap();
    assert_eq!(early["kind"], "early");
    assert_eq!(early["row"]["Esql.event_action_count_distinct"], 6);
    let line = line.unwrap_or_else(|_| panic!("no alert while the input stayed open: {stderr}"));
    let alert: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(alert["rule"], "elastic-aws-discovery-burst");
    assert_eq!(alert["kind"], "final");
    assert_eq!(alert["id"], early["id"]);
    assert_eq!(alert["row"]["Esql.event_action_count_distinct"], 7);
    assert!(stderr.contains("live mode:"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}

/// Calls of the Elastic rule by one identity, one a second from `start`.
fn discovery_calls(start: i64, calls: &[&str]) -> String {
    let mut input = String::new();
    for (i, call) in calls.iter().enumerate() {
        input.push_str(&format!(
            "{{\"eventTime\":\"{}\",\"eventName\":\"{call}\",\"eventSource\":\"ec2.amazonaws.com\",\
             \"userAgent\":\"aws-cli/2.15.0 Python/3.11\",\"recipientAccountId\":\"111122223333\",\
             \"userIdentity\":{{\"type\":\"IAMUser\",\"arn\":\"arn:aws:iam::111122223333:user/mallory\"}}}}\n",
            rfc3339(start + i as i64 * 1000)
        ));
    }
    input
}

#[test]
fn in_live_mode_an_early_alert_leaves_while_its_window_is_open() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // A live stream (seconds behind the clock) with an hour of allowed
    // lateness: nothing can close the window while the input is open, so
    // the line that arrives then is the early alert.
    let start = (now - 20_000) / 10_000 * 10_000;
    let calls = [
        "DescribeInstances",
        "DescribeVpcs",
        "DescribeSubnets",
        "DescribeSecurityGroups",
        "DescribeKeyPairs",
        "DescribeVolumes",
        "DescribeImages",
    ];
    let mut child = spawn(&[
        "detect",
        "--rules",
        "elastic",
        "--allowed-lateness",
        "3600",
        "--linger-ms",
        "50",
    ]);
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(discovery_calls(start, &calls).as_bytes())
        .unwrap();
    stdin.flush().unwrap();
    let lines = lines_of(&mut child);
    let early = lines.recv_timeout(Duration::from_secs(60));
    // Only now does the input end, and the window with it.
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let early = early.unwrap_or_else(|_| panic!("no early alert while input was open: {stderr}"));
    let early: serde_json::Value = serde_json::from_str(&early).unwrap();
    assert_eq!(early["kind"], "early", "{early}");
    assert_eq!(early["row"]["Esql.event_action_count_distinct"], 6);
    let rest: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(&l).unwrap())
        .collect();
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(rest[0]["kind"], "final");
    assert_eq!(rest[0]["id"], early["id"]);
    assert_eq!(rest[0]["row"]["Esql.event_action_count_distinct"], 7);
    assert!(stderr.contains("2 alerts (1 early, 1 final)"), "{stderr}");
}

#[test]
fn no_early_keeps_a_live_stream_to_its_final_rows() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let start = (now - 20_000) / 10_000 * 10_000;
    let calls = [
        "DescribeInstances",
        "DescribeVpcs",
        "DescribeSubnets",
        "DescribeSecurityGroups",
        "DescribeKeyPairs",
        "DescribeVolumes",
    ];
    let mut child = spawn(&["detect", "--rules", "elastic", "--live", "on", "--no-early"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(discovery_calls(start, &calls).as_bytes())
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = std::str::from_utf8(&out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert_eq!(lines[0]["kind"], "final");
}

#[test]
fn a_backtest_piped_with_a_pause_loses_nothing() {
    let dir = scratch_dir("live-backtest");
    let mut trail = Vec::new();
    let opts = recon_gen::GenOptions {
        seed: 21,
        count: 6_000,
        bursts: 12,
        max_disorder_ms: 0,
        ..recon_gen::GenOptions::default()
    };
    recon_gen::write_ndjson(opts, &mut trail).unwrap();
    let path = dir.join("trail.ndjson");
    std::fs::write(&path, &trail).unwrap();
    // One second of lateness: were the pause's 2.5 s added to this
    // stream's watermark, the records after it would be late.
    let config = dir.join("live.toml");
    std::fs::write(
        &config,
        "allowed_lateness_seconds = 1\n[live]\nidle_ms = 200\n",
    )
    .unwrap();
    let whole = Command::new(env!("CARGO_BIN_EXE_recon"))
        .args([
            "detect",
            "--no-cache",
            "--config",
            config.to_str().unwrap(),
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!whole.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&whole.stderr)
            .lines()
            .filter(|l| l.contains(", late "))
            .all(|l| l.contains(", late 0,"))
    );
    let mut child = spawn(&[
        "detect",
        "--live",
        "on",
        "--config",
        config.to_str().unwrap(),
        "--linger-ms",
        "50",
    ]);
    let mut stdin = child.stdin.take().unwrap();
    // Pause just before a 10 s window ends (event time x9.0 to x9.4 s): a
    // watermark moved by the pause would close it under the records that
    // follow.
    let text = String::from_utf8(trail.clone()).unwrap();
    let mut cut = 0;
    for (i, line) in text.split_inclusive('\n').enumerate() {
        cut += line.len();
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let t = time::OffsetDateTime::parse(
            record["eventTime"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let ms = (t.unix_timestamp_nanos() / 1_000_000) as i64;
        if i > 2000 && (9000..9400).contains(&ms.rem_euclid(10_000)) {
            break;
        }
    }
    stdin.write_all(&trail[..cut]).unwrap();
    stdin.flush().unwrap();
    // Quiet for far longer than the idle time: a live stream would move
    // its watermark by these seconds, but this one is last January's.
    std::thread::sleep(Duration::from_millis(2500));
    stdin.write_all(&trail[cut..]).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&whole.stdout),
        "{stderr}"
    );
    assert!(!stderr.contains("live mode:"), "{stderr}");
    // Last January's stream is no live one: its early alerts are held back.
    assert!(stderr.contains("early alerts not written"), "{stderr}");
    let rules: Vec<&str> = stderr.lines().filter(|l| l.contains(", late ")).collect();
    assert_eq!(rules.len(), 2, "{stderr}");
    assert!(rules.iter().all(|l| l.contains(", late 0,")), "{stderr}");
}

#[test]
fn sigterm_ends_the_stream_and_loses_nothing_read() {
    let mut child = spawn(&[
        "detect",
        "--live",
        "off",
        "--config",
        &format!("{}/../examples/ai-recon.toml", env!("CARGO_MANIFEST_DIR")),
        "--linger-ms",
        "50",
    ]);
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(&std::fs::read(burst_sample()).unwrap())
        .unwrap();
    // Blank lines past what a pipe buffers: `write_all` returns only once
    // recon has read the records before them (and so has its signal
    // handler in place), however long its start took on a loaded machine.
    stdin.write_all(&vec![b'\n'; 1 << 20]).unwrap();
    stdin.flush().unwrap();
    // Stop the run with the pipe still open.
    std::thread::sleep(Duration::from_millis(200));
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("stopped by a signal"), "{stderr}");
    let alerts: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(alerts.len(), 1, "{stderr}");
    assert!(alerts[0].contains("\"CommadCount\":11"), "{stderr}");
}
