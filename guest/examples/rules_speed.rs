//! Native speed of the first stage with rule files, and how much the
//! pre-filter settles: `cargo run --release -p recon-guest --example
//! rules_speed -- FILE RULES...` (no RULES: the built-ins alone).

use std::time::Instant;

use recon_guest::Scanner;
use recon_guest::config::{Profile, Settings};
use recon_guest::prefilter::{Plan, Verdict};
use recon_guest::sigma::{RuleFile, compile};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("an NDJSON file");
    let files: Vec<RuleFile> = args
        .map(|p| RuleFile {
            text: std::fs::read_to_string(&p).expect("a rule file"),
            name: p,
        })
        .collect();
    let data = std::fs::read(&path).expect("readable");
    let mut settings = if files.is_empty() {
        Settings::all(Profile::Default)
    } else {
        Settings::with_rules(Vec::new(), Profile::Default)
    };
    settings.rule_files = files.clone();
    if !files.is_empty() {
        let c = compile(&files).expect("rules compile");
        let plan = Plan::new(
            false,
            &c.rules
                .iter()
                .map(|r| r.needles.clone())
                .collect::<Vec<_>>(),
        );
        let (mut n, mut settled) = (0u64, 0u64);
        for line in data.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            n += 1;
            settled += matches!(plan.settle(line), Verdict::Filtered(_)) as u64;
        }
        println!("pre-filter settles {settled} of {n} records");
        for r in &c.rules {
            println!("  {}: {:?}", r.name, r.needles);
        }
    }
    let scanner = Scanner::new(settings).expect("valid settings");
    let mut start = 0;
    let t = Instant::now();
    while start < data.len() {
        let mut end = (start + (1 << 20)).min(data.len());
        while end < data.len() && data[end - 1] != b'\n' {
            end += 1;
        }
        scanner.scan(&data[start..end]);
        start = end;
    }
    let s = t.elapsed().as_secs_f64();
    println!("scan: {:.3} s, {:.0} MB/s", s, data.len() as f64 / s / 1e6);
}
