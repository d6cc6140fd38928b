//! Reload: a snapshot rebuilt under changed rules keeps the state of every
//! unchanged rule (the same Sigma documents, wherever their file) and
//! starts only the changed ones over.

use recon_guest::config::{Profile, RuleSettings, Settings};
use recon_guest::{Alert, Detector, Rule, RuleFile, SnapshotError};

const LISTING: &str = r#"
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
name: iam_burst
correlation:
  type: event_count
  rules: [iam_listing]
  group-by: [userIdentity.arn]
  timespan: 10m
  window: tumbling
  condition:
    gte: THRESHOLD
"#;

const ROLES: &str = r#"
title: Role reads
name: role_reads
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName|startswith: GetRole
  condition: sel
---
title: Role read burst
name: role_burst
correlation:
  type: event_count
  rules: [role_reads]
  group-by: [userIdentity.arn]
  timespan: 10m
  window: tumbling
  condition:
    gte: 3
"#;

fn record(second: u32, name: &str) -> String {
    format!(
        r#"{{"eventTime":"2026-03-01T00:{:02}:{:02}Z","eventSource":"iam.amazonaws.com","eventName":"{name}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice"}},"userAgent":"aws-cli/2.15.0 Python/3.11"}}"#,
        second / 60,
        second % 60
    )
}

/// Four listings and four role reads in the first ten minutes, as many in
/// the next ten.
fn trail() -> Vec<String> {
    let mut v = Vec::new();
    for window in 0..2u32 {
        for i in 0..4u32 {
            v.push(record(window * 600 + i * 60, "ListUsers"));
            v.push(record(window * 600 + i * 60 + 30, "GetRole"));
        }
    }
    v
}

fn settings(threshold: u32, roles_file: &str) -> Settings {
    let mut s = Settings::with_rules(vec![RuleSettings::new(Rule::Elastic)], Profile::Default);
    s.rule_files = vec![
        RuleFile {
            name: "listing.yml".into(),
            text: LISTING.replace("THRESHOLD", &threshold.to_string()),
        },
        RuleFile {
            name: roles_file.into(),
            text: ROLES.into(),
        },
    ];
    s
}

fn rules_of(alerts: &[Alert], rule: &str) -> Vec<(i64, String)> {
    alerts
        .iter()
        .filter(|a| a.rule == rule)
        .map(|a| (a.window_start, a.row.clone()))
        .collect()
}

/// The first `cut` records under `before`, then a reload under `after`,
/// then the rest: the alerts, and the rules that started over.
fn reloaded(before: Settings, after: Settings, cut: usize) -> (Vec<Alert>, Vec<String>) {
    let records = trail();
    let mut d = Detector::new(before).unwrap();
    for r in &records[..cut] {
        d.push(r).unwrap();
    }
    let mut alerts = d.drain();
    let (mut d, restarted) = Detector::reload(&d.snapshot(), after).unwrap();
    for r in &records[cut..] {
        d.push(r).unwrap();
    }
    d.flush(None);
    alerts.extend(d.drain());
    (alerts, restarted)
}

fn whole(s: Settings) -> Vec<Alert> {
    let mut d = Detector::new(s).unwrap();
    for r in &trail() {
        d.push(r).unwrap();
    }
    d.flush(None);
    d.drain()
}

#[test]
fn a_changed_rule_starts_over_and_the_others_keep_their_windows() {
    // Cut in the middle of the first window: the listing rule's threshold
    // goes from 4 to 3, the role rule is unchanged.
    let (alerts, restarted) = reloaded(settings(4, "roles.yml"), settings(3, "roles.yml"), 4);
    assert_eq!(restarted, vec!["iam_burst".to_owned()]);
    let full_new = whole(settings(3, "roles.yml"));
    // The unchanged rule saw every record: as if nothing happened.
    assert_eq!(
        rules_of(&alerts, "role_burst"),
        rules_of(&full_new, "role_burst")
    );
    assert_eq!(rules_of(&alerts, "role_burst").len(), 2);
    // The changed rule missed the first window's first half: it counts
    // two listings there (below 3), then all four of the second window.
    let listing = rules_of(&alerts, "iam_burst");
    assert_eq!(listing.len(), 1, "{listing:?}");
    assert_eq!(listing[0], rules_of(&full_new, "iam_burst")[1]);
}

#[test]
fn the_same_rules_from_another_file_keep_their_state() {
    let (alerts, restarted) = reloaded(settings(4, "roles.yml"), settings(4, "moved/r.yml"), 4);
    assert!(restarted.is_empty(), "{restarted:?}");
    assert_eq!(
        rules_of(&alerts, "role_burst"),
        rules_of(&whole(settings(4, "roles.yml")), "role_burst")
    );
    assert_eq!(alerts.len(), whole(settings(4, "roles.yml")).len());
}

#[test]
fn an_unchanged_configuration_reloads_as_a_restore() {
    let (alerts, restarted) = reloaded(settings(4, "roles.yml"), settings(4, "roles.yml"), 5);
    assert!(restarted.is_empty());
    assert_eq!(alerts, whole(settings(4, "roles.yml")));
}

#[test]
fn added_and_removed_rules() {
    // The role file is dropped and comes back: it starts over.
    let mut without = settings(4, "roles.yml");
    without.rule_files.pop();
    let (_, restarted) = reloaded(without.clone(), settings(4, "roles.yml"), 4);
    assert_eq!(restarted, vec!["role_burst".to_owned()]);
    let (alerts, restarted) = reloaded(settings(4, "roles.yml"), without, 4);
    assert!(restarted.is_empty());
    assert!(rules_of(&alerts, "role_burst").is_empty());
}

#[test]
fn a_change_to_the_shared_settings_is_refused() {
    let mut d = Detector::new(settings(4, "roles.yml")).unwrap();
    d.push(&trail()[0]).unwrap();
    let mut other = settings(4, "roles.yml");
    other.allowed_lateness_ms = Some(1_000);
    match Detector::reload(&d.snapshot(), other) {
        Err(SnapshotError::InvalidConfig(e)) => {
            assert!(e.to_string().contains("shares"), "{e}")
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a new lateness was accepted"),
    }
}
