//! Alerts as NDJSON: one JSON object per alert, per line.

use serde::Serialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::runtime::Alert;

/// Formats ms since the epoch as RFC 3339 in UTC: `YYYY-MM-DDTHH:MM:SSZ`,
/// with the fraction only when there is one. Times outside what RFC 3339
/// can write (before year 0) fall back to the number of milliseconds.
pub fn format_time(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

#[derive(Serialize)]
struct Line<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    tenant: Option<&'a str>,
    rule: &'a str,
    rule_id: &'a str,
    id: &'a str,
    window_start: String,
    window_end: String,
    row: &'a RawValue,
    title: &'a str,
    description: &'a str,
    severity: &'a str,
    tactics: &'a [String],
    techniques: &'a [String],
    entities: Vec<serde_json::Map<String, serde_json::Value>>,
    custom_details: &'a RawValue,
    truncated: bool,
}

/// One alert as a JSON object (no line end). The row and custom details
/// are embedded as the JSON the detector wrote; an entity becomes
/// `{"type": kind, field: value, …}`.
pub fn alert_json(a: &Alert) -> Result<String, serde_json::Error> {
    alert_json_for(a, None)
}

/// One alert as a JSON object, with the tenant it belongs to first (when
/// records are routed by tenant).
pub fn alert_json_for(a: &Alert, tenant: Option<&str>) -> Result<String, serde_json::Error> {
    let row: &RawValue = serde_json::from_str(&a.row)?;
    let custom_details: &RawValue = serde_json::from_str(&a.custom_details)?;
    let entities = a
        .entities
        .iter()
        .map(|e| {
            let mut m = serde_json::Map::new();
            m.insert("type".into(), e.kind.clone().into());
            for (k, v) in &e.fields {
                m.insert(k.clone(), v.clone().into());
            }
            m
        })
        .collect();
    serde_json::to_string(&Line {
        tenant,
        rule: &a.rule,
        rule_id: &a.rule_id,
        id: &a.id,
        window_start: format_time(a.window_start),
        window_end: format_time(a.window_end),
        row,
        title: &a.title,
        description: &a.description,
        severity: &a.severity,
        tactics: &a.tactics,
        techniques: &a.techniques,
        entities,
        custom_details,
        truncated: a.truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_rfc3339() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(1_770_568_260_000), "2026-02-08T16:31:00Z");
        assert_eq!(format_time(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(format_time(951_868_800_000), "2000-03-01T00:00:00Z");
    }
}
