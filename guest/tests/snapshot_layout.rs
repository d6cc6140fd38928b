//! Snapshots written by earlier builds still restore: the fixture in
//! `tests/data/snapshot-v3.json` is the JSON body of a snapshot written by
//! the build before rule state was keyed by rule name (format version 3,
//! one field per rule). Restored, it must be the detector the same records
//! make today, and run on to the same alerts.

use recon_guest::config::{Profile, Settings};
use recon_guest::{Alert, Detector};

const FIXTURE: &str = "tests/data/snapshot-v3.json";

/// A record both rules select: an aws-cli discovery call.
fn record(second: usize, command: &str, action: &str, user: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"2026-02-08T16:31:{second:02}Z","eventSource":"ec2.amazonaws.com","eventName":"{action}",
        "userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/{user}","userName":"{user}",
        "principalId":"AIDA{user}"}},"sourceIPAddress":"198.51.100.7","recipientAccountId":"111122223333",
        "userAgent":"aws-cli/2.13.25 Python/3.11.5 Linux/5.10 exe/x86_64.amzn.2 prompt/off command/{command}"}}"#
    )
}

const CALLS: [(&str, &str); 9] = [
    ("iam.list-users", "ListUsers"),
    ("iam.list-groups", "ListGroups"),
    ("ec2.describe-vpcs", "DescribeVpcs"),
    ("ec2.describe-subnets", "DescribeSubnets"),
    ("kms.list-keys", "ListKeys"),
    ("kms.list-aliases", "ListAliases"),
    ("iam.list-roles", "ListRoles"),
    ("ec2.describe-security-groups", "DescribeSecurityGroups"),
    ("ec2.describe-route-tables", "DescribeRouteTables"),
];

fn events() -> Vec<String> {
    let mut v = Vec::new();
    for (i, (command, action)) in CALLS.iter().enumerate() {
        v.push(record(i * 5, command, action, "alice"));
        v.push(record(i * 5 + 1, command, action, "bob"));
    }
    // A record no rule can read, counted by reason.
    v.push("{not json".to_owned());
    v
}

/// The detector the fixture was written from: both rules, the first half
/// of the records pushed.
fn first_half() -> Detector {
    let mut d = Detector::new(Settings::all(Profile::Default)).unwrap();
    for e in &events()[..10] {
        let _ = d.push(e);
    }
    d
}

fn finish(d: &mut Detector) -> Vec<Alert> {
    for e in &events()[10..] {
        let _ = d.push(e);
    }
    d.flush(None);
    d.drain()
}

#[test]
fn a_version_3_snapshot_restores_as_the_detector_it_was() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE);
    let body = std::fs::read(&path).expect("the fixture is kept in the repository");
    let old: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(old["version"], 3, "the fixture is a version 3 snapshot");
    let mut restored = Detector::restore(&recon_guest::seal_snapshot(&body)).unwrap();
    let mut live = first_half();
    assert_eq!(restored.stats(), live.stats());
    assert!(live.stats().rules.iter().all(|r| r.open_groups > 0));
    let alerts = finish(&mut restored);
    assert_eq!(alerts, finish(&mut live));
    assert!(
        alerts.len() >= 2,
        "both rules alert on the rest: {alerts:?}"
    );
}
