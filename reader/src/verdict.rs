//! What an input turned out to be, once read: when most of its records
//! are not CloudTrail records, say what the input looks like and what to
//! do, so that a feed wired wrongly is not a quiet success.
//!
//! Every host keeps a [`Tally`] per input: the counts come from the
//! detector's verdict on each record, the sample from the first record
//! the reader handed on. [`Tally::verdict`] decides; [`Verdict::message`]
//! words it the same way everywhere.

/// Bytes of an input's first record kept to recognise what it is.
pub const SAMPLE_BYTES: usize = 4096;

/// The rejections (by their contract names) that say a record is not a
/// CloudTrail record at all: what [`Tally::misshapen`] counts.
pub const MISSHAPEN_REASONS: [&str; 3] = ["invalid-json", "not-an-object", "unknown-shape"];

/// Whether a rejection, by its contract name (`invalid-json`), is for
/// the record's shape.
pub fn is_misshapen(reason: &str) -> bool {
    MISSHAPEN_REASONS.contains(&reason)
}

/// One input's account, for its [`Verdict`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Records read: handed to the detector, or skipped by the reader
    /// (too large, a bad envelope). Control messages are not records.
    pub records: u64,
    /// Records rejected for their shape: not JSON, not an object, not a
    /// CloudTrail record (`invalid-json`, `not-an-object`,
    /// `unknown-shape`), and envelopes that hold no record.
    pub misshapen: u64,
    /// Records rejected for any reason (those counted in `misshapen`
    /// included).
    pub rejected: u64,
    /// The start of the input's first value, at most [`SAMPLE_BYTES`]
    /// ([`crate::Reader::sample`]).
    pub sample: Option<Vec<u8>>,
}

/// What an input looks like when it is not CloudTrail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookalike {
    /// S3 event notifications (directly, or through SNS or SQS).
    S3Notifications,
    /// CloudTrail's own SNS notifications of delivered log files.
    CloudTrailNotifications,
    /// CloudTrail digest files.
    Digest,
    /// VPC Flow Logs records.
    VpcFlowLogs,
    /// EventBridge events that are not CloudTrail's.
    OtherEventBridge,
    /// An SNS or SQS message around something else.
    Message,
}

impl Lookalike {
    /// What it is, in words.
    pub fn what(self) -> &'static str {
        match self {
            Lookalike::S3Notifications => "S3 event notifications",
            Lookalike::CloudTrailNotifications => {
                "CloudTrail's SNS notifications of delivered log files"
            }
            Lookalike::Digest => "CloudTrail digest files",
            Lookalike::VpcFlowLogs => "VPC Flow Logs",
            Lookalike::OtherEventBridge => "EventBridge events that are not CloudTrail's",
            Lookalike::Message => "SNS or SQS messages",
        }
    }

    /// What to do about it.
    pub fn advice(self) -> &'static str {
        match self {
            Lookalike::S3Notifications | Lookalike::CloudTrailNotifications => {
                "they name the S3 objects CloudTrail wrote and carry no records: read the \
                 objects themselves, e.g. `aws s3 cp s3://BUCKET/KEY - | recon detect -`, or \
                 `aws s3 sync s3://BUCKET/AWSLogs/ trail/` then `recon detect trail/`"
            }
            Lookalike::Digest => {
                "digests hold hashes of the log files, not records: read the log files \
                 (AWSLogs/…/CloudTrail/, not CloudTrail-Digest/)"
            }
            Lookalike::VpcFlowLogs => {
                "flow logs record network traffic, not API calls: give the CloudTrail trail \
                 instead"
            }
            Lookalike::OtherEventBridge => {
                "only the events of type `AWS API Call via CloudTrail` carry records: match \
                 them in the EventBridge rule (docs/delivery.md)"
            }
            Lookalike::Message => {
                "take the record out of each message's body first (its `Message` or `Body`)"
            }
        }
    }
}

/// An input most of whose records are not CloudTrail records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Records read.
    pub records: u64,
    /// Of them, rejected for their shape.
    pub misshapen: u64,
    /// No record of the input was readable: a host exits non-zero.
    pub none_readable: bool,
    /// What the input looks like, when recognised.
    pub looks_like: Option<Lookalike>,
}

impl Tally {
    /// A record the detector rejected as a whole, for `reason` (its
    /// contract name, `invalid-json`); a rejection by one rule
    /// (`state-limit`) leaves the record readable and is not counted.
    pub fn reject(&mut self, reason: &str) {
        self.rejected += 1;
        self.misshapen += u64::from(is_misshapen(reason));
    }

    /// A record the reader skipped: too large, or (`misshapen`) a value of
    /// an envelope that holds no record.
    pub fn skip(&mut self, misshapen: bool) {
        self.records += 1;
        self.rejected += 1;
        self.misshapen += u64::from(misshapen);
    }

    /// The verdict on the input, when it deserves one: most of its records
    /// rejected for their shape, or none of them readable.
    pub fn verdict(&self) -> Option<Verdict> {
        let none_readable = self.records > 0 && self.rejected >= self.records;
        if !(none_readable || self.misshapen * 2 > self.records) {
            return None;
        }
        Some(Verdict {
            records: self.records,
            misshapen: self.misshapen,
            none_readable,
            looks_like: self.sample.as_deref().and_then(looks_like),
        })
    }
}

impl Verdict {
    /// The notice, without the input's name.
    pub fn message(&self) -> String {
        let what = match self.looks_like {
            Some(l) => format!("this looks like {}: {}", l.what(), l.advice()),
            None => "it does not look like CloudTrail (records as S3 objects, NDJSON, \
                     CloudWatch Logs, Firehose or EventBridge; see docs/delivery.md)"
                .to_owned(),
        };
        let head = if self.none_readable {
            format!("none of its {} records could be read", self.records)
        } else {
            format!(
                "{} of its {} records are not CloudTrail records",
                self.misshapen, self.records
            )
        };
        format!("{head}; {what}")
    }
}

/// What a record looks like, when it is a known kind of non-CloudTrail
/// input.
pub fn looks_like(sample: &[u8]) -> Option<Lookalike> {
    let text = String::from_utf8_lossy(sample);
    // Keys are looked for bare, so that they are found also inside an
    // SNS or SQS message's body, where their quotes are escaped.
    let has = |needle: &str| text.contains(needle);
    if has("digestStartTime") || has("digestS3Object") {
        return Some(Lookalike::Digest);
    }
    if has("s3ObjectKey") {
        return Some(Lookalike::CloudTrailNotifications);
    }
    let s3_source = text.replace("\\\"", "\"").replace(' ', "");
    if s3_source.contains("\"eventSource\":\"aws:s3\"") || has("s3:TestEvent") {
        return Some(Lookalike::S3Notifications);
    }
    if has("\"detail-type\"") {
        return Some(Lookalike::OtherEventBridge);
    }
    if has("\"TopicArn\"") || (has("\"MessageId\"") && has("\"Body\"")) {
        return Some(Lookalike::Message);
    }
    if is_flow_log(&text) {
        return Some(Lookalike::VpcFlowLogs);
    }
    None
}

/// A VPC Flow Logs line (default format: `version account-id
/// interface-id …`, or its header).
fn is_flow_log(text: &str) -> bool {
    let fields: Vec<&str> = text.split_whitespace().collect();
    if fields.first() == Some(&"version") && fields.get(1) == Some(&"account-id") {
        return true;
    }
    fields.len() >= 10
        && fields[0].chars().all(|c| c.is_ascii_digit())
        && (fields[1].len() == 12 && fields[1].chars().all(|c| c.is_ascii_digit())
            || fields[1] == "-")
        && (fields[2].starts_with("eni-") || fields[2] == "-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(records: u64, misshapen: u64, rejected: u64, sample: &str) -> Tally {
        Tally {
            records,
            misshapen,
            rejected,
            sample: Some(sample.as_bytes().to_vec()),
        }
    }

    #[test]
    fn known_inputs_are_recognised() {
        let cases = [
            (
                r#"{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-east-1","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"AWSLogs/1/CloudTrail/x.json.gz"}}}"#,
                Some(Lookalike::S3Notifications),
            ),
            (
                r#"{"Type":"Notification","TopicArn":"arn:aws:sns:us-east-1:1:t","Message":"{\"s3Bucket\":\"b\",\"s3ObjectKey\":[\"AWSLogs/1/CloudTrail/x.json.gz\"]}"}"#,
                Some(Lookalike::CloudTrailNotifications),
            ),
            (
                r#"{"Type":"Notification","TopicArn":"t","Message":"{\"Records\":[{\"eventSource\":\"aws:s3\",\"s3\":{}}]}"}"#,
                Some(Lookalike::S3Notifications),
            ),
            (
                r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-01-01T00:00:00Z"}"#,
                Some(Lookalike::S3Notifications),
            ),
            (
                r#"{"awsAccountId":"1","digestStartTime":"2026-01-01T00:00:00Z","logFiles":[]}"#,
                Some(Lookalike::Digest),
            ),
            (
                "2 123456789010 eni-1235b8ca123456789 172.31.16.139 172.31.16.21 20641 22 6 20 4249 1418530010 1418530070 ACCEPT OK",
                Some(Lookalike::VpcFlowLogs),
            ),
            (
                "version account-id interface-id srcaddr dstaddr",
                Some(Lookalike::VpcFlowLogs),
            ),
            (
                r#"{"detail-type":"EC2 Instance State-change Notification","detail":{}}"#,
                Some(Lookalike::OtherEventBridge),
            ),
            (
                r#"{"MessageId":"1","ReceiptHandle":"r","Body":"hello"}"#,
                Some(Lookalike::Message),
            ),
            (r#"{"level":"info","msg":"hello"}"#, None),
        ];
        for (sample, want) in cases {
            assert_eq!(looks_like(sample.as_bytes()), want, "{sample}");
        }
    }

    #[test]
    fn a_verdict_needs_most_records_misshapen_or_none_readable() {
        assert_eq!(tally(0, 0, 0, "x").verdict(), None);
        assert_eq!(tally(10, 5, 5, "x").verdict(), None);
        assert_eq!(tally(10, 1, 3, "x").verdict(), None);
        let v = tally(10, 6, 6, "x").verdict().unwrap();
        assert!(!v.none_readable);
        assert_eq!(
            v.message(),
            "6 of its 10 records are not CloudTrail records; it does not look like CloudTrail \
             (records as S3 objects, NDJSON, CloudWatch Logs, Firehose or EventBridge; see \
             docs/delivery.md)"
        );
        // None readable, whatever the reasons.
        let v = tally(4, 0, 4, "x").verdict().unwrap();
        assert!(v.none_readable);
        let v = tally(3, 3, 3, r#"{"eventSource":"aws:s3","s3":{}}"#)
            .verdict()
            .unwrap();
        assert!(v.none_readable);
        assert!(
            v.message().starts_with(
                "none of its 3 records could be read; this looks like S3 event notifications: \
                 they name the S3 objects"
            ),
            "{}",
            v.message()
        );
    }
}
