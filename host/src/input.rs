//! Reading inputs for `recon detect`: the I/O around the reader crate
//! (`recon-reader`), which does all the reading of CloudTrail itself
//! (layouts, documents, NDJSON, gzip, line limits, locations, wording),
//! the same code the component exports to every other host.
//!
//! What stays here is the plumbing for speed and pipes: a reader thread
//! per input reads large pieces (and inflates gzip through the crate's
//! [`Gunzip`] stage, so that runs beside detection), handing them to the
//! chunker thread, which drives the crate's [`Reader`] and sends its
//! chunks on; buffers are pooled. When input pauses (a pipe, `tail -f`),
//! the chunker tells the reader after `linger`, and the complete records
//! read so far go out, so alerts are not held back until a chunk fills.

use std::io::{self, Read};
use std::path::Path;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use recon_reader::{Compression, Event, Gunzip, Options, Reader, sniff};

pub use recon_reader::{Chunk, Loc, Locs};

use crate::sources::Source;

/// Bytes a reader thread asks for per read.
const PIECE_BYTES: usize = 1 << 20;
/// Pieces a reader thread may read ahead of the chunker.
const PIECES_AHEAD: usize = 4;
/// Inputs opened and read ahead of the one being chunked: the next
/// object of a tree of small S3 objects is already opened and inflating
/// while the chunker cuts the current one, instead of each paying its
/// open, thread start and first read in turn. Each holds at most
/// [`PIECES_AHEAD`] pieces.
const INPUTS_AHEAD: usize = 2;
/// Smallest first read of an input whose size is known: a small file is
/// read into a buffer of about its size rather than a whole piece.
const MIN_FIRST_READ: usize = 16 << 10;

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening or reading failed.
    #[error("{source_name}: {source}")]
    Io {
        /// File name, or `<stdin>`.
        source_name: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The reader found the input unreadable from some point on (a
    /// damaged gzip stream or document, a zip archive).
    #[error("{source_name}: {reason}")]
    Unreadable {
        /// File name, or `<stdin>`.
        source_name: String,
        /// The reader's worded reason.
        reason: String,
    },
}

/// Buffers handed back after use, so the reader reuses them instead of
/// asking the allocator for a fresh megabyte (fresh pages cost a page fault
/// each) for every piece of input.
#[derive(Debug, Clone)]
pub struct BufferPool {
    tx: Sender<Vec<u8>>,
    rx: Receiver<Vec<u8>>,
}

impl Default for BufferPool {
    fn default() -> Self {
        let (tx, rx) = bounded(16);
        BufferPool { tx, rx }
    }
}

impl BufferPool {
    /// A buffer of `len` bytes (their content is whatever was there).
    pub fn get(&self, len: usize) -> Vec<u8> {
        let mut v = self.rx.try_recv().unwrap_or_default();
        v.resize(len, 0);
        v
    }

    /// An empty buffer with room for at least `PIECE_BYTES` (for bytes
    /// appended as they come: nothing is written until then).
    fn get_empty(&self) -> Vec<u8> {
        match self.rx.try_recv() {
            Ok(mut v) => {
                v.clear();
                v
            }
            Err(_) => Vec::with_capacity(PIECE_BYTES),
        }
    }

    /// Hands a buffer back (dropped when the pool is full).
    pub fn put(&self, v: Vec<u8>) {
        if v.capacity() >= PIECE_BYTES {
            let _ = self.tx.try_send(v);
        }
    }
}

/// What the chunker hands on.
#[derive(Debug)]
pub enum InputMsg {
    /// A chunk of input `source` (its index among the inputs).
    Chunk(usize, Chunk),
    /// An input could not be read (whole, or from some point on).
    Unreadable(usize, InputError),
    /// A record of input `source` longer than the limit, skipped to its
    /// end without being held in memory: where it was and how long.
    TooLarge(usize, Loc, u64),
    /// A CloudWatch Logs control message's log event, skipped: where.
    Control(usize, Loc),
    /// A value of an envelope that holds no record, skipped: where and
    /// why (`recon_reader::wording::bad_envelope` words the report).
    BadEnvelope(usize, Loc, String),
    /// Input `source` was read to its end (or failed): the start of its
    /// first value, for its verdict (`recon_reader::Reader::sample`).
    Ended(usize, Option<Vec<u8>>),
}

/// Default [`ChunkOptions::linger`]: 200 ms, long enough to gather what a
/// pipe delivers in one burst, short enough that an alert from a slow
/// stream is not noticeably held back.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(200);

/// How the chunker cuts input.
#[derive(Debug, Clone, Copy)]
pub struct ChunkOptions {
    /// About how many bytes a chunk holds (a chunk ends at a line end).
    pub chunk_bytes: usize,
    /// Longest complete lines wait for more input before they go out.
    pub linger: Duration,
    /// Longest record held: a longer one is skipped to its end, in bounded
    /// memory, and reported as [`InputMsg::TooLarge`] (the detector would
    /// reject it as `too-large` anyway). `recon detect` uses
    /// `limits.max_event_bytes`.
    pub max_line_bytes: usize,
}

/// Reads every input in order and sends its chunks to `tx`; returns when
/// the inputs are done or the receiver is gone. Run it on its own thread.
pub fn chunk_inputs(
    inputs: &[Source],
    options: ChunkOptions,
    pool: &BufferPool,
    tx: &Sender<InputMsg>,
) {
    // Readers started ahead, in input order: (index, name, pieces).
    let mut ahead = std::collections::VecDeque::new();
    let mut next = 0;
    loop {
        while next < inputs.len() && ahead.len() <= INPUTS_AHEAD {
            let name = inputs[next].name();
            let pieces = spawn_reader(&inputs[next], &name, pool.clone());
            ahead.push_back((next, name, pieces));
            next += 1;
        }
        let Some((source, name, pieces)) = ahead.pop_front() else {
            return;
        };
        let pieces = match pieces {
            Ok(p) => p,
            Err(e) => {
                if tx.send(InputMsg::Unreadable(source, e)).is_err() {
                    return;
                }
                continue;
            }
        };
        if !chunk_one(source, &name, options, &pieces, tx) {
            return;
        }
    }
}

/// A piece of raw (inflated) input, or why the input ended early.
enum Piece {
    Bytes(Vec<u8>),
    Io(io::Error),
    Unreadable(String),
}

/// Opens `input` and reads it on its own thread, in pieces, gunzipping
/// inflating gzip.
fn spawn_reader(
    input: &Source,
    name: &str,
    pool: BufferPool,
) -> Result<Receiver<Piece>, InputError> {
    let source = input.open().map_err(|source| InputError::Io {
        source_name: name.to_owned(),
        source,
    })?;
    // A small file's first read takes a buffer of about its size (one
    // more byte sees its end), not a whole piece.
    let first = input.size_hint().map_or(PIECE_BYTES, |n| {
        usize::try_from(n.saturating_add(1))
            .unwrap_or(PIECE_BYTES)
            .clamp(MIN_FIRST_READ, PIECE_BYTES)
    });
    let (tx, rx) = bounded(PIECES_AHEAD);
    thread::Builder::new()
        .name("recon-read".into())
        .spawn(move || {
            // A panic while reading or inflating (a bug on hostile bytes)
            // costs this input, with a clear error, never the process or
            // the other inputs; without this the channel would close as
            // if the input had ended.
            let run = std::panic::AssertUnwindSafe(|| read_pieces(source, first, &pool, &tx));
            if let Err(panic) = std::panic::catch_unwind(run) {
                let _ = tx.send(Piece::Unreadable(panicked("reading it", &*panic)));
            }
        })
        .map_err(|source| InputError::Io {
            source_name: name.to_owned(),
            source,
        })?;
    Ok(rx)
}

/// Reads into `piece` from `filled` on until it is full, the source ends
/// or pauses (a short read: from a pipe, say, nothing more is there for
/// now, and what has come must go on rather than wait for more). Returns
/// the new fill, and the error that ended the source, if one did.
fn fill(source: &mut dyn Read, piece: &mut [u8], mut filled: usize) -> (usize, Option<io::Error>) {
    loop {
        let wanted = piece.len() - filled;
        if wanted == 0 {
            return (filled, None);
        }
        match source.read(&mut piece[filled..]) {
            Ok(0) => return (filled, None),
            Ok(n) => {
                filled += n;
                if n < wanted {
                    return (filled, None);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Some(e)),
        }
    }
}

fn read_pieces(
    mut source: Box<dyn Read + Send>,
    first_len: usize,
    pool: &BufferPool,
    tx: &Sender<Piece>,
) {
    // The first piece tells gzip (and zip) from text.
    let mut first = read_buffer(pool, first_len);
    let (n, error) = fill(&mut source, &mut first, 0);
    first.truncate(n);
    // A small file read whole at once: what follows (its end) needs no
    // whole piece either.
    let read_len = if first_len < PIECE_BYTES && n < first_len {
        first_len
    } else {
        PIECE_BYTES
    };
    match sniff(&first, true) {
        Some(Compression::Gzip) => inflate(first, read_len, error, &mut source, pool, tx),
        Some(Compression::Zip) => {
            let _ = tx.send(Piece::Unreadable(recon_reader::wording::ZIP_ARCHIVE.into()));
        }
        _ => plain(first, read_len, error, &mut source, pool, tx),
    }
}

/// A buffer of `len` bytes to read into: pooled when it is a whole piece.
fn read_buffer(pool: &BufferPool, len: usize) -> Vec<u8> {
    if len == PIECE_BYTES {
        pool.get(PIECE_BYTES)
    } else {
        vec![0; len]
    }
}

fn plain(
    mut piece: Vec<u8>,
    read_len: usize,
    mut error: Option<io::Error>,
    source: &mut dyn Read,
    pool: &BufferPool,
    tx: &Sender<Piece>,
) {
    loop {
        let empty = piece.is_empty();
        if !empty && tx.send(Piece::Bytes(piece)).is_err() {
            return;
        }
        if let Some(e) = error {
            let _ = tx.send(Piece::Io(e));
            return;
        }
        if empty {
            return;
        }
        piece = read_buffer(pool, read_len);
        let (n, e) = fill(source, &mut piece, 0);
        piece.truncate(n);
        error = e;
    }
}

/// Inflated bytes gathered into pooled pieces for the chunker.
struct Pieces<'a> {
    piece: Vec<u8>,
    pool: &'a BufferPool,
    tx: &'a Sender<Piece>,
    /// The chunker is gone.
    closed: bool,
}

impl Pieces<'_> {
    fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = (PIECE_BYTES - self.piece.len()).min(bytes.len());
            self.piece.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.piece.len() == PIECE_BYTES {
                self.send();
            }
        }
    }

    /// Sends what was gathered, if anything.
    fn send(&mut self) {
        if self.piece.is_empty() || self.closed {
            return;
        }
        let next = self.pool.get_empty();
        let full = std::mem::replace(&mut self.piece, next);
        self.closed |= self.tx.send(Piece::Bytes(full)).is_err();
    }
}

/// Gzip inflated here, through the reader crate's own stage, into pieces
/// of `PIECE_BYTES`; a piece goes on when full, and as soon as the source
/// pauses, ends or fails.
fn inflate(
    mut raw: Vec<u8>,
    read_len: usize,
    mut error: Option<io::Error>,
    source: &mut dyn Read,
    pool: &BufferPool,
    tx: &Sender<Piece>,
) {
    let mut gz = Gunzip::new();
    let mut pieces = Pieces {
        piece: pool.get_empty(),
        pool,
        tx,
        closed: false,
    };
    loop {
        let ended = raw.is_empty();
        let step = if ended {
            gz.finish(&mut |b| pieces.push(b))
        } else {
            gz.feed(&raw, &mut |b| pieces.push(b))
        };
        if ended || raw.len() < read_len || error.is_some() || step.is_err() {
            pieces.send();
        }
        if pieces.closed {
            return;
        }
        if let Err(reason) = step {
            let _ = tx.send(Piece::Unreadable(reason));
            return;
        }
        if let Some(e) = error.take() {
            let _ = tx.send(Piece::Io(e));
            return;
        }
        if ended {
            return;
        }
        raw.resize(read_len, 0);
        let (n, e) = fill(source, &mut raw, 0);
        raw.truncate(n);
        error = e;
    }
}

/// Drives the reader crate over one input's pieces, sending what it hands
/// on; `false` when the receiver is gone.
fn chunk_one(
    source: usize,
    name: &str,
    options: ChunkOptions,
    pieces: &Receiver<Piece>,
    tx: &Sender<InputMsg>,
) -> bool {
    let mut reader = Reader::decompressed(Options {
        max_record_bytes: options.max_line_bytes,
        chunk_bytes: options.chunk_bytes,
    });
    let open = std::cell::Cell::new(true);
    let mut send = |e: Event| {
        let msg = match e {
            Event::Chunk(c) => InputMsg::Chunk(source, c),
            Event::TooLarge { at, bytes } => InputMsg::TooLarge(source, at, bytes),
            Event::Control { at } => InputMsg::Control(source, at),
            Event::BadEnvelope { at, message } => InputMsg::BadEnvelope(source, at, message),
            Event::Unreadable(reason) => InputMsg::Unreadable(
                source,
                InputError::Unreadable {
                    source_name: name.to_owned(),
                    reason,
                },
            ),
        };
        if tx.send(msg).is_err() {
            open.set(false);
        }
    };
    // A panic in the reader (a bug on hostile bytes) costs the rest of
    // this input, reported unreadable with what happened, and nothing else.
    let read = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        while !reader.is_done() {
            match pieces.recv_timeout(options.linger) {
                Ok(Piece::Bytes(p)) => reader.feed_vec(p, &mut send),
                Ok(Piece::Unreadable(reason)) => reader.fail(reason, &mut send),
                Ok(Piece::Io(e)) => {
                    // Worded by the I/O error alone, as an open failure is.
                    reader.fail(e.to_string(), &mut send);
                }
                Err(RecvTimeoutError::Timeout) => reader.pause(&mut send),
                Err(RecvTimeoutError::Disconnected) => reader.finish(&mut send),
            }
            if !open.get() {
                return false;
            }
        }
        true
    }));
    match read {
        Ok(true) => {}
        Ok(false) => return false,
        Err(panic) => {
            let e = InputError::Unreadable {
                source_name: name.to_owned(),
                reason: panicked("splitting it into records", &*panic),
            };
            return tx.send(InputMsg::Unreadable(source, e)).is_ok();
        }
    }
    tx.send(InputMsg::Ended(source, reader.sample().map(<[u8]>::to_vec)))
        .is_ok()
}

/// The words for a panic caught while `doing` something with an input.
pub(crate) fn panicked(doing: &str, panic: &(dyn std::any::Any + Send)) -> String {
    let what = crate::panic_message(panic);
    format!(
        "the host's reader failed while {doing} ({what}): the rest of this input is skipped; \
         this is a bug, please report it with the input"
    )
}

/// Every record of one input, as text, with the default chunking: for
/// tests and tools. Fails when the input cannot be read.
pub fn read_records(path: &Path) -> Result<Vec<String>, InputError> {
    let (tx, rx) = bounded(4);
    let inputs = crate::sources::list(&[path.to_owned()], crate::sources::Order::Given).sources;
    let options = ChunkOptions {
        chunk_bytes: 1 << 20,
        linger: Duration::from_secs(3600),
        max_line_bytes: usize::MAX,
    };
    let reader = thread::spawn(move || chunk_inputs(&inputs, options, &BufferPool::default(), &tx));
    let mut out = Vec::new();
    let mut error = None;
    for msg in rx {
        match msg {
            InputMsg::Chunk(_, c) => out.extend(c.records()),
            InputMsg::Unreadable(_, e) => error = error.or(Some(e)),
            InputMsg::TooLarge(..)
            | InputMsg::Control(..)
            | InputMsg::BadEnvelope(..)
            | InputMsg::Ended(..) => {}
        }
    }
    let _ = reader.join();
    match error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression as Level;
    use flate2::write::GzEncoder;
    use std::io::Write;

    /// Reads `bytes` through the threads, as `recon detect` does.
    fn through_threads(bytes: &[u8], max_line_bytes: usize) -> Vec<InputMsg> {
        let dir = std::env::temp_dir().join(format!("recon-input-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("in-{}-{max_line_bytes}", bytes.len()));
        std::fs::write(&path, bytes).unwrap();
        let (tx, rx) = bounded(4);
        let inputs = vec![Source::File(path.clone())];
        let options = ChunkOptions {
            chunk_bytes: 64 << 10,
            linger: Duration::from_secs(3600),
            max_line_bytes,
        };
        let t = thread::spawn(move || chunk_inputs(&inputs, options, &BufferPool::default(), &tx));
        let msgs: Vec<InputMsg> = rx.into_iter().collect();
        t.join().unwrap();
        std::fs::remove_file(&path).ok();
        msgs
    }

    /// The threads give what the crate's reader gives on the whole input
    /// (gzip inflated on the reader thread or in the crate alike).
    #[test]
    fn the_threads_read_as_the_crate_does() {
        let mut nd = String::new();
        for i in 0..40_000 {
            nd.push_str(&format!(
                "{{\"n\":{i},\"pad\":\"{}\"}}\n",
                "p".repeat(i % 50)
            ));
            if i % 9_000 == 5 {
                nd.push_str(&format!(
                    "{{\"Records\":[{{\"a\":1}},{{\"b\":\"{}\"}}]}}\n",
                    "q".repeat(300)
                ));
                nd.push_str(&"x".repeat(3000));
                nd.push('\n');
            }
        }
        let mut gz = GzEncoder::new(Vec::new(), Level::fast());
        gz.write_all(nd.as_bytes()).unwrap();
        let gz = gz.finish().unwrap();
        let truncated = gz[..gz.len() / 2].to_vec();
        for input in [nd.into_bytes(), gz, truncated, b"PK\x03\x04zip".to_vec()] {
            let options = Options {
                max_record_bytes: 1000,
                chunk_bytes: 64 << 10,
            };
            let mut want = (Vec::new(), Vec::new());
            for e in recon_reader::read_all(&input, options) {
                match e {
                    Event::Chunk(c) => want.0.extend(c.located_records()),
                    Event::TooLarge { at, bytes } => want.1.push(format!("{at}: {bytes}")),
                    Event::Unreadable(r) => want.1.push(r),
                    Event::Control { at } => want.1.push(format!("{at}: control")),
                    Event::BadEnvelope { at, message } => want.1.push(format!("{at}: {message}")),
                }
            }
            let mut got = (Vec::new(), Vec::new());
            for m in through_threads(&input, 1000) {
                match m {
                    InputMsg::Chunk(_, c) => got.0.extend(c.located_records()),
                    InputMsg::TooLarge(_, at, bytes) => got.1.push(format!("{at}: {bytes}")),
                    InputMsg::Control(_, at) => got.1.push(format!("{at}: control")),
                    InputMsg::BadEnvelope(_, at, m) => got.1.push(format!("{at}: {m}")),
                    InputMsg::Ended(..) => {}
                    InputMsg::Unreadable(_, InputError::Unreadable { reason, .. }) => {
                        got.1.push(reason)
                    }
                    InputMsg::Unreadable(_, e) => panic!("{e}"),
                }
            }
            assert!(!want.0.is_empty() || !want.1.is_empty());
            assert_eq!(got, want);
        }
    }
}
