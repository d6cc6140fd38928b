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

/// Where a found value sits in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A top-level value, or a member of a top-level array.
    Top,
    /// A member of a top-level object's `Records` array.
    Records,
    /// A member of a top-level object's `logEvents` array: a CloudWatch
    /// Logs log event, whose `message` holds the record as text.
    LogEvent {
        /// The top-level value it is in, from 1 (the message).
        message: u64,
        /// Its place in `logEvents`, from 1.
        index: u64,
        /// The message's `messageType` is `CONTROL_MESSAGE` (when that key
        /// comes before `logEvents`, as CloudWatch Logs writes it).
        control: bool,
    },
}

/// A value found, and where it sits.
pub(crate) type Found = (DocEvent, Origin);

/// Bytes of a top-level key kept to recognise it: enough for the longest
/// key the splitter looks for (`messageType`).
const KEY_BYTES: usize = 16;

/// Bytes of a `messageType` value kept: enough for `CONTROL_MESSAGE`.
const VALUE_BYTES: usize = 32;

/// How much longer than the record limit a log event may be: the escapes
/// of a record at the limit held as a JSON string (each `"` and `\`
/// doubled) plus the log event's own members. The record inside is held
/// to the limit once unescaped.
pub(crate) fn log_event_limit(limit: usize) -> usize {
    limit.saturating_mul(2).saturating_add(1024)
}

/// The longest top-level object with an `awslogs` key (a Lambda function's
/// CloudWatch Logs event) held whole, in bytes: 6 MiB, Lambda's own limit
/// on a synchronous invocation's payload, so no real one is refused. Its
/// records are read from it as a stream, each held to the record limit.
pub const MAX_AWSLOGS_EVENT_BYTES: usize = 6 << 20;

/// Room an EventBridge event needs beyond its `detail` (a record at the
/// limit): its own members. A top-level object with a `detail-type` key
/// may be this much longer than the record limit.
pub const EVENTBRIDGE_ALLOWANCE_BYTES: usize = 4096;

/// Which array of a top-level object was just named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ArrayKey {
    Records,
    LogEvents,
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
    /// The `logEvents` array of a top-level object: its members are log
    /// events.
    LogEvents,
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
    /// The limit of the record being read (larger for log events and
    /// envelopes, see [`log_event_limit`]).
    record_limit: usize,
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
    /// The array key just read, before its `[`.
    after_key: Option<ArrayKey>,
    /// After `"messageType":`, its value is read into `value`.
    value_next: bool,
    reading_value: bool,
    value: Vec<u8>,
    /// Top-level values started so far.
    tops: u64,
    /// Log events of the current top-level object so far.
    log_events: u64,
    /// The current top-level object's `messageType` is `CONTROL_MESSAGE`.
    control: bool,
    /// A `Records` or `logEvents` array was met: the records are its
    /// members.
    pub(crate) seen_records: bool,
    /// Bytes seen, for messages (counted from the input's start).
    pub(crate) pos: u64,
}

impl DocSplitter {
    pub(crate) fn new(limit: usize) -> Self {
        DocSplitter {
            limit,
            record_limit: limit,
            stack: Vec::new(),
            inner: 0,
            in_string: false,
            escaped: false,
            record: None,
            skipping: None,
            record_depth: 0,
            key: Vec::new(),
            reading_key: false,
            after_key: None,
            value_next: false,
            reading_value: false,
            value: Vec::new(),
            tops: 0,
            log_events: 0,
            control: false,
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

    /// Directly inside an object that is a member of a top-level array
    /// (where an envelope's keys may be).
    fn at_array_member(&self) -> bool {
        self.inner == 1 && self.stack == [Frame::TopArray] && self.record_depth == 1
    }

    fn capturing(&self) -> bool {
        self.record.is_some() || self.skipping.is_some()
    }

    /// Appends a run of bytes, as `push_byte` would one by one: past the
    /// limit the record is dropped and only its length counted, so a run
    /// never grows the record beyond `limit`.
    fn push_bytes(&mut self, run: &[u8]) {
        if let Some(r) = &mut self.record {
            if r.len() + run.len() <= self.record_limit {
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
            if r.len() > self.record_limit {
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
        self.record_limit = if self.inner == 0 && self.stack.last() == Some(&Frame::LogEvents) {
            log_event_limit(self.limit)
        } else {
            self.limit
        };
        self.record = Some(vec![b]);
        self.skipping = None;
        self.record_depth = self.depth();
    }

    fn end_record(&mut self, out: &mut Vec<Found>) {
        // A member of a `Records` or `logEvents` array (rather than a
        // top-level object or array member): known when it ends, however
        // the bytes came.
        let origin = match (self.inner, self.stack.last()) {
            (0, Some(Frame::Records)) => Origin::Records,
            (0, Some(Frame::LogEvents)) => {
                self.log_events += 1;
                Origin::LogEvent {
                    message: self.tops,
                    index: self.log_events,
                    control: self.control,
                }
            }
            _ => Origin::Top,
        };
        if let Some(r) = self.record.take() {
            out.push((DocEvent::Record(r), origin));
        } else if let Some(n) = self.skipping.take() {
            out.push((DocEvent::TooLarge(n), origin));
        }
    }

    /// Where records start at the current depth.
    fn members_are_records(&self) -> bool {
        self.inner == 0
            && matches!(
                self.stack.last(),
                Some(Frame::TopArray | Frame::Records | Frame::LogEvents)
            )
    }

    /// A key of a top-level object was read: one that names an envelope
    /// lets the object grow past the record limit by what the envelope
    /// needs.
    fn top_key_read(&mut self) {
        let raised = match self.key.as_slice() {
            b"awslogs" => self.limit.max(MAX_AWSLOGS_EVENT_BYTES),
            b"detail-type" => self.limit.saturating_add(EVENTBRIDGE_ALLOWANCE_BYTES),
            _ => return,
        };
        if self.record.is_some() {
            self.record_limit = self.record_limit.max(raised);
        }
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
            if self.in_string && !self.escaped && !self.reading_key && !self.reading_value {
                let rest = &bytes[i..];
                // An escape and the byte it escapes change nothing either:
                // the run goes on over them (a record held as text, in a
                // CloudWatch Logs message, has one every few bytes). It
                // stops at a quote, or at a backslash whose byte has not
                // come yet.
                let mut run = 0;
                loop {
                    match memchr::memchr2(b'"', b'\\', &rest[run..]) {
                        None => {
                            run = rest.len();
                            break;
                        }
                        Some(k) if rest[run + k] == b'\\' && run + k + 1 < rest.len() => {
                            run += k + 2;
                        }
                        Some(k) => {
                            run += k;
                            break;
                        }
                    }
                }
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
                // A key longer than those looked for needs no more of its
                // bytes to tell it is none of them: at most `KEY_BYTES`
                // are kept (and `VALUE_BYTES` of a `messageType`).
                if self.escaped {
                    self.escaped = false;
                    self.keep_string_byte(b);
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if std::mem::take(&mut self.reading_key) {
                        self.top_key_read();
                    }
                    if std::mem::take(&mut self.reading_value) {
                        self.control = self.value == b"CONTROL_MESSAGE";
                    }
                    if self.scalar_open() {
                        self.end_record(out);
                    }
                } else {
                    self.keep_string_byte(b);
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
            if b != b'"' {
                self.value_next = false;
            }
            match b {
                b'{' | b'[' if self.stack.is_empty() => {
                    self.after_key = None;
                    self.tops += 1;
                    self.log_events = 0;
                    self.control = false;
                    if b == b'{' {
                        // The object may be a record: read it as one until
                        // it shows a `Records` array.
                        self.start_record(b);
                        self.stack.push(Frame::TopObject);
                    } else {
                        self.stack.push(Frame::TopArray);
                    }
                }
                b'[' if self.after_key.is_some() => {
                    // `{"Records": [` or `{"logEvents": [`: what was read
                    // of the object is not a record; the array's members
                    // are.
                    self.record = None;
                    self.skipping = None;
                    self.seen_records = true;
                    self.stack.push(match self.after_key.take() {
                        Some(ArrayKey::LogEvents) => Frame::LogEvents,
                        _ => Frame::Records,
                    });
                }
                b'{' | b'[' => {
                    self.after_key = None;
                    if at_member {
                        self.start_record(b);
                    } else if self.capturing() {
                        self.push_byte(b);
                    }
                    self.inner += 1;
                }
                b'}' | b']' => {
                    self.after_key = None;
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
                        Frame::TopArray | Frame::Records | Frame::LogEvents => {}
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
                    self.after_key = None;
                    if self.scalar_open() {
                        self.end_record(out);
                    } else if self.capturing() {
                        self.push_byte(b);
                    }
                }
                b'"' => {
                    self.after_key = None;
                    self.in_string = true;
                    if at_member {
                        self.start_record(b);
                    } else if self.capturing() {
                        self.push_byte(b);
                    }
                    if std::mem::take(&mut self.value_next) {
                        // The value of a top-level `messageType`.
                        self.value.clear();
                        self.reading_value = true;
                    } else if self.at_top_object() || self.at_array_member() {
                        // A key of a top-level object (or of an object in a
                        // top-level array), read to spot `Records`,
                        // `logEvents` and the envelopes' keys.
                        self.key.clear();
                        self.reading_key = true;
                    }
                }
                b':' => {
                    if self.capturing() {
                        self.push_byte(b);
                    }
                    let top = self.at_top_object();
                    self.after_key = match self.key.as_slice() {
                        b"Records" if top => Some(ArrayKey::Records),
                        b"logEvents" if top => Some(ArrayKey::LogEvents),
                        _ => None,
                    };
                    self.value_next = top && self.key == b"messageType";
                }
                _ => {
                    self.after_key = None;
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

    /// Keeps a byte of the key or `messageType` value being read.
    fn keep_string_byte(&mut self, b: u8) {
        if self.reading_key && self.key.len() < KEY_BYTES {
            self.key.push(b);
        } else if self.reading_value && self.value.len() < VALUE_BYTES {
            self.value.push(b);
        }
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
