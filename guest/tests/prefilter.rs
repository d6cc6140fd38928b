//! The pre-filter against the full path: whenever `settle` settles a record
//! as filtered, the full parse must read it as valid with the same time and
//! every rule, under every configuration tried, must filter it. And a
//! detector gives the same alerts and counters with the pre-filter on or
//! off.

use proptest::prelude::*;
use recon_gen::{GenOptions, Generator};
use recon_guest::Detector;
use recon_guest::config::{Profile, Rule, RuleConfig, RuleSettings, Settings};
use recon_guest::event::parse_event;
use recon_guest::prefilter::{Verdict, settle};
use recon_guest::rules::RuleLogic;
use recon_guest::rules::{elastic::Elastic, sentinel::Sentinel};

/// Rule configurations the claim must hold under: both profiles, and lists
/// that name unusual commands and providers.
fn rules() -> (Vec<Sentinel>, Vec<Elastic>) {
    let mut sentinels = Vec::new();
    let mut elastics = Vec::new();
    for profile in [Profile::Default, Profile::Seed] {
        sentinels.push(Sentinel::new(&RuleConfig::single(Rule::Sentinel, profile)));
        elastics.push(Elastic::new(&RuleConfig::single(Rule::Elastic, profile)));
        let mut s = Settings::with_rules(
            vec![RuleSettings {
                commands: Some(vec!["s3.ls".into(), "sts.get-caller-identity".into()]),
                ..RuleSettings::new(Rule::Sentinel)
            }],
            profile,
        );
        s.rules.push(RuleSettings {
            providers: Some(vec!["sts.amazonaws.com".into(), "s3.amazonaws.com".into()]),
            ..RuleSettings::new(Rule::Elastic)
        });
        let c = recon_guest::config::Config::new(s).unwrap();
        sentinels.push(Sentinel::new(&c.rules[0]));
        elastics.push(Elastic::new(&c.rules[1]));
    }
    (sentinels, elastics)
}

/// The claim for one text; returns whether the pre-filter settled it.
fn check(text: &str) -> Result<bool, TestCaseError> {
    let Verdict::Filtered(t) = settle(text.as_bytes()) else {
        return Ok(false);
    };
    let ev = parse_event(text);
    prop_assert!(
        ev.is_ok(),
        "the pre-filter settled what the full path rejects: {:?}\n{}",
        ev,
        text
    );
    let ev = ev.unwrap();
    prop_assert_eq!(ev.time_ms, t, "time differs: {}", text);
    let (sentinels, elastics) = rules();
    for r in &sentinels {
        prop_assert!(r.select(&ev).is_none(), "Sentinel selects: {}", text);
    }
    for r in &elastics {
        prop_assert!(r.select(&ev).is_none(), "Elastic selects: {}", text);
    }
    Ok(true)
}

fn generated(seed: u64, count: u64, share: Option<f64>) -> Vec<String> {
    let opts = GenOptions {
        seed,
        count,
        bursts: 6,
        aws_cli_share: share,
        ..GenOptions::default()
    };
    Generator::new(opts).unwrap().collect()
}

#[test]
fn generated_records_are_settled_exactly() {
    let records = generated(5, 5_000, None);
    let mut settled = 0;
    for r in &records {
        if check(r).unwrap() {
            settled += 1;
        }
    }
    // The point of the pre-filter: most of a realistic trail is settled.
    assert!(
        settled * 100 > records.len() * 90,
        "{settled} of {}",
        records.len()
    );
}

/// Characters that change a record's meaning or validity where they land.
const MUTATIONS: &[&str] = &[
    "\"",
    "\\",
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\t",
    "\u{1}",
    "e",
    "E",
    "0",
    "-",
    ".",
    "n",
    "null",
    "true",
    "\\u0041",
    "\\n",
    "\\\"",
    "aws-cli/2 ",
    "AWS-CLI",
    "é",
    "\u{feff}",
    "\"eventTime\":\"2026-01-05T00:00:00Z\",",
    "\"userIdentity\":null,",
    "\"userIdentity\":[],",
    "\"eventName\":\"X\",",
    "\"@timestamp\":1,",
    "\"TimeGenerated\":\"2026-01-05 00:00:01\",",
    "\"event\":{},",
    "\"event\":\"x\",",
    "[[[[[[[[",
    "1e999",
    "12345678901234567890",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Generated records with a few mutations at random places.
    #[test]
    fn mutated_records_are_never_settled_wrongly(
        seed in 0u64..50,
        pick in 0usize..200,
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0..MUTATIONS.len(), 0usize..3), 1..4),
    ) {
        let records = generated(seed, 200, None);
        let mut text = records[pick % records.len()].clone();
        for (at, m, how) in edits {
            let bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
            let i = bounds[at.index(bounds.len())];
            match how {
                0 => text.insert_str(i, MUTATIONS[m]),
                1 => {
                    // Replace the character at i.
                    if let Some(c) = text[i..].chars().next() {
                        text.replace_range(i..i + c.len_utf8(), MUTATIONS[m]);
                    }
                }
                _ => {
                    if let Some(c) = text[i..].chars().next() {
                        text.replace_range(i..i + c.len_utf8(), "");
                    }
                }
            }
        }
        check(&text)?;
    }

    /// Arbitrary bytes (invalid UTF-8 included) spliced into records: the
    /// pre-filter settles only valid UTF-8 that the full path reads alike.
    #[test]
    fn byte_level_damage_is_never_settled_wrongly(
        pick in 0usize..200,
        at in any::<prop::sample::Index>(),
        bytes in prop::collection::vec(any::<u8>(), 1..4),
    ) {
        let records = generated(7, 200, None);
        let mut b = records[pick % records.len()].clone().into_bytes();
        let i = at.index(b.len());
        b.splice(i..i, bytes);
        if let Verdict::Filtered(_) = settle(&b) {
            let text = std::str::from_utf8(&b);
            prop_assert!(text.is_ok(), "settled bytes that are not UTF-8");
            check(text.unwrap())?;
        }
    }

    /// Small documents built from the keys the full path knows.
    #[test]
    fn known_key_documents_are_never_settled_wrongly(doc in json_doc()) {
        check(&doc)?;
    }
}

fn json_doc() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("-0".to_owned()),
        Just("1.5".to_owned()),
        Just("1e3".to_owned()),
        Just("1714557630000".to_owned()),
        Just("18446744073709551616".to_owned()),
        Just("\"\"".to_owned()),
        Just("\" \"".to_owned()),
        Just("\"2026-02-08T16:31:00Z\"".to_owned()),
        Just("\"2026-02-08 16:31:00.5\"".to_owned()),
        Just("\"2026-02-30T16:31:00Z\"".to_owned()),
        Just("\"aws-cli/2 prompt/off command/iam.list-users\"".to_owned()),
        Just("\"Boto3/1.2\"".to_owned()),
        Just("\"a\\/b\\\"c\"".to_owned()),
        "[a-z]{0,6}".prop_map(|s| format!("\"{s}\"")),
    ];
    let keys = prop_oneof![
        Just("eventTime"),
        Just("eventName"),
        Just("eventSource"),
        Just("eventVersion"),
        Just("eventID"),
        Just("userIdentity"),
        Just("userAgent"),
        Just("resources"),
        Just("TimeGenerated"),
        Just("EventName"),
        Just("UserAgent"),
        Just("Resources"),
        Just("@timestamp"),
        Just("event"),
        Just("user_agent"),
        Just("aws"),
        Just("cloudtrail"),
        Just("user_identity"),
        Just("session_context"),
        Just("sessionContext"),
        Just("attributes"),
        Just("mfaAuthenticated"),
        Just("event.action"),
        Just("user_agent.original"),
        Just("type"),
        Just("arn"),
        Just("ARN"),
        Just("x"),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                let body: Vec<String> = kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", body.join(","))
            }),
        ]
    })
}

/// End to end: the same records, pre-filter on and off, give the same
/// alerts and counters, for both rules at once in both profiles.
#[test]
fn detectors_agree_with_and_without_the_prefilter() {
    let mut records = generated(11, 20_000, None);
    records.extend(generated(12, 5_000, Some(1.0)));
    for profile in [Profile::Default, Profile::Seed] {
        let mut on = Detector::new(Settings::all(profile)).unwrap();
        let mut off = Detector::new(Settings::all(profile)).unwrap();
        off.set_prefilter(false);
        let a = on.push_batch(&records);
        let b = off.push_batch(&records);
        assert_eq!(a, b);
        assert_same_end(on, off);
    }
}

/// Ends both streams; both give the same, non-empty, alerts and counters.
fn assert_same_end(mut on: Detector, mut off: Detector) {
    on.flush(None);
    off.flush(None);
    let alerts = on.drain();
    assert!(!alerts.is_empty());
    assert_eq!(alerts, off.drain());
    assert_eq!(on.stats(), off.stats());
}

/// The bulk path routes records around the pre-filter where it does not
/// pay (long runs of aws-cli calls) and back: the same result either way.
#[test]
fn routing_around_the_prefilter_changes_nothing() {
    let mut records = generated(13, 6_000, None);
    records.extend(generated(14, 6_000, Some(1.0)));
    records.extend(generated(15, 6_000, Some(0.5)));
    records.extend(generated(16, 6_000, None));
    let mut buf = Vec::new();
    for r in &records {
        buf.extend_from_slice(r.as_bytes());
        buf.push(b'\n');
    }
    let mut on = Detector::new(Settings::all(Profile::Default)).unwrap();
    let mut off = Detector::new(Settings::all(Profile::Default)).unwrap();
    off.set_prefilter(false);
    let mut start = 0;
    while start < buf.len() {
        let mut end = (start + 300_000).min(buf.len());
        while end < buf.len() && buf[end - 1] != b'\n' {
            end += 1;
        }
        assert_eq!(
            on.push_ndjson(&buf[start..end]),
            off.push_ndjson(&buf[start..end])
        );
        start = end;
    }
    assert_same_end(on, off);
}
