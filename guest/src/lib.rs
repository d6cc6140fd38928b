//! The detection core: two published AWS CLI reconnaissance rules run over
//! a stream of CloudTrail events, one event at a time.
//!
//! This crate is plain Rust and knows nothing of WIT or wasmtime; it builds
//! and is tested natively. Compiled for `wasm32`, the `component` module
//! (a thin shell generated from `wit/detector.wit`) exports it as a
//! WebAssembly component that imports nothing.
//!
//! Entry point: [`Detector`].

pub mod alert;
pub mod config;
pub mod event;
pub mod format;
pub mod prefilter;
pub mod read;
pub mod rules;
pub mod time;
mod windows;
pub mod wire;

#[cfg(target_arch = "wasm32")]
mod component;

use serde::{Deserialize, Serialize};

pub use alert::{Alert, AlertKind, Entity};
pub use config::{ConfigError, LimitSettings, Profile, Rule, RuleSettings, Settings};
pub use event::{EventError, RejectReason};
pub use read::{ReadReport, ReadResult, ReadStep};
pub use recon_reader as reader;
pub use windows::{Counters, Outcome};

use config::{Config, RuleConfig};
use event::{Event, parse_event};
use prefilter::Verdict;
use rules::{elastic, elastic::Elastic, sentinel, sentinel::Sentinel};
use windows::{State, Windows};
use wire::{Reader, WireError};

/// The format name written into every snapshot.
pub const SNAPSHOT_FORMAT: &str = "recon-detector-snapshot";
/// The snapshot format version this build writes. Version 3 added early
/// alerts (pending alerts carry their kind and the step that produced
/// them) and the counters that explain late records; a build that reads
/// only version 2 refuses it rather than lose what it cannot read.
pub const SNAPSHOT_VERSION: u32 = 3;
/// The oldest snapshot format version this build still reads: version 2
/// restores with its pending alerts final and the new counters at 0.
pub const SNAPSHOT_OLDEST_VERSION: u32 = 2;

/// What one rule made of one readable event: an outcome, or its own
/// rejection (`state-limit`).
pub type RuleOutcome = Result<Outcome, EventError>;

/// An error for one record of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    /// Index in the batch (list position, or line of an NDJSON buffer).
    pub index: u32,
    /// `None` when no rule could read the record; the rule otherwise.
    pub rule: Option<Rule>,
    /// Why.
    pub error: EventError,
}

/// What one rule made of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleCounts {
    /// The rule.
    pub rule: Rule,
    /// Counted in a window.
    pub accepted: u32,
    /// Valid, dropped by the filters.
    pub filtered: u32,
    /// Late.
    pub late: u32,
    /// Rejected by this rule (`state-limit`).
    pub rejected: u32,
}

/// The result of a batch call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResult {
    /// Records in the batch.
    pub records: u32,
    /// Records no rule could read.
    pub rejected: u32,
    /// Per rule, in configuration order.
    pub rules: Vec<RuleCounts>,
    /// Rejections, in index order.
    pub errors: Vec<BatchError>,
    /// Records that arrived far ahead of the watermark (the first of each
    /// run of them), by index: counted in their windows, but the watermark
    /// waits for confirmation before it follows.
    pub ahead: Vec<u32>,
}

impl BatchResult {
    pub(crate) fn new(rules: &[RuleConfig]) -> Self {
        BatchResult {
            records: 0,
            rejected: 0,
            rules: rules
                .iter()
                .map(|r| RuleCounts {
                    rule: r.rule,
                    accepted: 0,
                    filtered: 0,
                    late: 0,
                    rejected: 0,
                })
                .collect(),
            errors: Vec::new(),
            ahead: Vec::new(),
        }
    }

    fn count(&mut self, i: usize, outcome: &RuleOutcome) {
        let c = &mut self.rules[i];
        match outcome {
            Ok(Outcome::Accepted) => c.accepted += 1,
            Ok(Outcome::Filtered) => c.filtered += 1,
            Ok(Outcome::Late) => c.late += 1,
            Err(_) => c.rejected += 1,
        }
    }
}

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

/// Why [`Detector::apply`] refused a payload; nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Made under another configuration.
    #[error("the payload was made by a scanner with another configuration")]
    ConfigMismatch,
    /// Damaged, or from another build.
    #[error("the payload cannot be read: {0}")]
    Malformed(String),
}

/// One rule's counters and state sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleStats {
    /// The rule.
    pub rule: Rule,
    /// Running counters (`pushed = accepted + filtered + rejected + late`).
    pub counters: Counters,
    /// Open windows.
    pub open_windows: u32,
    /// Open groups.
    pub open_groups: u32,
    /// Current watermark.
    pub watermark: Option<i64>,
}

impl RuleStats {
    /// All rejected events.
    pub fn rejected(&self) -> u64 {
        self.counters.rejected.iter().sum()
    }

    /// Rejections per reason, zero counts left out.
    pub fn rejected_by_reason(&self) -> Vec<(RejectReason, u64)> {
        by_reason(&self.counters.rejected)
    }
}

fn by_reason(counts: &[u64; 7]) -> Vec<(RejectReason, u64)> {
    RejectReason::ALL
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| (*r, *n))
        .collect()
}

/// A detector's counters and state sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Records pushed.
    pub pushed: u64,
    /// Records no rule could read, per reason (indexed as
    /// [`RejectReason::ALL`]).
    pub rejected: [u64; 7],
    /// Per rule, in configuration order.
    pub rules: Vec<RuleStats>,
    /// Alerts not yet drained, all rules.
    pub pending_alerts: u32,
}

impl Stats {
    /// Records no rule could read, all reasons.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }

    /// Those rejections per reason, zero counts left out.
    pub fn rejected_by_reason(&self) -> Vec<(RejectReason, u64)> {
        by_reason(&self.rejected)
    }
}

/// Why a snapshot could not be restored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not a snapshot of this format.
    #[error("not a detector snapshot: {0}")]
    Malformed(String),
    /// Written by an incompatible version.
    #[error(
        "snapshot format version {0} is not supported (this build reads versions {SNAPSHOT_OLDEST_VERSION} to {SNAPSHOT_VERSION})"
    )]
    UnsupportedVersion(u32),
    /// The stored configuration is invalid.
    #[error("the snapshot's configuration is invalid: {0}")]
    InvalidConfig(ConfigError),
}

/// A record as the first, stateless stage reads it. (Not boxed: it lives
/// for one record and boxing would allocate for every candidate.)
#[allow(clippy::large_enum_variant)]
enum Read<'a> {
    /// Valid, and no rule can select it (settled by the pre-filter).
    Filtered(i64),
    /// Valid; the rules must look at it.
    Event(Event<'a>),
}

/// Reads one record: the size bound, then the pre-filter (which also
/// checks the text is UTF-8), then (when the pre-filter cannot settle it)
/// the full parse.
fn read_record(bytes: &[u8], max_bytes: u32, prefilter: bool) -> Result<Read<'_>, EventError> {
    if bytes.len() > max_bytes as usize {
        return Err(EventError::new(
            RejectReason::TooLarge,
            format!(
                "event is {} bytes; the limit is {max_bytes} (limits.max-event-bytes)",
                bytes.len()
            ),
        ));
    }
    if prefilter && let Verdict::Filtered(t) = prefilter::settle(bytes) {
        return Ok(Read::Filtered(t));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        EventError::new(
            RejectReason::InvalidJson,
            format!("not valid JSON: the text is not UTF-8 ({e})"),
        )
    })?;
    parse_event(text).map(Read::Event)
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
    max_bytes: u32,
    prefilter: bool,
    route: &mut Route,
) -> Result<Read<'a>, EventError> {
    let tried = prefilter && route.try_prefilter();
    let read = read_record(bytes, max_bytes, tried);
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

/// A rule's stateless logic.
#[derive(Debug, Clone)]
enum Logic {
    Sentinel(Sentinel),
    Elastic(Elastic),
}

impl Logic {
    fn new(c: &RuleConfig) -> Logic {
        match c.rule {
            Rule::Sentinel => Logic::Sentinel(Sentinel::new(c)),
            Rule::Elastic => Logic::Elastic(Elastic::new(c)),
        }
    }

    /// Selects `event` and appends the selection's encoding to `out`.
    fn select_into(&self, event: &Event<'_>, out: &mut Vec<u8>) -> bool {
        use rules::RuleLogic;
        match self {
            Logic::Sentinel(r) => r.select(event).map(|(k, i)| r.encode(&k, &i, out)),
            Logic::Elastic(r) => r.select(event).map(|(k, i)| r.encode(&k, &i, out)),
        }
        .is_some()
    }
}

/// Appends a run entry: its first record's index, how many, the latest time.
/// Appends a run entry: its first record's index, how many, the latest
/// time, then each record's index and time as deltas (`detail`), so the
/// second stage can replay them one by one when the time policy needs to.
fn put_run(out: &mut Vec<u8>, first: u32, n: u64, max_t: i64, first_t: i64, detail: &[u8]) {
    out.push(wire::RUN);
    wire::put_varint(out, u64::from(first));
    wire::put_varint(out, n);
    wire::put_i64(out, max_t);
    wire::put_i64(out, first_t);
    out.extend_from_slice(detail);
}

/// The stateless first stage: reads each record of an NDJSON buffer once
/// and applies every rule's per-event steps, for a [`Detector`] with the
/// same configuration to [`Detector::apply`]. Holds no state between
/// calls, so a host can run one per core.
#[derive(Debug, Clone)]
pub struct Scanner {
    fingerprint: u64,
    max_event_bytes: u32,
    max_time_jump_ms: u64,
    rules: Vec<Logic>,
    prefilter: bool,
}

impl Scanner {
    /// A scanner for `settings`, or why they are invalid.
    pub fn new(settings: Settings) -> Result<Scanner, ConfigError> {
        Ok(Scanner::from_config(&Config::new(settings)?))
    }

    fn from_config(config: &Config) -> Scanner {
        Scanner {
            fingerprint: config.fingerprint,
            max_event_bytes: config.limits.max_event_bytes,
            max_time_jump_ms: config.limits.max_time_jump_ms.unsigned_abs(),
            rules: config.rules.iter().map(Logic::new).collect(),
            prefilter: true,
        }
    }

    /// Turns the pre-filter off (every record takes the full parse): for
    /// differential tests and benchmarks. Results are the same either way.
    pub fn set_prefilter(&mut self, on: bool) {
        self.prefilter = on;
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
            let read = read_routed(text, self.max_event_bytes, self.prefilter, &mut route);
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

/// One rule running over windows.
enum RuleEngine {
    Sentinel(Windows<Sentinel>),
    Elastic(Windows<Elastic>),
}

macro_rules! each {
    ($self:expr, $e:ident => $body:expr) => {
        match $self {
            RuleEngine::Sentinel($e) => $body,
            RuleEngine::Elastic($e) => $body,
        }
    };
}

/// A decoded selection of one rule.
enum Selection {
    Sentinel(sentinel::Key, sentinel::Item),
    Elastic(String, String),
}

/// A decoded payload entry.
enum Entry<'p> {
    /// A run: count, latest time, and its records (read again, one by one,
    /// only when the time policy needs them).
    Run(u64, i64, RunRecords<'p>),
    Reject(RejectReason),
    Event(u32, i64, Vec<Option<Selection>>),
}

/// The records of a run, as the payload holds them: the first one's index
/// and time, then deltas.
#[derive(Clone, Copy)]
struct RunRecords<'p> {
    first: (u32, i64),
    n: u64,
    deltas: &'p [u8],
}

impl RunRecords<'_> {
    /// Calls `f` with each record's index and time, in order; fails on
    /// damaged deltas or a time out of range. Returns the latest time and
    /// how many bytes of deltas the run takes.
    fn walk(&self, mut f: impl FnMut(u32, i64)) -> Result<(i64, usize), ApplyError> {
        let bad = |e: WireError| ApplyError::Malformed(e.0);
        let range = |t: i64| {
            time::check_range(t)
                .map(|_| t)
                .map_err(|e| ApplyError::Malformed(format!("a run's time: {e}")))
        };
        let mut r = Reader::new(self.deltas);
        let (mut at, mut when) = (self.first.0, range(self.first.1)?);
        let mut max = when;
        f(at, when);
        for _ in 1..self.n {
            at = at
                .checked_add(r.u32().map_err(bad)?)
                .ok_or_else(|| ApplyError::Malformed("a run's index overflows".into()))?;
            when = range(when.wrapping_add(r.zigzag().map_err(bad)?))?;
            max = max.max(when);
            f(at, when);
        }
        Ok((max, r.position()))
    }
}

impl RuleEngine {
    fn new(c: &RuleConfig) -> RuleEngine {
        match c.rule {
            Rule::Sentinel => RuleEngine::Sentinel(Windows::new(Sentinel::new(c), c.clone())),
            Rule::Elastic => RuleEngine::Elastic(Windows::new(Elastic::new(c), c.clone())),
        }
    }

    fn rule(&self) -> Rule {
        each!(self, e => e.config().rule)
    }

    fn push(&mut self, event: &Event<'_>) -> (RuleOutcome, bool) {
        each!(self, e => {
            let sel = e.select(event);
            e.event(event.time_ms, sel)
        })
    }

    fn decode(&self, r: &mut Reader<'_>) -> Result<Selection, WireError> {
        match self {
            RuleEngine::Sentinel(e) => e.decode(r).map(|(k, i)| Selection::Sentinel(k, i)),
            RuleEngine::Elastic(e) => e.decode(r).map(|(k, i)| Selection::Elastic(k, i)),
        }
    }

    fn apply(&mut self, t: i64, sel: Option<Selection>) -> (RuleOutcome, bool) {
        match (self, sel) {
            (RuleEngine::Sentinel(e), Some(Selection::Sentinel(k, i))) => e.event(t, Some((k, i))),
            (RuleEngine::Elastic(e), Some(Selection::Elastic(k, i))) => e.event(t, Some((k, i))),
            (RuleEngine::Sentinel(e), _) => e.event(t, None),
            (RuleEngine::Elastic(e), _) => e.event(t, None),
        }
    }

    fn stats(&self) -> RuleStats {
        each!(self, e => RuleStats {
            rule: e.config().rule,
            counters: e.counters.clone(),
            open_windows: e.open_windows() as u32,
            open_groups: e.open_groups() as u32,
            watermark: e.watermark(),
        })
    }
}

/// Puts a snapshot's JSON body behind a line with its SHA-256
/// (`sha256 <hex>\n`), as [`Detector::snapshot`] writes it; for tools that
/// rewrite a snapshot on purpose.
pub fn seal_snapshot(body: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    let mut out = format!("sha256 {}\n", alert::hex(&sha2::Sha256::digest(body))).into_bytes();
    out.extend_from_slice(body);
    out
}

/// The JSON body of a sealed snapshot, when its checksum holds: a damaged
/// or truncated snapshot is refused, never restored.
pub fn unseal_snapshot(bytes: &[u8]) -> Result<&[u8], SnapshotError> {
    use sha2::Digest;
    let bad = |m: &str| SnapshotError::Malformed(m.to_owned());
    let rest = bytes
        .strip_prefix(b"sha256 ")
        .ok_or_else(|| bad("it does not start with its checksum line"))?;
    let n = memchr::memchr(b'\n', rest).ok_or_else(|| bad("its checksum line never ends"))?;
    let (sum, body) = (&rest[..n], &rest[n + 1..]);
    if alert::hex(&sha2::Sha256::digest(body)).as_bytes() != sum {
        return Err(bad(
            "its checksum does not match its content: it is damaged or truncated",
        ));
    }
    Ok(body)
}

/// Largest counter a restored detector may hold: far beyond any real
/// stream (a million records a second for 146,000 years), and far enough
/// from `u64::MAX` that counting on never reaches it.
pub const MAX_RESTORED_COUNT: u64 = 1 << 62;

/// One running detection: its rules over one parse of each event, their
/// open windows, watermarks, pending alerts and counters.
pub struct Detector {
    config: Config,
    engines: Vec<RuleEngine>,
    scanner: Scanner,
    pushed: u64,
    rejected: [u64; 7],
}

#[derive(Serialize)]
struct SnapshotOut<'a> {
    format: &'a str,
    version: u32,
    settings: &'a Settings,
    pushed: u64,
    rejected: [u64; 7],
    #[serde(skip_serializing_if = "Option::is_none")]
    sentinel: Option<State<sentinel::Key, &'a sentinel::Group>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    elastic: Option<State<String, &'a elastic::Group>>,
}

#[derive(Deserialize)]
struct SnapshotHeader {
    format: String,
    version: u32,
}

#[derive(Deserialize)]
struct SnapshotIn {
    settings: Settings,
    pushed: u64,
    rejected: [u64; 7],
    sentinel: Option<State<sentinel::Key, sentinel::Group>>,
    elastic: Option<State<String, elastic::Group>>,
}

impl Detector {
    /// A detector for `settings`, or why they are invalid.
    pub fn new(settings: Settings) -> Result<Detector, ConfigError> {
        Ok(Detector::from_config(Config::new(settings)?))
    }

    fn from_config(config: Config) -> Detector {
        let engines = config.rules.iter().map(RuleEngine::new).collect();
        let scanner = Scanner::from_config(&config);
        Detector {
            config,
            engines,
            scanner,
            pushed: 0,
            rejected: [0; 7],
        }
    }

    /// The settings this detector was built from.
    pub fn settings(&self) -> &Settings {
        &self.config.settings
    }

    /// Turns the pre-filter off or on; see [`Scanner::set_prefilter`].
    pub fn set_prefilter(&mut self, on: bool) {
        self.scanner.set_prefilter(on);
    }

    /// Counts a record no rule could read, for `reason`.
    pub(crate) fn reject(&mut self, reason: RejectReason) {
        windows::bump(&mut self.rejected[reason as usize]);
        for e in &mut self.engines {
            each!(e, e => e.reject(reason));
        }
    }

    /// Pushes one event (JSON text) through every rule: one outcome per
    /// rule, or the error when no rule can read it.
    pub fn push(&mut self, event: &str) -> Result<Vec<RuleOutcome>, EventError> {
        self.push_one(event).0
    }

    /// [`Detector::push`], and whether the event was far ahead of the
    /// watermark.
    fn push_one(&mut self, event: &str) -> (Result<Vec<RuleOutcome>, EventError>, bool) {
        windows::bump(&mut self.pushed);
        let max = self.config.limits.max_event_bytes;
        let mut ahead = false;
        let result = match read_record(event.as_bytes(), max, self.scanner.prefilter) {
            Err(e) => {
                self.reject(e.reason);
                Err(e)
            }
            Ok(Read::Filtered(t)) => Ok(self
                .engines
                .iter_mut()
                .map(|e| {
                    ahead |= each!(e, e => e.filtered(1, t));
                    Ok(Outcome::Filtered)
                })
                .collect()),
            Ok(Read::Event(ev)) => Ok(self
                .engines
                .iter_mut()
                .map(|e| {
                    let (o, far) = e.push(&ev);
                    ahead |= far;
                    o
                })
                .collect()),
        };
        (result, ahead)
    }

    /// Pushes many events, in order; errors are reported by index.
    pub fn push_batch<S: AsRef<str>>(&mut self, events: &[S]) -> BatchResult {
        let mut result = BatchResult::new(&self.config.rules);
        for (i, event) in events.iter().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            result.records = result.records.saturating_add(1);
            let (pushed, ahead) = self.push_one(event.as_ref());
            if ahead {
                result.ahead.push(index);
            }
            match pushed {
                Ok(outcomes) => {
                    for (r, o) in outcomes.into_iter().enumerate() {
                        result.count(r, &o);
                        if let Err(error) = o {
                            let rule = Some(self.engines[r].rule());
                            result.errors.push(BatchError { index, rule, error });
                        }
                    }
                }
                Err(error) => {
                    result.rejected += 1;
                    result.errors.push(BatchError {
                        index,
                        rule: None,
                        error,
                    });
                }
            }
        }
        result
    }

    /// Pushes the records of an NDJSON buffer, one per line; errors are
    /// reported by line index. The same as [`Scanner::scan`] followed by
    /// [`Detector::apply`].
    pub fn push_ndjson(&mut self, buf: &[u8]) -> BatchResult {
        let scanned = self.scanner.scan(buf);
        let mut result = self
            .apply(&scanned.payload)
            .expect("a detector applies its own scanner's payload");
        if !scanned.errors.is_empty() {
            let mut errors = scanned.errors;
            errors.append(&mut result.errors);
            // Stable: a record's own error stays before its rules' errors.
            errors.sort_by_key(|e| e.index);
            result.errors = errors;
        }
        result
    }

    /// Applies a [`Scanner`]'s payload, as `push_ndjson` on its buffer
    /// would. Checks the whole payload before applying any of it.
    pub fn apply(&mut self, payload: &[u8]) -> Result<BatchResult, ApplyError> {
        let entries = self.decode(payload)?;
        let mut result = BatchResult::new(&self.config.rules);
        for entry in entries {
            match entry {
                Entry::Run(n, max_t, records) => {
                    let n32 = u32::try_from(n).unwrap_or(u32::MAX);
                    self.pushed = self.pushed.saturating_add(n);
                    result.records = result.records.saturating_add(n32);
                    for c in &mut result.rules {
                        c.filtered = c.filtered.saturating_add(n32);
                    }
                    if self.engines.iter().all(|e| each!(e, e => e.within(max_t))) {
                        // No record of the run is far ahead: one step, as
                        // the records one by one would move it.
                        for e in &mut self.engines {
                            each!(e, e => e.filtered(n, max_t));
                        }
                    } else {
                        let engines = &mut self.engines;
                        let ahead = &mut result.ahead;
                        // Checked in `decode`: it cannot fail here.
                        let _ = records.walk(|index, t| {
                            let mut far = false;
                            for e in engines.iter_mut() {
                                far |= each!(e, e => e.filtered(1, t));
                            }
                            if far {
                                ahead.push(index);
                            }
                        });
                    }
                }
                Entry::Reject(reason) => {
                    windows::bump(&mut self.pushed);
                    result.records = result.records.saturating_add(1);
                    result.rejected += 1;
                    self.reject(reason);
                }
                Entry::Event(index, t, sels) => {
                    windows::bump(&mut self.pushed);
                    result.records = result.records.saturating_add(1);
                    let mut ahead = false;
                    for (i, (e, sel)) in self.engines.iter_mut().zip(sels).enumerate() {
                        let (o, far) = e.apply(t, sel);
                        ahead |= far;
                        result.count(i, &o);
                        if let Err(error) = o {
                            result.errors.push(BatchError {
                                index,
                                rule: Some(e.rule()),
                                error,
                            });
                        }
                    }
                    if ahead {
                        result.ahead.push(index);
                    }
                }
            }
        }
        Ok(result)
    }

    fn decode<'p>(&self, payload: &'p [u8]) -> Result<Vec<Entry<'p>>, ApplyError> {
        let bad = |e: WireError| ApplyError::Malformed(e.0);
        let mut r = Reader::new(payload);
        if r.bytes(4, "the header").map_err(bad)? != wire::MAGIC {
            return Err(ApplyError::Malformed(
                "not a scanner payload of this build".to_owned(),
            ));
        }
        if r.u64().map_err(bad)? != self.config.fingerprint {
            return Err(ApplyError::ConfigMismatch);
        }
        let mut entries = Vec::new();
        while !r.is_empty() {
            let entry = match r.u8().map_err(bad)? {
                wire::RUN => {
                    let index = r.u32().map_err(bad)?;
                    let n = r.varint().map_err(bad)?;
                    let t = r.i64().map_err(bad)?;
                    let first_t = r.i64().map_err(bad)?;
                    if n == 0 || n > payload.len() as u64 {
                        return Err(ApplyError::Malformed(format!("a run of {n} records")));
                    }
                    // Checked now, so that nothing is applied from a damaged
                    // payload; read again only if the time policy needs it.
                    let mut records = RunRecords {
                        first: (index, first_t),
                        n,
                        deltas: r.rest(),
                    };
                    let (max, used) = records.walk(|_, _| {})?;
                    records.deltas = r.bytes(used, "a run").map_err(bad)?;
                    if max != t {
                        return Err(ApplyError::Malformed(
                            "a run's latest time does not match".into(),
                        ));
                    }
                    Entry::Run(n, t, records)
                }
                wire::REJECT => {
                    r.u32().map_err(bad)?;
                    let reason = RejectReason::ALL
                        .get(usize::from(r.u8().map_err(bad)?))
                        .copied()
                        .ok_or_else(|| ApplyError::Malformed("unknown reject reason".into()))?;
                    Entry::Reject(reason)
                }
                wire::EVENT => {
                    let index = r.u32().map_err(bad)?;
                    let t = r.i64().map_err(bad)?;
                    time::check_range(t)
                        .map_err(|e| ApplyError::Malformed(format!("an event's time: {e}")))?;
                    let mut sels = Vec::with_capacity(self.engines.len());
                    for e in &self.engines {
                        sels.push(match r.u8().map_err(bad)? {
                            0 => None,
                            1 => Some(e.decode(&mut r).map_err(bad)?),
                            t => {
                                return Err(ApplyError::Malformed(format!(
                                    "unknown selection tag {t}"
                                )));
                            }
                        });
                    }
                    Entry::Event(index, t, sels)
                }
                t => return Err(ApplyError::Malformed(format!("unknown entry tag {t}"))),
            };
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Advances the watermark to `to`, or with `None` ends the stream and
    /// closes every window. Returns the number of alerts produced.
    pub fn flush(&mut self, to: Option<i64>) -> u32 {
        self.engines
            .iter_mut()
            .map(|e| each!(e, e => e.flush(to)))
            .sum()
    }

    /// Takes the alerts produced so far, in the order the stream produced
    /// them whatever the batching: by the record that produced them (for
    /// an early alert, the record that brought its group to the threshold;
    /// for a final one, the record or `flush` that made its window final),
    /// then window end, then rule (configuration order), then group; a
    /// group's early alert comes before its final one. Since that order
    /// follows the stream, the alerts of several drains, one after the
    /// other, are those of one drain at the end. (Without early alerts,
    /// windows become final in the order of their ends, so this is the
    /// order of window ends of version 0.2, but for windows a
    /// `state-limit` rejection delayed by a record; see the contract.)
    pub fn drain(&mut self) -> Vec<Alert> {
        let mut all: Vec<(u64, i64, usize, Alert)> = Vec::new();
        for (i, e) in self.engines.iter_mut().enumerate() {
            all.extend(
                each!(e, e => e.drain())
                    .into_iter()
                    .map(|p| (p.step, p.alert.window_end, i, p.alert)),
            );
        }
        // Stable: each rule's alerts are already in the order it produced
        // them (a window's groups in key order, an early one first).
        all.sort_by_key(|(step, end, i, _)| (*step, *end, *i));
        all.into_iter().map(|(_, _, _, a)| a).collect()
    }

    /// Checks that the counters keep the promise they make: in every
    /// rule, `pushed = accepted + filtered + rejected + late`, with the
    /// detector's own count, the records no rule could read among each
    /// rule's rejections (a rule rejects more only for `state-limit`), and
    /// room left to count on. `restore` refuses a snapshot that fails it;
    /// tests and fuzz targets hold a live detector to it.
    pub fn check_accounting(&self) -> Result<(), String> {
        for e in &self.engines {
            let c = each!(e, e => &e.counters);
            let sum = c
                .rejected
                .iter()
                .chain([&c.accepted, &c.filtered, &c.late])
                .try_fold(0u64, |a, n| a.checked_add(*n));
            let by_reason = (0..RejectReason::ALL.len()).all(|i| {
                c.rejected[i] >= self.rejected[i]
                    && (RejectReason::ALL[i] == RejectReason::StateLimit
                        || c.rejected[i] == self.rejected[i])
            });
            // Counts that cannot exceed what they count: each record is far ahead at most once, and each alert
            // needs accepted records of its own.
            let possible = c.ahead <= c.pushed && c.alerts <= c.accepted;
            if sum != Some(c.pushed) || c.pushed != self.pushed || !by_reason || !possible {
                return Err(format!(
                    "the {} rule's counters do not add up: {c:?} (detector: pushed {}, rejected {:?})",
                    e.rule().name(),
                    self.pushed,
                    self.rejected
                ));
            }
        }
        Ok(())
    }

    /// Counters and state sizes.
    pub fn stats(&self) -> Stats {
        Stats {
            pushed: self.pushed,
            rejected: self.rejected,
            rules: self.engines.iter().map(RuleEngine::stats).collect(),
            pending_alerts: self
                .engines
                .iter()
                .map(|e| each!(e, e => e.pending()) as u32)
                .sum(),
        }
    }

    /// Serialises settings, state and counters (versioned JSON).
    pub fn snapshot(&self) -> Vec<u8> {
        let mut out = SnapshotOut {
            format: SNAPSHOT_FORMAT,
            version: SNAPSHOT_VERSION,
            settings: &self.config.settings,
            pushed: self.pushed,
            rejected: self.rejected,
            sentinel: None,
            elastic: None,
        };
        for e in &self.engines {
            match e {
                RuleEngine::Sentinel(e) => out.sentinel = Some(e.state()),
                RuleEngine::Elastic(e) => out.elastic = Some(e.state()),
            }
        }
        let body = serde_json::to_vec(&out)
            .expect("detector state holds only strings, integers and lists");
        seal_snapshot(&body)
    }

    /// Rebuilds a detector from [`Detector::snapshot`] bytes.
    pub fn restore(bytes: &[u8]) -> Result<Detector, SnapshotError> {
        let bytes = unseal_snapshot(bytes)?;
        let malformed = |e: serde_json::Error| SnapshotError::Malformed(e.to_string());
        let header: SnapshotHeader = serde_json::from_slice(bytes).map_err(malformed)?;
        if header.format != SNAPSHOT_FORMAT {
            return Err(SnapshotError::Malformed(format!(
                "format is {:?}, expected {SNAPSHOT_FORMAT:?}",
                header.format
            )));
        }
        if !(SNAPSHOT_OLDEST_VERSION..=SNAPSHOT_VERSION).contains(&header.version) {
            return Err(SnapshotError::UnsupportedVersion(header.version));
        }
        let snap: SnapshotIn = serde_json::from_slice(bytes).map_err(malformed)?;
        let config = Config::new(snap.settings).map_err(SnapshotError::InvalidConfig)?;
        let (mut sentinel, mut elastic) = (snap.sentinel, snap.elastic);
        let mut engines = Vec::new();
        for c in &config.rules {
            let missing =
                || SnapshotError::Malformed(format!("no state for the {} rule", c.rule.name()));
            engines.push(match c.rule {
                Rule::Sentinel => RuleEngine::Sentinel(
                    Windows::from_state(
                        Sentinel::new(c),
                        c.clone(),
                        sentinel.take().ok_or_else(missing)?,
                    )
                    .map_err(SnapshotError::Malformed)?,
                ),
                Rule::Elastic => RuleEngine::Elastic(
                    Windows::from_state(
                        Elastic::new(c),
                        c.clone(),
                        elastic.take().ok_or_else(missing)?,
                    )
                    .map_err(SnapshotError::Malformed)?,
                ),
            });
        }
        if sentinel.is_some() || elastic.is_some() {
            return Err(SnapshotError::Malformed(
                "state for a rule the configuration does not run".to_owned(),
            ));
        }
        if snap.pushed > i64::MAX as u64 {
            return Err(SnapshotError::Malformed("counters out of range".to_owned()));
        }
        let scanner = Scanner::from_config(&config);
        let detector = Detector {
            config,
            engines,
            scanner,
            pushed: snap.pushed,
            rejected: snap.rejected,
        };
        detector
            .check_accounting()
            .map_err(SnapshotError::Malformed)?;
        if detector.pushed > MAX_RESTORED_COUNT {
            // Counters that leave no room to count on: counting on would
            // saturate (never wrap), and the accounting would stop adding up.
            return Err(SnapshotError::Malformed(format!(
                "it counts {} records pushed, more than any stream ({MAX_RESTORED_COUNT})",
                detector.pushed
            )));
        }
        Ok(detector)
    }
}
