//! Event times: parsing the formats real exports use, formatting bucket
//! starts, and epoch-aligned bucket arithmetic.
//!
//! Hand-written rather than taken from a date crate because the guest must
//! import nothing (date crates pull in clock and locale support on wasm) and
//! because this runs once per event on the hot path. Times are milliseconds
//! since the Unix epoch; a fraction finer than a millisecond is truncated,
//! which never moves an event across a bucket boundary (boundaries are whole
//! milliseconds).

use std::fmt;

/// Earliest accepted time: 0001-01-01T00:00:00Z.
pub const MIN_MS: i64 = -62_135_596_800_000;
/// Latest accepted time: 9999-12-31T23:59:59.999Z.
pub const MAX_MS: i64 = 253_402_300_799_999;

/// Why a time value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeError(pub String);

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(what: &str) -> Result<T, TimeError> {
    Err(TimeError(what.to_owned()))
}

/// Days from 1970-01-01 to the given proleptic Gregorian date
/// (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count from 1970-01-01 (`civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + if m <= 2 { 1 } else { 0 };
    (y, m, d)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

/// A cursor over the bytes of a time string.
struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize, what: &str) -> Result<u32, TimeError> {
        let end = self.i + n;
        if end > self.b.len() || !self.b[self.i..end].iter().all(u8::is_ascii_digit) {
            return err(&format!("expected {n} digits for the {what}"));
        }
        let v = self.b[self.i..end]
            .iter()
            .fold(0u32, |acc, c| acc * 10 + u32::from(c - b'0'));
        self.i = end;
        Ok(v)
    }

    fn expect(&mut self, c: u8, what: &str) -> Result<(), TimeError> {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            Ok(())
        } else {
            err(&format!("expected '{}' {what}", c as char))
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
}

/// Parses an RFC 3339 time (`2024-01-02T03:04:05Z`, 0 to 9 fraction
/// digits, `Z` or a `±HH:MM` offset), also accepting a space instead of the
/// `T` and no zone at all (read as UTC), as in `2024-01-02 03:04:05.123`.
/// Returns milliseconds since the epoch.
pub fn parse_time(s: &str) -> Result<i64, TimeError> {
    let mut c = Cursor {
        b: s.as_bytes(),
        i: 0,
    };
    let year = c.digits(4, "year")? as i64;
    c.expect(b'-', "after the year")?;
    let month = c.digits(2, "month")?;
    c.expect(b'-', "after the month")?;
    let day = c.digits(2, "day")?;
    match c.peek() {
        Some(b'T' | b't' | b' ') => c.i += 1,
        _ => return err("expected 'T' or ' ' between date and time"),
    }
    let hour = c.digits(2, "hour")?;
    c.expect(b':', "after the hour")?;
    let minute = c.digits(2, "minute")?;
    c.expect(b':', "after the minute")?;
    let second = c.digits(2, "second")?;
    let mut millis = 0u32;
    if c.peek() == Some(b'.') {
        c.i += 1;
        let start = c.i;
        while c.peek().is_some_and(|b| b.is_ascii_digit()) {
            let digit = u32::from(c.b[c.i] - b'0');
            let pos = c.i - start;
            if pos < 3 {
                millis += digit * 10u32.pow(2 - pos as u32);
            }
            c.i += 1;
        }
        let n = c.i - start;
        if n == 0 || n > 9 {
            return err("a fraction of a second must have 1 to 9 digits");
        }
    }
    let offset_min: i64 = match c.peek() {
        None => 0,
        Some(b'Z' | b'z') => {
            c.i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c.digits(2, "offset hours")?;
            c.expect(b':', "in the offset")?;
            let om = c.digits(2, "offset minutes")?;
            if oh > 23 || om > 59 {
                return err("offset out of range");
            }
            let v = i64::from(oh * 60 + om);
            if sign == b'-' { -v } else { v }
        }
        Some(_) => return err("unexpected text after the seconds"),
    };
    if c.i != c.b.len() {
        return err("unexpected text after the time zone");
    }
    if !(1..=12).contains(&month) {
        return err("month out of range");
    }
    if day == 0 || day > days_in_month(year, month) {
        return err("day out of range for the month");
    }
    if hour > 23 || minute > 59 || second > 60 {
        return err("time of day out of range");
    }
    // A leap second (:60) is read as the last millisecond of its minute so
    // that it stays in the same bucket.
    let (second, millis) = if second == 60 {
        (59, 999)
    } else {
        (second, millis)
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_min * 60;
    let ms = secs * 1000 + i64::from(millis);
    check_range(ms)
}

/// Checks that a time in milliseconds lies in years 1 to 9999.
pub fn check_range(ms: i64) -> Result<i64, TimeError> {
    if (MIN_MS..=MAX_MS).contains(&ms) {
        Ok(ms)
    } else {
        err("time outside years 0001 to 9999")
    }
}

/// Formats milliseconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`
/// (whole seconds, as the rules write bucket starts), or with `.mmm` when
/// `millis` is set and the value has a fraction.
pub fn format_time(ms: i64, millis: bool) -> String {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let (hh, mm, ss) = (sod / 3600, sod % 3600 / 60, sod % 60);
    if millis && frac != 0 {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.{frac:03}Z")
    } else {
        format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
    }
}

/// Start of the epoch-aligned bucket of width `width_ms` holding `t`:
/// `floor(t / width) * width`.
pub fn bucket_start(t: i64, width_ms: i64) -> i64 {
    t.div_euclid(width_ms) * width_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc3339_with_any_fraction_and_offset() {
        let base = 1_700_000_000_000; // 2023-11-14T22:13:20Z
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(base));
        assert_eq!(parse_time("2023-11-14T22:13:20.5Z"), Ok(base + 500));
        assert_eq!(parse_time("2023-11-14T22:13:20.123Z"), Ok(base + 123));
        assert_eq!(parse_time("2023-11-14T22:13:20.123456789Z"), Ok(base + 123));
        assert_eq!(parse_time("2023-11-14T23:13:20+01:00"), Ok(base));
        assert_eq!(parse_time("2023-11-14T21:13:20-01:00"), Ok(base));
        assert_eq!(parse_time("2023-11-14 22:13:20"), Ok(base));
        assert_eq!(parse_time("2023-11-14 22:13:20.999"), Ok(base + 999));
    }

    #[test]
    fn rejects_malformed_times() {
        for bad in [
            "",
            "yesterday",
            "2023-11-14",
            "2023-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2023-11-14T24:00:00Z",
            "2023-11-14T22:13:20.Z",
            "2023-11-14T22:13:20.1234567890Z",
            "2023-11-14T22:13:20ZZ",
            "2023-11-14T22:13:20+0100",
            "２023-11-14T22:13:20Z",
        ] {
            assert!(parse_time(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse_time("2024-02-29T00:00:00Z").is_ok());
    }

    #[test]
    fn bucket_edges_are_epoch_aligned() {
        let m = parse_time("2026-02-08T16:31:00.000Z").unwrap();
        let last = parse_time("2026-02-08T16:31:59.999Z").unwrap();
        let next = parse_time("2026-02-08T16:32:00Z").unwrap();
        assert_eq!(bucket_start(m, 60_000), m);
        assert_eq!(bucket_start(last, 60_000), m);
        assert_eq!(bucket_start(next, 60_000), next);
        assert_eq!(bucket_start(-1, 10_000), -10_000);
    }

    #[test]
    fn format_round_trips() {
        for s in [
            "1970-01-01T00:00:00Z",
            "2026-02-08T16:31:00Z",
            "2000-02-29T23:59:59Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "1969-12-31T23:59:59Z",
        ] {
            assert_eq!(format_time(parse_time(s).unwrap(), false), s);
        }
        assert_eq!(format_time(1_500, true), "1970-01-01T00:00:01.500Z");
    }
}
