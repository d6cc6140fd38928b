//! The stateless first stage: each record of an NDJSON buffer read once
//! (size bound, pre-filter, full parse) and every rule's per-event steps
//! applied, written as a payload (see `wire`) for the second stage.

use crate::config::{Config, ConfigError, RuleName, Settings};
use std::sync::Arc;

use crate::event::{Event, EventError, RejectReason, parse_event_with};
use crate::fields::Schema;
use crate::prefilter::{Plan, Verdict};
use crate::results::BatchError;
use crate::rules::{self, Selector};
use crate::wire::{self, put_run};

/// What a [`Scanner`] made of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    /// Records (non-blank lines) in the buffer.
    pub records: u32,
    /// Records no rule can read.
    pub errors: Vec<BatchError>,
    /// Everything [`Detector::apply`] needs (see [`wire`]).
    pub payload: Vec<u8>,
}

/// A record as the first, stateless stage reads it. (Not boxed: it lives
/// for one record and boxing would allocate for every candidate.)
#[allow(clippy::large_enum_variant)]
pub(crate) enum Read<'a> {
    /// Valid, and no rule can select it (settled by the pre-filter).
    Filtered(i64),
    /// Valid; the rules must look at it.
    Event(Event<'a>),
}

/// How a configuration reads records: the size bound, the pre-filter's
/// plan, and the paths its data rules read.
#[derive(Debug, Clone)]
pub(crate) struct Reading {
    pub(crate) max_bytes: u32,
    pub(crate) plan: Arc<Plan>,
    pub(crate) schema: Arc<Schema>,
}

/// Reads one record: the size bound, then the pre-filter (which also
/// checks the text is UTF-8), then (when the pre-filter cannot settle it)
/// the full parse, with the data rules' paths.
pub(crate) fn read_record<'a>(
    bytes: &'a [u8],
    how: &Reading,
    prefilter: bool,
) -> Result<Read<'a>, EventError> {
    let max_bytes = how.max_bytes;
    if bytes.len() > max_bytes as usize {
        return Err(EventError::new(
            RejectReason::TooLarge,
            format!(
                "event is {} bytes; the limit is {max_bytes} (limits.max-event-bytes)",
                bytes.len()
            ),
        ));
    }
    if prefilter && let Verdict::Filtered(t) = how.plan.settle(bytes) {
        return Ok(Read::Filtered(t));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        EventError::new(
            RejectReason::InvalidJson,
            format!("not valid JSON: the text is not UTF-8 ({e})"),
        )
    })?;
    parse_event_with(text, &how.schema).map(Read::Event)
}

/// Whether to try the pre-filter on the next record of a buffer. Where
/// most records need the full parse anyway (a trail of aws-cli calls), the
/// pre-filter's look at each is wasted work: after a run of records it
/// could not settle, records go straight to the full parse, with every
/// sixteenth still tried so the route comes back when the mix changes.
/// Either route gives the same result; this only picks the cheaper one.
#[derive(Debug, Default)]
struct Route {
    /// Records the pre-filter could not settle, out of about the last 32
    /// it tried (halved every 32 tries).
    missed: u32,
    tried: u32,
    seen: u32,
}

impl Route {
    fn try_prefilter(&mut self) -> bool {
        self.seen = self.seen.wrapping_add(1);
        self.missed < 24 || self.seen.is_multiple_of(16)
    }

    fn learn(&mut self, settled: bool) {
        self.tried += 1;
        if !settled {
            self.missed += 1;
        }
        if self.tried == 32 {
            self.tried = 16;
            self.missed /= 2;
        }
    }
}

/// [`read_record`], routed: the pre-filter only where it pays.
fn read_routed<'a>(
    bytes: &'a [u8],
    how: &Reading,
    prefilter: bool,
    route: &mut Route,
) -> Result<Read<'a>, EventError> {
    let tried = prefilter && route.try_prefilter();
    let read = read_record(bytes, how, tried);
    if tried {
        route.learn(matches!(read, Ok(Read::Filtered(_))));
    }
    read
}

/// The non-blank lines of an NDJSON buffer, as `(index, bytes)`. A `\r`
/// before the `\n` is dropped.
fn for_each_line(buf: &[u8], mut f: impl FnMut(u32, &[u8])) {
    let mut start = 0usize;
    let mut index = 0u32;
    while start < buf.len() {
        let end = memchr::memchr(b'\n', &buf[start..]).map_or(buf.len(), |n| start + n);
        let mut line_end = end;
        if line_end > start && buf[line_end - 1] == b'\r' {
            line_end -= 1;
        }
        let bytes = &buf[start..line_end];
        if !bytes.iter().all(|c| matches!(c, b' ' | b'\t' | b'\r')) {
            f(index, bytes);
        }
        index = index.saturating_add(1);
        start = end + 1;
    }
}

/// The stateless first stage: reads each record of an NDJSON buffer once
/// and applies every rule's per-event steps, for a [`Detector`] with the
/// same configuration to [`Detector::apply`]. Holds no state between
/// calls, so a host can run one per core.
#[derive(Debug, Clone)]
pub struct Scanner {
    fingerprint: u64,
    pub(crate) reading: Reading,
    max_time_jump_ms: u64,
    rules: Vec<Box<dyn Selector>>,
    /// The rule of each entry of `rules`.
    rule_ids: Vec<RuleName>,
    pub(crate) prefilter: bool,
}

/// The hash that places a group key in a partition: 64-bit FNV-1a of the
/// key's JSON text, then MurmurHash3's 64-bit finaliser (`fmix64`).
/// FNV-1a alone is weak in its low bits (its last bit is the parity of
/// the odd bytes, so a key holding one name twice, as the Sentinel key
/// does, always lands in the same half); the finaliser spreads every bit.
/// Written out here (not `std`'s hasher, whose output may change between
/// Rust releases) because every host, and every version of this crate,
/// must route a key to the same partition.
pub fn partition_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Where one record goes when the work of a configuration is split into
/// partitions: see [`Scanner::partition_of`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Placement {
    /// The record's line in the buffer (from 0; blank lines count).
    pub index: u32,
    /// The rule whose group the record joins.
    pub rule: RuleName,
    /// The partition of that rule's work, below the partition count.
    pub partition: u32,
}

impl Scanner {
    /// A scanner for `settings`, or why they are invalid.
    pub fn new(settings: Settings) -> Result<Scanner, ConfigError> {
        Ok(Scanner::from_config(&Config::new(settings)?))
    }

    pub(crate) fn from_config(config: &Config) -> Scanner {
        Scanner {
            fingerprint: config.fingerprint,
            reading: Reading {
                max_bytes: config.limits.max_event_bytes,
                plan: Arc::new(Plan::new(
                    config.rules.iter().any(|r| r.builtin.is_some()),
                    &config
                        .rules
                        .iter()
                        .filter_map(|r| r.data.as_ref().map(|d| d.needles.clone()))
                        .collect::<Vec<_>>(),
                )),
                schema: Arc::new(config.schema.clone()),
            },
            max_time_jump_ms: config.limits.max_time_jump_ms.unsigned_abs(),
            rules: config
                .rules
                .iter()
                .map(|c| rules::build(c).selector())
                .collect(),
            rule_ids: config.rules.iter().map(|r| r.name.clone()).collect(),
            prefilter: true,
        }
    }

    /// Turns the pre-filter off (every record takes the full parse): for
    /// differential tests and benchmarks. Results are the same either way.
    pub fn set_prefilter(&mut self, on: bool) {
        self.prefilter = on;
    }

    /// Where each record of an NDJSON buffer goes when each rule's work is
    /// split into `partitions` parts (0 counts as 1): one [`Placement`]
    /// per record and rule that counts it, in line order, then rule
    /// order. A record's partition for a rule is the hash of that rule's
    /// group key (everything the rule groups by except the time bucket),
    /// so every group of every rule lies within one partition of its
    /// rule. Records that no rule counts (filtered, or unreadable) have
    /// no placement: they cannot change any alert.
    ///
    /// Rules group by different things (the Sentinel rule by account,
    /// user, address and MFA; the Elastic rule by identity ARN), and a
    /// record's fields may pair them any way, so no single key places
    /// every group of both rules in one partition: each rule's work is
    /// partitioned on its own.
    pub fn partition_of(&self, buf: &[u8], partitions: u32) -> Vec<Placement> {
        let n = u64::from(partitions.max(1));
        let mut out = Vec::new();
        let mut route = Route::default();
        for_each_line(buf, |index, text| {
            let Ok(Read::Event(ev)) = read_routed(text, &self.reading, self.prefilter, &mut route)
            else {
                return;
            };
            for (selector, rule) in self.rules.iter().zip(&self.rule_ids) {
                if let Some(h) = selector.key_hash(&ev) {
                    out.push(Placement {
                        index,
                        rule: rule.clone(),
                        partition: (h % n) as u32,
                    });
                }
            }
        });
        out
    }

    /// Reads an NDJSON buffer; see the contract's `scan`.
    pub fn scan(&self, buf: &[u8]) -> Scanned {
        let mut out = Vec::with_capacity(64 + buf.len() / 64);
        out.extend_from_slice(wire::MAGIC);
        out.extend_from_slice(&self.fingerprint.to_le_bytes());
        let mut errors = Vec::new();
        let mut records = 0u32;
        // A run of records every rule filters: only their number and the
        // latest time matter to the second stage.
        let mut run = 0u64;
        let mut run_max = i64::MIN;
        let mut run_first = (0u32, 0i64);
        let mut run_last = (0u32, 0i64);
        let mut detail = Vec::new();
        let jump = self.max_time_jump_ms;
        let mut sel = Vec::new();
        let mut route = Route::default();
        for_each_line(buf, |index, text| {
            records = records.saturating_add(1);
            let read = read_routed(text, &self.reading, self.prefilter, &mut route);
            // A run is cut where a time strays far from its first, so a
            // record far ahead of the others is seen as such.
            let mut extend = |out: &mut Vec<u8>, t: i64| {
                if run > 0 && t.abs_diff(run_first.1) > jump {
                    put_run(out, run_first.0, run, run_max, run_first.1, &detail);
                    run = 0;
                }
                if run == 0 {
                    run_first = (index, t);
                    run_last = run_first;
                    run_max = i64::MIN;
                    detail.clear();
                } else {
                    wire::put_varint(&mut detail, u64::from(index - run_last.0));
                    wire::put_zigzag(&mut detail, t.wrapping_sub(run_last.1));
                    run_last = (index, t);
                }
                run += 1;
                run_max = run_max.max(t);
            };
            match read {
                Ok(Read::Filtered(t)) => extend(&mut out, t),
                Ok(Read::Event(ev)) => {
                    sel.clear();
                    let mut any = false;
                    for r in &self.rules {
                        let at = sel.len();
                        sel.push(0);
                        if r.select_into(&ev, &mut sel) {
                            sel[at] = 1;
                            any = true;
                        }
                    }
                    if any {
                        if run > 0 {
                            put_run(&mut out, run_first.0, run, run_max, run_first.1, &detail);
                            run = 0;
                        }
                        out.push(wire::EVENT);
                        wire::put_varint(&mut out, u64::from(index));
                        wire::put_i64(&mut out, ev.time_ms);
                        out.extend_from_slice(&sel);
                    } else {
                        extend(&mut out, ev.time_ms);
                    }
                }
                Err(error) => {
                    // A rejection touches no window: it need not end the run.
                    out.push(wire::REJECT);
                    wire::put_varint(&mut out, u64::from(index));
                    out.push(error.reason as u8);
                    errors.push(BatchError {
                        index,
                        rule: None,
                        error,
                    });
                }
            }
        });
        if run > 0 {
            put_run(&mut out, run_first.0, run, run_max, run_first.1, &detail);
        }
        Scanned {
            records,
            errors,
            payload: out,
        }
    }
}
