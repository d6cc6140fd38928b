//! The component shell: bindings generated from `wit/detector.wit` and a
//! one-to-one translation between the contract's types and the core's.
//! No logic lives here.

use std::cell::RefCell;

wit_bindgen::generate!({
    path: "../wit",
    world: "detector-component",
});

use exports::recon::detector::detection as wit;

use crate::config::{ConfigError, LimitSettings};
use crate::event::EventError;
use crate::{Detector, Outcome, Profile, RejectReason, Rule, Settings, SnapshotError};

struct Component;

export!(Component);

impl wit::Guest for Component {
    type Detector = DetectorResource;
}

/// The resource: the core detector behind a `RefCell`, as the contract's
/// methods take `&self`.
struct DetectorResource(RefCell<Detector>);

fn settings(c: wit::Config) -> Settings {
    Settings {
        rule: match c.rule {
            wit::Rule::SentinelAwsCliRecon => Rule::Sentinel,
            wit::Rule::ElasticAwsDiscoveryBurst => Rule::Elastic,
        },
        profile: match c.profile {
            wit::Profile::Default => Profile::Default,
            wit::Profile::Seed => Profile::Seed,
        },
        window_ms: c.window_ms,
        min_distinct: c.min_distinct,
        commands: c.commands,
        providers: c.providers,
        allowed_lateness_ms: c.allowed_lateness_ms,
        limits: LimitSettings {
            max_event_bytes: c.limits.max_event_bytes,
            max_open_groups: c.limits.max_open_groups,
            max_list_entries: c.limits.max_list_entries,
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

fn event_error(e: EventError) -> wit::EventError {
    wit::EventError {
        reason: reason(e.reason),
        message: e.message,
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

    fn push(&self, event: String) -> Result<wit::Outcome, wit::EventError> {
        match self.0.borrow_mut().push(&event) {
            Ok(Outcome::Accepted) => Ok(wit::Outcome::Accepted),
            Ok(Outcome::Filtered) => Ok(wit::Outcome::Filtered),
            Ok(Outcome::Late) => Ok(wit::Outcome::Late),
            Err(e) => Err(event_error(e)),
        }
    }

    fn push_batch(&self, events: Vec<String>) -> wit::BatchResult {
        let r = self.0.borrow_mut().push_batch(&events);
        wit::BatchResult {
            accepted: r.accepted,
            filtered: r.filtered,
            late: r.late,
            errors: r
                .errors
                .into_iter()
                .map(|(index, e)| wit::BatchError {
                    index,
                    error: event_error(e),
                })
                .collect(),
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
            pushed: s.counters.pushed,
            accepted: s.counters.accepted,
            filtered: s.counters.filtered,
            rejected: s.rejected(),
            rejected_by_reason: s
                .rejected_by_reason()
                .into_iter()
                .map(|(r, count)| wit::ReasonCount {
                    reason: reason(r),
                    count,
                })
                .collect(),
            late: s.counters.late,
            open_windows: s.open_windows,
            open_groups: s.open_groups,
            alerts: s.counters.alerts,
            pending_alerts: s.pending_alerts,
            watermark: s.watermark,
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        self.0.borrow().snapshot()
    }
}
