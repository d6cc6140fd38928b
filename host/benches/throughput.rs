//! Throughput of the detector: natively (the core as a Rust library) and
//! through the component (wasmtime, sandbox limits on), at several batch
//! sizes, so the cost of the call boundary and of running in wasm show up
//! as ratios measured in one run. Input: 20,000 generated CloudTrail
//! records (about 1 KB each) with injected bursts. Figures: BENCHMARKS.md.
//!
//! `cargo bench -p recon --bench throughput`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use recon::runtime::{Config, Profile, Rule, Runtime, SandboxLimits};
use recon_gen::{GenOptions, Generator};

const EVENTS: usize = 20_000;

fn events() -> Vec<String> {
    Generator::new(GenOptions {
        seed: 42,
        count: EVENTS as u64,
        bursts: 40,
        ..GenOptions::default()
    })
    .expect("valid options")
    .collect()
}

fn rules() -> [(&'static str, Rule, recon_guest::Rule); 2] {
    [
        (
            "sentinel",
            Rule::SentinelAwsCliRecon,
            recon_guest::Rule::Sentinel,
        ),
        (
            "elastic",
            Rule::ElasticAwsDiscoveryBurst,
            recon_guest::Rule::Elastic,
        ),
    ]
}

fn native(c: &mut Criterion, events: &[String]) {
    let mut g = c.benchmark_group("native");
    g.throughput(Throughput::Elements(events.len() as u64));
    for (name, _, rule) in rules() {
        g.bench_function(name, |b| {
            b.iter(|| {
                let settings = recon_guest::Settings::new(rule, recon_guest::Profile::Default);
                let mut d = recon_guest::Detector::new(settings).unwrap();
                d.push_batch(events);
                d.flush(None);
                d.drain().len()
            })
        });
    }
    g.finish();
}

fn component(c: &mut Criterion, events: &[String]) {
    let runtime = Runtime::new(SandboxLimits::default()).unwrap();
    let mut g = c.benchmark_group("component");
    g.throughput(Throughput::Elements(events.len() as u64));
    for (name, rule, _) in rules() {
        for batch in [1usize, 100, 1000] {
            g.bench_with_input(BenchmarkId::new(name, batch), &batch, |b, &batch| {
                b.iter(|| {
                    let mut inst = runtime.instantiate().unwrap();
                    let d = inst
                        .create(&Config::defaults(rule, Profile::Default))
                        .unwrap();
                    for chunk in events.chunks(batch) {
                        inst.push_batch(d, chunk).unwrap();
                    }
                    inst.flush(d, None).unwrap();
                    inst.drain(d).unwrap().len()
                })
            });
        }
    }
    g.finish();
}

fn benches(c: &mut Criterion) {
    let events = events();
    native(c, &events);
    component(c, &events);
}

criterion_group! {
    name = throughput;
    config = Criterion::default().sample_size(10).measurement_time(std::time::Duration::from_secs(4));
    targets = benches
}
criterion_main!(throughput);
