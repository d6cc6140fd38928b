//! The contract through the real component: imports, typed errors,
//! counters, snapshots, independence of detectors, sandbox limits.

use recon::runtime::{
    COMPONENT, ConfigError, HostError, Outcome, Profile, RejectReason, Rule, Runtime,
    SandboxLimits, SnapshotError,
};
use wasmtime::Trap;

use crate::util::{burst_sample, read_records, run, runtime, sentinel, sentinel_ai};

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
    assert_eq!(exports, vec!["recon:detector/detection@0.1.0".to_owned()]);
}

#[test]
fn invalid_configuration_is_a_typed_error() {
    let mut inst = runtime().instantiate().unwrap();
    let mut c = sentinel(Profile::Default);
    c.window_ms = Some(0);
    match inst.create(&c) {
        Err(HostError::Config(ConfigError::OutOfRange(m))) => {
            assert!(m.contains("window-ms"), "{m}")
        }
        other => panic!("expected out-of-range, got {other:?}"),
    }
    let mut c = sentinel(Profile::Default);
    c.commands = Some(vec![]);
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
    assert!(matches!(inst.push(d, &ok).unwrap(), Ok(Outcome::Filtered)));
    let e = inst
        .push(d, "{\"eventTime\":\"soon\",\"eventName\":\"X\"}")
        .unwrap()
        .unwrap_err();
    assert!(matches!(e.reason, RejectReason::InvalidTime));
    assert!(e.message.contains("eventTime"), "{}", e.message);

    let batch: Vec<String> = vec![ok.clone(), "nope".into(), "[1]".into(), ok, "{}".into()];
    let r = inst.push_batch(d, &batch).unwrap();
    assert_eq!(r.filtered, 2);
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
    assert_eq!((s.pushed, s.filtered, s.rejected), (7, 3, 4));
    assert_eq!(s.rejected_by_reason.len(), 4);
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
            Rule::ElasticAwsDiscoveryBurst,
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
        fuel_per_call: Some(50_000),
        ..SandboxLimits::default()
    };
    let rt = Runtime::new(limits).unwrap();
    let mut inst = rt.instantiate().unwrap();
    let d = inst.create(&sentinel(Profile::Default)).unwrap();
    let events = read_records(&burst_sample());
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
