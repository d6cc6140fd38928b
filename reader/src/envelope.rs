//! The envelopes of CloudTrail's real-time feeds, opened so that their
//! records read as the records of an S3 object do:
//!
//! - **CloudWatch Logs subscription data** (`messageType`, `logGroup`,
//!   `logEvents[].message`): each log event's `message` is one CloudTrail
//!   record as JSON text. The splitter finds the log events (module
//!   `split`, as a stream, however long the message); this module takes the
//!   record out of each. Log events of a `CONTROL_MESSAGE` are skipped and
//!   counted. Firehose objects are these messages concatenated and
//!   gzipped, which the reader's layouts already cover.
//! - **Lambda's form**, `{"awslogs":{"data":"…"}}`: `data` is the base64
//!   of a gzipped subscription message, read by a nested reader.
//! - **EventBridge events** with a `detail-type` of the form
//!   `… via CloudTrail` (`AWS API Call via CloudTrail`, `AWS Console Sign In
//!   via CloudTrail`, …): the record is `detail`.
//!
//! The envelope is recognised from content, once per input: the first
//! value of the input that is a JSON object decides (see
//! [`Envelope::of`]). An input of plain records never pays for the check
//! past its first record.

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::value::RawValue;

/// The envelope an input's records come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Envelope {
    /// Not known yet: no value read so far was a JSON object.
    Undecided,
    /// Plain records (or anything else: the detector judges it).
    Plain,
    /// CloudWatch Logs subscription messages.
    CloudWatchLogs,
    /// Lambda's `{"awslogs":{"data":"…"}}` events.
    Lambda,
    /// EventBridge events.
    EventBridge,
    /// S3 event notifications: not an envelope but a look-alike. They
    /// name the objects CloudTrail wrote and carry no record, yet read as
    /// records of a sort (`eventSource`, `eventName`, `eventTime`), so
    /// each one is reported rather than handed on.
    S3Notifications,
}

/// The top-level keys that tell an envelope.
#[derive(Deserialize)]
struct Keys {
    #[serde(rename = "logEvents")]
    log_events: Option<IgnoredAny>,
    awslogs: Option<IgnoredAny>,
    #[serde(rename = "detail-type")]
    detail_type: Option<IgnoredAny>,
    detail: Option<IgnoredAny>,
}

impl Envelope {
    /// The envelope a value shows, `None` for a value that is not a JSON
    /// object (which decides nothing).
    pub(crate) fn of(value: &[u8]) -> Option<Envelope> {
        let keys: Keys = serde_json::from_slice(value).ok()?;
        Some(if keys.log_events.is_some() {
            Envelope::CloudWatchLogs
        } else if keys.awslogs.is_some() {
            Envelope::Lambda
        } else if keys.detail_type.is_some() && keys.detail.is_some() {
            Envelope::EventBridge
        } else {
            Envelope::of_record(value)
        })
    }

    /// The envelope a record (a value that is not an envelope) shows:
    /// plain, unless it is an S3 event notification.
    pub(crate) fn of_record(value: &[u8]) -> Envelope {
        if is_s3_notification(value) {
            Envelope::S3Notifications
        } else {
            Envelope::Plain
        }
    }
}

/// Whether a value looks like an S3 event notification (judged on its
/// start, as the input's verdict judges its sample).
pub(crate) fn is_s3_notification(value: &[u8]) -> bool {
    let start = &value[..value.len().min(crate::verdict::SAMPLE_BYTES)];
    crate::verdict::looks_like(start) == Some(crate::verdict::Lookalike::S3Notifications)
}

/// What a top-level value held.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Opened<'a> {
    /// Not an envelope: the value is the record.
    Record,
    /// An EventBridge event's record (`detail`).
    Detail(&'a [u8]),
    /// A Lambda event's payload, base64-decoded: a gzipped subscription
    /// message.
    Awslogs(Vec<u8>),
    /// An envelope that holds no record: why.
    Bad(String),
}

#[derive(Deserialize)]
struct EventBridge<'a> {
    #[serde(rename = "detail-type", borrow)]
    detail_type: Option<&'a RawValue>,
    #[serde(borrow)]
    detail: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Lambda<'a> {
    #[serde(borrow)]
    awslogs: &'a RawValue,
}

#[derive(Deserialize)]
struct Awslogs<'a> {
    #[serde(borrow)]
    data: Option<&'a RawValue>,
}

/// Opens a top-level value of an input whose envelope is `envelope`.
pub(crate) fn open(envelope: Envelope, value: &[u8]) -> Opened<'_> {
    match envelope {
        Envelope::EventBridge => open_eventbridge(value),
        Envelope::Lambda => open_lambda(value),
        Envelope::S3Notifications if is_s3_notification(value) => {
            Opened::Bad(S3_NOTIFICATION.to_owned())
        }
        _ => Opened::Record,
    }
}

/// Why an S3 event notification is not read as a record.
const S3_NOTIFICATION: &str =
    "an S3 event notification: it names an S3 object and carries no CloudTrail record";

fn open_eventbridge(value: &[u8]) -> Opened<'_> {
    let Ok(event) = serde_json::from_slice::<EventBridge>(value) else {
        return Opened::Record; // not JSON: the detector says so
    };
    let (Some(kind), Some(detail)) = (event.detail_type, event.detail) else {
        return Opened::Record;
    };
    let kind: Option<&str> = serde_json::from_str(kind.get()).ok();
    match kind {
        // EventBridge's CloudTrail event types: the record is the detail.
        Some(k) if k.ends_with("via CloudTrail") => {
            if detail.get().starts_with('{') {
                Opened::Detail(detail.get().as_bytes())
            } else {
                Opened::Bad(format!(
                    "the EventBridge event's detail is {}, not a CloudTrail record",
                    json_kind(detail.get())
                ))
            }
        }
        // Another event type (an EC2 state change, say): not CloudTrail;
        // the detector rejects the event whole.
        _ => Opened::Record,
    }
}

fn open_lambda(value: &[u8]) -> Opened<'_> {
    let Ok(event) = serde_json::from_slice::<Lambda>(value) else {
        return Opened::Record;
    };
    let Ok(awslogs) = serde_json::from_str::<Awslogs>(event.awslogs.get()) else {
        return Opened::Bad(format!(
            "the Lambda event's awslogs is {}, not an object with data",
            json_kind(event.awslogs.get())
        ));
    };
    let Some(data) = awslogs.data else {
        return Opened::Bad("the Lambda event's awslogs has no data".into());
    };
    let Ok(text) = serde_json::from_str::<std::borrow::Cow<'_, str>>(data.get()) else {
        return Opened::Bad(format!(
            "the Lambda event's awslogs.data is {}, not base64 text",
            json_kind(data.get())
        ));
    };
    use base64::Engine as _;
    match base64::engine::general_purpose::STANDARD.decode(text.as_bytes()) {
        Ok(bytes) => Opened::Awslogs(bytes),
        Err(e) => Opened::Bad(format!(
            "the Lambda event's awslogs.data is not base64 ({e})"
        )),
    }
}

/// A CloudWatch Logs subscription message, parsed whole (a line of one
/// message, a Lambda event's payload): its log events as JSON text.
#[derive(Deserialize)]
pub(crate) struct Message<'a> {
    #[serde(rename = "messageType", borrow)]
    message_type: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "logEvents", borrow)]
    pub(crate) log_events: Vec<&'a RawValue>,
}

/// A message whose every log event has a string `message`, parsed and
/// unescaped in one pass: the common case, taken first.
#[derive(Deserialize)]
pub(crate) struct PlainMessage<'a> {
    #[serde(rename = "messageType", borrow)]
    message_type: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "logEvents")]
    pub(crate) log_events: Vec<PlainLogEvent>,
}

/// A log event with its record as text.
#[derive(Deserialize)]
pub(crate) struct PlainLogEvent {
    /// The record's text, unescaped.
    pub(crate) message: String,
}

impl PlainMessage<'_> {
    /// Parses a message whose log events all carry text; `None` otherwise
    /// (then [`Message::parse`] looks at each log event on its own).
    pub(crate) fn parse(text: &[u8]) -> Option<PlainMessage<'_>> {
        serde_json::from_slice(text).ok()
    }

    /// A `CONTROL_MESSAGE`.
    pub(crate) fn is_control(&self) -> bool {
        self.message_type.as_deref() == Some("CONTROL_MESSAGE")
    }
}

impl Message<'_> {
    /// Parses a message; `None` for anything else (which is then read
    /// value by value, as a document).
    pub(crate) fn parse(text: &[u8]) -> Option<Message<'_>> {
        serde_json::from_slice(text).ok()
    }

    /// A `CONTROL_MESSAGE`: its log events are skipped and counted.
    pub(crate) fn is_control(&self) -> bool {
        self.message_type.as_deref() == Some("CONTROL_MESSAGE")
    }
}

/// What a log event held.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LogEvent {
    /// The record's text, unescaped.
    Record(String),
    /// A log event that holds no record: why.
    Bad(String),
}

#[derive(Deserialize)]
struct RawLogEvent<'a> {
    #[serde(borrow)]
    message: Option<&'a RawValue>,
}

/// Takes the record out of a log event: its `message`, a JSON string whose
/// text is the record.
pub(crate) fn log_event(event: &[u8]) -> LogEvent {
    // The common case in one pass: a string message, unescaped as parsed.
    if let Ok(e) = serde_json::from_slice::<PlainLogEvent>(event) {
        return LogEvent::Record(e.message);
    }
    let parsed = match serde_json::from_slice::<RawLogEvent>(event) {
        Ok(e) => e,
        Err(e) if e.is_data() => {
            return LogEvent::Bad(format!(
                "the log event is {}, not an object with a message",
                json_kind(&String::from_utf8_lossy(event))
            ));
        }
        Err(e) => return LogEvent::Bad(format!("the log event is not valid JSON ({e})")),
    };
    let Some(message) = parsed.message else {
        return LogEvent::Bad("the log event has no message".into());
    };
    match serde_json::from_str::<String>(message.get()) {
        Ok(text) => LogEvent::Record(text),
        Err(_) => LogEvent::Bad(format!(
            "the log event's message is {}, not a string (CloudWatch Logs carries each record as text)",
            json_kind(message.get())
        )),
    }
}

/// What kind of JSON value `text` is, in words.
fn json_kind(text: &str) -> &'static str {
    match text.trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'-' | b'0'..=b'9') => "a number",
        _ => "not JSON",
    }
}
