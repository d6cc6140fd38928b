//! The wording of every outcome of reading and detecting, in one place:
//! `recon detect` prints these (after the input's name), the component
//! returns them in `read-report.message` and `read-event`, so every host
//! words a report alike.

use crate::Loc;

/// A record skipped by the reader for its size.
pub fn too_large(at: Loc, bytes: u64, limit: u64) -> String {
    // A log event's record is taken out of its message: not a line.
    let what = if at.log_event.is_some() {
        "record"
    } else {
        "line"
    };
    format!(
        "{at}: rejected (too-large): the {what} is {bytes} bytes; the limit is {limit} \
         (limits.max_event_bytes); skipped without being read whole"
    )
}

/// A value of an envelope that holds no record (`message` says why), as
/// the rejection hosts report and count (reason `unknown-shape`).
pub fn bad_envelope(at: Loc, message: &str) -> String {
    format!("{at}: rejected (unknown-shape): {message}")
}

/// The log events of CloudWatch Logs control messages skipped in an
/// input, in the summary.
pub fn control_messages(count: u64) -> String {
    format!(
        "{count} CloudWatch Logs control message{} skipped (a subscription's health checks, \
         not CloudTrail records)",
        if count == 1 { "" } else { "s" }
    )
}

/// A record the detector rejected: `reason` is the reject reason's
/// kebab-case name, `rule` the rule's name for a rejection by one rule.
/// Bounds the detector names as the contract spells them are named as the
/// configuration file spells them (`limits.max_open_groups`, same unit),
/// the spelling users write.
pub fn rejected(at: Loc, reason: &str, message: &str, rule: Option<&str>) -> String {
    let message = in_file_terms(message);
    match rule {
        Some(rule) => format!("{at}: rejected ({reason}): {message} [{rule}]"),
        None => format!("{at}: rejected ({reason}): {message}"),
    }
}

/// A message of the detection core in the terms of the configuration
/// file: the contract names its bounds `limits.max-event-bytes`, the file
/// `limits.max_event_bytes` (same unit).
pub fn in_file_terms(message: &str) -> String {
    [
        ("limits.max-event-bytes", "limits.max_event_bytes"),
        ("limits.max-open-groups", "limits.max_open_groups"),
        ("limits.max-list-entries", "limits.max_list_entries"),
    ]
    .iter()
    .fold(message.to_owned(), |m, (wit, file)| m.replace(wit, file))
}

/// A record whose time is far ahead of the stream.
pub fn far_ahead(at: Loc) -> String {
    format!(
        "{at}: time far ahead of the stream (more than limits.max_time_jump_seconds): \
         counted, but the watermark waits for other records to agree"
    )
}

/// Far-ahead notices shown in the summary, per input.
pub const FAR_AHEAD_SHOWN: usize = 3;

/// An input's records far ahead of the stream, in one line: how many,
/// where the first [`FAR_AHEAD_SHOWN`] were, and how to list them all.
pub fn far_ahead_summary(count: u64, first: &[Loc]) -> String {
    let mut at: Vec<String> = first.iter().map(Loc::to_string).collect();
    if count > first.len() as u64 {
        at.push("…".to_owned());
    }
    let (records, times) = if count == 1 {
        ("record", "a time")
    } else {
        ("records", "times")
    };
    format!(
        "{count} {records} with {times} far ahead of the stream (more than \
         limits.max_time_jump_seconds) at {}: counted, but the watermark waits for other \
         records to agree (--show-rejects N lists them)",
        at.join(", ")
    )
}

/// A whole-document layout whose records cannot be found.
pub fn bad_document(message: &str) -> String {
    format!("not a readable CloudTrail document: {message}")
}

/// A gzip stream that cannot be inflated (damaged or cut short).
pub fn bad_gzip(message: &str) -> String {
    format!("not a readable gzip stream: {message}")
}

/// A zip archive given as one input.
pub const ZIP_ARCHIVE: &str = "a zip archive, not CloudTrail JSON or gzip: \
     its members must be read one by one (unzip it first)";

/// A `base64` read step whose text is not base64 (the host's fault, not
/// the input's): the input is unreadable from there on.
pub fn invalid_base64(error: impl std::fmt::Display) -> String {
    format!(
        "a base64 read step is not valid base64 ({error}); the input was not read from there on"
    )
}
