//! Snapshot restore on hostile bytes: arbitrary bytes, and valid snapshots
//! with their JSON changed (and resealed, so the checksum holds). Either
//! the snapshot is refused cleanly, or the detector it gives keeps the
//! accounting (`pushed = accepted + filtered + rejected + late`) and keeps
//! working: pushes, flushes and snapshots again without a panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use recon_guest::config::{LimitSettings, Profile, Settings};
use recon_guest::{Detector, seal_snapshot, unseal_snapshot};
use serde_json::Value;

const T0: i64 = 1_767_571_200_000;

fn record(i: usize, agent: &str) -> String {
    let c = ["iam.list-users", "ec2.describe-vpcs", "kms.list-keys", "iam.list-roles"][i % 4];
    format!(
        r#"{{"eventTime":{},"eventSource":"iam.amazonaws.com","eventName":"List{i}","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::1:user/u{}"}},"userAgent":"{agent} command/{c}"}}"#,
        T0 + (i as i64) * 7_000,
        i % 2
    )
}

/// A detector with open windows, pending alerts, rejections, late records
/// and records waiting as far ahead.
fn sample() -> Vec<u8> {
    let mut s = Settings::all(Profile::Default);
    s.limits = LimitSettings {
        time_confirmations: Some(3),
        max_open_groups: Some(5),
        ..LimitSettings::default()
    };
    let mut d = Detector::new(s).unwrap();
    for i in 0..30 {
        let _ = d.push(&record(i, "aws-cli/2.13.25 prompt/off"));
    }
    let _ = d.push("not json");
    let _ = d.push(r#"{"eventTime":"2099-01-01T00:00:00Z","eventName":"X"}"#);
    let _ = d.push(&record(0, "aws-cli/2.13.25 prompt/off"));
    d.flush(Some(T0 + 100_000));
    let _ = d.push(&record(31, "Boto3"));
    d.snapshot()
}

/// Every leaf of a JSON value, by path.
fn leaves(v: &mut Value, out: &mut Vec<*mut Value>) {
    match v {
        Value::Object(m) => m.values_mut().for_each(|c| leaves(c, out)),
        Value::Array(a) => {
            if a.is_empty() {
                out.push(v as *mut Value);
            } else {
                a.iter_mut().for_each(|c| leaves(c, out));
            }
        }
        _ => out.push(v as *mut Value),
    }
}

fn exercise(d: &mut Detector) {
    check(d);
    for i in 0..6 {
        let _ = d.push(&record(i * 3, "aws-cli/2.13.25 prompt/off"));
        check(d);
    }
    let _ = d.push_ndjson(format!("{}\nx\n{}", record(40, "aws-cli/2"), record(41, "Boto3")).as_bytes());
    check(d);
    d.flush(Some(T0 + 1_000_000));
    check(d);
    let snap = d.snapshot();
    let again = Detector::restore(&snap).expect("a restored detector's own snapshot restores");
    assert_eq!(again.stats(), d.stats());
    d.flush(None);
    let _ = d.drain();
    let _ = d.push(&record(1, "aws-cli/2"));
    check(d);
}

fn check(d: &Detector) {
    if let Err(e) = d.check_accounting() {
        panic!("{e}");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode % 2 == 0 {
        // Arbitrary bytes, sealed or not.
        if mode % 4 == 0 {
            seal_snapshot(rest)
        } else {
            rest.to_vec()
        }
    } else {
        // A valid snapshot with leaves changed.
        let snap = sample();
        let body = unseal_snapshot(&snap).unwrap();
        let mut v: Value = serde_json::from_slice(body).unwrap();
        let mut ptrs = Vec::new();
        leaves(&mut v, &mut ptrs);
        for edit in rest.chunks(10) {
            if edit.len() < 2 {
                break;
            }
            let at = (usize::from(edit[0]) << 8 | usize::from(edit[1])) % ptrs.len();
            let mut n = [0u8; 8];
            n[..edit.len() - 2].copy_from_slice(&edit[2..]);
            let x = u64::from_le_bytes(n);
            let new = match x % 11 {
                0 => Value::from(0),
                1 => Value::from(1),
                2 => Value::from(u64::MAX),
                3 => Value::from(i64::MIN),
                4 => Value::from(-1),
                5 => Value::from(x >> 4),
                6 => Value::from(-((x >> 4) as i64)),
                7 => Value::Null,
                8 => Value::from("x"),
                9 => Value::Array(vec![]),
                _ => Value::from(true),
            };
            // SAFETY: the pointers are to distinct leaves of `v`, which
            // is not otherwise touched while they are used; a leaf replaced
            // by an empty array stays a leaf.
            unsafe { *ptrs[at] = new };
        }
        seal_snapshot(&serde_json::to_vec(&v).unwrap())
    };
    if let Ok(mut d) = Detector::restore(&bytes) {
        exercise(&mut d);
    }
});
