//! Reading CloudTrail as it is delivered: every layout real exports use,
//! gzip or not, decided by the content and never by a file name, turned
//! into [`Chunk`]s of newline-delimited JSON for the detector's bulk input.
//!
//! - `{"Records":[…]}`: what CloudTrail writes to S3 (one line, or
//!   pretty-printed);
//! - a top-level JSON array of records;
//! - a single record object, or several concatenated;
//! - one record per line (NDJSON), lines that hold `{"Records":[…]}`
//!   expanded;
//! - any of these gzip-compressed (several members too), detected by the
//!   magic bytes; a zip archive is refused as unreadable;
//! - the envelopes of the real-time feeds, in any of these layouts
//!   (module `envelope`): CloudWatch Logs subscription messages (so also
//!   Firehose objects of them), Lambda's `{"awslogs":{"data":…}}` events and
//!   EventBridge's "AWS API Call via CloudTrail" events.
//!
//! A pure library: no threads, no clock, no I/O. A [`Reader`] is pushed
//! the bytes of one input as they come ([`Reader::feed`]), told when the
//! input pauses ([`Reader::pause`]: hand on the complete records) and when
//! it ends ([`Reader::finish`]), and hands on [`Event`]s to a sink as they
//! complete. The Rust host drives it from its threads; the component
//! exports the same code to every other host.
//!
//! Records are handed on as JSON text; judging each record is the
//! detector's job, so a malformed line is passed through to be rejected
//! (and counted) there, and only an input that cannot be read at all is
//! reported here. Memory holds one record and one chunk, never a document:
//! documents are split as a stream, and a line or record longer than
//! [`Options::max_record_bytes`] is skipped to its end and reported, not
//! held. The records and reports do not depend on how the bytes were cut.

mod envelope;
mod gunzip;
mod split;
pub mod verdict;
pub mod wording;

pub use gunzip::{Compression, GZIP_MAGIC, Gunzip, ZIP_MAGIC, sniff};

pub use split::{EVENTBRIDGE_ALLOWANCE_BYTES, MAX_AWSLOGS_EVENT_BYTES};

use envelope::{Envelope, LogEvent, Message, Opened, PlainMessage};
use split::{DocEvent, DocSplitter, Found, Origin};

/// Default longest record handed on, in bytes: 256 KiB, CloudTrail's own
/// maximum event size. The detector's default `limits.max-event-bytes` is
/// this same constant, so a record the reader hands on is never one the
/// detector rejects for its size.
pub const DEFAULT_MAX_RECORD_BYTES: u32 = 256 * 1024;

/// Default size of a chunk: 1 MiB, large enough that one crossing into the
/// component carries about a thousand CloudTrail records.
pub const DEFAULT_CHUNK_BYTES: u32 = 1 << 20;

/// Blank bytes the layout probe holds at the start of an input before it
/// counts their lines and drops them (an input of only blank lines is
/// never held whole).
const PROBE_BLANK_BYTES: usize = 1 << 20;

/// Why options were refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OptionsError {
    /// A setting is out of range; the text names it and the range.
    #[error("{0}")]
    OutOfRange(String),
}

/// How a reader cuts its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Longest record handed on, in bytes (a line without its line end, or
    /// a member of a `Records` array or top-level array). A longer one is
    /// skipped to its end, in bounded memory, and reported as
    /// [`Event::TooLarge`].
    pub max_record_bytes: usize,
    /// About how many bytes a chunk holds (a chunk ends at a line end).
    pub chunk_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES as usize,
            chunk_bytes: DEFAULT_CHUNK_BYTES as usize,
        }
    }
}

impl Options {
    /// Options from optional settings, defaults for those left out. Both
    /// must be at least 1.
    pub fn new(
        max_record_bytes: Option<u32>,
        chunk_bytes: Option<u32>,
    ) -> Result<Self, OptionsError> {
        let max_record_bytes = max_record_bytes.unwrap_or(DEFAULT_MAX_RECORD_BYTES);
        let chunk_bytes = chunk_bytes.unwrap_or(DEFAULT_CHUNK_BYTES);
        if max_record_bytes == 0 {
            return Err(OptionsError::OutOfRange(
                "max-record-bytes must be at least 1".into(),
            ));
        }
        if chunk_bytes == 0 {
            return Err(OptionsError::OutOfRange(
                "chunk-bytes must be at least 1".into(),
            ));
        }
        Ok(Options {
            max_record_bytes: max_record_bytes as usize,
            chunk_bytes: chunk_bytes as usize,
        })
    }
}

/// Where a record came from in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Loc {
    /// 1-based line, for line-delimited input.
    pub line: Option<u64>,
    /// 1-based record: within the document, or within a line's
    /// `Records` array. With `log_event`, the message (the document's
    /// top-level value) the log event is in; on a line, set only from the
    /// line's second message on (messages back to back on one line).
    pub record: Option<u64>,
    /// 1-based log event within a CloudWatch Logs message's `logEvents`.
    pub log_event: Option<u64>,
}

impl Loc {
    /// A line of line-delimited input.
    pub fn line(line: u64) -> Loc {
        Loc {
            line: Some(line),
            record: None,
            log_event: None,
        }
    }

    /// A record of a document.
    pub fn record(record: u64) -> Loc {
        Loc {
            line: None,
            record: Some(record),
            log_event: None,
        }
    }
}

impl std::fmt::Display for Loc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.record, self.log_event) {
            (Some(l), Some(m), Some(e)) => write!(f, "line {l}, message {m}, log event {e}"),
            (Some(l), None, Some(e)) => write!(f, "line {l}, log event {e}"),
            (None, Some(m), Some(e)) => write!(f, "message {m}, log event {e}"),
            (None, None, Some(e)) => write!(f, "log event {e}"),
            (Some(l), Some(r), None) => write!(f, "line {l}, record {r}"),
            (Some(l), None, None) => write!(f, "line {l}"),
            (None, Some(r), None) => write!(f, "record {r}"),
            (None, None, None) => f.write_str("record ?"),
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

/// Newline-delimited records of one input, ready for the detector's
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
            Locs::Lines { first_line } => Loc::line(first_line + u64::from(index)),
            Locs::Records(locs) => locs.get(index as usize).copied().unwrap_or(Loc {
                line: None,
                record: None,
                log_event: None,
            }),
        }
    }

    /// The non-blank lines with where each came from, as text (invalid
    /// UTF-8 replaced): for tests and tools that want records one by one.
    pub fn located_records(&self) -> impl Iterator<Item = (Loc, String)> + '_ {
        self.data
            .strip_suffix(b"\n")
            .unwrap_or(&self.data)
            .split(|b| *b == b'\n')
            .enumerate()
            .map(|(i, l)| (i, l.strip_suffix(b"\r").unwrap_or(l)))
            .filter(|(_, l)| !l.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r')))
            .map(|(i, l)| (self.loc(i as u32), String::from_utf8_lossy(l).into_owned()))
    }

    /// The non-blank lines, as text (invalid UTF-8 replaced).
    pub fn records(&self) -> impl Iterator<Item = String> + '_ {
        self.located_records().map(|(_, r)| r)
    }
}

/// What a reader hands on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Complete records.
    Chunk(Chunk),
    /// A record longer than [`Options::max_record_bytes`], skipped without
    /// being held: where it was and how long.
    TooLarge {
        /// Where it was.
        at: Loc,
        /// Its length in bytes.
        bytes: u64,
    },
    /// The input cannot be read from here on: the worded reason (see
    /// [`wording`]). Records before it were handed on; later bytes are
    /// ignored.
    Unreadable(String),
    /// A log event of a CloudWatch Logs `CONTROL_MESSAGE` (the health
    /// check a subscription sends), skipped: where it was.
    Control {
        /// Where it was.
        at: Loc,
    },
    /// A value of an envelope that holds no record (a log event whose
    /// `message` is not a string, a Lambda event whose data cannot be
    /// decoded), skipped: where it was and why (see
    /// [`wording::bad_envelope`]).
    BadEnvelope {
        /// Where it was.
        at: Loc,
        /// Why it holds no record.
        message: String,
    },
}

/// Where events go.
pub type Sink<'a> = &'a mut dyn FnMut(Event);

/// How the bytes pushed are decoded before the text is read.
#[derive(Debug)]
enum Decode {
    /// The first bytes, until they tell gzip from zip from text.
    Sniff(Vec<u8>),
    Plain,
    Gzip(Box<Gunzip>),
    /// Unreadable, or finished: nothing more is read.
    Done,
}

/// Reads one input: bytes of any layout in, [`Event`]s out.
#[derive(Debug)]
pub struct Reader {
    decode: Decode,
    text: Text,
    /// The input's account, kept here for a host that drives a reader and
    /// a detector together (the reader itself does not fill it).
    tally: verdict::Tally,
}

impl Reader {
    /// A reader of raw input: gzip is inflated, a zip archive refused.
    pub fn new(options: Options) -> Self {
        Reader {
            decode: Decode::Sniff(Vec::new()),
            text: Text::new(options),
            tally: verdict::Tally::default(),
        }
    }

    /// The input's account so far, kept with the reader for a host that
    /// counts the detector's verdicts on its records (see [`verdict`]).
    pub fn tally_mut(&mut self) -> &mut verdict::Tally {
        &mut self.tally
    }

    /// A reader of a Lambda event's payload: raw input whose envelope is
    /// known (CloudWatch Logs messages), so a Lambda event inside it is
    /// not opened again (the nesting stops at one level).
    fn awslogs_payload(options: Options) -> Self {
        let mut r = Reader::new(options);
        r.text.envelope = Envelope::CloudWatchLogs;
        r
    }

    /// A reader of input already inflated (by the host's own [`Gunzip`]
    /// stage on another thread, say): bytes are read as text, never
    /// inflated.
    pub fn decompressed(options: Options) -> Self {
        Reader {
            decode: Decode::Plain,
            text: Text::new(options),
            tally: verdict::Tally::default(),
        }
    }

    /// The options it reads with.
    pub fn options(&self) -> Options {
        self.text.options
    }

    /// Reads the next bytes of the input.
    pub fn feed(&mut self, bytes: &[u8], out: Sink<'_>) {
        match &mut self.decode {
            Decode::Plain => self.text.feed(bytes.to_vec(), out),
            _ => self.feed_raw(bytes, out),
        }
    }

    /// Reads the next bytes of the input, taking them (no copy when the
    /// reader can keep them as they are).
    pub fn feed_vec(&mut self, bytes: Vec<u8>, out: Sink<'_>) {
        match &mut self.decode {
            Decode::Plain => self.text.feed(bytes, out),
            _ => self.feed_raw(&bytes, out),
        }
    }

    fn feed_raw(&mut self, bytes: &[u8], out: Sink<'_>) {
        match &mut self.decode {
            Decode::Sniff(head) => {
                head.extend_from_slice(bytes);
                self.decide(false, out);
            }
            Decode::Plain => self.text.feed(bytes.to_vec(), out),
            Decode::Gzip(gz) => {
                let text = &mut self.text;
                let fed = gz.feed(bytes, &mut |piece| text.feed(piece.to_vec(), out));
                if let Err(reason) = fed {
                    self.decode = Decode::Done;
                    self.text.fail(reason, out);
                }
            }
            Decode::Done => {}
        }
    }

    /// Decides the compression once the first bytes tell it.
    fn decide(&mut self, at_end: bool, out: Sink<'_>) {
        let Decode::Sniff(head) = &mut self.decode else {
            return;
        };
        let Some(kind) = sniff(head, at_end) else {
            return;
        };
        let head = std::mem::take(head);
        match kind {
            Compression::Plain => {
                self.decode = Decode::Plain;
                self.text.feed(head, out);
            }
            Compression::Gzip => {
                self.decode = Decode::Gzip(Box::default());
                self.feed_raw(&head, out);
            }
            Compression::Zip => {
                self.decode = Decode::Done;
                self.text.fail(wording::ZIP_ARCHIVE.to_owned(), out);
            }
        }
    }

    /// The input paused: hands on the complete records held.
    pub fn pause(&mut self, out: Sink<'_>) {
        self.text.pause(out);
    }

    /// The input ended: hands on everything held (a last line needs no
    /// line end); an input cut inside a document or a gzip member is
    /// reported. Later calls do nothing.
    pub fn finish(&mut self, out: Sink<'_>) {
        self.decide(true, out);
        if let Decode::Gzip(gz) = &mut self.decode {
            let text = &mut self.text;
            let finished = gz.finish(&mut |piece| text.feed(piece.to_vec(), out));
            if let Err(reason) = finished {
                self.decode = Decode::Done;
                self.text.fail(reason, out);
                return;
            }
        }
        self.decode = Decode::Done;
        self.text.end(out);
    }

    /// The input failed (an I/O error, a damaged stream inflated
    /// elsewhere): hands on what is complete, then reports `reason` as
    /// [`Event::Unreadable`]. Later calls do nothing.
    pub fn fail(&mut self, reason: String, out: Sink<'_>) {
        self.decode = Decode::Done;
        self.text.fail(reason, out);
    }

    /// The start of the input's first value (or first non-blank line), at
    /// most [`verdict::SAMPLE_BYTES`]: what the input's verdict judges it
    /// by ([`verdict::Tally::sample`]).
    pub fn sample(&self) -> Option<&[u8]> {
        self.text.sample.as_deref()
    }

    /// Whether the reader has finished or failed: it reads nothing more.
    pub fn is_done(&self) -> bool {
        matches!(self.text.state, State::Done)
    }
}

/// Reads a whole input in memory: every event, in order. For tests and
/// tools.
pub fn read_all(bytes: &[u8], options: Options) -> Vec<Event> {
    let mut events = Vec::new();
    let mut r = Reader::new(options);
    r.feed(bytes, &mut |e| events.push(e));
    r.finish(&mut |e| events.push(e));
    events
}

/// The text stage: layout, lines, documents, limits, locations.
#[derive(Debug)]
struct Text {
    options: Options,
    /// Input lines handed on (or skipped) so far.
    line: u64,
    /// Blank bytes the layout probe dropped (after a byte order mark).
    dropped: u64,
    /// The probe dropped bytes: what it holds is not the input's start.
    cleared: bool,
    /// Blank bytes the probe dropped from the line not yet ended: they
    /// count in its length.
    pending: u64,
    /// The input's envelope, once its first object tells it.
    envelope: Envelope,
    /// The start of the input's first value (or non-blank line), for the
    /// input's verdict (`verdict::Tally::sample`).
    sample: Option<Vec<u8>>,
    state: State,
}

#[derive(Debug, Default)]
enum State {
    /// Finding the layout from the first line that holds anything: the
    /// bytes so far, and how many of them were searched for a line end.
    Probe(Vec<u8>, usize),
    /// Line-delimited: the bytes after the last line handed on.
    Lines(Vec<u8>),
    /// A line past the limit that is not an object, skipped to its end.
    Skip(Skip),
    /// A line past the limit that is an object, split as a document.
    Split(Box<LineSplit>),
    /// One JSON document (or several), split as a stream.
    Document(Box<Doc>),
    #[default]
    Done,
}

#[derive(Debug)]
struct Skip {
    bytes: u64,
    /// Only blank bytes so far: a blank line, skipped without a report
    /// (the detector skips blank lines, however long).
    blank: bool,
    /// The bytes so far end in `\r` (the line end's, if `\n` follows).
    cr: bool,
}

/// A line past the limit being split as a document.
#[derive(Debug)]
struct LineSplit {
    line: u64,
    split: DocSplitter,
    failed: bool,
    number: u64,
    bytes: u64,
    /// A `\r` held back: it ends the line if `\n` follows.
    cr: bool,
    data: Vec<u8>,
    locs: Vec<Loc>,
}

impl LineSplit {
    fn new(line: u64, limit: usize) -> Self {
        LineSplit {
            line,
            split: DocSplitter::new(limit),
            failed: false,
            number: 0,
            bytes: 0,
            cr: false,
            data: Vec::new(),
            locs: Vec::new(),
        }
    }
}

/// A document being split.
#[derive(Debug)]
struct Doc {
    split: DocSplitter,
    number: u64,
    data: Vec<u8>,
    locs: Vec<Loc>,
}

/// `buf` followed by `p`, copying the smaller side.
fn join(mut buf: Vec<u8>, mut p: Vec<u8>) -> Vec<u8> {
    if buf.is_empty() {
        p
    } else if buf.len() < p.len() {
        p.splice(0..0, buf);
        p
    } else {
        buf.extend_from_slice(&p);
        buf
    }
}

fn first_is_object(b: &[u8]) -> bool {
    b.iter().find(|b| !is_blank(**b)) == Some(&b'{')
}

impl Text {
    fn new(options: Options) -> Self {
        Text {
            options,
            line: 0,
            dropped: 0,
            cleared: false,
            pending: 0,
            envelope: Envelope::Undecided,
            sample: None,
            state: State::Probe(Vec::new(), 0),
        }
    }

    fn limit(&self) -> usize {
        self.options.max_record_bytes
    }

    /// Length of a byte order mark at the start of the probe's bytes: only
    /// at the start of the input, not after blank bytes already dropped.
    fn bom(&self, head: &[u8]) -> usize {
        if self.cleared { 0 } else { strip_bom(head) }
    }

    fn feed(&mut self, p: Vec<u8>, out: Sink<'_>) {
        if p.is_empty() {
            return;
        }
        self.state = match std::mem::take(&mut self.state) {
            State::Probe(head, searched) => self.probe(join(head, p), searched, false, out),
            State::Lines(buf) => self.lines(join(buf, p), out),
            State::Skip(s) => self.skip(s, p, out),
            State::Split(s) => self.split(s, p, out),
            State::Document(d) => self.document(d, &p, out),
            State::Done => State::Done,
        };
    }

    fn pause(&mut self, out: Sink<'_>) {
        self.state = match std::mem::take(&mut self.state) {
            State::Lines(buf) => State::Lines(self.emit_complete(buf, out)),
            State::Split(mut s) => {
                flush_records(&mut s.data, &mut s.locs, out);
                State::Split(s)
            }
            State::Document(mut d) => {
                flush_records(&mut d.data, &mut d.locs, out);
                State::Document(d)
            }
            other => other,
        };
    }

    fn end(&mut self, out: Sink<'_>) {
        let state = match std::mem::take(&mut self.state) {
            State::Probe(head, searched) => self.probe(head, searched, true, out),
            other => other,
        };
        match state {
            State::Probe(..) | State::Done => {}
            State::Lines(mut buf) => {
                if !buf.is_empty() && buf.last() != Some(&b'\n') {
                    buf.push(b'\n');
                }
                self.emit_complete(buf, out);
            }
            State::Skip(s) => self.skip_report(s.bytes, s.blank, out),
            State::Split(s) => self.split_end(s, out),
            State::Document(mut d) => {
                flush_records(&mut d.data, &mut d.locs, out);
                if let Err(message) = d.split.finish() {
                    out(Event::Unreadable(wording::bad_document(&message)));
                }
            }
        }
    }

    fn fail(&mut self, reason: String, out: Sink<'_>) {
        match std::mem::take(&mut self.state) {
            State::Done => return,
            State::Probe(head, searched) => {
                // What came is read in the layout it shows, to its end (a
                // document's records complete so far are handed on; its
                // end is not looked for, the failure is the report).
                match self.probe(head, searched, true, out) {
                    State::Document(mut d) => flush_records(&mut d.data, &mut d.locs, out),
                    other => {
                        self.state = other;
                        self.end(out);
                    }
                }
            }
            State::Lines(buf) => {
                self.emit_complete(buf, out);
            }
            State::Skip(s) => self.skip_report(s.bytes, s.blank, out),
            State::Split(s) => self.split_end(s, out),
            State::Document(mut d) => flush_records(&mut d.data, &mut d.locs, out),
        }
        self.state = State::Done;
        out(Event::Unreadable(reason));
    }

    /// Finds the layout from the first line that holds anything.
    fn probe(&mut self, mut head: Vec<u8>, searched: usize, end: bool, out: Sink<'_>) -> State {
        let limit = self.limit();
        if self.line == 0 && self.dropped == 0 && !self.cleared {
            // Zip content, wherever it comes from (raw, inflated from gzip,
            // or inflated by a host): refused, never read as text.
            if head.starts_with(&ZIP_MAGIC) {
                out(Event::Unreadable(wording::ZIP_ARCHIVE.to_owned()));
                return State::Done;
            }
            if !end && head.len() < ZIP_MAGIC.len() && ZIP_MAGIC.starts_with(&head) {
                return State::Probe(head, 0);
            }
        }
        if !end && !self.cleared && head.len() < 3 && b"\xEF\xBB\xBF".starts_with(&head) {
            // Perhaps the start of a byte order mark: wait for the rest.
            return State::Probe(head, 0);
        }
        let start = self.bom(&head);
        let content = &head[start..];
        let first = content.iter().position(|b| !is_blank(*b));
        let decided = match first {
            // A first line past the line limit decides too: it is not held
            // whole (a one-line `{"Records":[…]}` file, a gzip bomb without
            // line ends).
            Some(i) => {
                let from = i.max(searched.saturating_sub(start));
                memchr::memchr(b'\n', &content[from..]).is_some() || content.len() - i > limit
            }
            None => false,
        };
        if !decided && !end {
            if first.is_none() && head.len() > limit.min(PROBE_BLANK_BYTES) {
                // Only blank lines so far: count the complete ones and keep
                // nothing of them; keep the line not yet ended (its bytes
                // may begin a record) unless it is past the limit, when
                // only its length matters.
                if let Some(i) = memchr::memrchr(b'\n', &head) {
                    self.line += memchr::memchr_iter(b'\n', &head[..=i]).count() as u64;
                    self.dropped += (i + 1 - start) as u64;
                    self.pending = 0;
                    self.cleared = true;
                    head.drain(..=i);
                }
                let rest = (head.len() - self.bom(&head)) as u64;
                if rest + self.pending > limit as u64 {
                    self.pending += rest;
                    self.dropped += rest;
                    self.cleared = true;
                    head.clear();
                }
            }
            let searched = head.len();
            return State::Probe(head, searched);
        }
        let Some(first) = first else {
            return State::Done; // empty or blank input
        };
        let first_line_end = content[first..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(content.len(), |n| first + n);
        // A first line past the limit that is an object goes the way of any
        // such line (`Text::split_start`): the input is still read as lines.
        let oversized = first_line_end - first > limit;
        let complete = !oversized && {
            let first_line = String::from_utf8_lossy(&content[first..first_line_end]);
            serde_json::from_str::<serde::de::IgnoredAny>(first_line.trim()).is_ok()
        };
        let opener = content[first];
        if (opener == b'[' || opener == b'{') && !(opener == b'{' && (complete || oversized)) {
            let mut split = DocSplitter::new(limit);
            // Positions in messages count the blank bytes already dropped.
            split.pos = self.dropped;
            let doc = Box::new(Doc {
                split,
                number: 0,
                data: Vec::new(),
                locs: Vec::new(),
            });
            return self.document(doc, &head[start..], out);
        }
        head.drain(..start);
        self.lines(head, out)
    }

    /// Line-delimited input: cut at line ends into chunks.
    fn lines(&mut self, mut buf: Vec<u8>, out: Sink<'_>) -> State {
        loop {
            let last = memchr::memrchr(b'\n', &buf);
            let mut partial = match last {
                Some(i) => buf.len() - i - 1,
                None => buf.len() + self.pending as usize,
            };
            if partial > 0 && buf.last() == Some(&b'\r') {
                // Perhaps the line end's: not counted until it is known.
                partial -= 1;
            }
            if partial > self.limit() {
                // A line past the limit: hand on what precedes it, then
                // skip it (or split it) to its end without keeping it.
                let rest = self.emit_complete(buf, out);
                let pending = std::mem::take(&mut self.pending);
                return if first_is_object(&rest) {
                    self.split_start(rest, pending, out)
                } else {
                    State::Skip(Skip {
                        bytes: rest.len() as u64 + pending,
                        blank: rest.iter().all(|b| is_blank(*b)),
                        cr: rest.last() == Some(&b'\r'),
                    })
                };
            }
            if buf.len() >= self.options.chunk_bytes && last.is_some() {
                buf = self.emit_complete(buf, out);
                continue;
            }
            return State::Lines(buf);
        }
    }

    fn skip(&mut self, mut s: Skip, p: Vec<u8>, out: Sink<'_>) -> State {
        if s.blank {
            let end = memchr::memchr(b'\n', &p).unwrap_or(p.len());
            if let Some(j) = p[..end].iter().position(|b| !is_blank(*b))
                && p[j] == b'{'
            {
                // Blank so far, an object after all: split it as one, as
                // when the line arrives whole.
                let pending = s.bytes + j as u64;
                if let State::Split(st) = self.split_start(Vec::new(), pending, out) {
                    return self.split(st, p[j..].to_vec(), out);
                }
            }
        }
        match memchr::memchr(b'\n', &p) {
            Some(i) => {
                let cr = if i > 0 { p[i - 1] == b'\r' } else { s.cr };
                let blank = s.blank && p[..i].iter().all(|b| is_blank(*b));
                self.skip_report(s.bytes + i as u64 - u64::from(cr), blank, out);
                self.lines(p[i + 1..].to_vec(), out)
            }
            None => {
                s.bytes += p.len() as u64;
                s.blank &= p.iter().all(|b| is_blank(*b));
                s.cr = p.last() == Some(&b'\r');
                State::Skip(s)
            }
        }
    }

    fn skip_report(&mut self, bytes: u64, blank: bool, out: Sink<'_>) {
        self.line += 1;
        if blank {
            return;
        }
        let at = Loc::line(self.line);
        out(Event::TooLarge { at, bytes });
    }

    /// Starts reading a line past the limit that is an object as a
    /// document: a line that holds `{"Records":[…]}` gives its records
    /// (each past the limit reported as too large), any other object is
    /// reported as too large.
    fn split_start(&mut self, started: Vec<u8>, pending: u64, out: Sink<'_>) -> State {
        self.line += 1;
        let mut st = Box::new(LineSplit::new(self.line, self.limit()));
        st.bytes = pending;
        self.split_part(&mut st, &started, out);
        State::Split(st)
    }

    fn split(&mut self, mut st: Box<LineSplit>, p: Vec<u8>, out: Sink<'_>) -> State {
        match memchr::memchr(b'\n', &p) {
            Some(i) => {
                let end = if i > 0 && p[i - 1] == b'\r' { i - 1 } else { i };
                if i == 0 {
                    st.cr = false; // the line end's
                }
                self.split_part(&mut st, &p[..end], out);
                self.split_end(st, out);
                self.lines(p[i + 1..].to_vec(), out)
            }
            None => {
                self.split_part(&mut st, &p, out);
                State::Split(st)
            }
        }
    }

    /// Feeds part of the long line to its splitter, holding back a final
    /// `\r` until it is known not to end the line.
    fn split_part(&mut self, st: &mut LineSplit, mut part: &[u8], out: Sink<'_>) {
        if part.is_empty() {
            return;
        }
        if std::mem::take(&mut st.cr) {
            self.split_bytes(st, b"\r", out);
        }
        if let Some(rest) = part.strip_suffix(b"\r") {
            st.cr = true;
            part = rest;
        }
        self.split_bytes(st, part, out);
    }

    fn split_bytes(&mut self, st: &mut LineSplit, part: &[u8], out: Sink<'_>) {
        st.bytes += part.len() as u64;
        if st.failed {
            return;
        }
        let mut events = Vec::new();
        if st.split.feed(part, &mut events).is_err() {
            st.failed = true;
        }
        for (e, origin) in events {
            let at = match origin {
                Origin::LogEvent { message, index, .. } => Loc {
                    log_event: Some(index),
                    // Messages back to back on one line: which one.
                    record: (message > 1).then_some(message),
                    ..Loc::line(st.line)
                },
                Origin::Records => {
                    st.number += 1;
                    Loc {
                        record: Some(st.number),
                        ..Loc::line(st.line)
                    }
                }
                Origin::Top => Loc::line(st.line),
            };
            self.place(e, origin, at, &mut st.data, &mut st.locs, out);
        }
    }

    /// The long line ended (or the input did).
    fn split_end(&mut self, mut st: Box<LineSplit>, out: Sink<'_>) {
        if std::mem::take(&mut st.cr) {
            self.split_bytes(&mut st, b"\r", out);
        }
        if !st.failed && st.split.finish().is_err() {
            st.failed = true;
        }
        flush_records(&mut st.data, &mut st.locs, out);
        if st.failed {
            // Damaged: what could not be split is one record too large.
            let at = Loc::line(st.line);
            out(Event::TooLarge {
                at,
                bytes: st.bytes,
            });
        }
    }

    /// Hands on the complete lines of `buf`, in chunks of about
    /// `chunk_bytes`; returns the rest (a line not yet ended).
    fn emit_complete(&mut self, mut buf: Vec<u8>, out: Sink<'_>) -> Vec<u8> {
        let Some(last) = memchr::memrchr(b'\n', &buf) else {
            return buf;
        };
        let rest = buf.split_off(last + 1);
        let size = self.options.chunk_bytes;
        while buf.len() > size {
            // The last line end within `size`, else the end of the long line.
            let cut = memchr::memrchr(b'\n', &buf[..size])
                .or_else(|| memchr::memchr(b'\n', &buf[size..]).map(|i| i + size))
                .map_or(buf.len(), |i| i + 1);
            let tail = buf.split_off(cut);
            self.emit(buf, out);
            buf = tail;
        }
        if !buf.is_empty() {
            self.emit(buf, out);
        }
        rest
    }

    /// Hands on complete lines (ending in `\n`): as they are, unless some
    /// hold `Records` (expanded) or are past the limit (split or skipped,
    /// as a line past the limit that arrives in pieces is).
    fn emit(&mut self, data: Vec<u8>, out: Sink<'_>) {
        if self.sample.is_none()
            && let Some(line) = data
                .split(|b| *b == b'\n')
                .find(|l| l.iter().any(|b| !is_blank(*b)))
        {
            self.keep_sample(line);
        }
        let limit = self.limit();
        let mut lines = 0u64;
        let mut long = false;
        let mut start = 0;
        let pending = self.pending as usize;
        for i in memchr::memchr_iter(b'\n', &data) {
            let extra = if lines == 0 { pending } else { 0 };
            if i - start + extra > limit {
                let cr = usize::from(i > start && data[i - 1] == b'\r');
                long |= i - start - cr + extra > limit;
            }
            start = i + 1;
            lines += 1;
        }
        let first_line = self.line + 1;
        self.line += lines;
        if lines > 0 {
            self.pending = 0;
        }
        if !long && self.envelope == Envelope::Undecided {
            // (With a long line, `expand_lines` decides line by line, in
            // order, as when the long line comes in pieces.)
            self.decide_from_lines(&data);
        }
        let plain = matches!(self.envelope, Envelope::Plain | Envelope::Undecided);
        if !long && plain && memchr::memmem::find(&data, b"\"Records\"").is_none() {
            out(Event::Chunk(Chunk {
                data,
                locs: Locs::Lines { first_line },
            }));
            return;
        }
        self.expand_lines(&data, first_line, pending as u64, out);
    }

    /// Lines of which some hold `{"Records":[…]}` or are past the limit:
    /// each `Records` line becomes its records, one per line; a line past
    /// the limit that is an object is split as a stream, exactly as one
    /// that arrives in pieces is (`Text::split_start`), and any other line
    /// past the limit is reported as too large; every other line stays as
    /// it is. So a long line gives the same records and reports whether it
    /// arrived whole or in pieces.
    fn expand_lines(&mut self, data: &[u8], first_line: u64, pending: u64, out: Sink<'_>) {
        let limit = self.limit();
        let mut records = Vec::with_capacity(data.len());
        let mut locs = Vec::new();
        let body = data.strip_suffix(b"\n").unwrap_or(data);
        for (i, line) in body.split(|b| *b == b'\n').enumerate() {
            let n = first_line + i as u64;
            let trimmed = line.strip_suffix(b"\r").unwrap_or(line);
            // The first line's blank start the probe dropped, if any.
            let extra = if i == 0 { pending } else { 0 };
            let length = trimmed.len() as u64 + extra;
            if length > limit as u64 && trimmed.iter().all(|b| is_blank(*b)) {
                // A blank line, however long: skipped, as the detector
                // skips blank lines.
                continue;
            }
            if length > limit as u64 {
                let at = Loc::line(n);
                if first_is_object(trimmed) {
                    // Its records come after those before it.
                    flush_records(&mut records, &mut locs, out);
                    let mut st = LineSplit::new(n, limit);
                    st.bytes = extra;
                    self.split_bytes(&mut st, trimmed, out);
                    self.split_end(Box::new(st), out);
                } else {
                    out(Event::TooLarge { at, bytes: length });
                }
                continue;
            }
            if self.envelope == Envelope::Undecided
                && first_is_object(trimmed)
                && let Some(envelope) = Envelope::of(trimmed)
            {
                self.envelope = envelope;
            }
            // The envelopes' lines in one parse each, without the splitter
            // (a line is within the limit, so it is held whole anyway).
            match self.envelope {
                Envelope::CloudWatchLogs => {
                    if let Some(m) = PlainMessage::parse(trimmed) {
                        self.place_plain_message(m, Loc::line(n), &mut records, &mut locs, out);
                        continue;
                    }
                    if let Some(m) = Message::parse(trimmed) {
                        self.place_message(&m, Loc::line(n), &mut records, &mut locs, out);
                        continue;
                    }
                }
                Envelope::EventBridge | Envelope::Lambda if first_is_object(trimmed) => {
                    let r = DocEvent::Record(trimmed.to_vec());
                    self.place(r, Origin::Top, Loc::line(n), &mut records, &mut locs, out);
                    continue;
                }
                _ => {}
            }
            let opened = !matches!(self.envelope, Envelope::Plain | Envelope::Undecided);
            match expand(trimmed, opened) {
                Some(found) => {
                    let mut k = 0;
                    for (e, origin) in found {
                        let at = match origin {
                            Origin::Records => {
                                k += 1;
                                Loc {
                                    record: Some(k),
                                    ..Loc::line(n)
                                }
                            }
                            Origin::LogEvent { message, index, .. } => Loc {
                                log_event: Some(index),
                                record: (message > 1).then_some(message),
                                ..Loc::line(n)
                            },
                            Origin::Top => Loc::line(n),
                        };
                        self.place(e, origin, at, &mut records, &mut locs, out);
                    }
                }
                None => {
                    records.extend_from_slice(line);
                    records.push(b'\n');
                    locs.push(Loc::line(n));
                }
            }
        }
        flush_records(&mut records, &mut locs, out);
    }

    /// Places one log event at `at`: its record, or a report.
    fn place_log_event(
        &mut self,
        event: &[u8],
        control: bool,
        at: Loc,
        data: &mut Vec<u8>,
        locs: &mut Vec<Loc>,
        out: Sink<'_>,
    ) {
        if control {
            return self.place_log_text(None, at, data, locs, out);
        }
        match envelope::log_event(event) {
            LogEvent::Record(text) => {
                self.place_log_text(Some(text.as_bytes()), at, data, locs, out)
            }
            LogEvent::Bad(message) => out(Event::BadEnvelope { at, message }),
        }
    }

    /// Places a log event's record (`None` for a control message's log
    /// event, skipped and counted): every path that takes records out of
    /// CloudWatch Logs messages ends here.
    fn place_log_text(
        &mut self,
        text: Option<&[u8]>,
        at: Loc,
        data: &mut Vec<u8>,
        locs: &mut Vec<Loc>,
        out: Sink<'_>,
    ) {
        if self.envelope == Envelope::Undecided {
            self.envelope = Envelope::CloudWatchLogs;
        }
        match text {
            None => out(Event::Control { at }),
            Some(t) if t.len() > self.limit() => out(Event::TooLarge {
                at,
                bytes: t.len() as u64,
            }),
            Some(t) => {
                push_record(t, at, data, locs);
                if data.len() >= self.options.chunk_bytes {
                    flush_records(data, locs, out);
                }
            }
        }
    }

    /// Places the log events of a message parsed whole, at `at` with their
    /// number.
    fn place_message(
        &mut self,
        m: &Message<'_>,
        at: Loc,
        data: &mut Vec<u8>,
        locs: &mut Vec<Loc>,
        out: Sink<'_>,
    ) {
        let control = m.is_control();
        for (i, event) in m.log_events.iter().enumerate() {
            let here = Loc {
                log_event: Some(i as u64 + 1),
                ..at
            };
            self.place_log_event(event.get().as_bytes(), control, here, data, locs, out);
        }
    }

    /// Places the records of a message whose log events all carry text
    /// (parsed and unescaped in one pass), at `at` with their number.
    fn place_plain_message(
        &mut self,
        m: PlainMessage<'_>,
        at: Loc,
        data: &mut Vec<u8>,
        locs: &mut Vec<Loc>,
        out: Sink<'_>,
    ) {
        let control = m.is_control();
        for (i, event) in m.log_events.iter().enumerate() {
            let here = Loc {
                log_event: Some(i as u64 + 1),
                ..at
            };
            let text = (!control).then_some(event.message.as_bytes());
            self.place_log_text(text, here, data, locs, out);
        }
    }

    /// Places the values found in a value at `at` (a message in an array).
    fn place_within(
        &mut self,
        found: Vec<Found>,
        at: Loc,
        data: &mut Vec<u8>,
        locs: &mut Vec<Loc>,
        out: Sink<'_>,
    ) {
        for (e, origin) in found {
            let here = match origin {
                Origin::LogEvent { index, .. } => Loc {
                    log_event: Some(index),
                    ..at
                },
                Origin::Records | Origin::Top => at,
            };
            // Only log events: a record or a value at the top of a value
            // placed again is placed as a record, never opened again.
            let origin = match origin {
                Origin::Top => Origin::Records,
                o => o,
            };
            self.place(e, origin, here, data, locs, out);
        }
    }

    /// Keeps the start of the input's first value.
    fn keep_sample(&mut self, value: &[u8]) {
        let start = value.iter().position(|b| !is_blank(*b)).unwrap_or(0);
        let value = &value[start..];
        self.sample = Some(value[..value.len().min(verdict::SAMPLE_BYTES)].to_vec());
    }

    /// Decides the envelope from the first line that is a JSON object, if
    /// the lines hold one.
    fn decide_from_lines(&mut self, data: &[u8]) {
        for line in data.split(|b| *b == b'\n') {
            if !first_is_object(line) {
                continue;
            }
            if let Some(envelope) = Envelope::of(line) {
                self.envelope = envelope;
                return;
            }
        }
    }

    /// Places one value the splitter found, at `at`: a record goes into
    /// `data` (its location into `locs`); an envelope is opened and its
    /// records placed; a value that holds no record is reported. The first
    /// object placed decides the input's envelope, if nothing did before.
    fn place(
        &mut self,
        e: DocEvent,
        origin: Origin,
        at: Loc,
        data: &mut Vec<u8>,
        locs: &mut Vec<Loc>,
        out: Sink<'_>,
    ) {
        let limit = self.limit();
        let r = match e {
            DocEvent::TooLarge(bytes) => return out(Event::TooLarge { at, bytes }),
            DocEvent::Record(r) => r,
        };
        if self.sample.is_none() {
            self.keep_sample(&r);
        }
        match origin {
            Origin::Records => {
                if self.envelope == Envelope::Undecided {
                    self.envelope = Envelope::of_record(&r);
                }
                match self.envelope {
                    Envelope::S3Notifications => match envelope::open(self.envelope, &r) {
                        Opened::Bad(message) => out(Event::BadEnvelope { at, message }),
                        _ => push_record(&r, at, data, locs),
                    },
                    _ => push_record(&r, at, data, locs),
                }
            }
            Origin::LogEvent { control, .. } => {
                self.place_log_event(&r, control, at, data, locs, out);
            }
            Origin::Top => {
                if self.envelope == Envelope::Undecided
                    && let Some(envelope) = Envelope::of(&r)
                {
                    self.envelope = envelope;
                }
                if self.envelope == Envelope::CloudWatchLogs
                    && memchr::memmem::find(&r, b"\"logEvents\"").is_some()
                    && let Some(found) = expand(&r, true)
                {
                    // A message as a member of an array: its log events.
                    return self.place_within(found, at, data, locs, out);
                }
                {
                    match envelope::open(self.envelope, &r) {
                        Opened::Record if r.len() > limit => out(Event::TooLarge {
                            at,
                            bytes: r.len() as u64,
                        }),
                        Opened::Record => push_record(&r, at, data, locs),
                        Opened::Detail(d) if d.len() > limit => out(Event::TooLarge {
                            at,
                            bytes: d.len() as u64,
                        }),
                        Opened::Detail(d) => push_record(d, at, data, locs),
                        Opened::Awslogs(payload) => {
                            // Most payloads are one gzipped message: inflated
                            // and parsed whole; anything else (or a payload
                            // past the bound) is read by a nested reader, as
                            // a stream.
                            let inflated = inflate_bounded(&payload, MAX_AWSLOGS_INFLATED_BYTES);
                            let text = inflated.as_deref();
                            if let Some(m) = text.and_then(PlainMessage::parse) {
                                self.place_plain_message(m, at, data, locs, out);
                            } else if let Some(m) = text.and_then(Message::parse) {
                                self.place_message(&m, at, data, locs, out);
                            } else {
                                read_awslogs(&payload, at, self.options, data, locs, out);
                            }
                        }
                        Opened::Bad(message) => out(Event::BadEnvelope { at, message }),
                    }
                }
            }
        }
        if data.len() >= self.options.chunk_bytes {
            flush_records(data, locs, out);
        }
    }

    /// One JSON document (or several concatenated), read as a stream: the
    /// members of a top-level array, the members of a top-level object's
    /// `Records` array, or a top-level object itself, each handed on as
    /// soon as it is complete. A record longer than the limit is skipped
    /// (reported as too large) rather than held.
    fn document(&mut self, mut d: Box<Doc>, p: &[u8], out: Sink<'_>) -> State {
        let mut events = Vec::new();
        let fed = d.split.feed(p, &mut events);
        for (e, origin) in events {
            let at = match origin {
                Origin::LogEvent { message, index, .. } => Loc {
                    log_event: Some(index),
                    ..Loc::record(message)
                },
                Origin::Records | Origin::Top => {
                    d.number += 1;
                    Loc::record(d.number)
                }
            };
            let Doc { data, locs, .. } = &mut *d;
            self.place(e, origin, at, data, locs, out);
        }
        match fed {
            Ok(()) => State::Document(d),
            Err(message) => {
                flush_records(&mut d.data, &mut d.locs, out);
                out(Event::Unreadable(wording::bad_document(&message)));
                State::Done
            }
        }
    }
}

/// The most bytes a Lambda event's payload is inflated to in memory (16
/// MiB: a subscription batches at most 1 MiB of log events); a larger one
/// is read as a stream by a nested reader instead.
const MAX_AWSLOGS_INFLATED_BYTES: u64 = 16 << 20;

/// The gzip `payload` inflated whole, if it is gzip and inflates to at most
/// `bound` bytes.
fn inflate_bounded(payload: &[u8], bound: u64) -> Option<Vec<u8>> {
    use std::io::Read as _;
    if !payload.starts_with(&GZIP_MAGIC) {
        return None;
    }
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(payload)
        .take(bound + 1)
        .read_to_end(&mut out)
        .ok()?;
    (out.len() as u64 <= bound).then_some(out)
}

/// A record into the chunk being built.
fn push_record(record: &[u8], at: Loc, data: &mut Vec<u8>, locs: &mut Vec<Loc>) {
    one_line(record, data);
    locs.push(at);
}

/// Reads a Lambda event's payload (base64-decoded: a gzipped CloudWatch
/// Logs message) as a stream with a nested reader, placing its records at
/// the event's location with their log event's number. What the payload
/// holds that is not a record is reported at the same place; a payload
/// that cannot be read (not gzip, damaged) is a bad envelope.
fn read_awslogs(
    payload: &[u8],
    at: Loc,
    options: Options,
    data: &mut Vec<u8>,
    locs: &mut Vec<Loc>,
    out: Sink<'_>,
) {
    let within = |inner: Loc| Loc {
        log_event: inner.log_event,
        ..at
    };
    let mut nested = Reader::awslogs_payload(options);
    let mut sink = |e: Event| match e {
        Event::Chunk(c) => {
            let body = c.data.strip_suffix(b"\n").unwrap_or(&c.data);
            for (i, line) in body.split(|b| *b == b'\n').enumerate() {
                push_record(line, within(c.loc(i as u32)), data, locs);
            }
            if data.len() >= options.chunk_bytes {
                flush_records(data, locs, out);
            }
        }
        Event::TooLarge { at: inner, bytes } => out(Event::TooLarge {
            at: within(inner),
            bytes,
        }),
        Event::Control { at: inner } => out(Event::Control { at: within(inner) }),
        Event::BadEnvelope { at: inner, message } => out(Event::BadEnvelope {
            at: within(inner),
            message,
        }),
        Event::Unreadable(reason) => out(Event::BadEnvelope {
            at,
            message: format!("the Lambda event's awslogs.data: {reason}"),
        }),
    };
    nested.feed(payload, &mut sink);
    nested.finish(&mut sink);
}

fn flush_records(data: &mut Vec<u8>, locs: &mut Vec<Loc>, out: Sink<'_>) {
    if data.is_empty() {
        return;
    }
    out(Event::Chunk(Chunk {
        data: std::mem::take(data),
        locs: Locs::Records(std::mem::take(locs)),
    }));
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

/// The values of one line that is a top-level JSON object, found as the
/// document splitter finds them (so a line gives the same records as the
/// same document pretty-printed or past the line limit: the key spelled
/// literally, every `Records` or `logEvents` array of the object): with
/// `opened` (an input whose envelope is not plain) for every such line,
/// else only for one with a `Records` array. `None` for any
/// other line, which is then one record (a line that is not valid JSON is
/// `invalid-json`, whole).
fn expand(line: &[u8], opened: bool) -> Option<Vec<Found>> {
    // (In a plain input, a line is looked into only for `Records`, as the
    // chunk's gate in `Text::emit` looks for nothing else.)
    if !opened && memchr::memmem::find(line, b"\"Records\"").is_none() {
        return None;
    }
    if !first_is_object(line) || serde_json::from_slice::<serde::de::IgnoredAny>(line).is_err() {
        return None;
    }
    let mut split = DocSplitter::new(usize::MAX);
    let mut events = Vec::new();
    split.feed(line, &mut events).ok()?;
    split.finish().ok()?;
    if !opened && !split.seen_records {
        return None;
    }
    Some(events)
}

/// A byte of a blank line (as the detector reads blank lines), or a line
/// end.
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Length of a UTF-8 byte order mark at the start of `b` (0 or 3).
fn strip_bom(b: &[u8]) -> usize {
    if b.starts_with(b"\xEF\xBB\xBF") { 3 } else { 0 }
}

#[cfg(test)]
mod tests;
