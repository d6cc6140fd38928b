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

/// First bytes of every payload; the digit is the format version.
pub const MAGIC: &[u8; 4] = b"RCS2";

/// Entry tags.
pub const RUN: u8 = 1;
/// A record no rule can read.
pub const REJECT: u8 = 2;
/// A record some rule selects.
pub const EVENT: u8 = 3;

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
