//! The hostile-input corpus, file by file: whole inputs (every layout,
//! plain and gzipped) through the host's reader and the real component,
//! with one worker and with two, each with the exact accounting it must
//! produce. The record-by-record corpus is `guest/tests/hostile.rs`;
//! `docs/hostile-input.md` describes both.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use recon::detect::{DetectOptions, Summary, detect, reason_name};
use recon::output::Format;
use recon::settings::FileSettings;

use crate::util::{runtime, scratch_dir};

/// A record the Sentinel rule accepts (`n` picks the command).
fn acc(n: usize) -> String {
    let c = ["iam.list-users", "ec2.describe-vpcs", "kms.list-keys"][n % 3];
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"2026-01-05T00:00:{:02}Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","userName":"alice"}},"sourceIPAddress":"198.51.100.7","recipientAccountId":"111122223333","userAgent":"aws-cli/2.15.0 Python/3.11 Linux/6 prompt/off command/{c}"}}"#,
        n % 60
    )
}

/// A record every rule filters.
fn fil(n: usize) -> String {
    acc(n).replace("aws-cli/2.15.0", "Boto3/1.34.0")
}

/// What a run must come to, for the Sentinel rule (the Elastic rule's
/// accounting is checked too).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Want {
    /// Records read (`Summary::records`).
    records: u64,
    accepted: u64,
    filtered: u64,
    /// Rejections by reason, as the summary names them.
    rejected: Vec<(&'static str, u64)>,
    /// Lines or records skipped by the reader for their size.
    skipped: u64,
    /// Whether the input is reported unreadable (whole or in part).
    unreadable: bool,
}

fn want(records: u64, accepted: u64, filtered: u64) -> Want {
    Want {
        records,
        accepted,
        filtered,
        ..Want::default()
    }
}

impl Want {
    fn rej(mut self, reason: &'static str, n: u64) -> Self {
        self.rejected.push((reason, n));
        self.records += n;
        self
    }
    fn skipped(mut self, n: u64) -> Self {
        self.skipped = n;
        self.records += n;
        self
    }
    fn unreadable(mut self) -> Self {
        self.unreadable = true;
        self
    }
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

fn options(workers: usize) -> DetectOptions {
    let settings = FileSettings::parse(&format!("workers = {workers}\nchunk_kib = 64\n")).unwrap();
    DetectOptions {
        settings,
        show_rejects: 0,
        linger: Duration::from_secs(3600),
        state: None,
        finish: false,
        quarantine: None,
        live: None,
        stop: None,
        format: Format::Native,
        progress: None,
        order: Default::default(),
    }
}

/// Runs `detect` on one file; returns the summary.
fn run_file(path: &Path, workers: usize) -> Summary {
    let mut out = Vec::new();
    let mut err = Vec::new();
    detect(
        runtime(),
        &[path.to_owned()],
        &options(workers),
        &mut out,
        &mut err,
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What a summary says, in the test's terms; checks the accounting.
fn got(s: &Summary) -> Want {
    for r in &s.rules {
        let st = &r.stats;
        assert_eq!(
            st.accepted + st.filtered + st.rejected + st.late,
            st.pushed,
            "{:?}: accepted + filtered + rejected + late != pushed",
            r.rule
        );
        assert_eq!(
            st.pushed + s.skipped_too_large + s.quarantined,
            s.records,
            "every record read is pushed, skipped for its size or quarantined"
        );
        let by_reason: u64 = st.rejected_by_reason.iter().map(|c| c.count).sum();
        assert_eq!(by_reason, st.rejected);
    }
    let st = &s.rules[0].stats;
    assert_eq!(st.late, 0);
    // Too large for the line limit (skipped by the reader) or for
    // `limits.max-event-bytes` (rejected by the component): where a long
    // line is caught depends on how the reader's pieces fall.
    let too_large: u64 = st
        .rejected_by_reason
        .iter()
        .filter(|c| reason_name(c.reason) == "too-large")
        .map(|c| c.count)
        .sum();
    Want {
        records: s.records,
        accepted: st.accepted,
        filtered: st.filtered,
        rejected: st
            .rejected_by_reason
            .iter()
            .filter(|c| reason_name(c.reason) != "too-large")
            .map(|c| (reason_name(c.reason), c.count))
            .collect(),
        skipped: s.skipped_too_large + too_large,
        unreadable: !s.unreadable.is_empty(),
    }
}

/// Every kind of hostile file: a name, the bytes, what it must give.
pub(crate) fn corpus() -> Vec<(&'static str, Vec<u8>, Want)> {
    let (a0, a1) = (acc(0), acc(1));
    let (f0, f1) = (fil(0), fil(1));
    let nd = format!("{a0}\n{f0}\n{a1}\n");
    let records_doc = format!("{{\"Records\":[{a0},{f0},{a1}]}}");
    // 3000 records on one line: about 1 MB, four times the line limit.
    let big_records: String = format!(
        "{{\"Records\":[{}]}}",
        (0..3000).map(acc).collect::<Vec<_>>().join(",")
    );
    // 20 000 records on one line: longer than a piece of input.
    let huge_records: String = format!(
        "{{\"Records\":[{}]}}",
        (0..20_000).map(acc).collect::<Vec<_>>().join(",")
    );
    let mut gzip_two = gz(nd.as_bytes());
    gzip_two.extend(gz(format!("{f1}\n").as_bytes()));
    let truncated_gz = {
        let g = gz(big_records.as_bytes());
        g[..g.len() / 2].to_vec()
    };
    let s = |t: String| t.into_bytes();
    vec![
        ("NDJSON", s(nd.clone()), want(3, 2, 1)),
        ("CRLF line ends", s(nd.replace('\n', "\r\n")), want(3, 2, 1)),
        (
            "blank lines and lines of spaces",
            s(format!("\n\n{a0}\n \t\n\r\n{f0}\n\n\n{a1}\n\n")),
            want(3, 2, 1),
        ),
        (
            "no final line end",
            s(nd.trim_end().to_owned()),
            want(3, 2, 1),
        ),
        ("byte order mark", s(format!("\u{feff}{nd}")), want(3, 2, 1)),
        (
            "only a byte order mark",
            s("\u{feff}".into()),
            want(0, 0, 0),
        ),
        ("empty file", Vec::new(), want(0, 0, 0)),
        (
            "only blank lines",
            s("\n\r\n \n\t\n".repeat(1000)),
            want(0, 0, 0),
        ),
        (
            "truncated last line",
            s(format!("{a0}\n{}", &f0[..f0.len() / 2])),
            want(1, 1, 0).rej("invalid-json", 1),
        ),
        (
            "a line of NUL bytes",
            s(format!("{a0}\n\0\0\0\0\n{f0}\n")),
            want(2, 1, 1).rej("invalid-json", 1),
        ),
        (
            "NUL bytes inside a record",
            s(format!("{a0}\n{}\n", f0.replace("Boto3", "Bo\0to3"))),
            want(1, 1, 0).rej("invalid-json", 1),
        ),
        (
            "a line that is not UTF-8",
            [a0.as_bytes(), b"\n\xff\xfe{\"a\":1}\n", f0.as_bytes()].concat(),
            want(2, 1, 1).rej("invalid-json", 1),
        ),
        (
            "text that is not JSON",
            s(format!("hello\n{a0}\nworld, <xml/>\n")),
            want(1, 1, 0).rej("invalid-json", 2),
        ),
        (
            "lines of the wrong JSON type",
            s(format!("{a0}\n[]\n1\n\"x\"\nnull\n{{}}\n")),
            want(1, 1, 0)
                .rej("not-an-object", 4)
                .rej("unknown-shape", 1),
        ),
        ("Records document", s(records_doc.clone()), want(3, 2, 1)),
        (
            "Records document, pretty-printed",
            s(format!(
                "{{\n  \"Records\": [\n    {a0},\n    {f0},\n    {a1}\n  ]\n}}\n"
            )),
            want(3, 2, 1),
        ),
        (
            "Records members that are not objects",
            s(format!("{{\"Records\":[{a0},1,\"x\",null,[],{f0}]}}")),
            want(2, 1, 1).rej("not-an-object", 4),
        ),
        (
            "Records members that are not objects, pretty-printed",
            s(format!(
                "{{\n\"Records\":[{a0},\n1,\n\"x\",\n[{f0}],\n{{}}]\n}}"
            )),
            want(1, 1, 0)
                .rej("not-an-object", 3)
                .rej("unknown-shape", 1),
        ),
        (
            "a Records member that is an object",
            s(format!("{{\"Records\":{a0}}}")),
            want(0, 0, 0).rej("unknown-shape", 1),
        ),
        (
            "a Records member that is a number, string or null",
            s("{\"Records\":5}\n{\"Records\":\"x\"}\n{\"Records\":null}\n".into()),
            want(0, 0, 0).rej("unknown-shape", 3),
        ),
        (
            "an empty Records array",
            s("{\"Records\":[]}".into()),
            want(0, 0, 0),
        ),
        (
            "Records twice on one line",
            s(format!("{{\"Records\":[{a0}],\"Records\":[{f0}]}}\n{a1}\n")),
            want(3, 2, 1),
        ),
        (
            "Records twice, pretty-printed",
            s(format!(
                "{{\n\"Records\":[{a0}],\n\"Records\":[{f0}]}}\n{a1}\n"
            )),
            want(3, 2, 1),
        ),
        (
            "a Records key spelled with an escape, on one line",
            s(format!("{{\"R\\u0065cords\":[{a0}]}}\n{f0}\n")),
            want(1, 0, 1).rej("unknown-shape", 1),
        ),
        (
            "a Records line among NDJSON lines",
            s(format!("{a0}\n{records_doc}\n{f1}\n")),
            want(5, 3, 2),
        ),
        (
            "a Records line with a record that is not UTF-8",
            [
                b"{\"Records\":[".as_slice(),
                a0.as_bytes(),
                b",{\"eventName\":\"\xff\"},",
                f0.as_bytes(),
                b"]}\n",
                a1.as_bytes(),
            ]
            .concat(),
            want(3, 2, 1).rej("invalid-json", 1),
        ),
        (
            "a Records document with a record that is not UTF-8",
            [
                b"{\n\"Records\":[".as_slice(),
                a0.as_bytes(),
                b",\n{\"eventName\":\"\xff\"},\n",
                f0.as_bytes(),
                b"]}\n",
            ]
            .concat(),
            want(2, 1, 1).rej("invalid-json", 1),
        ),
        (
            "top-level array",
            s(format!("[{a0},{f0},{a1}]")),
            want(3, 2, 1),
        ),
        (
            "top-level array of scalars",
            s("[1,\"x\",true,null]".into()),
            want(0, 0, 0).rej("not-an-object", 4),
        ),
        (
            "concatenated objects on one line",
            s(format!("{a0}{f0} {a1}")),
            want(3, 2, 1),
        ),
        (
            "a pretty-printed single record",
            s(serde_json::to_string_pretty(
                &serde_json::from_str::<serde_json::Value>(&a0).unwrap(),
            )
            .unwrap()),
            want(1, 1, 0),
        ),
        (
            "truncated Records document",
            s(format!("{{\"Records\":[{a0},{f0},{}", &a1[..40])),
            want(2, 1, 1).unreadable(),
        ),
        (
            "text between documents",
            s(format!("[{a0}] x [{f0}]")),
            want(1, 1, 0).unreadable(),
        ),
        (
            "an unclosed array a million deep",
            s("[".repeat(1_000_000)),
            want(0, 0, 0).unreadable(),
        ),
        (
            "a record nested 100 000 deep in a document",
            s(format!(
                "[{a0},{{\"eventTime\":\"2026-01-05T00:00:01Z\",\"eventName\":\"X\",\"x\":{}{}}},{f0}]",
                "[".repeat(100_000),
                "]".repeat(100_000)
            )),
            want(3, 1, 2),
        ),
        (
            "a 10 MB line that is not JSON",
            s(format!("{a0}\n{}\n{f0}\n", "x".repeat(10_000_000))),
            want(2, 1, 1).skipped(1),
        ),
        (
            "a 10 MB record line",
            s(format!(
                "{a0}\n{{\"eventName\":\"{}\"}}\n{f0}\n",
                "x".repeat(10_000_000)
            )),
            want(2, 1, 1).skipped(1),
        ),
        (
            "a 10 MB record in a Records document",
            s(format!(
                "{{\"Records\":[{a0},{{\"p\":\"{}\"}},{f0}]}}",
                "x".repeat(10_000_000)
            )),
            want(2, 1, 1).skipped(1),
        ),
        (
            "a Records line past the line limit, first in the file",
            s(format!("{big_records}\n{f0}\n")),
            want(3001, 3000, 1),
        ),
        (
            "a Records line past the line limit, after other lines",
            s(format!("{f0}\n{a0}\n{big_records}\n{f1}\n")),
            want(3003, 3001, 2),
        ),
        (
            "a 7 MB Records line, read in pieces",
            s(format!("{f0}\n{}\n{f1}\n", huge_records)),
            want(20002, 20000, 2),
        ),
        (
            "a damaged 7 MB Records line",
            s(format!(
                "{f0}\n{}\n{f1}\n",
                &huge_records[..huge_records.len() - 10]
            )),
            want(20001, 19999, 2).skipped(1),
        ),
        (
            "a damaged Records line past the line limit",
            s(format!(
                "{f0}\n{}\n{f1}\n",
                &big_records[..big_records.len() - 10]
            )),
            want(3001, 2999, 2).skipped(1),
        ),
        (
            "old Mac line ends (CR only)",
            // No line end at all: concatenated documents (a CR is JSON
            // whitespace).
            s(format!("{a0}\r{f0}\r{a1}\r")),
            want(3, 2, 1),
        ),
        (
            "NUL bytes between documents",
            s(format!("[{a0}]\0[{f0}]")),
            want(1, 1, 0).unreadable(),
        ),
        (
            "a Records key spelled with an escape, pretty-printed",
            s(format!("{{\n\"R\\u0065cords\":[{a0}]}}")),
            want(0, 0, 0).rej("unknown-shape", 1),
        ),
        (
            "a Records document then NDJSON lines",
            s(format!("{{\n\"Records\":[{a0}]}}\n{f0}\n{a1}\n")),
            want(3, 2, 1),
        ),
        ("gzip NDJSON", gz(nd.as_bytes()), want(3, 2, 1)),
        (
            "gzip Records document",
            gz(records_doc.as_bytes()),
            want(3, 2, 1),
        ),
        ("concatenated gzip members", gzip_two, want(4, 2, 2)),
        (
            "gzip of a Records line past the line limit",
            gz(big_records.as_bytes()),
            want(3000, 3000, 0),
        ),
        ("gzip of nothing", gz(b""), want(0, 0, 0)),
        (
            "gzip magic and garbage",
            [&[0x1f, 0x8b][..], b"not a gzip stream at all"].concat(),
            want(0, 0, 0).unreadable(),
        ),
        ("truncated gzip", truncated_gz, Want::default().unreadable()),
        (
            "a zip archive (refused, never read as text)",
            [&b"PK\x03\x04"[..], nd.as_bytes()].concat(),
            want(0, 0, 0).unreadable(),
        ),
        (
            "gzip inside gzip",
            gz(&gz(nd.as_bytes())),
            // The inner stream's bytes hold one line end.
            want(0, 0, 0).rej("invalid-json", 2),
        ),
        (
            "gzip of a 10 MB line",
            gz(format!("{a0}\n{}\n{f0}", "y".repeat(10_000_000)).as_bytes()),
            want(2, 1, 1).skipped(1),
        ),
        (
            "CRLF-only gzip",
            gz(&b"\r\n".repeat(100_000)),
            want(0, 0, 0),
        ),
        (
            "a 30 MB gzip bomb of one line",
            gz(&vec![b'{'; 30_000_000]),
            want(0, 0, 0).skipped(1),
        ),
        (
            "a 30 MB gzip bomb of blank lines",
            gz(&vec![b'\n'; 30_000_000]),
            want(0, 0, 0),
        ),
    ]
}

#[test]
fn every_kind_of_hostile_file_is_accounted_exactly() {
    let dir = scratch_dir("hostile-files");
    let cases = corpus();
    let mut failures = Vec::new();
    for (i, (name, bytes, want)) in cases.iter().enumerate() {
        let path = dir.join(format!("case-{i}"));
        std::fs::write(&path, bytes).unwrap();
        for workers in [1, 2] {
            let summary = run_file(&path, workers);
            let mut g = got(&summary);
            if name == &"truncated gzip" {
                // Where the stream breaks decides how much was read: that
                // much, then an error naming the input.
                assert!(g.records < 3000, "{g:?}");
                assert!(
                    summary.unreadable[0].contains("case-"),
                    "{:?}",
                    summary.unreadable
                );
                g = Want::default().unreadable();
            }
            if g != *want {
                failures.push(format!(
                    "{name} ({workers} workers): got {g:?}\n    want {want:?}\n    {:?}",
                    summary.unreadable
                ));
            }
        }
    }
    eprintln!("{} kinds of hostile file", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Writes a gzip file of `total` bytes of `byte` (made in pieces: the
/// bomb is never whole in memory here either).
fn write_bomb(path: &Path, byte: u8, total: usize) {
    let file = std::fs::File::create(path).unwrap();
    let mut e = GzEncoder::new(std::io::BufWriter::new(file), Compression::fast());
    let piece = vec![byte; 1 << 20];
    for _ in 0..total / piece.len() {
        e.write_all(&piece).unwrap();
    }
    e.finish().unwrap();
}

/// Runs the CLI on `path` and samples its peak resident set (`VmHWM`)
/// until it exits: the last sample, in MiB, and its output.
fn peak_rss_mib(path: &Path, cache: &Path) -> (u64, std::process::Output) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_recon"))
        .args(["detect", "--workers", "1", "--cache-dir"])
        .arg(cache)
        .arg(path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let sampler = std::thread::spawn(move || {
        let mut peak = 0u64;
        while let Ok(s) = std::fs::read_to_string(&status) {
            let Some(kib) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                break; // a zombie: its memory is gone
            };
            peak = peak.max(kib);
            std::thread::sleep(Duration::from_millis(5));
        }
        peak / 1024
    });
    let out = child.wait_with_output().unwrap();
    (sampler.join().unwrap(), out)
}

/// Gzip bombs: a gigabyte of one byte, compressed about a thousand to
/// one, in every shape the reader must not hold whole (one line, an
/// unclosed array, an object, blank lines). The reader bounds what it
/// holds by the line limit, so the process stays small.
#[test]
fn gzip_bombs_run_in_bounded_memory() {
    let dir = scratch_dir("hostile-bombs");
    let cache = dir.join("cache");
    const GIB: usize = 1 << 30;
    // Compile the component into the cache first: its compilation is not
    // what is measured.
    let empty = dir.join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert!(peak_rss_mib(&empty, &cache).1.status.success());
    for (name, byte, unreadable) in [
        ("one line of x", b'x', false),
        ("an unclosed array", b'[', true),
        ("an unclosed object", b'{', false),
        ("blank lines", b'\n', false),
    ] {
        let path = dir.join(format!("bomb-{}.gz", byte));
        write_bomb(&path, byte, GIB);
        let compressed = std::fs::metadata(&path).unwrap().len();
        let (peak, out) = peak_rss_mib(&path, &cache);
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{name}: {compressed} bytes of gzip, 1 GiB inflated, peak RSS {peak} MiB");
        assert_eq!(out.status.success(), !unreadable, "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}");
        assert!(
            peak > 0 && peak < 256,
            "{name}: peak RSS {peak} MiB\n{stderr}"
        );
        std::fs::remove_file(&path).unwrap();
    }
}
