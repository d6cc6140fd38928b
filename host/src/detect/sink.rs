//! The detecting side of a run: the detectors (through the tenant
//! router), where alerts and diagnostics go, live mode's clocks, and the
//! running summary. The direct path (`run_direct`) pushes every chunk
//! through `push-ndjson` on this thread; the parallel path is in
//! `parallel`.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};

use recon_reader::verdict::Tally;

use crate::guard::{Guarded, Quarantined};
use crate::input::{BufferPool, Chunk, InputError, InputMsg, Loc};
use crate::live::{LiveClock, LiveOptions, now_ms};
use crate::output::{Format, alert_line};
use crate::runtime::{AlertKind, BatchError, BatchResult, HostError};
use crate::tenants::Router;

use super::diagnostics::{Diagnostics, reason_name};
use super::summary::Summary;
use super::{DetectError, Progress};

/// How often the detecting thread looks at the clock and the stop flag
/// while input is quiet.
pub(super) const TICK: Duration = Duration::from_millis(100);

/// Live mode's clocks, one per detector (tenant). A tenant's clock starts
/// at the first tick after the tenant appears; input to any tenant starts
/// every clock again, as the input is one stream.
pub(super) struct Live {
    pub options: LiveOptions,
    pub clocks: Vec<LiveClock>,
}

/// The detecting side of a run.
pub(super) struct Sink<'a, 'r, O: Write, E: Write> {
    pub router: Router<'r>,
    pub quarantine: Option<std::io::BufWriter<std::fs::File>>,
    pub max_quarantined: u64,
    pub out: &'a mut O,
    pub diag: Diagnostics<'a, E>,
    pub summary: Summary,
    pub pool: BufferPool,
    pub live: Option<Live>,
    /// Live mode's default early alerts: written only for a live stream,
    /// one whose alert window is within this lag of the wall clock.
    pub early_live_only: Option<Duration>,
    pub stop: Option<Arc<AtomicBool>>,
    pub format: Format,
    pub progress: Option<Arc<Progress>>,
    /// How long buffered lines may wait in the chunker (for a clean stop).
    pub linger: Duration,
    /// Each input's account (by source index), for its verdict at the end.
    pub tallies: Vec<Tally>,
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
        let t = self.tally(source);
        t.records += u64::from(result.records);
        for e in scan_errors.iter().chain(&result.errors) {
            if e.rule.is_none() {
                t.reject(reason_name(e.error.reason));
            }
        }
        // In input order, far-ahead times first on a tie, as the
        // component's `detector.read` reports them (so every host shows
        // the same first `--show-rejects` reports).
        let mut errors: Vec<&BatchError> = scan_errors.iter().chain(&result.errors).collect();
        errors.sort_by_key(|e| e.index);
        let mut errors = errors.into_iter().peekable();
        let mut ahead = result.ahead.iter().peekable();
        loop {
            match (ahead.peek(), errors.peek()) {
                (None, None) => break,
                (Some(&&a), e) if e.is_none_or(|e| a <= e.index) => {
                    ahead.next();
                    self.diag.far_ahead(source, chunk.loc(a + offset))?;
                }
                _ => {
                    let e = errors.next().expect("peeked");
                    self.diag.rejected(
                        source,
                        chunk.loc(e.index + offset),
                        e.error.reason,
                        &e.error.message,
                        e.rule.as_deref(),
                    )?;
                }
            }
        }
        Ok(())
    }

    /// Records that trapped alone: reported, counted, and written to the
    /// quarantine file if there is one.
    pub(super) fn quarantined(
        &mut self,
        source: usize,
        chunk: &Chunk,
        offset: u32,
        records: &[Quarantined],
    ) -> Result<(), DetectError> {
        for q in records {
            self.summary.records += 1;
            self.tally(source).records += 1;
            self.summary.quarantined += 1;
            self.diag
                .quarantined(source, chunk.loc(q.index + offset), &q.reason)?;
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
    pub(super) fn guarded(
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

    /// Writes the detectors' alerts (live mode's default holds back early
    /// alerts of a stream that is not live).
    pub(super) fn drain(&mut self) -> Result<(), DetectError> {
        let alerts = self.router.drain()?;
        let keyed = self.router.key().is_some();
        let now_ms = now_ms();
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
    pub(super) fn too_large(
        &mut self,
        source: usize,
        loc: Loc,
        bytes: u64,
    ) -> Result<(), DetectError> {
        self.summary.records += 1;
        self.summary.skipped_too_large += 1;
        self.tally(source).skip(false);
        self.diag.too_large(source, loc, bytes)?;
        Ok(())
    }

    /// A value of an envelope that holds no record: reported like a
    /// rejection for its shape.
    pub(super) fn bad_envelope(
        &mut self,
        source: usize,
        loc: Loc,
        message: &str,
    ) -> Result<(), DetectError> {
        self.summary.records += 1;
        self.summary.skipped_envelopes += 1;
        self.tally(source).skip(true);
        self.diag.bad_envelope(source, loc, message)?;
        Ok(())
    }

    /// A CloudWatch Logs control message, skipped: counted.
    pub(super) fn control(&mut self, _source: usize) {
        self.summary.control_messages += 1;
    }

    /// Input `source`'s account, for its verdict at the end.
    pub(super) fn tally(&mut self, source: usize) -> &mut Tally {
        if self.tallies.len() <= source {
            self.tallies.resize_with(source + 1, Tally::default);
        }
        &mut self.tallies[source]
    }

    pub(super) fn unreadable(&mut self, e: InputError) -> Result<(), DetectError> {
        let what = e.to_string();
        self.diag.unreadable(&what)?;
        self.summary.unreadable.push(what);
        Ok(())
    }

    /// Input arrived: live mode's clocks start again from here.
    pub(super) fn input_seen(&mut self) {
        if let Some(live) = &mut self.live {
            live.clocks.iter_mut().for_each(LiveClock::input_seen);
        }
    }

    pub(super) fn count_bytes(&self, n: usize) {
        if let Some(p) = &self.progress {
            p.bytes.fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    pub(super) fn stop_requested(&self) -> bool {
        self.stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::Relaxed))
    }

    /// Input is quiet: in live mode, move every live stream's watermark on
    /// this machine's clock (see `live`) and write the alerts that closes.
    pub(super) fn tick(&mut self) -> Result<(), DetectError> {
        let Some(live) = &mut self.live else {
            return Ok(());
        };
        let tenants = self.router.tenants_mut();
        live.clocks.resize_with(tenants.len(), LiveClock::new);
        let mut advanced = false;
        for (t, clock) in tenants.iter_mut().zip(&mut live.clocks) {
            let to = clock.step(&live.options, || {
                let stats = t.detector.stats()?;
                Ok::<_, HostError>(stats.rules.iter().filter_map(|r| r.watermark).max())
            })?;
            if let Some(to) = to {
                t.detector.flush(Some(to))?;
                self.summary.live_advances += 1;
                advanced = true;
            }
        }
        if advanced { self.drain() } else { Ok(()) }
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
            InputMsg::Control(source, _) => {
                self.control(source);
                Ok(())
            }
            InputMsg::Ended(source, sample) => {
                self.tally(source).sample = sample;
                Ok(())
            }
            InputMsg::BadEnvelope(source, loc, message) => {
                self.input_seen();
                self.bad_envelope(source, loc, &message)
            }
        }
    }

    /// Every chunk through `push-ndjson` on this thread.
    pub(super) fn run_direct(&mut self, chunks: &Receiver<InputMsg>) -> Result<(), DetectError> {
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
}
