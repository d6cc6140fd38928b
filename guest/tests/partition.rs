//! `Scanner::partition_of`: every group of every rule lies within one
//! partition of its rule. Checked the strong way: with every threshold at
//! 1 (so every group alerts, with its counts and lists in the row), one
//! detector per (rule, partition) fed only the records placed there gives
//! exactly the alerts of one detector fed everything. A group split over
//! two partitions would show as two alerts with the same id and smaller
//! counts. Inputs keep their disorder within the allowed lateness, where
//! the promise holds (beyond it, lateness depends on the other records of
//! the stream, and so on the split).

use proptest::prelude::*;
use recon_gen::{GenOptions, Generator};
use recon_guest::config::{Profile, Rule, RuleSettings, Settings};
use recon_guest::{Alert, Detector, Scanner};

fn settings(rules: &[Rule], profile: Profile) -> Settings {
    let rules = rules
        .iter()
        .map(|r| RuleSettings {
            min_distinct: Some(1),
            ..RuleSettings::new(*r)
        })
        .collect();
    Settings::with_rules(rules, profile)
}

fn sorted(mut alerts: Vec<Alert>) -> Rows {
    let mut v: Vec<(String, String)> = alerts.drain(..).map(|a| (a.id, a.row)).collect();
    v.sort();
    v
}

/// Alerts as (id, row), sorted.
type Rows = Vec<(String, String)>;

/// The alerts of one detector over `records`, and those of the
/// partitioned detectors, after a final flush.
fn both(records: &[String], partitions: u32, profile: Profile) -> (Rows, Rows) {
    let all = [Rule::Sentinel, Rule::Elastic];
    let buf: Vec<u8> = records
        .iter()
        .flat_map(|r| r.bytes().chain([b'\n']))
        .collect();
    let mut one = Detector::new(settings(&all, profile)).unwrap();
    one.push_ndjson(&buf);
    one.flush(None);
    let whole = sorted(one.drain());

    let scanner = Scanner::new(settings(&all, profile)).unwrap();
    let placements = scanner.partition_of(&buf, partitions);
    let mut split = Vec::new();
    for rule in all {
        for p in 0..partitions.max(1) {
            let mut d = Detector::new(settings(&[rule], profile)).unwrap();
            let mine: Vec<u8> = placements
                .iter()
                .filter(|x| *x.rule == *rule.name() && x.partition == p)
                .flat_map(|x| records[x.index as usize].bytes().chain([b'\n']))
                .collect();
            d.push_ndjson(&mine);
            d.flush(None);
            split.extend(d.drain());
        }
    }
    (whole, sorted(split))
}

const ARNS: [&str; 5] = [
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:sts::111122223333:assumed-role/ops/alice",
    "arn:aws:iam::444455556666:user/alice",
    "arn:aws:iam::111122223333:user/bob@example.com",
    "",
];
const NAMES: [&str; 4] = ["alice", "bob", "", "alice@corp"];
const ACCOUNTS: [&str; 2] = ["111122223333", "444455556666"];
const IPS: [&str; 2] = ["198.51.100.7", "203.0.113.9"];
const MFA: [&str; 3] = ["true", "false", ""];
const CALLS: [(&str, &str); 6] = [
    ("iam", "ListUsers"),
    ("iam", "ListRoles"),
    ("ec2", "DescribeVpcs"),
    ("ec2", "DescribeSubnets"),
    ("kms", "ListKeys"),
    ("s3", "ListBuckets"),
];

/// A record whose identity fields are drawn from small pools, so that the
/// two rules' keys pair every way (one ARN under several user names and
/// accounts, one user name under several ARNs).
fn record(pick: [usize; 7], second: u32) -> String {
    let arn = ARNS[pick[0] % ARNS.len()];
    let name = NAMES[pick[1] % NAMES.len()];
    let account = ACCOUNTS[pick[2] % ACCOUNTS.len()];
    let ip = IPS[pick[3] % IPS.len()];
    let mfa = MFA[pick[4] % MFA.len()];
    let (service, call) = CALLS[pick[5] % CALLS.len()];
    let kebab: String = call
        .chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let lower = c.to_ascii_lowercase();
            if c.is_ascii_uppercase() && i > 0 {
                vec!['-', lower]
            } else {
                vec![lower]
            }
        })
        .collect();
    let kind = if pick[6].is_multiple_of(4) {
        "AssumedRole"
    } else {
        "IAMUser"
    };
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"2026-01-05T00:{:02}:{:02}Z","eventSource":"{service}.amazonaws.com","eventName":"{call}","userIdentity":{{"type":"{kind}","arn":"{arn}","userName":"{name}","principalId":"AIDA","accountId":"{account}","sessionContext":{{"attributes":{{"mfaAuthenticated":"{mfa}"}}}}}},"sourceIPAddress":"{ip}","recipientAccountId":"{account}","userAgent":"aws-cli/2.13.25 Python/3.11.5 Linux/5.10 exe/x86_64.amzn.2 prompt/off command/{service}.{kebab}"}}"#,
        second / 60 % 60,
        second % 60
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Records whose keys pair every way, in any partition count.
    #[test]
    fn every_group_lies_in_one_partition(
        picks in prop::collection::vec((any::<[usize; 7]>(), 0u32..180), 1..120),
        partitions in 1u32..9,
        seed_profile in any::<bool>(),
    ) {
        // Times in order, each then moved up to 30 s later: disorder within
        // the allowed lateness (60 s), where the promise holds.
        let mut times: Vec<u32> = picks.iter().map(|(_, s)| *s).collect();
        times.sort_unstable();
        let records: Vec<String> = picks
            .iter()
            .zip(times)
            .map(|((p, jitter), t)| record(*p, t + jitter % 31))
            .collect();
        let profile = if seed_profile { Profile::Seed } else { Profile::Default };
        let (whole, split) = both(&records, partitions, profile);
        prop_assert_eq!(whole, split);
    }
}

#[test]
fn generated_trail_splits_without_changing_alerts() {
    let records: Vec<String> = Generator::new(GenOptions {
        seed: 3,
        count: 20_000,
        bursts: 8,
        ..GenOptions::default()
    })
    .unwrap()
    .collect();
    for partitions in [1, 2, 7] {
        let (whole, split) = both(&records, partitions, Profile::Default);
        assert!(whole.len() > 50, "{} alerts", whole.len());
        assert_eq!(whole, split, "{partitions} partitions");
    }
}

#[test]
fn placements_follow_line_then_rule_order_and_skip_what_no_rule_counts() {
    let good = record([0, 0, 0, 0, 0, 0, 1], 1);
    let buf = format!("{good}\n\nnot json\n{{\"eventTime\":\"2026-01-05T00:00:00Z\"}}\n{good}\n");
    let scanner =
        Scanner::new(settings(&[Rule::Sentinel, Rule::Elastic], Profile::Default)).unwrap();
    let p = scanner.partition_of(buf.as_bytes(), 4);
    let seen: Vec<(u32, Rule)> = p
        .iter()
        .map(|x| (x.index, Rule::of_name(&x.rule).unwrap()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (0, Rule::Sentinel),
            (0, Rule::Elastic),
            (4, Rule::Sentinel),
            (4, Rule::Elastic)
        ]
    );
    assert!(p.iter().all(|x| x.partition < 4));
    assert_eq!(p[0].partition, p[2].partition);
    // Zero partitions counts as one.
    assert!(
        scanner
            .partition_of(buf.as_bytes(), 0)
            .iter()
            .all(|x| x.partition == 0)
    );
}

#[test]
fn the_hash_is_fixed() {
    // The routing must never change under a host: these values are the
    // hash as first released.
    assert_eq!(recon_guest::partition_hash(b""), FIXED[0]);
    assert_eq!(recon_guest::partition_hash(b"a"), FIXED[1]);
    assert_eq!(recon_guest::partition_hash(b"foobar"), FIXED[2]);
}

/// FNV-1a 64 then fmix64 of "", "a" and "foobar" (checked against an
/// independent implementation).
const FIXED: [u64; 3] = [
    0xefd0_1f60_ba99_2926,
    0x82a2_a958_a9be_ce5b,
    0x2c22_1949_22d1_672b,
];

/// Keys that differ only in a name the key holds twice (the Sentinel
/// key's account name and user name) still spread over every partition.
#[test]
fn keys_spread_over_every_partition() {
    let scanner =
        Scanner::new(settings(&[Rule::Sentinel, Rule::Elastic], Profile::Default)).unwrap();
    for partitions in [2u32, 4, 8, 16] {
        let mut seen = std::collections::BTreeSet::new();
        for user in 0..200 {
            let r = record([0, 0, 0, 0, 0, 0, 1], 1).replace("alice", &format!("user{user}"));
            for p in scanner.partition_of(r.as_bytes(), partitions) {
                seen.insert((p.rule, p.partition));
            }
        }
        assert_eq!(
            seen.len(),
            2 * partitions as usize,
            "{partitions} partitions: {seen:?}"
        );
    }
}
