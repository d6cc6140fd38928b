//! The event parser and the pre-filter on arbitrary bytes: no panic, and
//! whenever the pre-filter settles a record as filtered, the full path
//! reads it as valid, with the same time, and every rule filters it.
//! A detector then gives the same outcome with the pre-filter on and off.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recon_guest::config::{Profile, Settings};
use recon_guest::event::parse_event;
use recon_guest::prefilter::{Verdict, settle};
use recon_guest::{Detector, Outcome};

fuzz_target!(|data: &[u8]| {
    let settled = settle(data);
    let text = std::str::from_utf8(data);
    if let Verdict::Filtered(t) = settled {
        let text = text.expect("the pre-filter settled text that is not UTF-8");
        let ev = parse_event(text).expect("the pre-filter settled a record the full path rejects");
        assert_eq!(ev.time_ms, t, "the pre-filter read another time");
    }
    if let Ok(text) = text {
        if let Err(e) = parse_event(text) {
            assert!(!e.message.is_empty());
        }
    }
    // Both routes through a detector, and the bulk input. The detectors
    // live across inputs (rebuilt now and then), so inputs also meet open
    // windows and a watermark; both see the same inputs.
    PAIR.with(|pair| {
        let mut pair = pair.borrow_mut();
        pair.2 += 1;
        if pair.2 % 4096 == 0 {
            *pair = fresh();
        }
        let (on, off, _) = &mut *pair;
        drive(on, off, data, text, settled);
    });
});

type Pair = (Detector, Detector, u32);

fn fresh() -> Pair {
    let on = Detector::new(Settings::all(Profile::Default)).unwrap();
    let mut off = Detector::new(Settings::all(Profile::Default)).unwrap();
    off.set_prefilter(false);
    (on, off, 0)
}

thread_local! {
    static PAIR: std::cell::RefCell<Pair> = std::cell::RefCell::new(fresh());
}

fn drive(
    on: &mut Detector,
    off: &mut Detector,
    data: &[u8],
    text: Result<&str, std::str::Utf8Error>,
    settled: Verdict,
) {
    if let Ok(text) = text {
        let a = on.push(text);
        let b = off.push(text);
        assert_eq!(a, b, "the pre-filter changed the outcome");
        if let (Verdict::Filtered(_), Ok(o)) = (settled, &a) {
            assert!(o.iter().all(|o| *o == Ok(Outcome::Filtered)));
        }
    }
    let a = on.push_ndjson(data);
    let b = off.push_ndjson(data);
    assert_eq!(a, b, "the pre-filter changed a bulk result");
    assert_eq!(on.stats(), off.stats());
    let st = on.stats();
    for r in &st.rules {
        let c = &r.counters;
        assert_eq!(c.pushed, st.pushed);
        assert_eq!(c.accepted + c.filtered + c.late + r.rejected(), c.pushed);
    }
}
