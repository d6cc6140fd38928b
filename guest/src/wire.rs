//! The compact byte form of a scanner payload: what the stateless first
//! stage (`scan`) hands the stateful second (`apply`) through the host.
//!
//! ```text
//! payload := MAGIC fingerprint:u64le entry*
//! entry   := 0x01 first:varint count:varint max_time:i64le first_time:i64le
//!                (index_delta:varint time_delta:zigzag){count-1}
//!                                                      -- a run of records every rule filters
//!          | 0x02 index:varint reason:u8               -- a record no rule can read
//!          | 0x03 index:varint time:i64le sel*         -- a record some rule selects
//! sel     := 0x00                                      -- this rule filters it
//!          | 0x01 <the rule's key and item>            -- this rule selects it (RuleLogic::encode)
//! ```
//!
//! One `sel` per rule, in the configuration's order. Strings are a varint
//! length and UTF-8 bytes. The host passes payloads through unchanged; the
//! reader still checks every length and tag, so a damaged payload is an
//! error, never a panic.
//!
//! The grammar's writer and reader live here: the primitives, `put_run`
//! (the scanner in `scan` writes the rest as it reads records) and
//! `decode`, which checks a whole payload before the detector applies it.

/// First bytes of every payload; the digit is the format version.
pub const MAGIC: &[u8; 4] = b"RCS2";

/// Entry tags.
pub const RUN: u8 = 1;
/// A record no rule can read.
pub const REJECT: u8 = 2;
/// A record some rule selects.
pub const EVENT: u8 = 3;

use crate::event::RejectReason;
use crate::time;
use crate::windows::{RuleWindows, Selection};

/// A payload that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Appends `v` as a LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a signed value as a zigzag varint (small magnitudes, few bytes).
pub fn put_zigzag(out: &mut Vec<u8>, v: i64) {
    put_varint(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// Appends a string: varint length, bytes.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

/// Appends a little-endian `i64`.
pub fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// A bounds-checked cursor over payload bytes.
pub struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `b`.
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b, i: 0 }
    }

    /// How many bytes have been read.
    pub fn position(&self) -> usize {
        self.i
    }

    /// The bytes not yet read.
    pub fn rest(&self) -> &'a [u8] {
        &self.b[self.i.min(self.b.len())..]
    }

    /// Whether every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.i >= self.b.len()
    }

    fn short(&self, what: &str) -> WireError {
        WireError(format!("payload ends inside {what} at byte {}", self.i))
    }

    /// `n` raw bytes.
    pub fn bytes(&mut self, n: usize, what: &str) -> Result<&'a [u8], WireError> {
        let end = self.i.checked_add(n).filter(|e| *e <= self.b.len());
        let end = end.ok_or_else(|| self.short(what))?;
        let s = &self.b[self.i..end];
        self.i = end;
        Ok(s)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.bytes(1, "a tag")?[0])
    }

    /// A little-endian `i64`.
    pub fn i64(&mut self) -> Result<i64, WireError> {
        let b = self.bytes(8, "a time")?;
        Ok(i64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        let b = self.bytes(8, "a fingerprint")?;
        Ok(u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// A LEB128 varint of at most 64 bits.
    pub fn varint(&mut self) -> Result<u64, WireError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(WireError(format!("varint too long at byte {}", self.i)))
    }

    /// A zigzag varint.
    pub fn zigzag(&mut self) -> Result<i64, WireError> {
        let v = self.varint()?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    /// A varint that fits a `u32`.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        let v = self.varint()?;
        u32::try_from(v).map_err(|_| WireError(format!("{v} does not fit 32 bits")))
    }

    /// A string.
    pub fn str(&mut self) -> Result<&'a str, WireError> {
        let n = usize::try_from(self.varint()?).map_err(|_| self.short("a string"))?;
        let b = self.bytes(n, "a string")?;
        std::str::from_utf8(b).map_err(|e| WireError(format!("a string is not UTF-8: {e}")))
    }
}

/// Appends a run entry: its first record's index, how many, the latest
/// time, then each record's index and time as deltas (`detail`), so the
/// second stage can replay them one by one when the time policy needs to.
pub(crate) fn put_run(
    out: &mut Vec<u8>,
    first: u32,
    n: u64,
    max_t: i64,
    first_t: i64,
    detail: &[u8],
) {
    out.push(RUN);
    put_varint(out, u64::from(first));
    put_varint(out, n);
    put_i64(out, max_t);
    put_i64(out, first_t);
    out.extend_from_slice(detail);
}

/// Why [`Detector::apply`] refused a payload; nothing was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// Made under another configuration.
    #[error("the payload was made by a scanner with another configuration")]
    ConfigMismatch,
    /// Damaged, or from another build.
    #[error("the payload cannot be read: {0}")]
    Malformed(String),
}

/// A decoded payload entry.
pub(crate) enum Entry<'p> {
    /// A run: count, latest time, and its records (read again, one by one,
    /// only when the time policy needs them).
    Run(u64, i64, RunRecords<'p>),
    Reject(RejectReason),
    Event(u32, i64, Vec<Option<Selection>>),
}

/// The records of a run, as the payload holds them: the first one's index
/// and time, then deltas.
#[derive(Clone, Copy)]
pub(crate) struct RunRecords<'p> {
    first: (u32, i64),
    n: u64,
    deltas: &'p [u8],
}

impl RunRecords<'_> {
    /// Calls `f` with each record's index and time, in order; fails on
    /// damaged deltas or a time out of range. Returns the latest time and
    /// how many bytes of deltas the run takes.
    pub(crate) fn walk(&self, mut f: impl FnMut(u32, i64)) -> Result<(i64, usize), ApplyError> {
        let bad = |e: WireError| ApplyError::Malformed(e.0);
        let range = |t: i64| {
            time::check_range(t)
                .map(|_| t)
                .map_err(|e| ApplyError::Malformed(format!("a run's time: {e}")))
        };
        let mut r = Reader::new(self.deltas);
        let (mut at, mut when) = (self.first.0, range(self.first.1)?);
        let mut max = when;
        f(at, when);
        for _ in 1..self.n {
            at = at
                .checked_add(r.u32().map_err(bad)?)
                .ok_or_else(|| ApplyError::Malformed("a run's index overflows".into()))?;
            when = range(when.wrapping_add(r.zigzag().map_err(bad)?))?;
            max = max.max(when);
            f(at, when);
        }
        Ok((max, r.position()))
    }
}

/// Reads and checks a whole payload for a detector whose configuration
/// has `fingerprint` and runs `rules`: nothing is applied from a damaged
/// payload.
pub(crate) fn decode<'p>(
    payload: &'p [u8],
    fingerprint: u64,
    rules: &[Box<dyn RuleWindows>],
) -> Result<Vec<Entry<'p>>, ApplyError> {
    let bad = |e: WireError| ApplyError::Malformed(e.0);
    let mut r = Reader::new(payload);
    if r.bytes(4, "the header").map_err(bad)? != MAGIC {
        return Err(ApplyError::Malformed(
            "not a scanner payload of this build".to_owned(),
        ));
    }
    if r.u64().map_err(bad)? != fingerprint {
        return Err(ApplyError::ConfigMismatch);
    }
    let mut entries = Vec::new();
    while !r.is_empty() {
        let entry = match r.u8().map_err(bad)? {
            RUN => {
                let index = r.u32().map_err(bad)?;
                let n = r.varint().map_err(bad)?;
                let t = r.i64().map_err(bad)?;
                let first_t = r.i64().map_err(bad)?;
                if n == 0 || n > payload.len() as u64 {
                    return Err(ApplyError::Malformed(format!("a run of {n} records")));
                }
                // Checked now, so that nothing is applied from a damaged
                // payload; read again only if the time policy needs it.
                let mut records = RunRecords {
                    first: (index, first_t),
                    n,
                    deltas: r.rest(),
                };
                let (max, used) = records.walk(|_, _| {})?;
                records.deltas = r.bytes(used, "a run").map_err(bad)?;
                if max != t {
                    return Err(ApplyError::Malformed(
                        "a run's latest time does not match".into(),
                    ));
                }
                Entry::Run(n, t, records)
            }
            REJECT => {
                r.u32().map_err(bad)?;
                let reason = RejectReason::ALL
                    .get(usize::from(r.u8().map_err(bad)?))
                    .copied()
                    .ok_or_else(|| ApplyError::Malformed("unknown reject reason".into()))?;
                Entry::Reject(reason)
            }
            EVENT => {
                let index = r.u32().map_err(bad)?;
                let t = r.i64().map_err(bad)?;
                time::check_range(t)
                    .map_err(|e| ApplyError::Malformed(format!("an event's time: {e}")))?;
                let mut sels = Vec::with_capacity(rules.len());
                for e in rules {
                    sels.push(match r.u8().map_err(bad)? {
                        0 => None,
                        1 => Some(e.decode(&mut r).map_err(bad)?),
                        t => {
                            return Err(ApplyError::Malformed(format!(
                                "unknown selection tag {t}"
                            )));
                        }
                    });
                }
                Entry::Event(index, t, sels)
            }
            t => return Err(ApplyError::Malformed(format!("unknown entry tag {t}"))),
        };
        entries.push(entry);
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_and_short_input_is_an_error() {
        let mut out = Vec::new();
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            put_varint(&mut out, v);
        }
        put_str(&mut out, "héllo");
        put_i64(&mut out, -5);
        for z in [0i64, -1, 1, -300, i64::MIN, i64::MAX] {
            put_zigzag(&mut out, z);
        }
        let mut r = Reader::new(&out);
        for v in [0u64, 1, 127, 128, 300, u64::from(u32::MAX), u64::MAX] {
            assert_eq!(r.varint().unwrap(), v);
        }
        assert_eq!(r.str().unwrap(), "héllo");
        assert_eq!(r.i64().unwrap(), -5);
        for z in [0i64, -1, 1, -300, i64::MIN, i64::MAX] {
            assert_eq!(r.zigzag().unwrap(), z);
        }
        assert!(r.is_empty());
        assert!(r.u8().is_err());
        // A length past the end, a varint that never ends, bad UTF-8.
        assert!(Reader::new(&[5, b'a']).str().is_err());
        assert!(Reader::new(&[0xff; 11]).varint().is_err());
        assert!(Reader::new(&[2, 0xc3, 0x28]).str().is_err());
        assert!(Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x10]).u32().is_err());
    }
}
