//! The contract through the real component: imports, typed errors,
//! counters, snapshots, independence of detectors, sandbox limits.

use recon::runtime::{
    ApplyError, COMPONENT, CacheOutcome, ConfigError, HostError, Outcome, Profile, RejectReason,
    Rule, Runtime, SandboxLimits, SnapshotError,
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
    assert_eq!(exports, vec!["recon:detector/detection@0.3.0".to_owned()]);
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
            &[Rule::ElasticAwsDiscoveryBurst],
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
        &[Rule::SentinelAwsCliRecon, Rule::ElasticAwsDiscoveryBurst],
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
