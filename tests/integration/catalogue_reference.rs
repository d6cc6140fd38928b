//! A deliberately simple batch reading of every rule of the Sigma catalogue
//! (`rules/`), written by hand from each rule's meaning and from
//! docs/sigma.md: one predicate per rule over a `serde_json::Value`, a
//! group-by over a map, a count. It is not a Sigma interpreter and shares
//! no code with the guest (nor with the generator): it is what the
//! component's alerts for the catalogue are held to, on generated trails
//! (`tests/integration/catalogue.rs`, `gen/tests/catalogue.rs`) and on the
//! public samples under `tests/data/cloudtrail`.
//!
//! What it reads (docs/rules.md, docs/sigma.md):
//!
//! - raw CloudTrail records only: an object with any of `eventTime`,
//!   `eventName`, `eventSource`, `userIdentity`, `eventVersion`, `eventID`;
//!   other objects (Sentinel rows, ECS documents, anything else) match no
//!   catalogue rule here, and the catalogue's trails hold none;
//! - the event time from `eventTime` (else Logstash's `@timestamp`): RFC
//!   3339 with `Z` or an offset, 0 to 9 fraction digits read to the
//!   millisecond, a space for the `T`, no zone meaning UTC; or epoch
//!   milliseconds as a JSON number;
//! - a record that is not JSON, not an object, has a known object of
//!   another type (`userIdentity`, its `sessionContext` and that one's
//!   `attributes`; the ECS objects `event`, `user_agent`, `aws` and
//!   `aws.cloudtrail…`, `user`, `source`), or has no readable time, is
//!   rejected (docs/rules.md: `unknown-shape`, `missing-time`,
//!   `invalid-time`): it matches nothing. (A known key written twice, which
//!   serde_json reads as its last value, is not checked; no trail here has
//!   one.)
//!
//! Field values (docs/sigma.md "Fields"): a dot-separated path; stepping
//! through an array reads every member; `null` and a path that leads
//! nowhere are missing; a value reads as text (strings as themselves,
//! numbers and booleans as their JSON text, objects and arrays at the end
//! of the path as compact JSON). A condition on a field holds when any of
//! its values satisfies it; group-by and value_count read a field's first
//! value.

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One alert a catalogue correlation raises: the native line's `rule`,
/// `window_start`, `window_end` (ms) and `row` (compact JSON: each
/// group-by field as written in the rule, a string or null, then `count`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CatRow {
    pub rule: String,
    pub window_start: i64,
    pub window_end: i64,
    pub row: String,
}

/// One catalogue correlation, read by hand.
pub struct CatRule {
    /// The correlation's `name`.
    pub name: &'static str,
    /// Its `timespan`, ms.
    pub window_ms: i64,
    /// Its `group-by`, as written.
    pub group_by: &'static [&'static str],
    /// `value_count`: the field whose distinct values count; `None`:
    /// `event_count`.
    pub distinct: Option<&'static str>,
    /// Its `condition` over the count.
    pub alerts: fn(u64) -> bool,
    /// Its detection rule (and the filter, where the filter names it).
    pub matches: fn(&Value) -> bool,
}

// ---------------------------------------------------------------- reading

/// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z, the times a reader
/// accepts.
const MIN_MS: i64 = -62_135_596_800_000;
const MAX_MS: i64 = 253_402_300_799_999;

fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// An event time string, in ms.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19
        || !s.is_ascii()
        || b[4] != b'-'
        || b[7] != b'-'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    if !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let year = digits(&s[0..4])?;
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    let hour = digits(&s[11..13])?;
    let minute = digits(&s[14..16])?;
    let second = digits(&s[17..19])?;
    let mut rest = &s[19..];
    let mut millis = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 || n > 9 {
            return None;
        }
        let frac = format!("{:0<3}", &r[..n.min(3)]);
        millis = frac.parse().ok()?;
        rest = &r[n..];
    }
    let offset_min = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let z = &rest[1..];
            if z.len() != 5 || z.as_bytes()[2] != b':' {
                return None;
            }
            let (h, m) = (digits(&z[0..2])?, digits(&z[3..5])?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 60 + m)
        }
    };
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // A leap second is the last millisecond of its minute.
    let (second, millis) = if second == 60 {
        (59, 999)
    } else {
        (second, millis)
    };
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?)
            .ok()?;
    let days = i64::from(date.to_julian_day()) - 2_440_588;
    let ms =
        ((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis - offset_min * 60_000;
    (MIN_MS..=MAX_MS).contains(&ms).then_some(ms)
}

fn read_time(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => parse_time(s),
        Value::Number(n) => {
            let ms = if let Some(i) = n.as_i64() {
                i
            } else {
                let f = n.as_f64()?;
                if !f.is_finite() || f.abs() >= 1e15 {
                    return None;
                }
                f.floor() as i64
            };
            (MIN_MS..=MAX_MS).contains(&ms).then_some(ms)
        }
        _ => None,
    }
}

fn present<'a>(o: &'a serde_json::Map<String, Value>, k: &str) -> Option<&'a Value> {
    o.get(k).filter(|v| !v.is_null())
}

/// A record as the detector reads it: its event time and its JSON, or
/// `None` when it is rejected or not a raw CloudTrail record.
pub fn read_event(text: &str) -> Option<(i64, Value)> {
    let v: Value = serde_json::from_str(text).ok()?;
    let o = v.as_object()?;
    let cloudtrail = [
        "eventTime",
        "eventName",
        "eventSource",
        "userIdentity",
        "eventVersion",
        "eventID",
    ]
    .iter()
    .any(|k| present(o, k).is_some());
    if !cloudtrail {
        return None;
    }
    // Known objects of another type make the record unreadable.
    let must_be_object = |x: Option<&Value>| x.is_none_or(Value::is_object);
    let ui = present(o, "userIdentity");
    let sc = ui
        .and_then(|u| u.get("sessionContext"))
        .filter(|x| !x.is_null());
    let at = sc
        .and_then(|s| s.get("attributes"))
        .filter(|x| !x.is_null());
    if !(must_be_object(ui) && must_be_object(sc) && must_be_object(at)) {
        return None;
    }
    for k in ["event", "user_agent", "aws", "user", "source"] {
        if !must_be_object(present(o, k)) {
            return None;
        }
    }
    let mut nested = present(o, "aws");
    for k in ["cloudtrail", "user_identity", "session_context"] {
        nested = nested.and_then(|x| x.get(k)).filter(|x| !x.is_null());
        if !must_be_object(nested) {
            return None;
        }
    }
    let t = match (present(o, "eventTime"), present(o, "@timestamp")) {
        (Some(t), _) => read_time(t)?,
        (None, Some(t)) => read_time(t)?,
        (None, None) => return None,
    };
    Some((t, v))
}

/// Every value at a dot-separated path: arrays met on the way are read
/// member by member; `null` is missing.
pub fn values<'a>(v: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut cur = vec![v];
    for step in path.split('.') {
        let mut next = Vec::new();
        for c in cur {
            collect_member(c, step, &mut next);
        }
        cur = next;
    }
    cur.into_iter().filter(|x| !x.is_null()).collect()
}

fn collect_member<'a>(v: &'a Value, key: &str, out: &mut Vec<&'a Value>) {
    match v {
        Value::Object(o) => {
            if let Some(x) = o.get(key) {
                out.push(x);
            }
        }
        Value::Array(items) => {
            for item in items {
                collect_member(item, key, out);
            }
        }
        _ => {}
    }
}

/// A value as text.
pub fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The first value of a field, as text.
pub fn first(v: &Value, path: &str) -> Option<String> {
    values(v, path).first().map(|x| text_of(x))
}

fn any(v: &Value, path: &str, pred: impl Fn(&str) -> bool) -> bool {
    values(v, path).iter().any(|x| pred(&text_of(x)))
}

/// Equal, ignoring ASCII case (Sigma's default).
fn is(v: &Value, path: &str, want: &str) -> bool {
    any(v, path, |s| s.eq_ignore_ascii_case(want))
}

/// Equal, exactly (`|cased`).
fn is_cased(v: &Value, path: &str, want: &str) -> bool {
    any(v, path, |s| s == want)
}

fn one_of(v: &Value, path: &str, wanted: &[&str]) -> bool {
    any(v, path, |s| {
        wanted.iter().any(|w| s.eq_ignore_ascii_case(w))
    })
}

fn one_of_cased(v: &Value, path: &str, wanted: &[&str]) -> bool {
    any(v, path, |s| wanted.contains(&s))
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn contains_ci(s: &str, needle: &str) -> bool {
    s.to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

fn exists(v: &Value, path: &str) -> bool {
    !values(v, path).is_empty()
}

// ---------------------------------------------------------------- rules

/// The catalogue filter's scanners: `arn:aws:iam::` or `arn:aws:sts::`,
/// twelve digits, `:user/` or `:assumed-role/`, then one of the three
/// names followed by `/` or the end (the filter's regular expression, read
/// by hand; case-sensitive).
fn scanner_arn(arn: &str) -> bool {
    let Some(rest) = arn
        .strip_prefix("arn:aws:iam::")
        .or_else(|| arn.strip_prefix("arn:aws:sts::"))
    else {
        return false;
    };
    let Some((account, rest)) = rest.split_once(':') else {
        return false;
    };
    if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Some(rest) = rest
        .strip_prefix("user/")
        .or_else(|| rest.strip_prefix("assumed-role/"))
    else {
        return false;
    };
    let name = rest.split('/').next().unwrap_or("");
    ["WizAccess-Role", "OrcaSecurityRole", "prowler"].contains(&name)
}

fn not_a_scanner(r: &Value) -> bool {
    !any(r, "userIdentity.arn", scanner_arn)
}

fn is_ip_address(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// Panther's recon pattern: event source prefix and its event name
/// prefixes, both case-sensitive.
const RECON: [(&str, &[&str]); 5] = [
    ("dynamodb", &["List", "Describe", "Get"]),
    ("ec2", &["Describe", "Get"]),
    ("iam", &["List", "Get"]),
    ("s3", &["List", "Get"]),
    ("rds", &["Describe", "List"]),
];

fn console_failure_not_root(r: &Value) -> bool {
    is(r, "eventSource", "signin.amazonaws.com")
        && is(r, "eventName", "ConsoleLogin")
        && is(r, "responseElements.ConsoleLogin", "Failure")
        && !is(r, "userIdentity.type", "Root")
}

/// Every catalogue correlation.
pub fn rules() -> Vec<CatRule> {
    vec![
        CatRule {
            name: "aws-iam-user-enumeration",
            window_ms: 600_000,
            group_by: &[
                "userIdentity.principalId",
                "userIdentity.arn",
                "userIdentity.accountId",
            ],
            distinct: None,
            alerts: |n| n > 50,
            matches: |r| {
                one_of_cased(
                    r,
                    "eventName",
                    &[
                        "ListAttachedRolePolicies",
                        "ListRoles",
                        "ListGroupsForUser",
                        "ListAttachedUserPolicies",
                        "ListAccessKeys",
                        "ListUsers",
                    ],
                ) && not_a_scanner(r)
            },
        },
        CatRule {
            name: "aws-iam-recon-access-denied",
            window_ms: 600_000,
            group_by: &["userIdentity.arn"],
            distinct: None,
            alerts: |n| n >= 15,
            matches: |r| {
                let recon = RECON.iter().any(|(source, verbs)| {
                    any(r, "eventSource", |s| s.starts_with(source))
                        && any(r, "eventName", |n| verbs.iter().any(|p| n.starts_with(p)))
                });
                is_cased(r, "errorCode", "AccessDenied")
                    && is_cased(r, "userIdentity.type", "IAMUser")
                    && any(r, "sourceIPAddress", is_ip_address)
                    && !any(r, "userAgent", |s| s.starts_with("aws-internal/3"))
                    && recon
                    && not_a_scanner(r)
            },
        },
        CatRule {
            name: "aws-ec2-many-password-read-attempts",
            window_ms: 3_600_000,
            group_by: &["userIdentity.arn"],
            distinct: None,
            alerts: |n| n >= 30,
            matches: |r| {
                is_cased(r, "eventName", "GetPasswordData")
                    && is_cased(r, "eventSource", "ec2.amazonaws.com")
            },
        },
        CatRule {
            name: "aws-console-root-login-failures",
            window_ms: 900_000,
            group_by: &["recipientAccountId"],
            distinct: None,
            alerts: |n| n >= 5,
            matches: |r| {
                is_cased(r, "eventName", "ConsoleLogin")
                    && is_cased(r, "userIdentity.type", "Root")
                    && is_cased(r, "responseElements.ConsoleLogin", "Failure")
            },
        },
        CatRule {
            name: "aws-console-brute-force-by-source-ip",
            window_ms: 300_000,
            group_by: &["sourceIPAddress"],
            distinct: None,
            alerts: |n| n >= 10,
            matches: console_failure_not_root,
        },
        CatRule {
            name: "aws-console-brute-force-single-user",
            window_ms: 300_000,
            group_by: &["userIdentity.userName"],
            distinct: None,
            alerts: |n| n >= 10,
            matches: console_failure_not_root,
        },
        CatRule {
            name: "aws-console-password-spraying",
            window_ms: 3_600_000,
            group_by: &["recipientAccountId", "awsRegion"],
            distinct: Some("userIdentity.userName"),
            alerts: |n| n > 5,
            matches: |r| {
                is_cased(r, "eventType", "AwsConsoleSignIn")
                    && is_cased(r, "responseElements.ConsoleLogin", "Failure")
            },
        },
        CatRule {
            name: "aws-secretsmanager-rapid-secrets-retrieval",
            window_ms: 300_000,
            group_by: &["userIdentity.principalId"],
            distinct: Some("requestParameters.secretId"),
            alerts: |n| n >= 20,
            matches: |r| {
                let browser = any(r, "userAgent", |s| {
                    ["Chrome/", "Firefox/", "Safari/", "Edg/", "Brave", "OPR/"]
                        .iter()
                        .any(|b| contains_ci(s, b))
                });
                let integration = one_of(
                    r,
                    "sourceIPAddress",
                    &[
                        "kafka.amazonaws.com",
                        "apidestinations.events.amazonaws.com",
                    ],
                );
                is(r, "eventSource", "secretsmanager.amazonaws.com")
                    && is(r, "eventName", "GetSecretValue")
                    && !exists(r, "errorCode")
                    && !(browser || integration)
            },
        },
        CatRule {
            name: "aws-secretsmanager-batch-retrieval-multi-region",
            window_ms: 600_000,
            group_by: &["userIdentity.arn"],
            distinct: Some("awsRegion"),
            alerts: |n| n >= 5,
            matches: |r| is_cased(r, "eventName", "BatchGetSecretValue") && !exists(r, "errorCode"),
        },
        CatRule {
            name: "aws-ssm-decrypt-parameters",
            window_ms: 3_600_000,
            group_by: &["recipientAccountId", "userIdentity.arn"],
            distinct: Some("requestParameters.name"),
            alerts: |n| n > 10,
            matches: |r| {
                is_cased(r, "eventName", "GetParameter")
                    && is(r, "requestParameters.withDecryption", "true")
            },
        },
        CatRule {
            name: "aws-ec2-multi-region-describe-instances",
            window_ms: 30_000,
            group_by: &["userIdentity.arn"],
            distinct: Some("awsRegion"),
            alerts: |n| n >= 15,
            matches: |r| is_cased(r, "eventName", "DescribeInstances"),
        },
        CatRule {
            name: "aws-servicequotas-multi-region-requests",
            window_ms: 30_000,
            group_by: &["userIdentity.arn"],
            distinct: Some("awsRegion"),
            alerts: |n| n >= 10,
            matches: |r| {
                is_cased(r, "eventSource", "servicequotas.amazonaws.com")
                    && is_cased(r, "eventName", "GetServiceQuota")
                    && is_cased(r, "requestParameters.serviceCode", "ec2")
                    && is_cased(r, "requestParameters.quotaCode", "L-1216C47A")
            },
        },
        CatRule {
            name: "aws-ec2-bulk-userdata-download",
            window_ms: 1_800_000,
            group_by: &[],
            distinct: None,
            alerts: |n| n > 10,
            matches: |r| {
                is(r, "eventSource", "ec2.amazonaws.com")
                    && is(r, "requestParameters.attribute", "userData")
                    && is(r, "eventName", "DescribeInstanceAttribute")
            },
        },
        CatRule {
            name: "aws-s3-storage-enumeration",
            window_ms: 600_000,
            group_by: &["userIdentity.arn"],
            distinct: None,
            alerts: |n| n > 5,
            matches: |r| {
                is(r, "eventSource", "s3.amazonaws.com")
                    && one_of(
                        r,
                        "eventName",
                        &[
                            "ListBuckets",
                            "GetBucketCors",
                            "GetBucketInventoryConfiguration",
                            "GetBucketPublicAccessBlock",
                            "GetBucketMetricsConfiguration",
                            "GetBucketPolicy",
                            "GetBucketTagging",
                        ],
                    )
            },
        },
        CatRule {
            name: "aws-iam-assume-role-policy-brute-force",
            window_ms: 1_200_000,
            group_by: &[],
            distinct: None,
            alerts: |n| n >= 25,
            matches: |r| {
                is(r, "eventSource", "iam.amazonaws.com")
                    && is(r, "eventName", "UpdateAssumeRolePolicy")
                    && is(r, "errorCode", "MalformedPolicyDocumentException")
            },
        },
    ]
}

fn json_text(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// One rule over `events` (each with its time), in any order.
pub fn run_rule(rule: &CatRule, events: &[(i64, Value)]) -> Vec<CatRow> {
    // (window start, group) -> (events, distinct values)
    type Key = (i64, Vec<Option<String>>);
    let mut groups: BTreeMap<Key, (u64, BTreeSet<String>)> = BTreeMap::new();
    for (t, ev) in events {
        if !(rule.matches)(ev) {
            continue;
        }
        let start = t.div_euclid(rule.window_ms) * rule.window_ms;
        let group: Vec<Option<String>> = rule.group_by.iter().map(|f| first(ev, f)).collect();
        let entry = groups.entry((start, group)).or_default();
        entry.0 += 1;
        if let Some(field) = rule.distinct
            && let Some(value) = first(ev, field)
        {
            entry.1.insert(value);
        }
    }
    let mut rows = Vec::new();
    for ((start, group), (n, distinct)) in groups {
        let count = if rule.distinct.is_some() {
            distinct.len() as u64
        } else {
            n
        };
        if !(rule.alerts)(count) {
            continue;
        }
        let mut row = String::from("{");
        for (field, value) in rule.group_by.iter().zip(&group) {
            row.push_str(&json_text(field));
            row.push(':');
            match value {
                Some(v) => row.push_str(&json_text(v)),
                None => row.push_str("null"),
            }
            row.push(',');
        }
        row.push_str(&format!("\"count\":{count}}}"));
        rows.push(CatRow {
            rule: rule.name.to_owned(),
            window_start: start,
            window_end: start + rule.window_ms,
            row,
        });
    }
    rows.sort();
    rows
}

/// Every catalogue rule over the records (JSON text each), sorted.
pub fn run_records<S: AsRef<str>>(records: &[S]) -> Vec<CatRow> {
    let events: Vec<(i64, Value)> = records
        .iter()
        .filter_map(|r| read_event(r.as_ref()))
        .collect();
    run_events(&events)
}

/// Every catalogue rule over read events, sorted.
pub fn run_events(events: &[(i64, Value)]) -> Vec<CatRow> {
    let mut rows: Vec<CatRow> = rules().iter().flat_map(|r| run_rule(r, events)).collect();
    rows.sort();
    rows
}

// ---------------------------------------------------------------- files

/// `tests/data/cloudtrail`.
pub fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/cloudtrail")
}

/// Every file under `dir`, sorted, notes and licences left out.
pub fn trail_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                if !(name.ends_with(".md") || name == "LICENSE") {
                    out.push(path);
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, &mut out);
    out.sort();
    out
}

/// A record's JSON text on one line: whitespace outside strings removed
/// (numbers and strings stay byte for byte).
pub fn one_line(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_whitespace() {
            out.push(c);
        }
    }
    out
}

fn records_of_document(raw: &serde_json::value::RawValue, out: &mut Vec<String>) {
    #[derive(serde::Deserialize)]
    struct Doc<'a> {
        #[serde(borrow, rename = "Records")]
        records: Vec<&'a serde_json::value::RawValue>,
    }
    let text = raw.get();
    let is_doc = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| {
            v.as_object()
                .map(|o| o.len() == 1 && o.get("Records").is_some_and(Value::is_array))
        })
        .unwrap_or(false);
    match serde_json::from_str::<Doc>(text) {
        Ok(doc) if is_doc => out.extend(doc.records.iter().map(|r| one_line(r.get()))),
        _ => out.push(one_line(text)),
    }
}

/// The records of one trail file, each as one line of JSON text: a
/// `{"Records":[…]}` document, a top-level array, one or several
/// concatenated objects, or one record per line (lines holding a
/// `Records` document expanded); gzip or not, by content. A line that is
/// not JSON is kept as it is (it is a record the detector rejects).
pub fn read_trail_file(path: &Path) -> Vec<String> {
    let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out
    } else {
        raw
    };
    let text = String::from_utf8_lossy(&bytes);
    let text = text.trim_start_matches('\u{feff}');
    let mut out = Vec::new();
    let trimmed = text.trim_start();
    if trimmed.starts_with('[')
        && let Ok(items) = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(trimmed)
    {
        out.extend(items.iter().map(|r| one_line(r.get())));
        return out;
    }
    if trimmed.starts_with('{') {
        let stream =
            serde_json::Deserializer::from_str(trimmed).into_iter::<&serde_json::value::RawValue>();
        let mut docs = Vec::new();
        let mut ok = true;
        for item in stream {
            match item {
                Ok(raw) => docs.push(raw),
                Err(_) => {
                    ok = false;
                    break;
                }
            }
        }
        if ok {
            for d in docs {
                records_of_document(d, &mut out);
            }
            return out;
        }
    }
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        match serde_json::from_str::<&serde_json::value::RawValue>(line) {
            Ok(raw) => records_of_document(raw, &mut out),
            Err(_) => out.push(line.to_owned()),
        }
    }
    out
}

/// Every record of every file under `tests/data/cloudtrail` (one line of
/// JSON text each), file by file.
pub fn sample_records() -> Vec<(PathBuf, Vec<String>)> {
    trail_files(&samples_dir())
        .into_iter()
        .map(|f| {
            let records = read_trail_file(&f);
            (f, records)
        })
        .collect()
}

/// Every sample record as one stream in event-time order (stable; records
/// the detector rejects, which carry no time, at the end): what the
/// integration test feeds the component, so that the stream has no
/// disorder however far apart the samples' dates are.
pub fn sample_stream() -> Vec<String> {
    let mut timed: Vec<(i64, String)> = Vec::new();
    let mut rejected = Vec::new();
    for (_, records) in sample_records() {
        for r in records {
            match read_event(&r) {
                Some((t, _)) => timed.push((t, r)),
                None => rejected.push(r),
            }
        }
    }
    timed.sort_by_key(|(t, _)| *t);
    timed.into_iter().map(|(_, r)| r).chain(rejected).collect()
}

/// The catalogue over every sample, as one batch.
pub fn run_samples() -> Vec<CatRow> {
    run_records(&sample_stream())
}

#[test]
fn reference_reads_every_time_form() {
    let t = 1_767_571_201_123;
    for s in [
        "2026-01-05T00:00:01.123Z",
        "2026-01-05T00:00:01.123456789Z",
        "2026-01-05t00:00:01.1239z",
        "2026-01-05 00:00:01.123",
        "2026-01-05T02:00:01.123+02:00",
        "2026-01-04T23:00:01.123-01:00",
    ] {
        assert_eq!(parse_time(s), Some(t), "{s}");
    }
    assert_eq!(parse_time("2026-01-05T00:00:01Z"), Some(t - 123));
    assert_eq!(parse_time("2026-01-05T00:00:60Z"), Some(1_767_571_259_999));
    for bad in [
        "2026-01-05",
        "2026-02-30T00:00:00Z",
        "2026-01-05T00:00:01.Z",
        "2026-01-05T00:00:01.1234567890Z",
        "2026-01-05T00:00:01+2:00",
        "2026-01-05T24:00:00Z",
    ] {
        assert_eq!(parse_time(bad), None, "{bad}");
    }
    let ev = |time: &str| read_event(&format!("{{\"eventName\":\"X\",\"eventTime\":{time}}}"));
    assert_eq!(ev("1767571201123").map(|e| e.0), Some(t));
    assert_eq!(ev("1767571201123.9").map(|e| e.0), Some(t));
    assert_eq!(ev("\"\""), None);
    assert_eq!(ev("null"), None);
    assert_eq!(ev("true"), None);
    assert!(read_event("{\"foo\":1,\"eventTime\":null}").is_none());
    assert!(
        read_event("{\"eventName\":\"X\",\"@timestamp\":\"2026-01-05T00:00:01.123Z\"}").is_some()
    );
    assert!(
        read_event("{\"eventTime\":\"2026-01-05T00:00:01Z\",\"userIdentity\":\"x\"}").is_none()
    );
    assert!(read_event("[1]").is_none());
    assert!(read_event("not json").is_none());
}

#[test]
fn reference_scanner_pattern_reads_like_the_filter() {
    assert!(scanner_arn(
        "arn:aws:sts::123456789012:assumed-role/WizAccess-Role/wiz-1"
    ));
    assert!(scanner_arn("arn:aws:iam::123456789012:user/prowler"));
    assert!(!scanner_arn(
        "arn:aws:sts::123456789012:assumed-role/WizAccess-RoleAudit/x"
    ));
    assert!(!scanner_arn("arn:aws:iam::123456789012:user/Prowler"));
    assert!(!scanner_arn("arn:aws:iam::12345678901:user/prowler"));
    assert!(!scanner_arn("arn:aws-cn:iam::123456789012:user/prowler"));
}
