//! The `recon` command line, run as a user would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::util::{burst_sample, data_dir};

/// The CLI as a user runs it, with its compiled-component cache in the
/// test's own directory rather than the user's.
fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_recon"));
    c.env(
        "RECON_CACHE_DIR",
        std::env::temp_dir().join(format!("recon-cli-cache-{}", std::process::id())),
    );
    c
}

pub(crate) fn recon(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn example_config() -> String {
    format!("{}/../examples/ai-recon.toml", env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn readme_first_command_prints_one_alert() {
    let sample = burst_sample();
    let out = recon(
        &[
            "detect",
            "--config",
            &example_config(),
            sample.to_str().unwrap(),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = lines(&out.stdout);
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    for key in [
        "rule",
        "rule_id",
        "id",
        "window_start",
        "window_end",
        "row",
        "title",
        "description",
        "severity",
        "techniques",
    ] {
        assert!(a.get(key).is_some(), "alert lacks {key}: {a}");
    }
    assert_eq!(a["rule"], "sentinel-aws-cli-recon");
    assert_eq!(a["window_start"], "2026-02-08T16:31:00Z");
    assert_eq!(a["window_end"], "2026-02-08T16:32:00Z");
    assert_eq!(a["row"]["CommadCount"], 11);
    assert_eq!(a["severity"], "Medium");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("read 29 records; 1 alerts"), "{stderr}");
    assert!(stderr.contains("accepted 11, filtered 18"), "{stderr}");
}

#[test]
fn stdin_and_gzip_give_the_same_alerts_as_the_file() {
    let raw = std::fs::read(burst_sample()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let gz = gz.finish().unwrap();
    let config = example_config();
    let from_file = recon(
        &[
            "detect",
            "--config",
            &config,
            burst_sample().to_str().unwrap(),
        ],
        None,
    );
    let from_stdin = recon(&["detect", "--config", &config, "-"], Some(&raw));
    let from_gz_stdin = recon(&["detect", "--config", &config], Some(&gz));
    assert_eq!(lines(&from_file.stdout).len(), 1);
    assert_eq!(from_file.stdout, from_stdin.stdout);
    assert_eq!(from_file.stdout, from_gz_stdin.stdout);
}

/// A named pipe given as a path (`recon detect <(zcat …)`, a FIFO) is read
/// from its first byte: the zip sniffing of paths used to read four bytes
/// of it first, so the first record was cut and rejected.
#[test]
fn a_named_pipe_is_read_from_its_first_byte() {
    let dir = std::env::temp_dir().join(format!("recon-fifo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fifo = crate::util::fifo(&dir, "trail.fifo");
    let raw = std::fs::read(burst_sample()).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(&fifo, &raw).unwrap())
    };
    let config = example_config();
    // Bounded: had recon read the pipe twice, the writer would be gone by
    // the second open and recon would wait for ever.
    let mut child = command()
        .args(["detect", "--config", &config, fifo.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > std::time::Duration::from_secs(60) {
            let _ = child.kill();
            panic!("recon detect still waits on the named pipe after 60 s");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let from_fifo = child.wait_with_output().unwrap();
    let _ = writer.join();
    let from_file = recon(
        &[
            "detect",
            "--config",
            &config,
            burst_sample().to_str().unwrap(),
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&from_fifo.stderr);
    assert!(
        stderr.contains("accepted 11, filtered 18, rejected 0"),
        "{stderr}"
    );
    assert_eq!(lines(&from_fifo.stdout).len(), 1, "{stderr}");
    assert_eq!(from_fifo.stdout, from_file.stdout);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn malformed_records_are_reported_with_their_location_and_skipped() {
    let mut input = std::fs::read(burst_sample()).unwrap();
    input.extend_from_slice(
        b"{\"eventTime\": \"not a time\", \"eventName\": \"X\"}\nthis is not json\n",
    );
    let out = recon(
        &["detect", "--config", &example_config(), "-"],
        Some(&input),
    );
    assert!(out.status.success());
    assert_eq!(lines(&out.stdout).len(), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("<stdin>: line 30: rejected (invalid-time)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("<stdin>: line 31: rejected (invalid-json)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("rejected 2 (invalid-json 1, invalid-time 1)"),
        "{stderr}"
    );
}

#[test]
fn unreadable_input_fails_naming_the_file_and_the_reason() {
    let missing = data_dir().join("no-such-file.json");
    let out = recon(
        &[
            "detect",
            missing.to_str().unwrap(),
            burst_sample().to_str().unwrap(),
        ],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-file.json"), "{stderr}");
    assert!(stderr.to_lowercase().contains("no such file"), "{stderr}");
    // The readable input was still processed.
    assert!(stderr.contains("read 29 records"), "{stderr}");

    let truncated = recon(&["detect", "-"], Some(b"[{\"eventName\":\"A\"},\n{\"ev"));
    assert!(!truncated.status.success());
    let stderr = String::from_utf8_lossy(&truncated.stderr);
    assert!(
        stderr.contains("<stdin>: not a readable CloudTrail document"),
        "{stderr}"
    );
}

#[test]
fn configuration_errors_name_the_problem() {
    let dir = std::env::temp_dir().join(format!("recon-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "[sentinel]\nwindow_secs = 60\n").unwrap();
    let out = recon(
        &["detect", "--config", bad.to_str().unwrap(), "-"],
        Some(b""),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("window_secs"), "{stderr}");

    std::fs::write(&bad, "[sentinel]\nmin_distinct = 0\n").unwrap();
    let out = recon(
        &["detect", "--config", bad.to_str().unwrap(), "-"],
        Some(b""),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("sentinel.min_distinct = 0"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn exit_status_tells_usage_config_and_input_errors_apart() {
    // 2: usage.
    let out = recon(&["detect", "--no-such-flag"], Some(b""));
    assert_eq!(out.status.code(), Some(2));
    // 1: an input that cannot be read (the others still are).
    let out = recon(&["detect", "/nonexistent/trail.json"], None);
    assert_eq!(out.status.code(), Some(1));
    // 0: records that are malformed beside readable ones are not an
    // unreadable input.
    let mut input = b"not json\n{}\n".to_vec();
    input.extend_from_slice(&std::fs::read(burst_sample()).unwrap());
    let out = recon(&["detect", "-"], Some(&input));
    assert_eq!(out.status.code(), Some(0));
    // 1: an input none of whose records can be read is not a quiet
    // success, and its verdict says so.
    let out = recon(&["detect", "-"], Some(b"not json\n{}\n"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("<stdin>: none of its 2 records could be read")
            && stderr.contains("recon: 1 input(s) held no readable record"),
        "{stderr}"
    );
}

#[test]
fn the_printed_default_configuration_changes_nothing() {
    let dir = crate::util::scratch_dir("default-config");
    let out = recon(&["config", "--print-default"], None);
    assert!(out.status.success());
    let config = dir.join("default.toml");
    std::fs::write(&config, &out.stdout).unwrap();
    let mut trail = Vec::new();
    let opts = recon_gen::GenOptions {
        seed: 8,
        count: 20_000,
        bursts: 16,
        ..recon_gen::GenOptions::default()
    };
    recon_gen::write_ndjson(opts, &mut trail).unwrap();
    let bare = recon(&["detect", "-"], Some(&trail));
    let with = recon(
        &["detect", "--config", config.to_str().unwrap(), "-"],
        Some(&trail),
    );
    assert!(
        with.status.success(),
        "{}",
        String::from_utf8_lossy(&with.stderr)
    );
    assert!(!bare.stdout.is_empty());
    assert_eq!(bare.stdout, with.stdout);
    assert_eq!(
        String::from_utf8_lossy(&bare.stderr),
        String::from_utf8_lossy(&with.stderr)
    );
}

#[test]
fn rules_and_profile_flags_select_detectors() {
    let sample = burst_sample();
    let out = recon(
        &[
            "detect",
            "--config",
            &example_config(),
            "--profile",
            "seed",
            sample.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success());
    assert!(lines(&out.stdout).is_empty());
    let out = recon(
        &["detect", "--rules", "sentinel", sample.to_str().unwrap()],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("sentinel-aws-cli-recon"), "{stderr}");
    assert!(!stderr.contains("elastic-aws-discovery-burst"), "{stderr}");
}

#[test]
fn alerts_leave_while_the_input_stream_stays_open() {
    use std::io::{BufRead, BufReader};
    use std::sync::mpsc;
    use std::time::Duration;

    let mut child = command()
        .args(["detect", "--config", &example_config(), "--linger-ms", "50"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut input = std::fs::read(burst_sample()).unwrap();
    // Later events move the watermark past the burst's minute + the
    // default lateness (enough of them to confirm the jump: one record
    // alone cannot).
    for s in 0..20 {
        input.extend_from_slice(
            format!("{{\"eventTime\":\"2026-02-08T16:50:{s:02}Z\",\"eventName\":\"GetCallerIdentity\"}}\n")
                .as_bytes(),
        );
    }
    stdin.write_all(&input).unwrap();
    stdin.flush().unwrap();
    // Far fewer records than a batch, and stdin still open: the alert must
    // come out anyway.
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        tx.send(line).ok();
    });
    let line = rx.recv_timeout(Duration::from_secs(60));
    drop(stdin);
    child.wait().unwrap();
    let line = line.expect("no alert while the input stayed open");
    let alert: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(alert["row"]["CommadCount"], 11);
}

#[test]
fn state_file_carries_open_windows_across_runs() {
    let dir = std::env::temp_dir().join(format!("recon-state-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let text = std::fs::read_to_string(burst_sample()).unwrap();
    let records: Vec<&str> = text.lines().collect();
    // The AI burst (records 13-23, minute 16:31) is cut after record 18.
    let first = records[..18].join("\n");
    let second = records[18..].join("\n");
    let config = example_config();
    let run = |input: &str, extra: &[&str]| {
        let mut args = vec!["detect", "--config", &config];
        args.extend_from_slice(extra);
        args.push("-");
        recon(&args, Some(input.as_bytes()))
    };
    // Without state, neither half holds 8 commands of the burst.
    assert!(lines(&run(&first, &[]).stdout).is_empty());
    assert!(lines(&run(&second, &[]).stdout).is_empty());
    // With state, the second run finishes the minute the first began.
    let s = state.to_str().unwrap();
    let one = run(&first, &["--state", s]);
    assert!(
        one.status.success(),
        "{}",
        String::from_utf8_lossy(&one.stderr)
    );
    assert!(lines(&one.stdout).is_empty());
    assert!(state.exists());
    let two = run(&second, &["--state", s, "--finish"]);
    assert!(
        two.status.success(),
        "{}",
        String::from_utf8_lossy(&two.stderr)
    );
    let alerts = lines(&two.stdout);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["row"]["CommadCount"], 11);
    assert!(!state.exists(), "--finish removes the state file");
    // A saved state is not resumed under another configuration.
    let one = run(&first, &["--state", s]);
    assert!(one.status.success());
    let other = recon(&["detect", "--state", s, "-"], Some(second.as_bytes()));
    assert!(!other.status.success());
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(stderr.contains("another configuration"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_line_longer_than_the_limit_is_skipped_and_the_run_goes_on() {
    // The burst sample with a 1 MiB line (past the 256 KiB default) in the
    // middle: reported with its line, skipped, the alert still found.
    let text = std::fs::read_to_string(burst_sample()).unwrap();
    let mut records: Vec<String> = text.lines().map(str::to_owned).collect();
    records.insert(5, format!("{{\"pad\":\"{}\"}}", "x".repeat(1 << 20)));
    let input = records.join("\n");
    let out = recon(
        &[
            "detect",
            "--config",
            &example_config(),
            "--chunk-kib",
            "64",
            "-",
        ],
        Some(input.as_bytes()),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("<stdin>: line 6: rejected (too-large)"),
        "{stderr}"
    );
    assert_eq!(lines(&out.stdout).len(), 1, "{stderr}");
}

#[test]
fn one_record_dated_2099_blinds_nothing() {
    // The defect as a user met it: one record dated 2099 in a generated
    // trail moved the watermark to 2099 and every later alert was lost.
    let mut trail = Vec::new();
    let opts = recon_gen::GenOptions {
        seed: 5,
        count: 20_000,
        bursts: 12,
        ..recon_gen::GenOptions::default()
    };
    recon_gen::write_ndjson(opts, &mut trail).unwrap();
    let clean = recon(&["detect", "-"], Some(&trail));
    let want = lines(&clean.stdout);
    assert!(!want.is_empty());
    let text = String::from_utf8(trail).unwrap();
    let mut records: Vec<&str> = text.lines().collect();
    let wild = records[50].replace("\"eventTime\":\"2026-", "\"eventTime\":\"2099-");
    records.insert(100, &wild);
    let out = recon(&["detect", "-"], Some(records.join("\n").as_bytes()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("1 record with a time far ahead of the stream")
            && stderr.contains("at line 101:"),
        "{stderr}"
    );
    assert_eq!(lines(&out.stdout), want, "{stderr}");
}

#[test]
fn a_damaged_state_file_is_refused_and_left_as_it_was() {
    let dir = std::env::temp_dir().join(format!("recon-state-damaged-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let state = dir.join("state.json");
    let sample = std::fs::read(burst_sample()).unwrap();
    let config = example_config();
    let state_arg = state.to_str().unwrap().to_owned();
    let run = |input: &[u8]| {
        recon(
            &["detect", "--config", &config, "--state", &state_arg, "-"],
            Some(input),
        )
    };
    assert!(run(&sample[..sample.len() / 2]).status.success());
    // One digit changed inside the saved snapshot.
    let good = std::fs::read_to_string(&state).unwrap();
    let at = good.rfind(|c: char| c.is_ascii_digit()).unwrap();
    let mut damaged = good.clone();
    let digit = if &good[at..at + 1] == "7" { "8" } else { "7" };
    damaged.replace_range(at..at + 1, digit);
    std::fs::write(&state, &damaged).unwrap();
    let out = run(&sample[sample.len() / 2..]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("state.json") && stderr.contains("checksum"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&state).unwrap(), damaged);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn progress_shows_on_a_terminal_only_and_output_goes_to_the_file() {
    let dir = crate::util::scratch_dir("progress");
    let alerts = dir.join("alerts.ndjson");
    let sample = burst_sample();
    let args = format!(
        "{} detect --no-cache --config {} --output {} {}",
        env!("CARGO_BIN_EXE_recon"),
        example_config(),
        alerts.display(),
        sample.display()
    );
    // Not a terminal: no progress line.
    let plain = command()
        .args(["detect", "--config", &example_config(), "--output"])
        .arg(&alerts)
        .arg(&sample)
        .output()
        .unwrap();
    assert!(plain.status.success());
    assert!(plain.stdout.is_empty(), "alerts go to --output");
    assert!(!String::from_utf8_lossy(&plain.stderr).contains(" records ("));
    assert_eq!(std::fs::read_to_string(&alerts).unwrap().lines().count(), 1);
    // A terminal (util-linux `script` gives the run one), where there is one.
    let Ok(tty) = Command::new("script")
        .args(["-qec", &args, "/dev/null"])
        .output()
    else {
        eprintln!("no `script` here: the terminal half is skipped");
        return;
    };
    assert!(
        tty.status.success(),
        "{}",
        String::from_utf8_lossy(&tty.stdout)
    );
    let screen = String::from_utf8_lossy(&tty.stdout);
    assert!(screen.contains(" records ("), "{screen}");
    assert!(screen.contains("read 29 records; 1 alerts"), "{screen}");
    assert_eq!(std::fs::read_to_string(&alerts).unwrap().lines().count(), 1);
}

/// `recon rules list` shows what the component's registry holds: the
/// built-ins and every correlation of the embedded catalogue; `--json`
/// gives one object per rule.
#[test]
fn rules_list_shows_the_built_ins_and_the_catalogue() {
    let out = recon(&["rules", "list", "--json"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rules = lines(&out.stdout);
    let names: Vec<&str> = rules.iter().filter_map(|r| r["name"].as_str()).collect();
    assert_eq!(
        &names[..2],
        ["sentinel-aws-cli-recon", "elastic-aws-discovery-burst"]
    );
    let correlations = rules.iter().filter(|r| r["kind"] == "correlation").count();
    assert!(correlations >= 10, "{correlations} catalogue correlations");
    for r in &rules[2..] {
        assert!(
            r["file"].as_str().is_some_and(|f| f.starts_with("rules/")),
            "{r}"
        );
        assert!(r["window_ms"].as_u64().is_some_and(|w| w >= 1000), "{r}");
    }
}

/// `recon rules check` prints what a file compiled to, and refuses a file
/// the engine cannot run with exit 2, naming the file, line, rule and
/// construct; `--rules` refuses a path that is neither a built-in nor a
/// file.
#[test]
fn rules_check_compiles_or_refuses_naming_file_line_and_rule() {
    let dir = std::env::temp_dir().join(format!("recon-rules-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.yml");
    std::fs::write(
        &good,
        "title: t\nname: many_lists\nlogsource: {product: aws}\ndetection:\n  sel:\n    eventName|startswith: List\n  condition: sel\n---\ntitle: many\nname: many-lists\ncorrelation:\n  type: event_count\n  rules: [many_lists]\n  group-by: [userIdentity.arn]\n  timespan: 5m\n  window: tumbling\n  condition: {gte: 3}\n",
    )
    .unwrap();
    let out = recon(&["rules", "check", good.to_str().unwrap()], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("many-lists  [correlation]"), "{text}");
    assert!(
        text.contains("count gte 3 by userIdentity.arn per 5m tumbling window"),
        "{text}"
    );

    let bad = dir.join("bad.yml");
    std::fs::write(
        &bad,
        std::fs::read_to_string(&good)
            .unwrap()
            .replace("startswith", "base64"),
    )
    .unwrap();
    for args in [
        vec!["rules", "check", bad.to_str().unwrap()],
        vec!["detect", "--rules", bad.to_str().unwrap(), "-"],
    ] {
        let out = recon(&args, Some(b""));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("{}:6: rule \"many_lists\"", bad.display())),
            "{err}"
        );
        assert!(err.contains("|base64 is not supported"), "{err}");
    }
    let out = recon(&["detect", "--rules", "no/such.yml", "-"], Some(b""));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("neither a built-in"));
    std::fs::remove_dir_all(&dir).ok();
}
