//! Alerts as NDJSON: one JSON object per alert, per line.

use serde::Serialize;
use serde_json::value::RawValue;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::runtime::{Alert, AlertKind};

/// The `kind` member of a line: `final` (the window closed: the query's
/// row) or `early` (the group has just reached the threshold; its window is
/// still open).
pub fn kind_name(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Final => "final",
        AlertKind::Early => "early",
    }
}

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
    kind: &'static str,
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
        kind: kind_name(a.kind),
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

/// The OCSF version [`ocsf_json`] writes.
pub const OCSF_VERSION: &str = "1.8.0";

/// How alerts are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// The rule-native line (the query's row, with the rule's metadata).
    #[default]
    Native,
    /// An OCSF Detection Finding (class 2004), the native line under
    /// `unmapped`.
    Ocsf,
}

/// One alert as a line in `format`.
pub fn alert_line(
    a: &Alert,
    tenant: Option<&str>,
    format: Format,
) -> Result<String, serde_json::Error> {
    match format {
        Format::Native => alert_json_for(a, tenant),
        Format::Ocsf => ocsf_json(a, tenant),
    }
}

/// MITRE ATT&CK tactic ids of the tactics the rules name.
fn tactic_uid(name: &str) -> Option<&'static str> {
    match name {
        "Reconnaissance" => Some("TA0043"),
        "Discovery" => Some("TA0007"),
        _ => None,
    }
}

/// The account id inside an ARN (`arn:aws:iam::123456789012:user/x`).
fn arn_account(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (!account.is_empty()).then_some(account)
}

/// One alert as an OCSF 1.8 Detection Finding (class 2004, activity
/// Create). A final alert has status New; an early one (its window still
/// open) has status In Progress, a `status_detail` saying so, and an event
/// uid of its own (`<id>-early`), while `finding_info.uid` is the alert id
/// for both, so a consumer updates one finding. Finding info with the rule as the analytic and its MITRE
/// ATT&CK tactics and techniques, the actor and source address as
/// evidence, the cloud account, the window as start and end time, the
/// severity; the rule-native line (as [`alert_json_for`] writes it) under
/// `unmapped`. Validated against the OCSF schema in the tests.
pub fn ocsf_json(a: &Alert, tenant: Option<&str>) -> Result<String, serde_json::Error> {
    use serde_json::{Value, json};
    let native: Value = serde_json::from_str(&alert_json_for(a, tenant)?)?;
    let row = &native["row"];
    let text = |v: &Value| v.as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    // Who: the Sentinel row names the account and the caller; the Elastic
    // row the identity ARN.
    let arn = text(&row["aws.cloudtrail.user_identity.arn"]);
    let account = text(&row["RecipientAccountId"])
        .or_else(|| arn.as_deref().and_then(arn_account).map(str::to_owned));
    let mut user = serde_json::Map::new();
    if let Some(name) = text(&row["AccountName"]).or_else(|| {
        arn.as_deref()
            .and_then(|a| a.rsplit('/').next())
            .map(str::to_owned)
    }) {
        user.insert("name".into(), name.into());
    }
    if let Some(arn) = &arn {
        user.insert("uid".into(), arn.clone().into());
    }
    if let Some(account) = &account {
        user.insert(
            "account".into(),
            json!({"uid": account, "type_id": 10, "type": "AWS Account"}),
        );
    }
    let mut evidence = serde_json::Map::new();
    evidence.insert("actor".into(), json!({ "user": user }));
    if let Some(ip) = text(&row["SourceIpAddress"]) {
        evidence.insert("src_endpoint".into(), json!({"ip": ip, "uid": ip}));
    }
    let tactics: Vec<Value> = a
        .tactics
        .iter()
        .map(|t| match tactic_uid(t) {
            Some(uid) => json!({"name": t, "uid": uid}),
            None => json!({ "name": t }),
        })
        .collect();
    let attacks: Vec<Value> = a
        .techniques
        .iter()
        .map(|t| {
            let mut attack = serde_json::Map::new();
            if let Some(tactic) = tactics.first() {
                attack.insert("tactic".into(), tactic.clone());
            }
            match t.split_once('.') {
                Some((base, _)) => {
                    attack.insert("technique".into(), json!({ "uid": base }));
                    attack.insert("sub_technique".into(), json!({ "uid": t }));
                }
                None => {
                    attack.insert("technique".into(), json!({ "uid": t }));
                }
            }
            Value::Object(attack)
        })
        .collect();
    let (severity_id, severity) = match a.severity.as_str() {
        "Informational" => (1, "Informational"),
        "Low" => (2, "Low"),
        "Medium" => (3, "Medium"),
        "High" => (4, "High"),
        "Critical" => (5, "Critical"),
        _ => (0, "Unknown"),
    };
    let early = a.kind == AlertKind::Early;
    let mut metadata = json!({
        "version": OCSF_VERSION,
        "uid": if early { format!("{}-early", a.id) } else { a.id.clone() },
        "profiles": ["cloud"],
        "product": {
            "name": "recon",
            "vendor_name": "recon",
            "version": env!("CARGO_PKG_VERSION"),
        },
    });
    if let Some(t) = tenant {
        metadata["tenant_uid"] = t.into();
    }
    let mut cloud = json!({ "provider": "AWS" });
    if let Some(account) = &account {
        cloud["account"] = json!({"uid": account, "type_id": 10, "type": "AWS Account"});
    }
    let mut finding = json!({
        "activity_id": 1,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200401,
        "type_name": "Detection Finding: Create",
        "severity_id": severity_id,
        "severity": severity,
        "status_id": 1,
        "status": "New",
        "time": a.window_end,
        "start_time": a.window_start,
        "end_time": a.window_end,
        "message": a.description,
        "finding_info": {
            "uid": a.id,
            "title": a.title,
            "desc": a.description,
            "analytic": {"uid": a.rule_id, "name": a.rule, "type_id": 1, "type": "Rule"},
            "attacks": attacks,
            "first_seen_time": a.window_start,
            "last_seen_time": a.window_end,
        },
        "cloud": cloud,
        "evidences": [Value::Object(evidence)],
        "metadata": metadata,
        "unmapped": native,
    });
    if early {
        finding["status_id"] = 2.into();
        finding["status"] = "In Progress".into();
        finding["status_detail"] = "Early alert: the group has reached the rule's threshold \
            and its window is still open; the final finding (same finding_info.uid) follows \
            when the window closes"
            .into();
    }
    if let Some(n) = row["EventCount"].as_u64() {
        finding["count"] = n.into();
    }
    serde_json::to_string(&finding)
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
