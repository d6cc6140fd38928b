//! Compiled Sigma conditions: field references, value patterns and the
//! boolean tree over them, evaluated against one [`Event`].
//!
//! Matching follows `docs/sigma.md`: case-insensitive (ASCII folding) by
//! default, wildcards, `|re` on the `regex` crate (linear time), `|cidr`,
//! numeric comparisons, `null` for a missing field, lists as OR (`|all`:
//! AND), and a field with several values satisfying an item when any of
//! them does.

use std::borrow::Cow;
use std::net::IpAddr;

use regex::Regex;

use crate::config::Profile;
use crate::event::Event;
use crate::rules::{elastic, sentinel};

/// A field as a rule reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldRef {
    /// One of the input table's fields, read alike from every shape.
    Canonical(Canonical),
    /// One of the seeds' derived fields (`recon.*`).
    Derived(Derived),
    /// Any other raw path: the slot of the detector's `fields::Schema`.
    Path(usize),
}

/// The fields of the input table (`docs/rules.md`), by raw CloudTrail path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Canonical {
    /// `userAgent`.
    UserAgent,
    /// `eventName`.
    EventName,
    /// `eventSource`.
    EventSource,
    /// `userIdentity.type`.
    IdentityType,
    /// `userIdentity.arn`.
    IdentityArn,
    /// `userIdentity.userName`.
    UserName,
    /// `userIdentity.principalId`.
    PrincipalId,
    /// `recipientAccountId`.
    RecipientAccount,
    /// `sourceIPAddress`.
    SourceIp,
    /// `userIdentity.sessionContext.attributes.mfaAuthenticated`.
    Mfa,
    /// `eventID`.
    EventId,
}

/// Every canonical field with its raw path.
pub const CANONICAL: &[(&str, Canonical)] = &[
    ("userAgent", Canonical::UserAgent),
    ("eventName", Canonical::EventName),
    ("eventSource", Canonical::EventSource),
    ("userIdentity.type", Canonical::IdentityType),
    ("userIdentity.arn", Canonical::IdentityArn),
    ("userIdentity.userName", Canonical::UserName),
    ("userIdentity.principalId", Canonical::PrincipalId),
    ("recipientAccountId", Canonical::RecipientAccount),
    ("sourceIPAddress", Canonical::SourceIp),
    (
        "userIdentity.sessionContext.attributes.mfaAuthenticated",
        Canonical::Mfa,
    ),
    ("eventID", Canonical::EventId),
];

/// The seeds' special steps, as fields any rule may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Derived {
    /// `recon.command`: the Sentinel rule's command.
    Command,
    /// `recon.ua_name`: the Elastic rule's `user_agent.name`.
    UaName,
    /// `recon.account_name`: the Sentinel rule's `AccountName`.
    AccountName,
    /// `recon.account_upn_suffix`: the Sentinel rule's `AccountUPNSuffix`.
    AccountUpnSuffix,
    /// `recon.identity_arn`: the Sentinel rule's `UserIdentityArn`.
    IdentityArn,
    /// `recon.arn_roles`: the Elastic rule's dissected `roles`.
    ArnRoles,
}

/// Every derived field with its name.
pub const DERIVED: &[(&str, Derived)] = &[
    ("recon.command", Derived::Command),
    ("recon.ua_name", Derived::UaName),
    ("recon.account_name", Derived::AccountName),
    ("recon.account_upn_suffix", Derived::AccountUpnSuffix),
    ("recon.identity_arn", Derived::IdentityArn),
    ("recon.arn_roles", Derived::ArnRoles),
];

/// Values of one field of one event (usually none or one).
pub type Values<'e> = Vec<Cow<'e, str>>;

impl FieldRef {
    /// The field's values in `ev` under `profile`.
    pub fn values<'e>(&self, ev: &'e Event<'_>, profile: Profile) -> Values<'e> {
        let one = |f: &'e Option<Cow<'_, str>>| -> Values<'e> {
            f.as_deref().map(Cow::Borrowed).into_iter().collect()
        };
        match self {
            FieldRef::Canonical(c) => one(match c {
                Canonical::UserAgent => &ev.user_agent,
                Canonical::EventName => &ev.event_name,
                Canonical::EventSource => &ev.event_source,
                Canonical::IdentityType => &ev.identity_type,
                Canonical::IdentityArn => &ev.identity_arn,
                Canonical::UserName => &ev.user_name,
                Canonical::PrincipalId => &ev.principal_id,
                Canonical::RecipientAccount => &ev.recipient_account,
                Canonical::SourceIp => &ev.source_ip,
                Canonical::Mfa => &ev.mfa,
                Canonical::EventId => &ev.event_id,
            }),
            FieldRef::Path(slot) => ev
                .extra
                .get(*slot)
                .map(|v| v.iter().map(|c| Cow::Borrowed(c.as_ref())).collect())
                .unwrap_or_default(),
            FieldRef::Derived(d) => derived(*d, ev, profile).into_iter().collect(),
        }
    }
}

fn derived<'e>(d: Derived, ev: &'e Event<'_>, profile: Profile) -> Option<Cow<'e, str>> {
    match d {
        Derived::Command => {
            let ua = ev.user_agent.as_deref()?;
            let c = sentinel::extract_command(ua, profile);
            (!c.is_empty()).then_some(Cow::Borrowed(c))
        }
        Derived::UaName => match ev.ua_name.as_deref() {
            Some(n) => Some(Cow::Borrowed(n)),
            None => elastic::is_aws_cli(ev).then_some(Cow::Borrowed("aws-cli")),
        },
        Derived::AccountName => Some(Cow::Owned(
            sentinel::attribute(ev, profile).account_name.into_owned(),
        )),
        Derived::AccountUpnSuffix => Some(Cow::Owned(
            sentinel::attribute(ev, profile).upn_suffix.into_owned(),
        )),
        Derived::IdentityArn => Some(Cow::Owned(
            sentinel::attribute(ev, profile)
                .user_identity_arn
                .into_owned(),
        )),
        Derived::ArnRoles => {
            let arn = ev.identity_arn.as_deref()?;
            elastic::dissect_roles(arn).map(Cow::Borrowed)
        }
    }
}

/// How a text pattern compares.
#[derive(Debug, Clone)]
pub enum Text {
    /// The whole value.
    Exact(String),
    /// The value starts with it.
    Prefix(String),
    /// The value ends with it.
    Suffix(String),
    /// The value contains it.
    Contains(String),
    /// A wildcard pattern, as an anchored regular expression (over the
    /// ASCII-lowercased value when matching ignores case).
    Wild(Regex),
}

/// One value of a detection item, compiled.
#[derive(Debug, Clone)]
pub enum Pattern {
    /// `null`: the field is missing.
    Null,
    /// Text, ignoring ASCII case unless `cased` (patterns already
    /// lowercased then).
    Text {
        /// The comparison.
        text: Text,
        /// Exact case.
        cased: bool,
    },
    /// A number: the value's text, read as a number, equals it (or the
    /// value's text is the literal's).
    Number(f64, String),
    /// `|gt`, `|gte`, `|lt`, `|lte`.
    Compare(Cmp, f64),
    /// `|re`.
    Re(Regex),
    /// `|cidr`.
    Cidr(IpAddr, u8),
}

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `>`.
    Gt,
    /// `>=`.
    Gte,
    /// `<`.
    Lt,
    /// `<=`.
    Lte,
}

fn starts_ci(v: &[u8], p: &[u8]) -> bool {
    v.len() >= p.len() && v[..p.len()].eq_ignore_ascii_case(p)
}

fn ends_ci(v: &[u8], p: &[u8]) -> bool {
    v.len() >= p.len() && v[v.len() - p.len()..].eq_ignore_ascii_case(p)
}

/// Whether `hay` contains `needle_lower` (already ASCII-lowercased),
/// ignoring ASCII case.
pub fn contains_ci(hay: &[u8], needle_lower: &[u8]) -> bool {
    if needle_lower.is_empty() {
        return true;
    }
    if hay.len() < needle_lower.len() {
        return false;
    }
    let first = needle_lower[0];
    (0..=hay.len() - needle_lower.len()).any(|i| {
        hay[i].to_ascii_lowercase() == first
            && hay[i..i + needle_lower.len()].eq_ignore_ascii_case(needle_lower)
    })
}

impl Pattern {
    /// Whether one value satisfies the pattern (never for [`Pattern::Null`]:
    /// that is about the field as a whole).
    pub fn matches(&self, v: &str) -> bool {
        match self {
            Pattern::Null => false,
            Pattern::Text { text, cased } => {
                let (vb, c) = (v.as_bytes(), *cased);
                match text {
                    Text::Exact(p) if c => v == p,
                    Text::Exact(p) => vb.eq_ignore_ascii_case(p.as_bytes()),
                    Text::Prefix(p) if c => v.starts_with(p.as_str()),
                    Text::Prefix(p) => starts_ci(vb, p.as_bytes()),
                    Text::Suffix(p) if c => v.ends_with(p.as_str()),
                    Text::Suffix(p) => ends_ci(vb, p.as_bytes()),
                    Text::Contains(p) if c => v.contains(p.as_str()),
                    Text::Contains(p) => contains_ci(vb, p.as_bytes()),
                    Text::Wild(re) if c => re.is_match(v),
                    Text::Wild(re) => re.is_match(&v.to_ascii_lowercase()),
                }
            }
            Pattern::Number(n, literal) => {
                v == literal || v.trim().parse::<f64>().is_ok_and(|x| x == *n)
            }
            Pattern::Compare(cmp, n) => v.trim().parse::<f64>().is_ok_and(|x| match cmp {
                Cmp::Gt => x > *n,
                Cmp::Gte => x >= *n,
                Cmp::Lt => x < *n,
                Cmp::Lte => x <= *n,
            }),
            Pattern::Re(re) => re.is_match(v),
            Pattern::Cidr(net, bits) => v
                .trim()
                .parse::<IpAddr>()
                .is_ok_and(|ip| in_network(ip, *net, *bits)),
        }
    }
}

/// Whether `ip` lies in `net/bits` (an IPv4 address is not in an IPv6
/// network, nor the other way).
pub fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(bits))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(bits))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// What one detection item asks of its field.
#[derive(Debug, Clone)]
pub enum Test {
    /// Any (or, with `all`, every) pattern is satisfied by some value.
    Values {
        /// The patterns.
        patterns: Vec<Pattern>,
        /// `|all`.
        all: bool,
    },
    /// `|exists`: whether the field has a value.
    Exists(bool),
    /// `|neq`: the field has a value and none of them matches a pattern.
    Neq(Vec<Pattern>),
}

/// A boolean condition over an event's fields.
#[derive(Debug, Clone)]
pub enum Expr {
    /// All hold.
    And(Vec<Expr>),
    /// Any holds.
    Or(Vec<Expr>),
    /// At least this many hold (`N of …`).
    AtLeast(usize, Vec<Expr>),
    /// Does not hold.
    Not(Box<Expr>),
    /// A detection item.
    Item(FieldRef, Test),
    /// A constant (an empty `all of` holds, an empty `1 of` does not).
    Const(bool),
}

impl Expr {
    /// Whether the event satisfies the condition.
    pub fn eval(&self, ev: &Event<'_>, profile: Profile) -> bool {
        match self {
            Expr::And(xs) => xs.iter().all(|x| x.eval(ev, profile)),
            Expr::Or(xs) => xs.iter().any(|x| x.eval(ev, profile)),
            Expr::AtLeast(n, xs) => xs.iter().filter(|x| x.eval(ev, profile)).count() >= *n,
            Expr::Not(x) => !x.eval(ev, profile),
            Expr::Const(b) => *b,
            Expr::Item(field, test) => {
                let values = field.values(ev, profile);
                match test {
                    Test::Exists(want) => values.is_empty() != *want,
                    Test::Neq(patterns) => {
                        !values.is_empty()
                            && values
                                .iter()
                                .all(|v| patterns.iter().all(|p| !p.matches(v)))
                    }
                    Test::Values { patterns, all } => {
                        let one = |p: &Pattern| match p {
                            Pattern::Null => values.is_empty(),
                            p => values.iter().any(|v| p.matches(v)),
                        };
                        if *all {
                            patterns.iter().all(one)
                        } else {
                            patterns.iter().any(one)
                        }
                    }
                }
            }
        }
    }

    /// Needles for the pre-filter, as clauses that must all hold: each
    /// clause is a list of strings (ASCII, lowercased), at least one of
    /// which occurs, ignoring ASCII case, in the JSON text of every record
    /// this condition holds for, provided that text has no escape
    /// sequence. No clause: nothing is known. An empty clause: the
    /// condition never holds.
    pub fn needles(&self) -> Needles {
        let mut n = self.clauses();
        // The strongest few: a clause of long needles rules out the most.
        n.sort_by_key(|c| std::cmp::Reverse(c.iter().map(String::len).min().unwrap_or(usize::MAX)));
        n.truncate(MAX_CLAUSES);
        n
    }

    fn clauses(&self) -> Needles {
        match self {
            Expr::Const(false) => vec![Vec::new()],
            Expr::Const(true) | Expr::Not(_) | Expr::AtLeast(0, _) => Vec::new(),
            Expr::And(xs) => xs.iter().flat_map(Expr::clauses).collect(),
            Expr::AtLeast(n, xs) if *n >= xs.len() => xs.iter().flat_map(Expr::clauses).collect(),
            // At least one branch holds: each must give a clause, and one
            // of their needles occurs.
            Expr::Or(xs) | Expr::AtLeast(_, xs) => {
                let mut one = Vec::new();
                for x in xs {
                    let best = x
                        .clauses()
                        .into_iter()
                        .max_by_key(|c| c.iter().map(String::len).min().unwrap_or(usize::MAX));
                    match best {
                        Some(c) => one.extend(c),
                        None => return Vec::new(),
                    }
                }
                one.sort();
                one.dedup();
                vec![one]
            }
            Expr::Item(_, Test::Values { patterns, all }) => {
                let each: Vec<Option<String>> = patterns.iter().map(Pattern::needle).collect();
                if *all {
                    // Every value must match: each is a clause.
                    each.into_iter().flatten().map(|n| vec![n]).collect()
                } else {
                    match each.into_iter().collect::<Option<Vec<String>>>() {
                        Some(mut c) => {
                            c.sort();
                            c.dedup();
                            vec![c]
                        }
                        None => Vec::new(),
                    }
                }
            }
            Expr::Item(..) => Vec::new(),
        }
    }
}

/// Needles as clauses (see [`Expr::needles`]).
pub type Needles = Vec<Vec<String>>;

/// Most clauses kept per rule.
pub const MAX_CLAUSES: usize = 8;

/// Shortest needle worth searching for: shorter ones settle too little.
pub const MIN_NEEDLE: usize = 3;

impl Pattern {
    /// A literal (ASCII, lowercased) every value this pattern matches
    /// contains; `None` when there is none worth searching for.
    fn needle(&self) -> Option<String> {
        let lit = match self {
            Pattern::Text { text, .. } => match text {
                Text::Exact(p) | Text::Prefix(p) | Text::Suffix(p) | Text::Contains(p) => p.clone(),
                Text::Wild(re) => longest_literal(re.as_str()),
            },
            _ => return None,
        };
        // A value is text the record spells out, unescaped, in a record
        // without escapes; except a number (read and written back, `1.50`
        // is `1.5`) and the text of an object or array (written compactly,
        // which the record need not be). A piece of the literal between
        // JSON's structural characters that is not number-like lies within
        // one string or literal token of either, so the record holds it.
        lit.to_ascii_lowercase()
            .split(['{', '}', '[', ']', ':', ',', '"', '\\'])
            .filter(|p| {
                p.len() >= MIN_NEEDLE
                    && p.is_ascii()
                    && !p
                        .bytes()
                        .all(|b| b.is_ascii_digit() || b"+-.eE ".contains(&b))
            })
            .max_by_key(|p| p.len())
            .map(str::to_owned)
    }
}

/// The longest run of plain characters of a wildcard regex this module
/// built (`^…$`, literals escaped, `.*` and `.` between them).
fn longest_literal(re: &str) -> String {
    let body = re
        .trim_start_matches("(?s)")
        .trim_start_matches('^')
        .trim_end_matches('$');
    let mut best = String::new();
    let mut cur = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '.' | '*' => {
                if cur.len() > best.len() {
                    best = std::mem::take(&mut cur);
                } else {
                    cur.clear();
                }
            }
            c => cur.push(c),
        }
    }
    if cur.len() > best.len() {
        best = cur;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(t: Text, cased: bool) -> Pattern {
        Pattern::Text { text: t, cased }
    }

    #[test]
    fn text_patterns_ignore_ascii_case_unless_cased() {
        assert!(text(Text::Exact("listusers".into()), false).matches("ListUsers"));
        assert!(!text(Text::Exact("listusers".into()), true).matches("ListUsers"));
        assert!(text(Text::Prefix("list".into()), false).matches("ListUsers"));
        assert!(text(Text::Suffix("users".into()), false).matches("ListUSERS"));
        assert!(text(Text::Contains("tuse".into()), false).matches("ListUsers"));
        assert!(!text(Text::Contains("tuse".into()), false).matches("List"));
        // ASCII folding only: the Kelvin sign is not a `k`.
        assert!(!text(Text::Exact("k".into()), false).matches("\u{212a}"));
    }

    #[test]
    fn numbers_cidr_and_comparisons() {
        assert!(Pattern::Number(5.0, "5".into()).matches("5.0"));
        assert!(Pattern::Number(5.0, "5".into()).matches("5"));
        assert!(!Pattern::Number(5.0, "5".into()).matches("five"));
        assert!(Pattern::Compare(Cmp::Gt, 3.0).matches("3.5"));
        assert!(!Pattern::Compare(Cmp::Gt, 3.0).matches("x"));
        let net: IpAddr = "10.0.0.0".parse().unwrap();
        assert!(Pattern::Cidr(net, 8).matches("10.1.2.3"));
        assert!(!Pattern::Cidr(net, 8).matches("11.1.2.3"));
        assert!(!Pattern::Cidr(net, 8).matches("::1"));
        let v6: IpAddr = "2001:db8::".parse().unwrap();
        assert!(Pattern::Cidr(v6, 32).matches("2001:db8::1"));
        assert!(Pattern::Cidr(net, 0).matches("192.168.0.1"));
    }

    #[test]
    fn longest_literal_of_a_wildcard_regex() {
        assert_eq!(longest_literal(r"(?s)^ab.*cde.f$"), "cde");
        assert_eq!(longest_literal(r"(?s)^a\.b$"), "a.b");
    }
}
