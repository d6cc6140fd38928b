//! The Sigma catalogue (`rules/`) through the real CLI: `recon detect
//! --rules FILE` over generated trails (catalogue bursts at, below, above
//! and across each rule's threshold, with near misses and records out of
//! order within the allowed lateness) and over the public samples, every
//! alert line compared with the independent batch reading of each rule in
//! `catalogue_reference.rs`.
//!
//! Alert lines are read as JSON (`rule`, `window_start`, `window_end`,
//! `row`); only the catalogue's rules are compared, so the test holds
//! whether or not the built-in rules run beside them. A mismatch prints
//! the alerts missing and the alerts not expected, one per line.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::catalogue_reference::{self, CatRow, parse_time, read_event, run_records};
use crate::util::scratch_dir;

/// The CLI, with its compiled-component cache in the test's own directory.
fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_recon"));
    c.env(
        "RECON_CACHE_DIR",
        std::env::temp_dir().join(format!("recon-catalogue-cache-{}", std::process::id())),
    );
    c
}

/// `rules/`.
fn rules_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../rules")
}

/// The catalogue's rule files, sorted.
fn rule_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(rules_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .collect();
    files.sort();
    files
}

/// The names of the correlations a catalogue file holds.
fn rules_in(file: &Path) -> BTreeSet<&'static str> {
    let name = file.file_name().unwrap().to_str().unwrap();
    let names: BTreeSet<&'static str> = recon_gen::CATALOGUE
        .iter()
        .filter(|c| c.file == name)
        .map(|c| c.name)
        .collect();
    assert!(
        !names.is_empty(),
        "{name} is not in the generator's catalogue"
    );
    names
}

fn all_rules() -> BTreeSet<&'static str> {
    recon_gen::CATALOGUE.iter().map(|c| c.name).collect()
}

/// Runs `recon detect --rules R… trail` and returns the final alerts of
/// the catalogue's rules, as rows comparable with the reference's.
fn detect(rules: &[PathBuf], trail: &Path) -> Vec<CatRow> {
    let mut c = command();
    c.arg("detect").arg("--no-progress");
    for r in rules {
        c.arg("--rules").arg(r);
    }
    let out = c
        .arg(trail)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "recon detect --rules {rules:?} {}: {}\n{}",
        trail.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let names = all_rules();
    let mut rows = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let a: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if a["kind"] == "early" {
            continue;
        }
        let rule = a["rule"]
            .as_str()
            .unwrap_or_else(|| panic!("no rule: {line}"));
        if !names.contains(rule) {
            continue;
        }
        let time = |k: &str| {
            let s = a[k].as_str().unwrap_or_else(|| panic!("no {k}: {line}"));
            parse_time(s).unwrap_or_else(|| panic!("{k} {s:?} is not RFC 3339: {line}"))
        };
        assert!(a["row"].is_object(), "row is not an object: {line}");
        rows.push(CatRow {
            rule: rule.to_owned(),
            window_start: time("window_start"),
            window_end: time("window_end"),
            // Member order as written (serde_json keeps it here).
            row: a["row"].to_string(),
        });
    }
    rows.sort();
    rows
}

fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| ms.to_string())
}

/// Asserts the alerts equal the reference's, printing the difference.
fn assert_same(got: &[CatRow], want: &[CatRow], context: &str) {
    if got == want {
        return;
    }
    let g: BTreeSet<&CatRow> = got.iter().collect();
    let w: BTreeSet<&CatRow> = want.iter().collect();
    let show = |rows: Vec<&&CatRow>| -> String {
        rows.iter()
            .map(|r| {
                format!(
                    "  {} [{} .. {}) {}",
                    r.rule,
                    rfc3339(r.window_start),
                    rfc3339(r.window_end),
                    r.row
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let missing: Vec<&&CatRow> = w.difference(&g).collect();
    let extra: Vec<&&CatRow> = g.difference(&w).collect();
    panic!(
        "{context}: alerts differ from the reference ({} alerts, {} expected)\n\
         --- expected, not raised ({}):\n{}\n--- raised, not expected ({}):\n{}{}",
        got.len(),
        want.len(),
        missing.len(),
        show(missing),
        extra.len(),
        show(extra),
        if got.len() != g.len() {
            "\n(some alert was raised twice)"
        } else {
            ""
        }
    );
}

/// A generated trail with catalogue bursts, as records (one line each).
fn generated(seed: u64) -> Vec<String> {
    let mut out = Vec::new();
    recon_gen::write_ndjson(
        recon_gen::GenOptions {
            seed,
            count: 25_000,
            catalogue_rounds: 2,
            // Five minutes of disorder, within the default allowed
            // lateness (15 minutes).
            max_disorder_ms: 300_000,
            ..recon_gen::GenOptions::default()
        },
        &mut out,
    )
    .unwrap();
    String::from_utf8(out)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn write_lines(path: &Path, lines: &[String]) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for l in lines {
        f.write_all(l.as_bytes()).unwrap();
        f.write_all(b"\n").unwrap();
    }
    f.flush().unwrap();
}

/// The same records, reordered: each moved by up to `max_ms` of event
/// time (sorted by time plus a jitter below `max_ms`), so no record is
/// more than `max_ms` older than one before it.
fn shuffled_within(lines: &[String], max_ms: i64, seed: u64) -> Vec<String> {
    let mut state = seed | 1;
    let mut next = move || {
        // xorshift64*: any fixed sequence will do.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut keyed: Vec<(i64, usize, &String)> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let t = read_event(l).map_or(i64::MAX, |(t, _)| t);
            (t.saturating_add((next() % max_ms as u64) as i64), i, l)
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, _, l)| l.clone()).collect()
}

#[test]
fn each_catalogue_file_alone_gives_the_references_alerts() {
    let dir = scratch_dir("catalogue-files");
    let lines = generated(11);
    let trail = dir.join("trail.ndjson");
    write_lines(&trail, &lines);
    let want = run_records(&lines);
    // The trail exercises every rule: each one alerts somewhere.
    let alerting: BTreeSet<&str> = want.iter().map(|r| r.rule.as_str()).collect();
    assert_eq!(alerting, all_rules(), "rules that never alert on the trail");
    let files = rule_files();
    assert!(files.len() >= 12, "{files:?}");
    for file in files {
        let names = rules_in(&file);
        let got = detect(std::slice::from_ref(&file), &trail);
        let want: Vec<CatRow> = want
            .iter()
            .filter(|r| names.contains(r.rule.as_str()))
            .cloned()
            .collect();
        assert_same(&got, &want, &file.display().to_string());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_catalogue_directory_gives_the_references_alerts_in_any_order_within_lateness() {
    let dir = scratch_dir("catalogue-dir");
    let lines = generated(23);
    let want = run_records(&lines);
    // As generated (disorder up to five minutes), then moved around by up
    // to five more minutes, then gzipped: the same alerts.
    let trail = dir.join("trail.ndjson");
    write_lines(&trail, &lines);
    assert_same(
        &detect(&[rules_dir()], &trail),
        &want,
        "rules/ as generated",
    );

    let moved = shuffled_within(&lines, 300_000, 5);
    assert_ne!(moved, lines);
    let gz = dir.join("moved.ndjson.gz");
    {
        let f = std::fs::File::create(&gz).unwrap();
        let mut enc = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        for l in &moved {
            enc.write_all(l.as_bytes()).unwrap();
            enc.write_all(b"\n").unwrap();
        }
        enc.finish().unwrap();
    }
    assert_same(
        &detect(&[rules_dir()], &gz),
        &want,
        "rules/ reordered, gzipped",
    );

    // Every file given on its own, together: the same as the directory.
    assert_same(
        &detect(&rule_files(), &trail),
        &want,
        "every file, repeated --rules",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_catalogue_on_the_public_samples_gives_the_references_alerts() {
    let dir = scratch_dir("catalogue-samples");
    // Every sample as one stream in event-time order (the samples span
    // years; in time order none of them is late).
    let stream = catalogue_reference::sample_stream();
    assert!(stream.len() > 4000, "{}", stream.len());
    let trail = dir.join("samples.ndjson");
    write_lines(&trail, &stream);
    let want = catalogue_reference::run_samples();
    // Real incidents reach real thresholds: Stratus Red Team's
    // GetPasswordData run makes exactly 30 calls (the threshold), its
    // Secrets Manager run reads 20 secrets (the threshold), the Invictus
    // incident decrypts dozens of SSM parameters.
    let by_rule: BTreeMap<&str, usize> = want.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r.rule.as_str()).or_default() += 1;
        m
    });
    for rule in [
        "aws-ec2-many-password-read-attempts",
        "aws-secretsmanager-rapid-secrets-retrieval",
        "aws-ssm-decrypt-parameters",
        "aws-s3-storage-enumeration",
        "aws-ec2-bulk-userdata-download",
    ] {
        assert!(by_rule.contains_key(rule), "no {rule} alert in {by_rule:?}");
    }
    assert_same(&detect(&[rules_dir()], &trail), &want, "public samples");
    std::fs::remove_dir_all(&dir).ok();
}
