//! `recon nats worker`: claims partitions, restores each from its last
//! snapshot, replays the records after it, applies in stream order,
//! publishes alerts, snapshots, and gives its partitions up on SIGTERM.
//!
//! Exactly once: a partition's state (owner, epoch, lease, position and
//! snapshot) is one key written only by compare-and-set on its revision.
//! A worker publishes the alerts of what it applied (each deduplicated by
//! the stream on `<alert id>:<kind>`) before it writes a snapshot and its
//! position; a worker that dies after that write loses nothing, one that
//! dies before it is replayed by the next owner from the previous
//! snapshot, which makes the same alerts with the same ids, dropped as
//! duplicates. A paused worker whose lease ran out finds the key's
//! revision moved on its next write and gives the partition up without
//! writing (the fence).

use std::collections::HashMap;
use std::future::IntoFuture;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use async_nats::HeaderMap;
use async_nats::jetstream::consumer::{self, pull};
use async_nats::jetstream::kv;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::guard::GuardedDetector;
use crate::live::{LiveClock, LiveOptions};
use crate::output::{self, Format};
use crate::runtime::{Alert, Runtime};
use crate::settings::RunConfig;
use crate::tenants::Router;

mod apply;
mod lease;

pub use lease::PartState;

use super::layout::{
    Configs, Layout, POISON_STREAM, PartitionId, RECORDS_STREAM, alerts_subject, state_bucket,
};
use super::publish::{END_HEADER, hex};
use super::snapshot::{self, SnapshotRef};
use super::{Nats, NatsError, now_ms};

/// Default [`WorkerOptions::lease`]: 6 s.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(6);
/// Default [`WorkerOptions::snapshot_records`].
pub const DEFAULT_SNAPSHOT_RECORDS: u64 = 500_000;
/// Default [`WorkerOptions::snapshot_interval`]: one minute.
pub const DEFAULT_SNAPSHOT_INTERVAL: Duration = Duration::from_secs(60);
/// Longest wait for one fetch of records.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// Messages fetched from one partition at a time.
const FETCH_MESSAGES: usize = 16;
/// How long an idle worker waits before looking for records again.
const IDLE_POLL: Duration = Duration::from_millis(20);
/// Pause before trying again after a failed NATS operation.
const RETRY_PAUSE: Duration = Duration::from_millis(500);
/// How long a partition whose snapshot cannot be restored is left alone
/// before this worker tries it again.
const BROKEN_BACKOFF: Duration = Duration::from_secs(60);
/// How often a busy worker reads the records stream's fill.
const PRESSURE_CHECK: Duration = Duration::from_millis(250);
/// Past this share of the records stream's bound (`--records-max-mib`),
/// every partition with records applied since its snapshot snapshots now,
/// so that the records it covers are purged and publishers get room.
const PRESSURE_SHARE: f64 = 0.5;
/// Under pressure, a partition snapshots early only once it has applied
/// this fraction (1/n) of the records stream's bound since its last
/// snapshot.
const PRESSURE_WORTH: u64 = 16;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// This worker's name (unique among live workers).
    pub id: String,
    /// A partition whose owner has not renewed its lease for this long is
    /// taken over by another worker. Leases are renewed every third of it.
    /// Owners' clocks must agree to well within it.
    pub lease: Duration,
    /// Snapshot a partition after this many records applied since its
    /// last snapshot (and at its end of input, and when giving it up).
    pub snapshot_records: u64,
    /// ... or after this long.
    pub snapshot_interval: Duration,
    /// Live mode: on a quiet partition whose watermark is near the wall
    /// clock, windows close on this machine's clock (as in `recon detect
    /// --live`). `None`: event time only (a backtest never jumps).
    pub live: Option<LiveOptions>,
}

/// What a worker counted.
#[derive(Debug, Default, Clone)]
pub struct WorkerSummary {
    /// Claims of a partition (takeovers included).
    pub claims: u64,
    /// Claims of a partition another worker held.
    pub takeovers: u64,
    /// Partitions given up because another worker took them over.
    pub lost: u64,
    /// Alerts published.
    pub alerts: u64,
    /// Alerts the stream already held (a replay made them again).
    pub duplicate_alerts: u64,
    /// Snapshots written.
    pub snapshots: u64,
    /// Records quarantined.
    pub quarantined: u64,
}

struct Owned<'r> {
    id: PartitionId,
    revision: u64,
    state: PartState,
    /// The partition's detectors: one, or with `tenants.key` one per
    /// tenant, each in its own instance (as `recon detect` keeps them).
    tenants: Router<'r>,
    applied: u64,
    ended: bool,
    since_snapshot: u64,
    /// Bytes of record messages applied since its last snapshot (what a
    /// commit now would let go of).
    since_snapshot_bytes: u64,
    last_snapshot: Instant,
    consumer: Option<consumer::Consumer<pull::Config>>,
    /// Live mode's clock of each tenant's stream in this partition.
    clocks: Vec<LiveClock>,
    quarantined: u64,
    /// Stream sequences of the messages applied and not yet deleted (the
    /// ones before the next snapshot's position go after it).
    unpurged: Vec<u64>,
    /// Alerts drained and not yet stored by the stream (kept until they
    /// are, so that a failed publish loses none), with their tenant when
    /// records are routed by tenant.
    unsent: Vec<(Option<String>, Alert)>,
}

/// A running worker.
pub struct Worker<'r, 'n, E: Write> {
    nats: &'n Nats,
    runtime: &'r Runtime,
    ids: Vec<PartitionId>,
    /// The layout's configuration, resolved once.
    run: RunConfig,
    /// Its configurations (common, and tenants' own).
    configs: Configs,
    kv: kv::Store,
    options: WorkerOptions,
    owned: Vec<Owned<'r>>,
    broken: HashMap<PartitionId, Instant>,
    /// When the records stream's fill was last read, and whether it was
    /// past [`PRESSURE_SHARE`] of its bound then.
    pressure: (Option<Instant>, bool),
    /// Revision of this worker's last heartbeat (`None`: not written).
    beat_revision: Option<u64>,
    err: E,
    /// Counters.
    pub summary: WorkerSummary,
}

impl<'r, 'n, E: Write> Worker<'r, 'n, E> {
    /// A worker for `layout` (as stored by `recon nats setup`), whose
    /// configuration is `run`.
    pub fn new(
        nats: &'n Nats,
        runtime: &'r Runtime,
        layout: Layout,
        run: RunConfig,
        options: WorkerOptions,
        err: E,
    ) -> Result<Self, NatsError> {
        let configs = Configs::of(&run)?;
        let ids = layout.partition_ids(&configs);
        let kv = state_bucket(nats)?;
        Ok(Worker {
            nats,
            runtime,
            ids,
            run,
            configs,
            kv,
            options,
            owned: Vec::new(),
            broken: HashMap::new(),
            pressure: (None, false),
            beat_revision: None,
            err,
            summary: WorkerSummary::default(),
        })
    }

    fn log(&mut self, line: std::fmt::Arguments<'_>) {
        let _ = writeln!(self.err, "recon: worker {}: {line}", self.options.id);
    }

    /// Runs until `stop` is set, then gives every partition up.
    pub fn run(&mut self, stop: &AtomicBool) -> Result<(), NatsError> {
        let beat = self.options.lease / 3;
        self.take_id(stop)?;
        let mut last_beat: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            match self.turn(stop, beat, &mut last_beat) {
                Ok(()) => {}
                // The server is away (restarting, a network cut): what was
                // not written is written on a later turn; a lease that
                // runs out meanwhile is caught by the fence.
                Err(e @ (NatsError::Op { .. } | NatsError::Connect { .. })) => {
                    self.log(format_args!("{e}; retrying"));
                    std::thread::sleep(RETRY_PAUSE);
                }
                Err(e) => return Err(e),
            }
        }
        self.log(format_args!("stopping: giving partitions up"));
        let deadline = Instant::now() + self.options.lease;
        while !self.owned.is_empty() {
            match self.release(0) {
                Ok(()) => {}
                Err(e) if Instant::now() < deadline => {
                    self.log(format_args!("{e}; retrying"));
                    std::thread::sleep(RETRY_PAUSE);
                }
                Err(e) => return Err(e),
            }
        }
        let _ = self
            .nats
            .block_on(self.kv.delete(format!("worker.{}", self.options.id)));
        Ok(())
    }

    /// One turn of the loop: leases and balance when due, then the next
    /// records of every partition held.
    fn turn(
        &mut self,
        stop: &AtomicBool,
        beat: Duration,
        last_beat: &mut Option<Instant>,
    ) -> Result<(), NatsError> {
        if last_beat.is_none_or(|t| t.elapsed() >= beat) {
            *last_beat = Some(Instant::now());
            self.heartbeat()?;
            self.renew()?;
            self.balance()?;
        }
        let mut busy = false;
        for i in 0..self.owned.len() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            busy |= self.step(i)?;
        }
        self.owned.retain(|o| o.revision != 0);
        self.relieve()?;
        if !busy {
            for i in 0..self.owned.len() {
                self.live_tick(i)?;
            }
            std::thread::sleep(IDLE_POLL);
        }
        Ok(())
    }
}

/// The alert's kind as its line spells it (`final` or `early`): an early
/// alert and the final row of the same window are two messages, never
/// folded into one by deduplication.
fn alert_kind(a: &Alert) -> &'static str {
    crate::output::alert_kind(a)
}

/// Runs a worker until SIGTERM or SIGINT.
pub fn run_worker(
    nats: &Nats,
    runtime: &Runtime,
    layout: Layout,
    run: RunConfig,
    options: WorkerOptions,
    err: impl Write,
) -> Result<WorkerSummary, NatsError> {
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed))
            .map_err(|e| NatsError::Io(std::io::Error::other(e.to_string())))?;
    }
    let mut w = Worker::new(nats, runtime, layout, run, options, err)?;
    w.log(format_args!(
        "started: {} partitions in the deployment",
        w.ids.len()
    ));
    w.run(&stop)?;
    Ok(w.summary.clone())
}
