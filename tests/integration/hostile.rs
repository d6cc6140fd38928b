//! Gzip bombs through the `recon` binary, in bounded memory. The corpus of
//! hostile files (every layout, plain and gzipped, with the exact output
//! each must give) is data, `tests/data/hostile-files`, run by
//! `hostile_files.rs` here and by the Node and Python hosts' tests; the
//! record-by-record corpus is `guest/tests/hostile.rs`;
//! `docs/hostile-input.md` describes them.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::util::scratch_dir;

/// Writes a gzip file of `total` bytes of `byte` (made in pieces: the
/// bomb is never whole in memory here either).
fn write_bomb(path: &Path, byte: u8, total: usize) {
    let file = std::fs::File::create(path).unwrap();
    let mut e = GzEncoder::new(std::io::BufWriter::new(file), Compression::fast());
    let piece = vec![byte; 1 << 20];
    for _ in 0..total / piece.len() {
        e.write_all(&piece).unwrap();
    }
    e.finish().unwrap();
}

/// Runs the CLI on `path` and samples its peak resident set (`VmHWM`)
/// until it exits: the last sample, in MiB, and its output.
fn peak_rss_mib(path: &Path, cache: &Path) -> (u64, std::process::Output) {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_recon"))
        .args(["detect", "--workers", "1", "--cache-dir"])
        .arg(cache)
        .arg(path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let sampler = std::thread::spawn(move || {
        let mut peak = 0u64;
        while let Ok(s) = std::fs::read_to_string(&status) {
            let Some(kib) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                break; // a zombie: its memory is gone
            };
            peak = peak.max(kib);
            std::thread::sleep(Duration::from_millis(5));
        }
        peak / 1024
    });
    let out = child.wait_with_output().unwrap();
    (sampler.join().unwrap(), out)
}

/// Gzip bombs: a gigabyte of one byte, compressed about a thousand to
/// one, in every shape the reader must not hold whole (one line, an
/// unclosed array, an object, blank lines). The reader bounds what it
/// holds by the line limit, so the process stays small.
#[test]
fn gzip_bombs_run_in_bounded_memory() {
    let dir = scratch_dir("hostile-bombs");
    let cache = dir.join("cache");
    const GIB: usize = 1 << 30;
    // Compile the component into the cache first: its compilation is not
    // what is measured.
    let empty = dir.join("empty");
    std::fs::write(&empty, b"").unwrap();
    assert!(peak_rss_mib(&empty, &cache).1.status.success());
    // Exit status 1: the input is unreadable (the array), or its one
    // record was too large to read (a line of x, the object), so nothing
    // of it could be read; blank lines are no records at all.
    for (name, byte, fails) in [
        ("one line of x", b'x', true),
        ("an unclosed array", b'[', true),
        ("an unclosed object", b'{', true),
        ("blank lines", b'\n', false),
    ] {
        let path = dir.join(format!("bomb-{}.gz", byte));
        write_bomb(&path, byte, GIB);
        let compressed = std::fs::metadata(&path).unwrap().len();
        let (peak, out) = peak_rss_mib(&path, &cache);
        let stderr = String::from_utf8_lossy(&out.stderr);
        eprintln!("{name}: {compressed} bytes of gzip, 1 GiB inflated, peak RSS {peak} MiB");
        assert_eq!(out.status.success(), !fails, "{name}: {stderr}");
        assert!(out.stdout.is_empty(), "{name}");
        assert!(
            peak > 0 && peak < 256,
            "{name}: peak RSS {peak} MiB\n{stderr}"
        );
        std::fs::remove_file(&path).unwrap();
    }
}
