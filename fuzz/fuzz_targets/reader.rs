//! The reader on hostile bytes, cut anywhere: arbitrary bytes (gzipped
//! or not; the seeds in fuzz/seeds/reader hold every layout and the
//! real-time feeds' envelopes), fed in arbitrary pieces with pauses between some, must give
//! the same records (with their locations) and the same reports as the
//! whole input read at once, never a record past the limit, and never a
//! panic. Memory stays bounded (libFuzzer's RSS limit, set by fuzz/run).

#![no_main]

use std::io::Write;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use recon_reader::{Event, Loc, Options, Reader};

#[derive(Arbitrary, Debug)]
struct Input {
    bytes: Vec<u8>,
    /// Offsets where the bytes are cut (taken modulo the length).
    cuts: Vec<u16>,
    /// Pieces after which the input pauses.
    pauses: Vec<u8>,
    /// Record limit, 1 to 256.
    limit: u8,
    /// Chunk size, 1 to 256.
    chunk: u8,
    gzip: bool,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    records: Vec<(Loc, Vec<u8>)>,
    reports: Vec<String>,
}

fn absorb(o: &mut Outcome, e: Event, limit: usize) {
    match e {
        Event::Chunk(c) => {
            assert_eq!(c.data.last(), Some(&b'\n'), "a chunk ends at a line end");
            let body = c.data.strip_suffix(b"\n").unwrap_or(&c.data);
            for (i, line) in body.split(|b| *b == b'\n').enumerate() {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
                    continue;
                }
                assert!(line.len() <= limit, "a record past the limit: {} bytes", line.len());
                o.records.push((c.loc(i as u32), line.to_vec()));
            }
        }
        Event::TooLarge { at, bytes } => {
            o.reports.push(recon_reader::wording::too_large(at, bytes, limit as u64));
        }
        Event::Unreadable(r) => o.reports.push(r),
        Event::Control { at } => o.reports.push(format!("{at}: control message")),
        Event::BadEnvelope { at, message } => {
            o.reports.push(recon_reader::wording::bad_envelope(at, &message))
        }
    }
}

fuzz_target!(|input: Input| {
    let limit = usize::from(input.limit) + 1;
    let options = Options {
        max_record_bytes: limit,
        chunk_bytes: usize::from(input.chunk) + 1,
    };
    let bytes = if input.gzip {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&input.bytes).unwrap();
        e.finish().unwrap()
    } else {
        input.bytes
    };

    let mut whole = Outcome::default();
    let mut r = Reader::new(Options {
        chunk_bytes: 1 << 20,
        ..options
    });
    r.feed(&bytes, &mut |e| absorb(&mut whole, e, limit));
    r.finish(&mut |e| absorb(&mut whole, e, limit));

    let mut cut = Outcome::default();
    let mut r = Reader::new(options);
    let mut cuts: Vec<usize> = input
        .cuts
        .iter()
        .map(|c| usize::from(*c) % (bytes.len() + 1))
        .collect();
    cuts.sort_unstable();
    cuts.push(bytes.len());
    let mut from = 0;
    for (k, &to) in cuts.iter().enumerate() {
        r.feed(&bytes[from..to], &mut |e| absorb(&mut cut, e, limit));
        if input.pauses.contains(&(k as u8)) {
            r.pause(&mut |e| absorb(&mut cut, e, limit));
        }
        from = to;
    }
    r.finish(&mut |e| absorb(&mut cut, e, limit));
    // Later calls do nothing.
    r.feed(b"{\"late\":1}\n", &mut |_| panic!("a finished reader read more"));
    r.finish(&mut |_| panic!("a finished reader read more"));

    assert_eq!(whole, cut, "the cuts changed the records or the reports");
});
