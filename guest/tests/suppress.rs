//! Suppression: after an alert of a group goes out, the group's alerts of
//! windows starting within the span are held back and counted; the next
//! alert that goes out carries the count. Decided in window order, so a
//! replay, any arrival order within the allowed lateness, any split into
//! calls and a snapshot in between all give the same alerts; and the same
//! final alerts with early alerts on or off.

use recon_guest::config::{Profile, RuleSettings, Settings};
use recon_guest::{Alert, AlertKind, Detector, Rule, RuleFile};

/// Three or more calls of one identity in a 10-minute window alert; an
/// hour of event time after an alert, the group's alerts are held back.
const HOURLY: &str = r#"
title: IAM listing
name: iam_listing
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventSource: iam.amazonaws.com
    eventName|startswith: List
  condition: sel
---
title: IAM listing burst
name: iam_listing_burst
rsigma.suppress: 1h
correlation:
  type: event_count
  rules: [iam_listing]
  group-by: [userIdentity.arn]
  timespan: 10m
  window: tumbling
  condition:
    gte: 3
level: medium
"#;

fn record(minute: u32, second: u32, user: &str, name: &str) -> String {
    let (h, m) = (minute / 60, minute % 60);
    format!(
        r#"{{"eventTime":"2026-03-01T{h:02}:{m:02}:{second:02}Z","eventSource":"iam.amazonaws.com","eventName":"{name}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/{user}"}},"userAgent":"aws-cli/2.15.0 Python/3.11","sourceIPAddress":"198.51.100.7"}}"#
    )
}

/// Alice lists three times in every 10-minute window for three hours; Bob
/// only in the first window.
fn trail() -> Vec<String> {
    let mut v = Vec::new();
    for window in 0..18u32 {
        for k in 0..3u32 {
            v.push(record(window * 10 + k, 5, "alice", "ListUsers"));
        }
        if window == 0 {
            for k in 0..3u32 {
                v.push(record(k, 30, "bob", "ListRoles"));
            }
        }
    }
    v
}

fn settings(early: bool) -> Settings {
    let mut s = Settings::with_rules(Vec::new(), Profile::Default);
    s.rule_files = vec![RuleFile {
        name: "hourly.yml".into(),
        text: HOURLY.into(),
    }];
    s.early_alerts = Some(early);
    s
}

fn run(settings: Settings, records: &[String]) -> (Vec<Alert>, Detector) {
    let mut d = Detector::new(settings).unwrap();
    for r in records {
        d.push(r).unwrap();
    }
    d.flush(None);
    let alerts = d.drain();
    (alerts, d)
}

fn finals(alerts: &[Alert]) -> Vec<Alert> {
    alerts
        .iter()
        .filter(|a| a.kind == AlertKind::Final)
        .cloned()
        .collect()
}

/// (user, minute of the window start, suppressed) of each alert.
fn summary(alerts: &[Alert]) -> Vec<(String, i64, u64)> {
    let base = 1_772_323_200_000i64; // 2026-03-01T00:00:00Z
    alerts
        .iter()
        .map(|a| {
            let row: serde_json::Value = serde_json::from_str(&a.row).unwrap();
            let arn = row["userIdentity.arn"].as_str().unwrap();
            let user = arn.rsplit('/').next().unwrap().to_owned();
            (user, (a.window_start - base) / 60_000, a.suppressed)
        })
        .collect()
}

#[test]
fn a_suppressed_group_alerts_once_an_hour_of_event_time_and_reports_what_it_held() {
    let (alerts, d) = run(settings(false), &trail());
    assert_eq!(
        summary(&alerts),
        vec![
            ("alice".into(), 0, 0),
            ("bob".into(), 0, 0),
            ("alice".into(), 60, 5),
            ("alice".into(), 120, 5),
        ]
    );
    // Nothing is lost: the last five held back are counted.
    let stats = d.stats();
    let rule = &stats.rules[0];
    assert_eq!(rule.counters.suppressed, 15);
    assert_eq!(rule.counters.alerts, 4);
}

#[test]
fn without_suppression_every_window_alerts() {
    let text = HOURLY.replace("rsigma.suppress: 1h\n", "");
    let mut s = settings(false);
    s.rule_files[0].text = text;
    let (alerts, d) = run(s, &trail());
    assert_eq!(alerts.len(), 19);
    assert!(alerts.iter().all(|a| a.suppressed == 0));
    assert_eq!(d.stats().rules[0].counters.suppressed, 0);
}

#[test]
fn suppression_is_the_same_under_disorder_batching_and_a_snapshot() {
    let records = trail();
    let (want, _) = run(settings(false), &records);
    // Reversed in runs of four records: a few minutes out of order at
    // most, within the default allowed lateness of 15 minutes.
    let mut shuffled = Vec::new();
    for chunk in records.chunks(4) {
        shuffled.extend(chunk.iter().rev().cloned());
    }
    let (got, _) = run(settings(false), &shuffled);
    assert_eq!(got, want);
    // A snapshot half-way, restored, runs on to the same alerts.
    let mut d = Detector::new(settings(false)).unwrap();
    let half = records.len() / 2;
    for r in &records[..half] {
        d.push(r).unwrap();
    }
    let mut first = d.drain();
    let snap = d.snapshot();
    let mut restored = Detector::restore(&snap).unwrap();
    for r in &records[half..] {
        restored.push(r).unwrap();
    }
    restored.flush(None);
    first.extend(restored.drain());
    assert_eq!(first, want);
}

#[test]
fn early_alerts_leave_the_final_alerts_as_they_are() {
    let (off, _) = run(settings(false), &trail());
    let (on, _) = run(settings(true), &trail());
    assert_eq!(finals(&on), off);
    // Early alerts of suppressed groups are held back too, and carry no
    // count of their own.
    let early: Vec<_> = on.iter().filter(|a| a.kind == AlertKind::Early).collect();
    assert!(early.iter().all(|a| a.suppressed == 0));
    assert!(
        early.len() < 19,
        "{} early alerts: suppression held none back",
        early.len()
    );
}

#[test]
fn a_built_in_suppresses_from_its_settings() {
    // Six distinct discovery calls every minute for an hour: one Elastic
    // alert a minute, or one per half hour under suppression.
    let names = [
        "ListUsers",
        "ListRoles",
        "ListGroups",
        "GetUser",
        "ListPolicies",
        "GetAccountSummary",
    ];
    let mut records = Vec::new();
    for minute in 0..60u32 {
        for (i, n) in names.iter().enumerate() {
            records.push(record(minute, i as u32, "carol", n));
        }
    }
    let mut r = RuleSettings::new(Rule::Elastic);
    let plain = Settings::with_rules(vec![r.clone()], Profile::Default);
    let (all, _) = run(plain, &records);
    assert_eq!(all.len(), 60);
    r.suppress_ms = Some(30 * 60_000);
    let (alerts, d) = run(Settings::with_rules(vec![r], Profile::Default), &records);
    let suppressed: Vec<u64> = alerts.iter().map(|a| a.suppressed).collect();
    assert_eq!(suppressed, vec![0, 29]);
    assert_eq!(d.stats().rules[0].counters.suppressed, 58);
    // The rows are the unsuppressed run's rows for the same windows.
    for a in &alerts {
        let same = all.iter().find(|b| b.id == a.id).unwrap();
        assert_eq!(a.row, same.row);
    }
}

fn refused(s: Settings) -> recon_guest::ConfigError {
    match Detector::new(s) {
        Ok(_) => panic!("the settings were accepted"),
        Err(e) => e,
    }
}

#[test]
fn a_suppression_span_out_of_range_is_refused() {
    let mut r = RuleSettings::new(Rule::Elastic);
    r.suppress_ms = Some(8 * 24 * 3_600_000);
    let err = refused(Settings::with_rules(vec![r], Profile::Default));
    assert!(err.to_string().contains("suppress-ms"), "{err}");
    for bad in [
        "rsigma.suppress: soon",
        "rsigma.suppress: 0s",
        "rsigma.suppress: 9d",
    ] {
        let mut s = settings(false);
        s.rule_files[0].text = HOURLY.replace("rsigma.suppress: 1h", bad);
        let err = refused(s).to_string();
        assert!(err.contains("rsigma.suppress"), "{bad}: {err}");
        assert!(err.contains("hourly.yml"), "{bad}: {err}");
    }
}

#[test]
fn unset_and_zero_suppression_are_one_configuration() {
    let unset = Settings::with_rules(vec![RuleSettings::new(Rule::Elastic)], Profile::Default);
    let mut zero = unset.clone();
    zero.rules[0].suppress_ms = Some(0);
    let a = Detector::new(unset).unwrap().snapshot();
    let b = Detector::new(zero).unwrap().snapshot();
    assert_eq!(a, b);
}
