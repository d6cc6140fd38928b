//! The same events in the three input shapes (raw CloudTrail, Sentinel
//! `AWSCloudTrail` rows, ECS documents nested and dotted) give the same
//! alerts, and every time format the specification lists is read.

use recon::runtime::{Config, Profile};
use serde_json::{Map, Value, json};

use crate::differential::generate;
use crate::util::{assert_same_alerts, run, sentinel};

fn field(v: &Value, path: &[&str]) -> Value {
    let mut cur = v;
    for p in path {
        match cur.get(p) {
            Some(n) => cur = n,
            None => return Value::Null,
        }
    }
    cur.clone()
}

/// A raw record as Microsoft Sentinel's `AWSCloudTrail` table holds it.
fn to_sentinel(raw: &Value) -> Value {
    let mfa = match field(
        raw,
        &[
            "userIdentity",
            "sessionContext",
            "attributes",
            "mfaAuthenticated",
        ],
    ) {
        Value::String(s) => Value::Bool(s == "true"),
        other => other,
    };
    let resources = match field(raw, &["resources"]) {
        Value::Null => Value::Null,
        r => Value::String(r.to_string()),
    };
    json!({
        "TimeGenerated": raw["eventTime"],
        "UserAgent": raw["userAgent"],
        "EventName": raw["eventName"],
        "EventSource": raw["eventSource"],
        "UserIdentityType": field(raw, &["userIdentity", "type"]),
        "UserIdentityArn": field(raw, &["userIdentity", "arn"]),
        "UserIdentityUserName": field(raw, &["userIdentity", "userName"]),
        "UserIdentityPrincipalid": field(raw, &["userIdentity", "principalId"]),
        "RecipientAccountId": raw["recipientAccountId"],
        "SourceIpAddress": raw["sourceIPAddress"],
        "SessionMfaAuthenticated": mfa,
        "Resources": resources,
        "AwsEventId": raw["eventID"],
        "Type": "AWSCloudTrail",
    })
}

/// The ECS fields of a raw record, as (dotted path, value) pairs.
fn ecs_pairs(raw: &Value) -> Vec<(&'static str, Value)> {
    vec![
        ("@timestamp", raw["eventTime"].clone()),
        ("event.dataset", json!("aws.cloudtrail")),
        ("event.provider", raw["eventSource"].clone()),
        ("event.action", raw["eventName"].clone()),
        ("event.id", raw["eventID"].clone()),
        ("user_agent.original", raw["userAgent"].clone()),
        (
            "aws.cloudtrail.user_identity.type",
            field(raw, &["userIdentity", "type"]),
        ),
        (
            "aws.cloudtrail.user_identity.arn",
            field(raw, &["userIdentity", "arn"]),
        ),
        (
            "aws.cloudtrail.user_identity.session_context.mfa_authenticated",
            field(
                raw,
                &[
                    "userIdentity",
                    "sessionContext",
                    "attributes",
                    "mfaAuthenticated",
                ],
            ),
        ),
        (
            "aws.cloudtrail.recipient_account_id",
            raw["recipientAccountId"].clone(),
        ),
        ("user.name", field(raw, &["userIdentity", "userName"])),
        ("user.id", field(raw, &["userIdentity", "principalId"])),
        ("source.address", raw["sourceIPAddress"].clone()),
    ]
}

fn to_ecs_dotted(raw: &Value) -> Value {
    let mut m = Map::new();
    for (k, v) in ecs_pairs(raw) {
        if !v.is_null() {
            m.insert(k.to_owned(), v);
        }
    }
    Value::Object(m)
}

fn to_ecs_nested(raw: &Value) -> Value {
    let mut root = Value::Object(Map::new());
    for (k, v) in ecs_pairs(raw) {
        if v.is_null() {
            continue;
        }
        if k == "@timestamp" {
            root[k] = v;
            continue;
        }
        let parts: Vec<&str> = k.split('.').collect();
        let mut cur = &mut root;
        for p in &parts[..parts.len() - 1] {
            if cur.get(*p).is_none() {
                cur[*p] = Value::Object(Map::new());
            }
            cur = cur.get_mut(*p).unwrap();
        }
        cur[parts[parts.len() - 1]] = v;
    }
    root
}

fn configs() -> Vec<Config> {
    vec![
        sentinel(Profile::Default),
        sentinel(Profile::Seed),
        crate::util::elastic_rule(Profile::Default),
    ]
}

#[test]
fn the_three_shapes_give_the_same_alerts() {
    let raw = generate(3, 6000, 20, 0);
    // The ECS mapping has no `resources`: compare on events whose identity
    // ARN is set, where the Sentinel rule never needs that fallback.
    let raw: Vec<Value> = raw
        .iter()
        .map(|e| serde_json::from_str::<Value>(e).unwrap())
        .filter(|v| {
            field(v, &["userIdentity", "arn"])
                .as_str()
                .is_some_and(|a| !a.is_empty())
        })
        .collect();
    let as_text =
        |f: fn(&Value) -> Value| -> Vec<String> { raw.iter().map(|v| f(v).to_string()).collect() };
    let raw_text: Vec<String> = raw.iter().map(Value::to_string).collect();
    let shapes = [
        ("sentinel rows", as_text(to_sentinel)),
        ("ecs dotted", as_text(to_ecs_dotted)),
        ("ecs nested", as_text(to_ecs_nested)),
    ];
    for config in configs() {
        let (want, stats) = run(&config, &raw_text);
        assert!(
            !want.is_empty(),
            "{:?}: no alert to compare",
            config.rules[0].rule
        );
        assert_eq!(stats.rejected, 0);
        for (name, events) in &shapes {
            let (got, stats) = run(&config, events);
            assert_eq!(stats.rejected, 0, "{name}: {stats:?}");
            assert_same_alerts(&got, &want, &format!("{:?} {name}", config.rules[0].rule));
        }
    }
}

#[test]
fn every_listed_time_format_is_read() {
    let base = r#""eventName":"ListUsers","eventSource":"iam.amazonaws.com","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a"},"userAgent":"aws-cli/2.9 Python/3 prompt/off command/iam.list-users""#;
    let times = [
        r#""eventTime":"2024-05-01T10:00:30Z""#,
        r#""eventTime":"2024-05-01T10:00:30.1Z""#,
        r#""eventTime":"2024-05-01T10:00:30.123456789Z""#,
        r#""eventTime":"2024-05-01T12:00:30+02:00""#,
        r#""eventTime":"2024-05-01 10:00:30""#,
        r#""eventTime":"2024-05-01 10:00:30.5""#,
        r#""eventTime":1714557630000"#,
        r#""@timestamp":"2024-05-01T10:00:30.000Z""#,
    ];
    let events: Vec<String> = times.iter().map(|t| format!("{{{t},{base}}}")).collect();
    let mut config = sentinel(Profile::Default);
    config.rules[0].min_distinct = Some(1);
    let (alerts, stats) = run(&config, &events);
    assert_eq!(stats.accepted, times.len() as u64, "{stats:?}");
    assert_eq!(alerts.len(), 1);
    assert!(
        alerts[0]
            .row
            .contains("\"TimeGenerated\":\"2024-05-01T10:00:00Z\"")
    );
    // Unusable times are rejected, never given "now".
    let bad: Vec<String> = [
        r#""eventTime":"2024-05-01""#,
        r#""eventTime":"""#,
        r#""eventTime":true"#,
    ]
    .iter()
    .map(|t| format!("{{{t},{base}}}"))
    .collect();
    let (alerts, stats) = run(&config, &bad);
    assert!(alerts.is_empty());
    assert_eq!(stats.rejected, 3);
}
