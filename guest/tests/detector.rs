//! The detection core end to end, natively: windows, watermark, lateness,
//! thresholds, bounds and snapshots of the Sentinel rule.

use recon_guest::config::{DEFAULT_ALLOWED_LATENESS_MS, Profile, Rule, Settings};
use recon_guest::time::parse_time;
use recon_guest::{Alert, Detector, EventError, Outcome, RejectReason};

fn record(time: &str, command: &str, user: &str) -> String {
    format!(
        r#"{{"eventVersion":"1.08","eventTime":"{time}","eventSource":"ec2.amazonaws.com","eventName":"Op{command}",
        "userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/{user}","userName":"{user}",
        "principalId":"AIDA{user}"}},"sourceIPAddress":"198.51.100.7","recipientAccountId":"111122223333",
        "userAgent":"aws-cli/2.13.25 Python/3.11.5 Linux/5.10 exe/x86_64.amzn.2 prompt/off command/{command}"}}"#
    )
}

const COMMANDS: [&str; 9] = [
    "iam.list-users",
    "iam.list-groups",
    "ec2.describe-vpcs",
    "ec2.describe-subnets",
    "kms.list-keys",
    "kms.list-aliases",
    "iam.list-roles",
    "ec2.describe-security-groups",
    "ec2.describe-route-tables",
];

fn sentinel() -> Detector {
    Detector::new(Settings::new(Rule::Sentinel, Profile::Default)).unwrap()
}

/// Pushes one event into a one-rule detector: that rule's outcome, or the
/// rejection (the record's own, or the rule's).
fn push1(detector: &mut Detector, event: &str) -> Result<Outcome, EventError> {
    let mut outcomes = detector.push(event)?;
    assert_eq!(outcomes.len(), 1);
    outcomes.remove(0)
}

fn run(detector: &mut Detector, events: &[String]) -> Vec<Alert> {
    for e in events {
        push1(detector, e).unwrap();
    }
    detector.flush(None);
    detector.drain()
}

fn burst(n: usize, times: impl Fn(usize) -> String) -> Vec<String> {
    (0..n)
        .map(|i| record(&times(i), COMMANDS[i], "alice"))
        .collect()
}

#[test]
fn threshold_is_eight_distinct_commands() {
    let seven = burst(7, |i| format!("2026-02-08T16:31:{:02}Z", i * 5));
    assert!(run(&mut sentinel(), &seven).is_empty());
    let eight = burst(8, |i| format!("2026-02-08T16:31:{:02}Z", i * 5));
    let alerts = run(&mut sentinel(), &eight);
    assert_eq!(alerts.len(), 1);
    let row: serde_json::Value = serde_json::from_str(&alerts[0].row).unwrap();
    assert_eq!(row["CommadCount"], 8);
    assert_eq!(row["EventCount"], 8);
    assert_eq!(row["TimeGenerated"], "2026-02-08T16:31:00Z");
    assert_eq!(row["AccountName"], "alice");
    // Repeating a command adds to the lists, not to the distinct count.
    let mut repeated = burst(7, |i| format!("2026-02-08T16:31:{:02}Z", i * 5));
    repeated.push(record("2026-02-08T16:31:50Z", COMMANDS[0], "alice"));
    assert!(run(&mut sentinel(), &repeated).is_empty());
}

#[test]
fn bucket_edges_are_hh_mm_00_000_and_hh_mm_59_999() {
    // Eight commands from 16:31:00.000 to 16:31:59.999 are one minute.
    let inside = burst(8, |i| match i {
        0 => "2026-02-08T16:31:00.000Z".into(),
        7 => "2026-02-08T16:31:59.999Z".into(),
        _ => format!("2026-02-08T16:31:{:02}Z", i * 7),
    });
    let alerts = run(&mut sentinel(), &inside);
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0].window_start,
        parse_time("2026-02-08T16:31:00Z").unwrap()
    );
    assert_eq!(
        alerts[0].window_end,
        parse_time("2026-02-08T16:32:00Z").unwrap()
    );
    // One millisecond earlier or later falls in the neighbouring minute.
    let before = burst(8, |i| match i {
        0 => "2026-02-08T16:30:59.999Z".into(),
        _ => format!("2026-02-08T16:31:{:02}Z", i * 7),
    });
    assert!(run(&mut sentinel(), &before).is_empty());
    let after = burst(8, |i| match i {
        7 => "2026-02-08T16:32:00.000Z".into(),
        _ => format!("2026-02-08T16:31:{:02}Z", i * 7),
    });
    assert!(run(&mut sentinel(), &after).is_empty());
}

#[test]
fn groups_are_separate_per_user() {
    let mut events = burst(8, |i| format!("2026-02-08T16:31:{:02}Z", i * 5));
    events[7] = record("2026-02-08T16:31:40Z", COMMANDS[7], "bob");
    assert!(run(&mut sentinel(), &events).is_empty());
}

#[test]
fn windows_close_when_the_watermark_passes_end_plus_lateness() {
    let mut d = sentinel();
    for e in burst(8, |i| format!("2026-02-08T16:31:{:02}Z", i * 5)) {
        assert_eq!(push1(&mut d, &e), Ok(Outcome::Accepted));
    }
    let end = parse_time("2026-02-08T16:32:00Z").unwrap();
    let lateness = DEFAULT_ALLOWED_LATENESS_MS as i64;
    assert_eq!(d.flush(Some(end + lateness - 1)), 0);
    assert_eq!(d.stats().rules[0].open_windows, 1);
    assert_eq!(d.flush(Some(end + lateness)), 1);
    assert_eq!(d.stats().rules[0].open_windows, 0);
    assert_eq!(d.drain().len(), 1);
    assert!(d.drain().is_empty());
    // The closed minute is final: a straggler for it is late, counted, not applied.
    let straggler = record("2026-02-08T16:31:59Z", COMMANDS[8], "alice");
    assert_eq!(push1(&mut d, &straggler), Ok(Outcome::Late));
    let s = d.stats();
    assert_eq!(
        (s.rules[0].counters.late, s.rules[0].counters.accepted),
        (1, 8)
    );
    assert_eq!(d.flush(None), 0);
}

/// A detector whose watermark follows every record at once (one
/// confirmation): the classic watermark, to test windows and lateness one
/// record at a time.
fn sentinel_eager() -> Detector {
    let mut s = Settings::new(Rule::Sentinel, Profile::Default);
    s.limits.time_confirmations = Some(1);
    Detector::new(s).unwrap()
}

#[test]
fn events_advance_the_watermark_and_disorder_within_lateness_is_absorbed() {
    let mut d = sentinel_eager();
    let mut events = burst(8, |i| format!("2026-02-08T16:31:{:02}Z", i * 5));
    // The newest event first: the rest are up to 35 s behind it, within
    // the allowed lateness.
    events.reverse();
    for e in &events {
        assert_eq!(push1(&mut d, e), Ok(Outcome::Accepted));
    }
    // An unrelated event past the window's end plus the allowed lateness
    // moves the watermark past the end.
    let end = parse_time("2026-02-08T16:32:00Z").unwrap();
    assert!(
        end + DEFAULT_ALLOWED_LATENESS_MS as i64 <= parse_time("2026-02-08T17:00:00Z").unwrap()
    );
    let later = record("2026-02-08T17:00:00Z", "s3.ls", "carol");
    assert_eq!(push1(&mut d, &later), Ok(Outcome::Filtered));
    assert_eq!(d.stats().pending_alerts, 1);
    assert_eq!(d.drain().len(), 1);
}

#[test]
fn zero_lateness_makes_any_older_closed_bucket_late() {
    let mut s = Settings::new(Rule::Sentinel, Profile::Default);
    s.allowed_lateness_ms = Some(0);
    s.limits.time_confirmations = Some(1);
    let mut d = Detector::new(s).unwrap();
    let a = record("2026-02-08T16:32:00Z", COMMANDS[0], "alice");
    let b = record("2026-02-08T16:31:59Z", COMMANDS[1], "alice");
    assert_eq!(push1(&mut d, &a), Ok(Outcome::Accepted));
    assert_eq!(push1(&mut d, &b), Ok(Outcome::Late));
}

/// Background records, one per second from `start`, that no rule counts.
fn background(start: &str, n: usize) -> Vec<String> {
    let t0 = parse_time(start).unwrap();
    (0..n)
        .map(|i| {
            let t = recon_guest::time::format_time(t0 + i as i64 * 1000, false);
            format!(
                r#"{{"eventTime":"{t}","eventName":"GetObject","eventSource":"s3.amazonaws.com","userAgent":"Boto3/1.34","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::1:user/app"}}}}"#
            )
        })
        .collect()
}

/// A trail: background, a burst of 9 commands at 16:31, more background.
fn trail_with_burst() -> Vec<String> {
    let mut events = background("2026-02-08T16:25:00Z", 360);
    events.extend(burst(9, |i| format!("2026-02-08T16:31:{:02}Z", i * 5)));
    events.extend(background("2026-02-08T16:31:50Z", 600));
    events
}

#[test]
fn one_record_dated_2099_does_not_blind_the_detector() {
    // The issue's defect: one wild record moved the watermark to 2099 and
    // every later event was late. With the classic watermark the alert is
    // lost; with the time policy it is not.
    let mut events = trail_with_burst();
    let wild = record("2099-01-01T00:00:00Z", "s3.ls", "mallory");
    events.insert(100, wild.clone());
    let mut classic = sentinel_eager();
    assert!(run(&mut classic, &events).is_empty());
    let mut d = sentinel();
    let alerts = run(&mut d, &events);
    assert_eq!(alerts.len(), 1);
    let s = d.stats();
    assert_eq!(s.rules[0].counters.late, 0);
    assert_eq!(s.rules[0].counters.ahead, 1);
    // Three days ahead, several times over: the same.
    for at in [10, 200, 400, 420, 700] {
        events.insert(at, record("2026-02-11T16:31:00Z", "s3.ls", "mallory"));
    }
    assert_eq!(run(&mut sentinel(), &events), alerts);
}

#[test]
fn a_real_gap_loses_nothing() {
    // A burst before and after gaps from minutes to days: every one alerts,
    // as with the classic watermark.
    for gap in [
        "2026-02-08T16:45:00Z",
        "2026-02-08T20:31:00Z",
        "2026-02-11T16:31:00Z",
    ] {
        let mut events = trail_with_burst();
        let later = parse_time(gap).unwrap();
        events.extend(background(gap, 30));
        let minute = recon_guest::time::format_time(later + 120_000, false);
        let minute = &minute[..17];
        events.extend(burst(8, |i| format!("{minute}{:02}Z", i * 5)));
        events.extend(background(
            &recon_guest::time::format_time(later + 200_000, false),
            300,
        ));
        let want = run(&mut sentinel_eager(), &events);
        assert_eq!(want.len(), 2, "{gap}");
        assert_eq!(run(&mut sentinel(), &events), want, "{gap}");
    }
}

#[test]
fn rejected_events_are_counted_by_reason() {
    let mut d = sentinel();
    assert_eq!(
        push1(&mut d, "{").unwrap_err().reason,
        RejectReason::InvalidJson
    );
    assert_eq!(
        push1(&mut d, "[]").unwrap_err().reason,
        RejectReason::NotAnObject
    );
    assert_eq!(
        push1(&mut d, r#"{"eventName":"X"}"#).unwrap_err().reason,
        RejectReason::MissingTime
    );
    let s = d.stats();
    assert_eq!((s.pushed, s.rules[0].counters.pushed), (3, 3));
    assert_eq!((s.rejected_total(), s.rules[0].rejected()), (3, 3));
    assert_eq!(s.rejected_by_reason().len(), 3);
}

#[test]
fn bounds_reject_and_truncate_instead_of_growing() {
    let mut s = Settings::new(Rule::Sentinel, Profile::Default);
    s.limits.max_open_groups = Some(1);
    s.limits.max_event_bytes = Some(2000);
    s.limits.max_list_entries = Some(8);
    let mut d = Detector::new(s).unwrap();
    assert_eq!(
        push1(
            &mut d,
            &record("2026-02-08T16:31:00Z", COMMANDS[0], "alice")
        ),
        Ok(Outcome::Accepted)
    );
    let e = push1(&mut d, &record("2026-02-08T16:31:01Z", COMMANDS[0], "bob")).unwrap_err();
    assert_eq!(e.reason, RejectReason::StateLimit);
    let big = format!(
        r#"{{"eventTime":"2026-02-08T16:31:00Z","pad":"{}"}}"#,
        "x".repeat(3000)
    );
    assert_eq!(
        push1(&mut d, &big).unwrap_err().reason,
        RejectReason::TooLarge
    );
    for (i, c) in COMMANDS.iter().enumerate().skip(1) {
        push1(
            &mut d,
            &record(&format!("2026-02-08T16:31:{:02}Z", i), c, "alice"),
        )
        .unwrap();
    }
    d.flush(None);
    let alerts = d.drain();
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].truncated);
    let row: serde_json::Value = serde_json::from_str(&alerts[0].row).unwrap();
    assert_eq!(row["CommadCount"], 9);
    assert_eq!(row["commands"].as_array().unwrap().len(), 8);
}

#[test]
fn snapshot_restore_resumes_exactly() {
    let events = burst(9, |i| format!("2026-02-08T16:31:{:02}Z", i * 5));
    let whole = run(&mut sentinel(), &events);
    let mut first = sentinel();
    for e in &events[..4] {
        push1(&mut first, e).unwrap();
    }
    let bytes = first.snapshot();
    let mut resumed = Detector::restore(&bytes).unwrap();
    assert_eq!(resumed.stats(), first.stats());
    let rest = run(&mut resumed, &events[4..]);
    assert_eq!(rest, whole);
    assert_eq!(resumed.stats().rules[0].counters.pushed, 9);
}

#[test]
fn bad_snapshots_are_refused() {
    assert!(Detector::restore(b"").is_err());
    assert!(Detector::restore(b"{}").is_err());
    let mut bytes = json(&sentinel().snapshot());
    bytes["version"] = 99.into();
    let e = Detector::restore(&seal(&bytes)).err().unwrap();
    assert_eq!(e, recon_guest::SnapshotError::UnsupportedVersion(99));
}

/// A snapshot's JSON body.
fn json(snapshot: &[u8]) -> serde_json::Value {
    serde_json::from_slice(recon_guest::unseal_snapshot(snapshot).unwrap()).unwrap()
}

/// A snapshot rewritten on purpose, with a checksum that matches.
fn seal(body: &serde_json::Value) -> Vec<u8> {
    recon_guest::seal_snapshot(&serde_json::to_vec(body).unwrap())
}

#[test]
fn damaged_snapshots_are_refused_by_their_checksum() {
    let mut d = sentinel();
    push1(
        &mut d,
        &record("2026-02-08T16:31:00Z", COMMANDS[0], "alice"),
    )
    .unwrap();
    let good = d.snapshot();
    // One digit of the state changed, as a flipped bit on disk would.
    let text = String::from_utf8(good.clone()).unwrap();
    let at = text.rfind("\"pushed\":1").unwrap() + "\"pushed\":".len();
    let mut changed = text.clone();
    changed.replace_range(at..at + 1, "7");
    let cut = &good[..good.len() - 10];
    for (what, bytes) in [("a changed digit", changed.as_bytes()), ("a cut", cut)] {
        match Detector::restore(bytes) {
            Err(recon_guest::SnapshotError::Malformed(m)) => {
                assert!(m.contains("checksum"), "{what}: {m}")
            }
            other => panic!("{what}: {:?}", other.map(|d| d.stats())),
        }
    }
    assert!(Detector::restore(&good).is_ok());
}

#[test]
fn crafted_snapshots_are_refused_not_trusted() {
    let mut d = sentinel();
    push1(
        &mut d,
        &record("2026-02-08T16:31:00Z", COMMANDS[0], "alice"),
    )
    .unwrap();
    let mut snap = json(&d.snapshot());
    // A window start that is not aligned to the minute.
    snap["rules"]["sentinel-aws-cli-recon"]["windows"][0][0] = 1_770_568_261_234i64.into();
    let e = Detector::restore(&seal(&snap)).err().unwrap();
    assert!(matches!(e, recon_guest::SnapshotError::Malformed(m) if m.contains("bucket start")));
    // A stored configuration that is invalid.
    let mut snap = json(&d.snapshot());
    snap["settings"]["rules"][0]["window_ms"] = 0.into();
    assert!(matches!(
        Detector::restore(&seal(&snap)),
        Err(recon_guest::SnapshotError::InvalidConfig(_))
    ));
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    fn json_like() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            any::<bool>().prop_map(|b| b.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| format!("{f:?}")),
            "[ -~]{0,12}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            Just("\"2026-02-08T16:31:00Z\"".to_owned()),
            Just("\"aws-cli/2 prompt/off command/iam.list-users\"".to_owned()),
        ];
        let keys = prop_oneof![
            Just("eventTime"),
            Just("userAgent"),
            Just("eventName"),
            Just("userIdentity"),
            Just("resources"),
            Just("TimeGenerated"),
            Just("@timestamp"),
            Just("event"),
            Just("event.action"),
            Just("arn"),
            Just("type"),
            Just("ARN"),
            Just("x"),
        ];
        leaf.prop_recursive(4, 40, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec((keys.clone(), inner), 0..5).prop_map(|kv| {
                    let body: Vec<String> =
                        kv.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                    format!("{{{}}}", body.join(","))
                }),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_text_is_accepted_filtered_or_rejected(text in "\\PC{0,200}") {
            for rule in [Rule::Sentinel, Rule::Elastic] {
                let mut d = Detector::new(Settings::new(rule, Profile::Default)).unwrap();
                let _ = d.push(&text);
                d.flush(None);
                prop_assert_eq!(d.stats().rules[0].counters.pushed, 1);
            }
        }

        #[test]
        fn arbitrary_json_is_accepted_filtered_or_rejected(docs in prop::collection::vec(json_like(), 1..20)) {
            for rule in [Rule::Sentinel, Rule::Elastic] {
                let mut s = Settings::new(rule, Profile::Default);
                s.rules[0].min_distinct = Some(1);
                let mut d = Detector::new(s).unwrap();
                let r = d.push_batch(&docs);
                d.flush(None);
                let _ = d.drain();
                let st = d.stats();
                let c = &r.rules[0];
                prop_assert_eq!(
                    (c.accepted + c.filtered + c.late + c.rejected + r.rejected) as usize,
                    docs.len()
                );
                prop_assert_eq!(r.errors.len() as u32, c.rejected + r.rejected);
                let rs = &st.rules[0];
                prop_assert_eq!(
                    rs.counters.accepted + rs.counters.filtered + rs.counters.late + rs.rejected(),
                    docs.len() as u64
                );
                let restored = Detector::restore(&d.snapshot()).unwrap();
                prop_assert_eq!(restored.stats(), st);
            }
        }
    }
}
