//! The document splitter: a stream of JSON text cut into records without
//! holding the document.

/// What the document splitter finds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum DocEvent {
    /// A record's JSON text.
    Record(Vec<u8>),
    /// A record longer than the limit, skipped: its length.
    TooLarge(u64),
}

/// A record found, and whether it is a member of a `Records` array.
pub(crate) type Found = (DocEvent, bool);

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
#[derive(Debug)]
pub(crate) struct DocSplitter {
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
    pub(crate) seen_records: bool,
    /// Bytes seen, for messages (counted from the input's start).
    pub(crate) pos: u64,
}

impl DocSplitter {
    pub(crate) fn new(limit: usize) -> Self {
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

    /// Appends a run of bytes, as `push_byte` would one by one: past the
    /// limit the record is dropped and only its length counted, so a run
    /// never grows the record beyond `limit`.
    fn push_bytes(&mut self, run: &[u8]) {
        if let Some(r) = &mut self.record {
            if r.len() + run.len() <= self.limit {
                r.extend_from_slice(run);
            } else {
                self.skipping = Some((r.len() + run.len()) as u64);
                self.record = None;
            }
        } else if let Some(n) = &mut self.skipping {
            *n += run.len() as u64;
        }
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

    fn end_record(&mut self, out: &mut Vec<Found>) {
        // A member of a `Records` array (rather than a top-level object
        // or array member): known when it ends, however the bytes came.
        let in_records = self.inner == 0 && self.stack.last() == Some(&Frame::Records);
        if let Some(r) = self.record.take() {
            out.push((DocEvent::Record(r), in_records));
        } else if let Some(n) = self.skipping.take() {
            out.push((DocEvent::TooLarge(n), in_records));
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

    pub(crate) fn feed(&mut self, bytes: &[u8], out: &mut Vec<Found>) -> Result<(), String> {
        let mut i = 0;
        while i < bytes.len() {
            // The body of a string, up to its next quote or backslash, in
            // one step: most of a record's bytes are in strings, and
            // nothing in that stretch changes the splitter's state but the
            // bytes kept and counted. (A key being read for `Records`
            // goes byte by byte.)
            if self.in_string && !self.escaped && !self.reading_key {
                let rest = &bytes[i..];
                let run = memchr::memchr2(b'"', b'\\', rest).unwrap_or(rest.len());
                if run > 0 {
                    if self.capturing() {
                        self.push_bytes(&rest[..run]);
                    }
                    self.pos += run as u64;
                    i += run;
                    continue;
                }
            }
            let b = bytes[i];
            i += 1;
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
    pub(crate) fn finish(&self) -> Result<(), String> {
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
