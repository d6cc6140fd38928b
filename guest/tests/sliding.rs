//! Sliding windows: at each event time `t` of a group, the events in
//! `(t - span, t]`; a group alerts when it meets the threshold at `t` and
//! did not just before `t` (an episode starts), reporting the window
//! `[t - span + 1, t + 1)`. Held to an independent batch reading of that
//! definition (`reference` below, a sort and a count per event time), under
//! disorder within the allowed lateness, any split into calls and a
//! snapshot in between.

use proptest::prelude::*;
use recon_guest::config::{Profile, RuleSettings, Settings, WindowMode};
use recon_guest::{Alert, Detector, Rule, RuleFile};

const BASE: i64 = 1_772_323_200_000; // 2026-03-01T00:00:00Z

/// More than 50 IAM listings by one identity within 10 minutes.
fn enumeration(window: &str, condition: &str) -> String {
    format!(
        r#"
title: IAM listing
name: iam_listing
logsource: {{product: aws, service: cloudtrail}}
detection:
  sel:
    eventSource: iam.amazonaws.com
    eventName|startswith: List
  condition: sel
---
title: IAM user enumeration
name: iam_enumeration
correlation:
  type: event_count
  rules: [iam_listing]
  group-by: [userIdentity.arn]
  timespan: 10m
{window}  condition:
    {condition}
level: medium
"#
    )
}

/// As [`enumeration`], a distinct count of event names.
fn distinct_names(gte: u64) -> String {
    format!(
        r#"
title: IAM listing
name: iam_listing
logsource: {{product: aws, service: cloudtrail}}
detection:
  sel:
    eventSource: iam.amazonaws.com
  condition: sel
---
title: IAM breadth
name: iam_breadth
correlation:
  type: value_count
  rules: [iam_listing]
  group-by: [userIdentity.arn]
  timespan: 1m
  window: sliding
  condition:
    field: eventName
    gte: {gte}
level: medium
"#
    )
}

/// A record `ms` after BASE (within March 2026).
fn record(ms: i64, user: &str, name: &str) -> String {
    let secs = ms.div_euclid(1000);
    let (day, rest) = (1 + secs / 86_400, secs % 86_400);
    format!(
        r#"{{"eventTime":"2026-03-{day:02}T{:02}:{:02}:{:02}.{:03}Z","eventSource":"iam.amazonaws.com","eventName":"{name}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/{user}"}},"userAgent":"aws-cli/2.15.0 Python/3.11","sourceIPAddress":"198.51.100.7"}}"#,
        rest / 3600,
        rest / 60 % 60,
        rest % 60,
        ms.rem_euclid(1000)
    )
}

fn settings(text: &str) -> Settings {
    let mut s = Settings::with_rules(Vec::new(), Profile::Default);
    s.rule_files = vec![RuleFile {
        name: "rule.yml".into(),
        text: text.into(),
    }];
    s
}

fn run(settings: Settings, records: &[String]) -> Vec<Alert> {
    let mut d = Detector::new(settings).unwrap();
    for r in records {
        d.push(r).unwrap();
    }
    d.flush(None);
    d.drain()
}

/// (user, window start and end relative to BASE, count) of each alert.
fn rows(alerts: &[Alert]) -> Vec<(String, i64, i64, u64)> {
    alerts
        .iter()
        .map(|a| {
            let row: serde_json::Value = serde_json::from_str(&a.row).unwrap();
            let arn = row["userIdentity.arn"].as_str().unwrap();
            (
                arn.rsplit('/').next().unwrap().to_owned(),
                a.window_start - BASE,
                a.window_end - BASE,
                row["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// 70 listings in five minutes, 35 on each side of the 10-minute edge at
/// 00:10 (from 00:07:30 to 00:12:30), and `n` more of Bob's in the same
/// five minutes.
fn straddling(bob: usize) -> Vec<String> {
    let mut v = Vec::new();
    let start = 7 * 60_000 + 30_000;
    for i in 0..70i64 {
        v.push((start + i * 4_285, "alice", "ListUsers"));
    }
    for i in 0..bob as i64 {
        v.push((start + i * 5_000, "bob", "ListRoles"));
    }
    v.sort();
    v.into_iter().map(|(t, u, n)| record(t, u, n)).collect()
}

#[test]
fn a_burst_straddling_a_window_edge_alerts_only_when_windows_slide() {
    let trail = straddling(50);
    let tumbling = run(
        settings(&enumeration("  window: tumbling\n", "gt: 50")),
        &trail,
    );
    assert_eq!(
        rows(&tumbling),
        vec![],
        "35 + 35 never reach 51 in a bucket"
    );
    let sliding = run(
        settings(&enumeration("  window: sliding\n", "gt: 50")),
        &trail,
    );
    // Alice's 51st listing (index 50) starts the episode; Bob's 50 never
    // reach 51.
    let t51 = 7 * 60_000 + 30_000 + 50 * 4_285;
    assert_eq!(
        rows(&sliding),
        vec![("alice".to_owned(), t51 - 600_000 + 1, t51 + 1, 51)]
    );
    // No window named: sliding, as the specification advises.
    let default = run(settings(&enumeration("", "gt: 50")), &trail);
    assert_eq!(default, sliding);
}

#[test]
fn a_burst_below_the_threshold_never_alerts() {
    let mut trail = Vec::new();
    for i in 0..50i64 {
        trail.push(record(i * 6_000, "alice", "ListUsers"));
    }
    for i in 0..50i64 {
        // Another 50 just over ten minutes later: never 51 within one.
        trail.push(record(600_000 + 6_000 + i * 6_000, "alice", "ListUsers"));
    }
    let alerts = run(settings(&enumeration("", "gt: 50")), &trail);
    assert_eq!(rows(&alerts), vec![]);
}

#[test]
fn one_episode_gives_one_alert_and_a_new_burst_another() {
    let mut trail = Vec::new();
    // A sustained run: 200 listings, one every 3 s (10 minutes).
    for i in 0..200i64 {
        trail.push(record(i * 3_000, "alice", "ListUsers"));
    }
    // An hour of quiet, then a second burst.
    for i in 0..60i64 {
        trail.push(record(2 * 3_600_000 + i * 1_000, "alice", "ListGroups"));
    }
    let alerts = run(settings(&enumeration("", "gt: 50")), &trail);
    let r = rows(&alerts);
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0].3, 51);
    assert_eq!(r[0].2, 50 * 3_000 + 1);
    assert_eq!(r[1].2, 2 * 3_600_000 + 50 * 1_000 + 1);
}

#[test]
fn a_sliding_condition_must_bound_from_below() {
    for condition in ["lt: 5", "lte: 5", "eq: 5", "neq: 5"] {
        let s = settings(&enumeration("  window: sliding\n", condition));
        let err = match Detector::new(s) {
            Ok(_) => panic!("{condition} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(err.contains("only bound from below"), "{condition}: {err}");
        assert!(err.contains("rule.yml"), "{err}");
    }
    // Tumbling windows take any comparison.
    assert!(Detector::new(settings(&enumeration("  window: tumbling\n", "lt: 5"))).is_ok());
}

#[test]
fn a_built_in_slides_when_its_settings_say_so() {
    // Six distinct discovery calls in ten seconds, across the edge at
    // 00:00:10: the Elastic rule's tumbling buckets see 3 and 3.
    let names = [
        "ListUsers",
        "ListRoles",
        "ListGroups",
        "GetUser",
        "ListPolicies",
        "GetAccountSummary",
    ];
    let trail: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| record(7_000 + i as i64 * 1_000, "carol", n))
        .collect();
    let mut r = RuleSettings::new(Rule::Elastic);
    let tumbling = run(
        Settings::with_rules(vec![r.clone()], Profile::Default),
        &trail,
    );
    assert!(tumbling.is_empty());
    r.window = Some(WindowMode::Sliding);
    let sliding = run(Settings::with_rules(vec![r], Profile::Default), &trail);
    assert_eq!(sliding.len(), 1);
    assert_eq!(sliding[0].window_end - BASE, 12_001);
    let row: serde_json::Value = serde_json::from_str(&sliding[0].row).unwrap();
    assert_eq!(row["Esql.event_action_count_distinct"], 6);
}

/// The independent batch reading: per group, per distinct event time `t`
/// in order, the measure over `(t - span, t]` and over `(t - span, t)`;
/// an alert where the first meets `min` and the second does not.
fn reference(
    events: &[(i64, &str, &str)],
    span: i64,
    min: usize,
    distinct: bool,
) -> Vec<(String, i64, i64, u64)> {
    let mut users: Vec<&str> = events.iter().map(|e| e.1).collect();
    users.sort();
    users.dedup();
    let mut out = Vec::new();
    for user in users {
        let mut mine: Vec<(i64, &str)> = events
            .iter()
            .filter(|e| e.1 == user)
            .map(|e| (e.0, e.2))
            .collect();
        mine.sort();
        let mut times: Vec<i64> = mine.iter().map(|e| e.0).collect();
        times.dedup();
        let measure = |lo: i64, hi: i64, inclusive: bool| -> usize {
            let inside = mine
                .iter()
                .filter(|(t, _)| *t > lo && (*t < hi || (inclusive && *t == hi)));
            if distinct {
                let mut names: Vec<&str> = inside.map(|e| e.1).collect();
                names.sort();
                names.dedup();
                names.len()
            } else {
                inside.count()
            }
        };
        for t in times {
            let at = measure(t - span, t, true);
            let before = measure(t - span, t, false);
            if at >= min && before < min {
                out.push((user.to_owned(), t - span + 1, t + 1, at as u64));
            }
        }
    }
    out.sort_by_key(|r| (r.2, r.0.clone()));
    out
}

const USERS: [&str; 3] = ["alice", "bob", "carol"];
const NAMES: [&str; 4] = ["ListUsers", "ListRoles", "ListGroups", "ListPolicies"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn alerts_are_the_batch_reading_under_disorder_batching_and_a_snapshot(
        gaps in prop::collection::vec((0i64..40_000, 0usize..3, 0usize..4), 1..160),
        jitter in prop::collection::vec(0i64..600_000, 160),
        distinct in any::<bool>(),
        cut in 0usize..160,
    ) {
        // Events in time order, then delivered out of order by up to 10
        // minutes (the allowed lateness is 15).
        let mut t = 0i64;
        let mut events = Vec::new();
        for (gap, u, n) in &gaps {
            t += gap;
            events.push((t, USERS[*u], NAMES[*n]));
        }
        let mut delivered: Vec<(i64, usize)> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (e.0 + jitter[i % jitter.len()], i))
            .collect();
        delivered.sort();
        let records: Vec<String> = delivered
            .iter()
            .map(|(_, i)| record(events[*i].0, events[*i].1, events[*i].2))
            .collect();
        let (text, span, min) = if distinct {
            (distinct_names(3), 60_000, 3)
        } else {
            (enumeration("", "gte: 4"), 600_000, 4)
        };
        let want = reference(&events, span, min, distinct);
        let got = run(settings(&text), &records);
        let mut got_rows = rows(&got);
        got_rows.sort_by_key(|r| (r.2, r.0.clone()));
        prop_assert_eq!(&got_rows, &want);
        // The same across a snapshot at any point.
        let cut = cut.min(records.len());
        let mut d = Detector::new(settings(&text)).unwrap();
        for r in &records[..cut] {
            d.push(r).unwrap();
        }
        let mut alerts = d.drain();
        let mut restored = Detector::restore(&d.snapshot()).unwrap();
        for r in &records[cut..] {
            restored.push(r).unwrap();
        }
        restored.flush(None);
        alerts.extend(restored.drain());
        prop_assert_eq!(alerts, got);
    }
}
