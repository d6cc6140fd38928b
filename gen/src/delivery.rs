//! A trail as CloudTrail delivers it to S3: the generator's records (in
//! time order) packed into gzipped `{"Records":[…]}` objects per account,
//! region and five-minute slot, several objects per slot, records shuffled
//! inside each, written under CloudTrail's key layout
//! `AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<id>.json.gz`.
//!
//! Each record lands in the object of the first slot at or after its event
//! time plus a delivery delay: most records within two minutes, a tail up
//! to [`DeliveryOptions::max_delay_ms`] (default five minutes). The slot
//! boundary adds up to five minutes more, so a record sits in an object
//! named 0-10 minutes after its event time, as in the public Invictus
//! incident's 55 real objects (3 s to 594 s, median 201 s; see
//! docs/delivery.md). Read in name order, such a trail is out of order by
//! up to `max_delay_ms` plus one slot.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;

use crate::rng::Rng;
use crate::{GenError, GenOptions, Generator};

/// CloudTrail's delivery slot: five minutes.
pub const SLOT_MS: i64 = 5 * 60 * 1000;
/// Default [`DeliveryOptions::max_delay_ms`]: five minutes.
pub const DEFAULT_MAX_DELAY_MS: u64 = 5 * 60 * 1000;
/// Default [`DeliveryOptions::max_objects_per_slot`]: 3.
pub const DEFAULT_MAX_OBJECTS_PER_SLOT: u32 = 3;
/// Largest accepted `max_delay_ms`: one hour.
pub const MAX_DELAY_MS: u64 = 3600 * 1000;
/// Share of records delayed past the common case (the tail).
const TAIL_SHARE: f64 = 0.15;
/// The common case: delivered within two minutes.
const COMMON_DELAY_MS: u64 = 2 * 60 * 1000;

/// How the trail is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryOptions {
    /// Longest delay between a record's event time and the moment it is
    /// ready for an object (the object's slot is the next five-minute
    /// boundary after that).
    pub max_delay_ms: u64,
    /// Most objects one account and region write in one slot (at least 1).
    pub max_objects_per_slot: u32,
}

impl Default for DeliveryOptions {
    fn default() -> Self {
        DeliveryOptions {
            max_delay_ms: DEFAULT_MAX_DELAY_MS,
            max_objects_per_slot: DEFAULT_MAX_OBJECTS_PER_SLOT,
        }
    }
}

/// What a delivery wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Records written.
    pub records: u64,
    /// Objects (files) written.
    pub objects: u64,
}

/// Objects of one slot being filled: per (account, region), the records
/// (JSON text) of each object.
type Slot = BTreeMap<(String, String), Vec<Vec<String>>>;

/// Writes the records `opts` describes (generated in time order, whatever
/// `opts.max_disorder_ms` says) as CloudTrail would deliver them, under
/// `dir`. Same options, same files, byte for byte.
pub fn write_delivery(
    opts: GenOptions,
    delivery: DeliveryOptions,
    dir: &Path,
) -> Result<DeliveryReport, GenError> {
    if delivery.max_delay_ms > MAX_DELAY_MS {
        return Err(GenError::InvalidDelay(delivery.max_delay_ms));
    }
    if delivery.max_objects_per_slot == 0 {
        return Err(GenError::InvalidObjectsPerSlot);
    }
    let seed = opts.seed;
    let mut generator = Generator::new(GenOptions {
        max_disorder_ms: 0,
        ..opts
    })?;
    let mut rng = Rng::new(seed, 7);
    let mut slots: BTreeMap<i64, Slot> = BTreeMap::new();
    let mut report = DeliveryReport::default();
    let mut line = String::new();
    while generator.next_into(&mut line) {
        let record = line.trim_end().to_owned();
        let (t, account, region) = where_from(&record);
        let delay = if rng.chance(TAIL_SHARE) {
            rng.range(
                COMMON_DELAY_MS.min(delivery.max_delay_ms),
                delivery.max_delay_ms,
            )
        } else {
            rng.range(0, COMMON_DELAY_MS.min(delivery.max_delay_ms))
        } as i64;
        let slot = (t + delay).div_euclid(SLOT_MS) * SLOT_MS + SLOT_MS;
        let objects = rng.range(1, u64::from(delivery.max_objects_per_slot)) as usize;
        let files = slots
            .entry(slot)
            .or_default()
            .entry((account, region))
            .or_default();
        if files.is_empty() {
            files.resize_with(objects, Vec::new);
        }
        let k = rng.index(files.len());
        files[k].push(record);
        report.records += 1;
        // Slots no later record can reach are complete.
        while let Some((&first, _)) = slots.first_key_value() {
            if first > t {
                break;
            }
            let (first, slot) = slots.pop_first().expect("a slot");
            report.objects += write_slot(dir, first, slot, &mut rng)?;
        }
        line.clear();
    }
    while let Some((first, slot)) = slots.pop_first() {
        report.objects += write_slot(dir, first, slot, &mut rng)?;
    }
    Ok(report)
}

/// Event time (ms), account and region of a generated record.
fn where_from(record: &str) -> (i64, String, String) {
    let v: serde_json::Value = serde_json::from_str(record).expect("generated records are JSON");
    let text = |k: &str| v[k].as_str().unwrap_or("").to_owned();
    // Catalogue records also write epoch milliseconds.
    let time = match v["eventTime"].as_i64() {
        Some(ms) => ms,
        None => parse_time(&text("eventTime")).expect("generated times are RFC 3339"),
    };
    (
        time,
        match text("recipientAccountId") {
            a if a.is_empty() => "000000000000".to_owned(),
            a => a,
        },
        match text("awsRegion") {
            r if r.is_empty() => "us-east-1".to_owned(),
            r => r,
        },
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ` (what the generator writes) in ms; catalogue
/// records also write a fraction (`.123Z`, up to nine digits, read to the
/// millisecond) or an offset (`.123+02:00`).
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b.get(10) != Some(&b'T') {
        return None;
    }
    let rest = s.get(19..)?;
    let (frac, zone) = match rest.strip_prefix('.') {
        Some(r) => {
            let digits = r.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 || digits > 9 {
                return None;
            }
            (&r[..digits], &r[digits..])
        }
        None => ("", rest),
    };
    let offset_ms = match zone.as_bytes() {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let d = |c: &u8| i64::from(c.wrapping_sub(b'0'));
            if ![h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let v = ((d(h1) * 10 + d(h2)) * 60 + d(m1) * 10 + d(m2)) * 60_000;
            if *sign == b'-' { -v } else { v }
        }
        _ => return None,
    };
    let millis = frac
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(3)
        .fold(0i64, |acc, c| acc * 10 + i64::from(c - b'0'));
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    // Days from civil (Hinnant), the inverse of record::civil_from_days.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400) + hh * 3600 + mm * 60 + ss) * 1000 + millis - offset_ms)
}

/// Writes one slot's objects; returns how many.
fn write_slot(dir: &Path, slot: i64, objects: Slot, rng: &mut Rng) -> Result<u64, GenError> {
    let stamp = crate::record::format_time(slot);
    let stamp = std::str::from_utf8(&stamp).expect("ASCII");
    // 2026-01-05T00:05:00Z -> 2026/01/05 and 20260105T0005Z
    let (date, time) = (&stamp[..10], &stamp[11..16]);
    let folder_date = date.replace('-', "/");
    let name_time = format!("{}T{}Z", date.replace('-', ""), time.replace(':', ""));
    let mut written = 0;
    for ((account, region), files) in objects {
        let folder: PathBuf = dir
            .join("AWSLogs")
            .join(&account)
            .join("CloudTrail")
            .join(&region)
            .join(&folder_date);
        std::fs::create_dir_all(&folder)?;
        for mut records in files.into_iter().filter(|f| !f.is_empty()) {
            // Records are unordered inside an object.
            for i in (1..records.len()).rev() {
                records.swap(i, rng.index(i + 1));
            }
            let id: String = (0..16)
                .map(|_| {
                    let c = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
                    char::from(c[rng.index(c.len())])
                })
                .collect();
            let name = format!("{account}_CloudTrail_{region}_{name_time}_{id}.json.gz");
            let mut gz = GzEncoder::new(
                std::io::BufWriter::new(std::fs::File::create(folder.join(name))?),
                Compression::fast(),
            );
            gz.write_all(b"{\"Records\":[")?;
            for (i, r) in records.iter().enumerate() {
                if i > 0 {
                    gz.write_all(b",")?;
                }
                gz.write_all(r.as_bytes())?;
            }
            gz.write_all(b"]}")?;
            gz.finish()?.flush()?;
            written += 1;
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_back() {
        for ms in [0, 1_767_571_200_000, 1_767_571_505_000, 253_402_300_799_000] {
            let t = crate::record::format_time(ms);
            assert_eq!(parse_time(std::str::from_utf8(&t).unwrap()), Some(ms));
        }
        assert_eq!(parse_time("2026-01-05T00:00:00"), None);
        assert_eq!(
            parse_time("2026-01-05T00:00:01.123456789Z"),
            Some(1_767_571_201_123)
        );
        assert_eq!(
            parse_time("2026-01-05T02:00:01.007+02:00"),
            Some(1_767_571_201_007)
        );
    }
}
