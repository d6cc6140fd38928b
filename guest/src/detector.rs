//! The stateful second stage: every rule's windows, fed by one parse of
//! each record (`push`) or by a scanner's payload (`apply`).

use crate::alert::Alert;
use crate::config::{Config, ConfigError, Settings};
use crate::event::{EventError, RejectReason};
use crate::results::{BatchError, BatchResult, RuleOutcome};
use crate::rules;
use crate::scan::{Read, Scanner, read_record};
use crate::windows::{self, Outcome, RuleWindows};
use crate::wire::{self, ApplyError, Entry};

/// One running detection: its rules over one parse of each event, their
/// open windows, watermarks, pending alerts and counters.
pub struct Detector {
    pub(crate) config: Config,
    /// One per rule, in configuration order.
    pub(crate) rules: Vec<Box<dyn RuleWindows>>,
    pub(crate) scanner: Scanner,
    pub(crate) pushed: u64,
    pub(crate) rejected: [u64; 7],
}

impl Detector {
    /// A detector for `settings`, or why they are invalid.
    pub fn new(settings: Settings) -> Result<Detector, ConfigError> {
        Ok(Detector::from_config(Config::new(settings)?))
    }

    fn from_config(config: Config) -> Detector {
        let rules = config.rules.iter().map(rules::build).collect();
        let scanner = Scanner::from_config(&config);
        Detector {
            config,
            rules,
            scanner,
            pushed: 0,
            rejected: [0; 7],
        }
    }

    /// The settings this detector was built from.
    pub fn settings(&self) -> &Settings {
        &self.config.settings
    }

    /// Turns the pre-filter off or on; see [`Scanner::set_prefilter`].
    pub fn set_prefilter(&mut self, on: bool) {
        self.scanner.set_prefilter(on);
    }

    /// Counts a record no rule could read, for `reason`.
    pub(crate) fn reject(&mut self, reason: RejectReason) {
        windows::bump(&mut self.rejected[reason as usize]);
        for e in &mut self.rules {
            e.reject(reason);
        }
    }

    /// Pushes one event (JSON text) through every rule: one outcome per
    /// rule, or the error when no rule can read it.
    pub fn push(&mut self, event: &str) -> Result<Vec<RuleOutcome>, EventError> {
        self.push_one(event).0
    }

    /// [`Detector::push`], and whether the event was far ahead of the
    /// watermark.
    fn push_one(&mut self, event: &str) -> (Result<Vec<RuleOutcome>, EventError>, bool) {
        windows::bump(&mut self.pushed);
        let mut ahead = false;
        let result = match read_record(
            event.as_bytes(),
            &self.scanner.reading,
            self.scanner.prefilter,
        ) {
            Err(e) => {
                self.reject(e.reason);
                Err(e)
            }
            Ok(Read::Filtered(t)) => Ok(self
                .rules
                .iter_mut()
                .map(|e| {
                    ahead |= e.filtered(1, t);
                    Ok(Outcome::Filtered)
                })
                .collect()),
            Ok(Read::Event(ev)) => Ok(self
                .rules
                .iter_mut()
                .map(|e| {
                    let (o, far) = e.push(&ev);
                    ahead |= far;
                    o
                })
                .collect()),
        };
        (result, ahead)
    }

    /// Pushes many events, in order; errors are reported by index.
    pub fn push_batch<S: AsRef<str>>(&mut self, events: &[S]) -> BatchResult {
        let mut result = BatchResult::new(&self.config.rules);
        for (i, event) in events.iter().enumerate() {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            result.records = result.records.saturating_add(1);
            let (pushed, ahead) = self.push_one(event.as_ref());
            if ahead {
                result.ahead.push(index);
            }
            match pushed {
                Ok(outcomes) => {
                    for (r, o) in outcomes.into_iter().enumerate() {
                        result.count(r, &o);
                        if let Err(error) = o {
                            let rule = Some(self.rules[r].rule());
                            result.errors.push(BatchError { index, rule, error });
                        }
                    }
                }
                Err(error) => {
                    result.rejected += 1;
                    result.errors.push(BatchError {
                        index,
                        rule: None,
                        error,
                    });
                }
            }
        }
        result
    }

    /// Pushes the records of an NDJSON buffer, one per line; errors are
    /// reported by line index. The same as [`Scanner::scan`] followed by
    /// [`Detector::apply`].
    pub fn push_ndjson(&mut self, buf: &[u8]) -> BatchResult {
        let scanned = self.scanner.scan(buf);
        let mut result = self
            .apply(&scanned.payload)
            .expect("a detector applies its own scanner's payload");
        if !scanned.errors.is_empty() {
            let mut errors = scanned.errors;
            errors.append(&mut result.errors);
            // Stable: a record's own error stays before its rules' errors.
            errors.sort_by_key(|e| e.index);
            result.errors = errors;
        }
        result
    }

    /// Applies a [`Scanner`]'s payload, as `push_ndjson` on its buffer
    /// would. Checks the whole payload before applying any of it.
    pub fn apply(&mut self, payload: &[u8]) -> Result<BatchResult, ApplyError> {
        let entries = wire::decode(payload, self.config.fingerprint, &self.rules)?;
        let mut result = BatchResult::new(&self.config.rules);
        for entry in entries {
            match entry {
                Entry::Run(n, max_t, records) => {
                    let n32 = u32::try_from(n).unwrap_or(u32::MAX);
                    self.pushed = self.pushed.saturating_add(n);
                    result.records = result.records.saturating_add(n32);
                    for c in &mut result.rules {
                        c.filtered = c.filtered.saturating_add(n32);
                    }
                    if self.rules.iter().all(|e| e.within(max_t)) {
                        // No record of the run is far ahead: one step, as
                        // the records one by one would move it.
                        for e in &mut self.rules {
                            e.filtered(n, max_t);
                        }
                    } else {
                        let rules = &mut self.rules;
                        let ahead = &mut result.ahead;
                        // Checked in `decode`: it cannot fail here.
                        let _ = records.walk(|index, t| {
                            let mut far = false;
                            for e in rules.iter_mut() {
                                far |= e.filtered(1, t);
                            }
                            if far {
                                ahead.push(index);
                            }
                        });
                    }
                }
                Entry::Reject(reason) => {
                    windows::bump(&mut self.pushed);
                    result.records = result.records.saturating_add(1);
                    result.rejected += 1;
                    self.reject(reason);
                }
                Entry::Event(index, t, sels) => {
                    windows::bump(&mut self.pushed);
                    result.records = result.records.saturating_add(1);
                    let mut ahead = false;
                    for (i, (e, sel)) in self.rules.iter_mut().zip(sels).enumerate() {
                        let (o, far) = e.apply(t, sel);
                        ahead |= far;
                        result.count(i, &o);
                        if let Err(error) = o {
                            result.errors.push(BatchError {
                                index,
                                rule: Some(e.rule()),
                                error,
                            });
                        }
                    }
                    if ahead {
                        result.ahead.push(index);
                    }
                }
            }
        }
        Ok(result)
    }

    /// Advances the watermark to `to`, or with `None` ends the stream and
    /// closes every window. Returns the number of alerts produced.
    pub fn flush(&mut self, to: Option<i64>) -> u32 {
        self.rules.iter_mut().map(|e| e.flush(to)).sum()
    }

    /// Takes the alerts produced so far, in the order the stream produced
    /// them whatever the batching: by the record that produced them (for
    /// an early alert, the record that brought its group to the threshold;
    /// for a final one, the record or `flush` that made its window final),
    /// then window end, then rule (configuration order), then group; a
    /// group's early alert comes before its final one. Since that order
    /// follows the stream, the alerts of several drains, one after the
    /// other, are those of one drain at the end. (Without early alerts,
    /// windows become final in the order of their ends, so this is the
    /// order of window ends of version 0.2, but for windows a
    /// `state-limit` rejection delayed by a record; see the contract.)
    pub fn drain(&mut self) -> Vec<Alert> {
        let mut all: Vec<(u64, i64, usize, Alert)> = Vec::new();
        for (i, e) in self.rules.iter_mut().enumerate() {
            all.extend(
                e.drain()
                    .into_iter()
                    .map(|p| (p.step, p.alert.window_end, i, p.alert)),
            );
        }
        // Stable: each rule's alerts are already in the order it produced
        // them (a window's groups in key order, an early one first).
        all.sort_by_key(|(step, end, i, _)| (*step, *end, *i));
        all.into_iter().map(|(_, _, _, a)| a).collect()
    }
}
