//! `recon nats bridge`: records from a plain subject, in the forms log
//! shippers' NATS outputs send, published as `recon nats publish` does.
//!
//! - Vector's `nats` sink: one event per message, as its codec writes it
//!   (`json`: one JSON object; `text`: the raw line).
//! - Fluent Bit's `nats` output: one JSON array of `[timestamp, {record}]`
//!   pairs per flush; a record read by `tail` holds the raw line in `log`
//!   (or `message`).
//! - Also: NDJSON, `{"Records":[…]}` documents and JSON arrays of records.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use crate::runtime::Runtime;
use crate::settings::RunConfig;

use super::layout::Layout;
use super::publish::{DEFAULT_BATCH_BYTES, PublishSummary, Publisher};
use super::{Nats, NatsError};

/// How long a quiet subject waits before what is held is published.
pub const BRIDGE_LINGER: Duration = Duration::from_millis(200);

/// The records of one message, as NDJSON, and the reader's reports on
/// it (records too large, envelope values that hold no record), worded
/// without the subject.
///
/// Shipper framing is taken off here (Fluent Bit's `[timestamp, {record}]`
/// pairs, a raw line in `log` or `message`); everything else, and what the
/// framing held, is read by the reader crate, as `recon detect` reads a
/// file: NDJSON, `{"Records":[…]}` documents, arrays, and the envelopes of
/// the real-time feeds (CloudWatch Logs messages, Lambda's `awslogs`
/// events, EventBridge events).
pub fn records_of(payload: &[u8]) -> (Vec<u8>, Vec<String>) {
    let mut out = Vec::new();
    let mut reports = Vec::new();
    // A record a shipper wrapped: the raw line in `log` or `message`.
    let unwrapped = |v: &Value| -> Option<String> {
        if let Value::Object(m) = v
            && !m.contains_key("eventTime")
            && !m.contains_key("logEvents")
        {
            for key in ["log", "message"] {
                if let Some(Value::String(s)) = m.get(key)
                    && s.trim_start().starts_with('{')
                {
                    return Some(s.clone());
                }
            }
        }
        None
    };
    let mut read = |bytes: &[u8]| {
        for e in recon_reader::read_all(bytes, recon_reader::Options::default()) {
            match e {
                recon_reader::Event::Chunk(c) => out.extend_from_slice(&c.data),
                recon_reader::Event::TooLarge { at, bytes } => {
                    reports.push(recon_reader::wording::too_large(
                        at,
                        bytes,
                        u64::from(recon_reader::DEFAULT_MAX_RECORD_BYTES),
                    ))
                }
                recon_reader::Event::BadEnvelope { at, message } => {
                    reports.push(recon_reader::wording::bad_envelope(at, &message))
                }
                recon_reader::Event::Unreadable(reason) => reports.push(reason),
                recon_reader::Event::Control { .. } => {}
            }
        }
    };
    match serde_json::from_slice::<Value>(payload) {
        // Fluent Bit: [[timestamp, {record}], …]
        Ok(Value::Array(items))
            if !items.is_empty()
                && items.iter().all(
                    |i| matches!(i, Value::Array(pair) if pair.len() == 2 && pair[1].is_object()),
                ) =>
        {
            for item in &items {
                let record = &item[1];
                match unwrapped(record) {
                    Some(line) => read(line.as_bytes()),
                    None => read(record.to_string().as_bytes()),
                }
            }
        }
        Ok(v @ Value::Object(_)) => match unwrapped(&v) {
            Some(line) => read(line.as_bytes()),
            None => read(payload),
        },
        Ok(_) => read(payload),
        // NDJSON (or not JSON at all): lines a shipper wrapped are
        // unwrapped, the others read as they come, in order.
        Err(_) => {
            let mut plain: Vec<u8> = Vec::new();
            for line in payload.split(|b| *b == b'\n') {
                let wrapped = serde_json::from_slice::<Value>(line)
                    .ok()
                    .and_then(|v| unwrapped(&v));
                match wrapped {
                    Some(inner) => {
                        read(&std::mem::take(&mut plain));
                        read(inner.as_bytes());
                    }
                    None => {
                        plain.extend_from_slice(line);
                        plain.push(b'\n');
                    }
                }
            }
            read(&plain);
        }
    }
    (out, reports)
}

/// Bridges `subject` until `stop` is set (into `layout`, whose
/// configuration is `run`, placing records with the component in
/// `runtime`).
pub fn bridge(
    nats: &Nats,
    runtime: &Runtime,
    (layout, run): (Layout, RunConfig),
    subject: &str,
    stop: &AtomicBool,
    err: &mut dyn Write,
) -> Result<PublishSummary, NatsError> {
    let mut publisher = Publisher::new(nats, runtime, layout, run, DEFAULT_BATCH_BYTES)?;
    let mut sub = nats
        .block_on(nats.client.subscribe(subject.to_owned()))
        .map_err(|e| nats.err(format!("subscribing to {subject}"), e))?;
    nats.block_on(nats.client.flush())
        .map_err(|e| nats.err(format!("subscribing to {subject}"), e))?;
    writeln!(err, "recon: bridge: listening on {subject}")?;
    let mut held = false;
    let mut n = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let next = nats.block_on(async { tokio::time::timeout(BRIDGE_LINGER, sub.next()).await });
        match next {
            Ok(Some(m)) => {
                n += 1;
                let (data, reports) = records_of(&m.payload);
                for r in &reports {
                    writeln!(err, "recon: {subject}: message {n}: {r}")?;
                }
                let describe = |i: u32| format!("{subject}: message {n}, record {}", i + 1);
                publisher.add(&data, &describe, err)?;
                held = true;
            }
            Ok(None) => break,
            Err(_) if held => {
                publisher.flush()?;
                held = false;
                let s = &publisher.summary;
                writeln!(
                    err,
                    "recon: bridge: {} records read, {} published",
                    s.records, s.published
                )?;
            }
            Err(_) => {}
        }
    }
    // A subscription unsubscribes on drop, through the runtime.
    nats.block_on(async move { drop(sub) });
    publisher.flush()?;
    Ok(publisher.summary.clone())
}
