//! In-process benchmarks: the detection core natively against the same
//! code as a component, by input call and batch size; start-up; memory per
//! open identity-window.
//!
//! `cargo bench -p recon --bench inprocess [-- --rounds N]` prints Markdown
//! tables and writes them to `target/bench-results/inprocess.md`
//! (`bench/run` puts them into BENCHMARKS.md).
//!
//! Cases are timed in turn, round after round, and each figure is the
//! median over the rounds: on a shared, noisy machine a burst of load then
//! slows every case of a round alike instead of one case, so the ratios
//! hold even when the absolute times do not. (Criterion times one case
//! after another, which is why it is not used here.)

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use recon::runtime::{Config, Profile, Rule, Runtime, SandboxLimits};
use recon_gen::{GenOptions, Generator};
use recon_guest::config::{Profile as CoreProfile, Settings};
use recon_guest::{Detector, Scanner};

const RECORDS: u64 = 20_000;

fn generated(share: Option<f64>) -> Vec<String> {
    let opts = GenOptions {
        seed: 42,
        count: RECORDS,
        bursts: 40,
        aws_cli_share: share,
        ..GenOptions::default()
    };
    Generator::new(opts).expect("valid options").collect()
}

/// NDJSON chunks of about `size` bytes, cut at line ends.
fn chunks(records: &[String], size: usize) -> Vec<Vec<u8>> {
    let mut out = vec![Vec::new()];
    for r in records {
        let last = out.last_mut().expect("one chunk");
        last.extend_from_slice(r.as_bytes());
        last.push(b'\n');
        if last.len() >= size {
            out.push(Vec::new());
        }
    }
    out.retain(|c| !c.is_empty());
    out
}

fn both() -> Config {
    Config::defaults(
        &[
            Rule::from("sentinel-aws-cli-recon"),
            Rule::from("elastic-aws-discovery-burst"),
        ],
        Profile::Default,
    )
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

type Case<'a> = (String, Box<dyn FnMut() -> usize + 'a>);

/// Runs every case once per round, in turn; returns (name, median, alerts).
fn rounds(cases: &mut [Case<'_>], n: usize) -> Vec<(String, Duration, usize)> {
    let mut times = vec![Vec::new(); cases.len()];
    let mut alerts = vec![0; cases.len()];
    for _ in 0..n {
        for (i, (_, f)) in cases.iter_mut().enumerate() {
            let t = Instant::now();
            alerts[i] = f();
            times[i].push(t.elapsed());
        }
    }
    cases
        .iter()
        .zip(times)
        .zip(alerts)
        .map(|(((name, _), t), a)| (name.clone(), median(t), a))
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn throughput(out: &mut String, label: &str, records: &[String], n: usize) {
    let bytes: usize = records.iter().map(|r| r.len() + 1).sum();
    let big = chunks(records, 1 << 20);
    let small = chunks(records, 64 << 10);
    let settings = Settings::all(CoreProfile::Default);
    let epoch = Runtime::new(SandboxLimits::default()).expect("component");
    let fuel = Runtime::new(SandboxLimits {
        fuel_per_call: Some(u64::MAX / 4),
        call_timeout: None,
        ..SandboxLimits::default()
    })
    .expect("component");
    let unbounded = Runtime::new(SandboxLimits {
        call_timeout: None,
        ..SandboxLimits::default()
    })
    .expect("component");
    let config = both();
    let component_ndjson = |rt: &Runtime, chunks: &[Vec<u8>]| {
        let mut inst = rt.instantiate().expect("instance");
        let d = inst.create(&config).expect("detector");
        for c in chunks {
            inst.push_ndjson(d, c).expect("push-ndjson");
        }
        inst.flush(d, None).expect("flush");
        inst.drain(d).expect("drain").len()
    };
    let component_batch = |rt: &Runtime, size: usize| {
        let mut inst = rt.instantiate().expect("instance");
        let d = inst.create(&config).expect("detector");
        for b in records.chunks(size) {
            inst.push_batch(d, b).expect("push-batch");
        }
        inst.flush(d, None).expect("flush");
        inst.drain(d).expect("drain").len()
    };
    let mut cases: Vec<Case<'_>> = vec![
        (
            "native, push-ndjson 1 MiB".into(),
            Box::new(|| {
                let mut d = Detector::new(settings.clone()).expect("detector");
                for c in &big {
                    d.push_ndjson(c);
                }
                d.flush(None);
                d.drain().len()
            }),
        ),
        (
            "native, push-batch 1000".into(),
            Box::new(|| {
                let mut d = Detector::new(settings.clone()).expect("detector");
                for b in records.chunks(1000) {
                    d.push_batch(b);
                }
                d.flush(None);
                d.drain().len()
            }),
        ),
        (
            "native, pre-filter off (full parse of every record)".into(),
            Box::new(|| {
                let mut d = Detector::new(settings.clone()).expect("detector");
                d.set_prefilter(false);
                for c in &big {
                    d.push_ndjson(c);
                }
                d.flush(None);
                d.drain().len()
            }),
        ),
        (
            "native, scan only (the stateless half)".into(),
            Box::new(|| {
                let s = Scanner::new(settings.clone()).expect("scanner");
                let records: u32 = big.iter().map(|c| s.scan(c).records).sum();
                assert_eq!(records as usize, n_records(&big));
                0
            }),
        ),
        (
            "component, push-ndjson 1 MiB".into(),
            Box::new(|| component_ndjson(&epoch, &big)),
        ),
        (
            "component, push-ndjson 64 KiB".into(),
            Box::new(|| component_ndjson(&epoch, &small)),
        ),
        (
            "component, push-batch 1000".into(),
            Box::new(|| component_batch(&epoch, 1000)),
        ),
        (
            "component, push-batch 100".into(),
            Box::new(|| component_batch(&epoch, 100)),
        ),
        (
            "component, push-batch 1 (a call per event)".into(),
            Box::new(|| component_batch(&epoch, 1)),
        ),
        (
            "component, scan + apply 1 MiB (two instances)".into(),
            Box::new(|| {
                let mut worker = epoch.instantiate().expect("instance");
                let s = worker.create_scanner(&config).expect("scanner");
                let mut inst = epoch.instantiate().expect("instance");
                let d = inst.create(&config).expect("detector");
                for c in &big {
                    let scanned = worker.scan(s, c).expect("scan");
                    inst.apply(d, &scanned.payload).expect("apply");
                }
                inst.flush(d, None).expect("flush");
                inst.drain(d).expect("drain").len()
            }),
        ),
        (
            "component, push-ndjson 1 MiB, fuel metering instead of a deadline".into(),
            Box::new(|| component_ndjson(&fuel, &big)),
        ),
        (
            "component, push-ndjson 1 MiB, no deadline at all (what the deadline costs)".into(),
            Box::new(|| component_ndjson(&unbounded, &big)),
        ),
    ];
    let results = rounds(&mut cases, n);
    let native = results[0].1;
    let _ = writeln!(
        out,
        "\n### {label}: {} records, {:.1} MB, both rules\n\n| case | median | MB/s | records/s | speed vs native push-ndjson | alerts |\n|---|---|---|---|---|---|",
        records.len(),
        bytes as f64 / 1e6
    );
    for (name, t, alerts) in &results {
        let s = t.as_secs_f64();
        let _ = writeln!(
            out,
            "| {name} | {:.1} ms | {:.0} | {:.0} k | {:.2}x | {alerts} |",
            ms(*t),
            bytes as f64 / s / 1e6,
            records.len() as f64 / s / 1e3,
            native.as_secs_f64() / s,
        );
    }
}

fn n_records(chunks: &[Vec<u8>]) -> usize {
    chunks.iter().map(|c| memchr_count(c)).sum()
}

fn memchr_count(c: &[u8]) -> usize {
    c.iter().filter(|b| **b == b'\n').count()
}

fn startup(out: &mut String, n: usize) {
    let dir = std::env::temp_dir().join(format!("recon-bench-cache-{}", std::process::id()));
    let limits = SandboxLimits::default();
    Runtime::cached(limits, &dir).expect("warm the cache");
    let rt = Runtime::new(limits).expect("component");
    let config = both();
    let mut cases: Vec<Case<'_>> = vec![
        (
            "compile the component (no cache)".into(),
            Box::new(|| {
                Runtime::new(limits).expect("compile");
                0
            }),
        ),
        (
            "load the compiled component from the cache".into(),
            Box::new(|| {
                Runtime::cached(limits, &dir).expect("load");
                0
            }),
        ),
        (
            "instantiate and create a detector".into(),
            Box::new(|| {
                let mut inst = rt.instantiate().expect("instance");
                inst.create(&config).expect("detector");
                0
            }),
        ),
    ];
    let results = rounds(&mut cases, n);
    let _ = writeln!(out, "\n### Start-up\n\n| step | median |\n|---|---|");
    for (name, t, _) in &results {
        let _ = writeln!(out, "| {name} | {:.2} ms |", ms(*t));
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// One aws-cli call by identity `i` that both rules count (so it opens one
/// group in each).
fn identity_event(i: usize) -> String {
    format!(
        r#"{{"eventVersion":"1.08","userIdentity":{{"type":"IAMUser","principalId":"AIDA{i:08}","arn":"arn:aws:iam::123456789012:user/analyst-{i:08}","accountId":"123456789012","userName":"analyst-{i:08}"}},"eventTime":"2026-01-05T10:00:01Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","awsRegion":"us-east-1","sourceIPAddress":"198.51.{}.{}","userAgent":"aws-cli/2.13.25 Python/3.11.5 Linux/5.10 exe/x86_64.amzn.2 prompt/off command/iam.list-users","recipientAccountId":"123456789012","eventID":"{i:08}"}}"#,
        (i / 256) % 256,
        i % 256
    )
}

fn memory(out: &mut String) {
    let rt = Runtime::new(SandboxLimits::default()).expect("component");
    let _ = writeln!(
        out,
        "\n### Memory by open identity-windows\n\nEach identity makes one aws-cli call that both rules count, all in one window: one open group per identity in each rule. Figures are the component instance's linear memory (it never shrinks, so this is its peak), with `limits.max-open-groups` at its default (100,000 per rule): past it, an event that would open a group is rejected (`state-limit`) and memory stays flat.\n\n| open identities | open groups (both rules) | linear memory | per identity-window (both rules) | per group |\n|---|---|---|---|---|"
    );
    let mut baseline = 0usize;
    for n in [0usize, 1_000, 10_000, 100_000, 1_000_000] {
        let mut inst = rt.instantiate().expect("instance");
        let d = inst.create(&both()).expect("detector");
        let mut buf = Vec::new();
        for i in 0..n {
            buf.extend_from_slice(identity_event(i).as_bytes());
            buf.push(b'\n');
            if buf.len() > 1 << 20 {
                inst.push_ndjson(d, &buf).expect("push");
                buf.clear();
            }
        }
        inst.push_ndjson(d, &buf).expect("push");
        let stats = inst.stats(d).expect("stats");
        let groups: u32 = stats.rules.iter().map(|r| r.open_groups).sum();
        let mem = inst.memory_bytes();
        let mib = mem as f64 / f64::from(1u32 << 20);
        if n == 0 {
            baseline = mem;
            let _ = writeln!(out, "| 0 | 0 | {mib:.1} MiB | | |");
            continue;
        }
        let held = (groups / 2).max(1) as f64;
        let grown = mem.saturating_sub(baseline) as f64;
        let _ = writeln!(
            out,
            "| {n} | {groups} | {mib:.1} MiB | {:.0} B | {:.0} B |",
            grown / held,
            grown / f64::from(groups.max(1)),
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rounds_n = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(7);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Medians of {rounds_n} rounds, every case timed in turn within each round."
    );
    throughput(
        &mut out,
        "Realistic mix (about 3 % aws-cli)",
        &generated(None),
        rounds_n,
    );
    throughput(
        &mut out,
        "Every record from the aws-cli",
        &generated(Some(1.0)),
        rounds_n,
    );
    startup(&mut out, rounds_n);
    memory(&mut out);
    print!("{out}");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-results");
    if std::fs::create_dir_all(&dir).is_ok() {
        let _ = std::fs::write(dir.join("inprocess.md"), out);
    }
}
