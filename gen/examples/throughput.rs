//! Times the generator: `cargo run --release -p recon-gen --example
//! throughput [COUNT]` generates COUNT records (default 1 000 000) into a
//! reused buffer and prints records/s and MB/s.

use std::time::Instant;

use recon_gen::{GenOptions, Generator};

fn main() -> Result<(), recon_gen::GenError> {
    let count = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000u64);
    let opts = GenOptions {
        count,
        bursts: 100,
        ..GenOptions::default()
    };
    let started = Instant::now();
    let mut generator = Generator::new(opts)?;
    let mut buf = String::with_capacity(4096);
    let (mut n, mut bytes) = (0u64, 0u64);
    while generator.next_into(&mut buf) {
        n += 1;
        bytes += buf.len() as u64 + 1;
        buf.clear();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{n} records, {:.1} MB in {secs:.3} s: {:.0} records/s, {:.0} MB/s",
        bytes as f64 / 1e6,
        n as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    Ok(())
}
