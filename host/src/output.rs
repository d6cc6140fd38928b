//! Alerts as NDJSON: one JSON object per alert, per line, formatted by
//! the detection core's formatter (`recon_guest::format`), the code the
//! component exports as `format-alert`, so every host writes the same
//! bytes.

use recon_guest::format::{self, AlertFormat, FormatError};

use crate::runtime::{Alert, AlertKind};

pub use recon_guest::format::{OCSF_VERSION, kind_name, rfc3339 as format_time};

/// How alerts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// The rule-native line (the query's row, with the rule's metadata).
    #[default]
    Native,
    /// An OCSF Detection Finding (class 2004), the native line under
    /// `unmapped`.
    Ocsf,
}

impl crate::choice::Choice for Format {
    const ALL: &'static [Format] = &[Format::Native, Format::Ocsf];

    fn name(self) -> &'static str {
        match self {
            Format::Native => "native",
            Format::Ocsf => "ocsf",
        }
    }

    fn about(self) -> &'static str {
        match self {
            Format::Native => "the rule-native line (the query's row, with the rule's metadata)",
            Format::Ocsf => "an OCSF 1.8 Detection Finding, the native line under `unmapped`",
        }
    }
}

/// The core's alert, from the component's.
fn core_alert(a: &Alert) -> recon_guest::Alert {
    recon_guest::Alert {
        rule: a.rule.clone(),
        rule_id: a.rule_id.clone(),
        id: a.id.clone(),
        window_start: a.window_start,
        window_end: a.window_end,
        row: a.row.clone(),
        title: a.title.clone(),
        description: a.description.clone(),
        severity: a.severity.clone(),
        tactics: a.tactics.clone(),
        techniques: a.techniques.clone(),
        entities: a
            .entities
            .iter()
            .map(|e| recon_guest::Entity {
                kind: e.kind.clone(),
                fields: e.fields.clone(),
            })
            .collect(),
        custom_details: a.custom_details.clone(),
        truncated: a.truncated,
        kind: core_kind(a.kind),
        suppressed: a.suppressed,
    }
}

/// The core's alert kind, from the component's.
fn core_kind(kind: AlertKind) -> recon_guest::AlertKind {
    match kind {
        AlertKind::Final => recon_guest::AlertKind::Final,
        AlertKind::Early => recon_guest::AlertKind::Early,
    }
}

/// An alert's `kind` as its line spells it (`final` or `early`).
pub fn alert_kind(a: &Alert) -> &'static str {
    kind_name(core_kind(a.kind))
}

/// One alert as a line (no line end) in `format`, with the tenant it
/// belongs to first when records are routed by tenant.
pub fn alert_line(a: &Alert, tenant: Option<&str>, format: Format) -> Result<String, FormatError> {
    let format = match format {
        Format::Native => AlertFormat::Native,
        Format::Ocsf => AlertFormat::Ocsf,
    };
    let core = core_alert(a);
    // The formatter runs natively on values that came from records (fuzzed
    // by the `detector_ops` target): a panic in it is an error naming the
    // alert, never the end of the process.
    std::panic::catch_unwind(|| format::alert_line(&core, format, tenant)).unwrap_or_else(|p| {
        let what = crate::panic_message(&*p);
        Err(FormatError {
            id: a.id.clone(),
            source: serde::de::Error::custom(format!(
                "the alert formatter failed ({what}); this is a bug, please report it"
            )),
        })
    })
}

/// One alert as its native line (no line end).
pub fn alert_json(a: &Alert) -> Result<String, FormatError> {
    alert_line(a, None, Format::Native)
}
