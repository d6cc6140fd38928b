//! The Rust library's "twenty lines to a first alert" (docs/hosts/rust.md):
//! `cargo run --release -p recon --example first_alert -- TRAIL.ndjson`.

use recon::guard::{GuardSettings, GuardedDetector};
use recon::output::alert_json;
use recon::runtime::{Config, Profile, Rule, Runtime, SandboxLimits};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args()
        .nth(1)
        .ok_or("usage: first_alert TRAIL.ndjson")?;
    // Compile the component once (or `Runtime::cached(limits, dir)` to keep
    // the compiled code between runs: about 10 ms to start).
    let runtime = Runtime::new(SandboxLimits::default())?;
    let rules = [
        Rule::from("sentinel-aws-cli-recon"),
        Rule::from("elastic-aws-discovery-burst"),
    ];
    let config = Config::defaults(&rules, Profile::Default);
    // A detector in its own instance that survives traps.
    let mut detector = GuardedDetector::create(&runtime, &config, GuardSettings::default())?;
    let records = std::fs::read(path)?;
    let pushed = detector.push_ndjson(&records)?; // best in calls of about 1 MiB
    for e in &pushed.result.errors {
        eprintln!(
            "line {}: {:?}: {}",
            e.index + 1,
            e.error.reason,
            e.error.message
        );
    }
    detector.flush(None)?; // the end of the stream: close every window
    for alert in detector.drain()? {
        println!("{}", alert_json(&alert)?);
    }
    Ok(())
}
