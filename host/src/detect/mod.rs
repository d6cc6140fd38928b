//! The `recon detect` pipeline as a library function: read inputs, run
//! every rule over one parse of each record, write alerts as NDJSON,
//! report rejected records, and return a summary.
//!
//! The work is split the way the contract allows: a chunker thread cuts
//! the input into NDJSON chunks (with a reader thread per input doing the
//! I/O and gzip; see `input`); the detecting thread (`sink`) hands them to
//! the detectors, directly or, with several workers, through scanning
//! threads (`parallel`). The run starts from, and ends in, its state file
//! if it keeps one (`resume`); it reports single records as it goes
//! (`diagnostics`) and returns its account (`summary`).
//!
//! ```text
//! mod.rs      orchestration: configuration in, threads up, state out
//!  ├ resume       state file: resume, save, remove
//!  ├ sink         the detecting thread; live mode's ticks; alerts out
//!  ├ parallel     scanning threads, payloads applied in input order
//!  ├ diagnostics  single-record reports on stderr, with their budget
//!  └ summary      the run's account and the lines printed from it
//! ```

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::thread;
use std::time::Duration;

use crossbeam_channel::bounded;

use crate::input::{self, BufferPool, ChunkOptions, InputMsg};
use crate::output::Format;
use crate::runtime::{HostError, Runtime};
use crate::settings::RunConfig;
use crate::sources::{self, Order};
use crate::state::StateError;

mod diagnostics;
mod parallel;
mod resume;
mod sink;
mod summary;

pub use diagnostics::reason_name;
pub use summary::{RuleSummary, Summary, TenantSummary, late_advice, summary_lines};

use diagnostics::Diagnostics;
use sink::{Live, Sink};

/// Default [`DetectOptions::linger`]: the chunker's, 200 ms.
pub use crate::input::DEFAULT_LINGER;
/// Default [`DetectOptions::show_rejects`]: the first 20 reports.
pub const DEFAULT_SHOW_REJECTS: usize = 20;

/// What `detect` needs beyond the inputs.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    /// The run's configuration, resolved from the file and the options.
    pub config: RunConfig,
    /// Most rejected records reported one by one on the diagnostics
    /// stream; the rest are counted in the summary.
    pub show_rejects: usize,
    /// List far-ahead notices one by one, within `show_rejects`, rather
    /// than one summary line per input (`recon detect --show-rejects`).
    pub list_notices: bool,
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
    /// (with `config.live`; see [`crate::live`]). Off: windows close on
    /// event time only. Live mode also turns early alerts on when
    /// `config.early_alerts` leaves them unset, writing them only for a
    /// stream within `max_lag` of the wall clock (docs/streaming.md).
    pub live: bool,
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

impl DetectOptions {
    /// Options with every default but the configuration: no state file,
    /// no quarantine file, not live, native alerts, inputs in the order
    /// given, the first [`DEFAULT_SHOW_REJECTS`] rejections reported.
    pub fn new(config: RunConfig) -> DetectOptions {
        DetectOptions {
            config,
            show_rejects: DEFAULT_SHOW_REJECTS,
            list_notices: false,
            linger: DEFAULT_LINGER,
            state: None,
            finish: false,
            quarantine: None,
            live: false,
            stop: None,
            format: Format::Native,
            progress: None,
            order: Order::Given,
        }
    }
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

/// A failure that stops the run.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
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

/// Runs the rules over `inputs` (`-` is stdin), writing alerts to `out`
/// and diagnostics to `err`.
pub fn detect<O: Write, E: Write>(
    runtime: &Runtime,
    inputs: &[PathBuf],
    options: &DetectOptions,
    out: &mut O,
    err: &mut E,
) -> Result<Summary, DetectError> {
    let run = &options.config;
    // Early alerts unless asked otherwise: on in live mode (written for a
    // live stream only, see `Sink::drain`), off otherwise (see
    // docs/streaming.md).
    let early = run.early_alerts.unwrap_or(options.live);
    let quarantine = match &options.quarantine {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| {
                DetectError::Quarantine(format!("creating {}: {e}", path.display()))
            })?,
        )),
        None => None,
    };
    let start = resume::start(runtime, run, early, options.state.as_deref())?;
    for (tenant, rules) in &start.restarted {
        let _ = writeln!(
            err,
            "recon: tenant {tenant}: {} changed since the state was saved (or {}); {} over \
             with empty windows, every other rule kept its state",
            rules.join(", "),
            if rules.len() == 1 {
                "is new"
            } else {
                "are new"
            },
            if rules.len() == 1 {
                "it starts"
            } else {
                "they start"
            },
        );
    }
    let config = start.config;
    let keyed = run.tenant_key.is_some();
    let listing = sources::list(inputs, options.order);
    let mut sink = Sink {
        router: start.router,
        quarantine,
        max_quarantined: run.max_quarantined,
        out,
        diag: Diagnostics::new(
            err,
            listing.sources.iter().map(|s| s.name()).collect(),
            options.show_rejects,
            options.list_notices,
            run.max_line_bytes(),
        ),
        summary: Summary {
            allowed_lateness_ms: run.allowed_lateness_ms(),
            skipped_files: listing.skipped,
            ..Summary::default()
        },
        pool: BufferPool::default(),
        early_live_only: (options.live && run.early_alerts.is_none()).then_some(run.live.max_lag),
        live: options.live.then(|| Live {
            options: run.live,
            clocks: Vec::new(),
        }),
        stop: options.stop.clone(),
        format: options.format,
        progress: options.progress.clone(),
        linger: options.linger,
        tallies: Vec::new(),
    };
    let chunk = ChunkOptions {
        chunk_bytes: run.chunk_bytes,
        linger: options.linger,
        max_line_bytes: run.max_line_bytes(),
    };
    let (in_tx, in_rx) = bounded::<InputMsg>(run.workers * 2 + 2);
    let inputs = listing.sources;
    let pool = sink.pool.clone();
    let chunker = thread::Builder::new()
        .name("recon-chunk".into())
        .spawn(move || input::chunk_inputs(&inputs, chunk, &pool, &in_tx))
        .map_err(DetectError::Output)?;
    let result = if run.workers <= 1 || keyed {
        sink.run_direct(&in_rx)
    } else {
        sink.run_parallel(runtime, &config, run.workers, &in_rx)
    };
    // Unblocks the chunker if the run stopped early.
    drop(in_rx);
    if !sink.summary.stopped {
        // Stopped, the chunker may wait on a reader blocked in a read that
        // will not return: leave it.
        let _ = chunker.join();
    }
    result?;
    for (source, t) in sink.tallies.iter().enumerate() {
        if let Some(v) = t.verdict() {
            let name = sink.diag.source_name(source).to_owned();
            sink.summary.verdicts.push((name, v));
        }
    }
    match &start.state {
        Some(state) if !options.finish => {
            // Keep the stream open: save the detectors for the next run,
            // after handing out their alerts so none is saved twice.
            sink.drain()?;
            state.save(&mut sink.router)?;
        }
        state => {
            sink.router.flush(None)?;
            sink.drain()?;
            if let Some(state) = state {
                state.remove()?;
            }
        }
    }
    sink.diag.finish()?;
    let all = sink.router.stats()?;
    sink.summary.recoveries += sink.router.recoveries();
    sink.summary.rules = summary::sum_rules(&all);
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
