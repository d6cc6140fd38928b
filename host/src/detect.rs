//! The `recon detect` pipeline as a library function: read inputs, push
//! them through one detector per rule in one component instance, write
//! alerts as NDJSON, report rejected records, and return a summary.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Duration;

use crate::input::{self, InputError, Record};
use crate::output::alert_json;
use crate::runtime::{DetectorHandle, HostError, Instance, RejectReason, Runtime, Stats};
use crate::settings::{FileSettings, RuleName, SettingsError};
use crate::state::{self, StateError};

/// What `detect` needs beyond the inputs.
#[derive(Debug, Clone)]
pub struct DetectOptions {
    /// Rules, profile, lateness, limits, batch size, sandbox.
    pub settings: FileSettings,
    /// Most rejected records reported one by one on the diagnostics
    /// stream; the rest are counted in the summary.
    pub show_rejects: usize,
    /// Longest a partial batch waits for more input before it is pushed,
    /// so that alerts from a slow stream (a pipe, `tail -f`) are not held
    /// back until a batch fills. Reading files, batches fill long before.
    pub linger: Duration,
    /// A state file: detectors resume from it, and at the end their
    /// snapshots are saved to it instead of ending the stream (open windows
    /// carry over to the next run), unless `finish` is set.
    pub state: Option<PathBuf>,
    /// With `state`: end the stream (close every window) and remove the
    /// file.
    pub finish: bool,
}

/// Default [`DetectOptions::linger`]: 200 ms.
pub const DEFAULT_LINGER: Duration = Duration::from_millis(200);

/// Counters of one rule after a run.
#[derive(Debug, Clone)]
pub struct RuleSummary {
    /// The rule.
    pub rule: RuleName,
    /// The detector's final counters.
    pub stats: Stats,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Records read from all inputs.
    pub records: u64,
    /// Alerts written.
    pub alerts: u64,
    /// Per rule counters.
    pub rules: Vec<RuleSummary>,
    /// Inputs that could not be read (whole or in part), with the reason.
    pub unreadable: Vec<String>,
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
    Encode(#[from] serde_json::Error),
}

/// A record's input (index into the inputs), number and line.
type Where = (usize, u64, Option<u64>);

struct Run<'a, O: Write, E: Write> {
    instance: Instance,
    detectors: Vec<(RuleName, DetectorHandle)>,
    /// Input names for messages.
    sources: Vec<String>,
    out: &'a mut O,
    err: &'a mut E,
    show_rejects: usize,
    shown: usize,
    summary: Summary,
}

fn reason_name(r: RejectReason) -> &'static str {
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

impl<O: Write, E: Write> Run<'_, O, E> {
    fn push(&mut self, batch: &[String], where_: &[Where]) -> Result<(), DetectError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut seen = BTreeSet::new();
        for i in 0..self.detectors.len() {
            let (rule, h) = self.detectors[i];
            let result = self.instance.push_batch(h, batch)?;
            for e in result.errors {
                // Both detectors reject a malformed record alike: say it once.
                let at = match where_.get(e.index as usize) {
                    Some(&(source, n, l)) => {
                        format!("{}: {}", self.sources[source], input::location(n, l))
                    }
                    None => "record ?".to_owned(),
                };
                let line = format!(
                    "recon: {at}: rejected ({}): {}",
                    reason_name(e.error.reason),
                    e.error.message
                );
                let line = if matches!(e.error.reason, RejectReason::StateLimit) {
                    format!("{line} [{}]", rule.alert_name())
                } else {
                    line
                };
                if seen.insert(line.clone()) {
                    if self.shown < self.show_rejects {
                        writeln!(self.err, "{line}")?;
                    }
                    self.shown += 1;
                }
            }
        }
        self.drain()
    }

    fn drain(&mut self) -> Result<(), DetectError> {
        for i in 0..self.detectors.len() {
            let h = self.detectors[i].1;
            for alert in self.instance.drain(h)? {
                writeln!(self.out, "{}", alert_json(&alert)?)?;
                self.summary.alerts += 1;
            }
        }
        self.out.flush()?;
        Ok(())
    }
}

/// What the reader thread hands the detection loop.
enum Msg {
    /// A record of input `source`.
    Record(usize, Record),
    /// An input could not be read (whole or from some point on).
    Unreadable(InputError),
}

/// Reads every input in order on its own thread, so that the detection
/// loop can push a partial batch when input pauses (see
/// [`DetectOptions::linger`]). The channel is bounded: a slow detector
/// holds the reader back instead of buffering the input.
fn spawn_reader(inputs: Vec<PathBuf>, capacity: usize) -> Receiver<Msg> {
    let (tx, rx) = mpsc::sync_channel(capacity);
    thread::spawn(move || {
        for (source, path) in inputs.iter().enumerate() {
            let reader = match input::open(path) {
                Ok(r) => r,
                Err(e) => {
                    if tx.send(Msg::Unreadable(e)).is_err() {
                        return;
                    }
                    continue;
                }
            };
            for record in reader {
                let msg = match record {
                    Ok(r) => Msg::Record(source, r),
                    Err(e) => Msg::Unreadable(e),
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
        }
    });
    rx
}

/// The name messages use for an input.
fn source_name(path: &Path) -> String {
    if path.as_os_str() == "-" {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}

/// Runs the detectors over `inputs` (`-` is stdin), writing alerts to `out`
/// and diagnostics to `err`.
pub fn detect<O: Write, E: Write>(
    runtime: &Runtime,
    inputs: &[PathBuf],
    options: &DetectOptions,
    out: &mut O,
    err: &mut E,
) -> Result<Summary, DetectError> {
    let settings = &options.settings;
    let batch_size = settings.batch_size()?;
    let mut instance = runtime.instantiate()?;
    let saved = match &options.state {
        Some(path) => state::load(path)?,
        None => Vec::new(),
    };
    let mut detectors = Vec::new();
    let mut configs = Vec::new();
    for rule in settings.rules() {
        let config = settings.detector_config(rule)?;
        let fingerprint = format!("{config:?}");
        let snapshot = match &options.state {
            Some(path) => state::snapshot_of(path, &saved, rule.alert_name(), &fingerprint)?,
            None => None,
        };
        let handle = match snapshot {
            Some(bytes) => instance.restore(&bytes)?,
            None => instance.create(&config)?,
        };
        detectors.push((rule, handle));
        configs.push(fingerprint);
    }
    let mut run = Run {
        instance,
        detectors,
        sources: inputs.iter().map(|p| source_name(p)).collect(),
        out,
        err,
        show_rejects: options.show_rejects,
        shown: 0,
        summary: Summary::default(),
    };
    let mut batch: Vec<String> = Vec::with_capacity(batch_size);
    // Where each batched record came from, formatted only if it is rejected.
    let mut where_: Vec<Where> = Vec::with_capacity(batch_size);
    let rx = spawn_reader(inputs.to_vec(), batch_size.saturating_mul(4));
    loop {
        match rx.recv_timeout(options.linger) {
            Ok(Msg::Record(source, r)) => {
                run.summary.records += 1;
                where_.push((source, r.number, r.line));
                batch.push(r.text);
                if batch.len() < batch_size {
                    continue;
                }
            }
            Ok(Msg::Unreadable(e)) => {
                writeln!(run.err, "recon: {e}")?;
                run.summary.unreadable.push(e.to_string());
                continue;
            }
            // Input paused: push what has arrived so its alerts go out.
            Err(RecvTimeoutError::Timeout) if !batch.is_empty() => {}
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        }
        run.push(&batch, &where_)?;
        batch.clear();
        where_.clear();
    }
    run.push(&batch, &where_)?;
    match &options.state {
        Some(path) if !options.finish => {
            // Keep the stream open: save every detector for the next run,
            // after handing out its alerts so none is saved twice.
            run.drain()?;
            let mut out = Vec::new();
            for (i, config) in configs.iter().enumerate() {
                let (rule, h) = run.detectors[i];
                let bytes = run.instance.snapshot(h)?;
                out.push(state::saved(rule.alert_name(), config, &bytes));
            }
            state::save(path, out)?;
        }
        _ => {
            for i in 0..run.detectors.len() {
                let h = run.detectors[i].1;
                run.instance.flush(h, None)?;
            }
            run.drain()?;
            if let Some(path) = &options.state {
                state::remove(path)?;
            }
        }
    }
    if run.shown > run.show_rejects {
        writeln!(
            run.err,
            "recon: {} more rejected records not shown (--show-rejects)",
            run.shown - run.show_rejects
        )?;
    }
    for i in 0..run.detectors.len() {
        let (rule, h) = run.detectors[i];
        let stats = run.instance.stats(h)?;
        run.summary.rules.push(RuleSummary { rule, stats });
    }
    Ok(run.summary)
}

/// The summary as the lines `recon detect` prints on stderr.
pub fn summary_lines(s: &Summary) -> Vec<String> {
    let mut lines = vec![format!(
        "recon: read {} records; {} alerts",
        s.records, s.alerts
    )];
    for r in &s.rules {
        let st = &r.stats;
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
        lines.push(format!(
            "recon: {}: events {}, accepted {}, filtered {}, rejected {}{reasons}, late {}, alerts {}",
            r.rule.alert_name(),
            st.pushed,
            st.accepted,
            st.filtered,
            st.rejected,
            st.late,
            st.alerts
        ));
    }
    lines
}
