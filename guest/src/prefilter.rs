//! The pre-filter: settles most records without the full parse.
//!
//! About 97 % of a real trail is not from the aws-cli, and no rule can
//! select such a record: the Sentinel rule needs a user agent starting with
//! `aws-cli` (any case), the Elastic rule `aws-cli/` or an ECS
//! `user_agent.name` of `aws-cli`. Those records still have to be
//! *validated* (a malformed one is rejected and counted) and their time
//! still moves the watermark, so they cannot simply be skipped; but they
//! need no field but the time.
//!
//! [`settle`] answers [`Verdict::Filtered`] with the record's time only when it
//! is sure the full path ([`crate::event::parse_event`] and every rule's
//! `select`) would accept the record as valid, give it that time, and
//! filter it in every rule. In every other case (a user-agent field starts
//! with `aws-cli` in any case, or is an escaped string that might spell it;
//! the record is malformed, of an unusual layout, or its time needs more
//! than the common formats) it answers [`Verdict::Full`] and the full path
//! decides, messages included. So
//! the pre-filter can make the detector faster, never different; a
//! differential test holds it to that (`tests/prefilter.rs`).
//!
//! To be sure, it checks everything the full path checks on a valid
//! record: the JSON grammar (strings, escapes, control characters, numbers,
//! literals, nesting, nothing after the object), that the known keys are
//! not repeated and that known objects (`userIdentity`, `event`, …) are
//! objects or null, at every level the full path reads; and it bails out on
//! what the full path treats specially (exponents and very long numbers,
//! which it may find out of range; nesting deeper than [`MAX_DEPTH`]).

use crate::time;

/// Deepest nesting the pre-filter follows; deeper records take the full
/// path (whose own limit is 128).
pub const MAX_DEPTH: u32 = 64;

/// Longest integer part of a number the pre-filter accepts; longer ones
/// take the full path (an `f64` overflows past about 309 digits).
const MAX_INT_DIGITS: usize = 300;

/// The pre-filter's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Valid, filtered by every rule, with this time (ms since the epoch).
    Filtered(i64),
    /// Not settled here: take the full path.
    Full,
}

/// Settles `text` if it can, for the two built-ins; see the module
/// documentation. `text` need not be UTF-8: a record that is not is never
/// settled here.
pub fn settle(text: &[u8]) -> Verdict {
    let mut p = Parser {
        b: text,
        i: 0,
        aws_cli: true,
    };
    match p.record() {
        Some(t) => Verdict::Filtered(t),
        None => Verdict::Full,
    }
}

/// What the rules of one configuration let the pre-filter settle.
///
/// Each rule says for itself which records it might select, and no rule
/// assumes anything of another's: the built-ins need an agent starting
/// with `aws-cli`; a data rule, a needle of each of its clauses
/// (`Expr::needles`: strings that every record it selects spells out, when
/// the record has no escape sequence). A record is settled only when every
/// rule rules it out.
#[derive(Debug, Clone)]
pub struct Plan {
    /// A built-in runs: a record whose agent starts with `aws-cli` needs
    /// the full path.
    aws_cli: bool,
    /// Data rules run: a record with an escape, or that some data rule
    /// might select, needs the full path.
    data: bool,
    /// Some data rule has no clause: nothing can be settled.
    open: bool,
    /// Per data rule, its clauses, the most selective first.
    rules: Vec<Vec<Clause>>,
}

/// One clause of a data rule's needles: does the (lowercased) record hold
/// any of them? Needles that share a prefix of [`MIN_GATE`] bytes or more
/// (`listusers`, `listroles`, …) are found by one search for the prefix,
/// each hit checked against them, instead of one search each.
#[derive(Debug, Clone)]
struct Clause {
    /// The shared prefix, when there is one worth searching for.
    gate: Option<memchr::memmem::Finder<'static>>,
    /// Each needle, lowercased.
    needles: Vec<Vec<u8>>,
    /// A searcher per needle, without a gate.
    finders: Vec<memchr::memmem::Finder<'static>>,
}

/// Shortest shared prefix searched for in place of its needles.
const MIN_GATE: usize = 3;

impl Clause {
    fn new(needles: &[String]) -> Clause {
        let needles: Vec<Vec<u8>> = needles
            .iter()
            .map(|n| n.to_ascii_lowercase().into_bytes())
            .collect();
        let prefix = needles
            .iter()
            .skip(1)
            .fold(needles.first().map_or(0, Vec::len), |len, n| {
                needles[0]
                    .iter()
                    .zip(n)
                    .take(len)
                    .take_while(|(a, b)| a == b)
                    .count()
            });
        let gate = (needles.len() > 1 && prefix >= MIN_GATE)
            .then(|| memchr::memmem::Finder::new(&needles[0][..prefix]).into_owned());
        let finders = if gate.is_some() {
            Vec::new()
        } else {
            needles
                .iter()
                .map(|n| memchr::memmem::Finder::new(n).into_owned())
                .collect()
        };
        Clause {
            gate,
            needles,
            finders,
        }
    }

    /// Whether `lower` (a lowercased record) holds one of the needles.
    fn holds(&self, lower: &[u8]) -> bool {
        match &self.gate {
            Some(g) => g
                .find_iter(lower)
                .any(|at| self.needles.iter().any(|n| lower[at..].starts_with(n))),
            None => self.finders.iter().any(|f| f.find(lower).is_some()),
        }
    }
}

impl Plan {
    /// The plan for built-ins (`aws_cli`) beside data rules whose needles
    /// are `needles` (one entry per data rule).
    pub fn new(aws_cli: bool, needles: &[Vec<Vec<String>>]) -> Plan {
        Plan {
            aws_cli,
            data: !needles.is_empty(),
            open: needles.iter().any(Vec::is_empty),
            rules: needles
                .iter()
                .map(|clauses| clauses.iter().map(|c| Clause::new(c)).collect())
                .collect(),
        }
    }

    /// Whether this plan can settle any record at all.
    pub fn can_settle(&self) -> bool {
        !self.open
    }

    /// Whether some data rule might select `text` (a record without
    /// escapes): every clause of that rule has a needle in it, ignoring
    /// ASCII case. A rule is ruled out at its first clause without one,
    /// which is usually its first.
    fn some_rule_might(&self, text: &[u8]) -> bool {
        thread_local! {
            static LOWER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        LOWER.with(|buf| {
            let mut lower = buf.borrow_mut();
            lower.clear();
            lower.extend(text.iter().map(u8::to_ascii_lowercase));
            self.rules
                .iter()
                .any(|clauses| clauses.iter().all(|c| c.holds(&lower)))
        })
    }

    /// Settles `text` if every rule of the plan rules it out.
    pub fn settle(&self, text: &[u8]) -> Verdict {
        if self.open {
            return Verdict::Full;
        }
        let mut p = Parser {
            b: text,
            i: 0,
            aws_cli: self.aws_cli,
        };
        let Some(t) = p.record() else {
            return Verdict::Full;
        };
        if self.data && (memchr::memchr(b'\\', text).is_some() || self.some_rule_might(text)) {
            return Verdict::Full;
        }
        Verdict::Filtered(t)
    }
}

/// How the full path reads a known key's value.
#[derive(Clone, Copy)]
enum Kind {
    /// `Option<Scalar>`: any value (null reads as absent).
    Scalar,
    /// `Option<Struct>`: an object (with known keys of its own) or null; an
    /// array or anything else is not settled here.
    Struct(&'static [(&'static [u8], Kind)]),
    /// A resource list, read leniently: any value.
    Any,
    /// A user-agent field (`userAgent`, `user_agent.name`, …): a scalar
    /// whose value decides whether a rule could select the record.
    Ua,
}

use Kind::{Any, Scalar, Struct, Ua};

const ATTRIBUTES: &[(&[u8], Kind)] = &[(b"mfaAuthenticated", Scalar)];
const SESSION_CONTEXT: &[(&[u8], Kind)] = &[(b"attributes", Struct(ATTRIBUTES))];
const USER_IDENTITY: &[(&[u8], Kind)] = &[
    (b"type", Scalar),
    (b"arn", Scalar),
    (b"userName", Scalar),
    (b"principalId", Scalar),
    (b"sessionContext", Struct(SESSION_CONTEXT)),
];
const ECS_EVENT: &[(&[u8], Kind)] = &[
    (b"action", Scalar),
    (b"provider", Scalar),
    (b"dataset", Scalar),
    (b"id", Scalar),
];
const ECS_USER_AGENT: &[(&[u8], Kind)] = &[(b"original", Ua), (b"name", Ua)];
const ECS_USER: &[(&[u8], Kind)] = &[(b"name", Scalar), (b"id", Scalar)];
const ECS_SOURCE: &[(&[u8], Kind)] = &[(b"address", Scalar), (b"ip", Scalar)];
const ECS_SESSION_CONTEXT: &[(&[u8], Kind)] = &[(b"mfa_authenticated", Scalar)];
const ECS_USER_IDENTITY: &[(&[u8], Kind)] = &[
    (b"type", Scalar),
    (b"arn", Scalar),
    (b"session_context", Struct(ECS_SESSION_CONTEXT)),
];
const ECS_CLOUDTRAIL: &[(&[u8], Kind)] = &[
    (b"user_identity", Struct(ECS_USER_IDENTITY)),
    (b"recipient_account_id", Scalar),
];
const ECS_AWS: &[(&[u8], Kind)] = &[(b"cloudtrail", Struct(ECS_CLOUDTRAIL))];

/// Top-level keys the pre-filter needs by name.
const EVENT_TIME: usize = 0;
const AT_TIMESTAMP: usize = 1;
const TIME_GENERATED: usize = 2;

/// Every top-level key the full path reads (`event::Doc`), with what marks
/// a shape. The first three are the time keys, at the indexes above.
const TOP: &[(&[u8], Kind, Mark)] = &[
    (b"eventTime", Scalar, Mark::CloudTrail),
    (b"@timestamp", Scalar, Mark::Ecs),
    (b"TimeGenerated", Scalar, Mark::Sentinel),
    (b"userAgent", Ua, Mark::None),
    (b"eventName", Scalar, Mark::CloudTrail),
    (b"eventSource", Scalar, Mark::CloudTrail),
    (b"userIdentity", Struct(USER_IDENTITY), Mark::CloudTrail),
    (b"recipientAccountId", Scalar, Mark::None),
    (b"sourceIPAddress", Scalar, Mark::None),
    (b"resources", Any, Mark::None),
    (b"eventID", Scalar, Mark::CloudTrail),
    (b"eventVersion", Scalar, Mark::CloudTrail),
    (b"UserAgent", Ua, Mark::Sentinel),
    (b"EventName", Scalar, Mark::Sentinel),
    (b"EventSource", Scalar, Mark::Sentinel),
    (b"UserIdentityType", Scalar, Mark::None),
    (b"UserIdentityArn", Scalar, Mark::None),
    (b"UserIdentityUserName", Scalar, Mark::None),
    (b"UserIdentityPrincipalid", Scalar, Mark::None),
    (b"RecipientAccountId", Scalar, Mark::None),
    (b"SourceIpAddress", Scalar, Mark::None),
    (b"SessionMfaAuthenticated", Scalar, Mark::None),
    (b"Resources", Any, Mark::None),
    (b"AwsEventId", Scalar, Mark::None),
    (b"event", Struct(ECS_EVENT), Mark::Ecs),
    (b"user_agent", Struct(ECS_USER_AGENT), Mark::Ecs),
    (b"aws", Struct(ECS_AWS), Mark::None),
    (b"user", Struct(ECS_USER), Mark::None),
    (b"source", Struct(ECS_SOURCE), Mark::None),
    (b"event.action", Scalar, Mark::Ecs),
    (b"event.provider", Scalar, Mark::Ecs),
    (b"event.dataset", Scalar, Mark::None),
    (b"event.id", Scalar, Mark::None),
    (b"user_agent.original", Ua, Mark::Ecs),
    (b"user_agent.name", Ua, Mark::None),
    (b"aws.cloudtrail.user_identity.type", Scalar, Mark::None),
    (b"aws.cloudtrail.user_identity.arn", Scalar, Mark::None),
    (
        b"aws.cloudtrail.user_identity.session_context.mfa_authenticated",
        Scalar,
        Mark::None,
    ),
    (b"aws.cloudtrail.recipient_account_id", Scalar, Mark::None),
    (b"user.name", Scalar, Mark::None),
    (b"user.id", Scalar, Mark::None),
    (b"source.address", Scalar, Mark::None),
    (b"source.ip", Scalar, Mark::None),
];

/// Byte-slice equality without a call to `memcmp`: keys are short, and in
/// the component `memcmp` is a byte-at-a-time loop.
#[inline]
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i + 8 <= a.len() {
        let x = u64::from_le_bytes(a[i..i + 8].try_into().expect("8 bytes"));
        let y = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != y {
            return false;
        }
        i += 8;
    }
    a[i..].iter().zip(&b[i..]).all(|(x, y)| x == y)
}

/// For each key length below 64, the [`TOP`] entries of that length (a
/// bit per entry).
const TOP_BY_LEN: [u64; 64] = {
    let mut masks = [0u64; 64];
    let mut i = 0;
    while i < TOP.len() {
        let len = TOP[i].0.len();
        if len < 64 {
            masks[len] |= 1 << i;
        }
        i += 1;
    }
    masks
};

/// The index in [`TOP`] of a top-level key: only the keys of the same
/// length are compared.
fn top_slot(key: &[u8]) -> Option<usize> {
    let mut mask = *TOP_BY_LEN.get(key.len())?;
    while mask != 0 {
        let i = mask.trailing_zeros() as usize;
        if same(TOP[i].0, key) {
            return Some(i);
        }
        mask &= mask - 1;
    }
    None
}

/// Which shape a key's non-null presence marks (`event::from_doc`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mark {
    None,
    CloudTrail,
    Sentinel,
    Ecs,
}

/// A value as far as the pre-filter cares.
#[derive(Clone, Copy)]
enum Val {
    Null,
    /// A string without escapes: its bytes.
    Str(usize, usize),
    /// An integer that fits `i64`.
    Int(i64),
    /// Anything else (object, array, boolean, other numbers, escaped
    /// strings).
    Other,
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
    /// Whether an agent starting with `aws-cli` needs the full path (a
    /// built-in runs).
    aws_cli: bool,
}

/// Bit masks: where a byte is `"`, `\`, below 0x20 or above 0x7f, eight
/// bytes at a time. The lowest flagged byte is exact (borrows only spill
/// upwards).
#[inline]
fn special_mask(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let quote = zero(x ^ (ONES * u64::from(b'"')));
    let backslash = zero(x ^ (ONES * u64::from(b'\\')));
    let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    quote | backslash | control | (x & HIGH)
}

/// Sixteen bytes at once: a bit per byte that is `"`, `\`, below 0x20 or
/// above 0x7f. (A signed compare with 0x20 catches both of the last: bytes
/// above 0x7f are negative.)
mod simd {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    #[inline]
    pub fn special16(block: &[u8; 16]) -> u32 {
        use core::arch::wasm32::*;
        // SAFETY: `block` is 16 readable bytes; `v128_load` has no
        // alignment requirement.
        let v = unsafe { v128_load(block.as_ptr().cast::<v128>()) };
        let m = v128_or(
            v128_or(
                u8x16_eq(v, u8x16_splat(b'"')),
                u8x16_eq(v, u8x16_splat(b'\\')),
            ),
            i8x16_lt(v, i8x16_splat(0x20)),
        );
        u32::from(u8x16_bitmask(m))
    }

    #[cfg(target_arch = "x86_64")]
    #[inline]
    pub fn special16(block: &[u8; 16]) -> u32 {
        use core::arch::x86_64::*;
        // SAFETY: SSE2 is part of every x86-64; `block` is 16 readable bytes
        // and `_mm_loadu_si128` has no alignment requirement.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr().cast::<__m128i>());
            let m = _mm_or_si128(
                _mm_or_si128(
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
                ),
                _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
            );
            _mm_movemask_epi8(m) as u32
        }
    }

    #[cfg(not(any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        target_arch = "x86_64"
    )))]
    #[inline]
    pub fn special16(block: &[u8; 16]) -> u32 {
        block
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c, b'"' | b'\\' | 0..=0x1f | 0x80..=0xff))
            .fold(0, |m, (i, _)| m | (1 << i))
    }
}

/// The length of the UTF-8 character starting at `b[0]` when it is valid.
fn utf8_char(b: &[u8]) -> Option<usize> {
    let len = match b.first()? {
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    std::str::from_utf8(b.get(..len)?).ok().map(|_| len)
}

impl<'a> Parser<'a> {
    /// Skips whitespace. Compact JSON has none: that case costs one test
    /// and enters no loop (in the component, every loop iteration also
    /// checks the call's deadline).
    #[inline(always)]
    fn ws(&mut self) {
        if !matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            return;
        }
        while let Some(&c) = self.b.get(self.i) {
            if matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                self.i += 1;
            } else {
                break;
            }
        }
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    /// Index of the next `"`, `\`, control or non-ASCII byte at or after
    /// `self.i`: sixteen bytes at a time where the target has vectors, then
    /// eight (SWAR), then one.
    #[inline]
    fn next_special(&self) -> Option<usize> {
        let b = self.b;
        let mut i = self.i;
        while i + 16 <= b.len() {
            let block: &[u8; 16] = b[i..i + 16].try_into().expect("16 bytes");
            match simd::special16(block) {
                0 => i += 16,
                m => return Some(i + m.trailing_zeros() as usize),
            }
        }
        while i + 8 <= b.len() {
            let x = u64::from_le_bytes(b[i..i + 8].try_into().expect("8 bytes"));
            let m = special_mask(x);
            if m != 0 {
                return Some(i + (m.trailing_zeros() / 8) as usize);
            }
            i += 8;
        }
        (i..b.len()).find(|&j| matches!(b[j], b'"' | b'\\' | 0..=0x1f | 0x80..=0xff))
    }

    /// A string, after its opening quote. Returns whether it held an
    /// escape, or `None` when it is malformed or has a `\u` escape.
    fn string(&mut self) -> Option<bool> {
        let mut escaped = false;
        loop {
            let j = self.next_special()?;
            match self.b[j] {
                b'"' => {
                    self.i = j + 1;
                    return Some(escaped);
                }
                b'\\' => {
                    match self.b.get(j + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        _ => return None,
                    }
                    escaped = true;
                    self.i = j + 2;
                }
                // Text is UTF-8, checked here rather than in a pass of its
                // own: outside strings, JSON is ASCII.
                0x80..=0xff => self.i = j + utf8_char(&self.b[j..])?,
                _ => return None,
            }
        }
    }

    /// A number; `None` when malformed, with an exponent, or too long.
    fn number(&mut self) -> Option<Val> {
        let start = self.i;
        let integer = self.skip_number()?;
        if !integer {
            return Some(Val::Other);
        }
        let digits = std::str::from_utf8(&self.b[start..self.i]).ok()?;
        Some(digits.parse::<i64>().map_or(Val::Other, Val::Int))
    }

    /// A number's grammar: `Some(true)` for an integer, `Some(false)` for
    /// one with a fraction; `None` when malformed, with an exponent, or too
    /// long.
    fn skip_number(&mut self) -> Option<bool> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        match self.peek()? {
            b'0' => self.i += 1,
            b'1'..=b'9' => {
                while matches!(self.peek(), Some(b'0'..=b'9')) {
                    self.i += 1;
                }
            }
            _ => return None,
        }
        if self.i - int_start > MAX_INT_DIGITS {
            return None;
        }
        let mut integer = true;
        if self.peek() == Some(b'.') {
            integer = false;
            self.i += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return None;
            }
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            return None;
        }
        Some(integer)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        if self.b.get(self.i..self.i + word.len())? == word {
            self.i += word.len();
            Some(())
        } else {
            None
        }
    }

    /// Any value, validated and skipped.
    fn value(&mut self, depth: u32) -> Option<Val> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                let start = self.i;
                let escaped = self.string()?;
                Some(if escaped {
                    Val::Other
                } else {
                    Val::Str(start, self.i - 1)
                })
            }
            b'{' => {
                self.skip_object(depth + 1)?;
                Some(Val::Other)
            }
            b'[' => {
                self.array(depth + 1)?;
                Some(Val::Other)
            }
            b't' => self.literal(b"true").map(|_| Val::Other),
            b'f' => self.literal(b"false").map(|_| Val::Other),
            b'n' => self.literal(b"null").map(|_| Val::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// Any value the full path skips, validated and skipped: the common
    /// case, kept free of what only known values need.
    fn skip(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => {
                self.i += 1;
                self.string().map(|_| ())
            }
            b'{' => self.skip_object(depth + 1),
            b'[' => self.array(depth + 1),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.skip_number().map(|_| ()),
            _ => None,
        }
    }

    /// A container at `self.i` (its opener): members read by `member`,
    /// separated by commas, up to `close`.
    #[inline(always)]
    fn members(
        &mut self,
        close: u8,
        mut member: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.i += 1;
        self.ws();
        if self.peek()? == close {
            self.i += 1;
            return Some(());
        }
        loop {
            self.ws();
            member(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.i += 1,
                c if c == close => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An object at `self.i`: `entry` reads each value, given its key
    /// (when `keys`; otherwise keys are only checked to be valid strings,
    /// their meaning does not matter, and `entry` gets an empty key).
    #[inline(always)]
    fn entries(
        &mut self,
        keys: bool,
        mut entry: impl FnMut(&mut Self, &'a [u8]) -> Option<()>,
    ) -> Option<()> {
        self.members(b'}', |p| {
            if p.peek()? != b'"' {
                return None;
            }
            p.i += 1;
            let key: &'a [u8] = if keys {
                p.key()?
            } else {
                p.string()?;
                &[]
            };
            p.ws();
            if p.peek()? != b':' {
                return None;
            }
            p.i += 1;
            p.ws();
            entry(p, key)
        })
    }

    /// An object the full path skips: no key of it is read.
    fn skip_object(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.entries(false, |p, _| p.skip(depth))
    }

    fn array(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.members(b']', |p| p.skip(depth))
    }

    /// A key, after its opening quote: its bytes, or `None` when it has an
    /// escape (its meaning would need decoding) or is malformed.
    fn key(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        if self.string()? {
            return None;
        }
        Some(&self.b[start..self.i - 1])
    }

    /// An object whose known keys are `known` (empty for objects the full
    /// path skips). Known keys must not repeat; known objects must be
    /// objects or null.
    fn object(&mut self, depth: u32, known: &[(&[u8], Kind)]) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        let mut seen = 0u32;
        self.entries(true, |p, key| {
            match known.iter().position(|(k, _)| same(k, key)) {
                None => p.skip(depth),
                Some(n) => {
                    if seen & (1 << n) != 0 {
                        return None;
                    }
                    seen |= 1 << n;
                    p.known_value(depth, known[n].1).map(|_| ())
                }
            }
        })
    }

    fn known_value(&mut self, depth: u32, kind: Kind) -> Option<Val> {
        match kind {
            Scalar | Any => self.value(depth),
            Ua if !self.aws_cli => self.value(depth),
            Ua => {
                let v = self.value(depth)?;
                match v {
                    // Every rule needs the agent to start with `aws-cli`
                    // (Sentinel: in any case; Elastic: `aws-cli/`, or an
                    // ECS name equal to `aws-cli`).
                    Val::Str(s, e) => {
                        let text = &self.b[s..e];
                        if text.len() >= 7 && text[..7].eq_ignore_ascii_case(b"aws-cli") {
                            return None;
                        }
                    }
                    // An escaped string might spell it.
                    Val::Other if self.b[self.i - 1] == b'"' => return None,
                    // A number, boolean, object or array reads as JSON text
                    // that starts with a digit, `-`, a letter of a literal,
                    // `{` or `[`.
                    _ => {}
                }
                Some(v)
            }
            Struct(fields) => match self.peek()? {
                b'{' => {
                    self.object(depth + 1, fields)?;
                    Some(Val::Other)
                }
                b'n' => self.literal(b"null").map(|_| Val::Null),
                _ => None,
            },
        }
    }

    /// The whole record: a top-level object, then only whitespace. Returns
    /// its time when the full path would read the same one.
    fn record(&mut self) -> Option<i64> {
        self.ws();
        if self.peek()? != b'{' {
            return None;
        }
        let mut seen = 0u64;
        let mut times = [Val::Null; 3];
        let (mut cloudtrail, mut sentinel, mut ecs) = (false, false, false);
        self.entries(true, |p, key| match top_slot(key) {
            None => p.skip(1),
            Some(n) => {
                if seen & (1 << n) != 0 {
                    return None;
                }
                seen |= 1 << n;
                let (_, kind, mark) = TOP[n];
                let v = p.known_value(1, kind)?;
                if n < times.len() {
                    times[n] = v;
                }
                if !matches!(v, Val::Null) {
                    match mark {
                        Mark::CloudTrail => cloudtrail = true,
                        Mark::Sentinel => sentinel = true,
                        Mark::Ecs => ecs = true,
                        Mark::None => {}
                    }
                }
                Some(())
            }
        })?;
        self.ws();
        if self.i != self.b.len() {
            return None;
        }
        // The shape and time key, as `event::from_doc` picks them.
        let t = if cloudtrail {
            if !matches!(times[EVENT_TIME], Val::Null) || matches!(times[AT_TIMESTAMP], Val::Null) {
                times[EVENT_TIME]
            } else {
                times[AT_TIMESTAMP]
            }
        } else if sentinel {
            times[TIME_GENERATED]
        } else if ecs {
            times[AT_TIMESTAMP]
        } else {
            return None;
        };
        self.time(t)
    }

    /// A time as `event::read_time` reads it, when it is a valid one.
    fn time(&self, v: Val) -> Option<i64> {
        match v {
            Val::Str(s, e) => {
                let text = std::str::from_utf8(&self.b[s..e]).ok()?;
                if text.trim().is_empty() {
                    return None;
                }
                time::parse_time(text).ok()
            }
            Val::Int(ms) => time::check_range(ms).ok(),
            Val::Null | Val::Other => None,
        }
    }
}

#[cfg(test)]
mod tests {
    /// Each key table of the pre-filter names exactly the fields the full
    /// path's struct reads: a key added to `event::Doc` (or a nested
    /// struct) and not here would let the pre-filter settle a record whose
    /// new field a rule reads.
    #[test]
    fn key_tables_name_the_parsers_fields() {
        fn names(table: &[&[u8]]) -> Vec<String> {
            let mut v: Vec<String> = table
                .iter()
                .map(|k| String::from_utf8(k.to_vec()).unwrap())
                .collect();
            v.sort();
            v
        }
        let keys = |t: &[(&'static [u8], Kind)]| t.iter().map(|(k, _)| *k).collect::<Vec<_>>();
        let ours: Vec<(&str, Vec<&[u8]>)> = vec![
            ("TOP", TOP.iter().map(|(k, _, _)| *k).collect()),
            ("USER_IDENTITY", keys(USER_IDENTITY)),
            ("SESSION_CONTEXT", keys(SESSION_CONTEXT)),
            ("ATTRIBUTES", keys(ATTRIBUTES)),
            ("ECS_EVENT", keys(ECS_EVENT)),
            ("ECS_USER_AGENT", keys(ECS_USER_AGENT)),
            ("ECS_USER", keys(ECS_USER)),
            ("ECS_SOURCE", keys(ECS_SOURCE)),
            ("ECS_SESSION_CONTEXT", keys(ECS_SESSION_CONTEXT)),
            ("ECS_USER_IDENTITY", keys(ECS_USER_IDENTITY)),
            ("ECS_CLOUDTRAIL", keys(ECS_CLOUDTRAIL)),
            ("ECS_AWS", keys(ECS_AWS)),
        ];
        let parser = crate::event::field_names();
        assert_eq!(ours.len(), parser.len());
        for ((name, table), (parser_name, fields)) in ours.iter().zip(&parser) {
            assert_eq!(name, parser_name);
            let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            fields.sort();
            assert!(!fields.is_empty(), "{name}: no fields read from the parser");
            assert_eq!(
                names(table),
                fields,
                "the pre-filter's {name} and the parser's fields"
            );
        }
    }

    use super::*;

    const RECORD: &str = r#"{"eventVersion":"1.08","userIdentity":{"type":"AssumedRole","principalId":"AROA:x","arn":"arn:aws:sts::1:assumed-role/R/x","sessionContext":{"attributes":{"creationDate":"2024-01-01T00:00:00Z","mfaAuthenticated":"false"}}},"eventTime":"2024-05-01T10:00:30Z","eventSource":"s3.amazonaws.com","eventName":"GetObject","userAgent":"Boto3/1.34 Python/3.11","requestParameters":{"bucketName":"b","policy":"{\"a\":[1]}","n":[1,2.5,-3,true,null,{}]},"resources":[{"ARN":"arn:aws:s3:::b"}],"eventID":"e"}"#;

    #[test]
    fn an_ordinary_record_is_settled_with_its_time() {
        let t = time::parse_time("2024-05-01T10:00:30Z").unwrap();
        assert_eq!(settle(RECORD.as_bytes()), Verdict::Filtered(t));
        assert_eq!(
            settle(format!("  {RECORD} \r").as_bytes()),
            Verdict::Filtered(t)
        );
    }

    #[test]
    fn anything_that_might_be_selected_or_is_unusual_takes_the_full_path() {
        let cases = [
            RECORD.replace("Boto3", "aws-cli"),
            RECORD.replace("Boto3", "AwS-ClI"),
            RECORD.replace("Boto3", "\\u0061ws-cli"),
            RECORD.replace("Boto3", "\\u0041WS-cli"),
            RECORD.replace("bucketName", "bucket\\u004eame"),
            RECORD.replace("\"eventID\":\"e\"", "\"eventID\":\"e\",\"eventID\":\"f\""),
            RECORD
                .replace("{\"type\"", "[\"type\"")
                .replace("\"}}},\"eventTime", "\"}}],\"eventTime"),
            RECORD.replace("\"userIdentity\":{", "\"userIdentity\":\"x\",\"u\":{"),
            RECORD.replace("2.5", "2.5e3"),
            RECORD.replace("2.5", "02"),
            RECORD.replace("true", "tru"),
            RECORD.replace("2024-05-01T10:00:30Z", "yesterday"),
            RECORD.replace("2024-05-01T10:00:30Z", " "),
            RECORD.replace(
                "\"eventTime\":\"2024-05-01T10:00:30Z\"",
                "\"eventTime\":null",
            ),
            RECORD.replace(
                "mfaAuthenticated\":\"false",
                "mfaAuthenticated\":\"f\",\"mfaAuthenticated\":\"g",
            ),
            RECORD.replace("GetObject", "Get\u{1}Object"),
            RECORD.replace("GetObject", "Get\\xObject"),
            format!("{RECORD}x"),
            format!("{RECORD},"),
            RECORD[..RECORD.len() - 1].to_owned(),
            "[1]".to_owned(),
            "{}".to_owned(),
            r#"{"foo":1}"#.to_owned(),
            format!("{}{}", "[".repeat(100), "]".repeat(100)),
        ];
        for c in &cases {
            assert_eq!(settle(c.as_bytes()), Verdict::Full, "{c}");
        }
    }

    #[test]
    fn shapes_pick_their_time_key() {
        let ms = |s| time::parse_time(s).unwrap();
        let sentinel = r#"{"TimeGenerated":"2024-05-01 10:00:30.5","EventName":"X"}"#;
        assert_eq!(
            settle(sentinel.as_bytes()),
            Verdict::Filtered(ms("2024-05-01T10:00:30.500Z"))
        );
        let ecs = r#"{"@timestamp":1714557630000,"event":{"action":"X"}}"#;
        assert_eq!(settle(ecs.as_bytes()), Verdict::Filtered(1_714_557_630_000));
        // A raw record without eventTime takes Logstash's @timestamp.
        let otrf = r#"{"@timestamp":"2020-09-14T01:19:40Z","eventName":"X"}"#;
        assert_eq!(
            settle(otrf.as_bytes()),
            Verdict::Filtered(ms("2020-09-14T01:19:40Z"))
        );
        // A null marks no shape: this is an ECS document at 5 ms.
        assert_eq!(
            settle(br#"{"eventName":null,"@timestamp":5}"#),
            Verdict::Filtered(5)
        );
        // Escaped time strings are not settled here.
        assert_eq!(
            settle(br#"{"eventName":"X","eventTime":"2024-05-01T10:00:30\/"}"#),
            Verdict::Full
        );
    }

    #[test]
    fn the_key_lookup_agrees_with_the_table() {
        assert!(TOP.len() <= 64 && TOP.iter().all(|(k, _, _)| k.len() < 64));
        for (i, (k, _, _)) in TOP.iter().enumerate() {
            assert_eq!(top_slot(k), Some(i), "{}", String::from_utf8_lossy(k));
        }
        assert_eq!(top_slot(b"eventtime"), None);
        assert_eq!(top_slot(b""), None);
    }

    #[test]
    fn the_string_scanner_finds_the_first_special_byte() {
        for pos in 0..16 {
            for c in [b'"', b'\\', 0, 0x1f, 0x80, 0xff] {
                let mut block = [b'a'; 16];
                block[pos] = c;
                assert_eq!(simd::special16(&block), 1 << pos, "{c} at {pos}");
            }
        }
        assert_eq!(simd::special16(&[b' '; 16]), 0);
        assert_eq!(simd::special16(&[0x7f; 16]), 0);
        for len in 0..40 {
            for (pos, c) in [(len, b'"'), (len, b'\\'), (len, 0x1f)] {
                let mut s = vec![b'a'; len + 5];
                s[pos] = c;
                s[pos + 1] = b'"';
                let p = Parser {
                    b: &s,
                    i: 0,
                    aws_cli: true,
                };
                assert_eq!(p.next_special(), Some(pos), "len {len} byte {c}");
            }
        }
        let high = "\u{7f}abcdefghé\"".as_bytes();
        let p = Parser {
            b: high,
            i: 0,
            aws_cli: true,
        };
        assert_eq!(p.next_special(), Some(9));
        // Non-ASCII text is checked as it is met.
        let ok = r#"{"eventTime":"2024-05-01T10:00:30Z","eventName":"X","k":"héllo ✓ 😀"}"#;
        assert!(matches!(settle(ok.as_bytes()), Verdict::Filtered(_)));
        for bad in [
            &b"\xff"[..],
            b"\xc3",
            b"\xe2\x9c",
            b"\xed\xa0\x80",
            b"\xc0\xaf",
        ] {
            let mut r = br#"{"eventTime":"2024-05-01T10:00:30Z","eventName":"X","k":""#.to_vec();
            r.extend_from_slice(bad);
            r.extend_from_slice(br#""}"#);
            assert_eq!(settle(&r), Verdict::Full, "{bad:?}");
        }
    }
}
