//! The streaming promise, checked against the reference: for generated
//! CloudTrail with injected bursts and near misses, any permutation whose
//! disorder stays within the allowed lateness and any split into calls give
//! the rows the simple batch implementation gives.

use proptest::prelude::*;
use recon::runtime::{Alert, Config, Profile, Rule};
use recon_gen::{BurstKind, GenOptions, Generator};
use serde_json::Value;

use crate::reference::{self, RefRow, time_ms};
use crate::util::{run_split, sentinel};

pub const SEED_COMMANDS: [&str; 21] = [
    "iam.list-users",
    "iam.list-groups",
    "ec2.describe-vpcs",
    "ec2.describe-subnets",
    "route53.list-hosted-zones",
    "kms.list-keys",
    "kms.list-aliases",
    "ecs.list-clusters",
    "ecs.list-services",
    "iam.list-roles",
    "iam.get-useriam.list-access-keys",
    "ec2.describe-security-groups",
    "ec2.describe-network-acls",
    "ec2.describe-network-interfaces",
    "ec2.describe-route-tables",
    "ec2.describe-internet-gateways",
    "ec2.describe-vpc-peering-connections",
    "ec2.describe-network-interfaces",
    "ec2.describe-network-interfaces",
    "ec2.describe-transit-gateway-vpc-attachment",
    "ec2.describe-vpc",
];

pub const DEFAULT_COMMANDS: [&str; 20] = [
    "iam.list-users",
    "iam.list-groups",
    "ec2.describe-vpcs",
    "ec2.describe-subnets",
    "route53.list-hosted-zones",
    "kms.list-keys",
    "kms.list-aliases",
    "ecs.list-clusters",
    "ecs.list-services",
    "iam.list-roles",
    "iam.get-user",
    "iam.list-access-keys",
    "ec2.describe-security-groups",
    "ec2.describe-network-acls",
    "ec2.describe-network-interfaces",
    "ec2.describe-route-tables",
    "ec2.describe-internet-gateways",
    "ec2.describe-vpc-peering-connections",
    "ec2.describe-transit-gateway-vpc-attachment",
    "ec2.describe-vpc",
];

pub const PROVIDERS: [&str; 9] = [
    "iam.amazonaws.com",
    "ec2.amazonaws.com",
    "s3.amazonaws.com",
    "rds.amazonaws.com",
    "lambda.amazonaws.com",
    "dynamodb.amazonaws.com",
    "kms.amazonaws.com",
    "cloudfront.amazonaws.com",
    "elasticloadbalancing.amazonaws.com",
];

/// The reference computation of one detector's rows.
type Reference = Box<dyn Fn(&[Value]) -> Vec<RefRow>>;

/// The three detectors under test with the reference for each.
fn cases() -> Vec<(Config, Reference)> {
    vec![
        (
            sentinel(Profile::Default),
            Box::new(|e: &[Value]| reference::sentinel(e, false, &DEFAULT_COMMANDS, 8)),
        ),
        (
            sentinel(Profile::Seed),
            Box::new(|e: &[Value]| reference::sentinel(e, true, &SEED_COMMANDS, 8)),
        ),
        (
            crate::util::elastic_rule(Profile::Default),
            Box::new(|e: &[Value]| reference::elastic(e, &PROVIDERS, 6)),
        ),
    ]
}

/// Alerts as reference rows, sorted.
pub fn as_rows(alerts: &[Alert]) -> Vec<RefRow> {
    let mut rows: Vec<RefRow> = alerts
        .iter()
        .map(|a| RefRow {
            rule: if a.rule == "sentinel-aws-cli-recon" {
                "sentinel-aws-cli-recon"
            } else {
                "elastic-aws-discovery-burst"
            },
            window_start: a.window_start,
            row: a.row.clone(),
        })
        .collect();
    rows.sort();
    rows
}

/// Rows with their arrival-ordered lists sorted: what must not depend on
/// the order events arrive in.
fn order_free(rows: &[RefRow]) -> Vec<RefRow> {
    let mut out: Vec<RefRow> = rows
        .iter()
        .map(|r| {
            let mut v: Value = serde_json::from_str(&r.row).unwrap();
            for list in ["commands", "Events"] {
                if let Some(Value::Array(a)) = v.get_mut(list) {
                    a.sort_by_key(|x| x.to_string());
                }
            }
            RefRow {
                row: v.to_string(),
                ..r.clone()
            }
        })
        .collect();
    out.sort();
    out
}

fn assert_rows(got: &[RefRow], want: &[RefRow], context: &str) {
    if got != want {
        let show = |rows: &[RefRow]| {
            rows.iter()
                .map(|r| format!("  {} {}", r.rule, r.row))
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{context}\n--- streaming ({}):\n{}\n--- reference ({}):\n{}",
            got.len(),
            show(got),
            want.len(),
            show(want)
        );
    }
}

/// Generated records, in the generator's (bounded-disorder) order.
pub fn generate(seed: u64, count: u64, bursts: u32, disorder_ms: u64) -> Vec<String> {
    let opts = GenOptions {
        seed,
        count,
        bursts,
        max_disorder_ms: disorder_ms,
        rate_per_sec: 50.0,
        ..GenOptions::default()
    };
    Generator::new(opts).unwrap().collect()
}

/// A permutation of `events` in which no event is more than `bound_ms`
/// older than one before it: sort by `t + jitter`, jitter in `[0, bound]`.
fn bounded_shuffle(events: &[String], bound_ms: u64, seed: u64) -> Vec<String> {
    let mut state = seed;
    let mut next = || {
        // SplitMix64.
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    let mut keyed: Vec<(i64, usize)> = events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let t = time_ms(&serde_json::from_str(e).unwrap());
            (t + (next() % (bound_ms + 1)) as i64, i)
        })
        .collect();
    keyed.sort();
    keyed.into_iter().map(|(_, i)| events[i].clone()).collect()
}

fn max_disorder(events: &[Value]) -> i64 {
    let mut newest = i64::MIN;
    let mut worst = 0;
    for e in events {
        let t = time_ms(e);
        worst = worst.max(newest.saturating_sub(t));
        newest = newest.max(t);
    }
    worst
}

fn parse(events: &[String]) -> Vec<Value> {
    events
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn streaming_equals_the_reference_for_any_bounded_disorder_and_split(
        seed in any::<u64>(),
        count in 200u64..1500,
        bursts in 4u32..14,
        disorder in prop_oneof![Just(0u64), 1u64..60_000],
        shuffle_seed in any::<u64>(),
        cuts in prop::collection::vec((1usize..400, any::<bool>()), 1..6),
    ) {
        let generated = generate(seed, count, bursts, disorder);
        // A second order of the same events, also within the lateness.
        let shuffled = bounded_shuffle(&generated, 60_000, shuffle_seed);
        let (gv, sv) = (parse(&generated), parse(&shuffled));
        prop_assert!(max_disorder(&gv) <= 60_000);
        prop_assert!(max_disorder(&sv) <= 120_000);
        for (config, reference) in cases() {
            // The lateness must cover the disorder of both orders.
            let mut config = config;
            config.allowed_lateness_ms = Some(120_000);
            let want = reference(&gv);
            let (alerts, stats) = run_split(&config, &generated, &cuts);
            prop_assert_eq!(stats.late, 0);
            assert_rows(&as_rows(&alerts), &want, &format!("{:?} generated order", config.rules[0].rule));
            let (alerts2, stats2) = run_split(&config, &shuffled, &[(shuffled.len(), true)]);
            prop_assert_eq!(stats2.late, 0);
            assert_rows(&as_rows(&alerts2), &reference(&sv), &format!("{:?} shuffled", config.rules[0].rule));
            // Same rows whatever the order, up to the order of the lists.
            assert_rows(&order_free(&as_rows(&alerts2)), &order_free(&want), "order");
        }
    }
}

#[test]
fn injected_bursts_alert_and_near_misses_do_not() {
    let mut generator = Generator::new(GenOptions {
        seed: 7,
        count: 20_000,
        bursts: 30,
        ..GenOptions::default()
    })
    .unwrap();
    let events: Vec<String> = generator.by_ref().collect();
    let injected = generator.injected().to_vec();
    assert_eq!(injected.len(), 30);
    let run_rule = |config: &Config| run_split(config, &events, &[(1000, true)]).0;
    let sentinel_alerts = run_rule(&sentinel(Profile::Default));
    let elastic_alerts = run_rule(&Config::defaults(
        &[Rule::from("elastic-aws-discovery-burst")],
        Profile::Default,
    ));
    let alerted = |alerts: &[Alert], needle: &str| alerts.iter().any(|a| a.row.contains(needle));
    for burst in &injected {
        // The identity's last path segment names it in both rows.
        let name = burst.arn.rsplit('/').next().unwrap();
        let name = name.split('@').next().unwrap();
        let (s, e) = (
            alerted(&sentinel_alerts, &format!("\"AccountName\":\"{name}\"")),
            alerted(&elastic_alerts, &format!("\"{}\"", burst.arn)),
        );
        // `None`: that rule may or may not fire for this kind.
        let (want_s, want_e) = match burst.kind {
            BurstKind::SentinelHit => (Some(true), None),
            BurstKind::SentinelSeven | BurstKind::SentinelSplit => (Some(false), None),
            BurstKind::ElasticHit => (None, Some(true)),
            BurstKind::ElasticFive | BurstKind::ElasticSplit => (None, Some(false)),
            BurstKind::RootBurst => (Some(true), Some(false)),
            BurstKind::ConfigServiceRole => (None, Some(false)),
            BurstKind::BracketedAgent => (Some(false), Some(false)),
            BurstKind::UpperCaseAgent => (Some(true), Some(false)),
        };
        assert!(want_s.is_none_or(|w| w == s), "sentinel {s} for {burst:?}");
        assert!(want_e.is_none_or(|w| w == e), "elastic {e} for {burst:?}");
    }
    assert!(!sentinel_alerts.is_empty() && !elastic_alerts.is_empty());
    // And the reference agrees on the whole stream.
    let values = parse(&events);
    assert_eq!(
        as_rows(&sentinel_alerts),
        reference::sentinel(&values, false, &DEFAULT_COMMANDS, 8)
    );
    assert_eq!(
        as_rows(&elastic_alerts),
        reference::elastic(&values, &PROVIDERS, 6)
    );
}

#[test]
fn events_beyond_the_lateness_are_counted_late_and_change_nothing() {
    let events = generate(11, 3000, 12, 0);
    let mut config = crate::util::elastic_rule(Profile::Default);
    config.allowed_lateness_ms = Some(5_000);
    let (want, before) = run_split(&config, &events, &[(events.len(), true)]);
    assert!(!want.is_empty());
    // Replay the aws-cli events older than 30 s at the end of the stream:
    // with 10 s windows and 5 s lateness their windows are final, so each
    // is filtered again or counted late, none is applied, and no alert
    // changes.
    let values = parse(&events);
    let newest = values.iter().map(time_ms).max().unwrap();
    let cutoff = newest - 30_000;
    let stragglers: Vec<String> = events
        .iter()
        .zip(&values)
        .filter(|(_, v)| {
            time_ms(v) < cutoff
                && v["userAgent"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("aws-cli/"))
        })
        .map(|(e, _)| e.clone())
        .collect();
    assert!(!stragglers.is_empty());
    let mut with_stragglers = events.clone();
    with_stragglers.extend(stragglers.iter().cloned());
    let (got, stats) = run_split(&config, &with_stragglers, &[(500, true)]);
    assert_eq!(as_rows(&got), as_rows(&want));
    assert_eq!(stats.accepted, before.accepted);
    assert!(stats.late > 0);
    assert_eq!(
        (stats.late + stats.filtered - before.filtered) as usize,
        stragglers.len()
    );
    assert_eq!(
        stats.accepted + stats.filtered + stats.rejected + stats.late,
        with_stragglers.len() as u64
    );
}
