//! One parse for several rules, the bulk NDJSON input, and the two-stage
//! scanner/apply path: each must give exactly what the simple path gives.

use proptest::prelude::*;
use recon_gen::{GenOptions, Generator};
use recon_guest::config::{Profile, Rule, Settings};
use recon_guest::{ApplyError, Detector, Scanner};

fn generated(seed: u64, count: u64) -> Vec<String> {
    let opts = GenOptions {
        seed,
        count,
        bursts: 12,
        ..GenOptions::default()
    };
    Generator::new(opts).unwrap().collect()
}

/// Generated records with bad lines, blank lines and CRLF line ends mixed in.
fn with_junk(records: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (i, r) in records.iter().enumerate() {
        out.push(r.clone());
        match i % 97 {
            3 => out.push("{not json".to_owned()),
            5 => out.push("[1,2]".to_owned()),
            7 => out.push(r#"{"eventName":"X"}"#.to_owned()),
            11 => out.push(format!("{r}x")),
            _ => {}
        }
    }
    out
}

fn ndjson(records: &[String]) -> Vec<u8> {
    let mut buf = Vec::new();
    for (i, r) in records.iter().enumerate() {
        buf.extend_from_slice(r.as_bytes());
        buf.extend_from_slice(if i % 5 == 0 { b"\r\n" } else { b"\n" });
        if i % 13 == 0 {
            buf.extend_from_slice(b"  \t\n");
        }
    }
    buf
}

#[test]
fn both_rules_in_one_detector_equal_one_detector_per_rule() {
    let records = with_junk(&generated(21, 30_000));
    let mut both = Detector::new(Settings::all(Profile::Default)).unwrap();
    both.push_batch(&records);
    both.flush(None);
    let all = both.drain();
    let stats = both.stats();
    let mut separate = Vec::new();
    for (i, rule) in [Rule::Sentinel, Rule::Elastic].into_iter().enumerate() {
        let mut d = Detector::new(Settings::new(rule, Profile::Default)).unwrap();
        d.push_batch(&records);
        d.flush(None);
        let alerts = d.drain();
        assert!(!alerts.is_empty(), "{rule:?}");
        assert_eq!(d.stats().rules[0], stats.rules[i], "{rule:?}");
        separate.extend(alerts);
    }
    // The same alerts; the combined detector orders them by window end.
    let key = |a: &recon_guest::Alert| (a.window_end, a.rule.clone(), a.id.clone());
    let mut sorted = separate.clone();
    sorted.sort_by_key(key);
    let mut got = all.clone();
    got.sort_by_key(key);
    assert_eq!(got, sorted);
    assert!(all.windows(2).all(|w| w[0].window_end <= w[1].window_end));
}

#[test]
fn ndjson_buffers_equal_batches_of_strings() {
    let records = with_junk(&generated(22, 20_000));
    let buf = ndjson(&records);
    let mut a = Detector::new(Settings::all(Profile::Default)).unwrap();
    let mut b = Detector::new(Settings::all(Profile::Default)).unwrap();
    let ra = a.push_batch(&records);
    // Cut the buffer at line ends into uneven pieces.
    let mut rb_records = 0;
    let mut rb_errors = 0;
    let mut start = 0;
    let mut piece = 1;
    while start < buf.len() {
        let mut end = (start + piece * 997).min(buf.len());
        while end < buf.len() && buf[end - 1] != b'\n' {
            end += 1;
        }
        let r = b.push_ndjson(&buf[start..end]);
        rb_records += r.records;
        rb_errors += r.errors.len();
        start = end;
        piece = piece % 7 + 1;
    }
    assert_eq!(ra.records, rb_records);
    assert_eq!(ra.errors.len(), rb_errors);
    a.flush(None);
    b.flush(None);
    assert_eq!(a.drain(), b.drain());
    assert_eq!(a.stats(), b.stats());
}

#[test]
fn ndjson_errors_name_the_line() {
    let mut d = Detector::new(Settings::all(Profile::Default)).unwrap();
    let buf = b"{\"eventTime\":\"2026-01-01T00:00:00Z\",\"eventName\":\"X\"}\n\n{oops\r\n\xff\xfe\n  \n[]";
    let r = d.push_ndjson(buf);
    assert_eq!((r.records, r.rejected), (4, 3));
    let lines: Vec<u32> = r.errors.iter().map(|e| e.index).collect();
    assert_eq!(lines, [2, 3, 5]);
    assert!(
        r.errors[1].error.message.contains("UTF-8"),
        "{:?}",
        r.errors[1]
    );
    assert_eq!(r.rules[0].filtered, 1);
}

#[test]
fn scanned_payloads_applied_in_order_equal_push_ndjson() {
    let records = with_junk(&generated(23, 20_000));
    let buf = ndjson(&records);
    let chunks: Vec<&[u8]> = buf
        .split_inclusive(|b| *b == b'\n')
        .collect::<Vec<_>>()
        .chunks(333)
        .map(|c| {
            &buf[c[0].as_ptr() as usize - buf.as_ptr() as usize..]
                [..c.iter().map(|l| l.len()).sum()]
        })
        .collect();
    let settings = Settings::all(Profile::Seed);
    let mut direct = Detector::new(settings.clone()).unwrap();
    let mut staged = Detector::new(settings.clone()).unwrap();
    // Two scanners, as two cores would run them.
    let scanners = [
        Scanner::new(settings.clone()).unwrap(),
        Scanner::new(settings).unwrap(),
    ];
    let mut alerts_direct = Vec::new();
    let mut alerts_staged = Vec::new();
    for (i, chunk) in chunks.iter().enumerate() {
        let a = direct.push_ndjson(chunk);
        let s = scanners[i % 2].scan(chunk);
        let mut b = staged.apply(&s.payload).unwrap();
        assert_eq!(a.records, s.records);
        let mut errors = s.errors.clone();
        errors.append(&mut b.errors);
        errors.sort_by_key(|e| e.index);
        b.errors = errors;
        assert_eq!(a, b);
        alerts_direct.extend(direct.drain());
        alerts_staged.extend(staged.drain());
    }
    direct.flush(None);
    staged.flush(None);
    alerts_direct.extend(direct.drain());
    alerts_staged.extend(staged.drain());
    assert!(!alerts_direct.is_empty());
    assert_eq!(alerts_direct, alerts_staged);
    assert_eq!(direct.stats(), staged.stats());
}

#[test]
fn early_alerts_are_the_same_on_every_path_and_every_drain_cadence() {
    let records = with_junk(&generated(25, 20_000));
    let buf = ndjson(&records);
    let mut settings = Settings::all(Profile::Default);
    settings.early_alerts = Some(true);
    // The simple path: one push per record, one drain at the end.
    let mut simple = Detector::new(settings.clone()).unwrap();
    for r in &records {
        let _ = simple.push(r);
    }
    simple.flush(None);
    let want = simple.drain();
    let early = want
        .iter()
        .filter(|a| a.kind == recon_guest::AlertKind::Early)
        .count();
    assert!(
        early > 0 && early * 2 == want.len(),
        "{early} of {}",
        want.len()
    );
    // Bulk and two-stage, in uneven chunks, draining after each.
    let lines: Vec<&[u8]> = buf.split_inclusive(|b| *b == b'\n').collect();
    let scanner = Scanner::new(settings.clone()).unwrap();
    let mut bulk = Detector::new(settings.clone()).unwrap();
    let mut staged = Detector::new(settings.clone()).unwrap();
    let mut batch = Detector::new(settings).unwrap();
    let (mut got_bulk, mut got_staged, mut got_batch) = (Vec::new(), Vec::new(), Vec::new());
    let (mut at, mut size) = (0, 1);
    while at < lines.len() {
        let end = (at + size * 211).min(lines.len());
        let chunk: Vec<u8> = lines[at..end].concat();
        bulk.push_ndjson(&chunk);
        staged.apply(&scanner.scan(&chunk).payload).unwrap();
        got_bulk.extend(bulk.drain());
        got_staged.extend(staged.drain());
        at = end;
        size = size % 5 + 1;
    }
    for part in records.chunks(1009) {
        batch.push_batch(part);
        got_batch.extend(batch.drain());
    }
    for (d, got) in [
        (&mut bulk, &mut got_bulk),
        (&mut staged, &mut got_staged),
        (&mut batch, &mut got_batch),
    ] {
        d.flush(None);
        got.extend(d.drain());
        assert_eq!(d.stats(), simple.stats());
    }
    assert_eq!(got_bulk, want);
    assert_eq!(got_staged, want);
    assert_eq!(got_batch, want);
}

#[test]
fn apply_refuses_foreign_and_damaged_payloads_without_applying_them() {
    let buf = ndjson(&generated(24, 2_000));
    let scanned = Scanner::new(Settings::all(Profile::Default))
        .unwrap()
        .scan(&buf);
    let mut other = Detector::new(Settings::all(Profile::Seed)).unwrap();
    assert_eq!(
        other.apply(&scanned.payload),
        Err(ApplyError::ConfigMismatch)
    );
    let mut d = Detector::new(Settings::all(Profile::Default)).unwrap();
    let before = d.stats();
    let cut = &scanned.payload[..scanned.payload.len() - 3];
    assert!(matches!(d.apply(cut), Err(ApplyError::Malformed(_))));
    assert!(matches!(d.apply(b"nope"), Err(ApplyError::Malformed(_))));
    assert_eq!(d.stats(), before);
    assert!(d.apply(&scanned.payload).is_ok());
}

proptest! {
    /// Any bytes after a valid header are refused or applied, never a panic.
    #[test]
    fn arbitrary_payloads_never_panic(tail in prop::collection::vec(any::<u8>(), 0..200)) {
        let settings = Settings::all(Profile::Default);
        let header = Scanner::new(settings.clone()).unwrap().scan(b"").payload;
        let mut payload = header;
        payload.extend_from_slice(&tail);
        let mut d = Detector::new(settings).unwrap();
        let before = d.stats();
        match d.apply(&payload) {
            Ok(r) => prop_assert_eq!(d.stats().pushed - before.pushed, u64::from(r.records)),
            Err(_) => prop_assert_eq!(d.stats(), before),
        }
    }

    /// Any bytes as an NDJSON buffer: every non-blank line is accounted for.
    #[test]
    fn arbitrary_buffers_are_accounted_for(buf in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut d = Detector::new(Settings::all(Profile::Default)).unwrap();
        let r = d.push_ndjson(&buf);
        for c in &r.rules {
            prop_assert_eq!(c.accepted + c.filtered + c.late + c.rejected + r.rejected, r.records);
        }
        prop_assert_eq!(d.stats().pushed, u64::from(r.records));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// A few records with wild times (2099, days or hours ahead, 1970) at
    /// random places change no alert: they never move the watermark alone.
    #[test]
    fn wild_times_at_random_places_change_no_alert(
        picks in prop::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), 0usize..4), 1..6),
    ) {
        let records = generated(31, 8_000);
        let run = |records: &[String]| {
            let mut d = Detector::new(Settings::all(Profile::Default)).unwrap();
            d.push_ndjson(&ndjson(records));
            d.flush(None);
            d.drain()
        };
        let want = run(&records);
        prop_assert!(!want.is_empty());
        let mut wild = records.clone();
        for (at, from, how) in picks {
            let src = &records[from.index(records.len())];
            let time = ["2099-01-01T00:00:00Z", "2026-01-08T00:00:00Z", "2026-01-05T04:00:00Z", "1970-01-01T00:00:00Z"][how];
            let v: serde_json::Value = serde_json::from_str(src).unwrap();
            let mut v = v;
            v["eventTime"] = time.into();
            wild.insert(at.index(wild.len()), v.to_string());
        }
        prop_assert_eq!(run(&wild), want);
    }
}
