//! Rule files are untrusted input (a tenant may supply them): arbitrary
//! rule text and events through the Sigma compiler and a detector running
//! what it compiled. No panic, no unbounded work: a text is compiled or
//! refused with an error naming the file; what compiles runs over the
//! events with the pre-filter on and off alike, and every record the
//! pre-filter settles is one the full path reads as valid and every rule
//! filters.
//!
//! Input: the rule text, then a line `---EVENTS---`, then events as NDJSON.
//! Without the marker the whole input is rule text, run over fixed events.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recon_guest::config::{Profile, Settings};
use recon_guest::event::parse_event_with;
use recon_guest::prefilter::{Plan, Verdict};
use recon_guest::sigma::{RuleFile, compile};
use recon_guest::Detector;

const EVENTS: &str = concat!(
    r#"{"eventTime":"2026-01-05T00:00:01Z","eventSource":"iam.amazonaws.com","eventName":"ListUsers","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/a","accessKeyId":"ASIA1"},"userAgent":"aws-cli/2 md/command#iam.list-users","sourceIPAddress":"10.0.0.1","requestParameters":{"bucketName":"b","items":[1,"x",{"k":null}]}}"#,
    "\n",
    r#"{"eventTime":"2026-01-05T00:00:02Z","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","responseElements":{"ConsoleLogin":"Failure"},"errorCode":"AccessDenied","resources":[{"ARN":"arn:aws:s3:::b"}]}"#,
    "\n",
    r#"{"eventTime":"2026-01-05T00:10:02Z","eventName":"GetSecretValue","eventSource":"secretsmanager.amazonaws.com"}"#,
    "\n"
);

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (rules, events) = match text.split_once("\n---EVENTS---\n") {
        Some((r, e)) => (r, e),
        None => (text, EVENTS),
    };
    let files = vec![RuleFile {
        name: "fuzz.yml".into(),
        text: rules.into(),
    }];
    let compiled = match compile(&files) {
        Ok(c) => c,
        Err(e) => {
            assert_eq!(e.file, "fuzz.yml");
            assert!(!e.message.is_empty());
            return;
        }
    };
    let plan = Plan::new(
        true,
        &compiled
            .rules
            .iter()
            .map(|r| r.needles.clone())
            .collect::<Vec<_>>(),
    );
    for line in events.lines() {
        if let Verdict::Filtered(t) = plan.settle(line.as_bytes()) {
            let ev = parse_event_with(line, &compiled.schema)
                .expect("the pre-filter settled a record the full path rejects");
            assert_eq!(ev.time_ms, t);
            for r in &compiled.rules {
                assert!(
                    !r.filter.eval(&ev, Profile::Default),
                    "the pre-filter settled a record rule {} selects",
                    r.name
                );
            }
        }
    }
    let mut settings = Settings::all(Profile::Default);
    settings.rule_files = files;
    let (Ok(mut on), Ok(mut off)) = (
        Detector::new(settings.clone()),
        Detector::new(settings),
    ) else {
        return;
    };
    off.set_prefilter(false);
    let a = on.push_ndjson(events.as_bytes());
    let b = off.push_ndjson(events.as_bytes());
    assert_eq!(a, b);
    on.flush(None);
    off.flush(None);
    assert_eq!(on.drain(), off.drain());
    let restored = Detector::restore(&on.snapshot()).expect("a detector restores its own snapshot");
    assert_eq!(restored.stats(), on.stats());
});
