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
            wording::too_large(
                Loc {
                    line: Some(2),
                    record: None
                },
                9 << 20,
                limit as u64
            ),
            wording::too_large(
                Loc {
                    line: Some(6),
                    record: None
                },
                5 << 20,
                limit as u64
            ),
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

/// Inputs made of the pieces that matter: records, `Records` documents,
/// arrays, long lines, CRs, blanks, BOMs, damage.
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
