//! Reading CloudTrail exports: every layout real ones use, gzip or not,
//! decided by the content and never by the file name.
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
//! error here. Line-delimited input is streamed; the other layouts are one
//! JSON document and are read whole.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;
use serde::Deserialize;
use serde_json::value::RawValue;

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

/// One record and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based position of the record in its input.
    pub number: u64,
    /// 1-based line, for line-delimited input.
    pub line: Option<u64>,
    /// The record's JSON text.
    pub text: String,
}

impl Record {
    /// `record N`, `line L` or `record N (line L)`, for messages.
    pub fn location(&self) -> String {
        location(self.number, self.line)
    }
}

/// Where a record is, as [`Record::location`] writes it.
pub fn location(number: u64, line: Option<u64>) -> String {
    match line {
        Some(l) if l != number => format!("record {number} (line {l})"),
        Some(l) => format!("line {l}"),
        None => format!("record {number}"),
    }
}

#[derive(Deserialize)]
struct Wrapper<'a> {
    #[serde(rename = "Records", borrow)]
    records: Option<Vec<&'a RawValue>>,
}

/// Expands one top-level JSON value into records: the members of its
/// `Records` array when it has one, else the value itself.
fn expand(value: &str, out: &mut VecDeque<String>) {
    if value.contains("\"Records\"")
        && let Ok(Wrapper {
            records: Some(records),
        }) = serde_json::from_str::<Wrapper>(value)
    {
        out.extend(records.into_iter().map(|r| r.get().to_owned()));
        return;
    }
    out.push_back(value.to_owned());
}

enum Mode {
    /// Not yet decided: nothing has been read.
    Start,
    /// One record per line.
    Lines,
    /// All records are already in the queue.
    Done,
}

/// An iterator over the records of one input.
pub struct RecordReader {
    name: String,
    reader: Box<dyn BufRead>,
    mode: Mode,
    queue: VecDeque<String>,
    /// Line of each queued record, for line-delimited input.
    queue_lines: VecDeque<Option<u64>>,
    line: u64,
    number: u64,
    failed: bool,
    buf: Vec<u8>,
}

/// Opens a file (`-` is stdin) for reading records.
pub fn open(path: &Path) -> Result<RecordReader, InputError> {
    if path.as_os_str() == "-" {
        return Ok(RecordReader::new("<stdin>", io::stdin().lock()));
    }
    let name = path.display().to_string();
    let file = File::open(path).map_err(|source| InputError::Io {
        source_name: name.clone(),
        source,
    })?;
    Ok(RecordReader::new(&name, file))
}

impl RecordReader {
    /// Reads records from any byte source; `name` labels messages.
    pub fn new(name: &str, source: impl Read + 'static) -> RecordReader {
        RecordReader {
            name: name.to_owned(),
            reader: Box::new(BufReader::with_capacity(256 * 1024, source)),
            mode: Mode::Start,
            queue: VecDeque::new(),
            queue_lines: VecDeque::new(),
            line: 0,
            number: 0,
            failed: false,
            buf: Vec::new(),
        }
    }

    /// The input's label.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn io(&self, source: io::Error) -> InputError {
        InputError::Io {
            source_name: self.name.clone(),
            source,
        }
    }

    /// Reads the next line into `buf` (without the line end); false at EOF.
    fn next_line(&mut self) -> Result<bool, InputError> {
        self.buf.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| self.io(e))?;
        if n == 0 {
            return Ok(false);
        }
        self.line += 1;
        while matches!(self.buf.last(), Some(b'\n' | b'\r')) {
            self.buf.pop();
        }
        Ok(true)
    }

    fn line_text(&self) -> String {
        let bytes = if self.line == 1 {
            self.buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&self.buf)
        } else {
            &self.buf
        };
        String::from_utf8_lossy(bytes).into_owned()
    }

    /// Decides the layout from the first bytes.
    fn start(&mut self) -> Result<(), InputError> {
        // Gzip is recognised by its magic bytes, whatever the name says.
        let gzip = match self.reader.fill_buf() {
            Ok(head) => head.starts_with(&[0x1f, 0x8b]),
            Err(e) => return Err(self.io(e)),
        };
        if gzip {
            let inner = std::mem::replace(&mut self.reader, Box::new(io::empty()));
            self.reader = Box::new(BufReader::with_capacity(
                256 * 1024,
                MultiGzDecoder::new(inner),
            ));
        }
        // Find the first line that holds anything.
        loop {
            if !self.next_line()? {
                self.mode = Mode::Done;
                return Ok(());
            }
            if !self.line_text().trim().is_empty() {
                break;
            }
        }
        let first = self.line_text();
        let trimmed = first.trim_start();
        let complete_line = serde_json::from_str::<&RawValue>(first.trim()).is_ok();
        if trimmed.starts_with('{') && complete_line {
            self.mode = Mode::Lines;
            self.queue_line(first);
            return Ok(());
        }
        if trimmed.starts_with('[') || trimmed.starts_with('{') {
            // One JSON document over many lines: read it whole.
            let mut doc = first;
            doc.push('\n');
            let mut rest = Vec::new();
            self.reader.read_to_end(&mut rest).map_err(|e| self.io(e))?;
            doc.push_str(&String::from_utf8_lossy(&rest));
            self.read_document(&doc)?;
            self.mode = Mode::Done;
            return Ok(());
        }
        // Not JSON at the start: treat as line-delimited, so each bad line
        // is rejected (and counted) by the detector rather than the whole
        // file refused.
        self.mode = Mode::Lines;
        self.queue_line(first);
        Ok(())
    }

    fn queue_line(&mut self, text: String) {
        let before = self.queue.len();
        if text.trim_start().starts_with('{') {
            expand(&text, &mut self.queue);
        } else {
            self.queue.push_back(text);
        }
        for _ in before..self.queue.len() {
            self.queue_lines.push_back(Some(self.line));
        }
    }

    /// Reads one or more top-level JSON values: arrays give their members,
    /// objects themselves (or their `Records`).
    fn read_document(&mut self, doc: &str) -> Result<(), InputError> {
        for value in serde_json::Deserializer::from_str(doc).into_iter::<&RawValue>() {
            let value = value.map_err(|e| InputError::Document {
                source_name: self.name.clone(),
                message: e.to_string(),
            })?;
            if value.get().starts_with('[') {
                let items: Vec<&RawValue> =
                    serde_json::from_str(value.get()).map_err(|e| InputError::Document {
                        source_name: self.name.clone(),
                        message: e.to_string(),
                    })?;
                for item in items {
                    expand(item.get(), &mut self.queue);
                }
            } else {
                expand(value.get(), &mut self.queue);
            }
        }
        self.queue_lines.resize(self.queue.len(), None);
        Ok(())
    }

    fn next_record(&mut self) -> Result<Option<Record>, InputError> {
        if let Mode::Start = self.mode {
            self.start()?;
        }
        loop {
            if let Some(text) = self.queue.pop_front() {
                self.number += 1;
                let line = self.queue_lines.pop_front().flatten();
                return Ok(Some(Record {
                    number: self.number,
                    line,
                    text,
                }));
            }
            match self.mode {
                Mode::Lines => {
                    if !self.next_line()? {
                        self.mode = Mode::Done;
                        continue;
                    }
                    let text = self.line_text();
                    if !text.trim().is_empty() {
                        self.queue_line(text);
                    }
                }
                Mode::Start | Mode::Done => return Ok(None),
            }
        }
    }
}

impl Iterator for RecordReader {
    type Item = Result<Record, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        match self.next_record() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn records(bytes: &[u8]) -> Result<Vec<String>, InputError> {
        RecordReader::new("t", io::Cursor::new(bytes.to_vec()))
            .map(|r| r.map(|r| r.text))
            .collect()
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
            format!("{{\n\"eventName\":\"A\"}}{b}"),
            format!("[{a}]\n[{b}]\n"),
        ];
        for l in &layouts[..7] {
            assert_eq!(records(l.as_bytes()).unwrap(), want, "{l}");
        }
        assert_eq!(records(layouts[7].as_bytes()).unwrap().len(), 2);
        assert_eq!(records(layouts[8].as_bytes()).unwrap(), want);
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
    fn malformed_lines_pass_through_with_their_line_numbers() {
        let input = "{\"a\":1}\nnot json\n\n{\"b\":2}\n";
        let rs: Vec<Record> = RecordReader::new("t", io::Cursor::new(input))
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rs.len(), 3);
        assert_eq!(rs[1].text, "not json");
        assert_eq!(rs[1].location(), "line 2");
        assert_eq!(rs[2].location(), "record 3 (line 4)");
    }

    #[test]
    fn broken_documents_and_gzip_are_errors_naming_the_input() {
        let e = records(b"[{\"a\":1},\n{\"b\":").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t: not a readable CloudTrail document"),
            "{e}"
        );
        let e = records(&[0x1f, 0x8b, 1, 2, 3]).unwrap_err();
        assert!(matches!(e, InputError::Io { .. }), "{e}");
    }
}
