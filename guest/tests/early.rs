//! Early alerts and the figures that explain late records, natively: an
//! early alert comes on the event that reaches the threshold, once per
//! group (across snapshot and restore too); final alerts are the same with
//! early alerts on or off; late events say how late they were and which
//! lateness would have kept them.

use recon_gen::{GenOptions, Generator};
use recon_guest::config::{Profile, Rule, Settings};
use recon_guest::time::{format_time, parse_time};
use recon_guest::{Alert, AlertKind, Detector, Outcome};

fn record(time: &str, command: &str, user: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"{time}","eventSource":"ec2.amazonaws.com","eventName":"Op{command}",
        "userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/{user}","userName":"{user}",
        "principalId":"AIDA{user}"}},"sourceIPAddress":"198.51.100.7","recipientAccountId":"111122223333",
        "userAgent":"aws-cli/2.13.25 Python/3.11.5 Linux/5.10 exe/x86_64.amzn.2 prompt/off command/{command}"}}"#
    )
}

const COMMANDS: [&str; 10] = [
    "iam.list-users",
    "iam.list-groups",
    "ec2.describe-vpcs",
    "ec2.describe-subnets",
    "kms.list-keys",
    "kms.list-aliases",
    "iam.list-roles",
    "ec2.describe-security-groups",
    "ec2.describe-route-tables",
    "ec2.describe-internet-gateways",
];

fn settings(rules: Settings, early: bool) -> Settings {
    Settings {
        early_alerts: Some(early),
        ..rules
    }
}

fn early_sentinel() -> Detector {
    Detector::new(settings(
        Settings::new(Rule::Sentinel, Profile::Default),
        true,
    ))
    .unwrap()
}

fn row(a: &Alert) -> serde_json::Value {
    serde_json::from_str(&a.row).unwrap()
}

fn generated(seed: u64, count: u64) -> Vec<String> {
    Generator::new(GenOptions {
        seed,
        count,
        bursts: 14,
        ..GenOptions::default()
    })
    .unwrap()
    .collect()
}

fn run(s: Settings, records: &[String]) -> Vec<Alert> {
    let mut d = Detector::new(s).unwrap();
    d.push_batch(records);
    d.flush(None);
    d.drain()
}

fn finals(alerts: &[Alert]) -> Vec<Alert> {
    alerts
        .iter()
        .filter(|a| a.kind == AlertKind::Final)
        .cloned()
        .collect()
}

/// Every final alert follows exactly one early alert of the same group
/// (same id), and every early alert is followed by its final one.
fn check_pairs(alerts: &[Alert]) {
    use std::collections::HashMap;
    let mut seen: HashMap<&str, (usize, usize)> = HashMap::new();
    for (i, a) in alerts.iter().enumerate() {
        let e = seen.entry(&a.id).or_default();
        match a.kind {
            AlertKind::Early => {
                assert_eq!(e.0, 0, "a second early alert for {}", a.id);
                assert_eq!(e.1, 0, "an early alert after the final one for {}", a.id);
                e.0 = i + 1;
            }
            AlertKind::Final => {
                assert!(e.0 > 0, "a final alert without an early one: {}", a.id);
                assert_eq!(e.1, 0, "a second final alert for {}", a.id);
                e.1 = i + 1;
            }
        }
    }
    assert!(
        seen.values()
            .all(|(early, fin)| *early > 0 && *fin > *early)
    );
}

#[test]
fn the_event_that_reaches_the_threshold_makes_an_early_alert_at_once() {
    let mut d = early_sentinel();
    for (i, c) in COMMANDS[..7].iter().enumerate() {
        let t = format!("2026-02-08T16:31:{:02}Z", i * 5);
        assert_eq!(
            d.push(&record(&t, c, "alice")).unwrap()[0],
            Ok(Outcome::Accepted)
        );
    }
    assert!(d.drain().is_empty());
    d.push(&record("2026-02-08T16:31:40Z", COMMANDS[7], "alice"))
        .unwrap();
    let early = d.drain();
    assert_eq!(early.len(), 1);
    assert_eq!(early[0].kind, AlertKind::Early);
    assert_eq!(row(&early[0])["CommadCount"], 8);
    assert_eq!(d.stats().rules[0].counters.early_alerts, 1);
    assert_eq!(d.stats().rules[0].counters.alerts, 0);
    // More commands in the same window: no second early alert.
    d.push(&record("2026-02-08T16:31:45Z", COMMANDS[8], "alice"))
        .unwrap();
    d.push(&record("2026-02-08T16:31:50Z", COMMANDS[9], "alice"))
        .unwrap();
    assert!(d.drain().is_empty());
    d.flush(None);
    let fin = d.drain();
    assert_eq!(fin.len(), 1);
    assert_eq!(fin[0].kind, AlertKind::Final);
    assert_eq!(fin[0].id, early[0].id);
    assert_eq!(row(&fin[0])["CommadCount"], 10);
    let c = &d.stats().rules[0].counters;
    assert_eq!((c.early_alerts, c.alerts), (1, 1));
}

#[test]
fn a_threshold_of_one_is_reached_by_the_group_s_first_event() {
    let mut s = settings(Settings::new(Rule::Sentinel, Profile::Default), true);
    s.rules[0].min_distinct = Some(1);
    let mut d = Detector::new(s).unwrap();
    d.push(&record("2026-02-08T16:31:00Z", COMMANDS[0], "bob"))
        .unwrap();
    let a = d.drain();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].kind, AlertKind::Early);
}

#[test]
fn early_alerts_are_off_by_default() {
    let mut s = Settings::new(Rule::Sentinel, Profile::Default);
    // The flush below, two minutes on, must close the window.
    s.allowed_lateness_ms = Some(60_000);
    let mut d = Detector::new(s).unwrap();
    for (i, c) in COMMANDS.iter().enumerate() {
        let t = format!("2026-02-08T16:31:{:02}Z", i * 5);
        d.push(&record(&t, c, "alice")).unwrap();
    }
    assert!(d.drain().is_empty());
    assert_eq!(d.stats().rules[0].counters.early_alerts, 0);
}

#[test]
fn final_alerts_are_the_same_with_early_alerts_on_or_off() {
    // Generated trails (disordered by up to 5 s, bursts and near misses),
    // both rules, both profiles.
    let mut total = 0;
    for (seed, profile) in [(41, Profile::Default), (42, Profile::Seed)] {
        let records = generated(seed, 30_000);
        let off = run(settings(Settings::all(profile), false), &records);
        let unset = run(Settings::all(profile), &records);
        let on = run(settings(Settings::all(profile), true), &records);
        total += off.len();
        assert_eq!(off, unset);
        assert!(off.iter().all(|a| a.kind == AlertKind::Final));
        assert_eq!(finals(&on), off);
        assert_eq!(on.len(), 2 * off.len());
        check_pairs(&on);
        // An early row is the row so far: it never counts more.
        for e in on.iter().filter(|a| a.kind == AlertKind::Early) {
            let f = off.iter().find(|f| f.id == e.id).unwrap();
            assert!(e.window_start == f.window_start && e.window_end == f.window_end);
            for k in ["CommadCount", "EventCount"] {
                if let (Some(a), Some(b)) = (row(e)[k].as_u64(), row(f)[k].as_u64()) {
                    assert!(a <= b);
                }
            }
        }
    }
    assert!(total >= 8, "{total}");
}

#[test]
fn snapshot_and_restore_never_report_a_group_early_twice() {
    let records = generated(43, 12_000);
    let s = settings(Settings::all(Profile::Default), true);
    let whole = run(s.clone(), &records);
    assert!(whole.iter().any(|a| a.kind == AlertKind::Early));
    // Snapshot and restore every 397 records, draining in between and not.
    for drain_between in [true, false] {
        let mut d = Detector::new(s.clone()).unwrap();
        let mut got = Vec::new();
        for part in records.chunks(397) {
            d.push_batch(part);
            if drain_between {
                got.extend(d.drain());
            }
            d = Detector::restore(&d.snapshot()).unwrap();
        }
        d.flush(None);
        got.extend(d.drain());
        assert_eq!(got, whole);
        check_pairs(&got);
    }
}

#[test]
fn a_version_2_snapshot_still_restores() {
    // A snapshot as 0.2 wrote it: version 2, alerts without kind or step,
    // counters without the figures 0.3 added.
    let mut s = Settings::new(Rule::Sentinel, Profile::Default);
    // The flush below, two minutes on, must close the window.
    s.allowed_lateness_ms = Some(60_000);
    let mut d = Detector::new(s).unwrap();
    for (i, c) in COMMANDS.iter().enumerate() {
        let t = format!("2026-02-08T16:31:{:02}Z", i * 5);
        d.push(&record(&t, c, "alice")).unwrap();
    }
    d.push(&record("2026-02-08T16:32:00Z", COMMANDS[0], "carol"))
        .unwrap();
    d.flush(Some(parse_time("2026-02-08T16:34:00Z").unwrap()));
    assert_eq!(d.stats().pending_alerts, 1);
    let mut body: serde_json::Value =
        serde_json::from_slice(recon_guest::unseal_snapshot(&d.snapshot()).unwrap()).unwrap();
    assert_eq!(body["version"], recon_guest::SNAPSHOT_VERSION);
    body["version"] = 2.into();
    // Before version 4, each rule's state had a field of its own.
    let rules = body.as_object_mut().unwrap().remove("rules").unwrap();
    body["sentinel"] = rules["sentinel-aws-cli-recon"].clone();
    let state = &mut body["sentinel"];
    for p in state["pending"].as_array_mut().unwrap() {
        let p = p.as_object_mut().unwrap();
        assert!(p.remove("step").is_some() && p.remove("kind").is_some());
    }
    let counters = state["counters"].as_object_mut().unwrap();
    for k in ["early_alerts", "late_worst_ms", "lateness_needed_ms"] {
        assert!(counters.remove(k).is_some(), "{k}");
    }
    let old = recon_guest::seal_snapshot(&serde_json::to_vec(&body).unwrap());
    let mut restored = Detector::restore(&old).unwrap();
    assert_eq!(restored.stats(), d.stats());
    assert_eq!(restored.drain(), d.drain());
    // The restored detector writes the current version.
    let again: serde_json::Value =
        serde_json::from_slice(recon_guest::unseal_snapshot(&restored.snapshot()).unwrap())
            .unwrap();
    assert_eq!(again["version"], recon_guest::SNAPSHOT_VERSION);
}

/// A Sentinel record of `user` running `command` at `t` (ms).
fn at(t: i64, user: &str, command: &str) -> String {
    record(&format_time(t, true), command, user)
}

#[test]
fn late_events_say_how_late_and_which_lateness_would_have_kept_them() {
    let t0 = parse_time("2026-02-08T16:31:00Z").unwrap();
    // The watermark at 16:33:30; an event of 16:31:10 arrives. Its minute
    // [16:31, 16:32) closed at 16:33:00 (a minute of lateness).
    let stream = |lateness_ms: u64| {
        let mut s = Settings::new(Rule::Sentinel, Profile::Default);
        s.allowed_lateness_ms = Some(lateness_ms);
        s.limits.time_confirmations = Some(1);
        let mut d = Detector::new(s).unwrap();
        d.push(&at(t0, "alice", COMMANDS[0])).unwrap();
        d.push(&at(t0 + 150_000, "bob", COMMANDS[1])).unwrap();
        let late = d.push(&at(t0 + 10_000, "alice", COMMANDS[2])).unwrap()[0].clone();
        (late, d.stats().rules[0].counters.clone())
    };
    let (outcome, c) = stream(60_000);
    assert_eq!(outcome, Ok(Outcome::Late));
    assert_eq!(c.late, 1);
    assert_eq!(c.late_worst_ms, 140_000);
    // The watermark was 90 s past the minute's end: 90 s and 1 ms of
    // lateness would have kept it open.
    assert_eq!(c.lateness_needed_ms, 90_001);
    // That lateness is enough, and a millisecond less is not.
    assert_eq!(stream(c.lateness_needed_ms).0, Ok(Outcome::Accepted));
    assert_eq!(stream(c.lateness_needed_ms - 1).0, Ok(Outcome::Late));
    let (_, none) = stream(c.lateness_needed_ms);
    assert_eq!(
        (none.late, none.late_worst_ms, none.lateness_needed_ms),
        (0, 0, 0)
    );
}

#[test]
fn the_worst_late_event_is_kept_per_rule_and_survives_restore() {
    let t0 = parse_time("2026-02-08T16:31:00Z").unwrap();
    let mut s = Settings::all(Profile::Default);
    s.limits.time_confirmations = Some(1);
    // A minute of lateness: events three to eight minutes behind are late.
    s.allowed_lateness_ms = Some(60_000);
    let mut d = Detector::new(s).unwrap();
    d.push(&at(t0 + 600_000, "bob", COMMANDS[1])).unwrap();
    // Times on minute starts: each event's window starts at its time.
    for behind in [180_000, 480_000, 300_000] {
        d.push(&at(t0 + 600_000 - behind, "alice", COMMANDS[0]))
            .unwrap();
    }
    let d = Detector::restore(&d.snapshot()).unwrap();
    let stats = d.stats();
    let c = &stats.rules[0].counters;
    assert_eq!(&*stats.rules[0].rule, Rule::Sentinel.name());
    assert_eq!(c.late, 3);
    assert_eq!(c.late_worst_ms, 480_000);
    // The worst event's minute ended 420 s before the watermark.
    assert_eq!(c.lateness_needed_ms, 420_001);
    // The Elastic rule filters these records: nothing late there.
    let e = &stats.rules[1].counters;
    assert_eq!((e.late, e.late_worst_ms, e.lateness_needed_ms), (0, 0, 0));
    // Events late only because the stream ended explain nothing.
    let mut ended = Detector::new(Settings::all(Profile::Default)).unwrap();
    ended.flush(None);
    ended.push(&at(t0, "alice", COMMANDS[0])).unwrap();
    let c = &ended.stats().rules[0].counters;
    assert_eq!((c.late, c.late_worst_ms, c.lateness_needed_ms), (1, 0, 0));
}
