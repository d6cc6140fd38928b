//! The contract through the real component: imports, typed errors,
//! counters, snapshots, independence of detectors, sandbox limits.

use recon::runtime::{
    ApplyError, COMPONENT, CacheOutcome, Config, ConfigError, HostError, Outcome, Profile,
    RejectReason, Rule, Runtime, SandboxLimits, SnapshotError,
};
use wasmtime::Trap;

use crate::util::{
    assert_accounted, assert_same_alerts, burst_sample, read_records, run, runtime, sentinel,
    sentinel_ai,
};

#[test]
fn component_imports_nothing() {
    // As wasmtime sees the component type...
    assert_eq!(runtime().component_imports(), Vec::<String>::new());
    // ...and in the binary itself: the component's import section is
    // empty, the core module inside imports only the component model's own
    // intrinsics (resource handles), never WASI or any host interface, and
    // the one export is the detection interface.
    let mut component_imports = Vec::new();
    let mut core_imports = Vec::new();
    let mut exports = Vec::new();
    // Nested components and modules are parsed too; track the nesting so
    // that only the outermost component's imports count as the component's.
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(COMPONENT) {
        match payload.unwrap() {
            wasmparser::Payload::Version { .. } => depth += 1,
            wasmparser::Payload::End(_) => depth -= 1,
            wasmparser::Payload::ComponentImportSection(s) if depth == 1 => {
                for i in s {
                    component_imports.push(i.unwrap().name.name.to_owned());
                }
            }
            wasmparser::Payload::ImportSection(s) => {
                for i in s.into_imports() {
                    let i = i.unwrap();
                    core_imports.push(format!("{}::{}", i.module, i.name));
                }
            }
            wasmparser::Payload::ComponentExportSection(s) if depth == 1 => {
                for e in s {
                    exports.push(e.unwrap().name.name.to_owned());
                }
            }
            _ => {}
        }
    }
    assert_eq!(component_imports, Vec::<String>::new());
    assert!(
        core_imports.iter().all(|i| !i.contains("wasi")),
        "the core module must not import WASI: {core_imports:?}"
    );
    assert_eq!(exports, vec!["recon:detector/detection@0.6.0".to_owned()]);
}

#[test]
fn invalid_configuration_is_a_typed_error() {
    let mut inst = runtime().instantiate().unwrap();
    let mut c = sentinel(Profile::Default);
    c.rules[0].window_ms = Some(0);
    match inst.create(&c) {
        Err(HostError::Config(ConfigError::OutOfRange(m))) => {
            assert!(m.contains("window-ms"), "{m}")
        }
        other => panic!("expected out-of-range, got {other:?}"),
    }
    let mut c = sentinel(Profile::Default);
    c.rules[0].commands = Some(vec![]);
    assert!(matches!(
        inst.create(&c),
        Err(HostError::Config(ConfigError::InvalidList(_)))
    ));
}

#[test]
fn push_reports_outcomes_and_typed_rejections() {
    let mut inst = runtime().instantiate().unwrap();
    let d = inst.create(&sentinel(Profile::Default)).unwrap();
    let ok = read_records(&burst_sample())[0].clone();
    assert_eq!(inst.push(d, &ok).unwrap(), Ok(vec![Outcome::Filtered]));
    let e = inst
        .push(d, "{\"eventTime\":\"soon\",\"eventName\":\"X\"}")
        .unwrap()
        .unwrap_err();
    assert!(matches!(e.reason, RejectReason::InvalidTime));
    assert!(e.message.contains("eventTime"), "{}", e.message);

    let batch: Vec<String> = vec![ok.clone(), "nope".into(), "[1]".into(), ok, "{}".into()];
    let r = inst.push_batch(d, &batch).unwrap();
    assert_eq!((r.records, r.rejected, r.rules[0].filtered), (5, 3, 2));
    let by_index: Vec<(u32, RejectReason)> =
        r.errors.iter().map(|e| (e.index, e.error.reason)).collect();
    assert_eq!(
        by_index,
        vec![
            (1, RejectReason::InvalidJson),
            (2, RejectReason::NotAnObject),
            (4, RejectReason::UnknownShape)
        ]
    );
    let s = inst.stats(d).unwrap();
    assert_eq!((s.pushed, s.rejected), (7, 4));
    assert_eq!(s.rejected_by_reason.len(), 4);
    let r = &s.rules[0];
    assert_eq!((r.pushed, r.filtered, r.rejected), (7, 3, 4));
}

#[test]
fn snapshot_and_restore_cross_the_boundary() {
    let events = read_records(&burst_sample());
    let config = sentinel_ai(Profile::Default);
    let (whole, _) = run(&config, &events);
    assert_eq!(whole.len(), 1);

    let mut inst = runtime().instantiate().unwrap();
    let d = inst.create(&config).unwrap();
    inst.push_batch(d, &events[..15]).unwrap();
    let bytes = inst.snapshot(d).unwrap();
    inst.drop_detector(d).unwrap();

    // Restored into a different instance, it finishes the stream alike.
    let mut other = runtime().instantiate().unwrap();
    let r = other.restore(&bytes).unwrap();
    other.push_batch(r, &events[15..]).unwrap();
    other.flush(r, None).unwrap();
    assert_eq!(other.drain(r).unwrap(), whole);
    assert_eq!(other.stats(r).unwrap().pushed, events.len() as u64);

    assert!(matches!(
        other.restore(b"not a snapshot"),
        Err(HostError::Snapshot(SnapshotError::Malformed(_)))
    ));
}

#[test]
fn detectors_in_one_instance_are_independent() {
    let events = read_records(&burst_sample());
    let config = sentinel_ai(Profile::Default);
    let mut inst = runtime().instantiate().unwrap();
    let a = inst.create(&config).unwrap();
    let b = inst.create(&config).unwrap();
    let e = inst
        .create(&recon::runtime::Config::defaults(
            &[Rule::from("elastic-aws-discovery-burst")],
            Profile::Default,
        ))
        .unwrap();
    inst.push_batch(a, &events).unwrap();
    inst.push_batch(e, &events).unwrap();
    inst.flush(a, None).unwrap();
    assert_eq!(inst.drain(a).unwrap().len(), 1);
    assert_eq!(inst.stats(b).unwrap().pushed, 0);
    assert!(inst.drain(b).unwrap().is_empty());
    assert_eq!(inst.stats(e).unwrap().pushed, events.len() as u64);
}

#[test]
fn fuel_exhaustion_traps_the_call_not_the_host() {
    let limits = SandboxLimits {
        fuel_per_call: Some(5_000_000),
        ..SandboxLimits::default()
    };
    let rt = Runtime::new(limits).unwrap();
    let mut inst = rt.instantiate().unwrap();
    let d = inst.create(&sentinel(Profile::Default)).unwrap();
    let sample = read_records(&burst_sample());
    let events: Vec<String> = (0..200).flat_map(|_| sample.clone()).collect();
    match inst.push_batch(d, &events) {
        Err(HostError::Guest { call, trap, .. }) => {
            assert_eq!(call, "push-batch");
            assert_eq!(trap, Some(Trap::OutOfFuel));
        }
        other => panic!("expected an out-of-fuel trap, got {other:?}"),
    }
}

#[test]
fn memory_cap_stops_a_guest_that_grows_too_far() {
    let limits = SandboxLimits {
        max_memory_bytes: 4 << 20,
        ..SandboxLimits::default()
    };
    let rt = Runtime::new(limits).unwrap();
    let mut inst = rt.instantiate().unwrap();
    let d = inst.create(&sentinel(Profile::Default)).unwrap();
    // 8 MiB of events in one call cannot fit in a 4 MiB memory.
    let big = vec!["x".repeat(1 << 20); 8];
    assert!(matches!(
        inst.push_batch(d, &big),
        Err(HostError::Guest { .. })
    ));
}

#[test]
fn both_rules_run_over_one_parse_and_tag_their_alerts() {
    let events = read_records(&burst_sample());
    let mut config = recon::runtime::Config::defaults(
        &[
            Rule::from("sentinel-aws-cli-recon"),
            Rule::from("elastic-aws-discovery-burst"),
        ],
        Profile::Default,
    );
    config.rules[0].commands = sentinel_ai(Profile::Default).rules[0].commands.clone();
    let mut inst = runtime().instantiate().unwrap();
    let d = inst.create(&config).unwrap();
    let outcomes = inst.push(d, &events[0]).unwrap().unwrap();
    assert_eq!(outcomes.len(), 2);
    inst.push_batch(d, &events[1..]).unwrap();
    inst.flush(d, None).unwrap();
    let alerts = inst.drain(d).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].rule, "sentinel-aws-cli-recon");
    let s = inst.stats(d).unwrap();
    assert_eq!(s.rules.len(), 2);
    for r in &s.rules {
        assert_accounted(r, events.len());
    }
    // A rule named twice is refused, naming the list.
    config.rules.push(config.rules[0].clone());
    assert!(matches!(
        inst.create(&config),
        Err(HostError::Config(ConfigError::InvalidList(m))) if m.contains("rules[2]")
    ));
}

/// The records of a sample as one NDJSON buffer.
fn ndjson(events: &[String]) -> Vec<u8> {
    let mut buf = Vec::new();
    for e in events {
        buf.extend_from_slice(e.as_bytes());
        buf.push(b'\n');
    }
    buf
}

#[test]
fn bulk_ndjson_and_scanned_payloads_equal_push_batch() {
    let mut events = read_records(&burst_sample());
    events.insert(3, "{broken".into());
    let config = sentinel_ai(Profile::Default);
    let buf = ndjson(&events);

    let mut inst = runtime().instantiate().unwrap();
    let batch = inst.create(&config).unwrap();
    let bulk = inst.create(&config).unwrap();
    let staged = inst.create(&config).unwrap();
    let rb = inst.push_batch(batch, &events).unwrap();
    let rn = inst.push_ndjson(bulk, &buf).unwrap();
    assert_eq!(rb, rn);
    assert_eq!(rn.errors[0].index, 3);

    // The stateless half in another instance, as a worker thread would.
    let mut worker = runtime().instantiate().unwrap();
    let scanner = worker.create_scanner(&config).unwrap();
    let scanned = worker.scan(scanner, &buf).unwrap();
    assert_eq!(scanned.records, events.len() as u32);
    assert_eq!(scanned.errors, rn.errors);
    let ra = inst.apply(staged, &scanned.payload).unwrap();
    assert_eq!(
        (ra.records, ra.rejected, ra.rules.clone()),
        (rn.records, rn.rejected, rn.rules.clone())
    );

    let mut alerts = Vec::new();
    for d in [batch, bulk, staged] {
        inst.flush(d, None).unwrap();
        alerts.push(inst.drain(d).unwrap());
    }
    assert_eq!(alerts[0].len(), 1);
    assert_same_alerts(&alerts[1], &alerts[0], "push-ndjson");
    assert_same_alerts(&alerts[2], &alerts[0], "scan + apply");

    // A payload made under another configuration is refused.
    let other = inst.create(&sentinel(Profile::Seed)).unwrap();
    assert!(matches!(
        inst.apply(other, &scanned.payload),
        Err(HostError::Apply(ApplyError::ConfigMismatch))
    ));
}

#[test]
fn a_call_past_its_deadline_is_interrupted() {
    let limits = SandboxLimits {
        call_timeout: Some(std::time::Duration::from_millis(1)),
        ..SandboxLimits::default()
    };
    let rt = Runtime::new(limits).unwrap();
    let mut inst = rt.instantiate().unwrap();
    let d = inst.create(&sentinel(Profile::Default)).unwrap();
    // Far more than a few milliseconds of work in one call.
    let events = read_records(&burst_sample());
    let mut buf = Vec::new();
    while buf.len() < 48 << 20 {
        buf.extend_from_slice(&ndjson(&events));
    }
    match inst.push_ndjson(d, &buf) {
        Err(HostError::Guest { call, trap, .. }) => {
            assert_eq!(call, "push-ndjson");
            assert_eq!(trap, Some(Trap::Interrupt));
        }
        other => panic!("expected an interrupt, got {other:?}"),
    }
}

#[test]
fn the_compiled_component_cache_is_checked_before_it_is_trusted() {
    let dir = std::env::temp_dir().join(format!("recon-cache-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let limits = SandboxLimits::default();
    let first = Runtime::cached(limits, &dir).unwrap();
    let CacheOutcome::Miss {
        written: Some(path),
        refused: None,
    } = first.cache_outcome().clone()
    else {
        panic!(
            "a first run compiles and writes: {:?}",
            first.cache_outcome()
        );
    };
    let second = Runtime::cached(limits, &dir).unwrap();
    assert_eq!(second.cache_outcome(), &CacheOutcome::Hit(path.clone()));
    // The cached code works like the compiled one.
    let (alerts, _) = {
        let mut inst = second.instantiate().unwrap();
        let d = inst.create(&sentinel_ai(Profile::Default)).unwrap();
        inst.push_batch(d, &read_records(&burst_sample())).unwrap();
        inst.flush(d, None).unwrap();
        (inst.drain(d).unwrap(), ())
    };
    assert_eq!(alerts.len(), 1);
    // One flipped byte, a truncated file, a foreign file: refused, rebuilt.
    let good = std::fs::read(&path).unwrap();
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 1;
    for (what, bytes) in [
        ("flipped", flipped),
        ("truncated", good[..good.len() / 3].to_vec()),
        ("foreign", b"\x7fELF not ours".to_vec()),
    ] {
        std::fs::write(&path, &bytes).unwrap();
        let rt = Runtime::cached(limits, &dir).unwrap();
        match rt.cache_outcome() {
            CacheOutcome::Miss {
                written: Some(_),
                refused: Some(_),
            } => {}
            other => panic!("{what}: expected a refused entry, got {other:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), good, "{what}: rewritten");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn early_alerts_cross_the_boundary_alike_on_every_path() {
    use recon::runtime::AlertKind;
    let records: Vec<String> = recon_gen::Generator::new(recon_gen::GenOptions {
        seed: 61,
        count: 12_000,
        bursts: 12,
        ..recon_gen::GenOptions::default()
    })
    .unwrap()
    .collect();
    let buf = ndjson(&records);
    let mut config = Config::defaults(
        &[
            Rule::from("sentinel-aws-cli-recon"),
            Rule::from("elastic-aws-discovery-burst"),
        ],
        Profile::Default,
    );
    let off = config.clone();
    config.early_alerts = Some(true);
    let mut inst = runtime().instantiate().unwrap();
    let mut worker = runtime().instantiate().unwrap();
    let scanner = worker.create_scanner(&config).unwrap();
    let [simple, batch, bulk, staged, plain] =
        [&config, &config, &config, &config, &off].map(|c| inst.create(c).unwrap());
    let mut got: [Vec<recon::runtime::Alert>; 4] = Default::default();
    for r in &records {
        inst.push(simple, r).unwrap().ok();
    }
    inst.push_batch(plain, &records).unwrap();
    // The other paths in pieces of 1000 lines, draining after each.
    let lines: Vec<&[u8]> = buf.split_inclusive(|b| *b == b'\n').collect();
    for (part, piece) in records.chunks(1000).zip(lines.chunks(1000)) {
        let piece = piece.concat();
        inst.push_batch(batch, part).unwrap();
        inst.push_ndjson(bulk, &piece).unwrap();
        let scanned = worker.scan(scanner, &piece).unwrap();
        inst.apply(staged, &scanned.payload).unwrap();
        for (i, d) in [batch, bulk, staged].into_iter().enumerate() {
            got[i + 1].extend(inst.drain(d).unwrap());
        }
    }
    for (i, d) in [simple, batch, bulk, staged].into_iter().enumerate() {
        inst.flush(d, None).unwrap();
        got[i].extend(inst.drain(d).unwrap());
    }
    inst.flush(plain, None).unwrap();
    let finals_off = inst.drain(plain).unwrap();
    let early = got[0].iter().filter(|a| a.kind == AlertKind::Early).count();
    assert!(early > 0 && 2 * early == got[0].len(), "{early}");
    for (i, what) in ["push-batch", "push-ndjson", "scan + apply"]
        .iter()
        .enumerate()
    {
        assert_same_alerts(&got[i + 1], &got[0], what);
    }
    let finals: Vec<_> = got[0]
        .iter()
        .filter(|a| a.kind == AlertKind::Final)
        .cloned()
        .collect();
    assert_same_alerts(&finals, &finals_off, "final alerts, early alerts off");
    let stats = inst.stats(simple).unwrap();
    let counted: u64 = stats.rules.iter().map(|r| r.early_alerts).sum();
    assert_eq!(counted, early as u64);
    assert_eq!(inst.stats(staged).unwrap(), stats);
}

/// Version 0.3.0: the component's reader, `detector.read`, `format-alert`
/// and the defaults, against the Rust host's native code.
mod reader {
    use std::path::Path;
    use std::time::Duration;

    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use crossbeam_channel::bounded;
    use recon::input::{self, BufferPool, ChunkOptions, InputError, InputMsg};
    use recon::output::{Format, alert_line};
    use recon::runtime::{
        AlertFormat, ChunkLocations, Instance, Profile, ReadEvent, ReadStep, ReaderOptions,
        RejectReason, Rule,
    };
    use recon_reader::{Chunk, Loc, Locs, wording};

    use crate::util::{burst_sample, runtime, scratch_dir};

    /// Records (with where each came from) and reports, in order.
    #[derive(Debug, Default, PartialEq, Eq)]
    struct Read {
        records: Vec<(Loc, String)>,
        reports: Vec<String>,
    }

    const LIMIT: u32 = 1 << 18;
    const CHUNK: u32 = 64 << 10;

    /// The Rust host's reader (its threads and the crate) on a file.
    fn host_read(path: &Path) -> Read {
        let (tx, rx) = bounded(4);
        let inputs = vec![recon::sources::Source::File(path.to_owned())];
        let options = ChunkOptions {
            chunk_bytes: CHUNK as usize,
            linger: Duration::from_secs(3600),
            max_line_bytes: LIMIT as usize,
        };
        let t = std::thread::spawn(move || {
            input::chunk_inputs(&inputs, options, &BufferPool::default(), &tx)
        });
        let mut r = Read::default();
        for m in rx {
            match m {
                InputMsg::Chunk(_, c) => r.records.extend(c.located_records()),
                InputMsg::TooLarge(_, at, bytes) => {
                    r.reports
                        .push(wording::too_large(at, bytes, u64::from(LIMIT)))
                }
                InputMsg::Unreadable(_, InputError::Unreadable { reason, .. }) => {
                    r.reports.push(reason)
                }
                InputMsg::Unreadable(_, e) => panic!("{e}"),
                InputMsg::Control(_, at) => r.reports.push(format!("{at}: control message")),
                InputMsg::BadEnvelope(_, at, message) => {
                    r.reports.push(wording::bad_envelope(at, &message))
                }
                InputMsg::Ended(..) => {}
            }
        }
        t.join().unwrap();
        r
    }

    fn loc(l: &recon::runtime::Location) -> Loc {
        Loc {
            line: l.line,
            record: l.record,
            log_event: l.log_event,
        }
    }

    fn absorb(r: &mut Read, events: Vec<ReadEvent>) {
        for e in events {
            match e {
                ReadEvent::Chunk(c) => {
                    let chunk = Chunk {
                        data: c.data,
                        locs: match c.locations {
                            ChunkLocations::Lines(first_line) => Locs::Lines { first_line },
                            ChunkLocations::Records(l) => {
                                Locs::Records(l.iter().map(loc).collect())
                            }
                        },
                    };
                    r.records.extend(chunk.located_records());
                }
                ReadEvent::TooLarge(t) => {
                    assert_eq!(
                        t.message,
                        wording::too_large(loc(&t.at), t.bytes, u64::from(LIMIT))
                    );
                    r.reports.push(t.message);
                }
                ReadEvent::Unreadable(reason) => r.reports.push(reason),
                ReadEvent::ControlMessage(at) => {
                    r.reports.push(format!("{}: control message", loc(&at)))
                }
                ReadEvent::BadEnvelope(b) => r.reports.push(b.message),
            }
        }
    }

    /// Cut points for `len` bytes: pieces of `step` bytes, every third
    /// piece a little shorter, so cuts fall everywhere.
    fn cuts(len: usize, step: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        let mut from = 0;
        let mut k = 0;
        while from < len {
            let n = if k % 3 == 2 { step / 2 + 1 } else { step };
            let to = (from + n).min(len);
            out.push((from, to));
            from = to;
            k += 1;
        }
        out
    }

    fn options() -> ReaderOptions {
        ReaderOptions {
            max_record_bytes: Some(LIMIT),
            chunk_bytes: Some(CHUNK),
        }
    }

    /// The component's reader on `bytes` cut in pieces of `step`, as bytes
    /// or (when every piece is UTF-8) as text, pausing every fifth piece.
    fn component_read(inst: &mut Instance, bytes: &[u8], step: usize, text: bool) -> Read {
        let reader = inst.create_reader(options()).unwrap();
        let mut r = Read::default();
        for (k, (from, to)) in cuts(bytes.len(), step).into_iter().enumerate() {
            let piece = &bytes[from..to];
            let events = match std::str::from_utf8(piece) {
                Ok(t) if text => inst.reader_feed_text(reader, t).unwrap(),
                _ => inst.reader_feed(reader, piece).unwrap(),
            };
            absorb(&mut r, events);
            if k % 5 == 4 {
                let events = inst.reader_pause(reader).unwrap();
                absorb(&mut r, events);
            }
        }
        let events = inst.reader_finish(reader).unwrap();
        absorb(&mut r, events);
        assert!(inst.reader_finish(reader).unwrap().is_empty());
        r
    }

    /// The component's reader gives exactly the Rust host's records and
    /// reports on every file of the hostile corpus, whatever the cuts.
    #[test]
    fn the_components_reader_reads_as_the_host_does() {
        let dir = scratch_dir("component-reader");
        let mut inst = runtime().instantiate().unwrap();
        for (i, (name, bytes)) in crate::hostile_files::inputs().into_iter().enumerate() {
            let path = dir.join(format!("case-{i}"));
            std::fs::write(&path, &bytes).unwrap();
            let want = host_read(&path);
            // Byte by byte for the small files; the large ones in pieces
            // that still cut their records anywhere.
            let steps: &[usize] = if bytes.len() > 1 << 20 {
                &[bytes.len(), 1 << 20, 300_007]
            } else if bytes.len() > 64 << 10 {
                &[bytes.len(), 4096, 997]
            } else {
                &[bytes.len().max(1), 4096, 7, 1]
            };
            for &step in steps {
                for text in [false, true] {
                    let got = component_read(&mut inst, &bytes, step, text);
                    assert!(
                        got == want,
                        "{name}, pieces of {step} (text {text}): the component read\n{:?}\nthe host\n{:?}",
                        (got.records.len(), &got.reports),
                        (want.records.len(), &want.reports)
                    );
                }
            }
            std::fs::remove_file(&path).unwrap();
        }
    }

    /// `detector.read` is a reader and `push-ndjson` on each chunk, with
    /// every rejection reported at its location in the shared wording.
    #[test]
    fn read_is_the_reader_and_push_ndjson() {
        let rules = [
            Rule::from("sentinel-aws-cli-recon"),
            Rule::from("elastic-aws-discovery-burst"),
        ];
        let mut corpus = crate::hostile_files::inputs();
        let sample = std::fs::read(burst_sample()).unwrap();
        corpus.push(("burst sample".to_owned(), sample));
        let mut inst = runtime().instantiate().unwrap();
        let config = inst.default_config(&rules, Profile::Default).unwrap();
        for (name, bytes) in corpus {
            // One crossing per step.
            let d1 = inst.create(&config).unwrap();
            let r1 = inst.create_reader(options()).unwrap();
            let mut reports = Vec::new();
            let mut records = 0u64;
            let mut too_large = 0u64;
            let mut skipped = 0u64;
            // Every other piece as base64 text (`read-step.base64`): the
            // same bytes, another crossing.
            let mut steps: Vec<ReadStep> = cuts(bytes.len(), 100_003)
                .into_iter()
                .enumerate()
                .map(|(i, (a, b))| {
                    if i % 2 == 1 {
                        ReadStep::Base64(BASE64.encode(&bytes[a..b]))
                    } else {
                        ReadStep::Bytes(bytes[a..b].to_vec())
                    }
                })
                .collect();
            steps.insert(steps.len().min(1), ReadStep::Pause);
            steps.push(ReadStep::End);
            let mut unreadable = None;
            let mut control = 0u64;
            for step in &steps {
                let r = inst.read(d1, r1, step).unwrap();
                records += u64::from(r.records);
                skipped += u64::from(r.skipped);
                control += u64::from(r.control_messages);
                for p in &r.reports {
                    too_large += u64::from(
                        p.reason == Some(RejectReason::TooLarge)
                            && p.rule.is_none()
                            && p.message.contains("skipped without being read whole"),
                    );
                }
                reports.extend(r.reports.into_iter().map(|p| p.message));
                if r.unreadable.is_some() {
                    unreadable = r.unreadable;
                }
            }
            // The reader, then push-ndjson on each chunk.
            let d2 = inst.create(&config).unwrap();
            let r2 = inst.create_reader(options()).unwrap();
            let mut want = Vec::new();
            let mut want_unreadable = None;
            let (mut want_control, mut bad) = (0u64, 0u64);
            for step in &steps {
                let events = match step {
                    ReadStep::Bytes(b) => inst.reader_feed(r2, b).unwrap(),
                    ReadStep::Text(t) => inst.reader_feed_text(r2, t).unwrap(),
                    ReadStep::Base64(t) => {
                        inst.reader_feed(r2, &BASE64.decode(t).unwrap()).unwrap()
                    }
                    ReadStep::Pause => inst.reader_pause(r2).unwrap(),
                    ReadStep::End => inst.reader_finish(r2).unwrap(),
                };
                for e in events {
                    match e {
                        ReadEvent::Chunk(c) => {
                            let b = inst.push_ndjson(d2, &c.data).unwrap();
                            let chunk = Chunk {
                                data: c.data,
                                locs: match c.locations {
                                    ChunkLocations::Lines(first_line) => Locs::Lines { first_line },
                                    ChunkLocations::Records(l) => {
                                        Locs::Records(l.iter().map(loc).collect())
                                    }
                                },
                            };
                            let mut lines: Vec<(u32, String)> = b
                                .ahead
                                .iter()
                                .map(|i| (*i, wording::far_ahead(chunk.loc(*i))))
                                .collect();
                            for e in &b.errors {
                                lines.push((
                                    e.index,
                                    wording::rejected(
                                        chunk.loc(e.index),
                                        recon::detect::reason_name(e.error.reason),
                                        &e.error.message,
                                        e.rule.as_deref(),
                                    ),
                                ));
                            }
                            // Stable: far-ahead first at a line, then its errors.
                            lines.sort_by_key(|(i, _)| *i);
                            want.extend(lines.into_iter().map(|(_, m)| m));
                        }
                        ReadEvent::TooLarge(t) => want.push(t.message),
                        ReadEvent::Unreadable(reason) => {
                            want.push(reason.clone());
                            want_unreadable = Some(reason);
                        }
                        ReadEvent::ControlMessage(_) => want_control += 1,
                        ReadEvent::BadEnvelope(b) => {
                            bad += 1;
                            want.push(b.message);
                        }
                    }
                }
            }
            assert_eq!(reports, want, "{name}");
            assert_eq!(unreadable, want_unreadable, "{name}");
            let (s1, s2) = (inst.stats(d1).unwrap(), inst.stats(d2).unwrap());
            // Records skipped for their size are reported, counted in
            // `skipped`, and never handed to the detector.
            // So are envelope values that hold no record; control messages
            // are counted apart.
            assert_eq!(skipped, too_large + bad, "{name}");
            assert_eq!(control, want_control, "{name}");
            assert_eq!(s1.pushed, records, "{name}");
            assert_eq!(s1.pushed, s2.pushed, "{name}");
            for (a, b) in s1.rules.iter().zip(&s2.rules) {
                assert_eq!(
                    (a.accepted, a.filtered, a.late, a.watermark),
                    (b.accepted, b.filtered, b.late, b.watermark),
                    "{name}"
                );
                assert_eq!(a.rejected, b.rejected, "{name}");
            }
            inst.flush(d1, None).unwrap();
            inst.flush(d2, None).unwrap();
            assert_eq!(inst.drain(d1).unwrap(), inst.drain(d2).unwrap(), "{name}");
        }
    }

    /// `format-alert` writes exactly the native formatter's bytes.
    #[test]
    fn format_alert_is_the_native_formatter() {
        let rules = [
            Rule::from("sentinel-aws-cli-recon"),
            Rule::from("elastic-aws-discovery-burst"),
        ];
        let mut inst = runtime().instantiate().unwrap();
        let config = inst.default_config(&rules, Profile::Default).unwrap();
        let d = inst.create(&config).unwrap();
        let mut trail = Vec::new();
        let opts = recon_gen::GenOptions {
            seed: 4,
            count: 30_000,
            bursts: 24,
            ..recon_gen::GenOptions::default()
        };
        recon_gen::write_ndjson(opts, &mut trail).unwrap();
        inst.push_ndjson(d, &trail).unwrap();
        inst.flush(d, None).unwrap();
        let mut alerts = inst.drain(d).unwrap();
        assert!(alerts.len() >= 10, "{}", alerts.len());
        // Times with a fraction, at the edges, and before the epoch.
        let mut odd = alerts[0].clone();
        odd.window_start = -1;
        odd.window_end = 1_500;
        alerts.push(odd);
        for a in &alerts {
            for (native, wit) in [
                (Format::Native, AlertFormat::Native),
                (Format::Ocsf, AlertFormat::Ocsf),
            ] {
                for tenant in [None, Some("acme")] {
                    assert_eq!(
                        inst.format_alert(a, wit, tenant).unwrap(),
                        alert_line(a, tenant, native).unwrap()
                    );
                }
            }
        }
        // A row that is not JSON still gives a line.
        let mut broken = alerts[0].clone();
        broken.row = "not json".into();
        let line = inst
            .format_alert(&broken, AlertFormat::Native, None)
            .unwrap();
        assert!(line.contains(r#""row":"not json""#), "{line}");
    }

    /// The defaults the component exports are the ones the host and the
    /// reader crate are built from.
    #[test]
    fn the_exported_defaults_are_the_shared_constants() {
        let mut inst = runtime().instantiate().unwrap();
        let o = inst.default_reader_options().unwrap();
        assert_eq!(
            o.max_record_bytes,
            Some(recon_reader::DEFAULT_MAX_RECORD_BYTES)
        );
        assert_eq!(o.chunk_bytes, Some(recon_reader::DEFAULT_CHUNK_BYTES));
        let all = inst.default_config(&[], Profile::Seed).unwrap();
        assert_eq!(all.rules.len(), 2);
        assert_eq!(
            all.limits.max_event_bytes,
            Some(recon::settings::DEFAULT_MAX_EVENT_BYTES)
        );
        assert_eq!(
            all.allowed_lateness_ms,
            Some(recon_guest::config::DEFAULT_ALLOWED_LATENESS_MS)
        );
        let seed = recon_guest::config::SENTINEL_SEED_COMMANDS;
        assert_eq!(
            all.rules[0].commands.as_ref().map(Vec::len),
            Some(seed.len())
        );
        assert!(all.rules[0].providers.is_none());
        // Filled in, the configuration is the one the defaults give.
        let d = inst.create(&all).unwrap();
        let e = inst
            .create(&recon::runtime::Config::defaults(
                &[
                    Rule::from("sentinel-aws-cli-recon"),
                    Rule::from("elastic-aws-discovery-burst"),
                ],
                Profile::Seed,
            ))
            .unwrap();
        let sample = std::fs::read(burst_sample()).unwrap();
        assert_eq!(
            inst.push_ndjson(d, &sample).unwrap(),
            inst.push_ndjson(e, &sample).unwrap()
        );
        // Out of range.
        assert!(
            inst.create_reader(ReaderOptions {
                max_record_bytes: Some(0),
                chunk_bytes: None
            })
            .is_err()
        );
    }
}
