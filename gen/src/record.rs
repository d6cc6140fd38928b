//! Writing one CloudTrail record as JSON text into a reused buffer, field
//! by field, from prepared pieces (no JSON tree).

use crate::pool::{CliForm, Identity};
use crate::rng::Rng;
use crate::tables::{
    self, Action, BUCKETS, CLI_BRACKETED, CLI_UPPER, CLI_V1, CLI_V2_CURRENT, CLI_V2_CURRENT_TAILS,
    CLI_V2_LEGACY, CLUSTERS, EMAIL_DOMAINS, FIRST, FUNCTIONS, LAST, OBJECT_KEYS, SDK_AGENTS,
    TABLES, TERRAFORM_AGENTS,
};

/// A user agent, rendered for the record's call.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Ua {
    Static(&'static str),
    Cli(CliForm, u8),
    Sdk(u8),
    Terraform(u8),
}

/// A failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    AccessDenied,
    Throttled,
}

/// Everything one record is made of.
pub(crate) struct Rec<'a> {
    pub id: &'a Identity,
    pub console: bool,
    pub action: &'static Action,
    pub t_ms: i64,
    pub region: &'static str,
    pub ip: &'a str,
    pub ua: Ua,
    pub failure: Option<Failure>,
    pub version: &'static str,
    pub recipient: &'a str,
}

/// Names a template fixes for the whole record.
#[derive(Default)]
struct Picks {
    bucket: Option<&'static str>,
    key: Option<&'static str>,
    user: Option<(&'static str, &'static str)>,
    role: Option<&'static str>,
    function: Option<&'static str>,
    table: Option<&'static str>,
    cluster: Option<&'static str>,
    email: Option<(&'static str, &'static str, &'static str)>,
}

const HEX: &[u8; 16] = b"0123456789abcdef";
const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";
const ALNUM_UPPER: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn push_ascii(out: &mut String, bytes: &[u8]) {
    // Every caller passes ASCII.
    out.push_str(std::str::from_utf8(bytes).unwrap_or(""));
}

fn push_digits(buf: &mut [u8], mut v: u64) {
    for b in buf.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

pub(crate) fn push_u64(out: &mut String, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    push_ascii(out, &buf[i..]);
}

/// The civil date of a day count from 1970-01-01 (Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a time in ms (truncated to the second).
pub(crate) fn format_time(ms: i64) -> [u8; 20] {
    let secs = ms.div_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400) as u64;
    let mut b = *b"0000-00-00T00:00:00Z";
    push_digits(&mut b[0..4], y.clamp(0, 9999) as u64);
    push_digits(&mut b[5..7], u64::from(m));
    push_digits(&mut b[8..10], u64::from(d));
    push_digits(&mut b[11..13], sod / 3600);
    push_digits(&mut b[14..16], sod / 60 % 60);
    push_digits(&mut b[17..19], sod % 60);
    b
}

/// The record writer; caches the last formatted second.
#[derive(Debug, Clone)]
pub(crate) struct Writer {
    cached_sec: i64,
    cached: [u8; 20],
}

impl Default for Writer {
    fn default() -> Self {
        Writer {
            cached_sec: i64::MIN,
            cached: format_time(0),
        }
    }
}

fn push_hex(out: &mut String, rng: &mut Rng, n: usize, table: &[u8; 16]) {
    let mut buf = [0u8; 32];
    let n = n.min(32);
    let mut v = rng.next_u64();
    for (i, b) in buf[..n].iter_mut().enumerate() {
        if i == 16 {
            v = rng.next_u64();
        }
        *b = table[(v & 15) as usize];
        v >>= 4;
    }
    push_ascii(out, &buf[..n]);
}

pub(crate) fn push_uuid(out: &mut String, rng: &mut Rng) {
    let a = (rng.next_u64() & !0xF000) | 0x4000;
    let b = (rng.next_u64() & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    let mut buf = [b'-'; 36];
    let mut k = 0;
    for (pos, byte) in buf.iter_mut().enumerate() {
        if matches!(pos, 8 | 13 | 18 | 23) {
            continue;
        }
        let nibble = if k < 16 {
            a >> (60 - 4 * k)
        } else {
            b >> (60 - 4 * (k - 16))
        };
        *byte = HEX[(nibble & 15) as usize];
        k += 1;
    }
    push_ascii(out, &buf);
}

fn push_from(out: &mut String, rng: &mut Rng, n: usize, table: &[u8]) {
    let mut buf = [0u8; 64];
    let n = n.min(64);
    for b in &mut buf[..n] {
        *b = table[rng.index(table.len())];
    }
    push_ascii(out, &buf[..n]);
}

impl Writer {
    fn push_event_time(&mut self, out: &mut String, ms: i64) {
        let sec = ms.div_euclid(1000);
        if sec != self.cached_sec {
            self.cached_sec = sec;
            self.cached = format_time(ms);
        }
        push_ascii(out, &self.cached);
    }

    /// Appends the record's JSON (one line, no newline) to `out`.
    pub(crate) fn write(&mut self, out: &mut String, rec: &Rec<'_>, rng: &mut Rng) {
        let a = rec.action;
        let mut picks = Picks::default();
        out.push_str("{\"eventVersion\":\"");
        out.push_str(rec.version);
        out.push_str("\",\"userIdentity\":");
        let ui = &rec.id.ui[usize::from(rec.console)];
        out.push_str(&ui.head);
        if ui.dated {
            let sec = rec.t_ms.div_euclid(1000);
            let created = sec - (sec + rec.id.session_offset).rem_euclid(3600);
            push_ascii(out, &format_time(created * 1000));
            out.push_str(&ui.tail);
        }
        out.push_str(",\"eventTime\":\"");
        self.push_event_time(out, rec.t_ms);
        out.push_str("\",\"eventSource\":\"");
        out.push_str(a.src);
        out.push_str("\",\"eventName\":\"");
        out.push_str(a.name);
        out.push_str("\",\"awsRegion\":\"");
        out.push_str(rec.region);
        out.push_str("\",\"sourceIPAddress\":\"");
        out.push_str(rec.ip);
        out.push_str("\",\"userAgent\":\"");
        push_agent(out, rec.ua, a);
        out.push('"');
        if let Some(f) = rec.failure {
            push_failure(out, f, a, rec.id.arn.as_deref().unwrap_or(""));
        }
        out.push_str(",\"requestParameters\":");
        self.expand(out, a.req, rec, &mut picks, rng);
        out.push_str(",\"responseElements\":");
        if rec.failure.is_some() {
            out.push_str("null");
        } else {
            self.expand(out, a.resp, rec, &mut picks, rng);
        }
        if !a.extra.is_empty() {
            out.push_str(",\"additionalEventData\":");
            self.expand(out, a.extra, rec, &mut picks, rng);
        }
        out.push_str(",\"requestID\":\"");
        if a.src == "s3.amazonaws.com" {
            push_hex(out, rng, 16, HEX_UPPER);
        } else {
            push_uuid(out, rng);
        }
        out.push_str("\",\"eventID\":\"");
        push_uuid(out, rng);
        out.push_str("\",\"readOnly\":");
        out.push_str(if a.read_only() { "true" } else { "false" });
        if !a.res.is_empty() {
            out.push_str(",\"resources\":");
            self.expand(out, a.res, rec, &mut picks, rng);
        }
        out.push_str(if a.signin() {
            ",\"eventType\":\"AwsConsoleSignIn\",\"managementEvent\":"
        } else {
            ",\"eventType\":\"AwsApiCall\",\"managementEvent\":"
        });
        out.push_str(if a.data() { "false" } else { "true" });
        out.push_str(",\"recipientAccountId\":\"");
        out.push_str(rec.recipient);
        out.push_str(if a.data() {
            "\",\"eventCategory\":\"Data\""
        } else {
            "\",\"eventCategory\":\"Management\""
        });
        if !rec.ip.ends_with(".amazonaws.com") && rec.ip != "AWS Internal" {
            out.push_str(if rng.percent(85) {
                ",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.3\",\"cipherSuite\":\"TLS_AES_128_GCM_SHA256\",\"clientProvidedHostHeader\":\""
            } else {
                ",\"tlsDetails\":{\"tlsVersion\":\"TLSv1.2\",\"cipherSuite\":\"ECDHE-RSA-AES128-GCM-SHA256\",\"clientProvidedHostHeader\":\""
            });
            if !a.host.is_empty() {
                self.expand(out, a.host, rec, &mut picks, rng);
            } else if a.global() {
                out.push_str(a.src);
            } else {
                out.push_str(a.service());
                out.push('.');
                out.push_str(rec.region);
                out.push_str(".amazonaws.com");
            }
            out.push_str("\"}");
        }
        if rec.console {
            out.push_str(",\"sessionCredentialFromConsole\":\"true\"");
        }
        out.push('}');
    }

    /// Expands a `%` template (see `tables`).
    fn expand(&mut self, out: &mut String, tpl: &str, rec: &Rec<'_>, p: &mut Picks, rng: &mut Rng) {
        let mut rest = tpl;
        while let Some(i) = rest.find('%') {
            out.push_str(&rest[..i]);
            let code = rest.as_bytes().get(i + 1).copied().unwrap_or(0);
            let mut used = true;
            match code {
                b'A' => out.push_str(rec.recipient),
                b'R' => out.push_str(rec.region),
                b'I' => push_hex(out, rng, 8, HEX),
                b'S' => push_uuid(out, rng),
                b'N' => push_u64(out, rng.below(100_000)),
                b'X' => push_from(out, rng, 16, ALNUM_UPPER),
                b'Z' => push_from(out, rng, 40, B64),
                b'Y' => push_ascii(out, &format_time(rec.t_ms.saturating_add(3_600_000))),
                b'D' => {
                    let t = format_time(rec.t_ms);
                    let mut d = [b'/'; 10];
                    d[..4].copy_from_slice(&t[..4]);
                    d[5..7].copy_from_slice(&t[5..7]);
                    d[8..10].copy_from_slice(&t[8..10]);
                    push_ascii(out, &d);
                }
                b'B' => out.push_str(p.bucket.get_or_insert_with(|| rng.pick(BUCKETS))),
                b'K' => out.push_str(p.key.get_or_insert_with(|| rng.pick(OBJECT_KEYS))),
                b'U' => {
                    let (f, l) = *p
                        .user
                        .get_or_insert_with(|| (rng.pick(FIRST), rng.pick(LAST)));
                    out.push_str(f);
                    out.push('.');
                    out.push_str(l);
                }
                b'Q' => out.push_str(p.role.get_or_insert_with(|| rng.pick(tables::APP_ROLES))),
                b'F' => out.push_str(p.function.get_or_insert_with(|| rng.pick(FUNCTIONS))),
                b'T' => out.push_str(p.table.get_or_insert_with(|| rng.pick(TABLES))),
                b'C' => out.push_str(p.cluster.get_or_insert_with(|| rng.pick(CLUSTERS))),
                b'E' => {
                    let (f, l, d) = *p.email.get_or_insert_with(|| {
                        (rng.pick(FIRST), rng.pick(LAST), rng.pick(EMAIL_DOMAINS))
                    });
                    out.push_str(f);
                    out.push('.');
                    out.push_str(l);
                    out.push('@');
                    out.push_str(d);
                }
                _ => used = false,
            }
            if used {
                rest = &rest[i + 2..];
            } else {
                out.push('%');
                rest = &rest[i + 1..];
            }
        }
        out.push_str(rest);
    }
}

/// Writes the agent; S3 data events wrap it in brackets, as S3 does.
fn push_agent(out: &mut String, ua: Ua, a: &Action) {
    let bracket = a.data() && a.src == "s3.amazonaws.com";
    let start = out.len();
    match ua {
        Ua::Static(s) => out.push_str(s),
        Ua::Cli(form, tail) => push_cli(out, form, a.cli, tail),
        Ua::Sdk(i) => push_sdk(out, SDK_AGENTS.get(usize::from(i)), a),
        Ua::Terraform(i) => push_sdk(out, TERRAFORM_AGENTS.get(usize::from(i)), a),
    }
    if bracket && !out[start..].starts_with('[') {
        out.insert(start, '[');
        out.push(']');
    }
}

/// An aws-cli agent running `command`.
pub(crate) fn push_cli(out: &mut String, form: CliForm, command: &str, tail: u8) {
    match form {
        CliForm::V1(i) => out.push_str(CLI_V1.get(usize::from(i)).copied().unwrap_or(CLI_V1[0])),
        CliForm::Legacy(i) => {
            out.push_str(
                CLI_V2_LEGACY
                    .get(usize::from(i))
                    .copied()
                    .unwrap_or(CLI_V2_LEGACY[0]),
            );
            out.push_str(" prompt/off command/");
            out.push_str(command);
        }
        CliForm::Current(i) => {
            out.push_str(
                CLI_V2_CURRENT
                    .get(usize::from(i))
                    .copied()
                    .unwrap_or(CLI_V2_CURRENT[0]),
            );
            out.push_str(" md/command#");
            out.push_str(command);
            out.push_str(
                CLI_V2_CURRENT_TAILS
                    .get(usize::from(tail))
                    .copied()
                    .unwrap_or(""),
            );
        }
        CliForm::Upper => {
            out.push_str(CLI_UPPER);
            out.push_str(" prompt/off command/");
            out.push_str(command);
        }
        CliForm::Bracketed => out.push_str(CLI_BRACKETED),
    }
}

fn push_sdk(out: &mut String, agent: Option<&(&str, &str)>, a: &Action) {
    let (prefix, suffix) = agent.copied().unwrap_or(("aws-sdk-go-v2/1.24.0", ""));
    out.push_str(prefix);
    if !suffix.is_empty() {
        out.push_str(a.service());
        out.push_str(suffix);
    }
}

fn push_failure(out: &mut String, f: Failure, a: &Action, arn: &str) {
    let ec2 = a.src == "ec2.amazonaws.com";
    let svc = a.service();
    match f {
        Failure::Throttled => out.push_str(if ec2 {
            ",\"errorCode\":\"Client.RequestLimitExceeded\",\"errorMessage\":\"Request limit exceeded.\""
        } else {
            ",\"errorCode\":\"ThrottlingException\",\"errorMessage\":\"Rate exceeded\""
        }),
        Failure::AccessDenied => {
            out.push_str(match svc {
                "ec2" => ",\"errorCode\":\"Client.UnauthorizedOperation\",\"errorMessage\":\"You are not authorized to perform this operation. User: ",
                "kms" | "lambda" | "dynamodb" | "ecs" | "bedrock" | "sagemaker" | "logs" => {
                    ",\"errorCode\":\"AccessDeniedException\",\"errorMessage\":\"User: "
                }
                _ => ",\"errorCode\":\"AccessDenied\",\"errorMessage\":\"User: ",
            });
            out.push_str(arn);
            out.push_str(" is not authorized to perform: ");
            out.push_str(svc);
            out.push(':');
            out.push_str(a.name);
            out.push_str(" because no identity-based policy allows the ");
            out.push_str(svc);
            out.push(':');
            out.push_str(a.name);
            out.push_str(" action\"");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_like_cloudtrail() {
        assert_eq!(&format_time(0), b"1970-01-01T00:00:00Z");
        assert_eq!(&format_time(1_767_571_200_999), b"2026-01-05T00:00:00Z");
        assert_eq!(&format_time(951_827_696_000), b"2000-02-29T12:34:56Z");
        assert_eq!(&format_time(253_402_300_799_000), b"9999-12-31T23:59:59Z");
    }

    #[test]
    fn uuids_are_shaped_like_uuids() {
        let mut rng = Rng::new(3, 3);
        let mut s = String::new();
        push_uuid(&mut s, &mut rng);
        assert_eq!(s.len(), 36);
        let parts: Vec<&str> = s.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
    }
}
