//! Alerts as the lines every host writes: the native line (the query's
//! row with the rule's metadata) and the OCSF 1.8 Detection Finding. One
//! formatter for every host: the Rust host calls it natively, the
//! component exports it (`format-alert`).

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::value::RawValue;

use crate::alert::{Alert, AlertKind, Entity};

/// The OCSF version [`ocsf_line`] writes.
pub const OCSF_VERSION: &str = "1.8.0";

/// First millisecond of year 0 and of year 10000: RFC 3339 writes the
/// years between.
const RFC3339_MIN_MS: i64 = -62_167_219_200_000;
const RFC3339_END_MS: i64 = 253_402_300_800_000;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlertFormat {
    /// The rule-native line.
    #[default]
    Native,
    /// An OCSF Detection Finding (class 2004), the native line under
    /// `unmapped`.
    Ocsf,
}

/// Formats ms since the epoch as RFC 3339 in UTC: `YYYY-MM-DDTHH:MM:SSZ`,
/// with the fraction only when there is one (trailing zeros dropped).
/// Times RFC 3339 cannot write (outside years 0 to 9999) fall back to the
/// number of milliseconds.
pub fn rfc3339(ms: i64) -> String {
    if !(RFC3339_MIN_MS..RFC3339_END_MS).contains(&ms) {
        return ms.to_string();
    }
    let whole = crate::time::format_time(ms, false);
    let frac = ms.rem_euclid(1000);
    if frac == 0 {
        return whole;
    }
    let digits = format!("{frac:03}");
    let digits = digits.trim_end_matches('0');
    format!("{}.{digits}Z", whole.trim_end_matches('Z'))
}

/// An entity as `{"type": kind, field: value, …}`, in mapping order.
struct EntityJson<'a>(&'a Entity);

impl Serialize for EntityJson<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // As a JSON object is built: a name given again keeps its first
        // place and takes the later value.
        let mut members: Vec<(&str, &str)> = vec![("type", &self.0.kind)];
        for (k, v) in &self.0.fields {
            match members.iter_mut().find(|(name, _)| name == k) {
                Some(m) => m.1 = v,
                None => members.push((k, v)),
            }
        }
        let mut m = s.serialize_map(Some(members.len()))?;
        for (k, v) in members {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
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
    entities: Vec<EntityJson<'a>>,
    custom_details: &'a RawValue,
    truncated: bool,
    /// Alerts of the group held back since its previous one (only when
    /// suppression held some back).
    #[serde(skip_serializing_if = "is_zero")]
    suppressed: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Why an alert could not be formatted: its row or custom details are not
/// JSON (never the case for alerts a detector made).
#[derive(Debug, thiserror::Error)]
#[error("alert {id}: {source}")]
pub struct FormatError {
    /// The alert's id.
    pub id: String,
    /// What is wrong.
    pub source: serde_json::Error,
}

/// One alert as a line (no line end) in `format`, with `tenant` as its
/// first member when given.
pub fn alert_line(
    a: &Alert,
    format: AlertFormat,
    tenant: Option<&str>,
) -> Result<String, FormatError> {
    let line = match format {
        AlertFormat::Native => native_line(a, tenant),
        AlertFormat::Ocsf => ocsf_line(a, tenant),
    };
    line.map_err(|source| FormatError {
        id: a.id.clone(),
        source,
    })
}

/// [`alert_line`], for any alert a host hands back: an alert whose row or
/// custom details are not JSON (never one a detector made) has them
/// written as JSON strings instead, so a line is always written.
pub fn alert_line_any(a: &Alert, format: AlertFormat, tenant: Option<&str>) -> String {
    alert_line(a, format, tenant).unwrap_or_else(|_| {
        let json_or_text = |t: &str| {
            if serde_json::from_str::<&RawValue>(t).is_ok() {
                t.to_owned()
            } else {
                serde_json::Value::from(t).to_string()
            }
        };
        let mut a = a.clone();
        a.row = json_or_text(&a.row);
        a.custom_details = json_or_text(&a.custom_details);
        alert_line(&a, format, tenant).expect("row and custom details are JSON now")
    })
}

/// One alert as a JSON object (no line end), the tenant it belongs to
/// first when records are routed by tenant. The row and custom details
/// are embedded as the JSON the detector wrote; an entity becomes
/// `{"type": kind, field: value, …}`.
pub fn native_line(a: &Alert, tenant: Option<&str>) -> Result<String, serde_json::Error> {
    let row: &RawValue = serde_json::from_str(&a.row)?;
    let custom_details: &RawValue = serde_json::from_str(&a.custom_details)?;
    serde_json::to_string(&Line {
        tenant,
        rule: &a.rule,
        rule_id: &a.rule_id,
        id: &a.id,
        kind: kind_name(a.kind),
        window_start: rfc3339(a.window_start),
        window_end: rfc3339(a.window_end),
        row,
        title: &a.title,
        description: &a.description,
        severity: &a.severity,
        tactics: &a.tactics,
        techniques: &a.techniques,
        entities: a.entities.iter().map(EntityJson).collect(),
        custom_details,
        truncated: a.truncated,
        suppressed: a.suppressed,
    })
}

/// The `kind` member of a line: `final` (the window closed: the query's
/// row) or `early` (the group has just reached the threshold; its window is
/// still open).
pub fn kind_name(kind: AlertKind) -> &'static str {
    match kind {
        AlertKind::Final => "final",
        AlertKind::Early => "early",
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
/// for both. Finding info with the rule as the analytic and its MITRE
/// ATT&CK tactics and techniques, the actor and source address as
/// evidence, the cloud account, the window as start and end time, the
/// severity; the native line (as [`native_line`] writes it) under
/// `unmapped`.
pub fn ocsf_line(a: &Alert, tenant: Option<&str>) -> Result<String, serde_json::Error> {
    use serde_json::{Value, json};
    let native: Value = serde_json::from_str(&native_line(a, tenant)?)?;
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
    // An early alert is a finding in progress: its own event uid, the same
    // finding uid as the final one, so a consumer updates one finding.
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
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_770_568_260_000), "2026-02-08T16:31:00Z");
        assert_eq!(rfc3339(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(1_500), "1970-01-01T00:00:01.5Z");
        assert_eq!(rfc3339(1_020), "1970-01-01T00:00:01.02Z");
        assert_eq!(rfc3339(951_868_800_000), "2000-03-01T00:00:00Z");
        assert_eq!(rfc3339(RFC3339_MIN_MS), "0000-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(RFC3339_MIN_MS - 1),
            (RFC3339_MIN_MS - 1).to_string()
        );
        assert_eq!(rfc3339(RFC3339_END_MS - 1), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(RFC3339_END_MS), RFC3339_END_MS.to_string());
    }
}
