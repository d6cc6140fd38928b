//! Reading an input straight into a detector (`detector.read`): the
//! reader's records pushed as they complete, every rejection reported at
//! its location in the shared wording.

use recon_reader::verdict::{Tally, Verdict};
use recon_reader::{Chunk, Event, Loc, Reader, wording};

use crate::{BatchResult, Detector, RejectReason, RuleCounts, RuleName};

/// One step of an input.
#[derive(Debug, Clone, Copy)]
pub enum ReadStep<'a> {
    /// The next bytes, in any layout, gzip or not.
    Bytes(&'a [u8]),
    /// The next bytes, base64-encoded (standard alphabet, padded): for
    /// hosts whose runtime crosses a string in one copy and a byte list
    /// one value per byte. Text that is not base64 makes the input
    /// unreadable.
    Base64(&'a str),
    /// The input paused: hand on the complete records held.
    Pause,
    /// The input ended.
    End,
}

/// Something worth telling about the records a read took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadReport {
    /// Where the record was (`None` for an unreadable input).
    pub at: Option<Loc>,
    /// The rejection's reason; `None` for a time far ahead and an
    /// unreadable input.
    pub reason: Option<RejectReason>,
    /// The rule, for a rejection by one rule.
    pub rule: Option<RuleName>,
    /// The report as `recon detect` words it, without the input's name.
    pub message: String,
}

/// What one read step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadResult {
    /// Records the reader handed on and the detector took.
    pub records: u32,
    /// Records the reader skipped for their size (reported, with their
    /// location, in `reports`): never handed to the detector, so not in
    /// its counters, as in `recon detect`.
    pub skipped: u32,
    /// Per rule, in the configuration's order.
    pub rules: Vec<RuleCounts>,
    /// Rejections, too-large records and far-ahead times, in input order,
    /// and an unreadable input last.
    pub reports: Vec<ReadReport>,
    /// The worded reason, when the input became unreadable at this step.
    pub unreadable: Option<String>,
    /// CloudWatch Logs control messages skipped at this step.
    pub control_messages: u32,
    /// At the end of the input: set when most of its records were not
    /// CloudTrail, or none could be read.
    pub verdict: Option<Verdict>,
}

/// Counts a batch's records and whole-record rejections into an input's
/// tally.
fn tally_batch(tally: &mut Tally, b: &BatchResult) {
    tally.records += u64::from(b.records);
    for e in b.errors.iter().filter(|e| e.rule.is_none()) {
        tally.reject(e.error.reason.as_str());
    }
}

impl ReadResult {
    fn add(&mut self, chunk: &Chunk, b: BatchResult) {
        self.records = self.records.saturating_add(b.records);
        for (sum, c) in self.rules.iter_mut().zip(&b.rules) {
            sum.accepted = sum.accepted.saturating_add(c.accepted);
            sum.filtered = sum.filtered.saturating_add(c.filtered);
            sum.late = sum.late.saturating_add(c.late);
            sum.rejected = sum.rejected.saturating_add(c.rejected);
        }
        // Far-ahead times and rejections merged by line, in input order.
        let mut ahead = b.ahead.iter().peekable();
        let mut errors = b.errors.into_iter().peekable();
        loop {
            let take_ahead = match (ahead.peek(), errors.peek()) {
                (Some(a), Some(e)) => **a <= e.index,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if take_ahead {
                let at = chunk.loc(*ahead.next().expect("peeked"));
                self.reports.push(ReadReport {
                    at: Some(at),
                    reason: None,
                    rule: None,
                    message: wording::far_ahead(at),
                });
            } else {
                let e = errors.next().expect("peeked");
                let at = chunk.loc(e.index);
                self.reports.push(ReadReport {
                    at: Some(at),
                    reason: Some(e.error.reason),
                    rule: e.rule.clone(),
                    message: wording::rejected(
                        at,
                        e.error.reason.as_str(),
                        &e.error.message,
                        e.rule.as_deref(),
                    ),
                });
            }
        }
    }
}

impl Detector {
    /// Reads one step of an input with `reader` and pushes the records it
    /// completes, each chunk as it completes (memory holds one chunk, not
    /// the step's output): the same as the reader's step followed by
    /// `push_ndjson` on each chunk, with every rejection reported at its
    /// location.
    pub fn read(&mut self, reader: &mut Reader, step: ReadStep<'_>) -> ReadResult {
        let mut result = ReadResult {
            records: 0,
            skipped: 0,
            rules: BatchResult::new(&self.config.rules).rules,
            reports: Vec::new(),
            unreadable: None,
            control_messages: 0,
            verdict: None,
        };
        let limit = reader.options().max_record_bytes as u64;
        let mut tally = std::mem::take(reader.tally_mut());
        let mut sink = |e: Event| match e {
            Event::Chunk(chunk) => {
                let b = self.push_ndjson(&chunk.data);
                tally_batch(&mut tally, &b);
                result.add(&chunk, b);
            }
            Event::Control { .. } => {
                result.control_messages = result.control_messages.saturating_add(1);
            }
            Event::BadEnvelope { at, message } => {
                // Skipped like a record too large, reported as a record of
                // unknown shape.
                tally.skip(true);
                result.skipped = result.skipped.saturating_add(1);
                result.reports.push(ReadReport {
                    at: Some(at),
                    reason: Some(RejectReason::UnknownShape),
                    rule: None,
                    message: wording::bad_envelope(at, &message),
                });
            }
            Event::TooLarge { at, bytes } => {
                // Skipped by the reader, not held: the detector never sees
                // it (the same accounting in every host).
                tally.skip(false);
                result.skipped = result.skipped.saturating_add(1);
                result.reports.push(ReadReport {
                    at: Some(at),
                    reason: Some(RejectReason::TooLarge),
                    rule: None,
                    message: wording::too_large(at, bytes, limit),
                });
            }
            Event::Unreadable(reason) => {
                result.reports.push(ReadReport {
                    at: None,
                    reason: None,
                    rule: None,
                    message: reason.clone(),
                });
                result.unreadable = Some(reason);
            }
        };
        match step {
            ReadStep::Bytes(bytes) => reader.feed(bytes, &mut sink),
            ReadStep::Base64(text) => {
                use base64::Engine;
                match base64::engine::general_purpose::STANDARD.decode(text) {
                    Ok(bytes) => reader.feed(&bytes, &mut sink),
                    Err(e) => reader.fail(wording::invalid_base64(e), &mut sink),
                }
            }
            ReadStep::Pause => reader.pause(&mut sink),
            ReadStep::End => reader.finish(&mut sink),
        }
        if matches!(step, ReadStep::End) {
            tally.sample = reader.sample().map(<[u8]>::to_vec);
            result.verdict = tally.verdict();
        }
        *reader.tally_mut() = tally;
        result
    }
}
