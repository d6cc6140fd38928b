//! Speed of the component's bulk input on an NDJSON file, against the same
//! code natively: `cargo run --release -p recon --example component_speed -- FILE`.

use std::time::Instant;

use recon::runtime::{Config, Profile, Rule, Runtime, SandboxLimits};
use recon_guest::Detector;
use recon_guest::config::{Profile as CoreProfile, Settings};

fn main() {
    let path = std::env::args().nth(1).expect("an NDJSON file");
    let data = std::fs::read(&path).expect("readable");
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let mut end = (start + (1 << 20)).min(data.len());
        while end < data.len() && data[end - 1] != b'\n' {
            end += 1;
        }
        chunks.push(&data[start..end]);
        start = end;
    }
    let limits = if std::env::var_os("NO_DEADLINE").is_some() {
        SandboxLimits {
            call_timeout: None,
            ..SandboxLimits::default()
        }
    } else {
        SandboxLimits::default()
    };
    let rt = Runtime::new(limits).expect("component");
    let config = Config::defaults(
        &[
            Rule::from("sentinel-aws-cli-recon"),
            Rule::from("elastic-aws-discovery-burst"),
        ],
        Profile::Default,
    );
    for _ in 0..3 {
        let t = Instant::now();
        let mut d = Detector::new(Settings::all(CoreProfile::Default)).expect("detector");
        for c in &chunks {
            d.push_ndjson(c);
        }
        d.flush(None);
        let native = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut inst = rt.instantiate().expect("instance");
        let h = inst.create(&config).expect("detector");
        for c in &chunks {
            inst.push_ndjson(h, c).expect("push");
        }
        inst.flush(h, None).expect("flush");
        let wasm = t.elapsed().as_secs_f64();
        let mb = data.len() as f64 / 1e6;
        println!(
            "native {:.0} MB/s, component {:.0} MB/s, ratio {:.2}",
            mb / native,
            mb / wasm,
            native / wasm
        );
    }
}
