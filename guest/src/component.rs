//! The component shell: bindings generated from `wit/detector.wit` and a
//! one-to-one translation between the contract's types and the core's.
//! No logic lives here.

use std::cell::RefCell;

wit_bindgen::generate!({
    path: "../wit",
    world: "detector-component",
});

use exports::recon::detector::detection as wit;

use crate::config::{ConfigError, LimitSettings, RuleSettings};
use crate::event::EventError;
use crate::{
    ApplyError, BatchError, BatchResult, Detector, Outcome, Profile, RejectReason, Rule, Scanner,
    Settings, SnapshotError,
};

struct Component;

export!(Component);

impl wit::Guest for Component {
    type Detector = DetectorResource;
    type Scanner = ScannerResource;
}

/// The detector resource: the core detector behind a `RefCell`, as the
/// contract's methods take `&self`.
struct DetectorResource(RefCell<Detector>);

/// The scanner resource (stateless between calls).
struct ScannerResource(Scanner);

fn rule_in(r: wit::Rule) -> Rule {
    match r {
        wit::Rule::SentinelAwsCliRecon => Rule::Sentinel,
        wit::Rule::ElasticAwsDiscoveryBurst => Rule::Elastic,
    }
}

fn rule_out(r: Rule) -> wit::Rule {
    match r {
        Rule::Sentinel => wit::Rule::SentinelAwsCliRecon,
        Rule::Elastic => wit::Rule::ElasticAwsDiscoveryBurst,
    }
}

fn settings(c: wit::Config) -> Settings {
    Settings {
        rules: c
            .rules
            .into_iter()
            .map(|r| RuleSettings {
                rule: rule_in(r.rule),
                window_ms: r.window_ms,
                min_distinct: r.min_distinct,
                commands: r.commands,
                providers: r.providers,
            })
            .collect(),
        profile: match c.profile {
            wit::Profile::Default => Profile::Default,
            wit::Profile::Seed => Profile::Seed,
        },
        allowed_lateness_ms: c.allowed_lateness_ms,
        limits: LimitSettings {
            max_event_bytes: c.limits.max_event_bytes,
            max_open_groups: c.limits.max_open_groups,
            max_list_entries: c.limits.max_list_entries,
            max_time_jump_ms: c.limits.max_time_jump_ms,
            time_confirmations: c.limits.time_confirmations,
        },
    }
}

fn config_error(e: ConfigError) -> wit::ConfigError {
    match e {
        ConfigError::OutOfRange(m) => wit::ConfigError::OutOfRange(m),
        ConfigError::InvalidList(m) => wit::ConfigError::InvalidList(m),
    }
}

fn reason(r: RejectReason) -> wit::RejectReason {
    match r {
        RejectReason::InvalidJson => wit::RejectReason::InvalidJson,
        RejectReason::NotAnObject => wit::RejectReason::NotAnObject,
        RejectReason::UnknownShape => wit::RejectReason::UnknownShape,
        RejectReason::MissingTime => wit::RejectReason::MissingTime,
        RejectReason::InvalidTime => wit::RejectReason::InvalidTime,
        RejectReason::TooLarge => wit::RejectReason::TooLarge,
        RejectReason::StateLimit => wit::RejectReason::StateLimit,
    }
}

fn reason_counts(list: Vec<(RejectReason, u64)>) -> Vec<wit::ReasonCount> {
    list.into_iter()
        .map(|(r, count)| wit::ReasonCount {
            reason: reason(r),
            count,
        })
        .collect()
}

fn event_error(e: EventError) -> wit::EventError {
    wit::EventError {
        reason: reason(e.reason),
        message: e.message,
    }
}

fn batch_errors(errors: Vec<BatchError>) -> Vec<wit::BatchError> {
    errors
        .into_iter()
        .map(|e| wit::BatchError {
            index: e.index,
            rule: e.rule.map(rule_out),
            error: event_error(e.error),
        })
        .collect()
}

fn batch_result(r: BatchResult) -> wit::BatchResult {
    wit::BatchResult {
        records: r.records,
        rejected: r.rejected,
        rules: r
            .rules
            .into_iter()
            .map(|c| wit::RuleCounts {
                rule: rule_out(c.rule),
                accepted: c.accepted,
                filtered: c.filtered,
                late: c.late,
                rejected: c.rejected,
            })
            .collect(),
        errors: batch_errors(r.errors),
        ahead: r.ahead,
    }
}

fn alert(a: crate::Alert) -> wit::Alert {
    wit::Alert {
        rule: a.rule,
        rule_id: a.rule_id,
        id: a.id,
        window_start: a.window_start,
        window_end: a.window_end,
        row: a.row,
        title: a.title,
        description: a.description,
        severity: a.severity,
        tactics: a.tactics,
        techniques: a.techniques,
        entities: a
            .entities
            .into_iter()
            .map(|e| wit::Entity {
                kind: e.kind,
                fields: e.fields,
            })
            .collect(),
        custom_details: a.custom_details,
        truncated: a.truncated,
    }
}

impl wit::GuestDetector for DetectorResource {
    fn create(config: wit::Config) -> Result<wit::Detector, wit::ConfigError> {
        let detector = Detector::new(settings(config)).map_err(config_error)?;
        Ok(wit::Detector::new(DetectorResource(RefCell::new(detector))))
    }

    fn restore(snapshot: Vec<u8>) -> Result<wit::Detector, wit::SnapshotError> {
        let detector = Detector::restore(&snapshot).map_err(|e| match e {
            SnapshotError::Malformed(m) => wit::SnapshotError::Malformed(m),
            SnapshotError::UnsupportedVersion(v) => wit::SnapshotError::UnsupportedVersion(v),
            SnapshotError::InvalidConfig(c) => wit::SnapshotError::InvalidConfig(config_error(c)),
        })?;
        Ok(wit::Detector::new(DetectorResource(RefCell::new(detector))))
    }

    fn push(&self, event: String) -> Result<Vec<wit::Outcome>, wit::EventError> {
        let outcomes = self.0.borrow_mut().push(&event).map_err(event_error)?;
        Ok(outcomes
            .into_iter()
            .map(|o| match o {
                Ok(Outcome::Accepted) => wit::Outcome::Accepted,
                Ok(Outcome::Filtered) => wit::Outcome::Filtered,
                Ok(Outcome::Late) => wit::Outcome::Late,
                Err(_) => wit::Outcome::StateLimit,
            })
            .collect())
    }

    fn push_batch(&self, events: Vec<String>) -> wit::BatchResult {
        batch_result(self.0.borrow_mut().push_batch(&events))
    }

    fn push_ndjson(&self, records: Vec<u8>) -> wit::BatchResult {
        batch_result(self.0.borrow_mut().push_ndjson(&records))
    }

    fn apply(&self, payload: Vec<u8>) -> Result<wit::BatchResult, wit::ApplyError> {
        match self.0.borrow_mut().apply(&payload) {
            Ok(r) => Ok(batch_result(r)),
            Err(ApplyError::ConfigMismatch) => Err(wit::ApplyError::ConfigMismatch),
            Err(ApplyError::Malformed(m)) => Err(wit::ApplyError::Malformed(m)),
        }
    }

    fn flush(&self, to: Option<i64>) -> u32 {
        self.0.borrow_mut().flush(to)
    }

    fn drain(&self) -> Vec<wit::Alert> {
        self.0.borrow_mut().drain().into_iter().map(alert).collect()
    }

    fn stats(&self) -> wit::Stats {
        let s = self.0.borrow().stats();
        wit::Stats {
            pushed: s.pushed,
            rejected: s.rejected_total(),
            rejected_by_reason: reason_counts(s.rejected_by_reason()),
            rules: s
                .rules
                .into_iter()
                .map(|r| wit::RuleStats {
                    rule: rule_out(r.rule),
                    pushed: r.counters.pushed,
                    accepted: r.counters.accepted,
                    filtered: r.counters.filtered,
                    rejected: r.rejected(),
                    rejected_by_reason: reason_counts(r.rejected_by_reason()),
                    late: r.counters.late,
                    open_windows: r.open_windows,
                    open_groups: r.open_groups,
                    alerts: r.counters.alerts,
                    ahead: r.counters.ahead,
                    watermark: r.watermark,
                })
                .collect(),
            pending_alerts: s.pending_alerts,
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        self.0.borrow().snapshot()
    }
}

impl wit::GuestScanner for ScannerResource {
    fn create(config: wit::Config) -> Result<wit::Scanner, wit::ConfigError> {
        let scanner = Scanner::new(settings(config)).map_err(config_error)?;
        Ok(wit::Scanner::new(ScannerResource(scanner)))
    }

    fn partition_of(&self, records: Vec<u8>, partitions: u32) -> Vec<wit::Placement> {
        self.0
            .partition_of(&records, partitions)
            .into_iter()
            .map(|p| wit::Placement {
                index: p.index,
                rule: rule_out(p.rule),
                partition: p.partition,
            })
            .collect()
    }

    fn scan(&self, records: Vec<u8>) -> wit::Scanned {
        let s = self.0.scan(&records);
        wit::Scanned {
            records: s.records,
            errors: batch_errors(s.errors),
            payload: s.payload,
        }
    }
}
