use super::*;
use flate2::Compression as Level;
use flate2::write::GzEncoder;
use proptest::prelude::*;
use std::io::Write;

/// What a reader made of an input, independent of how it was cut: the
/// records with their locations, and the reports, in order.
#[derive(Debug, Default, PartialEq, Eq)]
struct Outcome {
    records: Vec<(Loc, String)>,
    reports: Vec<String>,
}

fn outcome(events: &[Event], limit: usize) -> Outcome {
    let mut o = Outcome::default();
    for e in events {
        match e {
            Event::Chunk(c) => {
                assert_eq!(c.data.last(), Some(&b'\n'), "a chunk ends at a line end");
                o.records.extend(c.located_records());
            }
            Event::TooLarge { at, bytes } => {
                o.reports
                    .push(wording::too_large(*at, *bytes, limit as u64));
            }
            Event::Unreadable(r) => o.reports.push(r.clone()),
            Event::Control { at } => o.reports.push(format!("{at}: control message")),
            Event::BadEnvelope { at, message } => o.reports.push(format!("{at}: {message}")),
        }
    }
    o
}

/// Reads `bytes` cut at `cuts` (offsets), pausing after the pieces whose
/// index is in `pauses`.
fn read_cut(bytes: &[u8], cuts: &[usize], pauses: &[usize], options: Options) -> Vec<Event> {
    let mut events = Vec::new();
    let mut r = Reader::new(options);
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut from = 0;
    for (k, &c) in cuts.iter().chain(std::iter::once(&bytes.len())).enumerate() {
        r.feed(&bytes[from..c], &mut |e| events.push(e));
        if pauses.contains(&k) {
            r.pause(&mut |e| events.push(e));
        }
        from = c;
    }
    r.finish(&mut |e| events.push(e));
    events
}

fn opts(max_record_bytes: usize, chunk_bytes: usize) -> Options {
    Options {
        max_record_bytes,
        chunk_bytes,
    }
}

fn records(bytes: &[u8]) -> Result<Vec<String>, String> {
    let o = outcome(&read_all(bytes, opts(4 << 20, 1 << 20)), 4 << 20);
    match o.reports.first() {
        Some(e) => Err(e.clone()),
        None => Ok(o.records.into_iter().map(|(_, r)| r).collect()),
    }
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Level::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

#[test]
fn reads_every_layout() {
    let a = r#"{"eventName":"A"}"#;
    let b = r#"{"eventName":"B"}"#;
    let want = vec![a.to_owned(), b.to_owned()];
    let layouts = [
        format!("{{\"Records\":[{a},{b}]}}"),
        format!("{{\n  \"Records\": [\n    {a},\n    {b}\n  ]\n}}\n"),
        format!("[{a},{b}]"),
        format!("[\n{a},\n{b}\n]"),
        format!("{a}\n{b}\n"),
        format!("{a}\r\n\r\n{b}"),
        format!("\u{feff}{a}\n{b}"),
        format!("[{a}]\n[{b}]\n"),
    ];
    for l in &layouts {
        assert_eq!(records(l.as_bytes()).unwrap(), want, "{l}");
    }
    let pretty = format!("{{\n\"eventName\":\"A\"}}{b}");
    assert_eq!(
        records(pretty.as_bytes()).unwrap(),
        vec![r#"{ "eventName":"A"}"#.to_owned(), b.to_owned()]
    );
    assert_eq!(records(a.as_bytes()).unwrap(), vec![a.to_owned()]);
    assert!(records(b"").unwrap().is_empty());
    assert!(records(b"\n \n").unwrap().is_empty());
    // NDJSON lines that are themselves CloudTrail files are expanded.
    let nested = format!("{{\"Records\":[{a}]}}\n{b}\n");
    assert_eq!(records(nested.as_bytes()).unwrap(), want);
}

#[test]
fn gzip_is_detected_by_content() {
    let doc = br#"{"Records":[{"x":1},{"x":2}]}"#;
    assert_eq!(records(&gz(doc)).unwrap().len(), 2);
    // Several members, and a member cut anywhere.
    let two = [gz(b"{\"x\":1}\n"), gz(b"{\"x\":2}\n")].concat();
    assert_eq!(records(&two).unwrap().len(), 2);
    for n in [1, 2, 3, 5, 17] {
        let events = read_cut(
            &two,
            &(1..two.len()).step_by(n).collect::<Vec<_>>(),
            &[],
            opts(1 << 10, 64),
        );
        assert_eq!(outcome(&events, 1 << 10).records.len(), 2, "pieces of {n}");
    }
}

#[test]
fn damaged_gzip_and_zip_are_unreadable() {
    let e = records(&[0x1f, 0x8b, 1, 2, 3]).unwrap_err();
    assert!(e.starts_with("not a readable gzip stream"), "{e}");
    let g = gz(&b"{\"x\":1}\n".repeat(10_000));
    let e = records(&g[..g.len() / 2]).unwrap_err();
    assert!(e.starts_with("not a readable gzip stream"), "{e}");
    let e = records(b"PK\x03\x04rest of a zip").unwrap_err();
    assert_eq!(e, wording::ZIP_ARCHIVE);
    // Zip content inside gzip is refused too, never read as text, and so
    // is zip content a host inflated itself.
    let e = records(&gz(b"PK\x03\x04rest of a zip")).unwrap_err();
    assert_eq!(e, wording::ZIP_ARCHIVE);
    let mut events = Vec::new();
    let mut r = Reader::decompressed(opts(1 << 10, 64));
    r.feed(b"PK\x03", &mut |e| events.push(e));
    r.feed(b"\x04rest", &mut |e| events.push(e));
    r.finish(&mut |e| events.push(e));
    assert_eq!(
        events,
        vec![Event::Unreadable(wording::ZIP_ARCHIVE.to_owned())]
    );
    // Two bytes that begin a zip signature, then the end: text.
    assert_eq!(records(b"PK").unwrap(), vec!["PK".to_owned()]);
}

#[test]
fn chunks_end_at_line_ends_and_know_their_lines() {
    let mut input = String::new();
    for i in 0..1000 {
        input.push_str(&format!("{{\"n\":{i}}}\n"));
        if i % 100 == 7 {
            input.push('\n');
        }
    }
    let events = read_cut(
        input.as_bytes(),
        &[100, 5000, 5001],
        &[],
        opts(4 << 20, 300),
    );
    let mut line = 1;
    let mut chunks = 0;
    for e in &events {
        let Event::Chunk(c) = e else { panic!("{e:?}") };
        chunks += 1;
        assert_eq!(c.data.last(), Some(&b'\n'));
        assert_eq!(c.loc(0).line, Some(line));
        line += memchr::memchr_iter(b'\n', &c.data).count() as u64;
    }
    assert!(chunks > 10);
    assert_eq!(outcome(&events, 0).records.len(), 1000);
}

#[test]
fn lines_past_the_limit_are_skipped_in_bounded_memory() {
    // Lines longer than a chunk must not stall the reader either.
    let mut input = b"{\"a\":1}\n".to_vec();
    input.extend(std::iter::repeat_n(b'x', 9 << 20));
    input.extend_from_slice(b"\r\n{\"b\":2}\n");
    input.extend(std::iter::repeat_n(b'y', 2 << 20));
    input.extend_from_slice(b"\n{\"c\":3}\n");
    input.extend(std::iter::repeat_n(b'z', 5 << 20));
    let limit = 4 << 20;
    let cuts: Vec<usize> = (1..input.len()).step_by(1 << 20).collect();
    let o = outcome(&read_cut(&input, &cuts, &[], opts(limit, 64 << 10)), limit);
    // The 2 MiB line is under the 4 MiB limit: it is handed on whole.
    assert_eq!(o.records.len(), 4);
    assert_eq!(o.records[0].1, r#"{"a":1}"#);
    assert_eq!(o.records[3].1, r#"{"c":3}"#);
    assert_eq!(o.records[1].0.line, Some(3));
    assert_eq!(
        o.reports,
        vec![
            wording::too_large(Loc::line(2), 9 << 20, limit as u64),
            wording::too_large(Loc::line(6), 5 << 20, limit as u64),
        ]
    );
}

/// Splits `doc` fed in pieces of `n` bytes.
fn split(doc: &str, n: usize, limit: usize) -> Result<Vec<split::Found>, String> {
    let mut s = DocSplitter::new(limit);
    let mut out = Vec::new();
    for piece in doc.as_bytes().chunks(n.max(1)) {
        s.feed(piece, &mut out)?;
    }
    s.finish()?;
    Ok(out)
}

fn texts(events: &[split::Found]) -> Vec<String> {
    events
        .iter()
        .map(|(e, _)| match e {
            DocEvent::Record(r) => String::from_utf8_lossy(r).into_owned(),
            DocEvent::TooLarge(n) => format!("<{n} bytes skipped>"),
        })
        .collect()
}

#[test]
fn documents_are_split_into_records_as_a_stream() {
    let tricky = r#"{"a":"}]{[\"","b":[1,{"c":[]}],"Records":"not the key"}"#;
    let doc = format!(
        "{{ \"Other\": {{\"Records\": 1}}, \"Records\" :\n [ {tricky} , {{\"x\":2}},7, \"s\", null ], \"after\": [1] }}\n[{{\"y\":1}}, [2]] {{\"z\":{{\"w\":[]}}}}"
    );
    let want = [
        tricky.to_owned(),
        r#"{"x":2}"#.to_owned(),
        "7".to_owned(),
        r#""s""#.to_owned(),
        "null ".to_owned(),
        r#"{"y":1}"#.to_owned(),
        "[2]".to_owned(),
        r#"{"z":{"w":[]}}"#.to_owned(),
    ];
    for n in [1, 2, 3, 7, 64, 4096] {
        let got = texts(&split(&doc, n, 1 << 20).unwrap());
        assert_eq!(
            got.iter().map(|t| t.trim()).collect::<Vec<_>>(),
            want.iter().map(|t| t.trim()).collect::<Vec<_>>(),
            "pieces of {n}"
        );
    }
    // A record past the limit is skipped, counted, and the next read.
    let big = format!(
        "{{\"Records\":[{{\"p\":\"{}\"}},{{\"q\":1}}]}}",
        "x".repeat(5000)
    );
    assert_eq!(
        texts(&split(&big, 100, 1000).unwrap()),
        vec!["<5008 bytes skipped>".to_owned(), r#"{"q":1}"#.to_owned()]
    );
    // Damage is found where it is, strings (read in runs) counted in.
    for n in [1, 3, 64] {
        let e = split(r#"{"a":"x\"yz"} x"#, n, 1 << 20).unwrap_err();
        assert!(
            e.contains("unexpected 'x' at byte 15 "),
            "pieces of {n}: {e}"
        );
        let e = split(r#"[{"a":"xyz"#, n, 1 << 20).unwrap_err();
        assert!(e.ends_with("(byte 10)"), "pieces of {n}: {e}");
    }
    assert!(split(r#"[{"a":1},{"b":"#, 5, 1 << 20).is_err());
    assert!(split(r#"{"a":1} x"#, 5, 1 << 20).is_err());
    assert!(split(r#"]"#, 5, 1 << 20).is_err());
}

#[test]
fn records_lines_and_documents_say_where_they_are() {
    let o = outcome(
        &read_all(
            b"{\"a\":1}\nnot json\n\n{\"Records\":[{\"b\":2},{\"c\":3}]}\n",
            Options::default(),
        ),
        0,
    );
    let at: Vec<String> = o.records.iter().map(|(l, _)| l.to_string()).collect();
    assert_eq!(
        at,
        ["line 1", "line 2", "line 4, record 1", "line 4, record 2"]
    );
    let o = outcome(&read_all(b"[{\"a\":1},\n{\"b\":2}]", Options::default()), 0);
    assert_eq!(o.records[1].0.to_string(), "record 2");
}

#[test]
fn broken_documents_are_unreadable() {
    let e = records(b"[{\"a\":1},\n{\"b\":").unwrap_err();
    assert!(e.starts_with("not a readable CloudTrail document"), "{e}");
}

#[test]
fn options_are_checked() {
    assert_eq!(Options::new(None, None).unwrap(), Options::default());
    assert!(Options::new(Some(0), None).is_err());
    assert!(Options::new(None, Some(0)).is_err());
}

/// A gzip bomb inflates in bounded pieces: the stage never hands on more
/// than its window at once.
#[test]
fn gunzip_hands_on_bounded_pieces() {
    let bomb = gz(&vec![b'x'; 64 << 20]);
    let mut g = Gunzip::new();
    let mut total = 0usize;
    let mut largest = 0usize;
    let mut count = |p: &[u8]| {
        total += p.len();
        largest = largest.max(p.len());
    };
    g.feed(&bomb, &mut count).unwrap();
    g.finish(&mut count).unwrap();
    assert_eq!(total, 64 << 20);
    assert!(largest <= 64 << 10, "{largest}");
}

/// A CloudWatch Logs subscription message holding `records` as its log
/// events' messages.
fn cwl(records: &[&str]) -> String {
    let events: Vec<String> = records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            format!(
                r#"{{"id":"{i}","timestamp":1,"message":{}}}"#,
                serde_json::to_string(r).unwrap()
            )
        })
        .collect();
    format!(
        r#"{{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","subscriptionFilters":["f"],"logEvents":[{}]}}"#,
        events.join(",")
    )
}

const CONTROL: &str = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;

/// Lambda's event for a message.
fn lambda(message: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        r#"{{"awslogs":{{"data":"{}"}}}}"#,
        base64::engine::general_purpose::STANDARD.encode(gz(message))
    )
}

/// EventBridge's event for a record.
fn eventbridge(record: &str) -> String {
    format!(
        r#"{{"version":"0","id":"x","detail-type":"AWS API Call via CloudTrail","source":"aws.iam","account":"1","time":"2026-01-01T00:00:00Z","region":"us-east-1","resources":[],"detail":{record}}}"#
    )
}

fn gz_members(parts: &[String]) -> Vec<u8> {
    parts.iter().flat_map(|p| gz(p.as_bytes())).collect()
}

#[test]
fn reads_every_envelope() {
    let a = r#"{"eventName":"A","userAgent":"aws-cli/2 \"q\""}"#;
    let b = r#"{"eventName":"B"}"#;
    let c = r#"{"eventName":"C"}"#;
    let want = vec![a.to_owned(), b.to_owned(), c.to_owned()];
    let m1 = cwl(&[a, b]);
    let m2 = cwl(&[c]);
    let layouts: Vec<(&str, Vec<u8>)> = vec![
        ("cwl lines", format!("{CONTROL}\n{m1}\n{m2}\n").into_bytes()),
        (
            "cwl concatenated",
            format!("{CONTROL}{m1}{m2}").into_bytes(),
        ),
        ("cwl array", format!("[{CONTROL},{m1},\n{m2}]").into_bytes()),
        (
            "firehose",
            gz_members(&[CONTROL.to_owned(), m1.clone(), m2.clone()]),
        ),
        (
            "lambda lines",
            format!(
                "{}\n{}\n{}\n",
                lambda(CONTROL.as_bytes()),
                lambda(m1.as_bytes()),
                lambda(m2.as_bytes())
            )
            .into_bytes(),
        ),
        (
            "lambda document",
            format!("{}{}", lambda(m1.as_bytes()), lambda(m2.as_bytes())).into_bytes(),
        ),
        (
            "eventbridge lines",
            format!(
                "{}\n{}\n{}\n",
                eventbridge(a),
                eventbridge(b),
                eventbridge(c)
            )
            .into_bytes(),
        ),
        (
            "eventbridge array",
            format!(
                "[{},\n{},{}]",
                eventbridge(a),
                eventbridge(b),
                eventbridge(c)
            )
            .into_bytes(),
        ),
    ];
    for (name, bytes) in layouts {
        // (A message as an array member is held whole, to the limit: no
        // feed writes arrays of messages.)
        let limits: &[usize] = if name == "cwl array" {
            &[1 << 20]
        } else {
            &[1 << 20, 200]
        };
        for &limit in limits {
            let o = outcome(&read_all(&bytes, opts(limit, 1 << 20)), limit);
            let got: Vec<String> = o.records.iter().map(|(_, r)| r.clone()).collect();
            assert_eq!(got, want, "{name}, limit {limit}");
            let controls = o.reports.iter().filter(|r| r.ends_with("control message"));
            assert!(
                o.reports.len() == controls.count(),
                "{name}: {:?}",
                o.reports
            );
        }
    }
}

#[test]
fn envelope_positions_name_message_and_log_event() {
    let (a, b) = (r#"{"eventName":"A"}"#, r#"{"eventName":"B"}"#);
    let at = |bytes: &[u8]| -> (Vec<String>, Vec<String>) {
        let o = outcome(&read_all(bytes, Options::default()), 1 << 18);
        (
            o.records.iter().map(|(l, _)| l.to_string()).collect(),
            o.reports,
        )
    };
    let (m1, m2) = (cwl(&[a]), cwl(&[a, b]));
    assert_eq!(
        at(format!("{CONTROL}\n{m1}\n{m2}").as_bytes()),
        (
            vec![
                "line 2, log event 1".into(),
                "line 3, log event 1".into(),
                "line 3, log event 2".into()
            ],
            vec!["line 1, log event 1: control message".to_owned()]
        )
    );
    assert_eq!(
        at(format!("{m1}{CONTROL}{m2}").as_bytes()).0,
        [
            "message 1, log event 1",
            "message 3, log event 1",
            "message 3, log event 2"
        ]
    );
    assert_eq!(
        at(format!("{}\n{}", lambda(m1.as_bytes()), lambda(m2.as_bytes())).as_bytes()).0,
        [
            "line 1, log event 1",
            "line 2, log event 1",
            "line 2, log event 2"
        ]
    );
    assert_eq!(
        at(format!("{}\n{}", eventbridge(a), eventbridge(b)).as_bytes()).0,
        ["line 1", "line 2"]
    );
}

#[test]
fn bad_envelopes_are_reported_where_they_are() {
    let bad_events = r#"{"messageType":"DATA_MESSAGE","logEvents":[{"id":"1","message":42},{"id":"2"},{"id":"3","message":"not json"},7,{"id":"5","message":{"eventName":"A"}}]}"#;
    let o = outcome(&read_all(bad_events.as_bytes(), Options::default()), 0);
    assert_eq!(
        o.reports,
        [
            "line 1, log event 1: the log event's message is a number, not a string (CloudWatch Logs carries each record as text)",
            "line 1, log event 2: the log event has no message",
            "line 1, log event 4: the log event is a number, not an object with a message",
            "line 1, log event 5: the log event's message is an object, not a string (CloudWatch Logs carries each record as text)",
        ]
    );
    // A message that is not JSON is handed on, for the detector to reject
    // as `invalid-json` where it was.
    assert_eq!(
        o.records,
        [(
            Loc {
                log_event: Some(3),
                ..Loc::line(1)
            },
            "not json".to_owned()
        )]
    );

    let mut damaged = gz(cwl(&[r#"{"eventName":"A"}"#]).as_bytes());
    damaged.truncate(damaged.len() - 9);
    let lambdas = [
        r#"{"awslogs":{"data":"%%%"}}"#.to_owned(),
        r#"{"awslogs":{"data":7}}"#.to_owned(),
        r#"{"awslogs":[]}"#.to_owned(),
        {
            use base64::Engine as _;
            format!(
                r#"{{"awslogs":{{"data":"{}"}}}}"#,
                base64::engine::general_purpose::STANDARD.encode(&damaged)
            )
        },
    ];
    let o = outcome(
        &read_all(lambdas.join("\n").as_bytes(), Options::default()),
        0,
    );
    // What the damaged payload held before the damage is read.
    assert_eq!(
        o.records
            .iter()
            .map(|(l, _)| l.to_string())
            .collect::<Vec<_>>(),
        ["line 4, log event 1"]
    );
    assert_eq!(o.reports.len(), 4, "{:?}", o.reports);
    assert!(o.reports[0].starts_with("line 1: the Lambda event's awslogs.data is not base64"));
    assert_eq!(
        o.reports[1],
        "line 2: the Lambda event's awslogs.data is a number, not base64 text"
    );
    assert_eq!(
        o.reports[2],
        "line 3: the Lambda event's awslogs is an array, not an object with data"
    );
    assert!(
        o.reports[3]
            .starts_with("line 4: the Lambda event's awslogs.data: not a readable gzip stream"),
        "{}",
        o.reports[3]
    );

    let detail = r#"{"detail-type":"AWS API Call via CloudTrail","detail":"x"}"#;
    let other =
        r#"{"detail-type":"EC2 Instance State-change Notification","detail":{"state":"running"}}"#;
    let o = outcome(
        &read_all(format!("{detail}\n{other}").as_bytes(), Options::default()),
        0,
    );
    assert_eq!(
        o.reports,
        ["line 1: the EventBridge event's detail is a string, not a CloudTrail record"]
    );
    // Another event type is not CloudTrail: handed on whole, for the
    // detector to reject.
    assert_eq!(o.records, [(Loc::line(2), other.to_owned())]);
}

/// A CloudWatch Logs message is up to about 1 MB, past the record limit:
/// it streams through the splitter, each record held to the limit.
#[test]
fn long_messages_stream_past_the_record_limit() {
    let records: Vec<String> = (0..400)
        .map(|i| format!(r#"{{"eventName":"E{i}","pad":"{}"}}"#, "\"q\"".repeat(200)))
        .collect();
    let refs: Vec<&str> = records.iter().map(String::as_str).collect();
    let message = cwl(&refs);
    let limit = 4096;
    assert!(message.len() > 100 * limit);
    let big = format!(r#"{{"eventName":"big","pad":"{}"}}"#, "x".repeat(5000));
    let with_big = cwl(&[&big, &records[0]]);
    for bytes in [
        format!("{message}\n{with_big}\n"),
        format!("{message}{with_big}"),
    ] {
        let o = outcome(&read_all(bytes.as_bytes(), opts(limit, 1 << 16)), limit);
        assert_eq!(o.records.len(), 401);
        assert_eq!(o.records[399].1, records[399]);
        assert_eq!(o.reports.len(), 1, "{:?}", o.reports);
        assert!(
            o.reports[0].contains("log event 1: rejected (too-large): the record is 5028 bytes"),
            "{:?}",
            o.reports
        );
    }
}

/// Inputs made of the pieces that matter: records, `Records` documents,
/// arrays, long lines, CRs, blanks, BOMs, damage, envelopes.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#"{"eventName":"A","n":1}"#.to_owned()),
        Just(r#"{"Records":[{"a":1},{"b":2}]}"#.to_owned()),
        Just(r#"{"Records":[{"a":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},{"b":2}]}"#.to_owned()),
        Just(r#"[{"x":1},{"y":"yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"}]"#.to_owned()),
        // Escapes inside strings, which the splitter reads in runs.
        Just(r#"{"Records":[{"e":"q\"uo\\te\\\\","f":"\\"},{"g":"]}\"["}]}"#.to_owned()),
        Just(r#"\""#.to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\r".to_owned()),
        Just("   ".to_owned()),
        Just("\u{feff}".to_owned()),
        Just(" ".repeat(90)),
        Just("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz".to_owned()),
        Just("{\"p\":".to_owned()),
        Just("}".to_owned()),
        Just("]".to_owned()),
        Just("not json".to_owned()),
        Just(cwl(&[
            r#"{"a":1}"#,
            r#"{"b":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}"#,
            "x"
        ])),
        Just(CONTROL.to_owned()),
        Just(r#"{"logEvents":[{"message":7},3,{"message":"{\"c\":3}"}]}"#.to_owned()),
        Just(eventbridge(r#"{"e":1}"#)),
        Just(eventbridge(
            r#"{"e":"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"}"#
        )),
        Just(lambda(
            cwl(&[
                r#"{"l":1}"#,
                r#"{"l":"llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll"}"#
            ])
            .as_bytes()
        )),
        "[a-z{}\\[\\]\",: \n\r]{0,12}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Records and reports do not depend on how the bytes were cut, nor
    /// on pauses, nor on the chunk size, gzip or not.
    #[test]
    fn cuts_change_nothing(
        parts in prop::collection::vec(piece(), 0..24),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        pauses in prop::collection::vec(0usize..13, 0..4),
        limit in 1usize..80,
        chunk in 1usize..200,
        gzipped in any::<bool>(),
    ) {
        let text = parts.concat();
        let bytes = if gzipped { gz(text.as_bytes()) } else { text.into_bytes() };
        let whole = outcome(&read_all(&bytes, opts(limit, 1 << 20)), limit);
        let cut = outcome(&read_cut(&bytes, &cuts, &pauses, opts(limit, chunk)), limit);
        prop_assert_eq!(&whole, &cut);
        let bytewise: Vec<usize> = (1..bytes.len()).collect();
        let one_by_one = outcome(&read_cut(&bytes, &bytewise, &[], opts(limit, chunk)), limit);
        prop_assert_eq!(&whole, &one_by_one);
        for (_, r) in &whole.records {
            prop_assert!(r.len() <= limit, "a record past the limit was handed on: {:?}", r);
        }
    }
}

/// An envelope may pass the record limit by its own members, never by its
/// record: an EventBridge event by `EVENTBRIDGE_ALLOWANCE_BYTES`, a Lambda
/// event up to `MAX_AWSLOGS_EVENT_BYTES`; past that it is skipped whole.
#[test]
fn envelopes_get_their_allowance_and_no_more() {
    let limit = 1000;
    let record = |pad: usize| format!(r#"{{"eventName":"A","pad":"{}"}}"#, "x".repeat(pad));
    let fits = record(limit - 30);
    let over = record(limit);
    let far = record(limit + EVENTBRIDGE_ALLOWANCE_BYTES);
    let text = [eventbridge(&fits), eventbridge(&over), eventbridge(&far)].join("\n");
    assert!(eventbridge(&fits).len() > limit);
    let o = outcome(&read_all(text.as_bytes(), opts(limit, 1 << 20)), limit);
    assert_eq!(o.records, [(Loc::line(1), fits.clone())]);
    assert_eq!(
        o.reports,
        [
            wording::too_large(Loc::line(2), over.len() as u64, limit as u64),
            wording::too_large(Loc::line(3), eventbridge(&far).len() as u64, limit as u64),
        ]
    );
    // A Lambda event past the limit is read (its records held to it); one
    // past MAX_AWSLOGS_EVENT_BYTES is skipped whole.
    let mut seed = 7u64;
    let many: Vec<String> = (0..40)
        .map(|_| {
            let pad: String = (0..200)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    char::from(b'a' + (seed >> 59) as u8)
                })
                .collect();
            format!(r#"{{"eventName":"A","pad":"{pad}"}}"#)
        })
        .collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    let event = lambda(cwl(&refs).as_bytes());
    assert!(event.len() > limit);
    let huge = format!(
        r#"{{"awslogs":{{"data":"{}"}}}}"#,
        "A".repeat(MAX_AWSLOGS_EVENT_BYTES)
    );
    let text = format!("{event}\n{huge}\n");
    let o = outcome(&read_all(text.as_bytes(), opts(limit, 1 << 20)), limit);
    assert_eq!(o.records.len(), 40);
    assert_eq!(
        o.reports,
        [wording::too_large(
            Loc::line(2),
            huge.len() as u64,
            limit as u64
        )]
    );
}
