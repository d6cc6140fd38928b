//! The generator's output without the catalogue option is pinned byte for
//! byte: the hashes below were taken from the generator as it was before
//! the option existed (commit 30c72b3), so adding it (or anything else that
//! is off by default) cannot move a single byte of what existing tests,
//! benchmarks and users generate.

use recon_gen::{DeliveryOptions, GenOptions, write_delivery, write_ndjson};

/// FNV-1a, 64 bits: small, fixed, no dependency.
fn fnv(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x100_0000_01b3);
    }
    h
}

const FNV_START: u64 = 0xcbf2_9ce4_8422_2325;

#[test]
fn default_output_is_byte_for_byte_what_it_was() {
    let cases = [
        (GenOptions::default(), 11_513_968, 0x8750_cab2_856d_a1d5_u64),
        (
            GenOptions {
                seed: 7,
                count: 30_000,
                ..GenOptions::default()
            },
            34_993_620,
            0xe76e_d983_42b0_ec2b,
        ),
        (
            GenOptions {
                seed: 42,
                count: 25_000,
                bursts: 25,
                duplicate_rate: 0.01,
                aws_cli_share: Some(0.5),
                max_disorder_ms: 0,
                ..GenOptions::default()
            },
            30_286_605,
            0xd420_6cfd_5a29_7ce0,
        ),
        (
            GenOptions {
                seed: 3,
                count: 5_000,
                rate_per_sec: 2.0,
                bursts: 40,
                max_disorder_ms: 60_000,
                ..GenOptions::default()
            },
            5_828_630,
            0xa442_2b81_31cf_e3d6,
        ),
    ];
    for (opts, len, hash) in cases {
        assert_eq!(opts.catalogue_rounds, 0);
        let mut out = Vec::new();
        write_ndjson(opts.clone(), &mut out).unwrap();
        assert_eq!(
            (out.len(), fnv(&out, FNV_START)),
            (len, hash),
            "output changed for {opts:?}"
        );
    }
}

#[test]
fn default_delivery_is_byte_for_byte_what_it_was() {
    let dir = std::env::temp_dir().join(format!("recon-gen-stable-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    write_delivery(
        GenOptions {
            seed: 9,
            count: 8_000,
            ..GenOptions::default()
        },
        DeliveryOptions::default(),
        &dir,
    )
    .unwrap();
    fn walk(d: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out)
            } else {
                out.push(p)
            }
        }
    }
    let mut files = Vec::new();
    walk(&dir, &mut files);
    files.sort();
    let mut h = FNV_START;
    for f in &files {
        h = fnv(
            f.strip_prefix(&dir).unwrap().to_str().unwrap().as_bytes(),
            h,
        );
        // The objects' content, not their gzip bytes: those depend on the
        // deflate backend flate2 is built with, which feature unification
        // picks differently for `-p recon-gen` and `--workspace`.
        let mut raw = Vec::new();
        std::io::Read::read_to_end(
            &mut flate2::read::MultiGzDecoder::new(std::fs::File::open(f).unwrap()),
            &mut raw,
        )
        .unwrap();
        h = fnv(&raw, h);
    }
    std::fs::remove_dir_all(&dir).ok();
    // Taken at 30c72b3, before the catalogue option existed.
    assert_eq!((files.len(), h), (660, 0x472d_a57e_a6da_0e74));
}
