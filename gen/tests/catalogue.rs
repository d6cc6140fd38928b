//! The generator's catalogue bursts against the catalogue's independent
//! batch reference (`tests/integration/catalogue_reference.rs`), without
//! the component: each burst's ground truth (windows, counts, whether its
//! rule alerts) must be exactly what the reference reads from the records
//! written. Bursts at and above a threshold appear in the reference's
//! rows with their count; bursts below it, split across a window edge, or
//! removed by the catalogue's filter do not, near misses included.

#[path = "../../tests/integration/catalogue_reference.rs"]
mod catalogue_reference;

use std::collections::{BTreeMap, BTreeSet};

use catalogue_reference::{CatRow, CatRule, read_event, rules, run_records, run_rule};
use recon_gen::{
    CATALOGUE, CatalogueBurst, CatalogueCase, DeliveryOptions, GenOptions, Generator,
    write_delivery, write_ndjson,
};
use serde_json::Value;

fn generate(opts: GenOptions) -> (Vec<String>, Vec<CatalogueBurst>) {
    let mut g = Generator::new(opts).expect("valid options");
    let truth = g.catalogue().to_vec();
    let mut lines = Vec::new();
    let mut buf = String::new();
    while g.next_into(&mut buf) {
        lines.push(std::mem::take(&mut buf));
    }
    (lines, truth)
}

fn opts(seed: u64, rounds: u32) -> GenOptions {
    GenOptions {
        seed,
        count: 30_000,
        catalogue_rounds: rounds,
        // Five minutes of disorder: within the detector's default
        // allowed lateness, as the integration test feeds it.
        max_disorder_ms: 300_000,
        ..GenOptions::default()
    }
}

/// The group-by values of a reference row.
fn row_group(rule: &CatRule, row: &str) -> Vec<Option<String>> {
    let v: Value = serde_json::from_str(row).expect("rows are JSON");
    rule.group_by
        .iter()
        .map(|f| v[*f].as_str().map(str::to_owned))
        .collect()
}

fn burst_group(b: &CatalogueBurst) -> Vec<Option<String>> {
    b.group.iter().map(|(_, v)| v.clone()).collect()
}

#[test]
fn the_catalogue_rules_are_the_references_rules() {
    let reference = rules();
    assert_eq!(reference.len(), CATALOGUE.len());
    for (r, c) in reference.iter().zip(CATALOGUE.iter()) {
        assert_eq!(r.name, c.name);
        assert_eq!(r.window_ms, c.window_ms, "{}", c.name);
        assert_eq!(r.group_by, c.group_by, "{}", c.name);
        assert_eq!(r.distinct.is_some(), c.value_count, "{}", c.name);
        assert!(!(r.alerts)(c.min_alert - 1), "{}", c.name);
        assert!((r.alerts)(c.min_alert), "{}", c.name);
        assert!((r.alerts)(c.min_alert + 1000), "{}", c.name);
        // The rule file holds the correlation, with this window.
        let path = format!("{}/../rules/{}", env!("CARGO_MANIFEST_DIR"), c.file);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            text.contains(&format!("\nname: {}\n", c.name)),
            "{path} has no correlation named {}",
            c.name
        );
        assert!(text.contains("window: tumbling"), "{path}");
    }
}

/// Every burst's truth against the reference, for one generated trail.
fn check(lines: &[String], truth: &[CatalogueBurst]) {
    let rows = run_records(lines);
    let events: Vec<(i64, Value)> = lines.iter().filter_map(|l| read_event(l)).collect();
    assert_eq!(
        events.len(),
        lines.len(),
        "every generated record is readable"
    );
    let reference = rules();
    let by_name: BTreeMap<&str, &CatRule> = reference.iter().map(|r| (r.name, r)).collect();
    // Every (group, window) count, alerting or not.
    type Counts = BTreeMap<(i64, Vec<Option<String>>), u64>;
    let mut counts: BTreeMap<&str, Counts> = BTreeMap::new();
    for r in &reference {
        let all = CatRule {
            alerts: |_| true,
            ..*r
        };
        let m = counts.entry(r.name).or_default();
        for row in run_rule(&all, &events) {
            let v: Value = serde_json::from_str(&row.row).unwrap();
            m.insert(
                (row.window_start, row_group(r, &row.row)),
                v["count"].as_u64().unwrap(),
            );
        }
    }
    let mut alerting = 0;
    for b in truth {
        let rule = by_name[b.rule];
        let group = burst_group(b);
        let seen = &counts[b.rule];
        for &(start, n) in &b.windows {
            let got = seen.get(&(start, group.clone())).copied().unwrap_or(0);
            let want = if b.case == CatalogueCase::Filtered {
                0
            } else {
                n
            };
            assert_eq!(
                got, want,
                "count of {} {:?} in window {start}: {b:?}",
                b.rule, b.case
            );
            let row = CatRow {
                rule: b.rule.to_owned(),
                window_start: start,
                window_end: start + b.window_ms,
                row: b.row(n),
            };
            let listed = rows.contains(&row);
            let should = b.alerts() && n >= b.min_alert;
            assert_eq!(
                listed, should,
                "{} {:?} in window {start}: {b:?}",
                b.rule, b.case
            );
            // Nothing else of the burst's group alerts in its windows.
            let others = rows.iter().filter(|r| {
                r.rule == b.rule
                    && r.window_start == start
                    && row_group(rule, &r.row) == group
                    && **r != row
            });
            assert_eq!(others.count(), 0, "{b:?}");
        }
        match b.case {
            CatalogueCase::At | CatalogueCase::Above => {
                assert!(b.alerts(), "{b:?}");
                assert_eq!(b.windows.len(), 1, "{b:?}");
                alerting += 1;
            }
            CatalogueCase::Straddle => {
                assert!(!b.alerts(), "{b:?}");
                assert_eq!(b.windows.len(), 2, "{b:?}");
                assert!(b.windows.iter().map(|w| w.1).sum::<u64>() > b.min_alert);
            }
            CatalogueCase::Below | CatalogueCase::Filtered => {
                assert!(!b.alerts(), "{b:?}");
                assert_eq!(b.windows.len(), 1, "{b:?}");
            }
        }
    }
    // Per round: 15 rules, 4 cases each and 2 filtered; at and above alert.
    assert_eq!(alerting, truth.len() / 62 * 30, "{}", truth.len());
}

#[test]
fn every_burst_is_what_the_reference_reads() {
    for seed in [1, 29] {
        let (lines, truth) = generate(opts(seed, 2));
        assert_eq!(truth.len(), 2 * 62);
        check(&lines, &truth);
    }
}

#[test]
fn at_and_above_alert_below_straddle_and_filtered_do_not() {
    let (lines, truth) = generate(opts(7, 1));
    let rows: BTreeSet<CatRow> = run_records(&lines).into_iter().collect();
    for b in &truth {
        let hit = b.windows.iter().any(|&(start, n)| {
            rows.contains(&CatRow {
                rule: b.rule.to_owned(),
                window_start: start,
                window_end: start + b.window_ms,
                row: b.row(n),
            })
        });
        let want = matches!(b.case, CatalogueCase::At | CatalogueCase::Above);
        assert_eq!(hit, want, "{} {:?}", b.rule, b.case);
        // Exactly the threshold, one below, one above.
        let n = b.windows.iter().map(|w| w.1).max().unwrap();
        match b.case {
            CatalogueCase::Below => assert_eq!(n, b.min_alert - 1, "{b:?}"),
            CatalogueCase::At => assert_eq!(n, b.min_alert, "{b:?}"),
            CatalogueCase::Above | CatalogueCase::Filtered => {
                assert_eq!(n, b.min_alert + 1, "{b:?}")
            }
            CatalogueCase::Straddle => assert!(n < b.min_alert, "{b:?}"),
        }
        if b.case == CatalogueCase::Below {
            assert!(b.near_misses > 0, "{b:?}");
        }
    }
}

#[test]
fn catalogue_records_use_every_time_form() {
    let (lines, _) = generate(opts(3, 1));
    let mut forms = BTreeMap::new();
    for l in &lines {
        let v: Value = serde_json::from_str(l).unwrap();
        let form = match &v["eventTime"] {
            Value::Number(_) => "epoch-ms".to_owned(),
            Value::String(s) if s.ends_with("+02:00") => "offset".to_owned(),
            Value::String(s) => match s.split_once('.') {
                Some((_, frac)) => format!("fraction-{}", frac.len() - 1),
                None => "whole".to_owned(),
            },
            other => panic!("eventTime {other}"),
        };
        *forms.entry(form).or_insert(0) += 1;
    }
    for form in [
        "epoch-ms",
        "offset",
        "fraction-3",
        "fraction-6",
        "fraction-9",
        "whole",
    ] {
        assert!(forms.contains_key(form), "no {form} in {forms:?}");
    }
}

#[test]
fn catalogue_output_is_deterministic_and_options_are_checked() {
    let run = |o: GenOptions| {
        let mut out = Vec::new();
        write_ndjson(o, &mut out).unwrap();
        out
    };
    assert_eq!(run(opts(5, 1)), run(opts(5, 1)));
    assert_ne!(run(opts(5, 1)), run(opts(6, 1)));
    assert!(
        Generator::new(GenOptions {
            catalogue_rounds: recon_gen::MAX_CATALOGUE_ROUNDS + 1,
            ..GenOptions::default()
        })
        .is_err()
    );
    // Too few records for the catalogue's.
    assert!(
        Generator::new(GenOptions {
            count: 100,
            catalogue_rounds: 1,
            ..GenOptions::default()
        })
        .is_err()
    );
    // Without the option there is no catalogue.
    let g = Generator::new(GenOptions::default()).unwrap();
    assert!(g.catalogue().is_empty());
}

#[test]
fn reference_reads_every_public_sample() {
    let samples = catalogue_reference::sample_records();
    assert!(samples.len() > 600, "{}", samples.len());
    let total: usize = samples.iter().map(|(_, r)| r.len()).sum();
    assert!(total > 4000, "{total}");
    let stream = catalogue_reference::sample_stream();
    assert_eq!(stream.len(), total);
    for r in &stream {
        assert!(!r.contains('\n'), "one line per record");
    }
    let readable = stream.iter().filter(|r| read_event(r).is_some()).count();
    assert!(readable > 4000, "{readable}");
    let rows = catalogue_reference::run_samples();
    for r in &rows {
        println!("{} {} {}", r.rule, r.window_start, r.row);
    }
}

#[test]
fn delivery_reads_back_the_catalogue_time_forms() {
    let dir = std::env::temp_dir().join(format!("recon-gen-cat-delivery-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let o = GenOptions {
        count: 5_000,
        catalogue_rounds: 1,
        ..GenOptions::default()
    };
    let report = write_delivery(o, DeliveryOptions::default(), &dir).unwrap();
    assert_eq!(report.records, 5_000);
    std::fs::remove_dir_all(&dir).ok();
}
