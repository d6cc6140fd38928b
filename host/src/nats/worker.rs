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

/// A partition's state as stored in the state bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartState {
    /// The worker that owns it (empty: nobody).
    pub owner: String,
    /// Incremented by every claim.
    pub epoch: u64,
    /// The owner's lease runs until then (ms since the epoch).
    pub lease_until: i64,
    /// Stream sequence of the last message applied, as of the owner's last
    /// write (its alerts are published).
    pub applied: u64,
    /// The last snapshot and the position it covers: where a new owner
    /// starts.
    pub snapshot: Option<SnapshotRef>,
    /// The position the snapshot covers (0: none, replay from the start).
    pub snapshot_applied: u64,
    /// Whether the end-of-input marker was applied.
    pub ended: bool,
    /// Records quarantined in this partition so far.
    pub quarantined: u64,
}

impl PartState {
    fn free(&self, now: i64) -> bool {
        self.owner.is_empty() || self.lease_until < now
    }
}

/// A worker's heartbeat, stored under `worker.<id>`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Heartbeat {
    lease_until: i64,
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

    /// Writes this worker's heartbeat by compare-and-set on its last
    /// revision: a write by anyone else under this id (a second worker
    /// started with the same `--id` while this one was paused past its
    /// lease) stops this one, saying why, rather than the two taking
    /// partitions from each other in a loop.
    fn heartbeat(&mut self) -> Result<(), NatsError> {
        let beat = Heartbeat {
            lease_until: now_ms() + self.options.lease.as_millis() as i64,
        };
        let value = serde_json::to_vec(&beat).map_err(|e| NatsError::Damaged(e.to_string()))?;
        let key = format!("worker.{}", self.options.id);
        let written = match self.beat_revision {
            Some(rev) => self
                .nats
                .block_on(self.kv.update(&key, value.into(), rev))
                .map_err(|e| {
                    (
                        e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                        e.to_string(),
                    )
                }),
            None => self
                .nats
                .block_on(self.kv.create(&key, value.into()))
                .map_err(|e| {
                    (
                        e.kind() == kv::CreateErrorKind::AlreadyExists,
                        e.to_string(),
                    )
                }),
        };
        match written {
            Ok(rev) => {
                self.beat_revision = Some(rev);
                Ok(())
            }
            Err((true, _)) => Err(NatsError::Setup(format!(
                "another worker wrote this worker's heartbeat (--id {}): two workers run with \
                 one id; this one stops (give each worker its own --id)",
                self.options.id
            ))),
            Err((false, e)) => Err(self.nats.err("writing the worker's heartbeat", e)),
        }
    }

    /// Takes this worker's id: waits while another live worker's heartbeat
    /// holds it (saying so once), then writes the first heartbeat. A worker
    /// restarted after a crash under the same id waits at most one lease.
    fn take_id(&mut self, stop: &AtomicBool) -> Result<(), NatsError> {
        let key = format!("worker.{}", self.options.id);
        let mut said = false;
        while !stop.load(Ordering::Relaxed) {
            let entry = self
                .nats
                .block_on(self.kv.entry(&key))
                .map_err(|e| self.nats.err("reading the worker's heartbeat", e))?;
            let held = match &entry {
                Some(e) if e.operation == kv::Operation::Put => {
                    serde_json::from_slice::<Heartbeat>(&e.value)
                        .ok()
                        .map(|h| h.lease_until)
                        .filter(|&until| until >= now_ms())
                }
                _ => None,
            };
            if let Some(until) = held {
                if !said {
                    said = true;
                    self.log(format_args!(
                        "another worker's heartbeat holds this --id (until {until} ms since \
                         the epoch): waiting until it stops; if it runs, give this worker \
                         another --id"
                    ));
                }
                std::thread::sleep(self.options.lease / 3);
                continue;
            }
            self.beat_revision = entry.map(|e| e.revision);
            return match self.heartbeat() {
                // Another worker took the id in between: wait for it too.
                Err(NatsError::Setup(_)) => {
                    self.beat_revision = None;
                    continue;
                }
                other => other,
            };
        }
        Ok(())
    }

    /// Live workers (heartbeats not expired), this one included.
    fn live_workers(&self) -> Result<usize, NatsError> {
        let now = now_ms();
        let kv = &self.kv;
        let n = self.nats.block_on(async {
            let mut keys = kv
                .keys()
                .await
                .map_err(|e| self.nats.err("listing workers", e))?;
            let mut live = 0usize;
            while let Some(k) = keys.next().await {
                let k = k.map_err(|e| self.nats.err("listing workers", e))?;
                if !k.starts_with("worker.") {
                    continue;
                }
                if let Ok(Some(v)) = kv.get(&k).await
                    && let Ok(h) = serde_json::from_slice::<Heartbeat>(&v)
                    && h.lease_until >= now
                {
                    live += 1;
                }
            }
            Ok::<_, NatsError>(live)
        })?;
        Ok(n.max(1))
    }

    /// Reads a partition's state and its revision (0: no key yet).
    fn read_state(&self, p: PartitionId) -> Result<(PartState, u64), NatsError> {
        let entry = self
            .nats
            .block_on(self.kv.entry(p.state_key()))
            .map_err(|e| self.nats.err("reading a partition's state", e))?;
        match entry {
            Some(e) if e.operation == kv::Operation::Put => {
                let s = serde_json::from_slice(&e.value).map_err(|err| {
                    NatsError::Damaged(format!("state of partition {} is damaged: {err}", p.name()))
                })?;
                Ok((s, e.revision))
            }
            Some(e) => Ok((PartState::default(), e.revision)),
            None => Ok((PartState::default(), 0)),
        }
    }

    /// Writes a partition's state if its revision is still `revision`:
    /// `None` when another worker wrote it meanwhile.
    fn write_state(
        &self,
        p: PartitionId,
        state: &PartState,
        revision: u64,
    ) -> Result<Option<u64>, NatsError> {
        let value = serde_json::to_vec(state).map_err(|e| NatsError::Damaged(e.to_string()))?;
        let r = if revision == 0 {
            self.nats
                .block_on(self.kv.create(p.state_key(), value.into()))
                .map_err(|e| {
                    (
                        e.kind() == kv::CreateErrorKind::AlreadyExists,
                        e.to_string(),
                    )
                })
        } else {
            self.nats
                .block_on(self.kv.update(p.state_key(), value.into(), revision))
                .map_err(|e| {
                    (
                        e.kind() == kv::UpdateErrorKind::WrongLastRevision,
                        e.to_string(),
                    )
                })
        };
        match r {
            Ok(rev) => Ok(Some(rev)),
            Err((true, _)) => Ok(None),
            Err((false, e)) => Err(self.nats.err("writing a partition's state", e)),
        }
    }

    /// Renews the lease of every partition owned (with the position
    /// applied); drops those another worker took over.
    fn renew(&mut self) -> Result<(), NatsError> {
        let lease = self.options.lease.as_millis() as i64;
        for i in 0..self.owned.len() {
            let o = &self.owned[i];
            let mut state = o.state.clone();
            state.lease_until = now_ms() + lease;
            state.applied = o.applied;
            state.ended = o.ended;
            state.quarantined = o.quarantined;
            match self.write_state(o.id, &state, o.revision)? {
                Some(rev) => {
                    let o = &mut self.owned[i];
                    o.revision = rev;
                    o.state = state;
                }
                None => self.lose(i),
            }
        }
        self.owned.retain(|o| o.revision != 0);
        Ok(())
    }

    fn lose(&mut self, i: usize) {
        let name = self.owned[i].id.name();
        self.owned[i].revision = 0;
        self.summary.lost += 1;
        self.log(format_args!(
            "lost partition {name}: another worker took it over (its state moved on); \
             nothing of this worker's is written to it"
        ));
    }

    /// Claims free partitions up to a fair share, or gives one up when
    /// holding more than that.
    fn balance(&mut self) -> Result<(), NatsError> {
        let live = self.live_workers()?;
        let share = self.ids.len().div_ceil(live);
        if self.owned.len() > share {
            let last = self.owned.len() - 1;
            return self.release(last);
        }
        let now = now_ms();
        for p in self.ids.clone() {
            if self.owned.len() >= share {
                break;
            }
            if self.owned.iter().any(|o| o.id == p) {
                continue;
            }
            if self
                .broken
                .get(&p)
                .is_some_and(|t| t.elapsed() < BROKEN_BACKOFF)
            {
                continue;
            }
            let (state, revision) = self.read_state(p)?;
            if !(state.free(now) || state.owner == self.options.id) {
                continue;
            }
            self.claim(p, state, revision)?;
        }
        Ok(())
    }

    fn claim(&mut self, p: PartitionId, state: PartState, revision: u64) -> Result<(), NatsError> {
        let previous = state.owner.clone();
        let mut mine = state.clone();
        mine.owner = self.options.id.clone();
        mine.epoch += 1;
        mine.lease_until = now_ms() + self.options.lease.as_millis() as i64;
        let Some(rev) = self.write_state(p, &mine, revision)? else {
            return Ok(()); // another worker was quicker
        };
        let restored = match &mine.snapshot {
            Some(r) => {
                snapshot::load(self.nats, p, r).and_then(|bytes| self.detectors(p, Some(&bytes)))
            }
            None => self.detectors(p, None),
        };
        let tenants = match restored {
            Ok(d) => d,
            Err(e) => {
                self.log(format_args!(
                    "cannot restore partition {}: {e}; left alone for {}s",
                    p.name(),
                    BROKEN_BACKOFF.as_secs()
                ));
                self.broken.insert(p, Instant::now());
                let mut back = mine.clone();
                back.owner.clear();
                back.lease_until = 0;
                self.write_state(p, &back, rev)?;
                return Ok(());
            }
        };
        self.summary.claims += 1;
        let takeover = !previous.is_empty() && previous != self.options.id;
        if takeover {
            self.summary.takeovers += 1;
        }
        self.log(format_args!(
            "claimed partition {} (epoch {}{}): {}, replaying from stream sequence {}",
            p.name(),
            mine.epoch,
            if takeover {
                format!(", taken over from {previous}")
            } else {
                String::new()
            },
            match &mine.snapshot {
                Some(r) => format!("restored snapshot {} ({} bytes)", r.id, r.bytes),
                None => "no snapshot yet".to_owned(),
            },
            mine.snapshot_applied + 1
        ));
        let mine_position = mine.snapshot_applied;
        self.owned.push(Owned {
            id: p,
            revision: rev,
            applied: mine.snapshot_applied,
            ended: mine.ended && mine.applied == mine.snapshot_applied,
            quarantined: mine.quarantined,
            state: mine,
            tenants,
            since_snapshot: 0,
            last_snapshot: Instant::now(),
            consumer: None,
            clocks: Vec::new(),
            // The message at the snapshot's position was kept by the
            // previous owner; it goes at this owner's next commit.
            unpurged: (mine_position > 0)
                .then_some(mine_position)
                .into_iter()
                .collect(),
            unsent: Vec::new(),
        });
        let position = self.owned[self.owned.len() - 1].state.snapshot_applied;
        self.sweep_before(p, position)?;
        Ok(())
    }

    /// Partition `p`'s detectors, new or restored from `snapshot` (with
    /// `tenants.key`, every tenant's, as [`snapshot::encode_tenants`]
    /// wrote them).
    fn detectors(&self, p: PartitionId, snapshot: Option<&[u8]>) -> Result<Router<'r>, NatsError> {
        let (common, own) = self.configs.share(p);
        let mut router = Router::with_configs(
            self.runtime,
            &common,
            own,
            self.run.guard,
            self.run.tenant_key.clone(),
            self.run.max_tenants,
        )?;
        let Some(bytes) = snapshot else {
            return Ok(router);
        };
        if router.key().is_none() {
            router.tenants_mut()[0].detector =
                GuardedDetector::restore(self.runtime, bytes, self.run.guard)?;
            return Ok(router);
        }
        let tenants = snapshot::decode_tenants(bytes).map_err(|e| {
            NatsError::Damaged(format!("the snapshot of partition {}: {e}", p.name()))
        })?;
        for (id, bytes) in tenants {
            router.restore(id, &bytes)?;
        }
        Ok(router)
    }

    /// One snapshot of partition `i`'s detectors.
    fn snapshot(&mut self, i: usize) -> Result<Vec<u8>, NatsError> {
        let router = &mut self.owned[i].tenants;
        if router.key().is_none() {
            return Ok(router.tenants_mut()[0].detector.snapshot()?);
        }
        Ok(snapshot::encode_tenants(&router.snapshots()?))
    }

    /// When the records stream is past [`PRESSURE_SHARE`] of its bound:
    /// snapshots every partition held with records applied since its last
    /// snapshot, each commit purging the records it covers.
    fn relieve(&mut self) -> Result<(), NatsError> {
        if self
            .pressure
            .0
            .is_some_and(|t| t.elapsed() < PRESSURE_CHECK)
        {
            return Ok(());
        }
        self.pressure.0 = Some(Instant::now());
        let nats = self.nats;
        let info = nats.block_on(async {
            let s = nats
                .js
                .get_stream(RECORDS_STREAM)
                .await
                .map_err(|e| nats.err("reading the records stream's fill", e))?;
            Ok::<_, NatsError>(s.cached_info().clone())
        })?;
        let max = info.config.max_bytes;
        let pressed = max > 0 && info.state.bytes as f64 >= max as f64 * PRESSURE_SHARE;
        if pressed && !self.pressure.1 {
            self.log(format_args!(
                "the records stream holds {} of its {} bytes: snapshotting early so that \
                 applied records are purged",
                info.state.bytes, max
            ));
        }
        self.pressure.1 = pressed;
        if pressed {
            for i in 0..self.owned.len() {
                let o = &self.owned[i];
                if o.revision != 0 && o.applied > o.state.snapshot_applied {
                    self.commit(i, false)?;
                }
            }
            self.owned.retain(|o| o.revision != 0);
        }
        Ok(())
    }

    /// Deletes partition `i`'s records applied before `position` (its
    /// snapshot's position: every later owner replays from there). The
    /// message at `position` stays, so the partition's last position stays
    /// readable. Deleted one by one, by sequence: a filtered purge is not
    /// taken off the account's store use before nats-server 2.9.15 (see
    /// [`snapshot::remove`]).
    fn delete_applied(&mut self, i: usize, position: u64) -> Result<(), NatsError> {
        let o = &mut self.owned[i];
        let (gone, keep): (Vec<u64>, Vec<u64>) =
            o.unpurged.iter().partition(|&&seq| seq < position);
        if gone.is_empty() {
            return Ok(());
        }
        let nats = self.nats;
        nats.block_on(async {
            let stream = nats
                .js
                .get_stream_no_info(RECORDS_STREAM)
                .await
                .map_err(|e| nats.err("opening the records stream", e))?;
            snapshot::delete_each(nats, &stream, &gone, "deleting records a snapshot covers").await
        })?;
        self.owned[i].unpurged = keep;
        Ok(())
    }

    /// Deletes whatever of partition `p`'s records lies before `position`
    /// (a previous owner that died between its commit and its deletes
    /// leaves some): at a claim, from the first such record on.
    fn sweep_before(&self, p: PartitionId, position: u64) -> Result<(), NatsError> {
        let nats = self.nats;
        let subject = p.records_subject();
        nats.block_on(async {
            let stream = nats
                .js
                .get_stream_no_info(RECORDS_STREAM)
                .await
                .map_err(|e| nats.err("opening the records stream", e))?;
            let mut from = 1;
            while from < position {
                let seq = match stream.get_first_raw_message_by_subject(&subject, from).await {
                    Ok(m) if m.sequence < position => m.sequence,
                    Ok(_) => break,
                    Err(e)
                        if e.kind()
                            == async_nats::jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
                    {
                        break;
                    }
                    Err(e) => return Err(nats.err("reading a partition's first record", e)),
                };
                snapshot::delete_each(nats, &stream, &[seq], "deleting records a snapshot covers")
                    .await?;
                from = seq + 1;
            }
            Ok(())
        })
    }

    /// Snapshots partition `i` and gives it up.
    fn release(&mut self, i: usize) -> Result<(), NatsError> {
        if self.commit(i, true)? {
            let o = self.owned.remove(i);
            self.log(format_args!("gave partition {} up", o.id.name()));
        } else {
            self.owned.remove(i);
        }
        Ok(())
    }

    /// Snapshots partition `i` and writes its state (released: with no
    /// owner). False when the partition was lost meanwhile.
    fn commit(&mut self, i: usize, release: bool) -> Result<bool, NatsError> {
        self.publish_alerts(i)?;
        let bytes = self.snapshot(i)?;
        let o = &self.owned[i];
        let id = format!("{}-{}", o.state.epoch, o.applied);
        let p = o.id;
        let r = snapshot::store(self.nats, p, &id, &bytes)?;
        let r_new = r.clone();
        let o = &self.owned[i];
        let mut state = o.state.clone();
        let old = state.snapshot.replace(r);
        state.snapshot_applied = o.applied;
        state.applied = o.applied;
        state.ended = o.ended;
        state.quarantined = o.quarantined;
        if release {
            state.owner.clear();
            state.lease_until = 0;
        } else {
            state.lease_until = now_ms() + self.options.lease.as_millis() as i64;
        }
        match self.write_state(p, &state, o.revision)? {
            Some(rev) => {
                self.summary.snapshots += 1;
                let o = &mut self.owned[i];
                o.revision = rev;
                o.state = state;
                o.since_snapshot = 0;
                o.last_snapshot = Instant::now();
                if let Some(old) = old
                    && old.id != id
                {
                    snapshot::remove(self.nats, &old)?;
                }
                // Store use is bounded by the lag, not the history: what
                // the snapshot covers is never read again.
                let position = self.owned[i].state.snapshot_applied;
                self.delete_applied(i, position)?;
                Ok(true)
            }
            None => {
                snapshot::remove(self.nats, &r_new)?;
                self.lose(i);
                Ok(false)
            }
        }
    }

    /// Fetches and applies the next messages of partition `i`; true if
    /// there were any.
    fn step(&mut self, i: usize) -> Result<bool, NatsError> {
        if self.owned[i].revision == 0 {
            return Ok(false);
        }
        let messages = match self.fetch(i) {
            Ok(m) => m,
            Err(e) => {
                // The consumer is gone (a server restart): start again
                // from the position applied.
                self.log(format_args!(
                    "partition {}: reading records failed ({e}); retrying",
                    self.owned[i].id.name()
                ));
                self.owned[i].consumer = None;
                return Ok(false);
            }
        };
        if messages.is_empty() {
            return Ok(false);
        }
        for (seq, end, payload) in messages {
            let o = &mut self.owned[i];
            if seq <= o.applied {
                continue;
            }
            o.clocks.iter_mut().for_each(LiveClock::input_seen);
            o.unpurged.push(seq);
            if end {
                o.tenants.flush(None)?;
                o.ended = true;
            } else {
                for b in o.tenants.push_ndjson(&payload)? {
                    let g = b.outcome;
                    let o = &mut self.owned[i];
                    o.since_snapshot += u64::from(g.result.records);
                    o.quarantined += g.quarantined.len() as u64;
                    for q in g.quarantined {
                        self.summary.quarantined += 1;
                        self.quarantine(i, seq, &q)?;
                    }
                }
            }
            self.owned[i].applied = seq;
        }
        self.publish_alerts(i)?;
        let o = &self.owned[i];
        let due = o.since_snapshot >= self.options.snapshot_records
            || (o.since_snapshot > 0
                && o.last_snapshot.elapsed() >= self.options.snapshot_interval)
            || (o.ended && !o.state.ended);
        if due {
            self.commit(i, false)?;
        }
        Ok(true)
    }

    fn fetch(&mut self, i: usize) -> Result<Vec<(u64, bool, bytes::Bytes)>, NatsError> {
        let nats = self.nats;
        let o = &mut self.owned[i];
        if o.consumer.is_none() {
            let subject = o.id.records_subject();
            let start = o.applied + 1;
            let c = nats.block_on(async {
                let stream = nats
                    .js
                    .get_stream_no_info(RECORDS_STREAM)
                    .await
                    .map_err(|e| nats.err("opening the records stream", e))?;
                stream
                    .create_consumer(pull::Config {
                        filter_subject: subject,
                        deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                            start_sequence: start,
                        },
                        ack_policy: consumer::AckPolicy::None,
                        inactive_threshold: Duration::from_secs(60),
                        ..Default::default()
                    })
                    .await
                    .map_err(|e| nats.err("reading a partition's records", e))
            })?;
            o.consumer = Some(c);
        }
        let Some(c) = &o.consumer else {
            return Ok(Vec::new());
        };
        let fetch = async {
            let mut batch = c
                .fetch()
                .max_messages(FETCH_MESSAGES)
                .messages()
                .await
                .map_err(|e| nats.err("fetching records", e))?;
            let mut out = Vec::new();
            while let Some(m) = batch.next().await {
                let m = m.map_err(|e| nats.err("fetching records", e))?;
                let info = m
                    .info()
                    .map_err(|e| nats.err("reading a record's position", e))?;
                let seq = info.stream_sequence;
                let end = m
                    .headers
                    .as_ref()
                    .is_some_and(|h| h.get(END_HEADER).is_some());
                out.push((seq, end, m.message.payload.clone()));
            }
            Ok(out)
        };
        // A pull request lost with a server that went away is never
        // answered: give up on it and start again from the position.
        nats.block_on(async { tokio::time::timeout(FETCH_TIMEOUT, fetch).await })
            .unwrap_or_else(|_| Err(nats.err("fetching records", "no answer in time")))
    }

    fn quarantine(
        &mut self,
        i: usize,
        seq: u64,
        q: &crate::guard::Quarantined,
    ) -> Result<(), NatsError> {
        let p = self.owned[i].id;
        let reason = q.reason.lines().next().unwrap_or("").to_owned();
        self.log(format_args!(
            "partition {}: the record at stream sequence {seq}, line {} of its message, made \
             the component trap ({reason}); quarantined to {POISON_STREAM} and skipped",
            p.name(),
            q.index + 1
        ));
        let mut headers = HeaderMap::new();
        headers.insert(
            "Nats-Msg-Id",
            format!("{}:{seq}:{}", p.name(), q.index).as_str(),
        );
        headers.insert("Recon-Partition", p.name().as_str());
        headers.insert("Recon-Stream-Sequence", seq.to_string().as_str());
        headers.insert("Recon-Line", (q.index + 1).to_string().as_str());
        headers.insert("Recon-Reason", reason.replace(['\r', '\n'], " ").as_str());
        let nats = self.nats;
        nats.block_on(async {
            nats.js
                .publish_with_headers(p.poison_subject(), headers, q.bytes.clone().into())
                .await
                .map_err(|e| nats.err("quarantining a record", e))?
                .await
                .map_err(|e| nats.err("quarantining a record", e))
        })?;
        Ok(())
    }

    /// Drains partition `i`'s alerts and publishes them, waiting until
    /// the stream holds each.
    fn publish_alerts(&mut self, i: usize) -> Result<(), NatsError> {
        let router = &mut self.owned[i].tenants;
        let fresh = router.drain()?;
        let keyed = router.key().is_some();
        let fresh: Vec<_> = fresh
            .into_iter()
            .map(|(t, a)| (keyed.then(|| router.tenants()[t].id.to_string()), a))
            .collect();
        self.owned[i].unsent.extend(fresh);
        if self.owned[i].unsent.is_empty() {
            return Ok(());
        }
        let alerts = self.owned[i].unsent.clone();
        let nats = self.nats;
        let mut acks = Vec::new();
        for (tenant, a) in &alerts {
            for (format, suffix) in [(Format::Native, ""), (Format::Ocsf, ":ocsf")] {
                let line = output::alert_line(a, tenant.as_deref(), format)
                    .map_err(|e| NatsError::Damaged(format!("formatting an alert: {e}")))?;
                // Two tenants' detectors may make alerts with one id (the
                // same group and window in each): the tenant keeps them
                // apart.
                let tenant_part = tenant
                    .as_deref()
                    .map(|t| format!("{}:", hex(t.as_bytes())))
                    .unwrap_or_default();
                let mut headers = HeaderMap::new();
                headers.insert(
                    "Nats-Msg-Id",
                    format!("{tenant_part}{}:{}{suffix}", a.id, alert_kind(a)).as_str(),
                );
                let subject =
                    alerts_subject(if suffix.is_empty() { "native" } else { "ocsf" }, &a.rule);
                let ack = nats
                    .block_on(nats.js.publish_with_headers(subject, headers, line.into()))
                    .map_err(|e| nats.err("publishing an alert", e))?;
                acks.push((a.id.clone(), suffix.is_empty(), ack));
            }
        }
        for (id, native, ack) in acks {
            let ack = nats
                .block_on(ack.into_future())
                .map_err(|e| nats.err("publishing an alert", e))?;
            if native {
                self.summary.alerts += 1;
                if ack.duplicate {
                    self.summary.duplicate_alerts += 1;
                    let p = self.owned[i].id.name();
                    self.log(format_args!(
                        "partition {p}: alert {id} was already published (a replay made it \
                         again): duplicate suppressed"
                    ));
                }
            }
        }
        self.owned[i].unsent.clear();
        Ok(())
    }

    /// Live mode on a quiet partition: windows close on this machine's
    /// clock, as `recon detect --live` closes them.
    fn live_tick(&mut self, i: usize) -> Result<(), NatsError> {
        let Some(options) = self.options.live else {
            return Ok(());
        };
        let o = &mut self.owned[i];
        if o.ended {
            return Ok(());
        }
        // Each tenant's stream on its own clock, as `recon detect --live`
        // keeps them.
        let tenants = o.tenants.tenants_mut();
        o.clocks.resize_with(tenants.len(), LiveClock::new);
        let mut advanced = false;
        for (t, clock) in tenants.iter_mut().zip(&mut o.clocks) {
            let to = clock.step(&options, || {
                let stats = t.detector.stats()?;
                Ok::<_, NatsError>(stats.rules.iter().filter_map(|r| r.watermark).max())
            })?;
            if let Some(to) = to {
                t.detector.flush(Some(to))?;
                advanced = true;
            }
        }
        if advanced {
            self.publish_alerts(i)?;
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
