//! Native speed of the first stage on an NDJSON file:
//! `cargo run --release -p recon-guest --example scan_speed -- FILE`.

use std::time::Instant;

use recon_guest::config::{Profile, Settings};
use recon_guest::{Detector, Scanner};

fn main() {
    let path = std::env::args().nth(1).expect("an NDJSON file");
    let data = std::fs::read(&path).expect("readable");
    let chunks: Vec<&[u8]> = {
        let mut v = Vec::new();
        let mut start = 0;
        while start < data.len() {
            let mut end = (start + (1 << 20)).min(data.len());
            while end < data.len() && data[end - 1] != b'\n' {
                end += 1;
            }
            v.push(&data[start..end]);
            start = end;
        }
        v
    };
    let only = std::env::args().nth(2);
    for prefilter in [true, false] {
        if only.as_deref().is_some_and(|o| o != prefilter.to_string()) {
            continue;
        }
        let mut scanner = Scanner::new(Settings::all(Profile::Default)).unwrap();
        scanner.set_prefilter(prefilter);
        let t = Instant::now();
        let mut records = 0u64;
        for c in &chunks {
            records += u64::from(scanner.scan(c).records);
        }
        let s = t.elapsed().as_secs_f64();
        println!(
            "scan, prefilter {prefilter}: {records} records in {s:.3} s, {:.0} MB/s",
            data.len() as f64 / s / 1e6
        );
    }
    if only.is_some() {
        return;
    }
    let mut d = Detector::new(Settings::all(Profile::Default)).unwrap();
    let t = Instant::now();
    for c in &chunks {
        d.push_ndjson(c);
    }
    d.flush(None);
    let alerts = d.drain().len();
    let s = t.elapsed().as_secs_f64();
    println!(
        "push-ndjson: {alerts} alerts in {s:.3} s, {:.0} MB/s",
        data.len() as f64 / s / 1e6
    );
}
