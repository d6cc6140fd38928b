//! The parallel path of a run: `workers` threads, each with its own
//! component instance and `scanner`, read and judge the records of a chunk
//! (the costly, stateless part); the detecting thread applies their
//! payloads to its one detector in input order (`apply`: windows,
//! watermark, alerts). The result is exactly what one detector fed the
//! records one by one gives.

use std::collections::BTreeMap;
use std::io::Write;
use std::thread;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender, bounded, select, unbounded};

use crate::guard::{Guarded, GuardedScanner, ScannedPiece};
use crate::input::{Chunk, InputMsg};
use crate::runtime::{Config, HostError, Runtime};

use super::DetectError;
use super::sink::{Sink, TICK};

impl<'r, O: Write, E: Write> Sink<'_, 'r, O, E> {
    /// Chunks scanned by `workers` threads, applied here in input order.
    pub(super) fn run_parallel(
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
                        Ok(InputMsg::Control(source, _)) => self.control(source),
                        Ok(InputMsg::Ended(source, sample)) => self.tally(source).sample = sample,
                        Ok(InputMsg::BadEnvelope(source, loc, message)) => {
                            self.bad_envelope(source, loc, &message)?;
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
