//! A run's account: what `detect` returns ([`Summary`]) and the lines
//! `recon detect` prints from it on stderr at the end, with the advice on
//! late records.

use recon_reader::verdict::Verdict;

use crate::runtime::{RejectReason, RuleStats, Stats};
use crate::sources::Skipped;
use crate::tenants::TenantId;

use super::diagnostics::reason_name;

/// Counters of one rule after a run.
#[derive(Debug, Clone)]
pub struct RuleSummary {
    /// The rule.
    pub rule: String,
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
    /// Envelope values that held no record, skipped by the reader
    /// (counted in `records`, never handed to the detector).
    pub skipped_envelopes: u64,
    /// CloudWatch Logs control messages skipped (not records).
    pub control_messages: u64,
    /// Inputs most of whose records were not CloudTrail, or none of
    /// whose records could be read: the input's name and the verdict.
    pub verdicts: Vec<(String, Verdict)>,
    /// Records left out because the component trapped on each of them
    /// alone (counted in `records`, never seen by the rules).
    pub quarantined: u64,
    /// Times a component instance (a detector's or a scanning worker's)
    /// was rebuilt after a trap.
    pub recoveries: u64,
    /// Windows closed on the host's clock in live mode (flush calls that
    /// advanced a watermark).
    pub live_advances: u64,
    /// The run was stopped ([`super::DetectOptions::stop`]) before its input ended.
    pub stopped: bool,
    /// The allowed lateness the run used, ms (for the summary's advice
    /// on late records).
    pub allowed_lateness_ms: u64,
    /// Early alerts written (counted in `alerts` too).
    pub early_written: u64,
    /// Early alerts not written because their stream was not live (live
    /// mode's default; see [`super::DetectOptions`] and docs/streaming.md).
    pub early_held_back: u64,
    /// Files found in directories or archives and passed over (digests,
    /// files that are not CloudTrail by their name).
    pub skipped_files: Skipped,
}

/// Per rule counters summed over several detectors (the latest watermark).
pub(super) fn sum_rules(all: &[Stats]) -> Vec<RuleSummary> {
    let mut out: Vec<RuleSummary> = Vec::new();
    for r in all.iter().flat_map(|s| &s.rules) {
        let Some(acc) = out.iter_mut().find(|a| a.rule == r.rule) else {
            out.push(RuleSummary {
                rule: r.rule.clone(),
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
        a.suppressed += r.suppressed;
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
    let suppressed = if st.suppressed > 0 {
        format!(" ({} more held back by suppression)", st.suppressed)
    } else {
        String::new()
    };
    format!(
        "{name}: events {}, accepted {}, filtered {}, rejected {}{reasons}, late {}{late}{ahead}, alerts {}{suppressed}",
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
    for (name, v) in &s.verdicts {
        lines.push(format!("recon: {name}: {}", v.message()));
    }
    if s.control_messages > 0 {
        lines.push(format!(
            "recon: {}",
            recon_reader::wording::control_messages(s.control_messages)
        ));
    }
    if s.skipped_too_large > 0 {
        lines.push(format!(
            "recon: {} lines longer than limits.max_event_bytes skipped by the reader \
             (not counted by the rules below)",
            s.skipped_too_large
        ));
    }
    if s.skipped_envelopes > 0 {
        lines.push(format!(
            "recon: {} envelope values held no record, skipped by the reader \
             (not counted by the rules below)",
            s.skipped_envelopes
        ));
    }
    for r in &s.rules {
        lines.push(format!("recon: {}", rule_line(&r.rule, &r.stats)));
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
