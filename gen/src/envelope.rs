//! The generator's trail in the envelopes of real-time CloudTrail feeds:
//! a CloudTrail trail sent to a CloudWatch Logs log group and read through
//! a subscription (decoded, through Kinesis Data Firehose to S3, or by a
//! Lambda function), or CloudTrail's events on EventBridge.
//!
//! The records are exactly those [`write_ndjson`](crate::write_ndjson)
//! writes for the same options, byte for byte, each once (duplicates
//! included, as the generator writes them), and in the same order within
//! each log stream; a reader that unwraps the envelopes gets the same
//! records, so a detector gives the same alerts.
//!
//! # CloudWatch Logs ([`Envelope::Cwl`], [`Envelope::Firehose`], [`Envelope::Lambda`])
//!
//! CloudTrail writes one log stream per account and region,
//! `<account>_CloudTrail_<region>`, in the log group
//! `aws-cloudtrail-logs-<account>` (read from each record's
//! `recipientAccountId` and `awsRegion`). A subscription delivers a
//! stream's log events in `DATA_MESSAGE`s of up to
//! [`EnvelopeOptions::events_per_message`] events: a stream's pending batch
//! goes out when it reaches that many events, when the next record would
//! take its events past CloudWatch Logs' batch limit
//! ([`MAX_MESSAGE_BYTES`]: message bytes plus [`EVENT_OVERHEAD_BYTES`] per
//! event; a single larger record goes out alone), or when the batch was
//! opened more than [`EnvelopeOptions::batch_ms`] of event time before the
//! record being written now (event time here is the latest `eventTime`
//! written so far, so disorder never holds a batch back longer). Batches
//! due together go out oldest first, and so does everything pending at the
//! end. A log event's `timestamp` is its record's `eventTime` in ms (in
//! AWS it is the ingestion time, a few seconds later); its `id` is a
//! 56-digit decimal string, from the seed and a counter, as CloudWatch's
//! ids look. The first message is the `CONTROL_MESSAGE` CloudWatch sends
//! when a subscription is created, stamped with `start_ms`.
//!
//! The three kinds differ only in how messages are written:
//!
//! * [`Envelope::Cwl`]: as a subscription's consumer sees them once
//!   decoded (base64, gunzip): one message's JSON per line.
//! * [`Envelope::Firehose`]: as Kinesis Data Firehose writes a CloudWatch
//!   Logs source to S3: each message gzipped on its own, the gzip members
//!   concatenated, so that the object inflates to the messages' JSON
//!   objects back to back (`}{`, no separator).
//! * [`Envelope::Lambda`]: the events a subscribed Lambda function
//!   receives, one per line: `{"awslogs":{"data":"<base64 of the gzipped
//!   message>"}}`.
//!
//! # EventBridge ([`Envelope::EventBridge`])
//!
//! Each record as the event `AWS API Call via CloudTrail` (`AWS Console
//! Sign In via CloudTrail` for `eventType` `AwsConsoleSignIn`), one per
//! line, in the generator's order: `source` `aws.<service>` from
//! `eventSource`, `account` and `region` from the record, `time` its
//! `eventTime` in whole seconds, and the record itself, byte for byte, as
//! `detail`. A record that is not a JSON object (the generator writes
//! none) would be carried as a JSON string, with source `aws.unknown`.
//!
//! # Determinism
//!
//! Same options, same bytes: ids come from the crate's seeded generator and
//! nothing reads a clock. Gzip output is flate2's, so the compressed bytes
//! (not what they inflate to) depend on the flate2 backend the build
//! selects.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use flate2::Compression;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::delivery::parse_time;
use crate::record::format_time;
use crate::rng::Rng;
use crate::{GenError, GenOptions, Generator};

/// Default [`EnvelopeOptions::events_per_message`]: 50.
pub const DEFAULT_EVENTS_PER_MESSAGE: u32 = 50;
/// Largest accepted [`EnvelopeOptions::events_per_message`]: 10 000, the
/// most log events CloudWatch Logs takes in one batch.
pub const MAX_EVENTS_PER_MESSAGE: u32 = 10_000;
/// Default [`EnvelopeOptions::batch_ms`]: five seconds.
pub const DEFAULT_BATCH_MS: u64 = 5_000;
/// Largest accepted [`EnvelopeOptions::batch_ms`]: one hour.
pub const MAX_BATCH_MS: u64 = 3_600_000;
/// CloudWatch Logs' batch limit: the log events of one message add up to
/// at most this many bytes (message bytes plus [`EVENT_OVERHEAD_BYTES`]
/// per event).
pub const MAX_MESSAGE_BYTES: usize = 1_048_576;
/// Bytes CloudWatch Logs counts per log event on top of its message.
pub const EVENT_OVERHEAD_BYTES: usize = 26;
/// The subscription filter's name in every data message.
pub const SUBSCRIPTION_FILTER: &str = "recon";
/// The text of the control message.
pub const CONTROL_TEXT: &str = "CWL CONTROL MESSAGE: Checking health of destination Firehose.";

/// The RNG streams of this module (the generator uses 1-7).
const ID_STREAM: u64 = 8;
const UUID_STREAM: u64 = 9;

/// The envelope a real-time feed wraps CloudTrail records in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// CloudWatch Logs subscription messages, decoded: one JSON message per
    /// line.
    Cwl,
    /// Kinesis Data Firehose's S3 object for a CloudWatch Logs source: the
    /// messages gzipped one by one, members concatenated.
    Firehose,
    /// Lambda events of a CloudWatch Logs subscription
    /// (`{"awslogs":{"data":…}}`), one per line.
    Lambda,
    /// EventBridge events `AWS API Call via CloudTrail`, one per line.
    EventBridge,
}

/// How records are batched into CloudWatch Logs messages (not used by
/// [`Envelope::EventBridge`], but checked all the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnvelopeOptions {
    /// Most log events per message, 1 to [`MAX_EVENTS_PER_MESSAGE`].
    pub events_per_message: u32,
    /// A batch goes out once the latest event time is more than this far
    /// past the moment it was opened (ms, at most [`MAX_BATCH_MS`]).
    pub batch_ms: u64,
}

impl Default for EnvelopeOptions {
    fn default() -> Self {
        EnvelopeOptions {
            events_per_message: DEFAULT_EVENTS_PER_MESSAGE,
            batch_ms: DEFAULT_BATCH_MS,
        }
    }
}

impl EnvelopeOptions {
    /// Checks the options.
    pub fn validate(&self) -> Result<(), GenError> {
        if !(1..=MAX_EVENTS_PER_MESSAGE).contains(&self.events_per_message) {
            return Err(GenError::InvalidEventsPerMessage(self.events_per_message));
        }
        if self.batch_ms > MAX_BATCH_MS {
            return Err(GenError::InvalidBatchMs(self.batch_ms));
        }
        Ok(())
    }
}

/// What an envelope run wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvelopeReport {
    /// Records written (each in exactly one log event or event).
    pub records: u64,
    /// Data messages (CloudWatch Logs kinds) or events (EventBridge).
    pub messages: u64,
    /// Control messages: 1 for the CloudWatch Logs kinds, 0 for
    /// EventBridge.
    pub control_messages: u64,
}

/// Writes the records `opts` describes (those of
/// [`write_ndjson`](crate::write_ndjson), in its order within each log
/// stream) in `envelope` to `out`, flushing it at the end. Writes go
/// straight to `out`, one or two per message: give it a buffered writer.
/// Same options, same bytes.
pub fn write_envelope(
    opts: GenOptions,
    envelope: Envelope,
    eopts: EnvelopeOptions,
    out: &mut impl Write,
) -> Result<EnvelopeReport, GenError> {
    eopts.validate()?;
    let seed = opts.seed;
    let start_ms = opts.start_ms;
    let generator = Generator::new(opts)?;
    let form = match envelope {
        Envelope::Cwl => Some(Form::Line),
        Envelope::Firehose => Some(Form::Gzip),
        Envelope::Lambda => Some(Form::Lambda),
        Envelope::EventBridge => None,
    };
    let report = match form {
        None => write_eventbridge(generator, seed, start_ms, out)?,
        Some(form) => {
            let mut batcher = Batcher::new(form, eopts, seed, start_ms);
            batcher.control(start_ms, out)?;
            batcher.run(generator, out)?
        }
    };
    out.flush()?;
    Ok(report)
}

/// The fields of a record the envelopes read.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Head<'a> {
    /// Text (RFC 3339) or, in catalogue records, epoch milliseconds.
    event_time: Option<serde_json::Value>,
    #[serde(borrow)]
    event_source: Option<Cow<'a, str>>,
    #[serde(borrow)]
    event_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    recipient_account_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    aws_region: Option<Cow<'a, str>>,
}

impl Head<'_> {
    /// The event time in ms, if the record has a readable one.
    fn time_ms(&self) -> Option<i64> {
        match self.event_time.as_ref()? {
            serde_json::Value::Number(n) => n.as_i64(),
            serde_json::Value::String(s) => parse_time(s),
            _ => None,
        }
    }
}

/// One log event of a message.
#[derive(Serialize)]
struct LogEvent {
    id: String,
    timestamp: i64,
    message: String,
}

/// A CloudWatch Logs subscription message.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Message<'a> {
    message_type: &'a str,
    owner: &'a str,
    log_group: &'a str,
    log_stream: &'a str,
    subscription_filters: &'a [&'a str],
    log_events: &'a [LogEvent],
}

/// How the CloudWatch Logs kinds write a message.
#[derive(Debug, Clone, Copy)]
enum Form {
    /// Its JSON text and a newline.
    Line,
    /// Its own gzip member.
    Gzip,
    /// A Lambda event: base64 of its gzipped JSON, and a newline.
    Lambda,
}

/// A log stream's pending batch.
struct Stream {
    owner: String,
    log_group: String,
    log_stream: String,
    events: Vec<LogEvent>,
    /// Bytes as CloudWatch Logs counts them.
    bytes: usize,
    /// The batch's key in [`Batcher::open`] while it has events.
    opened: Option<u64>,
}

/// Batches records per log stream and writes the messages.
struct Batcher {
    form: Form,
    eopts: EnvelopeOptions,
    /// Log-event ids.
    ids: Rng,
    /// The first 17 digits of every id, from the seed.
    id_prefix: String,
    streams: Vec<Stream>,
    by_key: HashMap<(String, String), usize>,
    /// Open batches by the sequence number of their first record: the
    /// event time they were opened at and their stream. Opening times
    /// never decrease, so the first entry is the oldest.
    open: BTreeMap<u64, (i64, usize)>,
    /// The latest event time written so far (`start_ms` at first).
    now: i64,
    /// Records taken so far.
    seq: u64,
    /// Log events numbered so far.
    counter: u64,
    report: EnvelopeReport,
    /// Reused: a message's JSON text.
    json: Vec<u8>,
}

impl Batcher {
    fn new(form: Form, eopts: EnvelopeOptions, seed: u64, start_ms: i64) -> Batcher {
        let mut ids = Rng::new(seed, ID_STREAM);
        let id_prefix = format!("3{:016}", ids.next_u64() % 10_000_000_000_000_000);
        Batcher {
            form,
            eopts,
            ids,
            id_prefix,
            streams: Vec::new(),
            by_key: HashMap::new(),
            open: BTreeMap::new(),
            now: start_ms,
            seq: 0,
            counter: 0,
            report: EnvelopeReport::default(),
            json: Vec::new(),
        }
    }

    /// A fresh 56-digit id: the seed's 17-digit prefix, the counter in 20
    /// digits, 19 random digits.
    fn next_id(&mut self) -> String {
        let tail = self.ids.next_u64() % 10_000_000_000_000_000_000;
        let id = format!("{}{:020}{:019}", self.id_prefix, self.counter, tail);
        self.counter += 1;
        id
    }

    /// Writes the control message, stamped `start_ms`.
    fn control(&mut self, start_ms: i64, out: &mut impl Write) -> Result<(), GenError> {
        let events = [LogEvent {
            id: String::new(),
            timestamp: start_ms,
            message: CONTROL_TEXT.to_owned(),
        }];
        let message = Message {
            message_type: "CONTROL_MESSAGE",
            owner: "CloudwatchLogs",
            log_group: "",
            log_stream: "",
            subscription_filters: &[],
            log_events: &events,
        };
        write_message(self.form, &message, &mut self.json, out)?;
        self.report.control_messages += 1;
        Ok(())
    }

    /// Batches every record of `generator`, then writes what is pending.
    fn run(
        mut self,
        mut generator: Generator,
        out: &mut impl Write,
    ) -> Result<EnvelopeReport, GenError> {
        let mut line = String::new();
        while generator.next_into(&mut line) {
            self.push(&line, out)?;
            line.clear();
        }
        while let Some((_, (_, s))) = self.open.pop_first() {
            self.flush(s, out)?;
        }
        Ok(self.report)
    }

    /// Adds one record, writing the batches that are due first.
    fn push(&mut self, record: &str, out: &mut impl Write) -> Result<(), GenError> {
        let head = serde_json::from_str::<Head>(record).ok();
        let t = head.as_ref().and_then(Head::time_ms);
        self.now = self.now.max(t.unwrap_or(self.now));
        let timestamp = t.unwrap_or(self.now);
        let (account, region) = match &head {
            Some(h) => (h.recipient_account_id.as_deref(), h.aws_region.as_deref()),
            None => (None, None),
        };
        let account = account.filter(|a| !a.is_empty()).unwrap_or("000000000000");
        let region = region.filter(|r| !r.is_empty()).unwrap_or("us-east-1");
        let s = self.stream(account, region);

        // Batches opened more than batch_ms ago, oldest first.
        let batch_ms = i64::try_from(self.eopts.batch_ms).unwrap_or(i64::MAX);
        while let Some((_, &(opened, stream))) = self.open.first_key_value() {
            if self.now.saturating_sub(opened) <= batch_ms {
                break;
            }
            self.flush(stream, out)?;
        }
        // The batch limit.
        let size = record.len() + EVENT_OVERHEAD_BYTES;
        if self
            .streams
            .get(s)
            .is_some_and(|st| !st.events.is_empty() && st.bytes + size > MAX_MESSAGE_BYTES)
        {
            self.flush(s, out)?;
        }
        let id = self.next_id();
        let seq = self.seq;
        self.seq += 1;
        let Some(stream) = self.streams.get_mut(s) else {
            return Ok(());
        };
        if stream.opened.is_none() {
            stream.opened = Some(seq);
            self.open.insert(seq, (self.now, s));
        }
        stream.events.push(LogEvent {
            id,
            timestamp,
            message: record.to_owned(),
        });
        stream.bytes += size;
        self.report.records += 1;
        if stream.events.len() >= self.eopts.events_per_message as usize {
            self.flush(s, out)?;
        }
        Ok(())
    }

    /// The index of the stream of `account` and `region`, made on first use.
    fn stream(&mut self, account: &str, region: &str) -> usize {
        let key = (account.to_owned(), region.to_owned());
        if let Some(&s) = self.by_key.get(&key) {
            return s;
        }
        let s = self.streams.len();
        self.streams.push(Stream {
            owner: account.to_owned(),
            log_group: format!("aws-cloudtrail-logs-{account}"),
            log_stream: format!("{account}_CloudTrail_{region}"),
            events: Vec::new(),
            bytes: 0,
            opened: None,
        });
        self.by_key.insert(key, s);
        s
    }

    /// Writes stream `s`'s pending events as one message and closes its
    /// batch.
    fn flush(&mut self, s: usize, out: &mut impl Write) -> Result<(), GenError> {
        let Some(stream) = self.streams.get_mut(s) else {
            return Ok(());
        };
        if let Some(key) = stream.opened.take() {
            self.open.remove(&key);
        }
        if stream.events.is_empty() {
            return Ok(());
        }
        let message = Message {
            message_type: "DATA_MESSAGE",
            owner: &stream.owner,
            log_group: &stream.log_group,
            log_stream: &stream.log_stream,
            subscription_filters: &[SUBSCRIPTION_FILTER],
            log_events: &stream.events,
        };
        write_message(self.form, &message, &mut self.json, out)?;
        stream.events.clear();
        stream.bytes = 0;
        self.report.messages += 1;
        Ok(())
    }
}

/// Writes one message in `form`, through the reused buffer `json`.
fn write_message(
    form: Form,
    message: &Message,
    json: &mut Vec<u8>,
    out: &mut impl Write,
) -> Result<(), GenError> {
    json.clear();
    serde_json::to_writer(&mut *json, message).map_err(std::io::Error::from)?;
    match form {
        Form::Line => {
            json.push(b'\n');
            out.write_all(json)?;
        }
        Form::Gzip => {
            let mut gz = GzEncoder::new(&mut *out, Compression::fast());
            gz.write_all(json)?;
            gz.finish()?;
        }
        Form::Lambda => {
            let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
            gz.write_all(json)?;
            let zipped = gz.finish()?;
            json.clear();
            json.extend_from_slice(b"{\"awslogs\":{\"data\":\"");
            let start = json.len();
            json.resize(
                start + base64::encoded_len(zipped.len(), true).unwrap_or(0),
                0,
            );
            let written = BASE64
                .encode_slice(&zipped, &mut json[start..])
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            json.truncate(start + written);
            json.extend_from_slice(b"\"}}\n");
            out.write_all(json)?;
        }
    }
    Ok(())
}

/// Writes every record as an EventBridge event, one per line.
fn write_eventbridge(
    mut generator: Generator,
    seed: u64,
    start_ms: i64,
    out: &mut impl Write,
) -> Result<EnvelopeReport, GenError> {
    let mut uuids = Rng::new(seed, UUID_STREAM);
    let mut report = EnvelopeReport::default();
    let mut line = String::new();
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut now = start_ms;
    while generator.next_into(&mut line) {
        let parsed = serde_json::from_str::<Head>(&line).ok();
        // Only a JSON object goes into `detail` as is.
        let object = parsed.is_some() && line.trim_start().starts_with('{');
        let head = parsed.filter(|_| object);
        let t = head.as_ref().and_then(Head::time_ms);
        now = now.max(t.unwrap_or(now));
        let time = format_time(t.unwrap_or(now));
        let text = |f: Option<&Cow<str>>| f.map_or("", |s| s.as_ref()).to_owned();
        let (source, signin, account, region) = match &head {
            Some(h) => (
                h.event_source
                    .as_deref()
                    .map(|s| s.strip_suffix(".amazonaws.com").unwrap_or(s))
                    .filter(|s| !s.is_empty())
                    .unwrap_or("unknown"),
                h.event_type.as_deref() == Some("AwsConsoleSignIn"),
                text(h.recipient_account_id.as_ref()),
                text(h.aws_region.as_ref()),
            ),
            None => ("unknown", false, String::new(), String::new()),
        };
        let (a, b) = (uuids.next_u64(), uuids.next_u64());
        let id = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        );
        let detail_type = if signin {
            "AWS Console Sign In via CloudTrail"
        } else {
            "AWS API Call via CloudTrail"
        };
        buf.clear();
        buf.extend_from_slice(b"{\"version\":\"0\",\"id\":\"");
        buf.extend_from_slice(id.as_bytes());
        buf.extend_from_slice(b"\",\"detail-type\":\"");
        buf.extend_from_slice(detail_type.as_bytes());
        buf.extend_from_slice(b"\",\"source\":");
        serde_json::to_writer(&mut buf, &format!("aws.{source}")).map_err(std::io::Error::from)?;
        buf.extend_from_slice(b",\"account\":");
        serde_json::to_writer(&mut buf, &account).map_err(std::io::Error::from)?;
        buf.extend_from_slice(b",\"time\":\"");
        buf.extend_from_slice(&time);
        buf.extend_from_slice(b"\",\"region\":");
        serde_json::to_writer(&mut buf, &region).map_err(std::io::Error::from)?;
        buf.extend_from_slice(b",\"resources\":[],\"detail\":");
        if object {
            buf.extend_from_slice(line.as_bytes());
        } else {
            serde_json::to_writer(&mut buf, &line).map_err(std::io::Error::from)?;
        }
        buf.extend_from_slice(b"}\n");
        out.write_all(&buf)?;
        report.records += 1;
        report.messages += 1;
        line.clear();
    }
    Ok(report)
}
