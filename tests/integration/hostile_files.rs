//! The hostile-file corpus as data (`tests/data/hostile-files`): every
//! case's input (a committed file, or a recipe for the big ones) through
//! the `recon detect` binary, with one worker and with two; its alerts,
//! reports, summary and exit status must be exactly those of
//! `expected.json`, which the Node and Python hosts' runners check too.
//!
//! `expected.json` is what this host printed, reviewed: each case's
//! summary must also agree with the counts written by hand in
//! `cases.json` (`want`). `RECON_BLESS=1` rewrites it from this host's
//! output (one worker), after that check.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::{Value, json};

use crate::util::scratch_dir;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/hostile-files")
}

fn load(name: &str) -> Value {
    let path = corpus_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Makes recipes' bytes; `gen` output is made once per argument list.
struct Maker<'a> {
    templates: &'a Value,
    generated: BTreeMap<String, Vec<u8>>,
}

impl Maker<'_> {
    /// A case's bytes: its committed file, or its recipe made.
    fn input(&mut self, case: &Value) -> Vec<u8> {
        match case.get("file") {
            Some(file) => std::fs::read(corpus_dir().join(file.as_str().unwrap())).unwrap(),
            None => {
                let mut bytes = Vec::new();
                self.parts(&case["recipe"], &mut bytes);
                bytes
            }
        }
    }

    fn record(&self, kind: &str, n: u64) -> String {
        let t = self.templates[kind].as_str().unwrap();
        let commands = self.templates["commands"].as_array().unwrap();
        let command = commands[(n % commands.len() as u64) as usize]
            .as_str()
            .unwrap();
        t.replace("{second}", &format!("{:02}", n % 60))
            .replace("{command}", command)
    }

    fn parts(&mut self, parts: &Value, out: &mut Vec<u8>) {
        for part in parts.as_array().expect("a recipe is a list of parts") {
            self.part(part, out);
        }
    }

    fn part(&mut self, part: &Value, out: &mut Vec<u8>) {
        if let Some(text) = part.as_str() {
            out.extend_from_slice(text.as_bytes());
        } else if let Some(kind) = part.get("record") {
            let n = part["n"].as_u64().unwrap();
            out.extend_from_slice(self.record(kind.as_str().unwrap(), n).as_bytes());
        } else if let Some(kind) = part.get("records") {
            let sep = part["sep"].as_str().unwrap();
            for n in 0..part["count"].as_u64().unwrap() {
                if n > 0 {
                    out.extend_from_slice(sep.as_bytes());
                }
                out.extend_from_slice(self.record(kind.as_str().unwrap(), n).as_bytes());
            }
        } else if let Some(text) = part.get("repeat") {
            let times = part["times"].as_u64().unwrap() as usize;
            out.extend_from_slice(text.as_str().unwrap().repeat(times).as_bytes());
        } else if let Some(inner) = part.get("gzip") {
            let mut plain = Vec::new();
            self.parts(inner, &mut plain);
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(&plain).unwrap();
            out.extend(e.finish().unwrap());
        } else if let Some(inner) = part.get("cut") {
            let mut whole = Vec::new();
            self.parts(inner, &mut whole);
            let drop = part["drop"].as_u64().unwrap() as usize;
            out.extend_from_slice(&whole[..whole.len() - drop]);
        } else if let Some(args) = part.get("gen") {
            let key = args.to_string();
            if !self.generated.contains_key(&key) {
                let args: Vec<&str> = args
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| a.as_str().unwrap())
                    .collect();
                let done = Command::new(env!("CARGO_BIN_EXE_recon"))
                    .arg("gen")
                    .args(&args)
                    .output()
                    .unwrap();
                assert!(done.status.success(), "recon gen {args:?}");
                self.generated.insert(key.clone(), done.stdout);
            }
            let sep = part["sep"].as_str().unwrap().as_bytes();
            let lines = self.generated[&key]
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty());
            for (i, line) in lines.enumerate() {
                if i > 0 {
                    out.extend_from_slice(sep);
                }
                out.extend_from_slice(line);
            }
        } else {
            panic!("unknown recipe part {part}");
        }
    }
}

/// Every case of the corpus: its name and its bytes (for the tests that
/// read the same files another way, e.g. through the component's reader).
pub(crate) fn inputs() -> Vec<(String, Vec<u8>)> {
    let cases = load("cases.json");
    let mut maker = Maker {
        templates: &cases["templates"],
        generated: BTreeMap::new(),
    };
    cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            let name = case["name"].as_str().unwrap().to_owned();
            (name, maker.input(case))
        })
        .collect()
}

/// What one run printed, the input's path written `{input}`.
#[derive(Debug, PartialEq)]
struct Outcome {
    exit: i32,
    stdout: Vec<String>,
    stderr: Vec<String>,
}

impl Outcome {
    fn json(&self) -> Value {
        json!({"exit": self.exit, "stdout": self.stdout, "stderr": self.stderr})
    }

    fn from_json(v: &Value) -> Outcome {
        let lines = |k: &str| -> Vec<String> {
            v[k].as_array()
                .unwrap()
                .iter()
                .map(|l| l.as_str().unwrap().to_owned())
                .collect()
        };
        Outcome {
            exit: v["exit"].as_i64().unwrap() as i32,
            stdout: lines("stdout"),
            stderr: lines("stderr"),
        }
    }

    /// The comparison every runner makes: exit status, alert lines in
    /// order, and stderr's lines as a multiset (a reader thread's
    /// `unreadable` note and the scanners' reports may interleave either
    /// way).
    fn same_as(&self, want: &Outcome) -> bool {
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v
        };
        self.exit == want.exit
            && self.stdout == want.stdout
            && sorted(&self.stderr) == sorted(&want.stderr)
    }
}

fn run(args: &[String], extra: &[String], cache: &Path, path: &Path) -> Outcome {
    let out = Command::new(env!("CARGO_BIN_EXE_recon"))
        .args(args)
        .args(extra)
        .arg("--cache-dir")
        .arg(cache)
        .arg(path)
        .output()
        .unwrap();
    let text = |b: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(b)
            .replace(&path.display().to_string(), "{input}")
            .lines()
            .map(str::to_owned)
            .collect()
    };
    Outcome {
        exit: out.status.code().unwrap_or(-1),
        stdout: text(&out.stdout),
        stderr: text(&out.stderr),
    }
}

/// The counts of `want` (cases.json's hand-written form) that a summary
/// states, from the summary lines of `stderr` (the Sentinel rule's line;
/// too-large records, whether the reader skipped them or the component
/// rejected them, under `skipped`).
fn counts(stderr: &[String]) -> Value {
    let number = |line: &str, after: &str| -> u64 {
        let rest = &line[line
            .find(after)
            .unwrap_or_else(|| panic!("{after} in {line}"))
            + after.len()..];
        rest[..rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len())]
            .parse()
            .unwrap()
    };
    let read = stderr
        .iter()
        .find(|l| l.starts_with("recon: read "))
        .expect("a summary");
    let rule = stderr
        .iter()
        .find(|l| l.starts_with("recon: sentinel-aws-cli-recon: events "))
        .expect("the Sentinel rule's line");
    let skipped_by_reader = stderr
        .iter()
        .find(|l| l.contains(" lines longer than limits.max_event_bytes skipped"))
        .map_or(0, |l| number(l, "recon: "));
    let mut rejected = serde_json::Map::new();
    let mut skipped = skipped_by_reader;
    if let Some(open) = rule
        .find("rejected ")
        .and_then(|i| rule[i..].find(" (").map(|j| i + j))
    {
        let inner = &rule[open + 2..open + rule[open..].find(')').unwrap()];
        for item in inner.split(", ") {
            let (reason, n) = item.rsplit_once(' ').unwrap();
            let n: u64 = n.parse().unwrap();
            if reason == "too-large" {
                skipped += n;
            } else {
                rejected.insert(reason.to_owned(), json!(n));
            }
        }
    }
    let mut counts = json!({
        "records": number(read, "recon: read "),
        "accepted": number(rule, ", accepted "),
        "filtered": number(rule, ", filtered "),
        "rejected": rejected,
        "skipped": skipped,
        "unreadable": stderr.iter().any(|l| l.ends_with(" input(s) could not be read completely")),
    });
    // The feeds' counts, stated only where they are not zero (so the
    // cases without envelopes keep their form).
    let mut stated = |key: &str, what: &str| {
        if let Some(l) = stderr.iter().find(|l| l.contains(what)) {
            counts[key] = json!(number(l, "recon: "));
        }
    };
    stated("envelopes", " envelope values held no record");
    stated("control_messages", " CloudWatch Logs control message");
    if stderr
        .iter()
        .any(|l| l.ends_with(" input(s) held no readable record"))
    {
        counts["none_readable"] = json!(true);
    }
    counts
}

#[test]
fn the_hostile_file_corpus_gives_the_expected_output() {
    let cases = load("cases.json");
    let bless = std::env::var_os("RECON_BLESS").is_some_and(|v| v == "1");
    let expected = if bless {
        Value::Null
    } else {
        load("expected.json")
    };
    let dir = scratch_dir("hostile-corpus");
    let cache = dir.join("cache");
    let args: Vec<String> = serde_json::from_value(cases["args"].clone()).unwrap();
    let mut maker = Maker {
        templates: &cases["templates"],
        generated: BTreeMap::new(),
    };
    let mut blessed = serde_json::Map::new();
    let mut failures = Vec::new();
    let list = cases["cases"].as_array().unwrap();
    for (i, case) in list.iter().enumerate() {
        let name = case["name"].as_str().unwrap();
        let path = match case.get("file") {
            Some(file) => corpus_dir().join(file.as_str().unwrap()),
            None => {
                let path = dir.join(format!("case-{i}"));
                std::fs::write(&path, maker.input(case)).unwrap();
                path
            }
        };
        let extra: Vec<String> = case
            .get("args")
            .map(|a| serde_json::from_value(a.clone()).unwrap())
            .unwrap_or_default();
        let want = if bless {
            let got = run(&args, &extra, &cache, &path);
            blessed.insert(name.to_owned(), got.json());
            got
        } else {
            match expected.get(name) {
                Some(v) => Outcome::from_json(v),
                None => {
                    failures.push(format!("{name}: not in expected.json"));
                    continue;
                }
            }
        };
        if counts(&want.stderr) != case["want"] {
            failures.push(format!(
                "{name}: the expected summary does not agree with the hand-written counts\n    \
                 summary: {}\n    want:    {}",
                counts(&want.stderr),
                case["want"]
            ));
        }
        for workers in ["1", "2"] {
            let mut run_args = args.clone();
            let at = run_args.iter().position(|a| a == "--workers").unwrap();
            run_args[at + 1] = workers.to_owned();
            let got = run(&run_args, &extra, &cache, &path);
            if !got.same_as(&want) {
                failures.push(format!(
                    "{name} ({workers} workers):\n    got  {:?}\n    want {:?}",
                    got.json(),
                    want.json()
                ));
            }
        }
        if case.get("file").is_none() {
            std::fs::remove_file(&path).unwrap();
        }
    }
    if bless {
        let text = serde_json::to_string_pretty(&Value::Object(blessed)).unwrap();
        std::fs::write(corpus_dir().join("expected.json"), text + "\n").unwrap();
    }
    eprintln!("{} hostile files", list.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
