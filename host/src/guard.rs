//! Trap recovery: a detector (and a scanner) that outlives a call that
//! traps.
//!
//! A call into the component can trap: a fuel or deadline budget runs out,
//! the memory cap is reached, or a guest bug aborts. The instance is then
//! unusable, and with it every window it held. [`GuardedDetector`] keeps
//! what it needs to rebuild one: the last good snapshot (its *checkpoint*)
//! and a journal of every call that changed the detector since. When a
//! call traps it
//!
//! 1. instantiates the component afresh, restores the checkpoint and
//!    replays the journal (alerts the replay produces again were already
//!    handed out and are dropped by id; the rest are kept for the next
//!    [`GuardedDetector::drain`]);
//! 2. splits the input of the failed call in halves and tries each on its
//!    own, rebuilding after every trap, down to single records: the
//!    records that still trap alone are *quarantined* (returned with their
//!    bytes, never seen by the detector), everything else is applied as if
//!    nothing had happened.
//!
//! So one poisoned record costs a few rebuilds and is reported, instead of
//! the stream. A checkpoint is taken once the journal passes
//! [`GuardSettings::checkpoint_bytes`], right after a drain (so it holds no
//! pending alert): that bounds both the host memory the journal takes and
//! the replay a trap costs.
//!
//! [`GuardedScanner`] does the same for the stateless `scanner`: it has
//! nothing to restore, so it only re-instantiates and bisects.

use std::collections::HashSet;
use std::ops::Range;

use crate::runtime::{
    Alert, BatchResult, Config, DetectorHandle, HostError, Instance, Placement, Runtime, Scanned,
    ScannerHandle, Stats,
};

/// Default [`GuardSettings::checkpoint_bytes`]: 16 MiB.
pub const DEFAULT_CHECKPOINT_BYTES: usize = 16 << 20;

/// How a guarded detector keeps what it needs to recover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardSettings {
    /// Input (NDJSON or scanned payloads) kept for replay before a new
    /// checkpoint is taken. Larger: fewer snapshots, longer replays after
    /// a trap, more host memory.
    pub checkpoint_bytes: usize,
}

impl Default for GuardSettings {
    fn default() -> Self {
        GuardSettings {
            checkpoint_bytes: DEFAULT_CHECKPOINT_BYTES,
        }
    }
}

/// A record that made the component trap on its own, so it was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quarantined {
    /// Its line in the buffer handed to the call.
    pub index: u32,
    /// The line, without its line end.
    pub bytes: Vec<u8>,
    /// The trap.
    pub reason: String,
}

/// What a guarded call did.
#[derive(Debug, Clone)]
pub struct Guarded<T> {
    /// The call's result, merged over the pieces a trap split it into
    /// (indices are lines of the whole buffer).
    pub result: T,
    /// Records left out because they trapped alone (empty unless a trap
    /// happened).
    pub quarantined: Vec<Quarantined>,
    /// Whether a trap happened (and the instance was rebuilt).
    pub recovered: bool,
}

/// True if the error leaves the instance unusable (a trap, or any failure
/// inside a call), so that a rebuild may help.
pub fn is_trap(e: &HostError) -> bool {
    matches!(e, HostError::Guest { .. })
}

/// The start of every line of `data`, and its end: `starts[i]..starts[i+1]`
/// is line `i` with its line end. (`recon nats publish` cuts its chunks
/// by it too.)
pub(crate) fn line_starts(data: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    starts.extend(memchr::memchr_iter(b'\n', data).map(|i| i + 1));
    if *starts.last().unwrap_or(&0) != data.len() {
        starts.push(data.len());
    }
    starts
}

/// One piece of a bisected buffer that went through.
struct Piece<T> {
    first_line: u32,
    bytes: Range<usize>,
    value: T,
}

/// The pieces that went through, and the lines that trapped alone.
type Bisected<T> = (Vec<Piece<T>>, Vec<Quarantined>);

/// A call that can be retried on parts of its buffer.
trait Attempt {
    type Out;
    /// The call on `data` (whole lines).
    fn attempt(&mut self, data: &[u8]) -> Result<Self::Out, HostError>;
    /// Brings the instance back to where it was before the failed attempt.
    fn recover(&mut self) -> Result<(), HostError>;
}

/// Tries `data` in halves, recursively, recovering after each trap; lines
/// that trap alone are quarantined. Pieces come back in buffer order.
fn bisect<A: Attempt>(a: &mut A, data: &[u8]) -> Result<Bisected<A::Out>, HostError> {
    let starts = line_starts(data);
    let lines = starts.len() - 1;
    let mut pieces = Vec::new();
    let mut quarantined = Vec::new();
    // Half-open line ranges still to try; the left half is tried first.
    let mut todo = vec![(0usize, lines)];
    while let Some((lo, hi)) = todo.pop() {
        if lo == hi {
            continue;
        }
        let bytes = starts[lo]..starts[hi];
        match a.attempt(&data[bytes.clone()]) {
            Ok(value) => pieces.push(Piece {
                first_line: lo as u32,
                bytes,
                value,
            }),
            Err(e) if is_trap(&e) => {
                a.recover()?;
                if hi - lo == 1 {
                    let line = &data[bytes];
                    let line = line.strip_suffix(b"\n").unwrap_or(line);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    quarantined.push(Quarantined {
                        index: lo as u32,
                        bytes: line.to_vec(),
                        reason: trap_reason(&e),
                    });
                } else {
                    let mid = lo + (hi - lo) / 2;
                    todo.push((mid, hi));
                    todo.push((lo, mid));
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok((pieces, quarantined))
}

/// The first line of a trap's description.
fn trap_reason(e: &HostError) -> String {
    match e {
        HostError::Guest {
            call,
            trap: Some(t),
            ..
        } => format!("`{call}` trapped: {t}"),
        other => other.to_string().lines().next().unwrap_or("").to_owned(),
    }
}

/// Adds `r`, the result for lines from `offset` on, to `acc`.
fn merge(acc: &mut BatchResult, mut r: BatchResult, offset: u32) {
    acc.records += r.records;
    acc.rejected += r.rejected;
    for c in r.rules {
        match acc.rules.iter_mut().find(|a| a.rule == c.rule) {
            Some(a) => {
                a.accepted += c.accepted;
                a.filtered += c.filtered;
                a.late += c.late;
                a.rejected += c.rejected;
            }
            None => acc.rules.push(c),
        }
    }
    for e in &mut r.errors {
        e.index += offset;
    }
    acc.errors.append(&mut r.errors);
    acc.ahead.extend(r.ahead.iter().map(|i| i + offset));
}

fn empty_result() -> BatchResult {
    BatchResult {
        records: 0,
        rejected: 0,
        rules: Vec::new(),
        errors: Vec::new(),
        ahead: Vec::new(),
    }
}

/// Where a rebuilt detector starts from.
enum Checkpoint {
    /// Created from this configuration (nothing snapshotted yet).
    Create(Config),
    /// Restored from these snapshot bytes.
    Snapshot(Vec<u8>),
}

/// A call that changed the detector since the checkpoint.
enum Entry {
    Ndjson(Vec<u8>),
    Payload(Vec<u8>),
    Flush(Option<i64>),
}

/// A `detector` that survives traps (see the module documentation).
pub struct GuardedDetector<'r> {
    runtime: &'r Runtime,
    settings: GuardSettings,
    instance: Instance,
    detector: DetectorHandle,
    checkpoint: Checkpoint,
    journal: Vec<Entry>,
    journal_bytes: usize,
    /// Buffers of a cleared journal, reused so that keeping a copy of each
    /// chunk costs a copy, not fresh pages.
    spare: Vec<Vec<u8>>,
    /// The alerts handed out since the checkpoint, by id and kind (an
    /// early alert and its final one share the id): a replay makes them
    /// again.
    emitted: HashSet<(String, bool)>,
    /// Alerts a replay made that were not handed out yet.
    pending: Vec<Alert>,
    recoveries: u64,
}

/// What tells two handed-out alerts apart: the id, and whether it is the
/// early report or the final row.
fn emitted_key(a: &Alert) -> (String, bool) {
    (a.id.clone(), a.kind == crate::runtime::AlertKind::Early)
}

impl<'r> GuardedDetector<'r> {
    /// A new detector with `config`, in a new instance.
    pub fn create(
        runtime: &'r Runtime,
        config: &Config,
        settings: GuardSettings,
    ) -> Result<Self, HostError> {
        let mut instance = runtime.instantiate()?;
        let detector = instance.create(config)?;
        Ok(Self::new(
            runtime,
            settings,
            instance,
            detector,
            Checkpoint::Create(config.clone()),
        ))
    }

    /// A detector restored from `snapshot`, in a new instance.
    pub fn restore(
        runtime: &'r Runtime,
        snapshot: &[u8],
        settings: GuardSettings,
    ) -> Result<Self, HostError> {
        let mut instance = runtime.instantiate()?;
        let detector = instance.restore(snapshot)?;
        Ok(Self::new(
            runtime,
            settings,
            instance,
            detector,
            Checkpoint::Snapshot(snapshot.to_vec()),
        ))
    }

    /// A detector rebuilt from `snapshot` under `config`, in a new
    /// instance (see the contract's `reload`), and the rules that started
    /// over. Its checkpoint is its own first snapshot, so a replay after a
    /// trap rebuilds it under `config`.
    pub fn reload(
        runtime: &'r Runtime,
        snapshot: &[u8],
        config: &Config,
        settings: GuardSettings,
    ) -> Result<(Self, Vec<crate::runtime::Rule>), HostError> {
        let mut instance = runtime.instantiate()?;
        let (detector, restarted) = instance.reload(snapshot, config)?;
        let checkpoint = instance.snapshot(detector)?;
        Ok((
            Self::new(
                runtime,
                settings,
                instance,
                detector,
                Checkpoint::Snapshot(checkpoint),
            ),
            restarted,
        ))
    }

    fn new(
        runtime: &'r Runtime,
        settings: GuardSettings,
        instance: Instance,
        detector: DetectorHandle,
        checkpoint: Checkpoint,
    ) -> Self {
        GuardedDetector {
            runtime,
            settings,
            instance,
            detector,
            checkpoint,
            journal: Vec::new(),
            journal_bytes: 0,
            spare: Vec::new(),
            emitted: HashSet::new(),
            pending: Vec::new(),
            recoveries: 0,
        }
    }

    /// How many times the instance was rebuilt after a trap.
    pub fn recoveries(&self) -> u64 {
        self.recoveries
    }

    fn keep(&mut self, data: &[u8], payload: bool) {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf.extend_from_slice(data);
        self.journal_bytes += buf.len();
        self.journal.push(if payload {
            Entry::Payload(buf)
        } else {
            Entry::Ndjson(buf)
        });
    }

    /// A new instance at the checkpoint, with the journal replayed.
    fn rebuild(&mut self) -> Result<(), HostError> {
        self.recoveries += 1;
        let mut instance = self.runtime.instantiate()?;
        let detector = match &self.checkpoint {
            Checkpoint::Create(config) => instance.create(config)?,
            Checkpoint::Snapshot(bytes) => instance.restore(bytes)?,
        };
        for entry in &self.journal {
            match entry {
                Entry::Ndjson(data) => {
                    instance.push_ndjson(detector, data)?;
                }
                Entry::Payload(p) => {
                    instance.apply(detector, p)?;
                }
                Entry::Flush(to) => {
                    instance.flush(detector, *to)?;
                }
            }
        }
        let replayed = instance.drain(detector)?;
        self.pending = replayed
            .into_iter()
            .filter(|a| !self.emitted.contains(&emitted_key(a)))
            .collect();
        self.instance = instance;
        self.detector = detector;
        Ok(())
    }

    /// `push-ndjson`, recovering from traps.
    pub fn push_ndjson(&mut self, data: &[u8]) -> Result<Guarded<BatchResult>, HostError> {
        match self.instance.push_ndjson(self.detector, data) {
            Ok(result) => {
                self.keep(data, false);
                Ok(Guarded {
                    result,
                    quarantined: Vec::new(),
                    recovered: false,
                })
            }
            Err(e) if is_trap(&e) => {
                self.rebuild()?;
                self.push_bisected(data)
            }
            Err(e) => Err(e),
        }
    }

    fn push_bisected(&mut self, data: &[u8]) -> Result<Guarded<BatchResult>, HostError> {
        struct Push<'a, 'r>(&'a mut GuardedDetector<'r>);
        impl Attempt for Push<'_, '_> {
            type Out = BatchResult;
            fn attempt(&mut self, data: &[u8]) -> Result<BatchResult, HostError> {
                let r = self.0.instance.push_ndjson(self.0.detector, data)?;
                self.0.keep(data, false);
                Ok(r)
            }
            fn recover(&mut self) -> Result<(), HostError> {
                self.0.rebuild()
            }
        }
        let (pieces, quarantined) = bisect(&mut Push(self), data)?;
        let mut result = empty_result();
        for p in pieces {
            merge(&mut result, p.value, p.first_line);
        }
        Ok(Guarded {
            result,
            quarantined,
            recovered: true,
        })
    }

    /// `apply` of a payload that a scanner made from `raw` (the NDJSON it
    /// scanned). If the call traps, `raw` goes through `push-ndjson`
    /// instead, bisected: the result then covers the scan's rejections
    /// too (`recovered` is set), so the scan's own errors must not be
    /// reported again.
    pub fn apply(&mut self, payload: &[u8], raw: &[u8]) -> Result<Guarded<BatchResult>, HostError> {
        match self.instance.apply(self.detector, payload) {
            Ok(result) => {
                self.keep(payload, true);
                Ok(Guarded {
                    result,
                    quarantined: Vec::new(),
                    recovered: false,
                })
            }
            Err(e) if is_trap(&e) => {
                self.rebuild()?;
                self.push_bisected(raw)
            }
            Err(e) => Err(e),
        }
    }

    /// `flush`, retried once on a fresh instance if it traps.
    pub fn flush(&mut self, to: Option<i64>) -> Result<u32, HostError> {
        let closed = match self.instance.flush(self.detector, to) {
            Err(e) if is_trap(&e) => {
                self.rebuild()?;
                self.instance.flush(self.detector, to)?
            }
            other => other?,
        };
        self.journal.push(Entry::Flush(to));
        Ok(closed)
    }

    /// The alerts that became final, in order; then, if the journal is
    /// long enough, a new checkpoint.
    pub fn drain(&mut self) -> Result<Vec<Alert>, HostError> {
        let fresh = match self.instance.drain(self.detector) {
            Err(e) if is_trap(&e) => {
                self.rebuild()?;
                self.instance.drain(self.detector)?
            }
            other => other?,
        };
        let mut alerts = std::mem::take(&mut self.pending);
        alerts.extend(fresh);
        self.emitted.extend(alerts.iter().map(emitted_key));
        if self.journal_bytes >= self.settings.checkpoint_bytes {
            self.checkpoint()?;
        }
        Ok(alerts)
    }

    /// Takes a checkpoint now (nothing pending, so nothing is lost).
    fn checkpoint(&mut self) -> Result<(), HostError> {
        let bytes = match self.instance.snapshot(self.detector) {
            Ok(b) => b,
            // Keep the old checkpoint and journal; try again later.
            Err(e) if is_trap(&e) => return self.rebuild(),
            Err(e) => return Err(e),
        };
        self.checkpoint = Checkpoint::Snapshot(bytes);
        for entry in self.journal.drain(..) {
            if let Entry::Ndjson(b) | Entry::Payload(b) = entry {
                self.spare.push(b);
            }
        }
        // Keep a few buffers, not the whole journal's worth.
        self.spare.truncate(4);
        self.journal_bytes = 0;
        self.emitted.clear();
        Ok(())
    }

    /// `stats`, retried once on a fresh instance.
    pub fn stats(&mut self) -> Result<Stats, HostError> {
        match self.instance.stats(self.detector) {
            Err(e) if is_trap(&e) => {
                self.rebuild()?;
                self.instance.stats(self.detector)
            }
            other => other,
        }
    }

    /// `snapshot`, retried once on a fresh instance. Drain first: a
    /// snapshot also holds the alerts not drained yet.
    pub fn snapshot(&mut self) -> Result<Vec<u8>, HostError> {
        match self.instance.snapshot(self.detector) {
            Err(e) if is_trap(&e) => {
                self.rebuild()?;
                self.instance.snapshot(self.detector)
            }
            other => other,
        }
    }
}

/// One piece of a scanned buffer.
#[derive(Debug, Clone)]
pub struct ScannedPiece {
    /// The piece's first line in the buffer.
    pub first_line: u32,
    /// Its bytes in the buffer.
    pub bytes: Range<usize>,
    /// The scan (indices relative to the piece).
    pub scanned: Scanned,
}

/// A `scanner` that survives traps: it re-instantiates and bisects (it has
/// no state to restore).
pub struct GuardedScanner<'r> {
    runtime: &'r Runtime,
    config: Config,
    instance: Instance,
    scanner: ScannerHandle,
    recoveries: u64,
}

impl<'r> GuardedScanner<'r> {
    /// A scanner for `config`, in a new instance.
    pub fn new(runtime: &'r Runtime, config: &Config) -> Result<Self, HostError> {
        let mut instance = runtime.instantiate()?;
        let scanner = instance.create_scanner(config)?;
        Ok(GuardedScanner {
            runtime,
            config: config.clone(),
            instance,
            scanner,
            recoveries: 0,
        })
    }

    /// How many times the instance was rebuilt after a trap.
    pub fn recoveries(&self) -> u64 {
        self.recoveries
    }

    /// `scan`: one piece for the whole buffer, or, after a trap, the pieces
    /// that went through and the lines that trapped alone.
    pub fn scan(&mut self, data: &[u8]) -> Result<Guarded<Vec<ScannedPiece>>, HostError> {
        match self.instance.scan(self.scanner, data) {
            Ok(scanned) => Ok(Guarded {
                result: vec![ScannedPiece {
                    first_line: 0,
                    bytes: 0..data.len(),
                    scanned,
                }],
                quarantined: Vec::new(),
                recovered: false,
            }),
            Err(e) if is_trap(&e) => {
                self.recover()?;
                let (pieces, quarantined) = bisect(self, data)?;
                Ok(Guarded {
                    result: pieces
                        .into_iter()
                        .map(|p| ScannedPiece {
                            first_line: p.first_line,
                            bytes: p.bytes,
                            scanned: p.value,
                        })
                        .collect(),
                    quarantined,
                    recovered: true,
                })
            }
            Err(e) => Err(e),
        }
    }

    /// `partition-of`: where each record goes (indices are lines of the
    /// whole buffer), and, after a trap, the lines that trapped alone,
    /// which go nowhere.
    pub fn partition_of(
        &mut self,
        data: &[u8],
        partitions: u32,
    ) -> Result<Guarded<Vec<Placement>>, HostError> {
        let mut place = Place {
            scanner: self,
            partitions,
        };
        match place.attempt(data) {
            Ok(placements) => Ok(Guarded {
                result: placements,
                quarantined: Vec::new(),
                recovered: false,
            }),
            Err(e) if is_trap(&e) => {
                place.recover()?;
                let (pieces, quarantined) = bisect(&mut place, data)?;
                let mut result = Vec::new();
                for p in pieces {
                    result.extend(p.value.into_iter().map(|mut x| {
                        x.index += p.first_line;
                        x
                    }));
                }
                Ok(Guarded {
                    result,
                    quarantined,
                    recovered: true,
                })
            }
            Err(e) => Err(e),
        }
    }
}

/// A scanner's `partition-of`, as one [`Attempt`].
struct Place<'s, 'r> {
    scanner: &'s mut GuardedScanner<'r>,
    partitions: u32,
}

impl Attempt for Place<'_, '_> {
    type Out = Vec<Placement>;
    fn attempt(&mut self, data: &[u8]) -> Result<Vec<Placement>, HostError> {
        let s = &mut *self.scanner;
        s.instance.partition_of(s.scanner, data, self.partitions)
    }
    fn recover(&mut self) -> Result<(), HostError> {
        self.scanner.recover()
    }
}

impl Attempt for GuardedScanner<'_> {
    type Out = Scanned;
    fn attempt(&mut self, data: &[u8]) -> Result<Scanned, HostError> {
        self.instance.scan(self.scanner, data)
    }
    fn recover(&mut self) -> Result<(), HostError> {
        self.recoveries += 1;
        let mut instance = self.runtime.instantiate()?;
        self.scanner = instance.create_scanner(&self.config)?;
        self.instance = instance;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_cut_after_each_line_end() {
        assert_eq!(line_starts(b""), vec![0]);
        assert_eq!(line_starts(b"a\nbb\n"), vec![0, 2, 5]);
        assert_eq!(line_starts(b"a\nbb"), vec![0, 2, 4]);
        assert_eq!(line_starts(b"\n\n"), vec![0, 1, 2]);
    }

    /// Fails on any piece holding a line that starts with `!`.
    struct Picky {
        tries: usize,
        recovered: usize,
    }

    impl Attempt for Picky {
        type Out = usize;
        fn attempt(&mut self, data: &[u8]) -> Result<usize, HostError> {
            self.tries += 1;
            if data.split(|b| *b == b'\n').any(|l| l.starts_with(b"!")) {
                Err(HostError::Guest {
                    call: "test",
                    trap: None,
                    message: "poisoned".into(),
                })
            } else {
                Ok(data.len())
            }
        }
        fn recover(&mut self) -> Result<(), HostError> {
            self.recovered += 1;
            Ok(())
        }
    }

    #[test]
    fn bisection_isolates_exactly_the_poisoned_lines_and_keeps_order() {
        let data = b"a\nb\n!c\nd\ne\nf\n!g\r\nh\n";
        let mut p = Picky {
            tries: 0,
            recovered: 0,
        };
        let (pieces, q) = bisect(&mut p, data).unwrap();
        let bad: Vec<(u32, &[u8])> = q.iter().map(|q| (q.index, &q.bytes[..])).collect();
        assert_eq!(bad, vec![(2, &b"!c"[..]), (6, &b"!g"[..])]);
        // The pieces cover every other line, in order, without overlap.
        let mut covered = Vec::new();
        for piece in &pieces {
            assert_eq!(piece.value, piece.bytes.len());
            covered.extend_from_slice(&data[piece.bytes.clone()]);
        }
        assert_eq!(covered, b"a\nb\nd\ne\nf\nh\n");
        assert_eq!(p.recovered, p.tries - pieces.len());
    }

    #[test]
    fn other_errors_stop_the_bisection() {
        struct Refuses;
        impl Attempt for Refuses {
            type Out = ();
            fn attempt(&mut self, _: &[u8]) -> Result<(), HostError> {
                Err(HostError::Load("no".into()))
            }
            fn recover(&mut self) -> Result<(), HostError> {
                unreachable!("not a trap")
            }
        }
        assert!(matches!(
            bisect(&mut Refuses, b"a\nb\n"),
            Err(HostError::Load(_))
        ));
    }
}
