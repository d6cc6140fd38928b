//! `recon nats publish` and the publishing half of `recon nats bridge`:
//! records placed in partitions by the detection component (in the
//! sandbox, under the same fuel, deadline and memory bounds as every other
//! call: a record is untrusted input), in batches, each batch deduplicated
//! by an id derived from its content.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::context::PublishAckFuture;
use sha2::{Digest, Sha256};

use crate::guard::{Guarded, GuardedScanner, line_starts};
use crate::input::{self, BufferPool, ChunkOptions, InputMsg};
use crate::runtime::{HostError, Placement, Runtime};
use crate::settings::RunConfig;
use crate::tenants::{Split, TenantKey};

use super::layout::{Configs, Layout, PartitionId};
use super::{Nats, NatsError};

/// Default [`PublishOptions::batch_bytes`]: 256 KiB.
pub const DEFAULT_BATCH_BYTES: usize = 256 << 10;
/// Room left in a message for its headers.
const HEADER_ROOM: usize = 4 << 10;
/// Publishes awaiting their acks at once.
const IN_FLIGHT: usize = 256;
/// First pause before publishing again into a full store; each further
/// refusal doubles it, up to [`FULL_BACKOFF_MAX`].
const FULL_BACKOFF_MIN: Duration = Duration::from_millis(50);
/// Longest pause between tries into a full store.
const FULL_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// One publish awaiting its ack, with what it takes to send it again.
struct InFlight {
    ack: PublishAckFuture,
    subject: String,
    headers: HeaderMap,
    payload: bytes::Bytes,
    /// The partition (slot) of a batch of records; `None` for an end
    /// marker. A batch is counted as a duplicate when the stream already
    /// held it.
    slot: Option<usize>,
}

/// Whether a publish was refused because the records stream is at its own
/// bound (`maximum bytes exceeded`, error code 10077 on 2.9).
fn stream_full(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("maximum bytes") || m.contains("10077")
}

/// Whether a publish was refused because the store is full: the records
/// stream's own bound ([`stream_full`]) or the server's `max_file_store`
/// (`insufficient resources`, error code 10023).
fn store_full(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    stream_full(&m)
        || m.contains("insufficient resources")
        || m.contains("10023")
        || m.contains("resource limits exceeded")
}
/// Header on a partition's end-of-input marker.
pub const END_HEADER: &str = "Recon-End";

/// How `publish` batches.
#[derive(Debug, Clone, Copy)]
pub struct PublishOptions {
    /// A partition's batch goes out once it holds this many bytes of
    /// records (capped below the server's payload limit).
    pub batch_bytes: usize,
    /// Input from a pipe: a quiet input sends what is held after this
    /// long (batches of files are cut by size only, so that publishing the
    /// same files again makes the same batches, which the stream drops as
    /// duplicates).
    pub linger: Option<Duration>,
}

/// What a publish did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PublishSummary {
    /// Records read.
    pub records: u64,
    /// Records published (a record that both rules count goes to a
    /// partition of each, and counts once here).
    pub published: u64,
    /// Batches sent.
    pub batches: u64,
    /// Batches the stream already held (dropped as duplicates).
    pub duplicates: u64,
    /// Records no rule counts (filtered or unreadable): not published.
    pub unplaced: u64,
    /// Records too large for one message, or envelope values that hold
    /// no record: not published, reported.
    pub oversized: u64,
    /// Records whose placement made the component trap: not published,
    /// reported (the rest of their buffer is placed as usual).
    pub quarantined: u64,
    /// Spells of waiting for room in a full store.
    pub full_waits: u64,
    /// Time spent waiting in them.
    pub full_wait: Duration,
    /// CloudWatch Logs control messages skipped (not records).
    pub control_messages: u64,
    /// Inputs that could not be read (in whole or from some point).
    pub unreadable: u64,
}

/// Places records in partitions through the component: with a tenant key,
/// each record by the configuration of its tenant (a tenant with rules of
/// its own has a scanner of its own; every other tenant, and a record
/// without the key, the common one), as `recon detect` routes them.
pub struct Placer<'r> {
    key: Option<TenantKey>,
    partitions: u32,
    common: GuardedScanner<'r>,
    /// The scanners of tenants with rules of their own, by tenant.
    own: HashMap<String, usize>,
    scanners: Vec<GuardedScanner<'r>>,
    /// Per scanner: its lines of the current buffer (reused between
    /// buffers).
    scratch: Split,
}

impl<'r> Placer<'r> {
    /// Scanners for every configuration of `configs`, in `runtime`.
    pub fn new(
        runtime: &'r Runtime,
        run: &RunConfig,
        configs: &Configs,
        partitions: u32,
    ) -> Result<Self, HostError> {
        let mut own = HashMap::new();
        let mut scanners = Vec::new();
        for (t, config, _) in &configs.own {
            own.insert(t.clone(), scanners.len());
            scanners.push(GuardedScanner::new(runtime, config)?);
        }
        Ok(Placer {
            key: run.tenant_key.clone(),
            partitions,
            common: GuardedScanner::new(runtime, &configs.common.0)?,
            own,
            scratch: Split::default(),
            scanners,
        })
    }

    /// Where each record of an NDJSON buffer goes (indices are the
    /// buffer's lines), and the lines whose placement trapped.
    pub fn place(&mut self, data: &[u8]) -> Result<Guarded<Vec<Placement>>, HostError> {
        let Some(key) = self.key.as_ref().filter(|_| !self.own.is_empty()) else {
            return self.common.partition_of(data, self.partitions);
        };
        let (own, split) = (&self.own, &mut self.scratch);
        split.split(data, |line| {
            Ok::<_, HostError>(
                key.tenant_of(line)
                    .and_then(|t| own.get(&t))
                    .map_or(0, |&s| s + 1),
            )
        })?;
        let mut out = Guarded {
            result: Vec::new(),
            quarantined: Vec::new(),
            recovered: false,
        };
        for slot in 0..self.scratch.parts.len() {
            if self.scratch.parts[slot].1.is_empty() {
                continue;
            }
            let scanner = match slot {
                0 => &mut self.common,
                s => &mut self.scanners[s - 1],
            };
            let g = scanner.partition_of(&self.scratch.parts[slot].0, self.partitions)?;
            let map = |i: u32| self.scratch.line(slot, i);
            out.result.extend(g.result.into_iter().map(|mut p| {
                p.index = map(p.index);
                p
            }));
            out.quarantined
                .extend(g.quarantined.into_iter().map(|mut q| {
                    q.index = map(q.index);
                    q
                }));
            out.recovered |= g.recovered;
        }
        Ok(out)
    }
}

/// Places records and sends them, batch by batch.
pub struct Publisher<'n, 'r> {
    nats: &'n Nats,
    layout: Layout,
    /// The layout's configuration, resolved once.
    run: RunConfig,
    placer: Placer<'r>,
    ids: Vec<PartitionId>,
    /// Index in `ids` of (rule position, partition).
    batches: Vec<Vec<u8>>,
    /// Per partition: how many earlier batches had each content hash (so
    /// two identical batches of one run keep apart ids).
    seen: Vec<HashMap<[u8; 16], u32>>,
    /// A batch goes out once it would pass this many bytes.
    batch: usize,
    /// Most bytes of records in one message (a record longer than
    /// `batch` goes alone).
    max_message: usize,
    acks: Vec<InFlight>,
    /// Whether the first full store and the room after it were said.
    said_full: bool,
    said_room: bool,
    /// Where notices go (a full store, room again): stderr unless set.
    notify: Box<dyn FnMut(&str) + 'n>,
    /// Counters.
    pub summary: PublishSummary,
}

impl std::fmt::Debug for Publisher<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("summary", &self.summary)
            .finish()
    }
}

impl<'n, 'r> Publisher<'n, 'r> {
    /// A publisher for `layout` (as stored), whose configuration is `run`,
    /// placing records with the component in `runtime`.
    pub fn new(
        nats: &'n Nats,
        runtime: &'r Runtime,
        layout: Layout,
        run: RunConfig,
        batch_bytes: usize,
    ) -> Result<Publisher<'n, 'r>, NatsError> {
        let configs = Configs::of(&run)?;
        let placer = Placer::new(runtime, &run, &configs, layout.partitions)?;
        let ids = layout.partition_ids(&configs);
        let max_message = nats.max_payload().saturating_sub(HEADER_ROOM).max(1);
        let batch = batch_bytes.max(1).min(max_message);
        Ok(Publisher {
            nats,
            placer,
            batches: vec![Vec::new(); ids.len()],
            seen: vec![HashMap::new(); ids.len()],
            ids,
            layout,
            run,
            batch,
            max_message,
            acks: Vec::new(),
            said_full: false,
            said_room: false,
            notify: Box::new(|m| eprintln!("recon: {m}")),
            summary: PublishSummary::default(),
        })
    }

    /// Sends notices (a full store, room again) to `notify` instead of
    /// stderr.
    pub fn with_notify(mut self, notify: impl FnMut(&str) + 'n) -> Self {
        self.notify = Box::new(notify);
        self
    }

    fn slot(&self, rule_pos: usize, partition: u32) -> usize {
        rule_pos * self.layout.partitions as usize + partition as usize
    }

    /// Places the records of an NDJSON buffer and batches them; full
    /// batches go out. `describe` names a record for reports (its line).
    pub fn add(
        &mut self,
        data: &[u8],
        describe: &dyn Fn(u32) -> String,
        err: &mut dyn std::io::Write,
    ) -> Result<(), NatsError> {
        let starts = line_starts(data);
        let records = (0..starts.len() - 1)
            .filter(|&i| !is_blank(&data[starts[i]..starts[i + 1]]))
            .count() as u64;
        self.summary.records += records;
        let placed = self.placer.place(data)?;
        for q in &placed.quarantined {
            self.summary.quarantined += 1;
            writeln!(
                err,
                "recon: {}: not published: placing it made the component trap ({})",
                describe(q.index),
                q.reason.lines().next().unwrap_or("")
            )?;
        }
        let placements = placed.result;
        let rules: Vec<_> = self.scanner_rules();
        let mut last = None;
        for p in placements {
            let line = strip_end(&data[starts[p.index as usize]..starts[p.index as usize + 1]]);
            if last != Some(p.index) {
                last = Some(p.index);
                if line.len() + 1 > self.max_message {
                    self.summary.oversized += 1;
                    writeln!(
                        err,
                        "recon: {}: not published: {} bytes is more than one message holds \
                         ({} bytes, below the server's max_payload)",
                        describe(p.index),
                        line.len(),
                        self.max_message
                    )?;
                    continue;
                }
                self.summary.published += 1;
            } else if line.len() + 1 > self.max_message {
                continue;
            }
            let rule_pos = rules.iter().position(|r| *r == &*p.rule).unwrap_or(0);
            let slot = self.slot(rule_pos, p.partition);
            if !self.batches[slot].is_empty()
                && self.batches[slot].len() + line.len() + 1 > self.batch
            {
                self.send(slot)?;
            }
            self.batches[slot].extend_from_slice(line);
            self.batches[slot].push(b'\n');
        }
        self.summary.unplaced = self.summary.records
            - self.summary.published
            - self.summary.oversized
            - self.summary.quarantined;
        Ok(())
    }

    fn scanner_rules(&self) -> Vec<&'static str> {
        let mut rules: Vec<_> = self.ids.iter().map(|p| p.rule).collect();
        rules.dedup();
        rules
    }

    /// Sends one partition's batch (if it holds anything).
    fn send(&mut self, slot: usize) -> Result<(), NatsError> {
        let batch = std::mem::take(&mut self.batches[slot]);
        if batch.is_empty() {
            return Ok(());
        }
        let p = self.ids[slot];
        let digest = Sha256::digest(&batch);
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        let n = self.seen[slot].entry(key).or_insert(0);
        let id = format!("{}:{}:{n}", p.name(), hex(&key));
        *n += 1;
        let mut headers = HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_str());
        // A partition's batches are stored in the order they are made: the
        // next one goes only once the last one is stored, so that one
        // refused by a full store is sent again before any later one of
        // its partition (the rows of some rules list records in arrival
        // order). Other partitions' batches stay in flight meanwhile, and
        // by the time a partition's next batch is full its last one is
        // almost always acknowledged.
        if let Some(last) = self.acks.iter().rposition(|a| a.slot == Some(slot)) {
            self.wait_acks_through(last + 1)?;
        }
        self.publish(p.records_subject(), headers, batch.into(), Some(slot))?;
        self.summary.batches += 1;
        Ok(())
    }

    /// Publishes one message; its ack is awaited with the others in
    /// flight (or at once, right after a full store).
    fn publish(
        &mut self,
        subject: String,
        headers: HeaderMap,
        payload: bytes::Bytes,
        slot: Option<usize>,
    ) -> Result<(), NatsError> {
        let nats = self.nats;
        let ack = nats
            .block_on(nats.js.publish_with_headers(
                subject.clone(),
                headers.clone(),
                payload.clone(),
            ))
            .map_err(|e| nats.err("publishing records", e))?;
        self.acks.push(InFlight {
            ack,
            subject,
            headers,
            payload,
            slot,
        });
        if self.acks.len() >= IN_FLIGHT {
            self.wait_acks()?;
        }
        Ok(())
    }

    /// Waits for every publish in flight to be stored.
    ///
    /// A publish refused because the store is full is sent again, in
    /// order, after a pause that doubles while the store stays full: the
    /// workers' snapshots purge the records they cover and make room. It
    /// is said once per full spell, naming the limit. The same message id
    /// goes again, so a batch the server did store is not stored twice.
    pub fn wait_acks(&mut self) -> Result<(), NatsError> {
        self.wait_acks_through(self.acks.len())
    }

    /// [`Publisher::wait_acks`] for the first `n` publishes in flight (acks
    /// come in publish order: the later ones stay in flight).
    fn wait_acks_through(&mut self, n: usize) -> Result<(), NatsError> {
        let acks: Vec<InFlight> = self.acks.drain(..n.min(self.acks.len())).collect();
        let nats = self.nats;
        let mut results = Vec::with_capacity(acks.len());
        nats.block_on(async {
            for a in acks {
                let InFlight {
                    ack,
                    subject,
                    headers,
                    payload,
                    slot,
                } = a;
                results.push((ack.await, subject, headers, payload, slot.is_some()));
            }
        });
        let mut pause = FULL_BACKOFF_MIN;
        let mut waited = Duration::ZERO;
        let mut spell = false;
        // Whether the last try went in: the next refused publish of this
        // round is tried again at once (the room may still be there).
        let mut room = false;
        for (mut result, subject, headers, payload, batch) in results {
            loop {
                match result {
                    Ok(ack) => {
                        if ack.duplicate && batch {
                            self.summary.duplicates += 1;
                        }
                        if spell {
                            room = true;
                            pause = FULL_BACKOFF_MIN;
                        }
                        break;
                    }
                    Err(e) if store_full(&e.to_string()) => {
                        if !spell {
                            spell = true;
                            self.summary.full_waits += 1;
                        }
                        if !self.said_full {
                            self.said_full = true;
                            let m = format!(
                                "publish: the store is full ({e}): {}; waiting for workers \
                                 to snapshot and purge what they applied, retrying with \
                                 backoff",
                                self.limit_text(&e.to_string())
                            );
                            (self.notify)(&m);
                        }
                        if room {
                            room = false;
                        } else {
                            std::thread::sleep(pause);
                            waited += pause;
                            pause = (pause * 2).min(FULL_BACKOFF_MAX);
                        }
                        result = nats.block_on(async {
                            match nats
                                .js
                                .publish_with_headers(
                                    subject.clone(),
                                    headers.clone(),
                                    payload.clone(),
                                )
                                .await
                            {
                                Ok(f) => f.await,
                                Err(e) => Err(e),
                            }
                        });
                    }
                    Err(e) => return Err(nats.err("storing records", e)),
                }
            }
        }
        self.summary.full_wait += waited;
        if spell && !self.said_room {
            self.said_room = true;
            let m = format!(
                "publish: room again after {:.1}s; going on (later waits are counted in the \
                 summary, not said again)",
                waited.as_secs_f64()
            );
            (self.notify)(&m);
        }
        Ok(())
    }

    /// The limit a full store met (`refusal`: the server's words).
    fn limit_text(&self, refusal: &str) -> String {
        if !stream_full(refusal) {
            return "the server's JetStream store is at its max_file_store (leave room beside \
                    the records stream's bound: docs/scale-out.md, \"Sizing the store\")"
                .to_owned();
        }
        let nats = self.nats;
        let info = nats.block_on(async {
            let s = nats
                .js
                .get_stream(super::layout::RECORDS_STREAM)
                .await
                .ok()?;
            Some(s.cached_info().clone())
        });
        match info {
            Some(i) => format!(
                "the records stream {} is at its bound of {} bytes (recon nats setup \
                 --records-max-mib)",
                super::layout::RECORDS_STREAM,
                i.config.max_bytes
            ),
            None => format!(
                "the records stream {} is at its bound (recon nats setup --records-max-mib)",
                super::layout::RECORDS_STREAM
            ),
        }
    }

    /// Sends every batch held and waits until all are stored.
    pub fn flush(&mut self) -> Result<(), NatsError> {
        for slot in 0..self.batches.len() {
            self.send(slot)?;
        }
        self.wait_acks()
    }

    /// Marks the end of input on every partition (after everything held).
    pub fn end(&mut self) -> Result<(), NatsError> {
        self.flush()?;
        for p in self.ids.clone() {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", format!("{}:end", p.name()).as_str());
            headers.insert(END_HEADER, "1");
            self.publish(p.records_subject(), headers, bytes::Bytes::new(), None)?;
        }
        self.wait_acks()
    }
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_blank(line: &[u8]) -> bool {
    line.iter()
        .all(|c| matches!(c, b' ' | b'\t' | b'\r' | b'\n'))
}

fn strip_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `recon nats publish`: reads `inputs` as `recon detect` does and
/// publishes every record to its partitions (`layout`, whose configuration
/// is `run`, placed by the component in `runtime`); with `end`, marks the
/// end of input on every partition.
#[allow(clippy::too_many_arguments)]
pub fn publish(
    nats: &Nats,
    runtime: &Runtime,
    layout: Layout,
    run: RunConfig,
    inputs: &[PathBuf],
    options: PublishOptions,
    end: bool,
    err: &mut dyn std::io::Write,
) -> Result<PublishSummary, NatsError> {
    let mut publisher = Publisher::new(nats, runtime, layout, run, options.batch_bytes)?;
    let max_line = publisher.run.max_line_bytes();
    let chunk = ChunkOptions {
        chunk_bytes: publisher.run.chunk_bytes,
        linger: options.linger.unwrap_or(input::DEFAULT_LINGER),
        max_line_bytes: max_line,
    };
    let pool = BufferPool::default();
    let (tx, rx) = crossbeam_channel::bounded(4);
    // Inputs listed as `recon detect` lists them: directories of S3
    // objects in delivery order, zip archives' members.
    let listing = crate::sources::list(inputs, crate::sources::Order::Given);
    let names: Vec<String> = listing.sources.iter().map(|s| s.name()).collect();
    let reader = {
        let inputs = listing.sources;
        let pool = pool.clone();
        std::thread::Builder::new()
            .name("recon-input".into())
            .spawn(move || input::chunk_inputs(&inputs, chunk, &pool, &tx))?
    };
    loop {
        let msg = match options.linger {
            Some(linger) => match rx.recv_timeout(linger) {
                Ok(m) => m,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    publisher.flush()?;
                    continue;
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(m) => m,
                Err(_) => break,
            },
        };
        match msg {
            InputMsg::Chunk(source, mut c) => {
                let name = &names[source];
                let describe = |i: u32| format!("{name}: {}", c.loc(i));
                publisher.add(&c.data, &describe, err)?;
                pool.put(std::mem::take(&mut c.data));
            }
            InputMsg::Unreadable(_, e) => {
                publisher.summary.unreadable += 1;
                writeln!(err, "recon: {e}")?;
            }
            InputMsg::Control(..) => publisher.summary.control_messages += 1,
            InputMsg::Ended(..) => {}
            InputMsg::BadEnvelope(source, loc, message) => {
                publisher.summary.records += 1;
                publisher.summary.oversized += 1;
                writeln!(
                    err,
                    "recon: {}: {}",
                    names[source],
                    recon_reader::wording::bad_envelope(loc, &message)
                )?;
            }
            InputMsg::TooLarge(source, loc, bytes) => {
                publisher.summary.records += 1;
                publisher.summary.oversized += 1;
                writeln!(
                    err,
                    "recon: {}: {loc}: rejected (too-large): event is {bytes} bytes; the limit \
                     is {max_line} (limits.max-event-bytes)",
                    names[source]
                )?;
            }
        }
    }
    let _ = reader.join();
    if end {
        publisher.end()?;
    } else {
        publisher.flush()?;
    }
    Ok(publisher.summary.clone())
}
