//! The wording of every outcome of reading and detecting, in one place:
//! `recon detect` prints these (after the input's name), the component
//! returns them in `read-report.message` and `read-event`, so every host
//! words a report alike.

use crate::Loc;

/// A record skipped by the reader for its size.
pub fn too_large(at: Loc, bytes: u64, limit: u64) -> String {
    format!(
        "{at}: rejected (too-large): the line is {bytes} bytes; the limit is {limit} \
         (limits.max_event_bytes); skipped without being read whole"
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
