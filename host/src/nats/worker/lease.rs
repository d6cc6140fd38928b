//! The lease protocol: this worker's id and heartbeat, each partition's
//! state by compare-and-set (claim, renew, balance, release, commit), and
//! the store upkeep that goes with a commit (records and snapshots its
//! snapshot covers deleted, early snapshots when the records stream fills).

use super::*;

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

impl<'r, E: Write> Worker<'r, '_, E> {
    /// Writes this worker's heartbeat by compare-and-set on its last
    /// revision: a write by anyone else under this id (a second worker
    /// started with the same `--id` while this one was paused past its
    /// lease) stops this one, saying why, rather than the two taking
    /// partitions from each other in a loop.
    pub(super) fn heartbeat(&mut self) -> Result<(), NatsError> {
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
    pub(super) fn take_id(&mut self, stop: &AtomicBool) -> Result<(), NatsError> {
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
    pub(super) fn live_workers(&self) -> Result<usize, NatsError> {
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
    pub(super) fn read_state(&self, p: PartitionId) -> Result<(PartState, u64), NatsError> {
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
    pub(super) fn write_state(
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
    pub(super) fn renew(&mut self) -> Result<(), NatsError> {
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

    pub(super) fn lose(&mut self, i: usize) {
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
    pub(super) fn balance(&mut self) -> Result<(), NatsError> {
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

    pub(super) fn claim(
        &mut self,
        p: PartitionId,
        state: PartState,
        revision: u64,
    ) -> Result<(), NatsError> {
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
            since_snapshot_bytes: 0,
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
        let current = self.owned[self.owned.len() - 1]
            .state
            .snapshot
            .as_ref()
            .map(|r| r.id.clone());
        self.sweep_snapshots(p, current.as_deref())?;
        Ok(())
    }

    /// Partition `p`'s detectors, new or restored from `snapshot` (with
    /// `tenants.key`, every tenant's, as [`snapshot::encode_tenants`]
    /// wrote them).
    pub(super) fn detectors(
        &self,
        p: PartitionId,
        snapshot: Option<&[u8]>,
    ) -> Result<Router<'r>, NatsError> {
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
    pub(super) fn snapshot(&mut self, i: usize) -> Result<Vec<u8>, NatsError> {
        let router = &mut self.owned[i].tenants;
        if router.key().is_none() {
            return Ok(router.tenants_mut()[0].detector.snapshot()?);
        }
        Ok(snapshot::encode_tenants(&router.snapshots()?))
    }

    /// When the records stream is past [`PRESSURE_SHARE`] of its bound:
    /// snapshots every partition held with records applied since its last
    /// snapshot, each commit purging the records it covers.
    pub(super) fn relieve(&mut self) -> Result<(), NatsError> {
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
            // Only commits that free a fair share are worth a snapshot: a
            // stream full of records not yet applied is relieved by
            // applying them, not by snapshotting again and again.
            let worth = u64::try_from(max).unwrap_or(0) / PRESSURE_WORTH;
            for i in 0..self.owned.len() {
                let o = &self.owned[i];
                if o.revision != 0 && o.since_snapshot_bytes >= worth.max(1) {
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
    pub(super) fn delete_applied(&mut self, i: usize, position: u64) -> Result<(), NatsError> {
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

    /// Deletes partition `p`'s snapshots other than `current` (the one its
    /// state names at this claim): chunks of a snapshot whose writer died
    /// before its commit (a killed worker or server), or of one a fenced
    /// writer could not commit, would otherwise stay in the store for
    /// good. Any snapshot a later commit names is written after this
    /// claim, so none is lost.
    pub(super) fn sweep_snapshots(
        &self,
        p: PartitionId,
        current: Option<&str>,
    ) -> Result<(), NatsError> {
        let nats = self.nats;
        let keep = current.map(|id| p.snapshot_subject(id));
        nats.block_on(async {
            let stream = nats
                .js
                .get_stream(super::super::layout::SNAPSHOTS_STREAM)
                .await
                .map_err(|e| nats.err("opening the snapshot stream", e))?;
            let mut subjects = Vec::new();
            let mut pages = stream
                .info_with_subjects(format!("recon.snap.{}.>", p.name()))
                .await
                .map_err(|e| nats.err("listing a partition's snapshots", e))?;
            while let Some(next) = pages.next().await {
                let (subject, _) =
                    next.map_err(|e| nats.err("listing a partition's snapshots", e))?;
                if keep.as_deref() != Some(subject.as_str()) {
                    subjects.push(subject);
                }
            }
            for subject in subjects {
                snapshot::delete_subject_before(
                    nats,
                    &stream,
                    &subject,
                    u64::MAX,
                    "removing an old snapshot",
                )
                .await?;
            }
            Ok(())
        })
    }

    /// Deletes whatever of partition `p`'s records lies before `position`
    /// (a previous owner that died between its commit and its deletes
    /// leaves some): at a claim, from the first such record on.
    pub(super) fn sweep_before(&self, p: PartitionId, position: u64) -> Result<(), NatsError> {
        let nats = self.nats;
        let subject = p.records_subject();
        nats.block_on(async {
            let stream = nats
                .js
                .get_stream_no_info(RECORDS_STREAM)
                .await
                .map_err(|e| nats.err("opening the records stream", e))?;
            snapshot::delete_subject_before(
                nats,
                &stream,
                &subject,
                position,
                "deleting records a snapshot covers",
            )
            .await
        })
    }

    /// Snapshots partition `i` and gives it up.
    pub(super) fn release(&mut self, i: usize) -> Result<(), NatsError> {
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
    pub(super) fn commit(&mut self, i: usize, release: bool) -> Result<bool, NatsError> {
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
                o.since_snapshot_bytes = 0;
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
}
