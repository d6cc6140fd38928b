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

use super::publish::{DEFAULT_BATCH_BYTES, PublishSummary, Publisher};
use super::{Nats, NatsError};

/// How long a quiet subject waits before what is held is published.
pub const BRIDGE_LINGER: Duration = Duration::from_millis(200);

/// The records of one message, as NDJSON.
pub fn records_of(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let text = String::from_utf8_lossy(payload);
    let trimmed = text.trim_start();
    let push = |out: &mut Vec<u8>, v: &Value| {
        if let Ok(s) = serde_json::to_string(v) {
            out.extend_from_slice(s.as_bytes());
            out.push(b'\n');
        }
    };
    // A record a shipper wrapped: the raw line in `log` or `message`.
    let unwrap = |v: &Value| -> Value {
        if let Value::Object(m) = v
            && !m.contains_key("eventTime")
        {
            for key in ["log", "message"] {
                if let Some(Value::String(s)) = m.get(key)
                    && let Ok(inner @ Value::Object(_)) = serde_json::from_str::<Value>(s)
                {
                    return inner;
                }
            }
        }
        v.clone()
    };
    match serde_json::from_str::<Value>(trimmed) {
        Ok(Value::Array(items)) => {
            for item in &items {
                match item {
                    // Fluent Bit: [timestamp, {record}]
                    Value::Array(pair) if pair.len() == 2 && pair[1].is_object() => {
                        push(&mut out, &unwrap(&pair[1]))
                    }
                    other => push(&mut out, &unwrap(other)),
                }
            }
        }
        Ok(Value::Object(m)) => match m.get("Records") {
            Some(Value::Array(records)) => {
                for r in records {
                    push(&mut out, r);
                }
            }
            _ => push(&mut out, &unwrap(&Value::Object(m))),
        },
        // NDJSON, or anything else: line by line, as is (the detector
        // reports what it cannot read).
        _ => {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                match serde_json::from_str::<Value>(line) {
                    Ok(v @ Value::Object(_)) => push(&mut out, &unwrap(&v)),
                    _ => {
                        out.extend_from_slice(line.as_bytes());
                        out.push(b'\n');
                    }
                }
            }
        }
    }
    out
}

/// Bridges `subject` until `stop` is set.
pub fn bridge(
    nats: &Nats,
    subject: &str,
    stop: &AtomicBool,
    err: &mut dyn Write,
) -> Result<PublishSummary, NatsError> {
    let mut publisher = Publisher::new(nats, DEFAULT_BATCH_BYTES)?;
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
                let data = records_of(&m.payload);
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
