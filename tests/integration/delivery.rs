//! CloudTrail as it is delivered: S3 objects read in the order CloudTrail
//! wrote them, minutes out of order. At the default allowed lateness the
//! streaming detector must find exactly what the batch reference finds on
//! the same records; at the old default (60 s) it loses alerts, which shows
//! these tests can fail. Also: directories, zip archives, skipped files.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use recon::detect::{DetectOptions, Summary, detect};
use recon::settings::FileSettings;
use recon::sources::Order;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::differential::{DEFAULT_COMMANDS, PROVIDERS};
use crate::reference::{self, RefRow};
use crate::util::{data_dir, runtime, scratch_dir};

/// `detect` options: the configuration file's text, everything else quiet.
fn options(config: &str) -> DetectOptions {
    DetectOptions {
        show_rejects: 0,
        linger: Duration::from_secs(3600),
        ..DetectOptions::new(FileSettings::parse(config).unwrap().resolve().unwrap())
    }
}

/// Runs `detect` over `inputs`; the alerts as reference rows (sorted) and
/// the summary.
fn run(inputs: &[PathBuf], options: &DetectOptions) -> (Vec<RefRow>, Summary) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let summary = detect(runtime(), inputs, options, &mut out, &mut err).unwrap();
    let mut rows: Vec<RefRow> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|line| {
            let a: Value = serde_json::from_str(line).unwrap();
            let start =
                OffsetDateTime::parse(a["window_start"].as_str().unwrap(), &Rfc3339).unwrap();
            RefRow {
                rule: if a["rule"] == "sentinel-aws-cli-recon" {
                    "sentinel-aws-cli-recon"
                } else {
                    "elastic-aws-discovery-burst"
                },
                window_start: (start.unix_timestamp_nanos() / 1_000_000) as i64,
                row: a["row"].to_string(),
            }
        })
        .collect();
    rows.sort();
    (rows, summary)
}

/// Both rules' reference rows over `events` (default profile, defaults).
fn reference_rows(events: &[Value]) -> Vec<RefRow> {
    let mut rows = reference::sentinel(events, false, &DEFAULT_COMMANDS, 8);
    rows.extend(reference::elastic(events, &PROVIDERS, 6));
    rows.sort();
    rows
}

/// `ListUsers` -> `list-users`, `DescribeDBInstances` -> `describe-db-instances`:
/// the aws-cli command of an API name.
fn kebab(name: &str) -> String {
    let c: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, ch) in c.iter().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            let prev_lower = c[i - 1].is_ascii_lowercase() || c[i - 1].is_ascii_digit();
            let next_lower = c.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev_lower || (c[i - 1].is_ascii_uppercase() && next_lower) {
                out.push('-');
            }
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

/// The record as if the aws-cli had made it: an aws-cli v2 agent naming
/// the command of its API call; times and identities unchanged.
fn as_aws_cli(mut record: Value) -> Value {
    let service = record["eventSource"]
        .as_str()
        .unwrap_or("")
        .trim_end_matches(".amazonaws.com")
        .to_owned();
    let command = kebab(record["eventName"].as_str().unwrap_or(""));
    record["userAgent"] = Value::String(format!(
        "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.amzn.2 prompt/off command/{service}.{command}"
    ));
    record
}

/// The Invictus incident's 55 S3 objects, their records given aws-cli
/// agents, written under their own object names into a fresh directory;
/// returns the directory and the records in file-name order.
fn invictus_as_aws_cli(name: &str) -> (PathBuf, Vec<Value>) {
    let src = data_dir().join("invictus/CloudTrail");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 55);
    let dir = scratch_dir(name);
    let mut all = Vec::new();
    for f in files {
        let doc: Value = serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        let records: Vec<Value> = doc["Records"]
            .as_array()
            .unwrap()
            .iter()
            .cloned()
            .map(as_aws_cli)
            .collect();
        std::fs::write(
            dir.join(f.file_name().unwrap()),
            serde_json::to_vec(&serde_json::json!({ "Records": records })).unwrap(),
        )
        .unwrap();
        all.extend(records);
    }
    (dir, all)
}

/// How far behind the newest time already read each record arrives, in
/// reading order: (records more than `over_ms` behind, the worst).
fn disorder(events: &[Value], over_ms: i64) -> (usize, i64) {
    let mut newest = i64::MIN;
    let (mut over, mut worst) = (0, 0);
    for e in events {
        let t = reference::time_ms(e);
        if t < newest {
            worst = worst.max(newest - t);
            over += usize::from(newest - t > over_ms);
        }
        newest = newest.max(t);
    }
    (over, worst)
}

#[test]
fn invictus_in_delivery_order_loses_nothing_at_the_default_lateness() {
    let (dir, events) = invictus_as_aws_cli("delivery-invictus");
    // The disorder of a real delivery (docs/delivery.md).
    assert_eq!(events.len(), 2900);
    assert_eq!(disorder(&events, 60_000), (1785, 579_000));
    let want = reference_rows(&events);
    assert_eq!(want.len(), 42, "the batch reference's alerts");

    let (got, summary) = run(std::slice::from_ref(&dir), &options(""));
    assert_eq!(summary.records, 2900);
    assert_eq!(
        got, want,
        "the defaults must find the reference's alerts, no more"
    );
    assert!(summary.rules.iter().all(|r| r.stats.late == 0));

    // The old default: most of them lost (some as partial rows).
    let (at_60, summary) = run(
        std::slice::from_ref(&dir),
        &options("allowed_lateness_seconds = 60"),
    );
    let found = at_60.iter().filter(|r| want.contains(r)).count();
    assert!(
        found < want.len() / 2,
        "60 s found {found} of {}",
        want.len()
    );
    assert!(summary.rules.iter().any(|r| r.stats.late > 0));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes `entries` (name, bytes) as a zip archive at `path`.
fn write_zip(path: &Path, entries: &[(String, Vec<u8>)]) {
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        w.start_file(name.as_str(), opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn a_zip_archive_reads_as_the_directory_it_holds() {
    let (dir, events) = invictus_as_aws_cli("delivery-zip-src");
    let want = reference_rows(&events);
    let mut entries: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                format!("CloudTrail/{}", p.file_name().unwrap().to_string_lossy()),
                std::fs::read(&p).unwrap(),
            )
        })
        .collect();
    // Stored in reverse order: members are read in delivery order anyway.
    entries.sort();
    entries.reverse();
    entries.push(("CloudTrail/README.md".into(), b"not a trail".to_vec()));
    let out = scratch_dir("delivery-zip");
    let archive = out.join("trail.zip");
    write_zip(&archive, &entries);
    let (got, summary) = run(std::slice::from_ref(&archive), &options(""));
    assert_eq!(got, want);
    assert_eq!(summary.skipped_files.other, 1);
    assert!(summary.unreadable.is_empty());

    // Damaged: cut short. An unreadable input, never text.
    let bytes = std::fs::read(&archive).unwrap();
    let cut = out.join("cut.zip");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let (got, summary) = run(std::slice::from_ref(&cut), &options(""));
    assert!(got.is_empty());
    assert_eq!(summary.records, 0);
    assert_eq!(summary.unreadable.len(), 1, "{:?}", summary.unreadable);
    assert!(
        summary.unreadable[0].contains("zip"),
        "{}",
        summary.unreadable[0]
    );
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_dir_all(&out).unwrap();
}

#[test]
fn directories_skip_digests_and_other_files_and_count_them() {
    let dir = scratch_dir("delivery-skip");
    let region = dir.join("AWSLogs/111122223333/CloudTrail/us-east-1/2026/01/05");
    let digest = dir.join("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2026/01/05");
    std::fs::create_dir_all(&region).unwrap();
    std::fs::create_dir_all(&digest).unwrap();
    let record = |t: &str| {
        format!(
            r#"{{"eventVersion":"1.08","eventTime":"{t}","eventSource":"iam.amazonaws.com","eventName":"ListUsers","userAgent":"Boto3/1.34.0","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}}}}"#
        )
    };
    std::fs::write(
        region.join("111122223333_CloudTrail_us-east-1_20260105T0005Z_b.json"),
        format!("{{\"Records\":[{}]}}", record("2026-01-05T00:01:00Z")),
    )
    .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(
        format!(
            "{}\n{}\n",
            record("2026-01-05T00:00:00Z"),
            record("2026-01-05T00:00:01Z")
        )
        .as_bytes(),
    )
    .unwrap();
    std::fs::write(
        region.join("111122223333_CloudTrail_us-east-1_20260105T0000Z_a.jsonl.gz"),
        gz.finish().unwrap(),
    )
    .unwrap();
    std::fs::write(
        digest.join("111122223333_CloudTrail-Digest_us-east-1_20260105T0100Z.json.gz"),
        b"{}",
    )
    .unwrap();
    std::fs::write(region.join("notes.txt"), b"hello").unwrap();
    std::fs::write(region.join(".DS_Store"), b"\0\0").unwrap();
    let (_, summary) = run(std::slice::from_ref(&dir), &options(""));
    assert_eq!(summary.records, 3);
    assert_eq!(summary.skipped_files.digests, 1);
    assert_eq!(summary.skipped_files.other, 2);
    assert!(summary.unreadable.is_empty());
    let lines = recon::detect::summary_lines(&summary).join("\n");
    assert!(lines.contains("1 CloudTrail-Digest"), "{lines}");
    // Read in delivery order: the 00:00 object first, so nothing is late
    // even with no lateness at all.
    let (_, summary) = run(
        std::slice::from_ref(&dir),
        &options("allowed_lateness_seconds = 0"),
    );
    assert!(summary.rules.iter().all(|r| r.stats.late == 0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_zip_on_stdin_is_refused_with_a_non_zero_exit() {
    let dir = scratch_dir("delivery-stdin-zip");
    let archive = dir.join("t.zip");
    write_zip(&archive, &[("a.json".into(), b"{\"Records\":[]}".to_vec())]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_recon"))
        .env("RECON_CACHE_DIR", dir.join("cache"))
        .args(["detect", "--no-progress", "-"])
        .stdin(std::fs::File::open(&archive).unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("<stdin>: a zip archive, not CloudTrail JSON or gzip"),
        "{stderr}"
    );
    assert!(!stderr.contains("invalid-json"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Rows with their arrival-ordered lists sorted: what must not depend on
/// the order records are read in.
fn order_free(rows: &[RefRow]) -> Vec<RefRow> {
    let mut out: Vec<RefRow> = rows
        .iter()
        .map(|r| {
            let mut v: Value = serde_json::from_str(&r.row).unwrap();
            for list in ["commands", "Events"] {
                if let Some(Value::Array(a)) = v.get_mut(list) {
                    a.sort_by_key(|x| x.to_string());
                }
            }
            RefRow {
                row: v.to_string(),
                ..r.clone()
            }
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_generated_delivery_gives_the_alerts_of_its_records_sorted() {
    let dir = scratch_dir("delivery-gen");
    let opts = recon_gen::GenOptions {
        seed: 5,
        count: 60_000,
        rate_per_sec: 50.0,
        bursts: 40,
        ..recon_gen::GenOptions::default()
    };
    let tree = dir.join("trail");
    let report =
        recon_gen::write_delivery(opts.clone(), recon_gen::DeliveryOptions::default(), &tree)
            .unwrap();
    assert_eq!(report.records, 60_000);
    assert!(report.objects > 100, "{report:?}");
    // The same records, sorted by time.
    let sorted = dir.join("sorted.ndjson");
    recon_gen::write_ndjson(
        recon_gen::GenOptions {
            max_disorder_ms: 0,
            ..opts
        },
        &mut std::io::BufWriter::new(std::fs::File::create(&sorted).unwrap()),
    )
    .unwrap();
    let (want, _) = run(std::slice::from_ref(&sorted), &options(""));
    assert!(want.len() >= 10, "the bursts alert: {}", want.len());

    let (got, summary) = run(std::slice::from_ref(&tree), &options(""));
    assert_eq!(summary.records, 60_000);
    assert!(summary.rules.iter().all(|r| r.stats.late == 0));
    assert_eq!(order_free(&got), order_free(&want));
    // The disorder is real: at 60 s alerts are lost.
    let (at_60, summary) = run(
        std::slice::from_ref(&tree),
        &options("allowed_lateness_seconds = 60"),
    );
    assert!(summary.rules.iter().any(|r| r.stats.late > 0));
    assert_ne!(order_free(&at_60), order_free(&want));
    // Deterministic: the same options write the same files.
    let again = dir.join("again");
    recon_gen::write_delivery(
        recon_gen::GenOptions {
            seed: 5,
            count: 60_000,
            rate_per_sec: 50.0,
            bursts: 40,
            ..recon_gen::GenOptions::default()
        },
        recon_gen::DeliveryOptions::default(),
        &again,
    )
    .unwrap();
    let files = |root: &Path| {
        let listing = recon::sources::list(&[root.to_owned()], Order::Given);
        listing
            .sources
            .iter()
            .map(|s| match s {
                recon::sources::Source::File(p) => (
                    p.strip_prefix(root).unwrap().to_owned(),
                    std::fs::read(p).unwrap(),
                ),
                other => panic!("{other:?}"),
            })
            .collect::<Vec<_>>()
    };
    assert!(files(&tree) == files(&again), "same options, same files");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn order_delivery_sorts_files_given_on_the_command_line() {
    let (dir, _) = invictus_as_aws_cli("delivery-order");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.reverse();
    // As given (newest object first), most records are late even at the
    // default lateness...
    let (_, given) = run(&files, &options(""));
    let late = |s: &Summary| s.rules.iter().map(|r| r.stats.late).sum::<u64>();
    assert!(late(&given) > 0);
    // ...in delivery order, none are, and the alerts are the directory's.
    let mut by_delivery = options("");
    by_delivery.order = Order::Delivery;
    let (got, summary) = run(&files, &by_delivery);
    assert_eq!(late(&summary), 0);
    let (want, _) = run(std::slice::from_ref(&dir), &options(""));
    assert_eq!(got, want);
    std::fs::remove_dir_all(&dir).unwrap();
}
