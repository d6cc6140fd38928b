//! The tuning options' bounds, driven past: a sliding group keeps at most
//! `limits.max-list-entries` events, and suppression remembers at most
//! `limits.max-open-groups` groups (the oldest spans forgotten first, and
//! exactly the excess). The accounting adds up either way.

use recon_guest::config::{LimitSettings, Profile, Settings};
use recon_guest::{Alert, Detector, RuleFile};

fn record(second: u32, user: &str, name: &str) -> String {
    format!(
        r#"{{"eventTime":"2026-03-01T{:02}:{:02}:{:02}Z","eventSource":"iam.amazonaws.com","eventName":"{name}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/{user}"}}}}"#,
        second / 3600,
        second / 60 % 60,
        second % 60
    )
}

fn settings(text: &str, limits: LimitSettings) -> Settings {
    let mut s = Settings::with_rules(Vec::new(), Profile::Default);
    s.rule_files = vec![RuleFile {
        name: "rule.yml".into(),
        text: text.into(),
    }];
    s.limits = limits;
    s
}

fn run(s: Settings, records: &[String]) -> (Vec<Alert>, Detector) {
    let mut d = Detector::new(s).unwrap();
    for r in records {
        d.push(r).unwrap();
    }
    d.flush(None);
    let alerts = d.drain();
    d.check_accounting().unwrap();
    (alerts, d)
}

const BREADTH: &str = r#"
title: IAM calls
name: iam_calls
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventSource: iam.amazonaws.com
  condition: sel
---
title: IAM breadth
name: iam_breadth
correlation:
  type: value_count
  rules: [iam_calls]
  group-by: [userIdentity.arn]
  timespan: 1m
  window: sliding
  condition:
    field: eventName
    gte: 3
"#;

#[test]
fn a_sliding_group_keeps_at_most_max_list_entries_events() {
    // ListRoles, then ten ListUsers, then ListGroups, within a minute:
    // three distinct names in the window at the last one.
    let mut trail = vec![record(0, "alice", "ListRoles")];
    trail.extend((1..=10).map(|s| record(s, "alice", "ListUsers")));
    trail.push(record(11, "alice", "ListGroups"));
    let roomy = LimitSettings {
        max_list_entries: Some(100),
        ..LimitSettings::default()
    };
    let (alerts, d) = run(settings(BREADTH, roomy), &trail);
    assert_eq!(alerts.len(), 1);
    assert_eq!(d.stats().rules[0].counters.accepted, 12);
    // Four events kept: ListRoles is forgotten behind the repeats, as
    // docs/rules.md says; every event is still counted as accepted.
    let tight = LimitSettings {
        max_list_entries: Some(4),
        ..LimitSettings::default()
    };
    let (alerts, d) = run(settings(BREADTH, tight), &trail);
    assert!(alerts.is_empty(), "{alerts:?}");
    let c = &d.stats().rules[0].counters;
    assert_eq!((c.pushed, c.accepted, c.alerts), (12, 12, 0));
}

const BURSTS: &str = r#"
title: IAM listing
name: iam_listing
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName|startswith: List
  condition: sel
---
title: IAM listing burst
name: iam_burst
rsigma.suppress: 1h
correlation:
  type: event_count
  rules: [iam_listing]
  group-by: [userIdentity.arn]
  timespan: 10m
  window: tumbling
  condition:
    gte: 3
"#;

#[test]
fn suppression_remembers_at_most_max_open_groups_groups() {
    // u1 and u2 burst in window 0, u3 in window 1, then u2 in window 2
    // and u1 in window 3, all within an hour of their first alerts. A
    // record no rule counts opens each window, so the one before closes
    // (no lateness) before the window's groups open.
    let mut trail = Vec::new();
    for (w, users) in [
        (0, &["u1", "u2"][..]),
        (1, &["u3"]),
        (2, &["u2"]),
        (3, &["u1"]),
    ] {
        trail.push(record(w * 600, "filler", "GetUser"));
        for u in users {
            trail.extend((1..=3).map(|i| record(w * 600 + i * 10, u, "ListUsers")));
        }
    }
    let limits = |groups: u32| LimitSettings {
        max_open_groups: Some(groups),
        time_confirmations: Some(1),
        ..LimitSettings::default()
    };
    let with = |groups: u32| {
        let mut s = settings(BURSTS, limits(groups));
        s.allowed_lateness_ms = Some(0);
        s
    };
    let users = |alerts: &[Alert]| -> Vec<String> {
        alerts
            .iter()
            .map(|a| {
                let row: serde_json::Value = serde_json::from_str(&a.row).unwrap();
                let arn = row["userIdentity.arn"].as_str().unwrap();
                arn.rsplit('/').next().unwrap().to_owned()
            })
            .collect()
    };
    // Room for every group: the second bursts of u2 and u1 are held back.
    let (alerts, d) = run(with(100), &trail);
    assert_eq!(users(&alerts), ["u1", "u2", "u3"]);
    assert_eq!(d.stats().rules[0].counters.suppressed, 2);
    // Room for two: when u3's span joins u1's and u2's (the same age),
    // exactly one goes, u1's (ties by key). u2 is still held back; u1
    // alerts again.
    let (alerts, d) = run(with(2), &trail);
    assert_eq!(users(&alerts), ["u1", "u2", "u3", "u1"]);
    let c = &d.stats().rules[0].counters;
    assert_eq!(
        (c.alerts, c.suppressed, c.rejected.iter().sum::<u64>()),
        (4, 1, 0)
    );
}
