//! What the detector reports: per-batch results, counters and state sizes,
//! and the check that the counters add up.

use crate::config::{RuleConfig, RuleName};
use crate::detector::Detector;
use crate::event::{EventError, RejectReason};
use crate::windows::{Counters, Outcome};

/// What one rule made of one readable event: an outcome, or its own
/// rejection (`state-limit`).
pub type RuleOutcome = Result<Outcome, EventError>;

/// An error for one record of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    /// Index in the batch (list position, or line of an NDJSON buffer).
    pub index: u32,
    /// `None` when no rule could read the record; the rule otherwise.
    pub rule: Option<RuleName>,
    /// Why.
    pub error: EventError,
}

/// What one rule made of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleCounts {
    /// The rule.
    pub rule: RuleName,
    /// Counted in a window.
    pub accepted: u32,
    /// Valid, dropped by the filters.
    pub filtered: u32,
    /// Late.
    pub late: u32,
    /// Rejected by this rule (`state-limit`).
    pub rejected: u32,
}

/// The result of a batch call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchResult {
    /// Records in the batch.
    pub records: u32,
    /// Records no rule could read.
    pub rejected: u32,
    /// Per rule, in configuration order.
    pub rules: Vec<RuleCounts>,
    /// Rejections, in index order.
    pub errors: Vec<BatchError>,
    /// Records that arrived far ahead of the watermark (the first of each
    /// run of them), by index: counted in their windows, but the watermark
    /// waits for confirmation before it follows.
    pub ahead: Vec<u32>,
}

impl BatchResult {
    pub(crate) fn new(rules: &[RuleConfig]) -> Self {
        BatchResult {
            records: 0,
            rejected: 0,
            rules: rules
                .iter()
                .map(|r| RuleCounts {
                    rule: r.name.clone(),
                    accepted: 0,
                    filtered: 0,
                    late: 0,
                    rejected: 0,
                })
                .collect(),
            errors: Vec::new(),
            ahead: Vec::new(),
        }
    }

    pub(crate) fn count(&mut self, i: usize, outcome: &RuleOutcome) {
        let c = &mut self.rules[i];
        match outcome {
            Ok(Outcome::Accepted) => c.accepted += 1,
            Ok(Outcome::Filtered) => c.filtered += 1,
            Ok(Outcome::Late) => c.late += 1,
            Err(_) => c.rejected += 1,
        }
    }
}

/// One rule's counters and state sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleStats {
    /// The rule.
    pub rule: RuleName,
    /// Running counters (`pushed = accepted + filtered + rejected + late`).
    pub counters: Counters,
    /// Open windows.
    pub open_windows: u32,
    /// Open groups.
    pub open_groups: u32,
    /// Current watermark.
    pub watermark: Option<i64>,
}

impl RuleStats {
    /// All rejected events.
    pub fn rejected(&self) -> u64 {
        self.counters.rejected.iter().sum()
    }

    /// Rejections per reason, zero counts left out.
    pub fn rejected_by_reason(&self) -> Vec<(RejectReason, u64)> {
        by_reason(&self.counters.rejected)
    }
}

fn by_reason(counts: &[u64; 7]) -> Vec<(RejectReason, u64)> {
    RejectReason::ALL
        .iter()
        .zip(counts)
        .filter(|(_, n)| **n > 0)
        .map(|(r, n)| (*r, *n))
        .collect()
}

/// A detector's counters and state sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    /// Records pushed.
    pub pushed: u64,
    /// Records no rule could read, per reason (indexed as
    /// [`RejectReason::ALL`]).
    pub rejected: [u64; 7],
    /// Per rule, in configuration order.
    pub rules: Vec<RuleStats>,
    /// Alerts not yet drained, all rules.
    pub pending_alerts: u32,
}

impl Stats {
    /// Records no rule could read, all reasons.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.iter().sum()
    }

    /// Those rejections per reason, zero counts left out.
    pub fn rejected_by_reason(&self) -> Vec<(RejectReason, u64)> {
        by_reason(&self.rejected)
    }
}

impl Detector {
    /// Checks that the counters keep the promise they make: in every
    /// rule, `pushed = accepted + filtered + rejected + late`, with the
    /// detector's own count, the records no rule could read among each
    /// rule's rejections (a rule rejects more only for `state-limit`), and
    /// room left to count on. `restore` refuses a snapshot that fails it;
    /// tests and fuzz targets hold a live detector to it.
    pub fn check_accounting(&self) -> Result<(), String> {
        for e in &self.rules {
            let c = e.counters();
            let sum = c
                .rejected
                .iter()
                .chain([&c.accepted, &c.filtered, &c.late])
                .try_fold(0u64, |a, n| a.checked_add(*n));
            let by_reason = (0..RejectReason::ALL.len()).all(|i| {
                c.rejected[i] >= self.rejected[i]
                    && (RejectReason::ALL[i] == RejectReason::StateLimit
                        || c.rejected[i] == self.rejected[i])
            });
            // Counts that cannot exceed what they count: each record is far ahead at most once, and each alert
            // needs accepted records of its own.
            let possible = c.ahead <= c.pushed && c.alerts <= c.accepted;
            if sum != Some(c.pushed) || c.pushed != self.pushed || !by_reason || !possible {
                return Err(format!(
                    "the {} rule's counters do not add up: {c:?} (detector: pushed {}, rejected {:?})",
                    &*e.rule(),
                    self.pushed,
                    self.rejected
                ));
            }
        }
        Ok(())
    }

    /// Counters and state sizes.
    pub fn stats(&self) -> Stats {
        Stats {
            pushed: self.pushed,
            rejected: self.rejected,
            rules: self.rules.iter().map(|r| r.stats()).collect(),
            pending_alerts: self.rules.iter().map(|r| r.pending() as u32).sum(),
        }
    }
}
