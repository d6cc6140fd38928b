//! The streaming promise at the boundary: however events are split into
//! `push` and `push-batch` calls, the alerts are the same.

use proptest::prelude::*;
use recon::runtime::{Config, Profile, Rule};

use crate::util::{assert_same_alerts, run_split};

const COMMANDS: [&str; 12] = [
    "iam.list-users",
    "iam.list-groups",
    "ec2.describe-vpcs",
    "ec2.describe-subnets",
    "kms.list-keys",
    "kms.list-aliases",
    "iam.list-roles",
    "ec2.describe-security-groups",
    "ec2.describe-route-tables",
    "iam.get-user",
    "ecs.list-clusters",
    "s3.ls",
];

fn record(ms: i64, command: usize, user: usize, legacy: bool) -> String {
    let c = COMMANDS[command];
    let agent = if legacy {
        format!("aws-cli/2.13.25 Python/3.11.5 Linux/5.10 exe/x86_64.amzn.2 prompt/off command/{c}")
    } else {
        format!("aws-cli/2.31.1 md/awscrt#0.27.6 ua/2.1 os/linux#6.1 md/prompt#off md/command#{c}")
    };
    let (service, op) = c.split_once('.').unwrap();
    // `describe-vpcs` is the CLI's name for the API call `DescribeVpcs`.
    let op: String = op
        .split('-')
        .map(|w| w[..1].to_uppercase() + &w[1..])
        .collect();
    format!(
        r#"{{"eventVersion":"1.08","eventTime":{ms},"eventSource":"{service}.amazonaws.com","eventName":"{op}",
        "userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/u{user}","userName":"u{user}"}},
        "sourceIPAddress":"203.0.113.{user}","recipientAccountId":"111122223333","userAgent":"{agent}"}}"#
    )
}

fn events_strategy() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        (0i64..180_000, 0usize..12, 0usize..3, any::<bool>()),
        1..120,
    )
    .prop_map(|mut v| {
        v.sort_by_key(|e| e.0);
        v.into_iter()
            .map(|(t, c, u, legacy)| record(1_770_000_000_000 + t, c, u, legacy))
            .collect()
    })
}

fn configs() -> [Config; 2] {
    let mut sentinel = Config::defaults(&[Rule::from("sentinel-aws-cli-recon")], Profile::Default);
    sentinel.rules[0].min_distinct = Some(4);
    [sentinel, crate::util::elastic_rule(Profile::Default)]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_split_into_calls_gives_identical_alerts(
        events in events_strategy(),
        cuts in prop::collection::vec((1usize..25, any::<bool>()), 1..8),
    ) {
        for config in configs() {
            let (whole, _) = run_split(&config, &events, &[(events.len(), true)]);
            let (split, _) = run_split(&config, &events, &cuts);
            assert_same_alerts(&split, &whole, &format!("{:?}", config.rules[0].rule));
        }
    }
}

#[test]
fn a_dense_fixed_case_splits_alike_and_alerts() {
    // A dense fixed case, so the property above is known to exercise alerts.
    let events: Vec<String> = (0..40)
        .map(|i| {
            record(
                1_770_000_000_000 + i * 1_000,
                (i % 11) as usize,
                0,
                i % 2 == 0,
            )
        })
        .collect();
    for config in configs() {
        let (whole, _) = run_split(&config, &events, &[(events.len(), true)]);
        assert!(
            !whole.is_empty(),
            "{:?} gave no alert",
            config.rules[0].rule
        );
        let (split, _) = run_split(&config, &events, &[(3, false), (7, true), (1, true)]);
        assert_same_alerts(&split, &whole, &format!("{:?}", config.rules[0].rule));
    }
}
