//! The `recon detect` pipeline as a library function: read inputs, run
//! every rule over one parse of each record, write alerts as NDJSON,
//! report rejected records, and return a summary.
//!
//! The work is split the way the contract allows: a chunker thread cuts
//! the input into NDJSON chunks (with a reader thread per input doing the
//! I/O and gzip); `workers` threads, each with its own component instance
//! and `scanner`, read and judge the records of a chunk (the costly,
//! stateless part); the calling thread hands their payloads, in input
//! order, to one `detector` (`apply`: windows, watermark, alerts). The
//! result is exactly what one detector fed the records one by one would
//! give. With one worker the calling thread does everything through
//! `push-ndjson`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded, select, unbounded};

use crate::guard::{Guarded, GuardedScanner, Quarantined, ScannedPiece};
use crate::input::{self, BufferPool, Chunk, ChunkOptions, InputMsg};
use crate::output::{Format, alert_line};
use crate::runtime::{
    AlertKind, BatchError, BatchResult, Config, HostError, RejectReason, Rule, RuleStats, Runtime,
    Stats,
};
use crate::settings::{FileSettings, RuleName, SettingsError};
use crate::sources::{self, Order, Skipped};
use crate::tenants::{Router, TenantId};
use recon_reader::wording;

/// The contract's default `limits.max-event-bytes` (256 KiB), which the
/// reader also uses as its line limit when the configuration leaves it out:
/// the reader crate's constant, the one the component is built with.
pub const DEFAULT_MAX_EVENT_BYTES: u32 = recon_reader::DEFAULT_MAX_RECORD_BYTES;
use crate::state::{self, StateError};

/// What `detect` needs beyond the inputs.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    /// Rules, profile, lateness, limits, chunking, workers, sandbox.
    pub settings: FileSettings,
    /// Most rejected records reported one by one on the diagnostics
    /// stream; the rest are counted in the summary.
    pub show_rejects: usize,
    /// Longest complete lines wait for more input before they are pushed,
    /// so that alerts from a slow stream (a pipe, `tail -f`) are not held
    /// back until a chunk fills. Reading files, chunks fill long before.
    pub linger: Duration,
    /// A state file: the detector resumes from it, and at the end its
    /// snapshot is saved to it instead of ending the stream (open windows
    /// carry over to the next run), unless `finish` is set.
    pub state: Option<PathBuf>,
    /// With `state`: end the stream (close every window) and remove the
    /// file.
    pub finish: bool,
    /// A file for the quarantined records (those that made the component
    /// trap on their own), one per line as read; created (or emptied) at
    /// the start of the run.
    pub quarantine: Option<PathBuf>,
    /// Live mode: on a quiet stream, windows close on the host's clock
    /// (see [`LiveOptions`]). `None`: windows close on event time only.
    /// Live mode also turns early alerts on when `settings.early_alerts`
    /// leaves them unset, writing them only for a stream within
    /// `max_lag` of the wall clock (docs/streaming.md).
    pub live: Option<LiveOptions>,
    /// Set (by a signal handler, say) to stop reading: what was read is
    /// still processed, the stream is then ended (or saved with `state`)
    /// as at the end of input.
    pub stop: Option<Arc<AtomicBool>>,
    /// How alerts are written.
    pub format: Format,
    /// Running totals for a progress display, updated as the run goes.
    pub progress: Option<Arc<Progress>>,
    /// Order of the inputs given (directories are always read in delivery
    /// order; see `sources`).
    pub order: Order,
}

/// Running totals of a run, for a progress display on another thread.
#[derive(Debug, Default)]
pub struct Progress {
    /// Bytes of records handed to the detectors.
    pub bytes: std::sync::atomic::AtomicU64,
    /// Records read.
    pub records: std::sync::atomic::AtomicU64,
    /// Alerts written.
    pub alerts: std::sync::atomic::AtomicU64,
}

/// Live mode. The component has no clock; when input pauses, the host
/// advances each detector's watermark by the time that has passed on its
/// own clock since the last input arrived (never *to* the wall clock), so
/// a window on a quiet stream still closes and its alert leaves. Only a
/// stream that is live is advanced: one whose watermark is within
/// `max_lag` of the wall clock. A backtest piped from last year's exports
/// is never advanced, and so loses nothing to a pause in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveOptions {
    /// Input quiet for this long starts the host's clock.
    pub idle: Duration,
    /// How far behind the wall clock a watermark may be for its stream to
    /// count as live.
    pub max_lag: Duration,
}

/// Default [`LiveOptions::idle`]: 5 s.
pub const DEFAULT_LIVE_IDLE: Duration = Duration::from_secs(5);
/// Default [`LiveOptions::max_lag`]: one hour (CloudTrail delivers within
/// about fifteen minutes).
pub const DEFAULT_LIVE_MAX_LAG: Duration = Duration::from_secs(3600);

/// How often the detecting thread looks at the clock and the stop flag
/// while input is quiet.
const TICK: Duration = Duration::from_millis(100);

/// Live mode's running state.
struct LiveState {
    options: LiveOptions,
    last_input: Instant,
    /// Each tenant's watermark when input paused (taken once it is idle).
    paused: Option<Vec<Option<i64>>>,
    /// Quiet time already added to the watermarks.
    advanced: Duration,
}

/// Default [`DetectOptions::linger`]: 200 ms.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(200);

/// Counters of one rule after a run.
#[derive(Debug, Clone)]
pub struct RuleSummary {
    /// The rule.
    pub rule: RuleName,
    /// The rule's final counters.
    pub stats: RuleStats,
}

/// One tenant's account of a run.
#[derive(Debug, Clone)]
pub struct TenantSummary {
    /// Who.
    pub tenant: TenantId,
    /// Alerts written for it.
    pub alerts: u64,
    /// Its records quarantined.
    pub quarantined: u64,
    /// Its detector's final counters.
    pub stats: Stats,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Records read from all inputs.
    pub records: u64,
    /// Alerts written (early and final).
    pub alerts: u64,
    /// Per rule counters (summed over tenants).
    pub rules: Vec<RuleSummary>,
    /// The detector's final counters (the first tenant's, with a tenant
    /// key).
    pub stats: Option<Stats>,
    /// With a tenant key: each tenant's own account, in order of first
    /// appearance.
    pub tenants: Vec<TenantSummary>,
    /// Inputs that could not be read (whole or in part), with the reason.
    pub unreadable: Vec<String>,
    /// Lines longer than `limits.max_event_bytes` skipped by the reader
    /// (counted in `records`, never handed to the detector).
    pub skipped_too_large: u64,
    /// Records left out because the component trapped on each of them
    /// alone (counted in `records`, never seen by the rules).
    pub quarantined: u64,
    /// Times a component instance (a detector's or a scanning worker's)
    /// was rebuilt after a trap.
    pub recoveries: u64,
    /// Windows closed on the host's clock in live mode (flush calls that
    /// advanced a watermark).
    pub live_advances: u64,
    /// The run was stopped (`DetectOptions::stop`) before its input ended.
    pub stopped: bool,
    /// The allowed lateness the run used, ms (for the summary's advice
    /// on late records).
    pub allowed_lateness_ms: u64,
    /// Early alerts written (counted in `alerts` too).
    pub early_written: u64,
    /// Early alerts not written because their stream was not live (live
    /// mode's default; see [`DetectOptions`] and docs/streaming.md).
    pub early_held_back: u64,
    /// Files found in directories or archives and passed over (digests,
    /// files that are not CloudTrail by their name).
    pub skipped_files: Skipped,
}

/// A failure that stops the run.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    /// Invalid settings.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The component failed.
    #[error(transparent)]
    Host(#[from] HostError),
    /// The state file could not be used.
    #[error(transparent)]
    State(#[from] StateError),
    /// Writing alerts or diagnostics failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
    /// An alert could not be encoded.
    #[error("encoding an alert: {0}")]
    Encode(#[from] recon_guest::format::FormatError),
    /// The quarantine file could not be written.
    #[error("quarantine file: {0}")]
    Quarantine(String),
    /// Too many records made the component trap: more likely a broken
    /// component or sandbox bounds too tight for this input than poisoned
    /// records.
    #[error(
        "{count} records made the component trap (more than sandbox.max_quarantined); \
         giving up. The last: {last}"
    )]
    TooManyTraps {
        /// Records quarantined.
        count: u64,
        /// The last trap.
        last: String,
    },
}

/// The kebab-case name of a reject reason.
pub fn reason_name(r: RejectReason) -> &'static str {
    match r {
        RejectReason::InvalidJson => "invalid-json",
        RejectReason::NotAnObject => "not-an-object",
        RejectReason::UnknownShape => "unknown-shape",
        RejectReason::MissingTime => "missing-time",
        RejectReason::InvalidTime => "invalid-time",
        RejectReason::TooLarge => "too-large",
        RejectReason::StateLimit => "state-limit",
    }
}

fn rule_name(r: Rule) -> RuleName {
    match r {
        Rule::SentinelAwsCliRecon => RuleName::Sentinel,
        Rule::ElasticAwsDiscoveryBurst => RuleName::Elastic,
    }
}

/// The detecting side of a run: the detector, where output goes, and the
/// running summary.
struct Sink<'a, 'r, O: Write, E: Write> {
    router: Router<'r>,
    quarantine: Option<std::io::BufWriter<std::fs::File>>,
    max_quarantined: u64,
    sources: Vec<String>,
    out: &'a mut O,
    err: &'a mut E,
    show_rejects: usize,
    /// Rejections and notices reported one by one so far (they share the
    /// `show_rejects` budget).
    shown: usize,
    /// Rejected records not reported one by one.
    hidden_rejects: u64,
    /// Far-ahead notices not reported one by one (not rejections: those
    /// records count).
    hidden_notices: u64,
    summary: Summary,
    pool: BufferPool,
    /// The reader's line limit, for messages.
    max_line: usize,
    live: Option<LiveState>,
    /// Live mode's default early alerts: written only for a live stream,
    /// one whose alert window is within this lag of the wall clock.
    early_live_only: Option<Duration>,
    stop: Option<Arc<AtomicBool>>,
    format: Format,
    progress: Option<Arc<Progress>>,
    /// How long buffered lines may wait in the chunker (for a clean stop).
    linger: Duration,
}

impl<'r, O: Write, E: Write> Sink<'_, 'r, O, E> {
    /// Reports a batch's rejections (with where each record came from),
    /// and counts its records.
    /// Indices in `result` and `scan_errors` are lines of the chunk from
    /// line `offset` on.
    fn report(
        &mut self,
        source: usize,
        chunk: &Chunk,
        offset: u32,
        result: &BatchResult,
        scan_errors: &[BatchError],
    ) -> Result<(), DetectError> {
        self.summary.records += u64::from(result.records);
        // In input order, far-ahead times first on a tie, as the
        // component's `detector.read` reports them (so every host shows
        // the same first `--show-rejects` reports).
        let mut errors: Vec<&BatchError> = scan_errors.iter().chain(&result.errors).collect();
        errors.sort_by_key(|e| e.index);
        let mut errors = errors.into_iter().peekable();
        let mut ahead = result.ahead.iter().peekable();
        loop {
            // A far-ahead time is a notice, not a rejection: counted apart.
            let (report, notice) = match (ahead.peek(), errors.peek()) {
                (None, None) => break,
                (Some(&&a), e) if e.is_none_or(|e| a <= e.index) => {
                    ahead.next();
                    (wording::far_ahead(chunk.loc(a + offset)), true)
                }
                _ => {
                    let e = errors.next().expect("peeked");
                    let report = wording::rejected(
                        chunk.loc(e.index + offset),
                        reason_name(e.error.reason),
                        &e.error.message,
                        e.rule.map(|r| rule_name(r).alert_name()),
                    );
                    (report, false)
                }
            };
            if self.shown < self.show_rejects {
                writeln!(self.err, "recon: {}: {report}", self.sources[source])?;
                self.shown += 1;
            } else if notice {
                self.hidden_notices += 1;
            } else {
                self.hidden_rejects += 1;
            }
        }
        Ok(())
    }

    /// Records that trapped alone: reported, counted, and written to the
    /// quarantine file if there is one.
    fn quarantined(
        &mut self,
        source: usize,
        chunk: &Chunk,
        offset: u32,
        records: &[Quarantined],
    ) -> Result<(), DetectError> {
        for q in records {
            self.summary.records += 1;
            self.summary.quarantined += 1;
            writeln!(
                self.err,
                "recon: {}: {}: quarantined: the record made the component trap on its own \
                 ({}); left out, the stream goes on",
                self.sources[source],
                chunk.loc(q.index + offset),
                q.reason
            )?;
            if let Some(file) = &mut self.quarantine {
                file.write_all(&q.bytes)?;
                file.write_all(b"\n")?;
                file.flush()?;
            }
            if self.summary.quarantined > self.max_quarantined {
                return Err(DetectError::TooManyTraps {
                    count: self.summary.quarantined,
                    last: q.reason.clone(),
                });
            }
        }
        Ok(())
    }

    /// A guarded push's or apply's outcome, from line `offset` of `chunk`.
    fn guarded(
        &mut self,
        source: usize,
        chunk: &Chunk,
        offset: u32,
        g: &Guarded<BatchResult>,
        scan_errors: &[BatchError],
    ) -> Result<(), DetectError> {
        self.quarantined(source, chunk, offset, &g.quarantined)?;
        // After a trap the result covers the scan's rejections too.
        let scan_errors = if g.recovered { &[] } else { scan_errors };
        self.report(source, chunk, offset, &g.result, scan_errors)
    }

    fn drain(&mut self) -> Result<(), DetectError> {
        let alerts = self.router.drain()?;
        let keyed = self.router.key().is_some();
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        for (tenant, alert) in &alerts {
            if alert.kind == AlertKind::Early {
                if let Some(lag) = self.early_live_only
                    && now_ms.saturating_sub(alert.window_end) > lag.as_millis() as i64
                {
                    self.summary.early_held_back += 1;
                    continue;
                }
                self.summary.early_written += 1;
            }
            let name = keyed.then(|| self.router.tenants()[*tenant].id.to_string());
            writeln!(
                self.out,
                "{}",
                alert_line(alert, name.as_deref(), self.format)?
            )?;
            self.summary.alerts += 1;
        }
        if let Some(p) = &self.progress {
            p.records.store(self.summary.records, Ordering::Relaxed);
            p.alerts.store(self.summary.alerts, Ordering::Relaxed);
        }
        self.out.flush()?;
        Ok(())
    }

    /// A line the reader skipped for its size: reported like a rejection.
    fn too_large(&mut self, source: usize, loc: input::Loc, bytes: u64) -> Result<(), DetectError> {
        self.summary.records += 1;
        self.summary.skipped_too_large += 1;
        if self.shown < self.show_rejects {
            writeln!(
                self.err,
                "recon: {}: {}",
                self.sources[source],
                wording::too_large(loc, bytes, self.max_line as u64)
            )?;
            self.shown += 1;
        } else {
            self.hidden_rejects += 1;
        }
        Ok(())
    }

    fn unreadable(&mut self, e: input::InputError) -> Result<(), DetectError> {
        writeln!(self.err, "recon: {e}")?;
        self.summary.unreadable.push(e.to_string());
        Ok(())
    }

    /// Input arrived: live mode's clock starts again from here.
    fn input_seen(&mut self) {
        if let Some(live) = &mut self.live {
            live.last_input = Instant::now();
            live.paused = None;
            live.advanced = Duration::ZERO;
        }
    }

    fn count_bytes(&self, n: usize) {
        if let Some(p) = &self.progress {
            p.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    fn stop_requested(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }

    /// Input is quiet: in live mode, once it has been for `idle`, advance
    /// every live watermark by the quiet time (in whole seconds) and write
    /// the alerts that closes.
    fn tick(&mut self) -> Result<(), DetectError> {
        let Some(live) = &mut self.live else {
            return Ok(());
        };
        let quiet = live.last_input.elapsed();
        if quiet < live.options.idle {
            return Ok(());
        }
        if live.paused.is_none() {
            let mut marks = Vec::new();
            for t in self.router.tenants_mut() {
                let stats = t.detector.stats()?;
                marks.push(stats.rules.iter().filter_map(|r| r.watermark).max());
            }
            live.paused = Some(marks);
        }
        let quiet = Duration::from_secs(quiet.as_secs());
        if quiet <= live.advanced {
            return Ok(());
        }
        live.advanced = quiet;
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let max_lag = live.options.max_lag.as_millis() as i64;
        let marks = live.paused.clone().unwrap_or_default();
        for (t, mark) in self.router.tenants_mut().iter_mut().zip(marks) {
            let Some(mark) = mark else { continue };
            if now_ms.saturating_sub(mark) <= max_lag {
                t.detector
                    .flush(Some(mark.saturating_add(quiet.as_millis() as i64)))?;
                self.summary.live_advances += 1;
            }
        }
        self.drain()
    }

    fn handle(&mut self, msg: InputMsg) -> Result<(), DetectError> {
        match msg {
            InputMsg::Chunk(source, mut chunk) => {
                self.input_seen();
                self.count_bytes(chunk.data.len());
                let batches = self.router.push_ndjson(&chunk.data)?;
                self.pool.put(std::mem::take(&mut chunk.data));
                for b in &batches {
                    self.guarded(source, &chunk, 0, &b.outcome, &[])?;
                }
                self.drain()
            }
            InputMsg::Unreadable(_, e) => self.unreadable(e),
            InputMsg::TooLarge(source, loc, bytes) => {
                self.input_seen();
                self.too_large(source, loc, bytes)
            }
        }
    }

    /// Every chunk through `push-ndjson` on this thread.
    fn run_direct(&mut self, chunks: &Receiver<InputMsg>) -> Result<(), DetectError> {
        loop {
            match chunks.recv_timeout(TICK) {
                Ok(msg) => self.handle(msg)?,
                Err(RecvTimeoutError::Timeout) => self.tick()?,
                Err(RecvTimeoutError::Disconnected) => return Ok(()),
            }
            if self.stop_requested() {
                // What the chunker holds leaves within its linger.
                self.summary.stopped = true;
                loop {
                    match chunks.recv_timeout(self.linger + TICK) {
                        Ok(msg) => self.handle(msg)?,
                        Err(_) => return Ok(()),
                    }
                }
            }
        }
    }

    /// Chunks scanned by `workers` threads, applied here in input order.
    fn run_parallel(
        &mut self,
        runtime: &'r Runtime,
        config: &Config,
        workers: usize,
        chunks: &Receiver<InputMsg>,
    ) -> Result<(), DetectError> {
        let max_in_flight = workers * 2;
        let (job_tx, job_rx) = bounded::<Job>(max_in_flight);
        let (done_tx, done_rx) = unbounded::<Done>();
        thread::scope(|scope| {
            for i in 0..workers {
                let (jobs, done) = (job_rx.clone(), done_tx.clone());
                thread::Builder::new()
                    .name(format!("recon-scan-{i}"))
                    .spawn_scoped(scope, move || scan_worker(runtime, config, &jobs, &done))
                    .map_err(DetectError::Output)?;
            }
            drop(done_tx);
            let result = self.apply_in_order(chunks, &job_tx, &done_rx, max_in_flight);
            // Closing the job queue ends the workers, on error too.
            drop(job_tx);
            result
        })
    }

    fn apply_in_order(
        &mut self,
        chunks: &Receiver<InputMsg>,
        jobs: &Sender<Job>,
        done: &Receiver<Done>,
        max_in_flight: usize,
    ) -> Result<(), DetectError> {
        let mut next_seq = 0u64;
        let mut next_apply = 0u64;
        let mut ready: BTreeMap<u64, Done> = BTreeMap::new();
        let mut input_open = true;
        let mut stop_deadline: Option<Instant> = None;
        let stopped = || DetectError::from(HostError::Load("the scanning threads stopped".into()));
        while input_open || next_apply < next_seq {
            let in_flight = (next_seq - next_apply) as usize;
            if input_open && in_flight < max_in_flight {
                if let Some(deadline) = stop_deadline {
                    if Instant::now() >= deadline {
                        input_open = false;
                        continue;
                    }
                } else if self.stop_requested() {
                    self.summary.stopped = true;
                    stop_deadline = Some(Instant::now() + self.linger + TICK);
                }
                select! {
                    recv(chunks) -> msg => match msg {
                        Ok(InputMsg::Chunk(source, chunk)) => {
                            self.input_seen();
                            self.count_bytes(chunk.data.len());
                            // Never blocks: at most `max_in_flight` jobs are queued.
                            jobs.send(Job { seq: next_seq, source, chunk }).map_err(|_| stopped())?;
                            next_seq += 1;
                        }
                        Ok(InputMsg::Unreadable(_, e)) => self.unreadable(e)?,
                        Ok(InputMsg::TooLarge(source, loc, bytes)) => {
                            self.too_large(source, loc, bytes)?;
                        }
                        Err(_) => input_open = false,
                    },
                    recv(done) -> d => {
                        let d = d.map_err(|_| stopped())?;
                        ready.insert(d.seq, d);
                    }
                    default(TICK) => {
                        if next_apply == next_seq {
                            self.tick()?;
                        }
                    }
                }
            } else {
                let d = done.recv().map_err(|_| stopped())?;
                ready.insert(d.seq, d);
            }
            while let Some(mut d) = ready.remove(&next_apply) {
                next_apply += 1;
                self.summary.recoveries += d.recoveries;
                let scanned = d.scanned?;
                self.quarantined(d.source, &d.chunk, 0, &scanned.quarantined)?;
                for piece in &scanned.result {
                    let raw = &d.chunk.data[piece.bytes.clone()];
                    let g = self.router.tenants_mut()[0]
                        .detector
                        .apply(&piece.scanned.payload, raw)?;
                    self.guarded(
                        d.source,
                        &d.chunk,
                        piece.first_line,
                        &g,
                        &piece.scanned.errors,
                    )?;
                }
                self.pool.put(std::mem::take(&mut d.chunk.data));
                self.drain()?;
            }
        }
        Ok(())
    }
}

/// A chunk for a worker to scan.
struct Job {
    seq: u64,
    source: usize,
    chunk: Chunk,
}

/// A worker's result, with its chunk: the detector falls back on the
/// chunk's records if applying the payload traps.
struct Done {
    seq: u64,
    source: usize,
    chunk: Chunk,
    scanned: Result<Guarded<Vec<ScannedPiece>>, HostError>,
    /// Times the worker's scanner was rebuilt after a trap in this scan.
    recoveries: u64,
}

fn scan_worker(runtime: &Runtime, config: &Config, jobs: &Receiver<Job>, done: &Sender<Done>) {
    let mut scanner = GuardedScanner::new(runtime, config);
    for Job { seq, source, chunk } in jobs {
        let (scanned, recoveries) = match &mut scanner {
            Ok(scanner) => {
                let before = scanner.recoveries();
                let scanned = scanner.scan(&chunk.data);
                (scanned, scanner.recoveries() - before)
            }
            Err(e) => (Err(HostError::Load(e.to_string())), 0),
        };
        let failed = scanned.is_err();
        if done
            .send(Done {
                seq,
                source,
                chunk,
                scanned,
                recoveries,
            })
            .is_err()
            || failed
        {
            return;
        }
    }
}

/// Runs the rules over `inputs` (`-` is stdin), writing alerts to `out`
/// and diagnostics to `err`.
pub fn detect<O: Write, E: Write>(
    runtime: &Runtime,
    inputs: &[PathBuf],
    options: &DetectOptions,
    out: &mut O,
    err: &mut E,
) -> Result<Summary, DetectError> {
    // Early alerts unless asked otherwise: on in live mode (written for a
    // live stream only, see `Sink::drain`), off otherwise (see
    // docs/streaming.md).
    let explicit_early = options.settings.early_alerts.is_some();
    let mut resolved = options.settings.clone();
    resolved.early_alerts = Some(
        options
            .settings
            .early_alerts
            .unwrap_or(options.live.is_some()),
    );
    let settings = &resolved;
    let mut config = settings.detector_config()?;
    let workers = settings.workers()?;
    let max_line = config
        .limits
        .max_event_bytes
        .unwrap_or(DEFAULT_MAX_EVENT_BYTES) as usize;
    let chunk = ChunkOptions {
        chunk_bytes: settings.chunk_bytes()?,
        linger: options.linger,
        max_line_bytes: max_line,
    };
    let guard = settings.guard()?;
    let quarantine = match &options.quarantine {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| {
                DetectError::Quarantine(format!("creating {}: {e}", path.display()))
            })?,
        )),
        None => None,
    };
    let tenant_key = settings.tenant_key()?;
    let fingerprint_of = |config: &Config| -> Result<String, SettingsError> {
        Ok(state::fingerprint(config, tenant_key.as_ref()))
    };
    let mut fingerprint = fingerprint_of(&config)?;
    // Held until the run ends: a second run on the same state is refused.
    let _lock = match &options.state {
        Some(path) => Some(state::lock(path)?),
        None => None,
    };
    let saved = match &options.state {
        Some(path) => state::load(path)?,
        None => Vec::new(),
    };
    // A stream resumed without saying whether it wants early alerts keeps
    // the setting it was saved with (its live-mode default may differ from
    // this run's).
    if !explicit_early && !saved.is_empty() && saved.iter().all(|e| e.config != fingerprint) {
        let mut other = config.clone();
        other.early_alerts = match other.early_alerts {
            Some(true) => None,
            _ => Some(true),
        };
        let other_fingerprint = fingerprint_of(&other)?;
        if saved.iter().all(|e| e.config == other_fingerprint) {
            config = other;
            fingerprint = other_fingerprint;
        }
    }
    let keyed = settings.tenant_key()?.is_some();
    let snapshot = match &options.state {
        Some(path) if !keyed => {
            if let Some(other) = saved.iter().find(|e| e.rule != state::DETECTOR) {
                // Saved by a run with a tenant key.
                return Err(StateError::ConfigChanged {
                    path: path.clone(),
                    rule: other.rule.clone(),
                }
                .into());
            }
            state::snapshot_of(path, &saved, state::DETECTOR, &fingerprint)?
        }
        _ => None,
    };
    let key = settings.tenant_key()?;
    let mut router = match (&key, snapshot) {
        (None, Some(bytes)) => {
            let mut r = Router::new(runtime, &config, guard, None, 0)?;
            r.tenants_mut()[0].detector =
                crate::guard::GuardedDetector::restore(runtime, &bytes, guard)?;
            r
        }
        _ => Router::new(runtime, &config, guard, key.clone(), settings.max_tenants())?,
    };
    if let (Some(path), Some(_)) = (&options.state, &key) {
        for entry in &saved {
            let id = TenantId::from_state_name(&entry.rule).ok_or_else(|| {
                StateError::ConfigChanged {
                    path: path.clone(),
                    rule: entry.rule.clone(),
                }
            })?;
            if let Some(bytes) = state::snapshot_of(path, &saved, &entry.rule, &fingerprint)? {
                router.restore(id, &bytes)?;
            }
        }
    }
    let listing = sources::list(inputs, options.order);
    let mut sink = Sink {
        router,
        quarantine,
        max_quarantined: settings.max_quarantined(),
        sources: listing.sources.iter().map(|s| s.name()).collect(),
        out,
        err,
        show_rejects: options.show_rejects,
        shown: 0,
        hidden_rejects: 0,
        hidden_notices: 0,
        summary: Summary {
            allowed_lateness_ms: config
                .allowed_lateness_ms
                .unwrap_or(recon_guest::config::DEFAULT_ALLOWED_LATENESS_MS),
            ..Summary::default()
        },
        pool: BufferPool::default(),
        max_line,
        early_live_only: options.live.filter(|_| !explicit_early).map(|l| l.max_lag),
        live: options.live.map(|options| LiveState {
            options,
            last_input: Instant::now(),
            paused: None,
            advanced: Duration::ZERO,
        }),
        stop: options.stop.clone(),
        format: options.format,
        progress: options.progress.clone(),
        linger: options.linger,
    };
    sink.summary.skipped_files = listing.skipped;
    let (in_tx, in_rx) = bounded::<InputMsg>(workers * 2 + 2);
    let inputs = listing.sources;
    let pool = sink.pool.clone();
    let chunker = thread::Builder::new()
        .name("recon-chunk".into())
        .spawn(move || input::chunk_inputs(&inputs, chunk, &pool, &in_tx))
        .map_err(DetectError::Output)?;
    let run = if workers <= 1 || keyed {
        sink.run_direct(&in_rx)
    } else {
        sink.run_parallel(runtime, &config, workers, &in_rx)
    };
    // Unblocks the chunker if the run stopped early.
    drop(in_rx);
    if !sink.summary.stopped {
        // Stopped, the chunker may wait on a reader blocked in a read that
        // will not return: leave it.
        let _ = chunker.join();
    }
    run?;
    match &options.state {
        Some(path) if !options.finish => {
            // Keep the stream open: save the detector for the next run,
            // after handing out its alerts so none is saved twice.
            sink.drain()?;
            let mut entries = Vec::new();
            for t in sink.router.tenants_mut() {
                let bytes = t.detector.snapshot()?;
                let name = if keyed {
                    t.id.state_name()
                } else {
                    state::DETECTOR.to_owned()
                };
                entries.push(state::saved(&name, &fingerprint, &bytes));
            }
            state::save(path, entries)?;
        }
        _ => {
            sink.router.flush(None)?;
            sink.drain()?;
            if let Some(path) = &options.state {
                state::remove(path)?;
            }
        }
    }
    if sink.hidden_rejects > 0 {
        writeln!(
            sink.err,
            "recon: {} more rejected records not shown (--show-rejects)",
            sink.hidden_rejects
        )?;
    }
    if sink.hidden_notices > 0 {
        writeln!(
            sink.err,
            "recon: {} more far-ahead notices not shown (--show-rejects); those records were \
             counted, not rejected",
            sink.hidden_notices
        )?;
    }
    let all = sink.router.stats()?;
    sink.summary.recoveries += sink.router.recoveries();
    sink.summary.rules = sum_rules(&all);
    if keyed {
        sink.summary.tenants = sink
            .router
            .tenants()
            .iter()
            .zip(&all)
            .map(|(t, stats)| TenantSummary {
                tenant: t.id.clone(),
                alerts: t.alerts,
                quarantined: t.quarantined,
                stats: stats.clone(),
            })
            .collect();
    }
    sink.summary.stats = all.into_iter().next();
    Ok(sink.summary)
}

/// Per rule counters summed over several detectors (the latest watermark).
fn sum_rules(all: &[Stats]) -> Vec<RuleSummary> {
    let mut out: Vec<RuleSummary> = Vec::new();
    for r in all.iter().flat_map(|s| &s.rules) {
        let Some(acc) = out.iter_mut().find(|a| a.rule == rule_name(r.rule)) else {
            out.push(RuleSummary {
                rule: rule_name(r.rule),
                stats: r.clone(),
            });
            continue;
        };
        let a = &mut acc.stats;
        a.pushed += r.pushed;
        a.accepted += r.accepted;
        a.filtered += r.filtered;
        a.rejected += r.rejected;
        a.late += r.late;
        a.open_windows += r.open_windows;
        a.open_groups += r.open_groups;
        a.alerts += r.alerts;
        a.early_alerts += r.early_alerts;
        a.late_worst_ms = a.late_worst_ms.max(r.late_worst_ms);
        a.lateness_needed_ms = a.lateness_needed_ms.max(r.lateness_needed_ms);
        a.ahead += r.ahead;
        a.watermark = a.watermark.max(r.watermark);
        for rc in &r.rejected_by_reason {
            match a
                .rejected_by_reason
                .iter_mut()
                .find(|x| x.reason == rc.reason)
            {
                Some(x) => x.count += rc.count,
                None => a.rejected_by_reason.push(*rc),
            }
        }
    }
    out
}

fn rule_line(name: &str, st: &RuleStats) -> String {
    let reasons: Vec<String> = st
        .rejected_by_reason
        .iter()
        .map(|rc| format!("{} {}", reason_name(rc.reason), rc.count))
        .collect();
    let reasons = if reasons.is_empty() {
        String::new()
    } else {
        format!(" ({})", reasons.join(", "))
    };
    let ahead = if st.ahead > 0 {
        format!(", far ahead {}", st.ahead)
    } else {
        String::new()
    };
    let late = if st.late_worst_ms > 0 {
        format!(" (the worst {} behind)", seconds(st.late_worst_ms))
    } else {
        String::new()
    };
    format!(
        "{name}: events {}, accepted {}, filtered {}, rejected {}{reasons}, late {}{late}{ahead}, alerts {}",
        st.pushed, st.accepted, st.filtered, st.rejected, st.late, st.alerts
    )
}

/// Milliseconds as seconds for people: `579 s`, `1.5 s`, `0.001 s`.
fn seconds(ms: u64) -> String {
    if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        let text = format!("{}.{:03}", ms / 1000, ms % 1000);
        format!("{} s", text.trim_end_matches('0'))
    }
}

/// The advice on late records: how many, how late, and the allowed
/// lateness (whole seconds, as the option takes it) that would have kept
/// every one of them; `None` when nothing was late for want of lateness.
pub fn late_advice(s: &Summary) -> Option<String> {
    let rules = s.rules.iter().map(|r| &r.stats);
    let late: u64 = rules.clone().map(|r| r.late).max().unwrap_or(0);
    let worst = rules.clone().map(|r| r.late_worst_ms).max().unwrap_or(0);
    let needed = rules.map(|r| r.lateness_needed_ms).max().unwrap_or(0);
    if late == 0 || needed == 0 {
        return None;
    }
    let suggest = needed.div_ceil(1000);
    Some(format!(
        "recon: {late} records arrived too late to count (after their window was final; the worst \
         {} behind the newest record); an allowed lateness of {suggest} s would have kept them all \
         (now {}): --allowed-lateness {suggest}, or allowed_lateness_seconds = {suggest} in the \
         configuration file",
        seconds(worst),
        seconds(s.allowed_lateness_ms),
    ))
}

/// The summary as the lines `recon detect` prints on stderr.
pub fn summary_lines(s: &Summary) -> Vec<String> {
    let early = if s.early_written > 0 {
        format!(
            " ({} early, {} final)",
            s.early_written,
            s.alerts - s.early_written
        )
    } else {
        String::new()
    };
    let mut lines = vec![format!(
        "recon: read {} records; {} alerts{early}",
        s.records, s.alerts
    )];
    if s.early_held_back > 0 {
        lines.push(format!(
            "recon: {} early alerts not written: their stream is more than live.max_lag_seconds \
             behind this machine's clock (a backtest: its final alerts are all written; --early \
             writes early ones too)",
            s.early_held_back
        ));
    }
    if s.stopped {
        lines.push(
            "recon: stopped by a signal: what was read was processed and the stream ended \
             (or saved) as at the end of input"
                .to_owned(),
        );
    }
    if s.live_advances > 0 {
        lines.push(format!(
            "recon: live mode: {} watermark advances on this machine's clock while input was quiet",
            s.live_advances
        ));
    }
    if s.quarantined > 0 {
        lines.push(format!(
            "recon: {} records quarantined: each made the component trap on its own \
             (not counted by the rules below)",
            s.quarantined
        ));
    }
    if s.recoveries > 0 {
        lines.push(format!(
            "recon: {} component instances rebuilt after a trap (each resumed where the \
             trapped one stopped: nothing but the quarantined records was lost)",
            s.recoveries
        ));
    }
    let files = s.skipped_files;
    if files.total() > 0 {
        lines.push(format!(
            "recon: {} files passed over in directories and archives: {} CloudTrail-Digest, \
             {} not CloudTrail by their name",
            files.total(),
            files.digests,
            files.other
        ));
    }
    if s.skipped_too_large > 0 {
        lines.push(format!(
            "recon: {} lines longer than limits.max_event_bytes skipped by the reader \
             (not counted by the rules below)",
            s.skipped_too_large
        ));
    }
    for r in &s.rules {
        lines.push(format!(
            "recon: {}",
            rule_line(r.rule.alert_name(), &r.stats)
        ));
    }
    lines.extend(late_advice(s));
    for t in &s.tenants {
        let st = &t.stats;
        let late: u64 = st.rules.iter().map(|r| r.late).sum();
        let ahead = st.rules.iter().map(|r| r.ahead).max().unwrap_or(0);
        let limited: u64 = st
            .rules
            .iter()
            .flat_map(|r| &r.rejected_by_reason)
            .filter(|rc| matches!(rc.reason, RejectReason::StateLimit))
            .map(|rc| rc.count)
            .sum();
        let mut line = format!(
            "recon: tenant {}: records {}, alerts {}",
            t.tenant, st.pushed, t.alerts
        );
        for (what, n) in [
            ("rejected", st.rejected),
            ("state-limit", limited),
            ("late", late),
            ("far ahead", ahead),
            ("quarantined", t.quarantined),
        ] {
            if n > 0 {
                line.push_str(&format!(", {what} {n}"));
            }
        }
        lines.push(line);
    }
    lines
}
