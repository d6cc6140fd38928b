//! Properties of the generated stream, checked by reading the records back
//! as JSON and recomputing both rules' groups independently of the
//! generator.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use recon_gen::{
    BurstKind, GenError, GenOptions, Generator, InjectedBurst, MAX_BURSTS, write_ndjson,
};
use serde_json::Value;

fn opts(seed: u64, count: u64) -> GenOptions {
    GenOptions {
        seed,
        count,
        ..GenOptions::default()
    }
}

/// All records and the ground truth.
fn generate(o: GenOptions) -> (Vec<String>, Vec<InjectedBurst>) {
    let mut g = Generator::new(o).expect("valid options");
    let mut lines = Vec::new();
    let mut buf = String::new();
    while g.next_into(&mut buf) {
        lines.push(std::mem::take(&mut buf));
    }
    (lines, g.injected().to_vec())
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// `YYYY-MM-DDTHH:MM:SSZ` to ms.
fn parse_time(s: &str) -> i64 {
    let b = s.as_bytes();
    assert_eq!(b.len(), 20, "{s}");
    assert_eq!(
        (b[4], b[7], b[10], b[13], b[16], b[19]),
        (b'-', b'-', b'T', b':', b':', b'Z'),
        "{s}"
    );
    let n = |r: std::ops::Range<usize>| s[r].parse::<i64>().unwrap();
    let days = days_from_civil(n(0..4), n(5..7), n(8..10));
    ((days * 24 + n(11..13)) * 60 + n(14..16)) * 60_000 + n(17..19) * 1000
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut v = v;
    for p in path {
        v = v.get(p)?;
    }
    v.as_str()
}

// ---- Sentinel, recomputed (default profile)

const TERMS: &[&str] = &[
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

fn extract_command(ua: &str) -> &str {
    const LEGACY: &str = "off command/";
    const CURRENT: &str = "md/command#";
    if let Some(i) = ua.find(LEGACY) {
        let rest = &ua[i + LEGACY.len()..];
        return rest.find(LEGACY).map_or(rest, |j| &rest[..j]);
    }
    if let Some(i) = ua.find(CURRENT) {
        let rest = &ua[i + CURRENT.len()..];
        return rest.find(' ').map_or(rest, |j| &rest[..j]);
    }
    ""
}

fn has_term(hay: &str, needle: &str) -> bool {
    let h = hay.as_bytes();
    hay.match_indices(needle).any(|(i, _)| {
        let end = i + needle.len();
        (i == 0 || !h[i - 1].is_ascii_alphanumeric())
            && (end == h.len() || !h[end].is_ascii_alphanumeric())
    })
}

/// `(minute, recipient, account name, user name, ip, mfa)`.
type SentinelKey = (i64, String, String, String, String, String);

fn sentinel_item(v: &Value) -> Option<(SentinelKey, String)> {
    let ua = text(v, &["userAgent"]).unwrap_or("");
    if !ua
        .get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("aws-cli"))
    {
        return None;
    }
    let command = extract_command(ua);
    let lower = command.to_ascii_lowercase();
    if command.is_empty() || !TERMS.iter().any(|t| has_term(&lower, t)) {
        return None;
    }
    let arn = text(v, &["userIdentity", "arn"])
        .filter(|a| !a.is_empty())
        .or_else(|| v.get("resources")?.get(0)?.get("ARN")?.as_str())
        .unwrap_or("");
    let user_name = text(v, &["userIdentity", "userName"]).unwrap_or("");
    let account = if text(v, &["userIdentity", "principalId"]) == Some("Anonymous") {
        "Anonymous"
    } else if !user_name.is_empty() {
        user_name
    } else {
        arn.rsplit('/').next().unwrap_or("")
    };
    let account = account.split('@').next().unwrap_or("");
    let t = parse_time(text(v, &["eventTime"])?);
    let key = (
        t.div_euclid(60_000),
        text(v, &["recipientAccountId"]).unwrap_or("").to_owned(),
        account.to_owned(),
        user_name.to_owned(),
        text(v, &["sourceIPAddress"]).unwrap_or("").to_owned(),
        text(
            v,
            &[
                "userIdentity",
                "sessionContext",
                "attributes",
                "mfaAuthenticated",
            ],
        )
        .unwrap_or("")
        .to_owned(),
    );
    Some((key, command.to_owned()))
}

// ---- Elastic, recomputed

const PROVIDERS: &[&str] = &[
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

fn dissect_roles(arn: &str) -> Option<&str> {
    let rest = &arn[arn.find("::")? + 2..];
    let rest = &rest[rest.find(':')? + 1..];
    Some(&rest[rest.find('/')? + 1..])
}

/// `((10 s bucket, arn), event name)`.
fn elastic_item(v: &Value) -> Option<((i64, String), String)> {
    if !PROVIDERS.contains(&text(v, &["eventSource"])?) {
        return None;
    }
    if text(v, &["userIdentity", "type"])? == "AWSService" {
        return None;
    }
    if !text(v, &["userAgent"])?.starts_with("aws-cli/") {
        return None;
    }
    let name = text(v, &["eventName"])?;
    if name == "DescribeCapacityReservations"
        || !["Describe", "Get", "List", "Generate"]
            .iter()
            .any(|p| name.starts_with(p))
    {
        return None;
    }
    let arn = text(v, &["userIdentity", "arn"])?;
    if dissect_roles(arn)?.starts_with("AWSServiceRoleForConfig") {
        return None;
    }
    let t = parse_time(text(v, &["eventTime"])?);
    Some(((t.div_euclid(10_000), arn.to_owned()), name.to_owned()))
}

struct Groups {
    sentinel: BTreeMap<SentinelKey, BTreeSet<String>>,
    elastic: BTreeMap<(i64, String), BTreeSet<String>>,
}

fn groups(lines: &[String]) -> Groups {
    let mut g = Groups {
        sentinel: BTreeMap::new(),
        elastic: BTreeMap::new(),
    };
    for l in lines {
        let v: Value = serde_json::from_str(l).unwrap();
        if let Some((k, c)) = sentinel_item(&v) {
            g.sentinel.entry(k).or_default().insert(c);
        }
        if let Some((k, n)) = elastic_item(&v) {
            g.elastic.entry(k).or_default().insert(n);
        }
    }
    g
}

// ---- tests

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let (a, _) = generate(opts(1, 20_000));
    let (b, _) = generate(opts(1, 20_000));
    assert!(a == b, "same seed must give identical output");
    let (c, _) = generate(opts(2, 20_000));
    assert_ne!(a, c);
    // The iterator and write_ndjson give the same records.
    let it: Vec<String> = Generator::new(opts(1, 20_000)).unwrap().collect();
    assert!(it == a);
    let mut out = Vec::new();
    assert_eq!(write_ndjson(opts(1, 20_000), &mut out).unwrap(), 20_000);
    let joined: String = a.iter().map(|l| format!("{l}\n")).collect();
    assert!(out == joined.into_bytes());
}

/// FNV-1a of the default options' first 2 000 records (bursts included).
const PINNED_DIGEST: u64 = 0x3d22_d36d_c934_3d06;

#[test]
fn pinned_output_does_not_drift() {
    // A change here changes every file users generated: make it on purpose
    // and update the digest.
    let (lines, _) = generate(GenOptions {
        count: 2_000,
        ..GenOptions::default()
    });
    let v: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["eventTime"], "2026-01-05T00:00:00Z");
    let digest = lines
        .iter()
        .flat_map(|l| l.bytes().chain([b'\n']))
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
        });
    assert_eq!(
        digest, PINNED_DIGEST,
        "output changed: digest is now {digest:#x}"
    );
}

#[test]
fn count_is_exact() {
    let cases = [
        GenOptions {
            count: 0,
            bursts: 0,
            ..GenOptions::default()
        },
        GenOptions {
            count: 1,
            bursts: 0,
            ..GenOptions::default()
        },
        GenOptions {
            count: 1_000,
            bursts: 10,
            duplicate_rate: 0.3,
            ..GenOptions::default()
        },
        GenOptions {
            count: 12_345,
            bursts: 37,
            duplicate_rate: 0.01,
            max_disorder_ms: 60_000,
            ..GenOptions::default()
        },
        GenOptions {
            count: 5_000,
            bursts: 3,
            rate_per_sec: 0.5,
            max_disorder_ms: 0,
            ..GenOptions::default()
        },
        GenOptions {
            count: 5_000,
            bursts: 20,
            rate_per_sec: 50_000.0,
            ..GenOptions::default()
        },
    ];
    for o in cases {
        let (lines, injected) = generate(o.clone());
        assert_eq!(lines.len() as u64, o.count, "{o:?}");
        assert_eq!(injected.len() as u32, o.bursts, "{o:?}");
    }
    // Exactly the bursts' records: every record is a burst record.
    let needed = {
        let (_, injected) = generate(GenOptions {
            count: 1_000,
            bursts: 10,
            ..GenOptions::default()
        });
        injected.iter().map(|b| u64::from(b.records)).sum::<u64>()
    };
    let o = GenOptions {
        count: needed,
        bursts: 10,
        ..GenOptions::default()
    };
    let (lines, injected) = generate(o);
    assert_eq!(lines.len() as u64, needed);
    assert_eq!(injected.len(), 10);
    let burst_ips: HashSet<&str> = injected.iter().map(|b| b.source_ip.as_str()).collect();
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap();
        assert!(burst_ips.contains(text(&v, &["sourceIPAddress"]).unwrap()));
    }
    let err = Generator::new(GenOptions {
        count: needed - 1,
        bursts: 10,
        ..GenOptions::default()
    });
    assert!(matches!(err, Err(GenError::CountTooSmall { .. })));
}

#[test]
fn disorder_is_bounded() {
    for disorder in [0u64, 1_000, 2_000, 5_000, 60_000] {
        let o = GenOptions {
            count: 30_000,
            max_disorder_ms: disorder,
            ..GenOptions::default()
        };
        let (lines, _) = generate(o);
        let mut latest = i64::MIN;
        let mut late = 0;
        for l in &lines {
            let v: Value = serde_json::from_str(l).unwrap();
            let t = parse_time(text(&v, &["eventTime"]).unwrap());
            assert!(
                t >= latest.saturating_sub(disorder as i64),
                "{t} more than {disorder} ms before {latest}"
            );
            late += usize::from(t < latest);
            latest = latest.max(t);
        }
        // Times are whole seconds: disorder below 2 s may not show.
        if disorder == 0 {
            assert_eq!(late, 0);
        } else if disorder >= 2_000 {
            assert!(
                late > lines.len() / 10,
                "disorder {disorder}: only {late} records out of order"
            );
        }
    }
}

#[test]
fn records_are_mostly_between_600_and_1500_bytes() {
    for seed in 1..=3 {
        let (lines, _) = generate(opts(seed, 10_000));
        let inside = lines
            .iter()
            .filter(|l| (600..=1500).contains(&l.len()))
            .count();
        assert!(
            inside * 10 >= lines.len() * 9,
            "seed {seed}: {inside} of {} in range",
            lines.len()
        );
        assert!(lines.iter().all(|l| l.len() < 4096));
    }
}

#[test]
fn every_record_is_a_cloudtrail_object() {
    let (lines, _) = generate(opts(7, 20_000));
    let mut ids: HashMap<String, usize> = HashMap::new();
    let mut types: HashSet<String> = HashSet::new();
    let mut sources: HashSet<String> = HashSet::new();
    let mut dups = 0;
    for (i, l) in lines.iter().enumerate() {
        assert!(!l.contains('\n'));
        let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("record {i}: {e}: {l}"));
        let o = v.as_object().expect("an object");
        for f in [
            "eventTime",
            "eventName",
            "eventSource",
            "eventID",
            "eventVersion",
            "awsRegion",
            "userAgent",
        ] {
            assert!(
                o.get(f).is_some_and(Value::is_string),
                "record {i} lacks {f}: {l}"
            );
        }
        parse_time(o["eventTime"].as_str().unwrap());
        assert!(["1.08", "1.09", "1.11"].contains(&o["eventVersion"].as_str().unwrap()));
        let id = o["eventID"].as_str().unwrap();
        assert_eq!(id.len(), 36);
        assert!(o["recipientAccountId"].as_str().unwrap().len() == 12);
        assert!(o["readOnly"].is_boolean() && o["managementEvent"].is_boolean());
        sources.insert(o["eventSource"].as_str().unwrap().to_owned());
        types.insert(
            text(&v, &["userIdentity", "type"])
                .unwrap_or("<none>")
                .to_owned(),
        );
        if let Some(prev) = ids.insert(id.to_owned(), i) {
            // A duplicate: the same text, written right after the original.
            assert_eq!(prev + 1, i, "duplicate {id} not adjacent");
            assert_eq!(lines[prev], *l);
            dups += 1;
        }
    }
    assert!((10..=100).contains(&dups), "{dups} duplicates");
    for t in [
        "IAMUser",
        "AssumedRole",
        "Root",
        "AWSService",
        "FederatedUser",
        "AWSAccount",
        "<none>",
    ] {
        assert!(types.contains(t), "no {t} identity");
    }
    assert!(sources.len() >= 15, "{sources:?}");
}

/// `DescribeDBInstances` -> `describe-db-instances`; version suffixes
/// (`ListFunctions20150331`) dropped.
fn kebab(name: &str) -> String {
    let trimmed = name.trim_end_matches(|c: char| c.is_ascii_digit() || c == 'v');
    let name = if trimmed.len() + 8 <= name.len() {
        trimmed
    } else {
        name
    };
    let c: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &ch) in c.iter().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            let prev_lower = c[i - 1].is_ascii_lowercase();
            let next_lower = c.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev_lower || (c[i - 1].is_ascii_uppercase() && next_lower) {
                out.push('-');
            }
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

#[test]
fn aws_cli_agents_name_the_command_of_the_call() {
    let (lines, _) = generate(GenOptions {
        count: 50_000,
        bursts: 30,
        ..GenOptions::default()
    });
    let mut seen = 0;
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap();
        let ua = text(&v, &["userAgent"]).unwrap();
        // S3 data events wrap the agent in brackets.
        let command = extract_command(ua).trim_end_matches(']');
        if command.is_empty() {
            continue;
        }
        seen += 1;
        let source = text(&v, &["eventSource"])
            .unwrap()
            .trim_end_matches(".amazonaws.com");
        let name = text(&v, &["eventName"]).unwrap();
        let (svc, op) = command.split_once('.').unwrap();
        let services: &[&str] = match source {
            "s3" => &["s3", "s3api"],
            "elasticloadbalancing" => &["elbv2"],
            "bedrock" => &["bedrock", "bedrock-runtime"],
            "config" => &["configservice"],
            s => &[s],
        };
        assert!(services.contains(&svc), "{command} for {source}");
        if svc == "s3" {
            assert!(
                op == "cp" && (name == "GetObject" || name == "PutObject"),
                "{command} for {name}"
            );
        } else {
            assert_eq!(op, kebab(name), "{ua}");
        }
    }
    assert!(seen > 200, "{seen} aws-cli records with a command");
}

#[test]
fn bursts_have_the_planned_distinct_counts() {
    for (seed, count, bursts) in [(1, 10_000, 10), (2, 200_000, 60), (3, 50_000, 40)] {
        let o = GenOptions {
            seed,
            count,
            bursts,
            ..GenOptions::default()
        };
        let (lines, injected) = generate(o);
        assert_eq!(injected.len(), bursts as usize);
        let g = groups(&lines);
        let mut kinds = HashSet::new();
        let mut times: HashMap<&str, Vec<i64>> = HashMap::new();
        for l in &lines {
            let v: Value = serde_json::from_str(l).unwrap();
            let ip = text(&v, &["sourceIPAddress"]).unwrap();
            if let Some(b) = injected.iter().find(|b| b.source_ip == ip) {
                times
                    .entry(b.source_ip.as_str())
                    .or_default()
                    .push(parse_time(text(&v, &["eventTime"]).unwrap()));
            }
        }
        for (i, b) in injected.iter().enumerate() {
            assert_eq!(b.index as usize, i);
            assert_eq!(b.kind, BurstKind::ALL[i % 10]);
            kinds.insert(b.kind);
            // Records carry the burst's address and times.
            let ts = &times[b.source_ip.as_str()];
            assert!(ts.len() >= b.records as usize);
            assert!(ts.iter().all(|t| (b.start_ms..=b.end_ms).contains(t)));
            // Sentinel: per minute, by this burst's key.
            let per_minute: BTreeMap<i64, &BTreeSet<String>> = g
                .sentinel
                .iter()
                .filter(|(k, _)| k.4 == b.source_ip)
                .map(|(k, v)| (k.0, v))
                .collect();
            // One identity behind the address: one key apart from the minute.
            let keys: BTreeSet<_> = g
                .sentinel
                .keys()
                .filter(|k| k.4 == b.source_ip)
                .map(|k| (&k.1, &k.2, &k.3, &k.5))
                .collect();
            assert!(keys.len() <= 1, "{keys:?}");
            let s_max = per_minute.values().map(|s| s.len()).max().unwrap_or(0) as u32;
            assert_eq!(s_max, b.sentinel_distinct, "{b:?}");
            // Elastic: per 10 s, by ARN.
            let per_10s: Vec<usize> = g
                .elastic
                .iter()
                .filter(|(k, _)| k.1 == b.arn)
                .map(|(_, v)| v.len())
                .collect();
            let e_max = per_10s.iter().copied().max().unwrap_or(0) as u32;
            if b.kind != BurstKind::RootBurst {
                // Root's ARN is shared with the account's background root
                // records, which Elastic never counts either.
                assert_eq!(e_max, b.elastic_distinct, "{b:?}");
            }
            assert_eq!(b.sentinel_alert(), b.kind.sentinel_alerts(), "{b:?}");
            assert_eq!(b.elastic_alert(), b.kind.elastic_alerts(), "{b:?}");
            let total_sentinel: BTreeSet<&String> =
                per_minute.values().flat_map(|s| s.iter()).collect();
            match b.kind {
                BurstKind::SentinelHit => assert!((8..=12).contains(&s_max)),
                BurstKind::SentinelSeven => assert_eq!(s_max, 7),
                BurstKind::SentinelSplit => {
                    assert_eq!(per_minute.len(), 2);
                    assert!(per_minute.values().all(|s| s.len() == 4));
                    assert_eq!(total_sentinel.len(), 8);
                }
                BurstKind::ElasticHit => assert!((6..=8).contains(&e_max)),
                BurstKind::ElasticFive => assert_eq!(e_max, 5),
                BurstKind::ElasticSplit => {
                    assert_eq!(per_10s.len(), 2);
                    assert!(per_10s.iter().all(|&n| n == 3));
                }
                BurstKind::RootBurst => {
                    assert!(s_max >= 8);
                    assert!(b.arn.ends_with(":root") && b.arn.starts_with("arn:aws:iam::"));
                    assert_eq!(b.elastic_distinct, 0);
                }
                BurstKind::ConfigServiceRole => {
                    assert!(b.arn.contains(":assumed-role/AWSServiceRoleForConfig/"));
                    assert!(
                        b.event_names.len() >= 6
                            && b.event_names.iter().all(|n| n.starts_with("Describe"))
                    );
                    assert_eq!(e_max, 0);
                }
                BurstKind::BracketedAgent => {
                    assert_eq!((s_max, e_max), (0, 0));
                    assert!(b.commands.len() >= 8);
                }
                BurstKind::UpperCaseAgent => {
                    assert!(s_max >= 8);
                    assert_eq!(e_max, 0);
                }
            }
        }
        if bursts >= 10 {
            assert_eq!(kinds.len(), 10);
        }
        // Background alone does not alert: every alerting group is a
        // burst's, and every burst expected to alert does.
        let burst_ips: HashSet<&str> = injected.iter().map(|b| b.source_ip.as_str()).collect();
        let burst_arns: HashSet<&str> = injected.iter().map(|b| b.arn.as_str()).collect();
        for (k, v) in &g.sentinel {
            if v.len() >= 8 {
                assert!(
                    burst_ips.contains(k.4.as_str()),
                    "background Sentinel alert {k:?} {v:?}"
                );
            }
        }
        for (k, v) in &g.elastic {
            if v.len() > 5 {
                assert!(
                    burst_arns.contains(k.1.as_str()),
                    "background Elastic alert {k:?} {v:?}"
                );
            }
        }
        let sentinel_alerts = g.sentinel.iter().filter(|(_, v)| v.len() >= 8).count();
        let elastic_alerts = g.elastic.iter().filter(|(_, v)| v.len() > 5).count();
        assert_eq!(
            sentinel_alerts,
            injected.iter().filter(|b| b.sentinel_alert()).count()
        );
        assert_eq!(
            elastic_alerts,
            injected.iter().filter(|b| b.elastic_alert()).count()
        );
    }
}

#[test]
fn background_alone_stays_quiet_and_has_cli_discovery() {
    let (lines, injected) = generate(GenOptions {
        count: 300_000,
        bursts: 0,
        ..GenOptions::default()
    });
    assert!(injected.is_empty());
    let g = groups(&lines);
    assert!(g.sentinel.values().all(|v| v.len() < 8));
    for (k, v) in &g.elastic {
        assert!(v.len() <= 5, "{k:?} {v:?}");
    }
    // But aws-cli discovery does occur in the background.
    assert!(
        g.sentinel.len() > 20,
        "{} Sentinel groups",
        g.sentinel.len()
    );
    assert!(g.elastic.len() > 50, "{} Elastic groups", g.elastic.len());
}

#[test]
fn options_are_validated() {
    let bad = |o: GenOptions| Generator::new(o).err().expect("invalid options");
    let d = GenOptions::default;
    for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(
            bad(GenOptions {
                rate_per_sec: rate,
                ..d()
            }),
            GenError::InvalidRate(_)
        ));
    }
    for r in [-0.1, 1.0, f64::NAN] {
        assert!(matches!(
            bad(GenOptions {
                duplicate_rate: r,
                ..d()
            }),
            GenError::InvalidDuplicateRate(_)
        ));
    }
    for s in [-1, i64::MAX, i64::MIN] {
        assert!(matches!(
            bad(GenOptions { start_ms: s, ..d() }),
            GenError::InvalidStart(_)
        ));
    }
    assert!(matches!(
        bad(GenOptions {
            max_disorder_ms: u64::MAX,
            ..d()
        }),
        GenError::InvalidDisorder(_)
    ));
    assert!(matches!(
        bad(GenOptions {
            rate_per_sec: 1e9,
            max_disorder_ms: 60_000,
            ..d()
        }),
        GenError::BufferTooLarge(_)
    ));
    assert!(matches!(
        bad(GenOptions {
            bursts: MAX_BURSTS + 1,
            ..d()
        }),
        GenError::TooManyBursts(_)
    ));
    assert!(matches!(
        bad(GenOptions { count: 10, ..d() }),
        GenError::CountTooSmall { .. }
    ));
    assert!(matches!(
        bad(GenOptions {
            count: u64::MAX,
            rate_per_sec: 1e-3,
            ..d()
        }),
        GenError::SpanTooLong { .. }
    ));
    let e = bad(GenOptions {
        rate_per_sec: 0.0,
        ..d()
    });
    assert!(e.to_string().contains("rate_per_sec"));
    // Extremes that are valid still work.
    let (lines, _) = generate(GenOptions {
        count: 100,
        bursts: 0,
        rate_per_sec: 1e300,
        max_disorder_ms: 0,
        ..d()
    });
    assert_eq!(lines.len(), 100);
    let (lines, _) = generate(GenOptions {
        count: 100,
        bursts: 0,
        start_ms: 0,
        rate_per_sec: 1e-6,
        ..d()
    });
    assert_eq!(lines.len(), 100);
}

#[test]
fn aws_cli_share_one_makes_every_record_an_aws_cli_call() {
    let opts = GenOptions {
        seed: 3,
        count: 5_000,
        bursts: 8,
        aws_cli_share: Some(1.0),
        ..GenOptions::default()
    };
    let records: Vec<String> = Generator::new(opts).unwrap().collect();
    assert_eq!(records.len(), 5_000);
    for r in &records {
        let v: serde_json::Value = serde_json::from_str(r).unwrap();
        let ua = v["userAgent"].as_str().unwrap_or_default();
        assert!(ua.to_ascii_lowercase().contains("aws-cli"), "{ua}");
    }
    // The realistic mix is untouched by the option's existence.
    let realistic = |share| {
        Generator::new(GenOptions {
            seed: 3,
            count: 2_000,
            aws_cli_share: share,
            ..GenOptions::default()
        })
        .unwrap()
        .collect::<Vec<String>>()
    };
    let cli = |rs: &[String]| {
        rs.iter()
            .filter(|r| r.contains("\"userAgent\":\"aws-cli"))
            .count()
    };
    let mix = realistic(None);
    assert!(
        cli(&mix) * 10 < mix.len(),
        "a realistic mix is mostly not aws-cli"
    );
    assert!(cli(&realistic(Some(0.5))) > cli(&mix));
    assert!(
        GenOptions {
            aws_cli_share: Some(1.5),
            ..GenOptions::default()
        }
        .validate()
        .is_err()
    );
}
