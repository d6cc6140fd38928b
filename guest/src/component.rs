//! The component shell: bindings generated from `wit/detector.wit` and a
//! one-to-one translation between the contract's types and the core's.
//! No logic lives here.

use std::cell::RefCell;

use recon_reader as reader;

wit_bindgen::generate!({
    path: "../wit",
    world: "detector-component",
});

use exports::recon::detector::detection as wit;

use crate::config::{ConfigError, LimitSettings, RuleSettings, WindowMode};
use crate::event::EventError;
use crate::format::{AlertFormat, alert_line_any};
use crate::registry::RuleKind;
use crate::sigma::RuleFile;
use crate::{
    ApplyError, BatchError, BatchResult, Detector, Outcome, Profile, ReadStep, RejectReason, Rule,
    Scanner, Settings, SnapshotError,
};

struct Component;

export!(Component);

impl wit::Guest for Component {
    type Detector = DetectorResource;
    type Scanner = ScannerResource;
    type Reader = ReaderResource;

    fn format_alert(alert: wit::Alert, format: wit::AlertFormat, tenant: Option<String>) -> String {
        let format = match format {
            wit::AlertFormat::Native => AlertFormat::Native,
            wit::AlertFormat::Ocsf => AlertFormat::Ocsf,
        };
        alert_line_any(&alert_in(alert), format, tenant.as_deref())
    }

    fn default_config(rules: Vec<wit::Rule>, profile: wit::Profile) -> wit::Config {
        let rules: Vec<Rule> = rules.iter().filter_map(|r| Rule::of_name(r)).collect();
        config_out(Settings::defaults(&rules, profile_in(profile)))
    }

    fn list_rules(config: wit::Config) -> Result<Vec<wit::RuleInfo>, wit::ConfigError> {
        let config = settings(config)
            .and_then(crate::config::Config::new)
            .map_err(config_error)?;
        Ok(crate::registry::rules(&config)
            .into_iter()
            .map(|r| wit::RuleInfo {
                name: r.name,
                id: r.id,
                title: r.title,
                kind: match r.kind {
                    RuleKind::BuiltIn => wit::RuleKind::BuiltIn,
                    RuleKind::Correlation => wit::RuleKind::Correlation,
                    RuleKind::Detection => wit::RuleKind::Detection,
                },
                file: r.file,
                window_ms: r.window_ms,
                window: window_out(r.window),
                suppress_ms: r.suppress_ms,
                threshold: r.threshold,
                measure: r.measure,
                group_by: r.group_by,
                detections: r.detections,
                filters: r.filters,
                severity: r.severity,
                tactics: r.tactics,
                techniques: r.techniques,
                settings: r.settings,
            })
            .collect())
    }

    fn default_reader_options() -> wit::ReaderOptions {
        let o = reader::Options::default();
        wit::ReaderOptions {
            max_record_bytes: Some(u32::try_from(o.max_record_bytes).unwrap_or(u32::MAX)),
            chunk_bytes: Some(u32::try_from(o.chunk_bytes).unwrap_or(u32::MAX)),
        }
    }
}

/// The detector resource: the core detector behind a `RefCell`, as the
/// contract's methods take `&self`.
struct DetectorResource(RefCell<Detector>);

/// The scanner resource (stateless between calls).
struct ScannerResource(Scanner);

/// The reader resource: the reader crate's reader behind a `RefCell`.
struct ReaderResource(RefCell<reader::Reader>);

/// A built-in by its contract name.
fn rule_in(i: usize, r: &str) -> Result<Rule, ConfigError> {
    Rule::of_name(r).ok_or_else(|| {
        let names: Vec<&str> = Rule::ALL.iter().map(|r| r.name()).collect();
        ConfigError::InvalidList(format!(
            "rules[{i}] names {r:?}, which is not a built-in rule ({}); data rules come in rule-files",
            names.join(", ")
        ))
    })
}

/// The contract's snapshot error, from the core's.
fn snapshot_error(e: SnapshotError) -> wit::SnapshotError {
    match e {
        SnapshotError::Malformed(m) => wit::SnapshotError::Malformed(m),
        SnapshotError::UnsupportedVersion(v) => wit::SnapshotError::UnsupportedVersion(v),
        SnapshotError::InvalidConfig(c) => wit::SnapshotError::InvalidConfig(config_error(c)),
    }
}

fn window_out(w: WindowMode) -> wit::WindowMode {
    match w {
        WindowMode::Tumbling => wit::WindowMode::Tumbling,
        WindowMode::Sliding => wit::WindowMode::Sliding,
    }
}

fn rule_out(r: &crate::RuleName) -> wit::Rule {
    r.to_string()
}

fn profile_in(p: wit::Profile) -> Profile {
    match p {
        wit::Profile::Default => Profile::Default,
        wit::Profile::Seed => Profile::Seed,
    }
}

fn config_out(s: Settings) -> wit::Config {
    wit::Config {
        rules: s
            .rules
            .into_iter()
            .map(|r| wit::RuleConfig {
                rule: r.rule.name().to_owned(),
                window_ms: r.window_ms,
                min_distinct: r.min_distinct,
                commands: r.commands,
                providers: r.providers,
                suppress_ms: r.suppress_ms,
                window: r.window.map(window_out),
            })
            .collect(),
        profile: match s.profile {
            Profile::Default => wit::Profile::Default,
            Profile::Seed => wit::Profile::Seed,
        },
        allowed_lateness_ms: s.allowed_lateness_ms,
        limits: wit::Limits {
            max_event_bytes: s.limits.max_event_bytes,
            max_open_groups: s.limits.max_open_groups,
            max_list_entries: s.limits.max_list_entries,
            max_time_jump_ms: s.limits.max_time_jump_ms,
            time_confirmations: s.limits.time_confirmations,
        },
        early_alerts: s.early_alerts,
        rule_files: s
            .rule_files
            .into_iter()
            .map(|f| wit::RuleFile {
                name: f.name,
                text: f.text,
            })
            .collect(),
        only_rules: s.only_rules,
    }
}

fn location(l: reader::Loc) -> wit::Location {
    wit::Location {
        line: l.line,
        record: l.record,
        log_event: l.log_event,
    }
}

/// A reader's event; `limit` is its record limit, for the wording.
fn read_event(e: reader::Event, limit: u64) -> wit::ReadEvent {
    match e {
        reader::Event::Chunk(c) => wit::ReadEvent::Chunk(wit::Chunk {
            locations: match c.locs {
                reader::Locs::Lines { first_line } => wit::ChunkLocations::Lines(first_line),
                reader::Locs::Records(locs) => {
                    wit::ChunkLocations::Records(locs.into_iter().map(location).collect())
                }
            },
            data: c.data,
        }),
        reader::Event::TooLarge { at, bytes } => wit::ReadEvent::TooLarge(wit::TooLarge {
            at: location(at),
            bytes,
            message: reader::wording::too_large(at, bytes, limit),
        }),
        reader::Event::Unreadable(reason) => wit::ReadEvent::Unreadable(reason),
        reader::Event::Control { at } => wit::ReadEvent::ControlMessage(location(at)),
        reader::Event::BadEnvelope { at, message } => {
            wit::ReadEvent::BadEnvelope(wit::BadEnvelope {
                at: location(at),
                message: reader::wording::bad_envelope(at, &message),
            })
        }
    }
}

fn alert_in(a: wit::Alert) -> crate::Alert {
    crate::Alert {
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
            .map(|e| crate::Entity {
                kind: e.kind,
                fields: e.fields,
            })
            .collect(),
        custom_details: a.custom_details,
        truncated: a.truncated,
        kind: match a.kind {
            wit::AlertKind::Final => crate::AlertKind::Final,
            wit::AlertKind::Early => crate::AlertKind::Early,
        },
        suppressed: a.suppressed,
    }
}

fn settings(c: wit::Config) -> Result<Settings, ConfigError> {
    Ok(Settings {
        rules: c
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                Ok(RuleSettings {
                    rule: rule_in(i, &r.rule)?,
                    window_ms: r.window_ms,
                    min_distinct: r.min_distinct,
                    commands: r.commands,
                    providers: r.providers,
                    suppress_ms: r.suppress_ms,
                    window: r.window.map(|w| match w {
                        wit::WindowMode::Tumbling => WindowMode::Tumbling,
                        wit::WindowMode::Sliding => WindowMode::Sliding,
                    }),
                })
            })
            .collect::<Result<_, ConfigError>>()?,
        profile: profile_in(c.profile),
        allowed_lateness_ms: c.allowed_lateness_ms,
        limits: LimitSettings {
            max_event_bytes: c.limits.max_event_bytes,
            max_open_groups: c.limits.max_open_groups,
            max_list_entries: c.limits.max_list_entries,
            max_time_jump_ms: c.limits.max_time_jump_ms,
            time_confirmations: c.limits.time_confirmations,
        },
        early_alerts: c.early_alerts,
        rule_files: c
            .rule_files
            .into_iter()
            .map(|f| RuleFile {
                name: f.name,
                text: f.text,
            })
            .collect(),
        only_rules: c.only_rules,
    })
}

fn config_error(e: ConfigError) -> wit::ConfigError {
    match e {
        ConfigError::OutOfRange(m) => wit::ConfigError::OutOfRange(m),
        ConfigError::InvalidList(m) => wit::ConfigError::InvalidList(m),
        ConfigError::Rules(e) => wit::ConfigError::Rules(wit::RuleError {
            file: e.file,
            rule: e.rule,
            line: e.line,
            field: e.field,
            message: e.message,
        }),
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
            rule: e.rule.as_ref().map(rule_out),
            error: event_error(e.error),
        })
        .collect()
}

fn batch_result(r: BatchResult) -> wit::BatchResult {
    wit::BatchResult {
        records: r.records,
        rejected: r.rejected,
        rules: r.rules.into_iter().map(rule_counts).collect(),
        errors: batch_errors(r.errors),
        ahead: r.ahead,
    }
}

fn rule_counts(c: crate::RuleCounts) -> wit::RuleCounts {
    wit::RuleCounts {
        rule: rule_out(&c.rule),
        accepted: c.accepted,
        filtered: c.filtered,
        late: c.late,
        rejected: c.rejected,
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
        kind: match a.kind {
            crate::AlertKind::Final => wit::AlertKind::Final,
            crate::AlertKind::Early => wit::AlertKind::Early,
        },
        suppressed: a.suppressed,
    }
}

impl wit::GuestDetector for DetectorResource {
    fn create(config: wit::Config) -> Result<wit::Detector, wit::ConfigError> {
        let detector = settings(config)
            .and_then(Detector::new)
            .map_err(config_error)?;
        Ok(wit::Detector::new(DetectorResource(RefCell::new(detector))))
    }

    fn restore(snapshot: Vec<u8>) -> Result<wit::Detector, wit::SnapshotError> {
        let detector = Detector::restore(&snapshot).map_err(snapshot_error)?;
        Ok(wit::Detector::new(DetectorResource(RefCell::new(detector))))
    }

    fn reload(
        snapshot: Vec<u8>,
        config: wit::Config,
    ) -> Result<(wit::Detector, Vec<wit::Rule>), wit::SnapshotError> {
        let settings =
            settings(config).map_err(|e| wit::SnapshotError::InvalidConfig(config_error(e)))?;
        let (detector, restarted) =
            Detector::reload(&snapshot, settings).map_err(snapshot_error)?;
        Ok((
            wit::Detector::new(DetectorResource(RefCell::new(detector))),
            restarted,
        ))
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
                    rule: rule_out(&r.rule),
                    pushed: r.counters.pushed,
                    accepted: r.counters.accepted,
                    filtered: r.counters.filtered,
                    rejected: r.rejected(),
                    rejected_by_reason: reason_counts(r.rejected_by_reason()),
                    late: r.counters.late,
                    late_worst_ms: r.counters.late_worst_ms,
                    lateness_needed_ms: r.counters.lateness_needed_ms,
                    open_windows: r.open_windows,
                    open_groups: r.open_groups,
                    alerts: r.counters.alerts,
                    early_alerts: r.counters.early_alerts,
                    ahead: r.counters.ahead,
                    suppressed: r.counters.suppressed,
                    watermark: r.watermark,
                })
                .collect(),
            pending_alerts: s.pending_alerts,
        }
    }

    fn snapshot(&self) -> Vec<u8> {
        self.0.borrow().snapshot()
    }

    fn read(&self, input: wit::ReaderBorrow<'_>, step: wit::ReadStep) -> wit::ReadResult {
        let mut reader = input.get::<ReaderResource>().0.borrow_mut();
        let mut detector = self.0.borrow_mut();
        let r = match &step {
            wit::ReadStep::Bytes(b) => detector.read(&mut reader, ReadStep::Bytes(b)),
            wit::ReadStep::Text(t) => detector.read(&mut reader, ReadStep::Bytes(t.as_bytes())),
            wit::ReadStep::Base64(t) => detector.read(&mut reader, ReadStep::Base64(t)),
            wit::ReadStep::Pause => detector.read(&mut reader, ReadStep::Pause),
            wit::ReadStep::End => detector.read(&mut reader, ReadStep::End),
        };
        wit::ReadResult {
            records: r.records,
            skipped: r.skipped,
            rules: r.rules.into_iter().map(rule_counts).collect(),
            reports: r
                .reports
                .into_iter()
                .map(|p| wit::ReadReport {
                    at: p.at.map(location),
                    reason: p.reason.map(reason),
                    rule: p.rule.as_ref().map(rule_out),
                    message: p.message,
                })
                .collect(),
            unreadable: r.unreadable,
            control_messages: r.control_messages,
            verdict: r.verdict.map(|v| wit::InputVerdict {
                records: v.records,
                misshapen: v.misshapen,
                none_readable: v.none_readable,
                looks_like: v.looks_like.map(|l| l.what().to_owned()),
                message: v.message(),
            }),
        }
    }
}

impl wit::GuestScanner for ScannerResource {
    fn create(config: wit::Config) -> Result<wit::Scanner, wit::ConfigError> {
        let scanner = settings(config)
            .and_then(Scanner::new)
            .map_err(config_error)?;
        Ok(wit::Scanner::new(ScannerResource(scanner)))
    }

    fn partition_of(&self, records: Vec<u8>, partitions: u32) -> Vec<wit::Placement> {
        self.0
            .partition_of(&records, partitions)
            .into_iter()
            .map(|p| wit::Placement {
                index: p.index,
                rule: rule_out(&p.rule),
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

impl ReaderResource {
    fn events(
        &self,
        step: impl FnOnce(&mut reader::Reader, reader::Sink<'_>),
    ) -> Vec<wit::ReadEvent> {
        let mut events = Vec::new();
        let mut r = self.0.borrow_mut();
        let limit = r.options().max_record_bytes as u64;
        step(&mut r, &mut |e| events.push(read_event(e, limit)));
        events
    }
}

impl wit::GuestReader for ReaderResource {
    fn create(options: wit::ReaderOptions) -> Result<wit::Reader, wit::ConfigError> {
        let options = reader::Options::new(options.max_record_bytes, options.chunk_bytes)
            .map_err(|reader::OptionsError::OutOfRange(m)| wit::ConfigError::OutOfRange(m))?;
        Ok(wit::Reader::new(ReaderResource(RefCell::new(
            reader::Reader::new(options),
        ))))
    }

    fn feed(&self, bytes: Vec<u8>) -> Vec<wit::ReadEvent> {
        self.events(|r, out| r.feed_vec(bytes, out))
    }

    fn feed_text(&self, text: String) -> Vec<wit::ReadEvent> {
        self.events(|r, out| r.feed_vec(text.into_bytes(), out))
    }

    fn pause(&self) -> Vec<wit::ReadEvent> {
        self.events(|r, out| r.pause(out))
    }

    fn finish(&self) -> Vec<wit::ReadEvent> {
        self.events(|r, out| r.finish(out))
    }
}
