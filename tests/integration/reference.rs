//! A deliberately simple batch implementation of both rules: parse every
//! raw CloudTrail record into a `serde_json::Value`, filter, group by over a
//! `Vec`, count. It shares no code with the guest; it is the reference the
//! streaming engine is checked against, written straight from the
//! specification's numbered steps.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One row the query would return, with its rule and window.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RefRow {
    /// `sentinel-aws-cli-recon` or `elastic-aws-discovery-burst`.
    pub rule: &'static str,
    /// Bucket start, ms.
    pub window_start: i64,
    /// The row, as compact JSON text.
    pub row: String,
}

fn text(v: &Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(next) => cur = next,
            None => return String::new(),
        }
    }
    match cur {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn opt(v: &Value, path: &[&str]) -> Option<String> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    match cur {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

/// Event time of a raw record in ms (`eventTime` as RFC 3339 or epoch ms).
pub fn time_ms(v: &Value) -> i64 {
    match &v["eventTime"] {
        Value::Number(n) => n.as_i64().unwrap(),
        Value::String(s) => {
            let t = OffsetDateTime::parse(s, &Rfc3339).unwrap();
            (t.unix_timestamp_nanos() / 1_000_000) as i64
        }
        other => panic!("reference: unusable eventTime {other}"),
    }
}

fn bucket(t: i64, width: i64) -> i64 {
    t.div_euclid(width) * width
}

fn format(ms: i64) -> String {
    let t = OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).unwrap();
    t.format(&Rfc3339).unwrap()
}

/// KQL `has`, by brute force: at every position, does the needle start
/// there (ignoring ASCII case) with no letter or digit either side?
fn has(command: &str, needle: &str) -> bool {
    let c = command.to_ascii_lowercase().into_bytes();
    let n = needle.to_ascii_lowercase().into_bytes();
    if n.is_empty() || n.len() > c.len() {
        return false;
    }
    (0..=c.len() - n.len()).any(|i| {
        c[i..i + n.len()] == n[..]
            && (i == 0 || !c[i - 1].is_ascii_alphanumeric())
            && (i + n.len() == c.len() || !c[i + n.len()].is_ascii_alphanumeric())
    })
}

/// The Sentinel rule over `events`, in the given order.
pub fn sentinel(events: &[Value], seed: bool, commands: &[&str], min: usize) -> Vec<RefRow> {
    type Key = (i64, String, String, String, String, String, String);
    let mut groups: Vec<(Key, Vec<String>, Vec<String>)> = Vec::new();
    for ev in events {
        let ua = text(ev, &["userAgent"]);
        if !ua.to_ascii_lowercase().starts_with("aws-cli") {
            continue;
        }
        let command = match ua.split("off command/").nth(1) {
            Some(c) => c.to_owned(),
            None if !seed => ua
                .split("md/command#")
                .nth(1)
                .map(|r| r.split(' ').next().unwrap().to_owned())
                .unwrap_or_default(),
            None => String::new(),
        };
        if !commands.iter().any(|n| has(&command, n)) {
            continue;
        }
        let mut arn = text(ev, &["userIdentity", "arn"]);
        if arn.is_empty() {
            arn = ev["resources"]
                .get(0)
                .map(|r| text(r, &["ARN"]))
                .unwrap_or_default();
        }
        let user_from_arn = arn.split('/').next_back().unwrap().to_owned();
        let user_name = text(ev, &["userIdentity", "userName"]);
        let mut account = if text(ev, &["userIdentity", "principalId"]) == "Anonymous" {
            "Anonymous".to_owned()
        } else if user_name.is_empty() {
            user_from_arn
        } else {
            user_name.clone()
        };
        let mut upn = String::new();
        if account.contains('@') {
            let parts: Vec<&str> = account.split('@').collect();
            if !seed {
                upn = parts[1].to_owned();
            }
            account = parts[0].to_owned();
        }
        let key = (
            bucket(time_ms(ev), 60_000),
            text(ev, &["recipientAccountId"]),
            account,
            upn,
            user_name,
            text(ev, &["sourceIPAddress"]),
            text(
                ev,
                &[
                    "userIdentity",
                    "sessionContext",
                    "attributes",
                    "mfaAuthenticated",
                ],
            ),
        );
        let name = text(ev, &["eventName"]);
        match groups.iter_mut().find(|g| g.0 == key) {
            Some(g) => {
                g.1.push(command);
                g.2.push(name);
            }
            None => groups.push((key, vec![command], vec![name])),
        }
    }
    let mut rows = Vec::new();
    for (k, cmds, names) in groups {
        let distinct = cmds.iter().collect::<BTreeSet<_>>().len();
        if distinct < min {
            continue;
        }
        let row = json!({
            "TimeGenerated": format(k.0),
            "RecipientAccountId": k.1,
            "AccountName": k.2,
            "AccountUPNSuffix": k.3,
            "UserIdentityUserName": k.4,
            "SourceIpAddress": k.5,
            "SessionMfaAuthenticated": k.6,
            "CommadCount": distinct,
            "EventCount": names.iter().collect::<BTreeSet<_>>().len(),
            "commands": cmds,
            "Events": names,
        });
        rows.push(RefRow {
            rule: "sentinel-aws-cli-recon",
            window_start: k.0,
            row: row.to_string(),
        });
    }
    rows.sort();
    rows
}

/// The Elastic rule over `events`.
pub fn elastic(events: &[Value], providers: &[&str], min: usize) -> Vec<RefRow> {
    let mut groups: BTreeMap<(i64, String), BTreeSet<String>> = BTreeMap::new();
    for ev in events {
        let Some(source) = opt(ev, &["eventSource"]) else {
            continue;
        };
        if !providers.contains(&source.as_str()) {
            continue;
        }
        match opt(ev, &["userIdentity", "type"]) {
            Some(t) if t != "AWSService" => {}
            _ => continue,
        }
        if !opt(ev, &["userAgent"]).is_some_and(|ua| ua.starts_with("aws-cli/")) {
            continue;
        }
        let Some(name) = opt(ev, &["eventName"]) else {
            continue;
        };
        if name == "DescribeCapacityReservations"
            || !["Describe", "Get", "List", "Generate"]
                .iter()
                .any(|p| name.starts_with(p))
        {
            continue;
        }
        let Some(arn) = opt(ev, &["userIdentity", "arn"]) else {
            continue;
        };
        // %{}::%{owner}:%{type}/%{roles}
        let Some((_, after)) = arn.split_once("::") else {
            continue;
        };
        let Some((_owner, after)) = after.split_once(':') else {
            continue;
        };
        let Some((_type, roles)) = after.split_once('/') else {
            continue;
        };
        if roles.starts_with("AWSServiceRoleForConfig") {
            continue;
        }
        groups
            .entry((bucket(time_ms(ev), 10_000), arn))
            .or_default()
            .insert(name);
    }
    let mut rows: Vec<RefRow> = groups
        .into_iter()
        .filter(|(_, names)| names.len() >= min)
        .map(|((start, arn), names)| RefRow {
            rule: "elastic-aws-discovery-burst",
            window_start: start,
            row: json!({
                "Esql.time_window_date_trunc": format(start),
                "aws.cloudtrail.user_identity.arn": arn,
                "Esql.event_action_count_distinct": names.len(),
            })
            .to_string(),
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn reference_has_matches_the_spec_examples() {
    assert!(has(
        "ec2.describe-vpc-peering-connections",
        "ec2.describe-vpc"
    ));
    assert!(!has("ec2.describe-vpcs", "ec2.describe-vpc"));
    assert!(has("EC2.DESCRIBE-VPC", "ec2.describe-vpc"));
}
