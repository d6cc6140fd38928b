//! Data rules (Sigma, compiled) held to the promises the built-ins keep:
//! the pre-filter settles a record only when the full path would read it
//! as valid, with the same time, and every rule would filter it; a
//! detector gives the same alerts and counters with the pre-filter on or
//! off, whatever the split into calls, and across a snapshot.

use proptest::prelude::*;
use recon_gen::{GenOptions, Generator};
use recon_guest::config::{Profile, RuleSettings, Settings};
use recon_guest::event::parse_event_with;
use recon_guest::prefilter::{Plan, Verdict};
use recon_guest::sigma::{Compiled, RuleFile, compile};
use recon_guest::{Detector, Rule};

/// Every rule file of the catalogue (`rules/`).
fn catalogue() -> Vec<RuleFile> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../rules");
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml"))
        .collect();
    paths.sort();
    assert!(paths.len() >= 10, "the catalogue has {} files", paths.len());
    paths
        .into_iter()
        .map(|p| RuleFile {
            name: p.display().to_string(),
            text: std::fs::read_to_string(&p).unwrap(),
        })
        .collect()
}

/// Rules whose needles are words CloudTrail records often hold in other
/// members, and a rule reading paths under `userIdentity` (read both by
/// the canonical parse and by the paths).
const EXTRA: &str = r#"
title: console logins
name: logins
logsource: {product: aws, service: cloudtrail}
detection:
  sel:
    eventName: ConsoleLogin
    responseElements.ConsoleLogin|contains: fail
    userIdentity.sessionContext.sessionIssuer.userName|exists: false
  condition: sel
---
title: odd agents
name: odd_agents
logsource: {product: aws, service: cloudtrail}
fields: [userIdentity.accessKeyId]
detection:
  sel:
    recon.ua_name: aws-cli
    userIdentity.accessKeyId|startswith: ASIA
  condition: sel
"#;

fn files() -> Vec<RuleFile> {
    let mut f = catalogue();
    f.push(RuleFile {
        name: "extra.yml".into(),
        text: EXTRA.into(),
    });
    f
}

fn compiled() -> Compiled {
    compile(&files()).unwrap()
}

fn generated(seed: u64, count: u64, rounds: u32) -> Vec<String> {
    let mut g = Generator::new(GenOptions {
        seed,
        count,
        bursts: 20,
        catalogue_rounds: rounds,
        ..GenOptions::default()
    })
    .unwrap();
    let mut out = Vec::new();
    let mut line = String::new();
    while g.next_into(&mut line) {
        out.push(line.trim_end().to_owned());
        line.clear();
    }
    out
}

/// The claim for one record, under the plan of the catalogue alone and of
/// the catalogue beside the built-ins.
fn check(c: &Compiled, text: &str) -> Result<(), TestCaseError> {
    let needles: Vec<Vec<Vec<String>>> = c.rules.iter().map(|r| r.needles.clone()).collect();
    for builtins in [false, true] {
        let plan = Plan::new(builtins, &needles);
        if let Verdict::Filtered(t) = plan.settle(text.as_bytes()) {
            let ev = parse_event_with(text, &c.schema);
            prop_assert!(ev.is_ok(), "settled a record the parser refuses: {text}");
            let ev = ev.unwrap();
            prop_assert_eq!(ev.time_ms, t);
            for r in &c.rules {
                prop_assert!(
                    !r.filter.eval(&ev, Profile::Default),
                    "settled a record rule {} selects: {}",
                    r.name,
                    text
                );
            }
        }
    }
    Ok(())
}

#[test]
fn the_catalogue_compiles_with_needles_for_every_rule() {
    let c = compiled();
    assert!(c.rules.len() >= 15);
    for r in &c.rules {
        assert!(!r.needles.is_empty(), "rule {} has no needles", r.name);
    }
}

#[test]
fn generated_records_are_settled_exactly() {
    let c = compiled();
    let mut settled = 0;
    let plan = Plan::new(
        false,
        &c.rules
            .iter()
            .map(|r| r.needles.clone())
            .collect::<Vec<_>>(),
    );
    let records = generated(3, 20_000, 3);
    for r in &records {
        check(&c, r).unwrap();
        settled += matches!(plan.settle(r.as_bytes()), Verdict::Filtered(_)) as usize;
    }
    // Most of a realistic trail is settled without the full parse.
    assert!(
        settled * 2 > records.len(),
        "{settled} of {}",
        records.len()
    );
}

/// Edits that reach what the needles are about: case, escapes, and the
/// very words rules look for.
const MUTATIONS: &[&str] = &[
    "\\u0041",
    "\\/",
    "\\\"",
    "ConsoleLogin",
    "CONSOLELOGIN",
    "Failure",
    "iam.amazonaws.com",
    "IAM.AMAZONAWS.COM",
    "secretsmanager",
    "GetSecretValue",
    "aws-cli/2",
    "AccessDenied",
    "ASIA",
    "\"responseElements\":{\"ConsoleLogin\":\"Failure\"},",
    "\"eventName\":\"ConsoleLogin\",",
    "\"userIdentity\":{\"accessKeyId\":\"ASIAX\"},",
    "1e3",
    "}",
    "\"",
    ",",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn mutated_records_are_never_settled_wrongly(
        pick in 0usize..400,
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0..MUTATIONS.len(), 0usize..3), 1..4),
    ) {
        thread_local! {
            static STATE: (Compiled, Vec<String>) = (compiled(), generated(9, 3_000, 1));
        }
        STATE.with(|(c, records)| {
            let mut text = records[pick % records.len()].clone();
            for (at, m, how) in &edits {
                let bounds: Vec<usize> =
                    text.char_indices().map(|(i, _)| i).chain([text.len()]).collect();
                let i = bounds[at.index(bounds.len())];
                let c = text[i..].chars().next().map_or(0, char::len_utf8);
                match how {
                    0 => text.insert_str(i, MUTATIONS[*m]),
                    1 => text.replace_range(i..i + c, MUTATIONS[*m]),
                    _ => text.replace_range(i..i + c, ""),
                }
            }
            check(c, &text)
        })?;
    }
}

fn settings(builtins: bool) -> Settings {
    let mut s = if builtins {
        Settings::all(Profile::Default)
    } else {
        Settings::with_rules(Vec::new(), Profile::Default)
    };
    s.rule_files = files();
    s
}

fn end(mut d: Detector) -> (Vec<recon_guest::Alert>, recon_guest::Stats) {
    d.flush(None);
    (d.drain(), d.stats())
}

#[test]
fn detectors_agree_with_and_without_the_prefilter_and_however_fed() {
    let records = generated(21, 40_000, 4);
    let mut buf = Vec::new();
    for r in &records {
        buf.extend_from_slice(r.as_bytes());
        buf.push(b'\n');
    }
    for builtins in [false, true] {
        let mut on = Detector::new(settings(builtins)).unwrap();
        let mut off = Detector::new(settings(builtins)).unwrap();
        off.set_prefilter(false);
        assert_eq!(on.push_batch(&records), off.push_batch(&records));
        let (alerts, stats) = end(on);
        assert!(
            alerts.iter().any(|a| Rule::of_name(&a.rule).is_none()),
            "no data rule alerted"
        );
        assert_eq!((alerts.clone(), stats.clone()), end(off));

        // NDJSON in uneven calls, a snapshot and restore halfway.
        let mut d = Detector::new(settings(builtins)).unwrap();
        let mut start = 0;
        let mut calls = 0;
        while start < buf.len() {
            let mut stop = (start + 7_919 * (1 + calls % 5)).min(buf.len());
            while stop < buf.len() && buf[stop - 1] != b'\n' {
                stop += 1;
            }
            d.push_ndjson(&buf[start..stop]);
            start = stop;
            calls += 1;
            if calls == 20 {
                d = Detector::restore(&d.snapshot()).unwrap();
            }
        }
        assert_eq!(end(d), (alerts, stats));
    }
}

#[test]
fn a_data_rule_may_not_take_a_built_ins_name_and_only_rules_selects() {
    let mut s = Settings::with_rules(vec![RuleSettings::new(Rule::Elastic)], Profile::Default);
    s.rule_files = vec![RuleFile {
        name: "x.yml".into(),
        text: "title: t\nname: elastic-aws-discovery-burst\nlogsource: {}\ndetection:\n  a:\n    eventName: X\n  condition: a\n".into(),
    }];
    assert!(Detector::new(s).is_err());
    let mut s = settings(false);
    s.only_rules = Some(vec!["aws-iam-user-enumeration".into()]);
    let d = Detector::new(s.clone()).unwrap();
    assert_eq!(d.stats().rules.len(), 1);
    s.only_rules = Some(vec!["no-such-rule".into()]);
    assert!(Detector::new(s).is_err());
}
