//! `Detector::read`, natively: an input's bytes fed as bytes or as base64
//! text (`read-step.base64`) give the same records and reports; text that
//! is not base64 makes the input unreadable, in the shared wording, and
//! nothing after it is read.

use std::io::Write;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use recon_guest::config::{Profile, Settings};
use recon_guest::reader::{Options, Reader, wording};
use recon_guest::{Detector, ReadResult, ReadStep};

/// The real Invictus S3 objects (`{"Records":[...]}`, 2,900 records),
/// gzipped together.
fn gzipped_trail() -> Vec<u8> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/data/cloudtrail/invictus/CloudTrail"
    );
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for name in &names {
        gz.write_all(&std::fs::read(name).unwrap()).unwrap();
        gz.write_all(b"\n").unwrap();
    }
    gz.finish().unwrap()
}

fn detector() -> Detector {
    Detector::new(Settings::all(Profile::Default)).unwrap()
}

#[test]
fn base64_steps_read_as_the_bytes_they_encode() {
    let gz = gzipped_trail();
    // Odd sizes: the base64 of each piece is padded on its own.
    let pieces: Vec<&[u8]> = gz.chunks(7_777).collect();
    let (mut d1, mut r1) = (detector(), Reader::new(Options::default()));
    let mut as_bytes: Vec<ReadResult> = pieces
        .iter()
        .map(|p| d1.read(&mut r1, ReadStep::Bytes(p)))
        .collect();
    as_bytes.push(d1.read(&mut r1, ReadStep::End));
    let (mut d2, mut r2) = (detector(), Reader::new(Options::default()));
    let mut as_base64: Vec<ReadResult> = pieces
        .iter()
        .map(|p| d2.read(&mut r2, ReadStep::Base64(&STANDARD.encode(p))))
        .collect();
    as_base64.push(d2.read(&mut r2, ReadStep::End));
    let records: u32 = as_bytes.iter().map(|r| r.records).sum();
    assert!(records > 2000, "only {records} records read");
    assert_eq!(as_base64, as_bytes);
    assert_eq!(d1.stats(), d2.stats());
}

#[test]
fn text_that_is_not_base64_makes_the_input_unreadable() {
    let gz = gzipped_trail();
    let (first, rest) = gz.split_at(gz.len() / 2);
    let (mut d, mut r) = (detector(), Reader::new(Options::default()));
    let before = d.read(&mut r, ReadStep::Base64(&STANDARD.encode(first)));
    assert_eq!(before.unreadable, None);
    let bad = d.read(&mut r, ReadStep::Base64("not base64!"));
    let reason = bad.unreadable.expect("unreadable");
    assert!(
        reason.starts_with("a base64 read step is not valid base64 ("),
        "{reason}"
    );
    assert_eq!(
        reason,
        wording::invalid_base64(STANDARD.decode("not base64!").unwrap_err())
    );
    // Nothing more is read, in any form.
    let after = d.read(&mut r, ReadStep::Bytes(rest));
    assert_eq!((after.records, after.unreadable), (0, None));
    assert_eq!(d.read(&mut r, ReadStep::End).records, 0);
}
