//! `recon detect`'s progress line on a terminal (indicatif), and the
//! writer that keeps diagnostics from tearing it.

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use recon::detect::Progress;

/// A progress line on stderr (a terminal): bytes and records read, the
/// rate, alerts so far; redrawn ten times a second from the run's totals.
pub(crate) struct ProgressDisplay {
    bar: indicatif::ProgressBar,
    done: Arc<AtomicBool>,
    ticker: std::thread::JoinHandle<()>,
}

impl ProgressDisplay {
    pub(crate) fn start(progress: Arc<Progress>) -> ProgressDisplay {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
                .expect("a valid template"),
        );
        let done = Arc::new(AtomicBool::new(false));
        let start = std::time::Instant::now();
        let update = move |bar: &indicatif::ProgressBar| {
            let records = progress.records.load(Ordering::Relaxed);
            let secs = start.elapsed().as_secs_f64().max(0.001);
            bar.set_message(format!(
                "{} read, {records} records ({:.0}/s), {} alerts",
                indicatif::HumanBytes(progress.bytes.load(Ordering::Relaxed)),
                records as f64 / secs,
                progress.alerts.load(Ordering::Relaxed),
            ));
        };
        // The line says what it counts from the first time it is drawn,
        // even when the run ends before the ticker's first turn.
        update(&bar);
        let ticker = {
            let (bar, done) = (bar.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    update(&bar);
                    bar.tick();
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        };
        ProgressDisplay { bar, done, ticker }
    }

    /// Diagnostics written around the progress line, a whole line at a time.
    pub(crate) fn writer(&self) -> LinesAround {
        LinesAround {
            bar: self.bar.clone(),
            pending: Vec::new(),
        }
    }

    pub(crate) fn finish(self) {
        self.done.store(true, Ordering::Relaxed);
        let _ = self.ticker.join();
        self.bar.finish_and_clear();
    }
}

/// Writes whole lines to stderr with the progress line out of the way.
pub(crate) struct LinesAround {
    bar: indicatif::ProgressBar,
    pending: Vec<u8>,
}

impl Write for LinesAround {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(buf);
        if let Some(end) = self.pending.iter().rposition(|b| *b == b'\n') {
            let lines: Vec<u8> = self.pending.drain(..=end).collect();
            self.bar.suspend(|| io::stderr().lock().write_all(&lines))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for LinesAround {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let _ = io::stderr().lock().write_all(&self.pending);
        }
    }
}
