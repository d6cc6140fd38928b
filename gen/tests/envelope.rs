//! The envelopes of real-time feeds (`write_envelope`), read back with a
//! small decoder written here (serde_json, flate2, base64) that shares no
//! code with the writer: every kind must give back exactly the records
//! `write_ndjson` writes, each once, in its order within each log stream,
//! in messages within CloudWatch Logs' bounds, the same bytes for the same
//! seed.

#[path = "../../tests/integration/catalogue_reference.rs"]
mod catalogue_reference;

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use base64::Engine as _;
use recon_gen::{
    Envelope, EnvelopeOptions, EnvelopeReport, GenError, GenOptions, MAX_BATCH_MS,
    MAX_EVENTS_PER_MESSAGE, write_envelope, write_ndjson,
};
use serde_json::Value;
use serde_json::value::RawValue;

const CWL_KINDS: [Envelope; 3] = [Envelope::Cwl, Envelope::Firehose, Envelope::Lambda];
const LIMIT: usize = 1_048_576;

fn opts(seed: u64, count: u64) -> GenOptions {
    GenOptions {
        seed,
        count,
        ..GenOptions::default()
    }
}

fn ndjson(o: &GenOptions) -> Vec<String> {
    let mut out = Vec::new();
    write_ndjson(o.clone(), &mut out).expect("valid options");
    String::from_utf8(out)
        .expect("UTF-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn envelope(o: &GenOptions, kind: Envelope, e: EnvelopeOptions) -> (Vec<u8>, EnvelopeReport) {
    let mut out = Vec::new();
    let report = write_envelope(o.clone(), kind, e, &mut out).expect("valid options");
    (out, report)
}

fn gunzip_one(bytes: &[u8]) -> String {
    let mut text = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .expect("a gzip member");
    text
}

/// The gzip members of a Firehose object, inflated one by one.
fn members(mut bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let mut d = flate2::bufread::GzDecoder::new(bytes);
        let mut text = String::new();
        d.read_to_string(&mut text).expect("a gzip member");
        bytes = d.into_inner();
        out.push(text);
    }
    out
}

/// The messages' JSON texts, decoded from `kind`'s form.
fn decode(kind: Envelope, bytes: &[u8]) -> Vec<String> {
    match kind {
        Envelope::Cwl => {
            let text = std::str::from_utf8(bytes).expect("UTF-8");
            assert!(text.ends_with('\n'));
            text.lines().map(str::to_owned).collect()
        }
        Envelope::Firehose => {
            let parts = members(bytes);
            // The object as a whole: one gzip stream of many members that
            // inflates to the messages back to back.
            let mut whole = String::new();
            flate2::read::MultiGzDecoder::new(bytes)
                .read_to_string(&mut whole)
                .expect("concatenated gzip members");
            assert_eq!(whole, parts.concat());
            assert_eq!(
                whole.matches("}{\"messageType\"").count() + 1,
                parts.len(),
                "messages are joined by }}{{ with nothing between"
            );
            assert!(!whole.contains('\n'));
            let parsed: Vec<Value> = serde_json::Deserializer::from_str(&whole)
                .into_iter::<Value>()
                .collect::<Result<_, _>>()
                .expect("back-to-back JSON objects");
            assert_eq!(parsed.len(), parts.len());
            parts
        }
        Envelope::Lambda => std::str::from_utf8(bytes)
            .expect("UTF-8")
            .lines()
            .map(|line| {
                let v: Value = serde_json::from_str(line).expect("a Lambda event");
                let o = v.as_object().expect("an object");
                assert_eq!(o.len(), 1);
                let aws = o["awslogs"].as_object().expect("awslogs");
                assert_eq!(aws.len(), 1);
                let data = aws["data"].as_str().expect("data");
                let zipped = base64::engine::general_purpose::STANDARD
                    .decode(data)
                    .expect("padded standard base64");
                assert_eq!(members(&zipped).len(), 1);
                gunzip_one(&zipped)
            })
            .collect(),
        Envelope::EventBridge => unreachable!("not a CloudWatch Logs kind"),
    }
}

fn stream_of(record: &str) -> String {
    let v: Value = serde_json::from_str(record).expect("a JSON record");
    format!(
        "{}_CloudTrail_{}",
        v["recipientAccountId"].as_str().expect("an account"),
        v["awsRegion"].as_str().expect("a region")
    )
}

/// What the messages hold.
struct Decoded {
    /// Per log stream, the records in message order.
    by_stream: BTreeMap<String, Vec<String>>,
    /// All records, in output order.
    all: Vec<String>,
    /// Events per data message.
    sizes: Vec<usize>,
    /// Bytes per data message as CloudWatch Logs counts them.
    bytes: Vec<usize>,
    /// `(ndjson index of first, of last)` record of each data message.
    spans: Vec<(usize, usize)>,
}

/// Checks every message of a CloudWatch Logs kind and takes its records
/// out, each matched to one line of `records` (the ndjson).
fn unwrap_messages(texts: &[String], o: &GenOptions, records: &[String]) -> Decoded {
    let control = format!(
        "{{\"messageType\":\"CONTROL_MESSAGE\",\"owner\":\"CloudwatchLogs\",\"logGroup\":\"\",\"logStream\":\"\",\"subscriptionFilters\":[],\"logEvents\":[{{\"id\":\"\",\"timestamp\":{},\"message\":\"CWL CONTROL MESSAGE: Checking health of destination Firehose.\"}}]}}",
        o.start_ms
    );
    assert_eq!(
        texts.first(),
        Some(&control),
        "the control message is first"
    );
    // ndjson indexes of each line, to be taken in order.
    let mut where_is: BTreeMap<&str, std::collections::VecDeque<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        where_is.entry(r.as_str()).or_default().push_back(i);
    }
    let mut d = Decoded {
        by_stream: BTreeMap::new(),
        all: Vec::new(),
        sizes: Vec::new(),
        bytes: Vec::new(),
        spans: Vec::new(),
    };
    let mut ids = HashSet::new();
    for text in &texts[1..] {
        let v: Value = serde_json::from_str(text).expect("a message");
        let keys: Vec<&str> = v
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys.len(),
            6,
            "messageType owner logGroup logStream subscriptionFilters logEvents"
        );
        assert_eq!(v["messageType"], "DATA_MESSAGE");
        let owner = v["owner"].as_str().expect("owner");
        assert_eq!(owner.len(), 12);
        assert_eq!(v["logGroup"], format!("aws-cloudtrail-logs-{owner}"));
        let stream = v["logStream"].as_str().expect("logStream").to_owned();
        assert!(stream.starts_with(&format!("{owner}_CloudTrail_")));
        assert_eq!(v["subscriptionFilters"], serde_json::json!(["recon"]));
        let events = v["logEvents"].as_array().expect("logEvents");
        assert!(!events.is_empty());
        let mut bytes = 0;
        let mut first = usize::MAX;
        let mut last = 0;
        for e in events {
            let id = e["id"].as_str().expect("id");
            assert_eq!(id.len(), 56, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
            assert!(ids.insert(id.to_owned()), "ids are unique");
            let message = e["message"].as_str().expect("message").to_owned();
            assert_eq!(stream_of(&message), stream, "each record in its stream");
            let (t, _) = catalogue_reference::read_event(&message).expect("a record");
            assert_eq!(e["timestamp"].as_i64(), Some(t), "timestamp is eventTime");
            let i = where_is
                .get_mut(message.as_str())
                .and_then(|q| q.pop_front())
                .expect("a record write_ndjson wrote, and not more often");
            first = first.min(i);
            last = last.max(i);
            bytes += message.len() + 26;
            d.by_stream
                .entry(stream.clone())
                .or_default()
                .push(message.clone());
            d.all.push(message);
        }
        d.sizes.push(events.len());
        d.bytes.push(bytes);
        d.spans.push((first, last));
    }
    d
}

fn per_stream(records: &[String]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in records {
        m.entry(stream_of(r)).or_default().push(r.clone());
    }
    m
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Event time (ms) of each record, and the latest so far from `start_ms`.
fn clocks(o: &GenOptions, records: &[String]) -> Vec<i64> {
    let mut now = o.start_ms;
    records
        .iter()
        .map(|r| {
            let (t, _) = catalogue_reference::read_event(r).expect("a record");
            now = now.max(t);
            now
        })
        .collect()
}

fn check_cwl_kind(kind: Envelope, o: &GenOptions, e: EnvelopeOptions) -> Decoded {
    let records = ndjson(o);
    let (bytes, report) = envelope(o, kind, e);
    let texts = decode(kind, &bytes);
    let d = unwrap_messages(&texts, o, &records);
    assert_eq!(
        d.by_stream,
        per_stream(&records),
        "{kind:?}: order per stream"
    );
    assert_eq!(sorted(d.all.clone()), sorted(records.clone()), "{kind:?}");
    assert_eq!(
        report,
        EnvelopeReport {
            records: records.len() as u64,
            messages: texts.len() as u64 - 1,
            control_messages: 1,
        }
    );
    assert!(d.sizes.iter().all(|&n| n <= e.events_per_message as usize));
    assert!(d.bytes.iter().all(|&b| b <= LIMIT), "the 1 MiB batch limit");
    // No batch spans more than batch_ms of the stream's clock.
    let clock = clocks(o, &records);
    for &(first, last) in &d.spans {
        assert!(
            clock[last] - clock[first] <= e.batch_ms as i64,
            "{kind:?}: a batch held {} ms",
            clock[last] - clock[first]
        );
    }
    d
}

#[test]
fn every_cloudwatch_kind_gives_back_the_records() {
    // Duplicates, five seconds of disorder, bursts; and a catalogue round
    // for every time format.
    let plain = GenOptions {
        duplicate_rate: 0.01,
        ..opts(3, 20_000)
    };
    let catalogue = GenOptions {
        catalogue_rounds: 1,
        max_disorder_ms: 300_000,
        ..opts(4, 30_000)
    };
    for o in [plain, catalogue] {
        for kind in CWL_KINDS {
            let d = check_cwl_kind(kind, &o, EnvelopeOptions::default());
            assert!(d.sizes.iter().any(|&n| n > 1), "{kind:?}: some batching");
        }
    }
}

#[test]
fn messages_stop_at_fifty_events() {
    // A busy trail: streams fill 50 events within five seconds.
    let o = GenOptions {
        rate_per_sec: 5_000.0,
        ..opts(5, 30_000)
    };
    let d = check_cwl_kind(Envelope::Cwl, &o, EnvelopeOptions::default());
    assert!(d.sizes.iter().all(|&n| n <= 50));
    assert!(d.sizes.iter().filter(|&&n| n == 50).count() > 10);
}

#[test]
fn messages_stop_at_the_batch_limit() {
    // Batches that neither the event count nor the time closes: the 1 MiB
    // limit does (records are at most about 2 KB).
    let o = GenOptions {
        rate_per_sec: 5_000.0,
        ..opts(6, 60_000)
    };
    let e = EnvelopeOptions {
        events_per_message: MAX_EVENTS_PER_MESSAGE,
        batch_ms: MAX_BATCH_MS,
    };
    // Batching is the same for the three kinds (their forms are checked
    // above).
    let d = check_cwl_kind(Envelope::Cwl, &o, e);
    let full = d.bytes.iter().filter(|&&b| b > LIMIT - 3_000).count();
    assert!(full > 0, "some message was closed by size");
}

#[test]
fn batches_close_on_time() {
    // A batch time of 0 closes a batch as soon as the trail's time moves
    // on: many more, smaller messages than with a minute.
    let o = opts(7, 10_000);
    let short = check_cwl_kind(
        Envelope::Cwl,
        &o,
        EnvelopeOptions {
            batch_ms: 0,
            ..EnvelopeOptions::default()
        },
    );
    let long = check_cwl_kind(
        Envelope::Cwl,
        &o,
        EnvelopeOptions {
            batch_ms: 60_000,
            ..EnvelopeOptions::default()
        },
    );
    assert!(short.sizes.len() > 2 * long.sizes.len());
}

/// Formats ms as `YYYY-MM-DDTHH:MM:SSZ`.
fn seconds_text(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).expect("a time");
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[derive(serde::Deserialize)]
struct Event<'a> {
    version: String,
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: String,
    source: String,
    account: String,
    time: String,
    region: String,
    resources: Vec<Value>,
    #[serde(borrow)]
    detail: &'a RawValue,
}

#[test]
fn eventbridge_carries_every_record_as_is() {
    for o in [
        GenOptions {
            duplicate_rate: 0.01,
            ..opts(8, 20_000)
        },
        GenOptions {
            catalogue_rounds: 1,
            ..opts(9, 30_000)
        },
    ] {
        let records = ndjson(&o);
        let (bytes, report) = envelope(&o, Envelope::EventBridge, EnvelopeOptions::default());
        let text = std::str::from_utf8(&bytes).expect("UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), records.len());
        assert_eq!(
            report,
            EnvelopeReport {
                records: records.len() as u64,
                messages: records.len() as u64,
                control_messages: 0,
            }
        );
        let mut ids = HashSet::new();
        let mut signins = 0;
        for (line, record) in lines.iter().zip(&records) {
            let e: Event = serde_json::from_str(line).expect("an EventBridge event");
            assert!(line.starts_with("{\"version\":\"0\",\"id\":"));
            assert_eq!(e.version, "0");
            assert_eq!(e.detail.get(), record, "the record, byte for byte");
            assert!(e.resources.is_empty());
            assert!(ids.insert(e.id.clone()));
            let parts: Vec<usize> = e.id.split('-').map(str::len).collect();
            assert_eq!(parts, [8, 4, 4, 4, 12], "{}", e.id);
            let (t, v) = catalogue_reference::read_event(record).expect("a record");
            assert_eq!(e.time, seconds_text(t));
            assert_eq!(
                e.account,
                v["recipientAccountId"].as_str().expect("account")
            );
            assert_eq!(e.region, v["awsRegion"].as_str().expect("region"));
            let service = v["eventSource"]
                .as_str()
                .expect("eventSource")
                .trim_end_matches(".amazonaws.com");
            assert_eq!(e.source, format!("aws.{service}"));
            if v["eventType"] == "AwsConsoleSignIn" {
                signins += 1;
                assert_eq!(e.detail_type, "AWS Console Sign In via CloudTrail");
            } else {
                assert_eq!(e.detail_type, "AWS API Call via CloudTrail");
            }
        }
        assert!(signins > 0, "the trail has console sign-ins");
    }
}

#[test]
fn same_seed_same_bytes() {
    let o = opts(10, 5_000);
    for kind in [
        Envelope::Cwl,
        Envelope::Firehose,
        Envelope::Lambda,
        Envelope::EventBridge,
    ] {
        let (a, _) = envelope(&o, kind, EnvelopeOptions::default());
        let (b, _) = envelope(&o, kind, EnvelopeOptions::default());
        assert_eq!(a, b, "{kind:?}");
        let (c, _) = envelope(&opts(11, 5_000), kind, EnvelopeOptions::default());
        assert_ne!(a, c, "{kind:?}");
    }
}

#[test]
fn bad_options_are_refused() {
    let o = opts(1, 1_000);
    let refuse = |kind, e: EnvelopeOptions, o: GenOptions| {
        let mut out = Vec::new();
        let err = write_envelope(o, kind, e, &mut out).expect_err("refused");
        assert!(out.is_empty(), "nothing written before the refusal");
        err
    };
    for kind in [Envelope::Cwl, Envelope::EventBridge] {
        let zero = EnvelopeOptions {
            events_per_message: 0,
            ..EnvelopeOptions::default()
        };
        assert!(matches!(
            refuse(kind, zero, o.clone()),
            GenError::InvalidEventsPerMessage(0)
        ));
        let many = EnvelopeOptions {
            events_per_message: MAX_EVENTS_PER_MESSAGE + 1,
            ..EnvelopeOptions::default()
        };
        assert!(matches!(
            refuse(kind, many, o.clone()),
            GenError::InvalidEventsPerMessage(_)
        ));
        let long = EnvelopeOptions {
            batch_ms: MAX_BATCH_MS + 1,
            ..EnvelopeOptions::default()
        };
        assert!(matches!(
            refuse(kind, long, o.clone()),
            GenError::InvalidBatchMs(_)
        ));
        let bad_rate = GenOptions {
            rate_per_sec: 0.0,
            ..o.clone()
        };
        assert!(matches!(
            refuse(kind, EnvelopeOptions::default(), bad_rate),
            GenError::InvalidRate(_)
        ));
    }
}
