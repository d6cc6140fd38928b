//! What an allowed lateness costs, on a trail read in delivery order
//! (docs/delivery.md): for each lateness, the alerts found, the records
//! lost as late, how long (in event time) each alert waits behind the
//! newest record read, the most windows and groups held open, and the
//! component's linear memory.
//!
//! ```text
//! recon gen --delivery --count 1000000 --bursts 200 --seed 9 -o DIR
//! cargo run --release -p recon --example lateness_cost -- DIR 60 300 600 900
//! ```

use recon::input::read_records;
use recon::runtime::{Config, Profile, Rule, Runtime, SandboxLimits};
use recon::sources::{Order, list};

/// Records per push (about 1 MiB, as `recon detect` calls).
const BATCH: usize = 1000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: lateness_cost DIR SECONDS...")?;
    let latenesses: Vec<u64> = args.map(|a| a.parse()).collect::<Result<_, _>>()?;
    let listing = list(&[dir.into()], Order::Given);
    let mut records = Vec::new();
    for s in &listing.sources {
        let recon::sources::Source::File(path) = s else {
            return Err(format!("{}: not a file", s.name()).into());
        };
        records.extend(read_records(path)?);
    }
    eprintln!(
        "{} records from {} objects",
        records.len(),
        listing.sources.len()
    );
    let runtime = Runtime::new(SandboxLimits::default())?;
    println!(
        "| allowed lateness | alerts | late records | alert wait, median | alert wait, max | most open windows | most open groups | linear memory |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for seconds in latenesses {
        let mut config = Config::defaults(
            &[
                Rule::from("sentinel-aws-cli-recon"),
                Rule::from("elastic-aws-discovery-burst"),
            ],
            Profile::Default,
        );
        config.allowed_lateness_ms = Some(seconds * 1000);
        let mut instance = runtime.instantiate()?;
        let d = instance.create(&config)?;
        let (mut windows, mut groups, mut memory) = (0u32, 0u32, 0usize);
        let mut waits = Vec::new();
        let mut alerts = 0usize;
        for batch in records.chunks(BATCH) {
            let mut ndjson = batch.join("\n").into_bytes();
            ndjson.push(b'\n');
            instance.push_ndjson(d, &ndjson)?;
            let stats = instance.stats(d)?;
            windows = windows.max(stats.rules.iter().map(|r| r.open_windows).sum());
            groups = groups.max(stats.rules.iter().map(|r| r.open_groups).sum());
            memory = memory.max(instance.memory_bytes());
            let newest = stats.rules.iter().filter_map(|r| r.watermark).max();
            for a in instance.drain(d)? {
                alerts += 1;
                if let Some(w) = newest {
                    waits.push(w - a.window_end);
                }
            }
        }
        instance.flush(d, None)?;
        alerts += instance.drain(d)?.len();
        let stats = instance.stats(d)?;
        let late: u64 = stats.rules.iter().map(|r| r.late).sum();
        waits.sort_unstable();
        let minutes = |ms: Option<&i64>| {
            ms.map(|m| format!("{:.1} min", *m as f64 / 60_000.0))
                .unwrap_or_else(|| "-".into())
        };
        println!(
            "| {seconds} s | {alerts} | {late} | {} | {} | {windows} | {groups} | {:.1} MiB |",
            minutes(waits.get(waits.len() / 2)),
            minutes(waits.last()),
            memory as f64 / (1 << 20) as f64
        );
    }
    Ok(())
}
