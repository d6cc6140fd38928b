//! Reading CloudTrail exports: every layout real ones use, gzip or not,
//! decided by the content and never by the file name, turned into
//! [`Chunk`]s of newline-delimited JSON for the component's bulk input.
//!
//! - `{"Records":[…]}`: what CloudTrail writes to S3;
//! - a top-level JSON array of records;
//! - a single record object, or several concatenated;
//! - one record per line (NDJSON), lines that hold `{"Records":[…]}`
//!   expanded;
//! - any of these gzip-compressed (detected by the magic bytes).
//!
//! Records are handed on as JSON text; judging each record is the
//! detector's job, so a malformed line is passed through to be rejected
//! (and counted) there, and only a file that cannot be read at all is an
//! error here.
//!
//! Line-delimited input, the common case, is streamed without looking at
//! each record: a reader thread per input reads large pieces (and
//! decompresses gzip, so that runs beside detection), and the chunker cuts
//! them at the last line end into chunks of about `chunk_bytes`, without
//! copying when it can. When input pauses (a pipe, `tail -f`), the
//! complete lines read so far go out after `linger`, so alerts are not held
//! back until a chunk fills. The other layouts are one JSON document each,
//! split into records as a stream (`DocSplitter`): memory holds a record
//! and a chunk, never the document. A line or record longer than the limit
//! is skipped to its end and reported, not held.

use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded};
use flate2::bufread::MultiGzDecoder;
use serde_json::value::RawValue;

use crate::sources::Source;

/// Bytes a reader thread asks for per read.
const PIECE_BYTES: usize = 1 << 20;
/// Pieces a reader thread may read ahead of the chunker.
const PIECES_AHEAD: usize = 4;

/// Why an input could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// Opening or reading failed (including a corrupt gzip stream).
    #[error("{source_name}: {source}")]
    Io {
        /// File name, or `<stdin>`.
        source_name: String,
        /// The I/O error.
        source: io::Error,
    },
    /// A whole-document layout (array, `Records`, pretty-printed objects)
    /// is not valid JSON, so its records cannot be found.
    #[error("{source_name}: not a readable CloudTrail document: {message}")]
    Document {
        /// File name, or `<stdin>`.
        source_name: String,
        /// What is wrong and where.
        message: String,
    },
}

/// Where a record of a chunk came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Loc {
    /// 1-based line, for line-delimited input.
    pub line: Option<u64>,
    /// 1-based record: within the document, or within a line's
    /// `Records` array.
    pub record: Option<u64>,
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.record) {
            (Some(l), Some(r)) => write!(f, "line {l}, record {r}"),
            (Some(l), None) => write!(f, "line {l}"),
            (None, Some(r)) => write!(f, "record {r}"),
            (None, None) => f.write_str("record ?"),
        }
    }
}

/// How a chunk's lines map back to its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Locs {
    /// Line `i` of the chunk is line `first_line + i` of the input.
    Lines {
        /// The input line of the chunk's first line.
        first_line: u64,
    },
    /// Line `i` of the chunk is the record at `locs[i]`.
    Records(Vec<Loc>),
}

/// Newline-delimited records of one input, ready for the component's
/// `push-ndjson` or `scan`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Complete lines, each ending in `\n`.
    pub data: Vec<u8>,
    /// Where each line came from.
    pub locs: Locs,
}

impl Chunk {
    /// Where line `index` of the chunk came from.
    pub fn loc(&self, index: u32) -> Loc {
        match &self.locs {
            Locs::Lines { first_line } => Loc {
                line: Some(first_line + u64::from(index)),
                record: None,
            },
            Locs::Records(locs) => locs.get(index as usize).copied().unwrap_or(Loc {
                line: None,
                record: None,
            }),
        }
    }

    /// The non-blank lines, as text (invalid UTF-8 replaced): for tests and
    /// tools that want records one by one.
    pub fn records(&self) -> impl Iterator<Item = String> + '_ {
        self.data
            .split(|b| *b == b'\n')
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
            .filter(|l| !l.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r')))
            .map(|l| String::from_utf8_lossy(l).into_owned())
    }
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
    /// A line of input `source` longer than the limit, skipped to its end
    /// without being held in memory: where it was and how long.
    TooLarge(usize, Loc, u64),
}

/// How the chunker cuts input.
#[derive(Debug, Clone, Copy)]
pub struct ChunkOptions {
    /// About how many bytes a chunk holds (a chunk ends at a line end).
    pub chunk_bytes: usize,
    /// Longest complete lines wait for more input before they go out.
    pub linger: Duration,
    /// Longest line held: a longer one is skipped to its end, in bounded
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
    for (source, input) in inputs.iter().enumerate() {
        let name = input.name();
        let pieces = match spawn_reader(input, &name, pool.clone()) {
            Ok(p) => p,
            Err(e) => {
                if tx.send(InputMsg::Unreadable(source, e)).is_err() {
                    return;
                }
                continue;
            }
        };
        let mut c = Chunker {
            source,
            name,
            options,
            tx,
            line: 0,
        };
        if c.run(&pieces).is_err() {
            return;
        }
    }
}

/// A piece of raw (decompressed) input, or the error that ended it.
type Piece = Result<Vec<u8>, io::Error>;

/// Opens `input` and reads it on its own thread, in pieces, gunzipping
/// when the content starts with gzip's magic bytes.
fn spawn_reader(
    input: &Source,
    name: &str,
    pool: BufferPool,
) -> Result<Receiver<Piece>, InputError> {
    let source = input.open().map_err(|source| InputError::Io {
        source_name: name.to_owned(),
        source,
    })?;
    let (tx, rx) = bounded(PIECES_AHEAD);
    thread::Builder::new()
        .name("recon-read".into())
        .spawn(move || read_pieces(source, &pool, &tx))
        .map_err(|source| InputError::Io {
            source_name: name.to_owned(),
            source,
        })?;
    Ok(rx)
}

fn read_pieces(source: Box<dyn Read + Send>, pool: &BufferPool, tx: &Sender<Piece>) {
    let mut buffered = BufReader::with_capacity(64 * 1024, source);
    let gzip = match buffered.fill_buf() {
        Ok(head) => head.starts_with(&[0x1f, 0x8b]),
        Err(e) => {
            let _ = tx.send(Err(e));
            return;
        }
    };
    let mut reader: Box<dyn Read> = if gzip {
        Box::new(MultiGzDecoder::new(buffered))
    } else {
        Box::new(buffered)
    };
    loop {
        let mut piece = pool.get(PIECE_BYTES);
        let mut filled = 0;
        // Fill the piece unless the source pauses: a short read (from a
        // pipe, say) means nothing more is there for now, and what has come
        // must go on rather than wait for more.
        loop {
            let wanted = piece.len() - filled;
            match reader.read(&mut piece[filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    filled += n;
                    if n < wanted {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    if filled > 0 {
                        piece.truncate(filled);
                        let _ = tx.send(Ok(piece));
                    }
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
        if filled == 0 {
            return;
        }
        piece.truncate(filled);
        if tx.send(Ok(piece)).is_err() {
            return;
        }
    }
}

/// One JSON value on one line: line ends inside a valid value can only be
/// whitespace between tokens, so they become spaces.
/// Bytes are handed on as they are, UTF-8 or not: the detector rejects a
/// record that is not UTF-8 as `invalid-json`, whatever the layout.
fn one_line(value: &[u8], out: &mut Vec<u8>) {
    out.extend(
        value
            .iter()
            .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b }),
    );
    out.push(b'\n');
}

/// The records of one line that is a top-level JSON object with a
/// `Records` array: its members, found as the document splitter finds them
/// (so a line gives the same records as the same document pretty-printed
/// or past the line limit: the key spelled literally, every `Records`
/// array of the object). `None` for any other line, which is then one
/// record (a line that is not valid JSON is `invalid-json`, whole).
fn expand(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    memchr::memmem::find(line, b"\"Records\"")?;
    if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{')
        || serde_json::from_slice::<serde::de::IgnoredAny>(line).is_err()
    {
        return None;
    }
    let mut split = DocSplitter::new(usize::MAX);
    let mut events = Vec::new();
    split.feed(line, &mut events).ok()?;
    split.finish().ok()?;
    if !split.seen_records {
        return None;
    }
    Some(
        events
            .into_iter()
            .filter_map(|e| match e {
                DocEvent::Record(r) => Some(r),
                DocEvent::TooLarge(_) => None,
            })
            .collect(),
    )
}

struct Chunker<'a> {
    source: usize,
    name: String,
    options: ChunkOptions,
    tx: &'a Sender<InputMsg>,
    /// Input lines handed on so far.
    line: u64,
}

/// The receiver is gone: stop.
struct Closed;

enum Next {
    Piece(Vec<u8>),
    Paused,
    End,
    Failed(io::Error),
}

impl Chunker<'_> {
    fn next(&self, pieces: &Receiver<Piece>) -> Next {
        match pieces.recv_timeout(self.options.linger) {
            Ok(Ok(p)) => Next::Piece(p),
            Ok(Err(e)) => Next::Failed(e),
            Err(RecvTimeoutError::Timeout) => Next::Paused,
            Err(RecvTimeoutError::Disconnected) => Next::End,
        }
    }

    fn send(&self, msg: InputMsg) -> Result<(), Closed> {
        self.tx.send(msg).map_err(|_| Closed)
    }

    fn unreadable(&self, source: io::Error) -> Result<(), Closed> {
        self.send(InputMsg::Unreadable(
            self.source,
            InputError::Io {
                source_name: self.name.clone(),
                source,
            },
        ))
    }

    fn run(&mut self, pieces: &Receiver<Piece>) -> Result<(), Closed> {
        // Find the layout from the first line that holds anything.
        let mut head: Vec<u8> = Vec::new();
        loop {
            let start = strip_bom(&head);
            let content = &head[start..];
            let first = content.iter().position(|b| !b.is_ascii_whitespace());
            let limit = self.options.max_line_bytes;
            let decided = match first {
                // A first line past the line limit decides too: it is not
                // held whole (a one-line `{"Records":[…]}` file, a gzip
                // bomb without line ends).
                Some(i) => content[i..].contains(&b'\n') || content.len() - i > limit,
                None => false,
            };
            if decided {
                break;
            }
            if first.is_none() && head.len() > limit.min(PIECE_BYTES) {
                // Only blank lines so far: count them, keep nothing.
                self.line += memchr::memchr_iter(b'\n', &head).count() as u64;
                head.clear();
            }
            match self.next(pieces) {
                Next::Piece(p) => head.extend_from_slice(&p),
                Next::Paused => {}
                Next::End => break,
                Next::Failed(e) => {
                    self.lines(head, pieces)?;
                    return self.unreadable(e);
                }
            }
        }
        let start = strip_bom(&head);
        let content = &head[start..];
        let Some(first) = content.iter().position(|b| !b.is_ascii_whitespace()) else {
            return Ok(()); // empty or blank input
        };
        let first_line_end = content[first..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(content.len(), |n| first + n);
        // A first line past the limit that is an object goes the way of
        // any such line (`Chunker::split_line`): the file is still read as
        // lines.
        let oversized = first_line_end - first > self.options.max_line_bytes;
        let complete = !oversized && {
            let first_line = String::from_utf8_lossy(&content[first..first_line_end]);
            serde_json::from_str::<&RawValue>(first_line.trim()).is_ok()
        };
        let opener = content[first];
        if (opener == b'[' || opener == b'{') && !(opener == b'{' && (complete || oversized)) {
            return self.document(head, pieces);
        }
        self.lines(head, pieces)
    }

    /// Line-delimited input: cut at line ends into chunks.
    fn lines(&mut self, head: Vec<u8>, pieces: &Receiver<Piece>) -> Result<(), Closed> {
        let mut buf = head;
        let bom = strip_bom(&buf);
        if bom > 0 {
            buf.drain(..bom);
        }
        loop {
            let partial = memchr::memrchr(b'\n', &buf).map_or(buf.len(), |i| buf.len() - i - 1);
            if partial > self.options.max_line_bytes {
                // A line past the limit: hand on what precedes it, then
                // skip it to its end without keeping it.
                let rest = self.emit_complete(buf)?;
                let object = rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
                let after = if object {
                    self.split_line(rest, pieces)?
                } else {
                    self.skip_line(rest, pieces)?
                };
                match after {
                    Some(after) => {
                        buf = after;
                        continue;
                    }
                    None => return Ok(()),
                }
            }
            if buf.len() >= self.options.chunk_bytes && partial < buf.len() {
                buf = self.emit_complete(buf)?;
                continue;
            }
            match self.next(pieces) {
                Next::Piece(mut p) => {
                    if buf.is_empty() {
                        buf = p;
                    } else if buf.len() < p.len() {
                        // The end of a line cut by the last piece: put it in
                        // front of this one rather than grow a small buffer.
                        p.splice(0..0, buf);
                        buf = p;
                    } else {
                        buf.extend_from_slice(&p);
                    }
                }
                Next::Paused => buf = self.emit_complete(buf)?,
                Next::End => {
                    if !buf.is_empty() && buf.last() != Some(&b'\n') {
                        buf.push(b'\n');
                    }
                    self.emit_complete(buf)?;
                    return Ok(());
                }
                Next::Failed(e) => {
                    self.emit_complete(buf)?;
                    return self.unreadable(e);
                }
            }
        }
    }

    /// Skips the line `started` begins, to its end; reports it. Returns what
    /// follows its end, or `None` when the input ended inside it.
    fn skip_line(
        &mut self,
        started: Vec<u8>,
        pieces: &Receiver<Piece>,
    ) -> Result<Option<Vec<u8>>, Closed> {
        let mut bytes = started.len() as u64;
        drop(started);
        let report = |this: &mut Self, bytes: u64| {
            this.line += 1;
            let loc = Loc {
                line: Some(this.line),
                record: None,
            };
            this.send(InputMsg::TooLarge(this.source, loc, bytes))
        };
        loop {
            match self.next(pieces) {
                Next::Piece(p) => match memchr::memchr(b'\n', &p) {
                    Some(i) => {
                        let end = if i > 0 && p[i - 1] == b'\r' { i - 1 } else { i };
                        report(self, bytes + end as u64)?;
                        return Ok(Some(p[i + 1..].to_vec()));
                    }
                    None => bytes += p.len() as u64,
                },
                Next::Paused => {}
                Next::End => {
                    report(self, bytes)?;
                    return Ok(None);
                }
                Next::Failed(e) => {
                    report(self, bytes)?;
                    self.unreadable(e)?;
                    return Ok(None);
                }
            }
        }
    }

    /// Reads the line `started` begins (an object past the line limit) to
    /// its end as a stream, as a document: a line that holds
    /// `{"Records":[…]}` gives its records (each past the limit reported
    /// as too large), any other object is reported as too large. Returns
    /// what follows the line's end, or `None` when the input ended inside
    /// it.
    fn split_line(
        &mut self,
        started: Vec<u8>,
        pieces: &Receiver<Piece>,
    ) -> Result<Option<Vec<u8>>, Closed> {
        self.line += 1;
        let mut st = LineSplit {
            line: self.line,
            split: DocSplitter::new(self.options.max_line_bytes),
            failed: false,
            number: 0,
            bytes: 0,
            data: Vec::new(),
            locs: Vec::new(),
        };
        self.feed_line(&mut st, &started)?;
        drop(started);
        let after = loop {
            match self.next(pieces) {
                Next::Piece(p) => match memchr::memchr(b'\n', &p) {
                    Some(i) => {
                        let end = if i > 0 && p[i - 1] == b'\r' { i - 1 } else { i };
                        self.feed_line(&mut st, &p[..end])?;
                        break Some(Ok(p[i + 1..].to_vec()));
                    }
                    None => self.feed_line(&mut st, &p)?,
                },
                Next::Paused => {}
                Next::End => break None,
                Next::Failed(e) => break Some(Err(e)),
            }
        };
        if !st.failed && st.split.finish().is_err() {
            st.failed = true;
        }
        self.flush_line(&mut st)?;
        if st.failed {
            // Damaged: what could not be split is one record too large.
            let loc = Loc {
                line: Some(st.line),
                record: None,
            };
            self.send(InputMsg::TooLarge(self.source, loc, st.bytes))?;
        }
        match after {
            Some(Ok(rest)) => Ok(Some(rest)),
            None => Ok(None),
            Some(Err(e)) => {
                self.unreadable(e)?;
                Ok(None)
            }
        }
    }

    fn feed_line(&self, st: &mut LineSplit, part: &[u8]) -> Result<(), Closed> {
        st.bytes += part.len() as u64;
        if st.failed {
            return Ok(());
        }
        let mut events = Vec::new();
        if st.split.feed(part, &mut events).is_err() {
            st.failed = true;
        }
        for e in events {
            st.number += 1;
            let loc = Loc {
                line: Some(st.line),
                record: st.split.seen_records.then_some(st.number),
            };
            match e {
                DocEvent::Record(r) => {
                    one_line(&r, &mut st.data);
                    st.locs.push(loc);
                    if st.data.len() >= self.options.chunk_bytes {
                        self.flush_line(st)?;
                    }
                }
                DocEvent::TooLarge(n) => self.send(InputMsg::TooLarge(self.source, loc, n))?,
            }
        }
        Ok(())
    }

    fn flush_line(&self, st: &mut LineSplit) -> Result<(), Closed> {
        self.flush_document(&mut st.data, &mut st.locs)
    }

    /// Hands on the complete lines of `buf`, in chunks of about
    /// `chunk_bytes`; returns the rest (a line not yet ended).
    fn emit_complete(&mut self, mut buf: Vec<u8>) -> Result<Vec<u8>, Closed> {
        let Some(last) = memchr::memrchr(b'\n', &buf) else {
            return Ok(buf);
        };
        let rest = buf.split_off(last + 1);
        let size = self.options.chunk_bytes;
        while buf.len() > size {
            // The last line end within `size`, else the end of the long line.
            let cut = memchr::memrchr(b'\n', &buf[..size])
                .or_else(|| memchr::memchr(b'\n', &buf[size..]).map(|i| i + size))
                .map_or(buf.len(), |i| i + 1);
            let tail = buf.split_off(cut);
            self.emit(buf)?;
            buf = tail;
        }
        if !buf.is_empty() {
            self.emit(buf)?;
        }
        Ok(rest)
    }

    /// Hands on complete lines (ending in `\n`), expanding `Records` lines.
    fn emit(&mut self, data: Vec<u8>) -> Result<(), Closed> {
        let lines = memchr::memchr_iter(b'\n', &data).count() as u64;
        let first_line = self.line + 1;
        self.line += lines;
        let chunk = if memchr::memmem::find(&data, b"\"Records\"").is_none() {
            Chunk {
                data,
                locs: Locs::Lines { first_line },
            }
        } else {
            let (chunk, too_large) = expand_lines(&data, first_line, self.options.max_line_bytes);
            for (loc, n) in too_large {
                self.send(InputMsg::TooLarge(self.source, loc, n))?;
            }
            chunk
        };
        self.send(InputMsg::Chunk(self.source, chunk))
    }

    /// One JSON document (or several concatenated), read as a stream: the
    /// members of a top-level array, the members of a top-level object's
    /// `Records` array, or a top-level object itself, each handed on as
    /// soon as it is complete. Memory holds one record and one chunk, not
    /// the document, so a multi-gigabyte export runs in bounded memory. A
    /// record longer than the line limit is skipped (reported as too large)
    /// rather than held.
    fn document(&mut self, head: Vec<u8>, pieces: &Receiver<Piece>) -> Result<(), Closed> {
        let mut split = DocSplitter::new(self.options.max_line_bytes);
        let mut data = Vec::new();
        let mut locs = Vec::new();
        let mut number = 0u64;
        let start = strip_bom(&head);
        let mut piece = head;
        let mut offset = start;
        loop {
            let mut events = Vec::new();
            let fed = split.feed(&piece[offset..], &mut events);
            for e in events {
                number += 1;
                let loc = Loc {
                    line: None,
                    record: Some(number),
                };
                match e {
                    DocEvent::Record(r) => {
                        one_line(&r, &mut data);
                        locs.push(loc);
                        if data.len() >= self.options.chunk_bytes {
                            self.flush_document(&mut data, &mut locs)?;
                        }
                    }
                    DocEvent::TooLarge(n) => {
                        self.send(InputMsg::TooLarge(self.source, loc, n))?;
                    }
                }
            }
            if let Err(message) = fed {
                self.flush_document(&mut data, &mut locs)?;
                let e = InputError::Document {
                    source_name: self.name.clone(),
                    message,
                };
                return self.send(InputMsg::Unreadable(self.source, e));
            }
            match self.next(pieces) {
                Next::Piece(p) => {
                    piece = p;
                    offset = 0;
                }
                Next::Paused => {
                    piece.clear();
                    offset = 0;
                }
                Next::End => {
                    self.flush_document(&mut data, &mut locs)?;
                    return match split.finish() {
                        Ok(()) => Ok(()),
                        Err(message) => {
                            let e = InputError::Document {
                                source_name: self.name.clone(),
                                message,
                            };
                            self.send(InputMsg::Unreadable(self.source, e))
                        }
                    };
                }
                Next::Failed(e) => {
                    self.flush_document(&mut data, &mut locs)?;
                    return self.unreadable(e);
                }
            }
        }
    }

    fn flush_document(&self, data: &mut Vec<u8>, locs: &mut Vec<Loc>) -> Result<(), Closed> {
        if data.is_empty() {
            return Ok(());
        }
        let chunk = Chunk {
            data: std::mem::take(data),
            locs: Locs::Records(std::mem::take(locs)),
        };
        self.send(InputMsg::Chunk(self.source, chunk))
    }
}

/// A line past the limit being split as a document.
struct LineSplit {
    line: u64,
    split: DocSplitter,
    failed: bool,
    number: u64,
    bytes: u64,
    data: Vec<u8>,
    locs: Vec<Loc>,
}

/// What the document splitter finds.
#[derive(Debug, PartialEq, Eq)]
enum DocEvent {
    /// A record's JSON text.
    Record(Vec<u8>),
    /// A record longer than the limit, skipped: its length.
    TooLarge(u64),
}

/// Where the splitter is in the document's structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// A top-level array: its members are records.
    TopArray,
    /// A top-level object: a record itself, unless it has `Records`.
    TopObject,
    /// The `Records` array of a top-level object: its members are records.
    Records,
    /// Anything deeper (inside a record, or skipped).
    Inner,
}

/// Splits a stream of JSON text into records without holding the document:
/// it follows strings (and their escapes) and nesting, byte by byte, and
/// keeps only the record being read. The records themselves are judged by
/// the detector; structural damage (an unclosed document, text between
/// documents) is an error at the point it is found.
struct DocSplitter {
    limit: usize,
    /// The top-level frames (at most two: the document and its
    /// `Records`); the frames inside a record are only counted, in
    /// `inner`, so nesting costs no memory however deep it goes.
    stack: Vec<Frame>,
    inner: usize,
    in_string: bool,
    escaped: bool,
    /// The record being read, when one is.
    record: Option<Vec<u8>>,
    /// Length of a record being skipped for its size.
    skipping: Option<u64>,
    /// Depth (stack length) at which the current record started.
    record_depth: usize,
    /// In a top-level object: the last key read at its level, to spot
    /// `"Records": [`.
    key: Vec<u8>,
    reading_key: bool,
    after_records_key: bool,
    /// A `Records` array was met: the records are its members.
    seen_records: bool,
    /// Bytes seen, for messages.
    pos: u64,
}

impl DocSplitter {
    fn new(limit: usize) -> Self {
        DocSplitter {
            limit,
            stack: Vec::new(),
            inner: 0,
            in_string: false,
            escaped: false,
            record: None,
            skipping: None,
            record_depth: 0,
            key: Vec::new(),
            reading_key: false,
            after_records_key: false,
            seen_records: false,
            pos: 0,
        }
    }

    /// Nesting depth: the top-level frames and those inside a record.
    fn depth(&self) -> usize {
        self.stack.len() + self.inner
    }

    /// Directly inside a top-level object (where `Records` may be a key).
    fn at_top_object(&self) -> bool {
        self.inner == 0 && self.stack == [Frame::TopObject]
    }

    fn capturing(&self) -> bool {
        self.record.is_some() || self.skipping.is_some()
    }

    fn push_byte(&mut self, b: u8) {
        if let Some(r) = &mut self.record {
            r.push(b);
            if r.len() > self.limit {
                self.skipping = Some(r.len() as u64);
                self.record = None;
            }
        } else if let Some(n) = &mut self.skipping {
            *n += 1;
        }
    }

    /// Starts a record at the current depth (for a top-level object: 0,
    /// before its frame is pushed).
    fn start_record(&mut self, b: u8) {
        self.record = Some(vec![b]);
        self.skipping = None;
        self.record_depth = self.depth();
    }

    fn end_record(&mut self, out: &mut Vec<DocEvent>) {
        if let Some(r) = self.record.take() {
            out.push(DocEvent::Record(r));
        } else if let Some(n) = self.skipping.take() {
            out.push(DocEvent::TooLarge(n));
        }
    }

    /// Where records start at the current depth.
    fn members_are_records(&self) -> bool {
        self.inner == 0 && matches!(self.stack.last(), Some(Frame::TopArray | Frame::Records))
    }

    /// Whether the open record is a scalar member (a string, number or
    /// literal directly in a top-level array or `Records`).
    fn scalar_open(&self) -> bool {
        self.capturing() && self.record_depth == self.depth() && self.members_are_records()
    }

    fn feed(&mut self, bytes: &[u8], out: &mut Vec<DocEvent>) -> Result<(), String> {
        for &b in bytes {
            self.pos += 1;
            if self.in_string {
                if self.capturing() {
                    self.push_byte(b);
                }
                // A key longer than `Records` needs no more of its bytes
                // to tell it is not `Records`: at most eight are kept.
                if self.escaped {
                    self.escaped = false;
                    if self.reading_key && self.key.len() < 8 {
                        self.key.push(b);
                    }
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    self.reading_key = false;
                    if self.scalar_open() {
                        self.end_record(out);
                    }
                } else if self.reading_key && self.key.len() < 8 {
                    self.key.push(b);
                }
                continue;
            }
            if b.is_ascii_whitespace() {
                if self.capturing() {
                    self.push_byte(b);
                }
                continue;
            }
            let at_member = !self.capturing() && self.members_are_records();
            match b {
                b'{' | b'[' if self.stack.is_empty() => {
                    self.after_records_key = false;
                    if b == b'{' {
                        // The object may be a record: read it as one until
                        // it shows a `Records` array.
                        self.start_record(b);
                        self.stack.push(Frame::TopObject);
                    } else {
                        self.stack.push(Frame::TopArray);
                    }
                }
                b'[' if self.after_records_key => {
                    // `{"Records": [`: what was read of the object is not a
                    // record; the array's members are.
                    self.record = None;
                    self.skipping = None;
                    self.after_records_key = false;
                    self.seen_records = true;
                    self.stack.push(Frame::Records);
                }
                b'{' | b'[' => {
                    self.after_records_key = false;
                    if at_member {
                        self.start_record(b);
                    } else if self.capturing() {
                        self.push_byte(b);
                    }
                    self.inner += 1;
                }
                b'}' | b']' => {
                    self.after_records_key = false;
                    if self.scalar_open() {
                        self.end_record(out);
                    }
                    let frame = if self.inner > 0 {
                        self.inner -= 1;
                        Some(Frame::Inner)
                    } else {
                        self.stack.pop()
                    };
                    let frame = frame.ok_or_else(|| {
                        format!("unexpected '{}' at byte {}", b as char, self.pos)
                    })?;
                    match frame {
                        Frame::TopArray | Frame::Records => {}
                        Frame::TopObject => {
                            // A plain object is a record; one that held a
                            // `Records` array has none left open.
                            if self.capturing() {
                                self.push_byte(b);
                                self.end_record(out);
                            }
                        }
                        Frame::Inner => {
                            if self.capturing() {
                                self.push_byte(b);
                                if self.depth() == self.record_depth {
                                    self.end_record(out);
                                }
                            }
                        }
                    }
                }
                b',' => {
                    self.after_records_key = false;
                    if self.scalar_open() {
                        self.end_record(out);
                    } else if self.capturing() {
                        self.push_byte(b);
                    }
                }
                b'"' => {
                    self.after_records_key = false;
                    self.in_string = true;
                    if at_member {
                        self.start_record(b);
                    } else if self.capturing() {
                        self.push_byte(b);
                    }
                    // A key of a top-level object, read to spot `Records`.
                    if self.at_top_object() {
                        self.key.clear();
                        self.reading_key = true;
                    }
                }
                b':' => {
                    if self.capturing() {
                        self.push_byte(b);
                    }
                    self.after_records_key = self.at_top_object() && self.key == b"Records";
                }
                _ => {
                    self.after_records_key = false;
                    if self.stack.is_empty() {
                        return Err(format!(
                            "unexpected '{}' at byte {} between documents",
                            b.escape_ascii(),
                            self.pos
                        ));
                    }
                    if at_member {
                        self.start_record(b);
                    } else if self.capturing() {
                        self.push_byte(b);
                    }
                }
            }
        }
        Ok(())
    }

    /// The input ended: fine only between documents.
    fn finish(&self) -> Result<(), String> {
        if self.stack.is_empty() && !self.in_string {
            Ok(())
        } else {
            Err(format!(
                "the document ends inside a value (byte {})",
                self.pos
            ))
        }
    }
}

/// Lines of which some hold `{"Records":[…]}`: each such line becomes its
/// records, one per line; every other line stays as it is.
///
/// A line past `limit` that is an object is split as a stream, as
/// `Chunker::split_line` splits one too long to be held: its records, each
/// past the limit reported as too large, and when it is damaged, the line
/// itself as too large. So a long line gives the same records whether it
/// arrived whole or in pieces. Returns the chunk and the too-large reports.
fn expand_lines(data: &[u8], first_line: u64, limit: usize) -> (Chunk, Vec<(Loc, u64)>) {
    let mut out = Vec::with_capacity(data.len());
    let mut locs = Vec::new();
    let mut too_large = Vec::new();
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    for (i, line) in body.split(|b| *b == b'\n').enumerate() {
        let n = first_line + i as u64;
        let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
        if trimmed.len() > limit && trimmed.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        {
            let mut split = DocSplitter::new(limit);
            let mut events = Vec::new();
            let failed = split.feed(trimmed, &mut events).is_err() || split.finish().is_err();
            for (k, e) in events.into_iter().enumerate() {
                let loc = Loc {
                    line: Some(n),
                    record: split.seen_records.then_some(k as u64 + 1),
                };
                match e {
                    DocEvent::Record(r) => {
                        one_line(&r, &mut out);
                        locs.push(loc);
                    }
                    DocEvent::TooLarge(b) => too_large.push((loc, b)),
                }
            }
            if failed {
                let loc = Loc {
                    line: Some(n),
                    record: None,
                };
                too_large.push((loc, trimmed.len() as u64));
            }
            continue;
        }
        match expand(trimmed) {
            Some(records) => {
                for (k, r) in records.iter().enumerate() {
                    one_line(r, &mut out);
                    locs.push(Loc {
                        line: Some(n),
                        record: Some(k as u64 + 1),
                    });
                }
            }
            None => {
                out.extend_from_slice(line);
                out.push(b'\n');
                locs.push(Loc {
                    line: Some(n),
                    record: None,
                });
            }
        }
    }
    (
        Chunk {
            data: out,
            locs: Locs::Records(locs),
        },
        too_large,
    )
}

/// Length of a UTF-8 byte order mark at the start of `b` (0 or 3).
fn strip_bom(b: &[u8]) -> usize {
    if b.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 }
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
            InputMsg::TooLarge(..) => {}
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
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn chunks_of(bytes: &[u8], chunk_bytes: usize) -> (Vec<Chunk>, Vec<String>) {
        let dir = std::env::temp_dir().join(format!(
            "recon-input-{}-{}",
            std::process::id(),
            bytes.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("in-{chunk_bytes}"));
        std::fs::write(&path, bytes).unwrap();
        let (tx, rx) = bounded(4);
        let inputs = vec![Source::File(path.clone())];
        let options = ChunkOptions {
            chunk_bytes,
            linger: Duration::from_secs(3600),
            max_line_bytes: 4 << 20,
        };
        let t = thread::spawn(move || chunk_inputs(&inputs, options, &BufferPool::default(), &tx));
        let mut chunks = Vec::new();
        let mut errors = Vec::new();
        for m in rx {
            match m {
                InputMsg::Chunk(_, c) => chunks.push(c),
                InputMsg::Unreadable(_, e) => errors.push(e.to_string()),
                InputMsg::TooLarge(_, loc, n) => errors.push(format!("{loc}: {n} bytes")),
            }
        }
        t.join().unwrap();
        std::fs::remove_file(&path).ok();
        (chunks, errors)
    }

    fn records(bytes: &[u8]) -> Result<Vec<String>, String> {
        let (chunks, errors) = chunks_of(bytes, 1 << 20);
        match errors.first() {
            Some(e) => Err(e.clone()),
            None => Ok(chunks.iter().flat_map(|c| c.records()).collect()),
        }
    }

    #[test]
    fn reads_every_layout() {
        let a = r#"{"eventName":"A"}"#;
        let b = r#"{"eventName":"B"}"#;
        let want = vec![a.to_owned(), b.to_owned()];
        let layouts = [
            format!("{{\"Records\":[{a},{b}]}}"),
            format!("{{\n  \"Records\": [\n    {a},\n    {b}\n  ]\n}}\n"),
            format!("[{a},{b}]"),
            format!("[\n{a},\n{b}\n]"),
            format!("{a}\n{b}\n"),
            format!("{a}\r\n\r\n{b}"),
            format!("\u{feff}{a}\n{b}"),
            format!("[{a}]\n[{b}]\n"),
        ];
        for l in &layouts {
            assert_eq!(records(l.as_bytes()).unwrap(), want, "{l}");
        }
        let pretty = format!("{{\n\"eventName\":\"A\"}}{b}");
        assert_eq!(
            records(pretty.as_bytes()).unwrap(),
            vec![r#"{ "eventName":"A"}"#.to_owned(), b.to_owned()]
        );
        assert_eq!(records(a.as_bytes()).unwrap(), vec![a.to_owned()]);
        assert!(records(b"").unwrap().is_empty());
        assert!(records(b"\n \n").unwrap().is_empty());
        // NDJSON lines that are themselves CloudTrail files are expanded.
        let nested = format!("{{\"Records\":[{a}]}}\n{b}\n");
        assert_eq!(records(nested.as_bytes()).unwrap(), want);
    }

    #[test]
    fn gzip_is_detected_by_content() {
        let mut gz = GzEncoder::new(Vec::new(), Compression::default());
        gz.write_all(br#"{"Records":[{"x":1},{"x":2}]}"#).unwrap();
        let bytes = gz.finish().unwrap();
        assert_eq!(records(&bytes).unwrap().len(), 2);
    }

    #[test]
    fn chunks_end_at_line_ends_and_know_their_lines() {
        let mut input = String::new();
        for i in 0..1000 {
            input.push_str(&format!("{{\"n\":{i}}}\n"));
            if i % 100 == 7 {
                input.push('\n');
            }
        }
        let (chunks, errors) = chunks_of(input.as_bytes(), 300);
        assert!(errors.is_empty());
        assert!(chunks.len() > 10);
        let mut line = 1;
        for c in &chunks {
            assert_eq!(c.data.last(), Some(&b'\n'));
            assert_eq!(c.loc(0).line, Some(line));
            line += memchr::memchr_iter(b'\n', &c.data).count() as u64;
        }
        let all: Vec<String> = chunks.iter().flat_map(|c| c.records()).collect();
        assert_eq!(all.len(), 1000);
    }

    #[test]
    fn lines_past_the_limit_are_skipped_in_bounded_memory() {
        // Lines longer than a chunk must not stall the chunker either.
        let mut input = b"{\"a\":1}\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 9 << 20));
        input.extend_from_slice(b"\r\n{\"b\":2}\n");
        input.extend(std::iter::repeat_n(b'y', 2 << 20));
        input.extend_from_slice(b"\n{\"c\":3}\n");
        input.extend(std::iter::repeat_n(b'z', 5 << 20));
        let (chunks, errors) = chunks_of(&input, 64 << 10);
        let records: Vec<String> = chunks.iter().flat_map(|c| c.records()).collect();
        // The 2 MiB line is under the 4 MiB limit: it is handed on whole.
        assert_eq!(records.len(), 4);
        assert_eq!(records[0], r#"{"a":1}"#);
        assert_eq!(records[3], r#"{"c":3}"#);
        assert_eq!(
            errors,
            vec![
                format!("line 2: {} bytes", 9 << 20),
                format!("line 6: {} bytes", 5 << 20)
            ]
        );
        let lines: Vec<Option<u64>> = chunks.iter().map(|c| c.loc(0).line).collect();
        assert!(lines.contains(&Some(3)), "{lines:?}");
    }

    /// Splits `doc` fed in pieces of `n` bytes.
    fn split(doc: &str, n: usize, limit: usize) -> Result<Vec<DocEvent>, String> {
        let mut s = DocSplitter::new(limit);
        let mut out = Vec::new();
        for piece in doc.as_bytes().chunks(n.max(1)) {
            s.feed(piece, &mut out)?;
        }
        s.finish()?;
        Ok(out)
    }

    fn texts(events: &[DocEvent]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                DocEvent::Record(r) => String::from_utf8_lossy(r).into_owned(),
                DocEvent::TooLarge(n) => format!("<{n} bytes skipped>"),
            })
            .collect()
    }

    #[test]
    fn documents_are_split_into_records_as_a_stream() {
        let tricky = r#"{"a":"}]{[\"","b":[1,{"c":[]}],"Records":"not the key"}"#;
        let doc = format!(
            "{{ \"Other\": {{\"Records\": 1}}, \"Records\" :\n [ {tricky} , {{\"x\":2}},7, \"s\", null ], \"after\": [1] }}\n[{{\"y\":1}}, [2]] {{\"z\":{{\"w\":[]}}}}"
        );
        let want = [
            tricky.to_owned(),
            r#"{"x":2}"#.to_owned(),
            "7".to_owned(),
            r#""s""#.to_owned(),
            "null ".to_owned(),
            r#"{"y":1}"#.to_owned(),
            "[2]".to_owned(),
            r#"{"z":{"w":[]}}"#.to_owned(),
        ];
        for n in [1, 2, 3, 7, 64, 4096] {
            let got = texts(&split(&doc, n, 1 << 20).unwrap());
            assert_eq!(
                got.iter().map(|t| t.trim()).collect::<Vec<_>>(),
                want.iter().map(|t| t.trim()).collect::<Vec<_>>(),
                "pieces of {n}"
            );
        }
        // A record past the limit is skipped, counted, and the next read.
        let big = format!(
            "{{\"Records\":[{{\"p\":\"{}\"}},{{\"q\":1}}]}}",
            "x".repeat(5000)
        );
        assert_eq!(
            texts(&split(&big, 100, 1000).unwrap()),
            vec!["<5008 bytes skipped>".to_owned(), r#"{"q":1}"#.to_owned()]
        );
        // Damage is found where it is.
        assert!(split(r#"[{"a":1},{"b":"#, 5, 1 << 20).is_err());
        assert!(split(r#"{"a":1} x"#, 5, 1 << 20).is_err());
        assert!(split(r#"]"#, 5, 1 << 20).is_err());
    }

    #[test]
    fn records_lines_and_documents_say_where_they_are() {
        let (chunks, _) = chunks_of(
            b"{\"a\":1}\nnot json\n\n{\"Records\":[{\"b\":2},{\"c\":3}]}\n",
            1 << 20,
        );
        let c = &chunks[0];
        assert_eq!(c.loc(1).to_string(), "line 2");
        assert_eq!(c.loc(3).to_string(), "line 4, record 1");
        assert_eq!(c.loc(4).to_string(), "line 4, record 2");
        let (chunks, _) = chunks_of(b"[{\"a\":1},\n{\"b\":2}]", 1 << 20);
        assert_eq!(chunks[0].loc(1).to_string(), "record 2");
    }

    #[test]
    fn broken_documents_and_gzip_are_errors_naming_the_input() {
        let e = records(b"[{\"a\":1},\n{\"b\":").unwrap_err();
        assert!(e.contains("not a readable CloudTrail document"), "{e}");
        let e = records(&[0x1f, 0x8b, 1, 2, 3]).unwrap_err();
        assert!(e.contains("in-"), "{e}");
    }
}
